"""The web app end to end: the local stack as `make run` starts it, a real headless Chromium
(Debian's /usr/bin/chromium) driven by Playwright. Screenshots of every page land in
``build/browser-artifacts/`` (``BROWSER_ARTIFACTS`` to move them), also when a test fails."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect, sync_playwright

from devstack.local import launch
from devstack.templates import ROOT
from devstack.web import ensure_built

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As the machine's notes say: no sandbox as root, and none of Chromium's own network traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "build" / "browser-artifacts"))
PASSWORD = "Manabi+2026"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}
# Waiting for a scan or a page is not a timing assertion: generous, so a loaded machine passes.
WAIT_MS = 60_000

expect.set_options(timeout=WAIT_MS)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests run last: they are the slowest layer, and the layers before them then
    run in the same order as without them (tests/functional has a timing-sensitive alert test,
    test_a_broken_mirror_leaves_the_published_set_and_alerts, that an extra minute of browser
    tests ahead of it has been seen to upset)."""
    here = Path(__file__).parent
    items.sort(key=lambda item: Path(str(item.path)).is_relative_to(here))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


class Stack:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.process = launch(state_dir, {**os.environ, "MANABI_STATE_DIR": str(state_dir)}, timeout=180)
        self.info: dict[str, Any] = json.loads((state_dir / "stack.json").read_text())

    @property
    def web(self) -> str:
        return str(self.info["web"])

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.info["region"],
            endpoint_url=self.info["emulator"],
            aws_access_key_id="local",
            aws_secret_access_key="local",  # the emulator accepts any key
            aws_session_token=None,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# Package scope: the stack and the browser end with the last browser test, before the rest of
# the suite runs (a 2-core CI machine should not carry an idle stack through it).
@pytest.fixture(scope="package")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ensure_built()  # before the stack starts, so that its start-up does not wait for a build
    running = Stack(tmp_path_factory.mktemp("web-stack") / "state")
    yield running
    running.stop()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium)")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield launched
    launched.close()


class Site:
    """The site under test, with what every test needs: pages, accounts, uploads, screenshots."""

    def __init__(self, browser: Browser, stack: Stack, artifacts: Path, test_name: str) -> None:
        self.browser = browser
        self.stack = stack
        self.artifacts = artifacts
        self.test_name = test_name
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    @property
    def url(self) -> str:
        return self.stack.web

    def page(self, viewport: dict[str, int] = DESKTOP, mobile: bool = False) -> Page:
        context = self.browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            locale="ja-JP",
            timezone_id="Asia/Tokyo",
            accept_downloads=True,
            is_mobile=mobile,
            has_touch=mobile,
            device_scale_factor=2 if mobile else 1,
        )
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # The page's Content-Security-Policy must not block anything the site itself does.
        page.on(
            "console",
            lambda message: (
                self.errors.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        return page

    def open(self, page: Page, route: str = "") -> None:
        page.goto(f"{self.url}/#{route}" if route else self.url)
        expect(page.locator("main h1")).to_be_visible()

    def shot(self, page: Page, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    @staticmethod
    def username(prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:6]}"

    def sign_up(self, page: Page, username: str, password: str = PASSWORD, screenshot: str | None = None) -> None:
        self.open(page, "/signup")
        page.get_by_label("ユーザー名").fill(username)
        page.get_by_label("メールアドレス").fill(f"{username}@example.jp")
        page.get_by_label("パスワード", exact=True).fill(password)
        if screenshot:
            self.shot(page, screenshot)
        page.get_by_role("button", name="アカウントを作成").click()
        expect(page.get_by_role("heading", level=1, name="マイファイル")).to_be_visible()

    def sign_in(self, page: Page, username: str, password: str = PASSWORD) -> None:
        self.open(page, "/signin")
        page.get_by_label("ユーザー名またはメールアドレス").fill(username)
        page.get_by_label("パスワード", exact=True).fill(password)
        page.get_by_role("button", name="サインイン").click()
        expect(page.get_by_role("heading", level=1, name="マイファイル")).to_be_visible()

    def sign_out(self, page: Page) -> None:
        page.get_by_role("button", name="サインアウト").click()
        expect(page.get_by_role("heading", level=1, name="サインイン")).to_be_visible()

    def learner(self, prefix: str, viewport: dict[str, int] = DESKTOP, mobile: bool = False) -> tuple[Page, str]:
        page = self.page(viewport, mobile)
        username = self.username(prefix)
        self.sign_up(page, username)
        return page, username

    @staticmethod
    def pick(page: Page, files: list[tuple[str, bytes]]) -> None:
        """Upload through the file picker, several files at once."""
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="ファイルを選ぶ").click()
        chooser.value.set_files(
            [{"name": name, "mimeType": "application/octet-stream", "buffer": data} for name, data in files]
        )

    @staticmethod
    def upload_item(page: Page, name: str) -> Locator:
        return page.locator(".upload-item").filter(has=page.locator(".file-name", has_text=name))

    @staticmethod
    def row(page: Page, name: str) -> Locator:
        return page.locator(".file-item").filter(has=page.get_by_role("link", name=name, exact=True))

    def close(self, failed: bool) -> None:
        for index, context in enumerate(self.contexts):
            if failed:
                for number, page in enumerate(context.pages):
                    page.screenshot(path=str(self.artifacts / f"FAILED-{self.test_name}-{index}-{number}.png"))
            context.close()


@pytest.fixture
def site(request: pytest.FixtureRequest, browser: Browser, stack: Stack, artifacts: Path) -> Iterator[Site]:
    tested = Site(browser, stack, artifacts, request.node.name)
    yield tested
    tested.close(failed=request.node.stash.get(FAILED, False))
    assert tested.errors == [], f"uncaught errors or CSP violations in the page: {tested.errors}"
