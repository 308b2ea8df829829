/** My files: the upload area (picker and drag-and-drop, several at once) and the list, newest
 * first, whose badges follow each scan live. */

import { isScanning, type FileRecord } from "../api";
import type { Context, View } from "./context";
import { announce, h, replaceChildren, showMessage, uniqueId } from "../dom";
import { formatBytes, formatDateTime, t, type MessageKey } from "../i18n";
import { describeError, STATUS_LABEL } from "../messages";
import { isActive, percent, type UploadItem, type UploadQueue, type UploadState } from "../uploads";
import { watchFile } from "../watch";
import { statusBadge, whileBusy } from "./common";
import { confirmAndDelete, downloadButton, startDownload } from "./fileActions";

const PAGE_SIZE = 20;

export function filesView(context: Context): View {
  const cleanups: (() => void)[] = [];
  const uploader = uploadSection(context.uploads, cleanups);
  const list = fileList(context, cleanups);
  cleanups.push(context.uploads.onUploaded((record) => list.add(record)));
  const element = h("div", { class: "files-page" }, h("h1", {}, t("files.title")), uploader, list.element);
  return {
    element,
    destroy: () => {
      for (const cleanup of cleanups) cleanup();
    },
  };
}

// ------------------------------------------------------------------ uploads

function uploadSection(queue: UploadQueue, cleanups: (() => void)[]): HTMLElement {
  const headingId = uniqueId("upload-heading");
  const input = h("input", { type: "file", multiple: true, hidden: true, "data-testid": "file-input" });
  const pick = h("button", { type: "button", class: "button primary" }, t("upload.pick"));
  pick.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    if (input.files?.length) queue.add(Array.from(input.files));
    input.value = "";
  });

  const zone = h(
    "div",
    { class: "dropzone", "data-testid": "dropzone" },
    h("p", { class: "dropzone-text" }, t("upload.dropHere")),
    h("p", { class: "dropzone-or" }, t("upload.or")),
    pick,
    input,
  );
  const over = (event: DragEvent): void => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("dragging");
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event: DragEvent) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const files = event.dataTransfer?.files;
    if (files?.length) queue.add(Array.from(files));
  });
  // A file dropped beside the zone must not replace the page with the file.
  const guard = (event: DragEvent): void => {
    if (event.dataTransfer?.types.includes("Files") && !zone.contains(event.target as Node)) event.preventDefault();
  };
  window.addEventListener("dragover", guard);
  window.addEventListener("drop", guard);
  cleanups.push(() => {
    window.removeEventListener("dragover", guard);
    window.removeEventListener("drop", guard);
  });

  const items = h("ul", { class: "uploads", "aria-label": t("upload.queueLabel") });
  const clear = h("button", { type: "button", class: "button secondary small", hidden: true }, t("upload.clearFinished"));
  clear.addEventListener("click", () => queue.clearFinished());
  const rows = new Map<number, UploadRow>();
  const render = (all: readonly UploadItem[]): void => {
    for (const [key, row] of rows) {
      if (!all.some((item) => item.key === key)) {
        row.element.remove();
        rows.delete(key);
      }
    }
    let previous: Element | null = null;
    for (const item of all) {
      let row = rows.get(item.key);
      if (!row) {
        row = uploadRow(item, queue);
        rows.set(item.key, row);
      }
      row.update(item);
      if (previous) previous.after(row.element);
      else items.prepend(row.element);
      previous = row.element;
    }
    clear.hidden = !all.some((item) => !isActive(item));
  };
  render(queue.items());
  cleanups.push(queue.subscribe(render));

  return h(
    "section",
    { class: "card upload-section", "aria-labelledby": headingId },
    h("h2", { id: headingId }, t("upload.title")),
    zone,
    items,
    h("div", { class: "actions end" }, clear),
  );
}

