// SOP checklist templates in the browser: the REST shapes, the editor's draft,
// the checks that mirror the hub's (hub/operations/templates.py), the payload,
// and how a refusal (the client's own or the hub's 422 / 409) lands next to
// the field it is about. Pure apart from `t()` for the reasons' text, so it is
// unit-tested (model.test.ts).
//
// Field keys: "code", "title", "description", "items" (the list as a whole),
// "items.<i>" (one item as a whole: its position or key), and
// "items.<i>.<field>" for an item's own controls, <i> being the item's index
// in the draft (= in the request, which is how the hub's `loc` counts).

import type { components } from "../api/schema";
import type { FieldError } from "../api/client";
import type { Me } from "../api/types";
import { errorText, t } from "../i18n";
import type { OutboxError } from "../realtime/outbox";
import { textLength } from "../incidents/form-kit";

type S = components["schemas"];
export type Template = S["TemplateOut"];
export type TemplateItem = S["TemplateItemOut"];
export type TemplateVersion = S["TemplateVersionOut"];
export type TemplateDiff = S["TemplateDiff"];
export type FieldChange = S["TemplateFieldChange"];
export type ItemSnapshot = S["TemplateItemSnapshot"];
export type ItemChange = S["TemplateItemChange"];
export type TemplateCreateIn = S["TemplateCreateIn"];
export type TemplateVersionIn = S["TemplateVersionIn"];
export type TemplateItemIn = S["TemplateItemIn"];

/** hub.agencies.models.AgencyKind, in the order the hub lists them. */
export const AGENCY_KINDS = [
  "immigration",
  "customs",
  "coastguard",
  "airport_authority",
  "port_authority",
  "police",
  "health",
  "other",
] as const;
export type AgencyKind = (typeof AGENCY_KINDS)[number];

/** hub/operations/templates.py */
export const TEMPLATE_LIMITS = {
  items: 100,
  title: 200,
  text: 5_000,
  position: 10_000,
  dueOffsetMinutes: 60 * 24 * 30,
  code: 60,
} as const;

export const CODE_RE = /^[a-z0-9][a-z0-9-]{1,59}$/;
export const KEY_RE = /^[A-Za-z0-9_-]{1,40}$/;
// hub/text.py _FORBIDDEN
const FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

/** The item fields the editor shows a control for (each can carry its own reason). */
export const ITEM_CONTROL_FIELDS = ["title", "guidance", "agency_kind", "due_offset_minutes", "requires_note", "requires_cosign"] as const;

/** Administrators (an admin membership, any agency) write templates (permissions.can_write_templates). */
export function isTemplateAdmin(user: Me | null | undefined): boolean {
  return (user?.memberships ?? []).some((m) => m.role === "admin");
}

// --- the draft -------------------------------------------------------------------------

export interface DraftItem {
  /** Stable identity on this device (list keys, focus after a move). */
  uid: string;
  /** The item's key in the version being edited; null for a new item. */
  key: string | null;
  title: string;
  guidance: string;
  agency_kind: string;
  /** Minutes as typed. */
  due: string;
  requires_note: boolean;
  requires_cosign: boolean;
}

export interface TemplateDraft {
  /** The client_msg_id of this editing session: one version however often it is sent. */
  id: string;
  /** Empty for a new template until typed. */
  code: string;
  isNew: boolean;
  /** The version this edit started from (0 for a new template). */
  base_version: number;
  title: string;
  description: string;
  items: DraftItem[];
  /** Whether the administrator changed anything (an untouched draft follows the current version). */
  touched: boolean;
}

/** Where a draft is kept: per officer and per template ("+new" cannot be a template code). */
export function templateDraftKey(username: string, code: string | null): string {
  return `hub.template-draft:${username}:${code ?? "+new"}`;
}

