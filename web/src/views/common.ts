/** Pieces several views share: the status badge, buttons that report busy, the delete dialog. */

import type { ScanStatus } from "../api";
import { h } from "../dom";
import { t } from "../i18n";
import { STATUS_LABEL } from "../messages";

/** The scan status as a badge: words and colour (never colour alone). */
export function statusBadge(status: ScanStatus): HTMLSpanElement {
  return h(
    "span",
    { class: `badge badge-${status.toLowerCase().replace("_", "-")}`, "data-status": status },
    t(STATUS_LABEL[status]),
  );
}

/** Run `action` with the button marked busy (and not pressable twice). */
export async function whileBusy<T>(button: HTMLButtonElement, action: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A modal confirmation (<dialog>: focus stays inside, Esc cancels). Resolves true on confirm. */
export function confirmDialog(options: { title: string; body: string; confirm: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const titleId = `dialog-title-${Date.now()}`;
    const cancelButton = h("button", { type: "button", class: "button secondary" }, t("common.cancel"));
    const confirmButton = h(
      "button",
      { type: "button", class: options.danger ? "button danger" : "button primary" },
      options.confirm,
    );
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, options.title),
      h("p", {}, options.body),
      h("div", { class: "actions" }, cancelButton, confirmButton),
    );
    const close = (answer: boolean): void => {
      dialog.close();
      dialog.remove();
      if (!answer) opener?.focus();
      resolve(answer);
    };
    cancelButton.addEventListener("click", () => close(false));
    confirmButton.addEventListener("click", () => close(true));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancelButton.focus();
  });
}

export function backLink(href: string, label: string): HTMLAnchorElement {
  return h("a", { class: "back-link", href }, label);
}