const UPLOAD_STATE: Record<UploadState, MessageKey> = {
  waiting: "upload.state.waiting",
  preparing: "upload.state.preparing",
  uploading: "upload.state.uploading",
  done: "upload.state.done",
  failed: "upload.state.failed",
  cancelled: "upload.state.cancelled",
};

interface UploadRow {
  element: HTMLLIElement;
  update(item: UploadItem): void;
}

function uploadRow(item: UploadItem, queue: UploadQueue): UploadRow {
  const progress = h("progress", { max: "100", value: "0", "aria-label": t("upload.progressLabel", { name: item.file.name }) });
  const figure = h("span", { class: "upload-percent" });
  const state = h("p", { class: "upload-state" });
  const problem = h("p", { class: "message error", role: "alert", hidden: true });
  const cancel = h("button", { type: "button", class: "button secondary small" }, t("upload.cancel"));
  const dismiss = h("button", { type: "button", class: "button secondary small" }, t("upload.dismiss"));
  cancel.addEventListener("click", () => queue.cancel(item.key));
  dismiss.addEventListener("click", () => queue.dismiss(item.key));
  const element = h(
    "li",
    { class: "upload-item" },
    h(
      "div",
      { class: "upload-head" },
      h("span", { class: "file-name" }, item.file.name),
      h("span", { class: "file-meta" }, formatBytes(item.file.size)),
    ),
    h("div", { class: "upload-bar" }, progress, figure),
    state,
    problem,
    h("div", { class: "actions" }, cancel, dismiss),
  );
  let lastState: string | null = null;
  return {
    element,
    update(current: UploadItem) {
      const value = percent(current);
      progress.value = value;
      figure.textContent = t("upload.percent", { percent: value });
      element.dataset.state = current.state;
      const active = isActive(current);
      if (!active && cancel.contains(document.activeElement)) dismiss.focus();
      cancel.hidden = !active;
      dismiss.hidden = active;
      state.textContent = t(UPLOAD_STATE[current.state]);
      showMessage(problem, current.state === "failed" ? describeError(current.error) : null);
      if (current.state !== lastState) {
        lastState = current.state;
        if (current.state === "done") announce(t("upload.announceDone", { name: current.file.name }));
        if (current.state === "cancelled") announce(t("upload.announceCancelled", { name: current.file.name }));
      }
    },
  };
}

// ------------------------------------------------------------------ the list

interface FileList {
  element: HTMLElement;
  add(record: FileRecord): void;
}

function fileList(context: Context, cleanups: (() => void)[]): FileList {
  const headingId = uniqueId("files-heading");
  const heading = h("h2", { id: headingId, tabindex: "-1" }, t("files.listTitle"));
  const list = h("ul", { class: "file-list", "aria-labelledby": headingId });
  const empty = h("p", { class: "empty", hidden: true }, t("files.empty"));
  const loading = h("p", { class: "loading", role: "status" }, t("common.loading"));
  const problem = h("div", { class: "message error", role: "alert", hidden: true });
  const more = h("button", { type: "button", class: "button secondary", hidden: true }, t("files.more"));
  const rows = new Map<string, FileRowHandle>();
  const watchers = new Map<string, () => void>();
  let cursor: string | null = null;

  cleanups.push(() => {
    for (const stop of watchers.values()) stop();
    watchers.clear();
  });

  const refreshEmpty = (): void => {
    empty.hidden = rows.size > 0;
  };

  const watch = (file: FileRecord): void => {
    if (!isScanning(file.scanStatus) || watchers.has(file.id)) return;
    const stop = watchFile(context.api, file.id, (fresh) => {
      const row = rows.get(fresh.id);
      if (!row) return;
      const before = row.file.scanStatus;
      row.update(fresh);
      if (before !== fresh.scanStatus) {
        announce(t("files.announceStatus", { name: fresh.name, status: t(STATUS_LABEL[fresh.scanStatus]) }));
      }
      if (!isScanning(fresh.scanStatus)) {
        watchers.get(fresh.id)?.();
        watchers.delete(fresh.id);
      }
    });
    watchers.set(file.id, stop);
  };

  const remove = (id: string): void => {
    rows.get(id)?.element.remove();
    rows.delete(id);
    watchers.get(id)?.();
    watchers.delete(id);
    refreshEmpty();
  };

  const place = (file: FileRecord, where: "top" | "bottom"): void => {
    const existing = rows.get(file.id);
    if (existing) {
      existing.update(file);
    } else {
      const row = fileRow(context, file, (deleted) => {
        remove(deleted.id);
        announce(t("files.announceDeleted", { name: deleted.name }));
        heading.focus();
      });
      rows.set(file.id, row);
      if (where === "top") list.prepend(row.element);
      else list.append(row.element);
    }
    watch(file);
    refreshEmpty();
  };

  const load = async (): Promise<void> => {
    try {
      const page = await context.api.listFiles({ limit: PAGE_SIZE, cursor });
      for (const file of page.files) place(file, "bottom");
      cursor = page.cursor;
      more.hidden = cursor === null;
      showMessage(problem, null);
    } catch (error) {
      showMessage(problem, describeError(error));
    } finally {
      loading.remove();
      refreshEmpty();
    }
  };
  more.addEventListener("click", () => void whileBusy(more, load));
  void load();

  const section = h(
    "section",
    { class: "card list-section", "aria-labelledby": headingId },
    heading,
    loading,
    problem,
    empty,
    list,
    h("div", { class: "actions" }, more),
  );
  return { element: section, add: (record) => place(record, "top") };
}

