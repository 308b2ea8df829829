/** The shell: header, navigation, language switch, hash routes, and what views share.
 *
 * Routes live in the URL fragment (#/files) so that the static bucket behind CloudFront needs
 * no rewrite rules: every deep link loads index.html. */

import type { ApiClient, Profile } from "./api";
import type { Auth, Session } from "./auth";
import type { SiteConfig } from "./config";
import { announce, focusHeading, h, replaceChildren } from "./dom";
import { getLocale, isLocale, onLocaleChange, setLocale, setTimeZone, t, type MessageKey } from "./i18n";
import { describeError } from "./messages";
import { UploadQueue } from "./uploads";
import { adminView } from "./views/admin";
import { confirmView, forgotView, signInView, signUpView } from "./views/account";
import { detailsView } from "./views/details";
import { filesView } from "./views/files";
import type { Context, Flash, View } from "./views/context";
import { profileView } from "./views/profile";

type Route = {
  pattern: RegExp;
  needsSession: boolean;
  render: (context: Context, match: RegExpExecArray, query: URLSearchParams) => View;
};

const ROUTES: Route[] = [
  { pattern: /^\/signin$/, needsSession: false, render: (c) => signInView(c) },
  { pattern: /^\/signup$/, needsSession: false, render: (c) => signUpView(c) },
  { pattern: /^\/confirm$/, needsSession: false, render: (c, _m, q) => confirmView(c, q.get("user") ?? "") },
  { pattern: /^\/forgot$/, needsSession: false, render: (c, _m, q) => forgotView(c, q.get("user") ?? "") },
  { pattern: /^\/files$/, needsSession: true, render: (c) => filesView(c) },
  { pattern: /^\/files\/([0-9A-Za-z]+)$/, needsSession: true, render: (c, m) => detailsView(c, m[1] ?? "") },
  { pattern: /^\/profile$/, needsSession: true, render: (c) => profileView(c) },
  { pattern: /^\/admin$/, needsSession: true, render: (c) => adminView(c) },
];

const NAV: { path: string; label: MessageKey; admin?: boolean }[] = [
  { path: "/files", label: "nav.files" },
  { path: "/profile", label: "nav.profile" },
  { path: "/admin", label: "nav.admin", admin: true },
];

export class App implements Context {
  session: Session | null = null;
  profile: Profile | null = null;
  pendingSignUp: Context["pendingSignUp"] = null;
  lastUsername = "";
  readonly uploads: UploadQueue;
  private view: View | null = null;
  private pendingFlash: Flash | null = null;
  private readonly header = h("header", { class: "site-header" });
  private readonly main = h("main", { id: "main", tabindex: "-1" });
  private firstRender = true;

  constructor(
    private readonly root: HTMLElement,
    readonly config: SiteConfig,
    readonly auth: Auth,
    readonly api: ApiClient,
  ) {
    this.uploads = new UploadQueue(api);
  }

  async start(): Promise<void> {
    const skip = h(
      "a",
      {
        class: "skip-link",
        href: "#main",
        onclick: (event: Event) => {
          event.preventDefault();
          this.main.focus();
        },
      },
      t("nav.skip"),
    );
    const announcer = h("div", { id: "announcer", class: "visually-hidden", "aria-live": "polite", role: "status" });
    const footer = h("footer", { class: "site-footer" });
    replaceChildren(this.root, skip, this.header, this.main, footer, announcer);
    this.root.removeAttribute("aria-busy");

    this.auth.onChange((session) => {
      const wasSignedIn = this.session !== null;
      this.session = session;
      if (!session) {
        this.profile = null;
        this.uploads.reset();
        if (wasSignedIn) {
          this.flash({ kind: "info", text: t("auth.signedOut") });
          this.navigate("/signin");
        }
      }
    });
    onLocaleChange(() => this.render());
    window.addEventListener("hashchange", () => this.render());
    window.addEventListener("beforeunload", (event) => {
      if (this.uploads.hasActive()) event.preventDefault();
    });

    this.session = await this.auth.current();
    if (this.session) await this.loadProfile();
    this.render();
  }

