/** Download and delete, shared by the file list and the details page. */

import type { ApiClient, FileRecord } from "../api";
import { h } from "../dom";
import { t } from "../i18n";
import { confirmDialog } from "./common";

/** Ask the API for a download URL and let the browser fetch it. The URL answers with
 * `Content-Disposition: attachment`, so the page stays where it is. Only CLEAN files get a URL;
 * for any other status the API's refusal (403 file_not_clean, 409 scan_pending) is thrown. */
export async function startDownload(api: Pick<ApiClient, "download">, file: FileRecord): Promise<void> {
  const download = await api.download(file.id);
  const link = h("a", { href: download.url, rel: "noopener noreferrer", hidden: true });
  document.body.appendChild(link);
  link.click();
  link.remove();
}

/** Confirm, then delete. Resolves false when the learner changed their mind. */
export async function confirmAndDelete(api: Pick<ApiClient, "deleteFile">, file: FileRecord): Promise<boolean> {
  const confirmed = await confirmDialog({
    title: t("delete.title"),
    body: t("delete.body", { name: file.name }),
    confirm: t("delete.confirm"),
    danger: true,
  });
  if (!confirmed) return false;
  await api.deleteFile(file.id);
  return true;
}

/** The download button: a real button for CLEAN files; for the others it is marked unavailable
 * (aria-disabled, still focusable) and pressing it shows why, as the API answers. */
export function downloadButton(file: FileRecord, describedBy: string | null): HTMLButtonElement {
  const available = file.scanStatus === "CLEAN";
  return h(
    "button",
    {
      type: "button",
      class: available ? "button primary small" : "button unavailable small",
      "aria-disabled": available ? undefined : "true",
      "aria-describedby": describedBy ?? undefined,
      "data-action": "download",
    },
    t("files.download"),
  );
}
