"""Profile, the English switch, the admin page (admins only), a phone-sized screen, contrast."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from devstack.clamd import EICAR
from tests.browser.conftest import PASSWORD, PHONE, Site

# WCAG 2.x contrast of an element's text on its own background, from computed styles.
CONTRAST = """(element) => {
  const rgb = (value) => value.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  let background = element;
  while (background && getComputedStyle(background).backgroundColor === 'rgba(0, 0, 0, 0)') {
    background = background.parentElement;
  }
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)),
                  luminance(rgb(getComputedStyle(background || document.body).backgroundColor))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""

NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_profile_is_saved_and_kept(site: Site) -> None:
    page, username = site.learner("sakura")
    page.get_by_role("link", name="プロフィール").click()
    expect(page.get_by_role("heading", level=1, name="プロフィール")).to_be_visible()
    expect(page.get_by_label("表示名")).to_have_value(username)
    expect(page.get_by_label("タイムゾーン")).to_have_value("Asia/Tokyo")

    page.get_by_label("表示名").fill("山田 花子")
    page.get_by_label("学年・区分").select_option(label="高校生")
    page.get_by_label("タイムゾーン").select_option("Asia/Seoul")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status").filter(has_text="プロフィールを保存しました。")).to_be_visible()
    site.shot(page, "profile")

    page.reload()
    expect(page.get_by_label("表示名")).to_have_value("山田 花子")
    expect(page.get_by_label("学年・区分")).to_have_value("high-school")
    expect(page.get_by_label("タイムゾーン")).to_have_value("Asia/Seoul")


def test_english_is_a_switch_and_the_profile_language_sticks(site: Site) -> None:
    page, username = site.learner("ken")

    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("heading", level=1, name="My files")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    site.shot(page, "files-english")
    page.get_by_role("button", name="日本語に切り替える").click()
    expect(page.get_by_role("heading", level=1, name="マイファイル")).to_be_visible()

    page.get_by_role("link", name="プロフィール").click()
    page.get_by_label("表示言語").select_option("en")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", level=1, name="Profile")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Your profile is saved.")).to_be_visible()

    # A new device starts in Japanese and follows the profile once signed in.
    other = site.page()
    site.open(other)
    expect(other.get_by_role("heading", level=1)).to_have_text("サインイン")
    other.get_by_label("ユーザー名またはメールアドレス").fill(username)
    other.get_by_label("パスワード", exact=True).fill(PASSWORD)
    other.get_by_role("button", name="サインイン").click()
    expect(other.get_by_role("heading", level=1, name="My files")).to_be_visible()


def test_a_learner_is_refused_the_admin_page(site: Site) -> None:
    page, _ = site.learner("momo")
    expect(page.get_by_role("navigation").get_by_role("link", name="管理")).to_have_count(0)

    site.open(page, "/admin")

    expect(page.get_by_test_id("admin-refused")).to_have_text("このページは管理者(admins グループ)専用です。")
    expect(page.get_by_role("heading", level=2)).to_have_count(0)
    site.shot(page, "admin-refused")


def make_admin(site: Site, page: Page, username: str) -> None:
    cognito = site.stack.aws("cognito-idp")
    cognito.admin_add_user_to_group(UserPoolId=site.stack.info["userPoolId"], Username=username, GroupName="admins")
    site.sign_out(page)
    site.sign_in(page, username)  # a new ID token, with the group


def test_an_admin_sees_definitions_files_by_status_and_rescans(site: Site) -> None:
    page, username = site.learner("kanri")
    site.pick(page, [("eicar.com", EICAR), ("きれい.txt", b"clean notes")])
    expect(site.row(page, "eicar.com").locator(".badge")).to_have_text("ウイルス検出")
    expect(site.row(page, "きれい.txt").locator(".badge")).to_have_text("安全")
    make_admin(site, page, username)

    page.get_by_role("navigation").get_by_role("link", name="管理").click()
    expect(page.get_by_role("heading", level=1, name="管理")).to_be_visible()
    expect(page.get_by_test_id("definitions-version")).to_have_text(site.stack.info["definitions"])
    definitions = page.locator("section").filter(has=page.get_by_role("heading", name="ウイルス定義"))
    expect(definitions).to_contain_text("経過時間")
    expect(definitions).to_contain_text("定義は最新の範囲内です。")

    infected = page.locator(".file-item").filter(has_text="eicar.com")
    expect(infected.first).to_contain_text("検出名: Manabi.Test.EICAR.UNOFFICIAL")
    expect(infected.first.get_by_role("button", name="再検査")).to_be_hidden()  # INFECTED is final
    site.shot(page, "admin")

    page.get_by_label("検査の状態").select_option("CLEAN")
    clean = page.locator(".file-item").filter(has_text="きれい.txt")
    clean.first.get_by_role("button", name="再検査").click()
    expect(clean.first.get_by_role("status")).to_have_text("「きれい.txt」の再検査を始めました。")
    site.shot(page, "admin-rescan")


def test_a_phone_shows_every_page_without_horizontal_scrolling(site: Site) -> None:
    page = site.page(PHONE, mobile=True)
    site.open(page)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    site.shot(page, "phone-signin")
    username = site.username("phone")
    site.sign_up(page, username)
    long_name = "数学の宿題_第3回_二次関数のグラフと最大値最小値_提出用_" + "x" * 120 + ".pdf"
    site.pick(page, [(long_name, b"%PDF-1.4 homework"), ("eicar.com", EICAR)])
    expect(site.row(page, long_name).locator(".badge")).to_have_text("安全")
    expect(site.row(page, "eicar.com").locator(".badge")).to_have_text("ウイルス検出")

    assert page.evaluate(NO_HORIZONTAL_SCROLL), "the file list scrolls sideways on a 375 px screen"
    site.shot(page, "phone-files")
    site.row(page, long_name).get_by_role("link", name="詳細").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(long_name)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    site.shot(page, "phone-details")
    site.open(page, "/profile")
    expect(page.get_by_label("表示名")).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    site.shot(page, "phone-profile")


def test_text_badges_and_buttons_meet_aa_contrast(site: Site) -> None:
    page, _ = site.learner("iro")
    site.pick(page, [("安全.txt", b"fine"), ("eicar.com", EICAR)])
    expect(site.row(page, "eicar.com").locator(".badge")).to_have_text("ウイルス検出")
    expect(site.row(page, "安全.txt").locator(".badge")).to_have_text("安全")

    checked = [
        page.locator("main h1"),
        page.locator(".file-meta").first,
        page.locator(".badge").first,
        page.locator(".badge").last,
        page.get_by_role("button", name="ファイルを選ぶ"),
        page.locator(".file-item .button.unavailable").first,
        page.locator(".file-item .button.danger-outline").first,
        page.locator(".site-footer p").first,
    ]
    ratios = {locator.inner_text(): locator.evaluate(CONTRAST) for locator in checked}
    assert all(ratio >= 4.5 for ratio in ratios.values()), ratios
