// The template editor's pure parts: the checks that mirror the hub's
// (hub/operations/templates.py), the payload, the draft helpers, and how a
// refusal (the client's, a 422's `loc`, a 409) lands next to the right field.

import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import { t } from "../i18n";
import {
  AGENCY_KINDS,
  TEMPLATE_LIMITS,
  buildPayload,
  checkTemplate,
  draftFromTemplate,
  draftInput,
  fieldOf,
  isTemplateAdmin,
  moveItem,
  newTemplateDraft,
  parseMinutes,
  problemsToFields,
  rebaseDraft,
  sanitizeItems,
  templateDraftKey,
  templateRefusal,
} from "./model";
import type { ItemInput, Template, TemplateInput } from "./model";
import { loadTemplateMessages } from "../i18n";

// The template screens load their strings with them.
await loadTemplateMessages();

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function item(overrides: Partial<ItemInput> = {}): ItemInput {
  return {
    key: null,
    position: 1,
    title: "Check the manifest",
    guidance: "",
    agency_kind: "customs",
    due_offset_minutes: 30,
    requires_note: false,
    requires_cosign: false,
    ...overrides,
  };
}

function input(overrides: Partial<TemplateInput> = {}): TemplateInput {
  return { title: "Vessel boarding", description: "", items: [item()], ...overrides };
}

const check = (value: TemplateInput, isNew = false, knownKeys: readonly string[] | null = null) =>
  checkTemplate(value, { isNew, knownKeys }).map((p) => `${p.loc.join(".")}:${p.type}`);

const template: Template = {
  code: "vessel-boarding",
  version: 3,
  title: "Vessel boarding",
  description: "Joint boarding of a vessel of interest.",
  current: true,
  source: "browser",
  published_at: "2026-12-03T10:00:00Z",
  published_by: { id: 9, username: "admin", name: "Admin" },
  publisher_agency: "NA-CUS",
  stream: "template:VESSEL-BOARDING",
  seq: 3,
  items: [
    { key: "b2", position: 2, title: "Search the hold", guidance: "", agency_kind: "customs", due_offset_minutes: 60, requires_note: true, requires_cosign: true },
    { key: "a1", position: 1, title: "Check crew list", guidance: "Against the manifest", agency_kind: "immigration", due_offset_minutes: 15, requires_note: false, requires_cosign: false },
  ],
};

