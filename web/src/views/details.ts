/** One file: size, dates, sha256, definitions, scanned at, and why it was refused. */

import type { FileRecord } from "../api";
import type { Context, View } from "./context";
import { announce, h, replaceChildren, showMessage } from "../dom";
import { formatBytes, formatDateTime, formatNumber, t, type MessageKey } from "../i18n";
import { describeError, downloadRefusal, refusalReason, STATUS_LABEL } from "../messages";
import { watchFile } from "../watch";
import { backLink, statusBadge, whileBusy } from "./common";
import { confirmAndDelete, downloadButton, startDownload } from "./fileActions";

export function detailsView(context: Context, id: string): View {
  const title = h("h1", { class: "file-title" }, t("common.loading"));
  const body = h("div", { class: "card" });
  const message = h("div", { class: "message error", role: "alert", hidden: true });
  let stop: (() => void) | null = null;

  const render = (file: FileRecord): void => {
    title.textContent = file.name;
    const badge = statusBadge(file.scanStatus);
    badge.id = "details-status";
    const reason = refusalReason(file.scanStatus, file.signature);
    const rows: [MessageKey, Node | string][] = [
      ["details.status", badge],
      ["details.size", t("details.sizeValue", { size: formatBytes(file.size), bytes: formatNumber(file.size) })],
      ["details.type", file.contentType],
      ["details.uploadedAt", formatDateTime(file.createdAt)],
      ["details.scannedAt", formatDateTime(file.scannedAt)],
      ["details.definitions", file.definitions || t("common.none")],
      ["details.sha256", h("code", { class: "hash" }, file.sha256 ?? t("common.none"))],
    ];
    if (reason) rows.push(["details.reason", reason]);
    const download = downloadButton(file, "details-status");
    download.addEventListener("click", () => {
      void whileBusy(download, async () => {
        try {
          await startDownload(context.api, file);
          showMessage(message, null);
        } catch (error) {
          showMessage(message, describeError(error));
        }
      });
    });
    const remove = h("button", { type: "button", class: "button danger" }, t("files.delete"));
    remove.addEventListener("click", () => {
      void whileBusy(remove, async () => {
        try {
          if (await confirmAndDelete(context.api, file)) {
            context.flash({ kind: "success", text: t("files.announceDeleted", { name: file.name }) });
            context.navigate("/files");
          }
        } catch (error) {
          showMessage(message, describeError(error));
        }
      });
    });
    replaceChildren(
      body,
      h(
        "dl",
        { class: "details" },
        rows.map(([label, value]) => h("div", { class: "details-row" }, h("dt", {}, t(label)), h("dd", {}, value))),
      ),
      file.scanStatus === "CLEAN" ? null : h("p", { class: "hint" }, downloadRefusal(file.scanStatus)),
      h("div", { class: "actions" }, download, remove),
    );
  };

  const start = async (): Promise<void> => {
    try {
      const file = await context.api.getFile(id);
      render(file);
      let shown = file.scanStatus;
      stop = watchFile(context.api, id, (fresh) => {
        if (fresh.scanStatus !== shown) {
          shown = fresh.scanStatus;
          announce(t("files.announceStatus", { name: fresh.name, status: t(STATUS_LABEL[fresh.scanStatus]) }));
        }
        render(fresh);
      });
    } catch (error) {
      title.textContent = t("details.title");
      replaceChildren(body);
      showMessage(message, describeError(error));
    }
  };
  void start();

  return {
    element: h("div", { class: "details-page" }, backLink("#/files", t("details.back")), title, message, body),
    destroy: () => stop?.(),
  };
}
