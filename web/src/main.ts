/** Start-up: language, stage configuration, session, then the app. */

import "./styles.css";

import { ApiClient } from "./api";
import { App } from "./app";
import { Auth } from "./auth";
import { loadConfig } from "./config";
import { h, replaceChildren } from "./dom";
import { initialLocale, setLocale, t } from "./i18n";

async function start(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  setLocale(initialLocale(localStorage));
  try {
    const config = await loadConfig();
    const auth = new Auth(config);
    const api = new ApiClient(config.apiUrl, auth);
    await new App(root, config, auth, api).start();
  } catch (error) {
    console.error(error);
    root.removeAttribute("aria-busy");
    replaceChildren(
      root,
      h("main", { id: "main", class: "narrow" }, h("h1", {}, t("app.name")), h("p", { class: "message error", role: "alert" }, t("error.startup"))),
    );
  }
}

void start();
