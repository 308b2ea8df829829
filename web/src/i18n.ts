/** Every word a learner reads comes from locales/ja.json or locales/en.json, through t().
 * Japanese is the default; English is a switch remembered on this device. */

import en from "./locales/en.json";
import ja from "./locales/ja.json";

export type Locale = "ja" | "en";
export type MessageKey = keyof typeof ja;
export type Params = Record<string, string | number>;

export const LOCALES: readonly Locale[] = ["ja", "en"];
// Typed against ja.json's keys: a key missing from en.json fails the build.
const catalogs: Record<Locale, Record<MessageKey, string>> = { ja, en };
const STORAGE_KEY = "manabi.locale";

let current: Locale = "ja";
let timeZone: string | undefined;
const listeners = new Set<(locale: Locale) => void>();

export function isLocale(value: unknown): value is Locale {
  return value === "ja" || value === "en";
}

/** The stored choice, else Japanese. */
export function initialLocale(storage: Pick<Storage, "getItem"> | null): Locale {
  const stored = storage?.getItem(STORAGE_KEY);
  return isLocale(stored) ? stored : "ja";
}

export function getLocale(): Locale {
  return current;
}

export function setLocale(locale: Locale, storage: Pick<Storage, "setItem"> | null = null): void {
  current = locale;
  storage?.setItem(STORAGE_KEY, locale);
  if (typeof document !== "undefined") {
    document.documentElement.lang = locale;
    document.title = t("app.title");
  }
  for (const listener of listeners) listener(locale);
}

export function onLocaleChange(listener: (locale: Locale) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Dates are shown in the learner's profile time zone once it is known, else the device's. */
export function setTimeZone(zone: string | undefined): void {
  timeZone = zone;
}

export function t(key: MessageKey, params: Params = {}): string {
  const template = catalogs[current][key] ?? catalogs.ja[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

export function formatNumber(value: number): string {
  return new Intl.NumberFormat(current).format(value);
}

const UNITS = ["B", "KB", "MB", "GB", "TB"] as const;

/** 1536 → "1.5 KB" (binary multiples, as file managers show them). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(value)} ${UNITS[unit]}`;
}

export function formatDateTime(iso: string | undefined | null): string {
  if (!iso) return t("common.none");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short", timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(date);
  }
}

/** "3 時間前" / "3 hours ago". */
export function formatAge(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const format = new Intl.RelativeTimeFormat(current, { numeric: "auto" });
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, size] of steps) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}
