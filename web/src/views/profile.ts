/** Profile (GET/PUT /me): display name, grade level, language, time zone. */

import { GRADE_LEVELS, type GradeLevel, type Profile, type ProfileChanges, type ProfileLocale } from "../api";
import type { Context, View } from "./context";
import { errorBox, field, h, replaceChildren, showMessage, uniqueId } from "../dom";
import { formatDateTime, t, type MessageKey } from "../i18n";
import { describeError } from "../messages";
import { whileBusy } from "./common";
import { validate } from "./forms";

const GRADE_LABEL: Record<GradeLevel, MessageKey> = {
  elementary: "grade.elementary",
  "junior-high": "grade.junior-high",
  "high-school": "grade.high-school",
  university: "grade.university",
  graduate: "grade.graduate",
  "working-adult": "grade.working-adult",
  other: "grade.other",
};

function timeZones(current: string): string[] {
  const supported = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zones = new Set(["Asia/Tokyo", ...supported, current]);
  return [...zones].sort((a, b) => (a === "Asia/Tokyo" ? -1 : b === "Asia/Tokyo" ? 1 : a.localeCompare(b)));
}

function option(value: string, label: string, selected: boolean): HTMLOptionElement {
  const element = h("option", { value }, label);
  element.selected = selected;
  return element;
}

export function profileView(context: Context): View {
  const body = h("div", { class: "card" }, h("p", { role: "status" }, t("common.loading")));
  const element = h("section", { class: "narrow" }, h("h1", {}, t("profile.title")), body);

  const render = (profile: Profile): void => {
    const displayName = h("input", { type: "text", id: uniqueId("display-name"), maxlength: "50", required: true, autocomplete: "nickname" });
    displayName.value = profile.displayName;
    const grade = h(
      "select",
      { id: uniqueId("grade") },
      option("", t("grade.unset"), profile.gradeLevel === null),
      GRADE_LEVELS.map((level) => option(level, t(GRADE_LABEL[level]), profile.gradeLevel === level)),
    );
    const language = h(
      "select",
      { id: uniqueId("language") },
      // Each language by its own name, whatever the page's language.
      option("ja", t("lang.name.ja"), profile.locale === "ja"),
      option("en", t("lang.name.en"), profile.locale === "en"),
    );
    language.querySelector('option[value="ja"]')?.setAttribute("lang", "ja");
    language.querySelector('option[value="en"]')?.setAttribute("lang", "en");
    const zone = h(
      "select",
      { id: uniqueId("zone") },
      timeZones(profile.timeZone).map((name) => option(name, name, name === profile.timeZone)),
    );
    const error = errorBox();
    const saved = h("p", { class: "message success", role: "status", hidden: true });
    const submit = h("button", { type: "submit", class: "button primary" }, t("profile.save"));
    const form = h(
      "form",
      { class: "form", novalidate: true },
      error,
      saved,
      h("p", { class: "muted field" }, t("profile.email", { email: profile.email ?? t("common.none") })),
      field(t("profile.displayName"), displayName, t("profile.displayNameHint")),
      field(t("profile.grade"), grade),
      field(t("profile.language"), language),
      field(t("profile.timeZone"), zone),
      h("p", { class: "muted" }, t("profile.updatedAt", { date: formatDateTime(profile.updatedAt) })),
      h("div", { class: "actions" }, submit),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      showMessage(saved, null);
      if (!validate([{ control: displayName, label: t("profile.displayName"), required: true }], error)) return;
      const changes: ProfileChanges = {};
      if (displayName.value.trim() !== profile.displayName) changes.displayName = displayName.value.trim();
      const gradeLevel = (grade.value || null) as GradeLevel | null;
      if (gradeLevel !== profile.gradeLevel) changes.gradeLevel = gradeLevel;
      if (language.value !== profile.locale) changes.locale = language.value as ProfileLocale;
      if (zone.value !== profile.timeZone) changes.timeZone = zone.value;
      if (Object.keys(changes).length === 0) {
        showMessage(saved, t("profile.unchanged"));
        return;
      }
      void whileBusy(submit, async () => {
        try {
          const updated = await context.api.updateProfile(changes);
          if (updated.locale !== profile.locale) {
            // A new language re-renders the whole page: the confirmation goes with it.
            context.flash({ kind: "success", text: () => t("profile.saved") });
            context.applyProfile(updated);
            return;
          }
          context.applyProfile(updated);
          render(updated);
          const done = body.querySelector<HTMLElement>(".message.success");
          if (done) showMessage(done, t("profile.saved"));
        } catch (failure) {
          showMessage(error, describeError(failure));
        }
      });
    });
    replaceChildren(body, form);
  };

  const start = async (): Promise<void> => {
    try {
      const profile = await context.api.getProfile();
      context.applyProfile(profile);
      render(profile);
    } catch (error) {
      replaceChildren(body, h("div", { class: "message error", role: "alert" }, describeError(error)));
    }
  };
  if (context.profile) render(context.profile);
  else void start();
  return { element };
}