describe("checkTemplate mirrors the hub's limits", () => {
  it("accepts a good template", () => {
    expect(check(input())).toEqual([]);
    expect(check(input({ code: "vessel-boarding" }), true)).toEqual([]);
  });

  it("the limits are the hub's", () => {
    const source = readFileSync(join(ROOT, "hub/operations/templates.py"), "utf8");
    const constant = (name: string) => Number(/^(\w+) = (.+)$/m.exec(source.slice(source.indexOf(`${name} =`)))?.[2]?.replace(/_/g, "").split("*").reduce((a, b) => a * Number(b.trim()), 1));
    expect(constant("MAX_ITEMS")).toBe(TEMPLATE_LIMITS.items);
    expect(constant("MAX_TITLE")).toBe(TEMPLATE_LIMITS.title);
    expect(constant("MAX_TEXT")).toBe(TEMPLATE_LIMITS.text);
    expect(constant("MAX_POSITION")).toBe(TEMPLATE_LIMITS.position);
    expect(constant("MAX_DUE_OFFSET_MINUTES")).toBe(TEMPLATE_LIMITS.dueOffsetMinutes);
    const api = readFileSync(join(ROOT, "hub/operations/api.py"), "utf8");
    const kinds = [...(/AgencyKindIn = Literal\[([^\]]+)\]/.exec(api)?.[1] ?? "").matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
    expect(kinds).toEqual([...AGENCY_KINDS]);
  });

  it("refuses no items and too many items", () => {
    expect(check(input({ items: [] }))).toEqual(["items:too_short"]);
    const many = Array.from({ length: TEMPLATE_LIMITS.items + 1 }, (_, i) => item({ position: i + 1 }));
    expect(check(input({ items: many }))).toEqual(["items:too_long"]);
    expect(check(input({ items: many.slice(0, TEMPLATE_LIMITS.items) }))).toEqual([]);
  });

  it("refuses duplicate positions, naming the item that had it first", () => {
    const problems = checkTemplate(input({ items: [item({ position: 1 }), item({ position: 2 }), item({ position: 1 })] }), { isNew: false });
    expect(problems).toEqual([{ loc: ["items", 2, "position"], type: "duplicate_position", values: { item: 1 } }]);
  });

  it("refuses positions outside 1..10000", () => {
    expect(check(input({ items: [item({ position: 0 })] }))).toEqual(["items.0.position:greater_than_equal"]);
    expect(check(input({ items: [item({ position: 10_001 })] }))).toEqual(["items.0.position:less_than_equal"]);
  });

  it("refuses a negative, an over-limit or a non-numeric due offset", () => {
    expect(check(input({ items: [item({ due_offset_minutes: -5 })] }))).toEqual(["items.0.due_offset_minutes:greater_than_equal"]);
    expect(check(input({ items: [item({ due_offset_minutes: "-1" })] }))).toEqual(["items.0.due_offset_minutes:greater_than_equal"]);
    expect(check(input({ items: [item({ due_offset_minutes: 43_201 })] }))).toEqual(["items.0.due_offset_minutes:less_than_equal"]);
    expect(check(input({ items: [item({ due_offset_minutes: "43200" })] }))).toEqual([]);
    expect(check(input({ items: [item({ due_offset_minutes: "1.5" })] }))).toEqual(["items.0.due_offset_minutes:int_type"]);
    expect(check(input({ items: [item({ due_offset_minutes: "" })] }))).toEqual(["items.0.due_offset_minutes:int_type"]);
    expect(check(input({ items: [item({ due_offset_minutes: 2.5 })] }))).toEqual(["items.0.due_offset_minutes:int_type"]);
  });

  it("refuses an unknown agency kind, and asks for one when none is chosen", () => {
    expect(check(input({ items: [item({ agency_kind: "navy" })] }))).toEqual(["items.0.agency_kind:literal_error"]);
    expect(check(input({ items: [item({ agency_kind: "" })] }))).toEqual(["items.0.agency_kind:missing"]);
    for (const kind of AGENCY_KINDS) expect(check(input({ items: [item({ agency_kind: kind })] }))).toEqual([]);
  });

  it("refuses an empty or over-long title, counted in code points after trimming", () => {
    expect(check(input({ title: "   " }))).toEqual(["title:string_too_short"]);
    expect(check(input({ title: "x".repeat(201) }))).toEqual(["title:string_too_long"]);
    expect(check(input({ title: ` ${"x".repeat(200)} ` }))).toEqual([]);
    expect(check(input({ title: "😀".repeat(200) }))).toEqual([]);
    expect(check(input({ items: [item({ title: "" })] }))).toEqual(["items.0.title:string_too_short"]);
    expect(check(input({ items: [item({ guidance: "g".repeat(5_001) })] }))).toEqual(["items.0.guidance:string_too_long"]);
    expect(check(input({ description: "d".repeat(5_001) }))).toEqual(["description:string_too_long"]);
    expect(check(input({ title: "bad\u0007bell" }))).toEqual(["title:invalid_text"]);
  });

  it("checks a new template's code", () => {
    expect(check(input({ code: "" }), true)).toEqual(["code:string_too_short"]);
    expect(check(input({ code: "Vessel Boarding" }), true)).toEqual(["code:string_pattern_mismatch"]);
    expect(check(input({ code: "-x" }), true)).toEqual(["code:string_pattern_mismatch"]);
    expect(check(input({ code: "x" }), true)).toEqual(["code:string_pattern_mismatch"]);
    expect(check(input({ code: "Anything" }), false)).toEqual([]);
  });

  it("checks keys against the version being edited, once each", () => {
    const items = [item({ key: "a1", position: 1 }), item({ key: "zz", position: 2 }), item({ key: "a1", position: 3 })];
    expect(check(input({ items }), false, ["a1", "b2"])).toEqual(["items.1.key:unknown_key", "items.2.key:duplicate_key"]);
    expect(check(input({ items: [item({ key: "no spaces" })] }))).toEqual(["items.0.key:string_pattern_mismatch"]);
  });

  it("reports every problem at once, with positions from the editor's order", () => {
    const draft = newTemplateDraft("id-1");
    draft.items.push({ ...draft.items[0]!, uid: "second", title: "x", agency_kind: "customs", due: "-3" });
    expect(check(draftInput(draft), true)).toEqual([
      "code:string_too_short",
      "title:string_too_short",
      "items.0.title:string_too_short",
      "items.0.agency_kind:missing",
      "items.1.due_offset_minutes:greater_than_equal",
    ]);
    expect(draftInput(draft).items.map((i) => i.position)).toEqual([1, 2]);
  });
});