interface FileRowHandle {
  element: HTMLLIElement;
  file: FileRecord;
  update(file: FileRecord): void;
}

function fileRow(context: Context, initial: FileRecord, onDeleted: (file: FileRecord) => void): FileRowHandle {
  const handle: FileRowHandle = { element: h("li", { class: "file-item" }), file: initial, update: () => undefined };
  const message = h("p", { class: "message error", role: "alert", hidden: true });

  const render = (file: FileRecord): void => {
    handle.file = file;
    const badge = statusBadge(file.scanStatus);
    badge.id = `status-${file.id}`;
    const download = downloadButton(file, badge.id);
    download.addEventListener("click", () => {
      void whileBusy(download, async () => {
        try {
          await startDownload(context.api, handle.file);
          showMessage(message, null);
        } catch (error) {
          showMessage(message, describeError(error));
        }
      });
    });
    const remove = h("button", { type: "button", class: "button danger-outline small", "data-action": "delete" }, t("files.delete"));
    remove.addEventListener("click", () => {
      void whileBusy(remove, async () => {
        try {
          if (await confirmAndDelete(context.api, handle.file)) onDeleted(handle.file);
        } catch (error) {
          showMessage(message, describeError(error));
        }
      });
    });
    const focusedAction = (document.activeElement as HTMLElement | null)?.dataset?.action;
    const hadFocus = handle.element.contains(document.activeElement);
    handle.element.dataset.fileId = file.id;
    handle.element.dataset.status = file.scanStatus;
    replaceChildren(
      handle.element,
      h(
        "div",
        { class: "file-head" },
        h("a", { class: "file-name", href: `#/files/${file.id}` }, file.name),
        badge,
      ),
      h("p", { class: "file-meta" }, `${formatBytes(file.size)} · ${formatDateTime(file.createdAt)}`),
      h("div", { class: "actions" }, download, h("a", { class: "button secondary small", href: `#/files/${file.id}` }, t("files.details")), remove),
      message,
    );
    // A live update must not steal the learner's place.
    if (hadFocus && focusedAction) handle.element.querySelector<HTMLElement>(`[data-action="${focusedAction}"]`)?.focus();
  };
  handle.update = (file: FileRecord) => {
    // A refusal shown for the previous status no longer applies.
    if (file.scanStatus !== handle.file.scanStatus) showMessage(message, null);
    render(file);
  };
  render(initial);
  return handle;
}
