/** Sign in, sign up (+ e-mailed code), forgotten password. */

import { AuthError, confirmLocally, type Session } from "../auth";
import type { Context, View } from "./context";
import { errorBox, field, h, showMessage } from "../dom";
import { t } from "../i18n";
import { describeError } from "../messages";
import { whileBusy } from "./common";
import { showPasswordToggle, textInput, validate } from "./forms";

function passwordInput(autocomplete: "current-password" | "new-password"): HTMLInputElement {
  return textInput({ type: "password", name: "password", autocomplete, required: true });
}

function usernameInput(value = ""): HTMLInputElement {
  const input = textInput({
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  });
  input.value = value;
  return input;
}

function form(title: string, ...children: (Node | null)[]): { element: HTMLElement; form: HTMLFormElement } {
  const body = h("form", { class: "card form", novalidate: true }, ...children);
  return { element: h("section", { class: "narrow" }, h("h1", {}, title), body), form: body };
}

type NewPasswordStep = (password: string) => Promise<Session>;

/** Sign in, then load the profile and go to the files; or the step an admin-made account needs. */
async function signIn(context: Context, username: string, password: string): Promise<NewPasswordStep | null> {
  const outcome = await context.auth.signIn(username, password);
  if (outcome.kind === "newPasswordRequired") return outcome.complete;
  await context.signedIn(outcome.session);
  return null;
}

export function signInView(context: Context): View {
  const username = usernameInput(context.lastUsername);
  const password = passwordInput("current-password");
  const error = errorBox();
  const submit = h("button", { type: "submit", class: "button primary" }, t("auth.signIn.submit"));
  const { element, form: body } = form(
    t("auth.signIn.title"),
    error,
    field(t("auth.field.usernameOrEmail"), username),
    field(t("auth.field.password"), password),
    showPasswordToggle(password),
    h("div", { class: "actions" }, submit),
    h(
      "p",
      { class: "links" },
      h("a", { href: "#/signup" }, t("auth.signIn.toSignUp")),
      h("a", { href: `#/forgot` }, t("auth.signIn.toForgot")),
    ),
  );
  body.addEventListener("submit", (event) => {
    event.preventDefault();
    const checks = [
      { control: username, label: t("auth.field.usernameOrEmail"), required: true },
      { control: password, label: t("auth.field.password"), required: true },
    ];
    if (!validate(checks, error)) return;
    void whileBusy(submit, async () => {
      try {
        const step = await signIn(context, username.value.trim(), password.value);
        if (step) element.replaceWith(newPasswordView(context, step).element);
      } catch (failure) {
        if (failure instanceof AuthError && failure.code === "UserNotConfirmedException") {
          context.flash({ kind: "info", text: t("auth.error.notConfirmed") });
          context.navigate(`/confirm?user=${encodeURIComponent(username.value.trim())}`);
          return;
        }
        showMessage(error, describeError(failure));
        password.focus();
      }
    });
  });
  return { element };
}

/** An account an administrator created signs in with a temporary password first. */
function newPasswordView(context: Context, complete: NewPasswordStep): View {
  const password = passwordInput("new-password");
  const error = errorBox();
  const submit = h("button", { type: "submit", class: "button primary" }, t("auth.newPassword.submit"));
  const { element, form: body } = form(
    t("auth.newPassword.title"),
    h("p", {}, t("auth.newPassword.intro")),
    error,
    field(t("auth.field.newPassword"), password, t("auth.passwordPolicy")),
    showPasswordToggle(password),
    h("div", { class: "actions" }, submit),
  );
  body.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!validate([{ control: password, label: t("auth.field.newPassword"), required: true, password: true }], error)) return;
    void whileBusy(submit, async () => {
      try {
        await context.signedIn(await complete(password.value));
      } catch (failure) {
        showMessage(error, describeError(failure));
      }
    });
  });
  return { element };
}

export function signUpView(context: Context): View {
  const username = usernameInput();
  username.setAttribute("autocomplete", "username");
  const email = textInput({ type: "email", name: "email", autocomplete: "email", required: true, inputmode: "email" });
  const password = passwordInput("new-password");
  const error = errorBox();
  const submit = h("button", { type: "submit", class: "button primary" }, t("auth.signUp.submit"));
  const { element, form: body } = form(
    t("auth.signUp.title"),
    h("p", {}, t("auth.signUp.intro")),
    error,
    field(t("auth.field.username"), username, t("auth.usernameHint")),
    field(t("auth.field.email"), email),
    field(t("auth.field.password"), password, t("auth.passwordPolicy")),
    showPasswordToggle(password),
    h("div", { class: "actions" }, submit),
    h("p", { class: "links" }, h("a", { href: "#/signin" }, t("auth.signUp.toSignIn"))),
  );
  body.addEventListener("submit", (event) => {
    event.preventDefault();
    const checks = [
      { control: username, label: t("auth.field.username"), required: true, username: true },
      { control: email, label: t("auth.field.email"), required: true, email: true },
      { control: password, label: t("auth.field.password"), required: true, password: true },
    ];
    if (!validate(checks, error)) return;
    const name = username.value.trim();
    void whileBusy(submit, async () => {
      try {
        const created = await context.auth.signUp(name, email.value.trim(), password.value);
        context.pendingSignUp = { username: name, password: password.value, destination: created.destination };
        if (!created.confirmed && context.config.localSignUpConfirmUrl) {
          // The local stack sends no e-mail: it confirms at once, as the code would.
          await confirmLocally(context.config.localSignUpConfirmUrl, name);
          created.confirmed = true;
        }
        if (created.confirmed) {
          context.pendingSignUp = null;
          await signIn(context, name, password.value);
          return;
        }
        context.navigate(`/confirm?user=${encodeURIComponent(name)}`);
      } catch (failure) {
        showMessage(error, describeError(failure));
      }
    });
  });
  return { element };
}