describe("the draft and the payload", () => {
  it("prefills from the current version in position order, keeping keys and base_version", () => {
    const draft = draftFromTemplate("id-2", template);
    expect(draft.base_version).toBe(3);
    expect(draft.isNew).toBe(false);
    expect(draft.items.map((i) => [i.key, i.title, i.due])).toEqual([
      ["a1", "Check crew list", "15"],
      ["b2", "Search the hold", "60"],
    ]);
    expect(buildPayload(draft)).toEqual({
      base_version: 3,
      title: "Vessel boarding",
      description: "Joint boarding of a vessel of interest.",
      items: [
        { key: "a1", position: 1, title: "Check crew list", guidance: "Against the manifest", agency_kind: "immigration", due_offset_minutes: 15, requires_note: false, requires_cosign: false },
        { key: "b2", position: 2, title: "Search the hold", guidance: "", agency_kind: "customs", due_offset_minutes: 60, requires_note: true, requires_cosign: true },
      ],
    });
  });

  it("a new template sends its code and no keys; positions follow moves", () => {
    const draft = { ...newTemplateDraft("id-3"), code: "port-health ", title: " Port health\r\ncheck " };
    draft.items = [
      { ...draft.items[0]!, uid: "u1", title: "First", agency_kind: "health", due: " 10 " },
      { ...draft.items[0]!, uid: "u2", title: "Second", agency_kind: "police", due: "0" },
    ];
    draft.items = moveItem(draft.items, 1, -1);
    const payload = buildPayload(draft) as { code: string; title: string; items: { title: string; position: number; key?: string; due_offset_minutes: number }[] };
    expect(payload.code).toBe("port-health");
    expect(payload.title).toBe("Port health\ncheck");
    expect(payload.items.map((i) => [i.position, i.title, i.due_offset_minutes, "key" in i])).toEqual([
      [1, "Second", 0, false],
      [2, "First", 10, false],
    ]);
  });

  it("moves items within bounds only", () => {
    expect(moveItem(["a", "b", "c"], 0, -1)).toEqual(["a", "b", "c"]);
    expect(moveItem(["a", "b", "c"], 2, 1)).toEqual(["a", "b", "c"]);
    expect(moveItem(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    expect(moveItem(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
  });

  it("rebases onto a newer version, keeping the text and dropping keys it no longer has", () => {
    const draft = { ...draftFromTemplate("id-4", template), title: "Mine", touched: true };
    const newer: Template = { ...template, version: 5, items: template.items.filter((i) => i.key === "b2") };
    const rebased = rebaseDraft(draft, newer);
    expect(rebased.base_version).toBe(5);
    expect(rebased.id).toBe("id-4");
    expect(rebased.title).toBe("Mine");
    expect(rebased.items.map((i) => [i.title, i.key])).toEqual([
      ["Check crew list", null],
      ["Search the hold", "b2"],
    ]);
  });

  it("reads stored items defensively", () => {
    const items = sanitizeItems([{ uid: "x", title: "T", due: 5, key: "" }, "junk", { uid: "x", agency_kind: 3 }]);
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({ uid: "x", key: null, title: "T", due: "5" });
    expect(items[1]?.uid).not.toBe("x");
    expect(items[1]?.agency_kind).toBe("");
    expect(sanitizeItems("nope")).toEqual([]);
  });

  it("keys drafts per officer and per template", () => {
    expect(templateDraftKey("ana", "vessel-boarding")).not.toBe(templateDraftKey("ben", "vessel-boarding"));
    expect(templateDraftKey("ana", null)).not.toBe(templateDraftKey("ana", "new"));
  });

  it("parses minutes", () => {
    expect(parseMinutes(" 90 ")).toBe(90);
    expect(parseMinutes("-2")).toBe(-2);
    expect(parseMinutes("1e3")).toBeNull();
    expect(parseMinutes(7)).toBe(7);
  });

  it("administrators are officers with an admin membership", () => {
    const me = (role: string): Me => ({ id: 1, username: "u", name: "U", memberships: [{ agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role, crossing_points: [] }] });
    expect(isTemplateAdmin(me("admin"))).toBe(true);
    expect(isTemplateAdmin(me("coordinator"))).toBe(false);
    expect(isTemplateAdmin(null)).toBe(false);
  });
});

describe("reasons next to the fields", () => {
  it("maps a hub loc to the form's field", () => {
    expect(fieldOf(["body", "payload", "items", "2", "position"], 3, false)).toBe("items.2");
    expect(fieldOf(["body", "payload", "items", 2, "due_offset_minutes"], 3, false)).toBe("items.2.due_offset_minutes");
    expect(fieldOf(["body", "payload", "items", "1", "agency_kind"], 3, false)).toBe("items.1.agency_kind");
    expect(fieldOf(["body", "payload", "items", "0", "key"], 3, false)).toBe("items.0");
    expect(fieldOf(["body", "payload", "items", "0"], 3, false)).toBe("items.0");
    expect(fieldOf(["body", "payload", "items"], 3, false)).toBe("items");
    expect(fieldOf(["body", "payload", "items", "7", "title"], 3, false)).toBe("items");
    expect(fieldOf(["body", "payload", "title"], 3, false)).toBe("title");
    expect(fieldOf(["body", "payload", "code"], 3, true)).toBe("code");
    expect(fieldOf(["body", "payload", "code"], 3, false)).toBeNull();
    expect(fieldOf(["body", "payload", "base_version"], 3, false)).toBeNull();
  });

  it("puts a 422's reasons next to the right item fields, translated", () => {
    const refusal = templateRefusal(
      {
        status: 422,
        code: "invalid_request",
        detail: "items.2.position: Item 1 already has position 1.",
        errors: [
          { loc: ["body", "payload", "items", "2", "position"], msg: "Item 1 already has position 1.", type: "duplicate_position" },
          { loc: ["body", "payload", "items", "1", "due_offset_minutes"], msg: "A due offset cannot be negative.", type: "greater_than_equal" },
          { loc: ["body", "payload", "items", "0", "agency_kind"], msg: "Input should be 'immigration', …", type: "literal_error" },
          { loc: ["body", "payload", "title"], msg: "String should have at most 200 characters", type: "string_too_long" },
          { loc: ["body", "payload", "items", "0", "title"], msg: "Must not be empty.", type: "string_too_short" },
        ],
      },
      3,
      false,
    );
    expect(refusal.conflict).toBeNull();
    expect(refusal.general).toBeNull();
    expect(refusal.fields).toEqual({
      "items.2": t("tpl.check.duplicatePosition", { item: 1 }),
      "items.1.due_offset_minutes": t("tpl.check.negativeOffset"),
      "items.0.agency_kind": t("tpl.check.agencyKind"),
      title: t("tpl.check.tooLongServer", { max: 200 }),
      "items.0.title": t("tpl.check.required"),
    });
  });

  it("says no items and too many next to the list, and unknown places above the button", () => {
    const refusal = templateRefusal(
      {
        status: 422,
        code: "invalid_request",
        detail: "…",
        errors: [
          { loc: ["body", "payload", "items"], msg: "A checklist needs at least one item.", type: "too_short" },
          { loc: ["body", "payload", "base_version"], msg: "Input should be greater than or equal to 1", type: "greater_than_equal" },
        ],
      },
      0,
      false,
    );
    expect(refusal.fields).toEqual({ items: t("tpl.check.noItems") });
    expect(refusal.general).toContain("base_version");
  });

  it("joins several reasons for one field without repeating one", () => {
    const found = problemsToFields(
      [
        { loc: ["items", 0, "key"], type: "unknown_key" },
        { loc: ["items", 0, "position"], type: "duplicate_position", values: { item: 2 } },
        { loc: ["items", 0, "key"], type: "duplicate_key" },
      ],
      1,
      false,
    );
    expect(found.fields["items.0"]).toBe(`${t("tpl.check.key")} ${t("tpl.check.duplicatePosition", { item: 2 })}`);
  });

  it("the client's own problems land in the same places as the hub's", () => {
    const local = problemsToFields(checkTemplate(input({ items: [item({ due_offset_minutes: -1 }), item({ position: 1, agency_kind: "navy" })] }), { isNew: false }), 2, false);
    expect(local.fields).toEqual({
      "items.0.due_offset_minutes": t("tpl.check.negativeOffset"),
      "items.1.agency_kind": t("tpl.check.agencyKind"),
      "items.1": t("tpl.check.duplicatePosition", { item: 1 }),
    });
  });

  it("recognises the 409s the editor answers itself", () => {
    expect(templateRefusal({ status: 409, code: "template_version_conflict", detail: "reload" }, 2, false).conflict).toBe("version");
    expect(templateRefusal({ status: 409, code: "no_change", detail: "Nothing changed since version 3." }, 2, false).conflict).toBe("no_change");
    expect(templateRefusal({ status: 409, code: "template_exists", detail: "taken" }, 2, true).fields).toEqual({ code: t("tpl.check.codeTaken") });
    const forbidden = templateRefusal({ status: 403, code: "forbidden", detail: "only administrators write SOP templates" }, 2, false);
    expect(forbidden.general).toBe(t("error.forbidden", { detail: "only administrators write SOP templates" }));
  });
});