let uidCount = 0;
export function newUid(): string {
  uidCount += 1;
  return `i${Date.now().toString(36)}${uidCount.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export function blankItem(uid: string = newUid()): DraftItem {
  return { uid, key: null, title: "", guidance: "", agency_kind: "", due: "0", requires_note: false, requires_cosign: false };
}

export function newTemplateDraft(id: string): TemplateDraft {
  return { id, code: "", isNew: true, base_version: 0, title: "", description: "", items: [blankItem()], touched: false };
}

/** A new version's draft, prefilled from `template` with each item's key kept. */
export function draftFromTemplate(id: string, template: Template): TemplateDraft {
  return {
    id,
    code: template.code,
    isNew: false,
    base_version: template.version,
    title: template.title,
    description: template.description,
    items: [...template.items]
      .sort((a, b) => a.position - b.position)
      .map((item) => ({
        uid: `k-${item.key}`,
        key: item.key,
        title: item.title,
        guidance: item.guidance,
        agency_kind: item.agency_kind,
        due: String(item.due_offset_minutes),
        requires_note: item.requires_note,
        requires_cosign: item.requires_cosign,
      })),
    touched: false,
  };
}

/** A stored draft's items, made safe to render (localStorage may hold anything). */
export function sanitizeItems(value: unknown): DraftItem[] {
  if (!Array.isArray(value)) return [];
  const seen = new Set<string>();
  return value
    .filter((raw): raw is Record<string, unknown> => typeof raw === "object" && raw !== null && !Array.isArray(raw))
    .map((raw) => {
      let uid = typeof raw.uid === "string" && raw.uid ? raw.uid : newUid();
      if (seen.has(uid)) uid = newUid();
      seen.add(uid);
      return {
        uid,
        key: typeof raw.key === "string" && raw.key ? raw.key : null,
        title: typeof raw.title === "string" ? raw.title : "",
        guidance: typeof raw.guidance === "string" ? raw.guidance : "",
        agency_kind: typeof raw.agency_kind === "string" ? raw.agency_kind : "",
        due: typeof raw.due === "string" ? raw.due : typeof raw.due === "number" ? String(raw.due) : "0",
        requires_note: raw.requires_note === true,
        requires_cosign: raw.requires_cosign === true,
      };
    });
}

/** `items` with the one at `index` moved by `delta` places (unchanged when it cannot move). */
export function moveItem<T>(items: readonly T[], index: number, delta: number): T[] {
  const to = index + delta;
  if (index < 0 || index >= items.length || to < 0 || to >= items.length) return [...items];
  const next = [...items];
  const [moved] = next.splice(index, 1);
  next.splice(to, 0, moved as T);
  return next;
}

/**
 * The draft moved onto a newer current version (after a 409
 * template_version_conflict, or a draft older than the current version):
 * everything typed is kept; items whose key the new version no longer has
 * become new items.
 */
export function rebaseDraft(draft: TemplateDraft, current: Template): TemplateDraft {
  const keys = new Set(current.items.map((item) => item.key));
  return {
    ...draft,
    base_version: current.version,
    items: draft.items.map((item) => (item.key !== null && !keys.has(item.key) ? { ...item, key: null } : item)),
  };
}

// --- checks ----------------------------------------------------------------------------

/** One item as checked: the request's shape, the due offset as typed or as a number. */
export interface ItemInput {
  key?: string | null;
  position: number;
  title: string;
  guidance: string;
  agency_kind: string;
  due_offset_minutes: number | string;
  requires_note: boolean;
  requires_cosign: boolean;
}

export interface TemplateInput {
  code?: string;
  title: string;
  description: string;
  items: readonly ItemInput[];
}

/** A reason as the hub gives it: where (`loc`, in the request) and what kind (pydantic's `type`). */
export interface Problem {
  loc: (string | number)[];
  type: string;
  msg?: string;
  values?: Record<string, number | string>;
}

/** The check's input for a draft: positions 1..n in list order. */
export function draftInput(draft: TemplateDraft): TemplateInput {
  return {
    ...(draft.isNew ? { code: draft.code } : {}),
    title: draft.title,
    description: draft.description,
    items: draft.items.map((item, index) => ({
      key: item.key,
      position: index + 1,
      title: item.title,
      guidance: item.guidance,
      agency_kind: item.agency_kind,
      due_offset_minutes: item.due,
      requires_note: item.requires_note,
      requires_cosign: item.requires_cosign,
    })),
  };
}

function normalise(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(/\r/g, "\n").trim();
}

function checkText(value: unknown, loc: (string | number)[], max: number, required: boolean, out: Problem[]): void {
  if (typeof value !== "string") {
    out.push({ loc, type: "string_type" });
    return;
  }
  const trimmed = normalise(value);
  if (required && trimmed === "") {
    out.push({ loc, type: "string_too_short" });
    return;
  }
  const count = textLength(trimmed);
  if (count > max) {
    out.push({ loc, type: "string_too_long", values: { max, count } });
    return;
  }
  if (FORBIDDEN.test(trimmed)) out.push({ loc, type: "invalid_text" });
}

/** Minutes typed or given: the whole number, or null when it is not one. */
export function parseMinutes(value: number | string): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : null;
  const trimmed = value.trim();
  if (!/^[+-]?\d{1,15}$/.test(trimmed)) return null;
  return Number(trimmed);
}

function checkInt(value: unknown, loc: (string | number)[], low: number, high: number, out: Problem[]): void {
  const n = typeof value === "number" || typeof value === "string" ? parseMinutes(value) : null;
  if (n === null) {
    out.push({ loc, type: "int_type" });
  } else if (n < low) {
    out.push({ loc, type: "greater_than_equal", values: { min: low } });
  } else if (n > high) {
    out.push({ loc, type: "less_than_equal", values: { max: high } });
  }
}

/**
 * Every reason the hub would refuse this template for, at once, each where the
 * hub would put it: no items, too many, an empty or over-long title, a
 * negative or over-limit due offset, an unknown agency kind, duplicate
 * positions or keys, a key the edited version does not have. `knownKeys`: the
 * item keys of the version being edited (null: do not check keys against it).
 */
export function checkTemplate(input: TemplateInput, options: { isNew: boolean; knownKeys?: readonly string[] | null }): Problem[] {
  const out: Problem[] = [];
  if (options.isNew) {
    const code = input.code ?? "";
    if (code.trim() === "") out.push({ loc: ["code"], type: "string_too_short" });
    else if (!CODE_RE.test(code)) out.push({ loc: ["code"], type: "string_pattern_mismatch" });
  }
  checkText(input.title, ["title"], TEMPLATE_LIMITS.title, true, out);
  checkText(input.description, ["description"], TEMPLATE_LIMITS.text, false, out);
  if (input.items.length === 0) {
    out.push({ loc: ["items"], type: "too_short" });
  } else if (input.items.length > TEMPLATE_LIMITS.items) {
    out.push({ loc: ["items"], type: "too_long", values: { max: TEMPLATE_LIMITS.items } });
  }
  const known = options.knownKeys ? new Set(options.knownKeys) : null;
  input.items.forEach((item, index) => {
    const at = (field: string) => ["items", index, field];
    checkInt(item.position, at("position"), 1, TEMPLATE_LIMITS.position, out);
    checkText(item.title, at("title"), TEMPLATE_LIMITS.title, true, out);
    checkText(item.guidance, at("guidance"), TEMPLATE_LIMITS.text, false, out);
    if (!(AGENCY_KINDS as readonly string[]).includes(item.agency_kind)) {
      out.push({ loc: at("agency_kind"), type: item.agency_kind === "" ? "missing" : "literal_error" });
    }
    checkInt(item.due_offset_minutes, at("due_offset_minutes"), 0, TEMPLATE_LIMITS.dueOffsetMinutes, out);
    if (item.key !== null && item.key !== undefined) {
      if (!KEY_RE.test(item.key)) out.push({ loc: at("key"), type: "string_pattern_mismatch" });
      else if (known !== null && !known.has(item.key)) out.push({ loc: at("key"), type: "unknown_key" });
    }
  });
  const duplicates = (field: "position" | "key", type: string, value: (item: ItemInput) => unknown) => {
    const first = new Map<unknown, number>();
    input.items.forEach((item, index) => {
      const v = value(item);
      if (v === null || v === undefined) return;
      const seen = first.get(v);
      if (seen === undefined) first.set(v, index);
      else out.push({ loc: ["items", index, field], type, values: { item: seen + 1 } });
    });
  };
  duplicates("position", "duplicate_position", (item) => (typeof item.position === "number" && Number.isInteger(item.position) ? item.position : null));
  duplicates("key", "duplicate_key", (item) => item.key);
  return out;
}

/** The REST body (without client_msg_id) for a draft that passed `checkTemplate`. */
export function buildPayload(draft: TemplateDraft): Omit<TemplateCreateIn, "client_msg_id"> | Omit<TemplateVersionIn, "client_msg_id"> {
  const items: TemplateItemIn[] = draft.items.map((item, index) => ({
    ...(item.key !== null ? { key: item.key } : {}),
    position: index + 1,
    title: normalise(item.title),
    guidance: normalise(item.guidance),
    agency_kind: item.agency_kind as AgencyKind,
    due_offset_minutes: parseMinutes(item.due) ?? 0,
    requires_note: item.requires_note,
    requires_cosign: item.requires_cosign,
  }));
  const common = { title: normalise(draft.title), description: normalise(draft.description), items };
  return draft.isNew ? { code: draft.code.trim(), ...common } : { base_version: draft.base_version, ...common };
}

// --- reasons next to the fields ----------------------------------------------------------

/**
 * The form field a `loc` names (the hub's, with "body"/"payload" in front, or
 * the client's), or null when the form has no such field. An item's position
 * or key is about the item as a whole ("items.<i>").
 */
export function fieldOf(loc: readonly (string | number)[], itemCount: number, isNew: boolean): string | null {
  const parts = loc.map(String);
  while (parts[0] === "body" || parts[0] === "payload") parts.shift();
  const [head, index, field] = parts;
  if (head === "title" || head === "description") return parts.length === 1 ? head : null;
  if (head === "code") return isNew && parts.length === 1 ? "code" : null;
  if (head !== "items") return null;
  if (index === undefined) return "items";
  if (!/^\d+$/.test(index) || Number(index) >= itemCount) return "items";
  if (field === undefined || field === "position" || field === "key") return `items.${index}`;
  return (ITEM_CONTROL_FIELDS as readonly string[]).includes(field) ? `items.${index}.${field}` : `items.${index}`;
}

function lastPart(field: string): string {
  return field.split(".").pop() ?? field;
}

/** A reason in the officer's language (client or hub alike); the hub's own words when its kind is unknown. */
export function problemText(problem: Problem): string {
  const parts = problem.loc.map(String).filter((p) => p !== "body" && p !== "payload");
  const name = lastPart(parts.join("."));
  const v = problem.values ?? {};
  switch (problem.type) {
    case "missing":
      return name === "agency_kind" ? t("tpl.check.agencyKind") : t("tpl.check.required");
    case "string_too_short":
      return t("tpl.check.required");
    case "string_too_long": {
      const max = Number(v.max ?? (name === "title" ? TEMPLATE_LIMITS.title : name === "code" ? TEMPLATE_LIMITS.code : TEMPLATE_LIMITS.text));
      return v.count !== undefined ? t("tpl.check.tooLong", { max, count: Number(v.count) }) : t("tpl.check.tooLongServer", { max });
    }
    case "invalid_text":
      return t("tpl.check.controlChars");
    case "string_pattern_mismatch":
      return name === "code" ? t("tpl.check.code") : t("tpl.check.key");
    case "unknown_key":
    case "duplicate_key":
      return t("tpl.check.key");
    case "too_short":
      return t("tpl.check.noItems");
    case "too_long":
      return t("tpl.check.tooManyItems", { max: TEMPLATE_LIMITS.items });
    case "duplicate_position": {
      const item = v.item ?? /Item (\d+)/.exec(problem.msg ?? "")?.[1];
      return item !== undefined ? t("tpl.check.duplicatePosition", { item: Number(item) }) : t("tpl.check.duplicatePositionAny");
    }
    case "int_type":
    case "int_parsing":
    case "int_from_float":
      return name === "position" ? t("tpl.check.position", { max: TEMPLATE_LIMITS.position }) : t("tpl.check.minutes");
    case "greater_than_equal":
      return name === "position" ? t("tpl.check.position", { max: TEMPLATE_LIMITS.position }) : t("tpl.check.negativeOffset");
    case "less_than_equal":
      return name === "position"
        ? t("tpl.check.position", { max: TEMPLATE_LIMITS.position })
        : t("tpl.check.offsetTooLarge", { max: TEMPLATE_LIMITS.dueOffsetMinutes, days: TEMPLATE_LIMITS.dueOffsetMinutes / 1440 });
    case "literal_error":
    case "enum":
      return t("tpl.check.agencyKind");
    default:
      return problem.msg ? problem.msg : t("tpl.check.invalid");
  }
}

export interface Refusal {
  /** Reasons by field key ("title", "items", "items.2", "items.2.due_offset_minutes"). */
  fields: Record<string, string>;
  /** Reasons that belong to no field of the form (above the button), or null. */
  general: string | null;
  /** A 409 the editor answers on its own: someone published since, or nothing changed. */
  conflict: "version" | "no_change" | null;
}

/** Problems (the client's or a 422's) by the form's fields; the rest as one general reason. */
export function problemsToFields(problems: readonly (Problem | FieldError)[], itemCount: number, isNew: boolean): Refusal {
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const problem of problems) {
    const text = problemText(problem as Problem);
    const field = fieldOf(problem.loc, itemCount, isNew);
    if (field === null) {
      const where = problem.loc.map(String).filter((p) => p !== "body" && p !== "payload").join(".");
      rest.push(where ? `${where}: ${text}` : text);
    } else if (fields[field] === undefined) {
      fields[field] = text;
    } else if (!fields[field].includes(text)) {
      fields[field] = `${fields[field]} ${text}`;
    }
  }
  return { fields, general: rest.length ? t("tpl.refusedFields", { detail: rest.join("; ") }) : null, conflict: null };
}

/** A final refusal of a publish, as the editor shows it. */
export function templateRefusal(error: OutboxError, itemCount: number, isNew: boolean): Refusal {
  if (error.status === 409) {
    if (error.code === "template_version_conflict") return { fields: {}, general: null, conflict: "version" };
    if (error.code === "no_change") return { fields: {}, general: null, conflict: "no_change" };
    if (error.code === "template_exists" && isNew) return { fields: { code: t("tpl.check.codeTaken") }, general: null, conflict: null };
  }
  if (error.status === 422 && error.errors && error.errors.length > 0) {
    return problemsToFields(error.errors, itemCount, isNew);
  }
  return { fields: {}, general: errorText(error.code, error.detail), conflict: null };
}
