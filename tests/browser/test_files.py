"""My files in the browser: several uploads at once with their own progress, live badges, a
byte-for-byte download, EICAR refused in Japanese and deleted, cancel and offline."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from devstack.clamd import EICAR  # built from two halves at import: no test virus in this repo
from tests.browser.conftest import Site


def drop(page: Page, name: str, data: bytes) -> None:
    """Drag-and-drop of one file onto the upload area, as the browser delivers it."""
    transfer = page.evaluate_handle(
        """([name, encoded]) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode()],
    )
    zone = page.get_by_test_id("dropzone")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})


def test_several_uploads_reach_100_percent_turn_safe_and_download_byte_for_byte(site: Site, tmp_path: Path) -> None:
    page, _ = site.learner("hanako")
    essay = os.urandom(3 * 1024 * 1024 + 17)
    notes = "今日の宿題: 二次関数のグラフ\n".encode()

    site.pick(page, [("作文 1.bin", essay), ("ノート.txt", notes)])

    for name in ("作文 1.bin", "ノート.txt"):
        item = site.upload_item(page, name)
        expect(item.locator(".upload-percent")).to_have_text("100 %")
        expect(item.locator("progress")).to_have_js_property("value", 100)
        expect(item.locator(".upload-state")).to_have_text("アップロード完了。ウイルス検査が始まります。")
    assert page.locator(".upload-item progress").count() == 2  # one bar per file
    site.shot(page, "files-uploaded")

    # The badges change without a reload: the page follows the scan.
    for name in ("作文 1.bin", "ノート.txt"):
        expect(site.row(page, name).locator(".badge")).to_have_text("安全")
    site.shot(page, "files-clean")

    with page.expect_download() as started:
        site.row(page, "作文 1.bin").get_by_role("button", name="ダウンロード").click()
    download = started.value
    assert download.suggested_filename == "作文 1.bin"
    target = tmp_path / "copy.bin"
    download.save_as(target)
    assert target.read_bytes() == essay

    site.row(page, "作文 1.bin").get_by_role("link", name="詳細").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("作文 1.bin")
    details = page.locator(".details")
    expect(details).to_contain_text(hashlib.sha256(essay).hexdigest())
    expect(details).to_contain_text(f"{len(essay):,} バイト")
    expect(details).to_contain_text(site.stack.info["definitions"])
    expect(details.locator(".badge")).to_have_text("安全")
    site.shot(page, "details-clean")


def test_newest_first(site: Site) -> None:
    page, _ = site.learner("yoko")
    for name in ("1番目.txt", "2番目.txt", "3番目.txt"):
        site.pick(page, [(name, name.encode())])
        expect(site.row(page, name).locator(".badge")).to_have_text("安全")

    page.reload()
    expect(page.locator(".file-item")).to_have_count(3)
    assert [link.inner_text() for link in page.locator(".file-item .file-name").all()] == [
        "3番目.txt",
        "2番目.txt",
        "1番目.txt",
    ]


def test_eicar_is_found_refused_in_japanese_then_deleted(site: Site) -> None:
    page, _ = site.learner("kenta")
    downloads: list[object] = []
    page.on("download", lambda download: downloads.append(download))

    drop(page, "eicar.com", EICAR)

    expect(site.upload_item(page, "eicar.com").locator(".upload-percent")).to_have_text("100 %")
    row = site.row(page, "eicar.com")
    expect(row.locator(".badge")).to_have_text("ウイルス検出")
    download = row.get_by_role("button", name="ダウンロード")
    expect(download).to_have_attribute("aria-disabled", "true")
    # aria-disabled keeps it focusable and tells assistive technology it is unavailable; pressing
    # it asks the API, which refuses (403 file_not_clean). Playwright will not click an
    # aria-disabled button on its own, hence force.
    download.click(force=True)
    expect(row.get_by_role("alert")).to_have_text("ウイルスが検出されたため、このファイルはダウンロードできません。")
    assert downloads == []
    site.shot(page, "files-infected")

    row.get_by_role("link", name="詳細").click()
    reason = page.locator(".details-row").filter(has_text="受け付けなかった理由")
    expect(reason).to_contain_text("ウイルスが見つかりました(検出名: Manabi.Test.EICAR.UNOFFICIAL)")
    site.shot(page, "details-infected")
    page.get_by_role("link", name="← マイファイルに戻る").click()

    site.row(page, "eicar.com").get_by_role("button", name="削除").click()
    dialog = page.get_by_role("dialog", name="ファイルを削除しますか?")
    expect(dialog).to_contain_text("「eicar.com」を削除します。この操作は取り消せません。")
    expect(dialog.get_by_role("button", name="キャンセル")).to_be_focused()
    site.shot(page, "delete-dialog")
    dialog.get_by_role("button", name="キャンセル").click()
    expect(site.row(page, "eicar.com")).to_have_count(1)

    site.row(page, "eicar.com").get_by_role("button", name="削除").click()
    page.get_by_role("dialog").get_by_role("button", name="削除する").click()
    expect(site.row(page, "eicar.com")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="「eicar.com」を削除しました。")).to_be_attached()
    page.reload()
    expect(page.get_by_text("まだファイルがありません")).to_be_visible()


def test_a_cancelled_upload_leaves_nothing_behind(site: Site) -> None:
    page, _ = site.learner("mika")
    held: list[Route] = []
    bucket = re.compile(rf"/{re.escape(site.stack.info['dataBucket'])}/?$")

    def hold(route: Route) -> None:  # the bytes never arrive until the learner cancels
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route(bucket, hold)
    site.pick(page, [("途中.bin", os.urandom(64 * 1024))])
    item = site.upload_item(page, "途中.bin")
    expect(item.locator(".upload-state")).to_have_text("アップロードしています…")
    with page.expect_response(lambda response: response.request.method == "DELETE") as deleted:
        item.get_by_role("button", name="キャンセル").click()
    assert deleted.value.status == 204
    expect(item.locator(".upload-state")).to_have_text("キャンセルしました。")
    assert len(held) == 1

    page.unroute(bucket)
    page.reload()
    expect(page.get_by_text("まだファイルがありません")).to_be_visible()


def test_offline_is_said_plainly(site: Site) -> None:
    page, _ = site.learner("nana")
    page.context.set_offline(True)
    try:
        site.pick(page, [("宿題.txt", b"offline")])
        item = site.upload_item(page, "宿題.txt")
        expect(item.get_by_role("alert")).to_have_text(
            "インターネットに接続できません。接続を確認してから、もう一度お試しください。"
        )
        site.shot(page, "upload-offline")
    finally:
        page.context.set_offline(False)


def test_an_empty_file_uploads_and_scans_clean(site: Site) -> None:
    """Learners do upload empty files (issue #13): 0 bytes are accepted and scanned like any other."""
    page, _ = site.learner("emi")
    site.pick(page, [("空.txt", b"")])

    expect(site.row(page, "空.txt").locator(".badge")).to_have_text("安全")


def test_the_next_learner_on_the_device_sees_nothing_of_the_previous_one(site: Site) -> None:
    page, _ = site.learner("ane")
    site.pick(page, [("日記.txt", b"private")])
    expect(site.row(page, "日記.txt").locator(".badge")).to_have_text("安全")
    site.sign_out(page)

    site.sign_up(page, site.username("imouto"))

    expect(page.get_by_text("まだファイルがありません")).to_be_visible()
    expect(page.locator(".upload-item")).to_have_count(0)
    expect(page.get_by_text("日記.txt")).to_have_count(0)
