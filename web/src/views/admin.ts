/** Admin (Cognito group `admins`): files by status, rescan one, definitions version and age. */

import { ApiError, SCAN_STATUSES, type AdminFileRecord, type DefinitionsManifest, type ScanStatus } from "../api";
import type { Context, View } from "./context";
import { announce, field, h, replaceChildren, showMessage, uniqueId } from "../dom";
import { formatAge, formatBytes, formatDateTime, t } from "../i18n";
import { describeError, STATUS_LABEL } from "../messages";
import { statusBadge, whileBusy } from "./common";

/** The scanner refuses definitions older than this (MAX_DEFINITIONS_AGE_HOURS, default 48). */
const DEFINITIONS_MAX_AGE_HOURS = 48;

function refused(): View {
  return {
    element: h(
      "section",
      { class: "narrow" },
      h("h1", {}, t("admin.title")),
      h("div", { class: "message error", role: "alert", "data-testid": "admin-refused" }, t("admin.refused")),
      h("p", {}, h("a", { href: "#/files" }, t("details.back"))),
    ),
  };
}

export function adminView(context: Context): View {
  if (!context.session?.isAdmin) return refused();
  const page = h("div", { class: "admin-page" }, h("h1", {}, t("admin.title")));
  const definitions = definitionsSection(context, () => page.replaceWith(refused().element));
  const files = filesSection(context, () => page.replaceWith(refused().element));
  page.append(definitions, files);
  return { element: page };
}

function definitionsSection(context: Context, onRefused: () => void): HTMLElement {
  const headingId = uniqueId("definitions");
  const body = h("div", {}, h("p", { role: "status" }, t("common.loading")));
  const render = (manifest: DefinitionsManifest): void => {
    const ageHours = (Date.now() - new Date(manifest.built_at).getTime()) / 3_600_000;
    const stale = ageHours > DEFINITIONS_MAX_AGE_HOURS;
    replaceChildren(
      body,
      h(
        "dl",
        { class: "details" },
        h("div", { class: "details-row" }, h("dt", {}, t("admin.definitions.version")), h("dd", { "data-testid": "definitions-version" }, manifest.version)),
        h("div", { class: "details-row" }, h("dt", {}, t("admin.definitions.builtAt")), h("dd", {}, formatDateTime(manifest.built_at))),
        h("div", { class: "details-row" }, h("dt", {}, t("admin.definitions.age")), h("dd", {}, formatAge(manifest.built_at))),
      ),
      stale
        ? h("p", { class: "message error", role: "alert" }, t("admin.definitions.stale", { hours: DEFINITIONS_MAX_AGE_HOURS }))
        : h("p", { class: "message success" }, t("admin.definitions.fresh")),
    );
  };
  void context.api
    .definitions()
    .then(render)
    .catch((error: unknown) => {
      if (error instanceof ApiError && error.code === "admin_only") return onRefused();
      replaceChildren(body, h("p", { class: "message error", role: "alert" }, describeError(error)));
    });
  return h("section", { class: "card", "aria-labelledby": headingId }, h("h2", { id: headingId }, t("admin.definitions.title")), body);
}

function filesSection(context: Context, onRefused: () => void): HTMLElement {
  const headingId = uniqueId("admin-files");
  const status = h(
    "select",
    { id: uniqueId("status") },
    SCAN_STATUSES.map((value) => h("option", { value }, t(STATUS_LABEL[value]))),
  );
  status.value = "INFECTED";
  const list = h("ul", { class: "file-list", "aria-labelledby": headingId });
  const problem = h("div", { class: "message error", role: "alert", hidden: true });
  const empty = h("p", { class: "empty", hidden: true }, t("admin.files.empty"));
  const more = h("button", { type: "button", class: "button secondary", hidden: true }, t("files.more"));
  let cursor: string | null = null;

  const load = async (reset: boolean): Promise<void> => {
    if (reset) {
      cursor = null;
      list.replaceChildren();
    }
    try {
      const page = await context.api.adminFiles(status.value as ScanStatus, { limit: 50, cursor });
      for (const file of page.files) list.append(adminRow(context, file));
      cursor = page.cursor;
      more.hidden = cursor === null;
      empty.hidden = list.childElementCount > 0;
      showMessage(problem, null);
    } catch (error) {
      if (error instanceof ApiError && error.code === "admin_only") return onRefused();
      showMessage(problem, describeError(error));
    }
  };
  status.addEventListener("change", () => void load(true));
  more.addEventListener("click", () => void whileBusy(more, () => load(false)));
  void load(true);
  return h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h2", { id: headingId }, t("admin.files.title")),
    field(t("admin.files.status"), status),
    problem,
    empty,
    list,
    h("div", { class: "actions" }, more),
  );
}

function adminRow(context: Context, file: AdminFileRecord): HTMLLIElement {
  const message = h("p", { class: "message", role: "status", hidden: true });
  const rescan = h("button", { type: "button", class: "button secondary small" }, t("admin.rescan"));
  // INFECTED verdicts are final and a file whose bytes never arrived has nothing to scan.
  rescan.hidden = file.scanStatus === "INFECTED" || file.scanStatus === "PENDING_UPLOAD";
  rescan.addEventListener("click", () => {
    void whileBusy(rescan, async () => {
      try {
        await context.api.rescan(file.owner, file.id);
        message.className = "message success";
        showMessage(message, t("admin.rescan.started", { name: file.name }));
        announce(t("admin.rescan.started", { name: file.name }));
      } catch (error) {
        message.className = "message error";
        showMessage(message, describeError(error));
      }
    });
  });
  return h(
    "li",
    { class: "file-item", "data-file-id": file.id },
    h("div", { class: "file-head" }, h("span", { class: "file-name" }, file.name), statusBadge(file.scanStatus)),
    h("p", { class: "file-meta" }, `${formatBytes(file.size)} · ${formatDateTime(file.createdAt)}`),
    h("p", { class: "file-meta" }, t("admin.files.owner", { owner: file.owner })),
    file.signature ? h("p", { class: "file-meta" }, t("admin.files.signature", { signature: file.signature })) : null,
    h("div", { class: "actions" }, rescan),
    message,
  );
}
