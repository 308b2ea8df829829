/** Form checks with the site's own messages (the browser's built-in ones would follow the
 * browser's language, not the site's). */

import { h, showMessage, uniqueId } from "../dom";
import { t } from "../i18n";

type Control = HTMLInputElement | HTMLSelectElement;

export interface Check {
  control: Control;
  label: string;
  required?: boolean;
  email?: boolean;
  username?: boolean;
  password?: boolean;
  code?: boolean;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// Cognito usernames have no white space; with e-mail as an alias, a username may not look like one.
const USERNAME = /^[^\s@]{1,128}$/u;
const CODE = /^[0-9]{6}$/;

/** The pool's policy (infra/main.yaml, R-COG-01): 8+ characters, upper, lower, digit, symbol. */
export function passwordProblems(password: string): boolean {
  return (
    password.length < 8 ||
    !/[A-Z]/.test(password) ||
    !/[a-z]/.test(password) ||
    !/[0-9]/.test(password) ||
    !/[\^$*.[\]{}()?"!@#%&/\\,><':;|_~`=+\- ]/.test(password)
  );
}

function problem(check: Check): string | null {
  const value = check.control.value.trim();
  if (check.required && value === "") return t("form.required", { field: check.label });
  if (value === "") return null;
  if (check.email && !EMAIL.test(value)) return t("form.email");
  if (check.username && !USERNAME.test(value)) return t("form.username");
  if (check.password && passwordProblems(check.control.value)) return t("form.password");
  if (check.code && !CODE.test(value)) return t("form.code");
  return null;
}

/** Marks invalid fields (aria-invalid + their message), focuses the first; true when all pass. */
export function validate(checks: Check[], summary: HTMLElement): boolean {
  let first: Control | null = null;
  const messages: string[] = [];
  for (const check of checks) {
    const message = problem(check);
    const errorId = `${check.control.id}-error`;
    check.control.parentElement?.querySelector(`#${CSS.escape(errorId)}`)?.remove();
    const describedBy = (check.control.getAttribute("aria-describedby") ?? "")
      .split(" ")
      .filter((id) => id && id !== errorId);
    if (message) {
      check.control.setAttribute("aria-invalid", "true");
      check.control.insertAdjacentElement("afterend", h("p", { class: "field-error", id: errorId }, message));
      describedBy.push(errorId);
      messages.push(message);
      first ??= check.control;
    } else {
      check.control.removeAttribute("aria-invalid");
    }
    if (describedBy.length) check.control.setAttribute("aria-describedby", describedBy.join(" "));
    else check.control.removeAttribute("aria-describedby");
  }
  showMessage(summary, messages.length ? t("form.fix", { count: messages.length }) : null);
  first?.focus();
  return first === null;
}

export function textInput(attributes: Record<string, string | boolean>): HTMLInputElement {
  return h("input", { type: "text", id: uniqueId("input"), ...attributes });
}

/** A "show password" switch for the given password fields (typing on a phone is error-prone). */
export function showPasswordToggle(...inputs: HTMLInputElement[]): HTMLDivElement {
  const box = h("input", { type: "checkbox", id: uniqueId("show-password") });
  box.addEventListener("change", () => {
    for (const input of inputs) input.type = box.checked ? "text" : "password";
  });
  return h("div", { class: "checkbox" }, box, h("label", { for: box.id }, t("form.showPassword")));
}
