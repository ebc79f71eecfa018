// The translation layer: every user-facing string goes through `t()`.
//
// Messages are ICU MessageFormat (intl-messageformat): plurals, selects and
// numbers follow the locale. English is bundled (the fallback for every key);
// other locales are loaded on demand, so officers who read English download
// nothing more. A key missing from a locale falls back to English, and the
// `MessageKey` type makes a key missing from English a type error.
//
// Direction comes from the locale: `applyDocumentLocale` sets `<html lang dir>`,
// and the CSS uses logical properties only.

import { computed, signal } from "@preact/signals";
import { IntlMessageFormat } from "intl-messageformat";
import core from "./locales/en.json";
import forms from "./locales/forms.en.json";
import files from "./locales/files.en.json";
// The strings of the operations, SOP template and review screens load with those
// screens (loadOperationMessages, loadTemplateMessages, loadReviewMessages), not at start.
type TemplateMessages = typeof import("./locales/templates.en.json");
type ReviewMessages = typeof import("./locales/review.en.json");
type OperationMessages = typeof import("./locales/operations.en.json");
type MetricsMessages = typeof import("./locales/metrics.en.json");

const en: Record<string, string> = { ...core, ...forms, ...files };

export type MessageKey = keyof typeof core | keyof typeof forms | keyof typeof files | keyof TemplateMessages | keyof ReviewMessages | keyof OperationMessages | keyof MetricsMessages;
export type Messages = Partial<Record<MessageKey, string>>;
export type Values = Record<string, string | number | boolean | Date | null | undefined>;

export interface LocaleInfo {
  code: string;
  /** The language's own name, shown in the selector. */
  name: string;
  dir: "ltr" | "rtl";
  load: () => Promise<Messages>;
}

export const LOCALES: readonly LocaleInfo[] = [
  { code: "en", name: "English", dir: "ltr", load: async () => en },
  {
    code: "ur",
    name: "اردو",
    dir: "rtl",
    load: async () => {
      const parts = await Promise.all([
        import("./locales/ur.json"),
        import("./locales/forms.ur.json"),
        import("./locales/files.ur.json"),
        import("./locales/operations.ur.json"),
        import("./locales/templates.ur.json"),
        import("./locales/review.ur.json"),
        import("./locales/metrics.ur.json"),
      ]);
      return Object.assign({}, ...parts.map((part) => part.default)) as Messages;
    },
  },
];

const STORAGE_KEY = "hub.language";
const loaded = new Map<string, Messages>([["en", en]]);
const formats = new Map<string, IntlMessageFormat>();

/** The locale in use. Change it with `setLocale` (which loads its messages first). */
export const locale = signal<string>("en");
export const direction = computed<"ltr" | "rtl">(() => localeInfo(locale.value).dir);

export function localeInfo(code: string): LocaleInfo {
  return LOCALES.find((l) => l.code === code) ?? (LOCALES[0] as LocaleInfo);
}

/** The first supported language among the browser's, else English. */
export function preferredLocale(languages: readonly string[], stored: string | null): string {
  if (stored && LOCALES.some((l) => l.code === stored)) {
    return stored;
  }
  for (const tag of languages) {
    const base = tag.toLowerCase().split("-")[0] ?? "";
    if (LOCALES.some((l) => l.code === base)) {
      return base;
    }
  }
  return "en";
}

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** Load and switch to `code`; `remember` keeps the choice for this browser. */
export async function setLocale(code: string, remember = true): Promise<void> {
  const info = localeInfo(code);
  if (!loaded.has(info.code)) {
    loaded.set(info.code, await info.load());
  }
  if (remember) {
    storage()?.setItem(STORAGE_KEY, info.code);
  }
  locale.value = info.code;
  applyDocumentLocale();
}

/** The locale this browser chose before, or the best match of its languages. */
export async function initLocale(): Promise<void> {
  const nav = typeof navigator === "undefined" ? [] : navigator.languages ?? [navigator.language];
  await setLocale(preferredLocale(nav, storage()?.getItem(STORAGE_KEY) ?? null), false);
}

export function applyDocumentLocale(doc: Document | undefined = globalThis.document): void {
  if (doc) {
    doc.documentElement.lang = locale.value;
    doc.documentElement.dir = direction.value;
  }
}

/** Install messages directly (tests). */
export function registerMessages(code: string, messages: Messages): void {
  loaded.set(code, messages);
  for (const key of [...formats.keys()]) {
    if (key.startsWith(`${code}\u0000`)) {
      formats.delete(key);
    }
  }
}

function source(code: string, key: string): { text: string; code: string } | null {
  const own = (loaded.get(code) as Record<string, string> | undefined)?.[key];
  if (own !== undefined) {
    return { text: own, code };
  }
  const fallback = (en as Record<string, string>)[key];
  return fallback === undefined ? null : { text: fallback, code: "en" };
}

/** Translate `key` with ICU `values`. Reading it inside a component re-renders on a locale change. */
export function t(key: MessageKey, values?: Values): string {
  return translate(key, values);
}

/** `t` for keys computed at run time (enum labels, server error codes); `fallback` when unknown. */
export function tDynamic(key: string, values?: Values, fallback?: string): string {
  const found = source(locale.value, key);
  if (found === null) {
    return fallback ?? key;
  }
  return translate(key, values);
}

export function hasKey(key: string): boolean {
  return key in en;
}

function translate(key: string, values?: Values): string {
  const code = locale.value;
  const found = source(code, key);
  if (found === null) {
    return key;
  }
  const cacheKey = `${found.code}\u0000${key}`;
  let format = formats.get(cacheKey);
  if (format === undefined) {
    try {
      format = new IntlMessageFormat(found.text, found.code);
    } catch {
      return found.text;
    }
    formats.set(cacheKey, format);
  }
  try {
    return String(format.format(values as Record<string, string | number | boolean | Date>));
  } catch {
    return found.text;
  }
}

/** A label for an enum value (`category.document_fraud`), falling back to a readable form. */
export function label(group: string, value: string | null | undefined): string {
  if (!value) {
    return "";
  }
  return tDynamic(`${group}.${value}`, undefined, value.replace(/_/g, " "));
}

/** A server error code as the officer reads it, else the server's own detail. */
export function errorText(code: string, detail: string): string {
  return tDynamic(`error.${code}`, { detail }, detail || code);
}

function addEnglish(extra: Record<string, string>): void {
  Object.assign(en, extra);
  Object.assign(loaded.get("en") as Record<string, string>, extra);
}

/** The English strings of the SOP template screens (loaded with them, not at start). */
export async function loadTemplateMessages(): Promise<void> {
  addEnglish((await import("./locales/templates.en.json")).default as Record<string, string>);
}

/** The English strings of the joint-operation screens and the coordinator's board (loaded with them). */
export async function loadOperationMessages(): Promise<void> {
  addEnglish((await import("./locales/operations.en.json")).default as Record<string, string>);
}

/** The English strings of the review, search and metrics screens (loaded with them). */
export async function loadReviewMessages(): Promise<void> {
  addEnglish((await import("./locales/review.en.json")).default as Record<string, string>);
}

/** The English strings of the response-metrics page (loaded with it). */
export async function loadMetricsMessages(): Promise<void> {
  addEnglish((await import("./locales/metrics.en.json")).default as Record<string, string>);
}
