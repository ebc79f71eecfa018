// Every key the code uses exists in English; every locale's keys exist in
// English (no orphan translations); Urdu is complete; ICU messages parse; and
// the pieces around t() behave (fallbacks, enum labels, server error codes).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { IntlMessageFormat } from "intl-messageformat";
import { afterEach, describe, expect, it } from "vitest";
import { errorText, label, locale, preferredLocale, registerMessages, setLocale, t, tDynamic } from "./index";
import core from "./locales/en.json";
import forms from "./locales/forms.en.json";
import formsUr from "./locales/forms.ur.json";
import filesEn from "./locales/files.en.json";
import filesUr from "./locales/files.ur.json";
import templatesEn from "./locales/templates.en.json";
import templatesUr from "./locales/templates.ur.json";
import reviewEn from "./locales/review.en.json";
import reviewUr from "./locales/review.ur.json";
import opsEn from "./locales/operations.en.json";
import opsUr from "./locales/operations.ur.json";
import metricsEn from "./locales/metrics.en.json";
import metricsUr from "./locales/metrics.ur.json";
import ur from "./locales/ur.json";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const en: Record<string, string> = { ...core, ...forms, ...filesEn, ...templatesEn, ...reviewEn, ...opsEn, ...metricsEn };
const urdu: Record<string, string> = { ...ur, ...formsUr, ...filesUr, ...templatesUr, ...reviewUr, ...opsUr, ...metricsUr };

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(ts|tsx)$/.test(name) && !/\.test\.tsx?$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

afterEach(async () => {
  await setLocale("en", false);
});

describe("translation keys", () => {
  it("every t('…') key in the code exists in English", () => {
    const used = new Set<string>();
    for (const file of sources(SRC)) {
      for (const match of readFileSync(file, "utf8").matchAll(/\bt\(\s*"([a-zA-Z0-9_.]+)"/g)) used.add(match[1] as string);
    }
    expect(used.size).toBeGreaterThan(100);
    expect([...used].filter((key) => !(key in en))).toEqual([]);
  });

  it("every label(group, value) the screens build from enums exists in English", () => {
    const enums: Record<string, string[]> = {
      status: ["reported", "triaged", "active", "resolved", "closed"],
      severity: ["low", "medium", "high", "critical"],
      category: ["trafficking_in_persons", "migrant_smuggling", "document_fraud", "contraband", "irregular_crossing", "vessel_interdiction", "security_threat", "health", "other"],
      alertCategory: ["wanted_person", "trafficking_risk", "smuggling", "document_fraud", "vessel_of_interest", "security_threat", "health", "weather", "systems", "other"],
      task: ["open", "in_progress", "done", "blocked", "not_applicable"],
    };
    const missing = Object.entries(enums).flatMap(([group, values]) => values.map((v) => `${group}.${v}`)).filter((k) => !(k in en));
    expect(missing).toEqual([]);
  });

  it("the enums above are the hub's (hub/events/types.py)", () => {
    const types = readFileSync(join(SRC, "../../hub/events/types.py"), "utf8");
    const literal = (name: string) =>
      [...(new RegExp(`${name} = Literal\\[([^\\]]+)\\]`).exec(types)?.[1] ?? "").matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
    expect(literal("IncidentCategory").every((c) => `category.${c}` in en)).toBe(true);
    expect(literal("AlertCategory").every((c) => `alertCategory.${c}` in en)).toBe(true);
    expect(literal("IncidentStatus").every((c) => `status.${c}` in en)).toBe(true);
    expect(literal("TaskStatus").every((c) => `task.${c}` in en)).toBe(true);
  });

  it("Urdu has no key that English lacks", () => {
    expect(Object.keys(urdu).filter((key) => !(key in en))).toEqual([]);
  });

  it("Urdu is complete", () => {
    expect(Object.keys(en).filter((key) => !(key in urdu))).toEqual([]);
  });

  it("every message parses as ICU, with the same placeholders in Urdu", () => {
    const names = (text: string, lang: string) => {
      const found = new Set<string>();
      const walk = (nodes: unknown[]) => {
        for (const node of nodes as { type: number; value?: string; options?: Record<string, { value: unknown[] }> }[]) {
          if (node.type !== 0 && node.type !== 7 && typeof node.value === "string") found.add(node.value);
          for (const option of Object.values(node.options ?? {})) walk(option.value);
        }
      };
      walk(new IntlMessageFormat(text, lang).getAst() as unknown[]);
      return [...found].sort();
    };
    for (const [key, text] of Object.entries(en)) {
      const english = names(text, "en");
      if (key in urdu) expect([key, names(urdu[key] as string, "ur")]).toEqual([key, english]);
    }
  });
});

describe("t()", () => {
  it("formats ICU plurals", () => {
    expect(t("connection.unsent", { count: 1 })).toBe("1 item not sent yet");
    expect(t("connection.unsent", { count: 3 })).toBe("3 items not sent yet");
  });

  it("switches language and direction, and falls back to English for a missing key", async () => {
    await setLocale("ur", false);
    expect(locale.value).toBe("ur");
    expect(document.documentElement.dir).toBe("rtl");
    expect(document.documentElement.lang).toBe("ur");
    expect(t("action.send")).toBe("بھیجیں");
    registerMessages("ur", { ...ur, "action.send": undefined } as unknown as Record<string, string>);
    expect(t("action.send")).toBe("Send");
    registerMessages("ur", ur);
  });

  it("labels enum values, and reads unknown ones without underscores", () => {
    expect(label("category", "document_fraud")).toBe("Document fraud");
    expect(label("category", "some_new_kind")).toBe("some new kind");
  });

  it("maps server error codes, falling back to the server's detail", () => {
    expect(errorText("incident_closed", "Incident WDH-1 is closed.")).toBe("The incident is closed.");
    expect(errorText("forbidden", "only coordinators move incidents")).toBe("You may not do this: only coordinators move incidents");
    expect(errorText("brand_new_code", "Something specific.")).toBe("Something specific.");
    expect(tDynamic("no.such.key", undefined, "fallback")).toBe("fallback");
  });

  it("picks the first supported browser language, unless one was chosen", () => {
    expect(preferredLocale(["ur-PK", "en-GB"], null)).toBe("ur");
    expect(preferredLocale(["fr-FR", "en-GB"], null)).toBe("en");
    expect(preferredLocale(["de"], null)).toBe("en");
    expect(preferredLocale(["ur"], "en")).toBe("en");
  });
});
