"""Accounts in the browser: sign up, sign in and out, wrong password, forgotten password, a
session that survives a reload and refreshes an expired token, all by keyboard too."""

from __future__ import annotations

import base64
import json
import time

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Site


def test_sign_up_signs_in_at_once_then_sign_out_and_in_again(site: Site) -> None:
    page = site.page()
    site.open(page)
    expect(page).to_have_title("まなび+ — 学習ファイル")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    site.shot(page, "signin")
    username = site.username("hanako")

    site.sign_up(page, username, screenshot="signup")
    expect(page.get_by_text("まだファイルがありません")).to_be_visible()
    expect(page.get_by_text(f"{username} としてサインイン中")).to_be_visible()
    site.shot(page, "files-empty")

    site.sign_out(page)
    expect(page.get_by_role("status").filter(has_text="サインアウトしました。")).to_be_visible()
    site.sign_in(page, username)


def test_a_wrong_password_is_refused_in_japanese(site: Site) -> None:
    page, username = site.learner("taro")
    site.sign_out(page)

    page.get_by_label("ユーザー名またはメールアドレス").fill(username)
    page.get_by_label("パスワード", exact=True).fill("Wrong+2026")
    page.get_by_role("button", name="サインイン").click()

    expect(page.get_by_role("alert")).to_have_text("ユーザー名またはパスワードが正しくありません。")
    expect(page.get_by_role("heading", level=1)).to_have_text("サインイン")
    site.shot(page, "signin-refused")


def test_sign_up_checks_the_form_with_the_sites_own_messages(site: Site) -> None:
    page = site.page()
    site.open(page, "/signup")

    page.get_by_label("ユーザー名").fill("has space")
    page.get_by_label("メールアドレス").fill("not-an-address")
    page.get_by_label("パスワード", exact=True).fill("short")
    page.get_by_role("button", name="アカウントを作成").click()

    expect(page.get_by_text("ユーザー名には空白と「@」を使えません。")).to_be_visible()
    expect(page.get_by_text("メールアドレスの形式が正しくありません", exact=False)).to_be_visible()
    expect(page.get_by_label("パスワード", exact=True)).to_have_attribute("aria-invalid", "true")
    # The first field in error has the focus, and its message is part of its description.
    expect(page.get_by_label("ユーザー名")).to_be_focused()
    described = page.get_by_label("ユーザー名").get_attribute("aria-describedby") or ""
    assert any("error" in part for part in described.split())
    site.shot(page, "signup-invalid")


def test_forgotten_password_sets_a_new_one(site: Site) -> None:
    page, username = site.learner("jiro")
    site.sign_out(page)

    page.get_by_role("link", name="パスワードを忘れた場合").click()
    expect(page.get_by_role("heading", level=1, name="パスワードの再設定")).to_be_visible()
    site.shot(page, "forgot")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_role("button", name="確認コードを送る").click()
    expect(page.get_by_text("ローカル環境ではメールは送信されません。")).to_be_visible()
    page.get_by_label("確認コード").fill("123456")
    page.get_by_label("新しいパスワード").fill("Atarashii+2027")
    site.shot(page, "forgot-code")
    page.get_by_role("button", name="パスワードを変更").click()

    expect(page.get_by_text("パスワードを変更しました。")).to_be_visible()
    expect(page.get_by_label("ユーザー名またはメールアドレス")).to_have_value(username)
    site.sign_in(page, username, "Atarashii+2027")
    site.sign_out(page)
    page.get_by_label("ユーザー名またはメールアドレス").fill(username)
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    expect(page.get_by_role("alert")).to_have_text("ユーザー名またはパスワードが正しくありません。")


def _stored_id_token(page: Page) -> tuple[str, str]:
    key, token = page.evaluate(
        """() => {
            const key = Object.keys(localStorage).find((name) => name.endsWith('.idToken'));
            return [key, localStorage.getItem(key)];
        }"""
    )
    return key, token


def test_the_session_survives_a_reload_and_refreshes_an_expired_token(site: Site) -> None:
    page, username = site.learner("saburo")
    page.reload()
    expect(page.get_by_text(f"{username} としてサインイン中")).to_be_visible()

    # Make the stored ID token look expired (the browser never checks its signature; the
    # refresh token is what counts): the next start must refresh it with Cognito.
    key, token = _stored_id_token(page)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 600
    expired = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [key, f"{header}.{expired}.{signature}"])

    with page.expect_request(lambda request: "InitiateAuth" in (request.headers.get("x-amz-target") or "")) as refresh:
        page.reload()
    assert json.loads(refresh.value.post_data or "{}")["AuthFlow"] == "REFRESH_TOKEN_AUTH"
    expect(page.get_by_role("heading", level=1, name="マイファイル")).to_be_visible()
    expect(page.get_by_text("まだファイルがありません")).to_be_visible()  # the API accepted the new token
    _, fresh = _stored_id_token(page)
    assert fresh != token and fresh.split(".")[1] != expired


def test_sign_in_by_keyboard_alone_with_a_visible_focus(site: Site) -> None:
    page, username = site.learner("shiro")
    site.sign_out(page)

    focused = ""
    for _ in range(10):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.getAttribute('autocomplete') || ''")
        if focused == "username":
            break
    assert focused == "username", "the username field is not reachable with Tab"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1, name="マイファイル")).to_be_visible()
    # Focus rings show on buttons reached by keyboard, 3 px wide.
    page.get_by_role("button", name="ファイルを選ぶ").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert ring == ["solid", "3px"]