  private async loadProfile(): Promise<void> {
    try {
      this.applyProfile(await this.api.getProfile());
    } catch (error) {
      // The files still work without a profile; say why the profile is missing.
      this.flash({ kind: "info", text: describeError(error) });
    }
  }

  applyProfile(profile: Profile): void {
    this.profile = profile;
    setTimeZone(profile.timeZone);
    if (isLocale(profile.locale) && profile.locale !== getLocale()) setLocale(profile.locale, localStorage);
  }

  async signedIn(session: Session): Promise<void> {
    this.session = session;
    await this.loadProfile();
    announce(t("auth.signedInAs", { name: this.profile?.displayName ?? session.username }));
    this.navigate("/files");
  }

  navigate(path: string): void {
    if (window.location.hash === `#${path}`) {
      this.render();
    } else {
      window.location.hash = path;
    }
  }

  flash(message: Flash): void {
    this.pendingFlash = message;
  }

  private currentPath(): { path: string; query: URLSearchParams } {
    const raw = window.location.hash.replace(/^#/, "") || "/";
    const [path = "/", search = ""] = raw.split("?", 2);
    return { path, query: new URLSearchParams(search) };
  }

  private render(): void {
    const { path, query } = this.currentPath();
    const signedIn = this.session !== null;
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of ROUTES) {
      match = candidate.pattern.exec(path);
      if (match) {
        route = candidate;
        break;
      }
    }
    if (!route || !match) {
      this.navigate(signedIn ? "/files" : "/signin");
      return;
    }
    if (route.needsSession && !signedIn) {
      this.navigate("/signin");
      return;
    }
    if (!route.needsSession && signedIn && path !== "/confirm") {
      this.navigate("/files");
      return;
    }
    this.view?.destroy?.();
    this.renderHeader(path);
    this.renderFooter();
    const view = route.render(this, match, query);
    this.view = view;
    const flash = this.pendingFlash;
    this.pendingFlash = null;
    replaceChildren(
      this.main,
      flash
        ? h("div", { class: `message ${flash.kind}`, role: "status" }, typeof flash.text === "function" ? flash.text() : flash.text)
        : null,
      view.element,
    );
    if (this.firstRender) {
      this.firstRender = false;
    } else {
      focusHeading(this.main);
    }
  }

  private renderHeader(path: string): void {
    const other = getLocale() === "ja" ? "en" : "ja";
    const languageButton = h(
      "button",
      {
        type: "button",
        class: "button secondary small",
        lang: other,
        "aria-label": t("lang.switchLabel"),
        onclick: () => setLocale(other, localStorage),
      },
      t("lang.switchTo"),
    );
    const session = this.session;
    const links = session
      ? NAV.filter((item) => !item.admin || session.isAdmin).map((item) =>
          h(
            "li",
            {},
            h(
              "a",
              { href: `#${item.path}`, "aria-current": path.startsWith(item.path) ? "page" : undefined },
              t(item.label),
            ),
          ),
        )
      : [];
    replaceChildren(
      this.header,
      h("a", { class: "brand", href: session ? "#/files" : "#/signin" }, t("app.name")),
      links.length ? h("nav", { "aria-label": t("nav.label") }, h("ul", {}, links)) : null,
      h(
        "div",
        { class: "header-actions" },
        languageButton,
        session
          ? h(
              "button",
              { type: "button", class: "button secondary small", onclick: () => this.auth.signOut() },
              t("auth.signOut"),
            )
          : null,
      ),
    );
    const skip = this.root.querySelector<HTMLAnchorElement>(".skip-link");
    if (skip) skip.textContent = t("nav.skip");
  }

  private renderFooter(): void {
    const footer = this.root.querySelector("footer");
    if (!footer) return;
    const who = this.session ? t("footer.signedInAs", { name: this.session.username }) : null;
    replaceChildren(
      footer,
      h("p", {}, t("footer.tagline")),
      who ? h("p", {}, who) : null,
      this.config.stage === "local" ? h("p", {}, t("footer.localStage")) : null,
    );
  }
}