export function confirmView(context: Context, user: string): View {
  const username = usernameInput(user || context.pendingSignUp?.username || "");
  const code = textInput({ name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: "6" });
  const error = errorBox();
  const notice = h("p", { class: "message info", role: "status", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary" }, t("auth.confirm.submit"));
  const resend = h("button", { type: "button", class: "button secondary" }, t("auth.confirm.resend"));
  const destination = context.pendingSignUp?.destination;
  const { element, form: body } = form(
    t("auth.confirm.title"),
    h("p", {}, destination ? t("auth.confirm.introTo", { destination }) : t("auth.confirm.intro")),
    notice,
    error,
    field(t("auth.field.username"), username),
    field(t("auth.field.code"), code, t("auth.codeHint")),
    h("div", { class: "actions" }, submit, resend),
  );
  resend.addEventListener("click", () => {
    if (!validate([{ control: username, label: t("auth.field.username"), required: true }], error)) return;
    void whileBusy(resend, async () => {
      try {
        await context.auth.resendCode(username.value.trim());
        showMessage(notice, t("auth.confirm.resent"));
      } catch (failure) {
        showMessage(error, describeError(failure));
      }
    });
  });
  body.addEventListener("submit", (event) => {
    event.preventDefault();
    const checks = [
      { control: username, label: t("auth.field.username"), required: true },
      { control: code, label: t("auth.field.code"), required: true, code: true },
    ];
    if (!validate(checks, error)) return;
    const name = username.value.trim();
    void whileBusy(submit, async () => {
      try {
        await context.auth.confirmSignUp(name, code.value.trim());
        const pending = context.pendingSignUp;
        context.pendingSignUp = null;
        if (pending && pending.username === name) {
          await signIn(context, name, pending.password);
        } else {
          context.flash({ kind: "success", text: t("auth.confirm.done") });
          context.lastUsername = name;
          context.navigate("/signin");
        }
      } catch (failure) {
        showMessage(error, describeError(failure));
      }
    });
  });
  return { element };
}

export function forgotView(context: Context, user: string): View {
  const username = usernameInput(user);
  const error = errorBox();
  const send = h("button", { type: "submit", class: "button primary" }, t("auth.forgot.send"));
  const { element, form: body } = form(
    t("auth.forgot.title"),
    h("p", {}, t("auth.forgot.intro")),
    error,
    field(t("auth.field.username"), username),
    h("div", { class: "actions" }, send),
    h("p", { class: "links" }, h("a", { href: "#/signin" }, t("auth.signUp.toSignIn"))),
  );
  body.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!validate([{ control: username, label: t("auth.field.username"), required: true }], error)) return;
    const name = username.value.trim();
    void whileBusy(send, async () => {
      try {
        const sent = await context.auth.forgotPassword(name);
        element.replaceWith(resetStep(context, name, sent.destination));
      } catch (failure) {
        showMessage(error, describeError(failure));
      }
    });
  });
  return { element };
}

function resetStep(context: Context, username: string, destination: string | null): HTMLElement {
  const code = textInput({ name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: "6" });
  const password = passwordInput("new-password");
  const error = errorBox();
  const submit = h("button", { type: "submit", class: "button primary" }, t("auth.forgot.submit"));
  const { element, form: body } = form(
    t("auth.forgot.title"),
    h("p", { role: "status" }, destination ? t("auth.forgot.sentTo", { destination }) : t("auth.forgot.sent")),
    context.config.stage === "local" ? h("p", { class: "hint" }, t("auth.forgot.localHint")) : null,
    error,
    field(t("auth.field.code"), code, t("auth.codeHint")),
    field(t("auth.field.newPassword"), password, t("auth.passwordPolicy")),
    showPasswordToggle(password),
    h("div", { class: "actions" }, submit),
  );
  body.addEventListener("submit", (event) => {
    event.preventDefault();
    const checks = [
      { control: code, label: t("auth.field.code"), required: true, code: true },
      { control: password, label: t("auth.field.newPassword"), required: true, password: true },
    ];
    if (!validate(checks, error)) return;
    void whileBusy(submit, async () => {
      try {
        await context.auth.confirmForgotPassword(username, code.value.trim(), password.value);
        context.flash({ kind: "success", text: t("auth.forgot.done") });
        context.lastUsername = username;
        context.navigate("/signin");
      } catch (failure) {
        showMessage(error, describeError(failure));
      }
    });
  });
  queueMicrotask(() => code.focus());
  return element;
}
