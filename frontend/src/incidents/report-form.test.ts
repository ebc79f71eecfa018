// The report form's pure parts: who may report where, the draft, the checks
// that mirror the hub's limits, the payload, and how a refusal lands next to
// the fields.

import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import { t } from "../i18n";
import { utcToZonedInput } from "../i18n/time";
import type { OutboxError, OutboxItem } from "../realtime/outbox";
import { checkText, clearDraft, loadDraft, parseWhole, phaseOf, refusalOf, retryReason, saveDraft, textLength } from "./form-kit";
import {
  REPORT_FIELDS,
  REPORT_LIMITS,
  buildReportPayload,
  checkReport,
  newReportDraft,
  reportAgencies,
  reportDraftKey,
  reportPoints,
  withPoint,
} from "./report";
import type { ReportDraft } from "./report";

const NOW = Date.parse("2026-11-22T08:00:00Z");
const TZ = "Africa/Windhoek"; // UTC+2, no DST
const ID = "3f1c2a9e-6b7d-4c1e-9a2b-1234567890ab";

const user: Me = {
  id: 1,
  username: "na-imm.duty",
  name: "Ndapewa Amutenya",
  memberships: [
    { agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["WDH", "ORK"] },
    { agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role: "coordinator", crossing_points: ["WDH"] },
    { agency: "NA-POL", agency_name: "Police", agency_kind: "police", role: "senior_official", crossing_points: ["WDH", "LUD"] },
  ],
};

function draft(overrides: Partial<ReportDraft> = {}): ReportDraft {
  return {
    ...newReportDraft(ID, "WDH", TZ, NOW),
    agency: "NA-IMM",
    title: "Forged passports at lane 3",
    category: "document_fraud",
    severity: "high",
    ...overrides,
  };
}

const ctx = { points: ["ORK", "WDH"], agencies: ["NA-CUS", "NA-IMM"], tz: TZ, now: NOW };

describe("where the officer may report", () => {
  it("lists the points served as duty officer or coordinator, not as senior official", () => {
    expect(reportPoints(user)).toEqual(["ORK", "WDH"]);
    expect(reportPoints(null)).toEqual([]);
  });

  it("lists the agencies the officer reports for at a point", () => {
    expect(reportAgencies(user, "WDH")).toEqual(["NA-CUS", "NA-IMM"]);
    expect(reportAgencies(user, "ORK")).toEqual(["NA-IMM"]);
    expect(reportAgencies(user, "LUD")).toEqual([]);
    expect(reportAgencies(user, "")).toEqual([]);
  });

  it("keeps one draft per officer", () => {
    expect(reportDraftKey("na-imm.duty")).toBe("hub.draft.report.na-imm.duty");
  });
});

describe("the draft", () => {
  it("starts with now in the crossing point's zone, nobody counted, seen by participants", () => {
    const d = newReportDraft(ID, "WDH", TZ, NOW);
    expect(d.id).toBe(ID);
    expect(d.occurred_at).toBe("2026-11-22T10:00");
    expect(d.people_count).toBe("0");
    expect(d.visibility).toBe("participants");
    expect(d.occurred_touched).toBe(false);
  });

  it("on a change of point: preselects the only agency, drops one not held there, re-reads an untouched time", () => {
    const at = withPoint(draft({ agency: "NA-CUS", occurred_at: "2026-11-22T10:00" }), "ORK", ["NA-IMM"], "UTC", NOW);
    expect(at.crossing_point).toBe("ORK");
    expect(at.agency).toBe("NA-IMM");
    expect(at.occurred_at).toBe("2026-11-22T08:00");
    expect(withPoint(draft({ agency: "NA-POL" }), "WDH", ["NA-CUS", "NA-IMM"], TZ, NOW).agency).toBe("");
  });

  it("keeps a time the officer typed, and the time of a draft checked at the same point", () => {
    const typed = withPoint(draft({ occurred_at: "2026-11-21T23:15", occurred_touched: true }), "ORK", ["NA-IMM"], "UTC", NOW);
    expect(typed.occurred_at).toBe("2026-11-21T23:15");
    const same = withPoint(draft({ occurred_at: "2026-11-22T09:30" }), "WDH", ["NA-CUS", "NA-IMM"], TZ, NOW + 3_600_000);
    expect(same.occurred_at).toBe("2026-11-22T09:30");
  });

  it("survives a reload in localStorage, fields added later taking their default", () => {
    const key = reportDraftKey("test.user");
    saveDraft(key, { ...draft(), title: "مشتبہ دستاویزات", unknown: 1 });
    const loaded = loadDraft(key, newReportDraft("other", "", "UTC", NOW));
    expect(loaded.id).toBe(ID);
    expect(loaded.title).toBe("مشتبہ دستاویزات");
    expect("unknown" in loaded).toBe(false);
    clearDraft(key);
    expect(loadDraft(key, newReportDraft("fresh", "", "UTC", NOW)).id).toBe("fresh");
  });

  it("ignores a stored value of the wrong type or garbage", () => {
    const key = reportDraftKey("test.garbage");
    localStorage.setItem(key, JSON.stringify({ id: 5, title: "kept" }));
    const loaded = loadDraft(key, newReportDraft("fresh", "", "UTC", NOW));
    expect(loaded.id).toBe("fresh");
    expect(loaded.title).toBe("kept");
    localStorage.setItem(key, "{not json");
    expect(loadDraft(key, newReportDraft("fresh", "", "UTC", NOW)).title).toBe("");
    clearDraft(key);
  });
});

describe("checks mirror the hub's limits", () => {
  it("accepts a complete report", () => {
    expect(checkReport(draft(), ctx)).toEqual({});
  });

  it("requires a title, a category, a severity, the point and (with several) the agency", () => {
    const found = checkReport(draft({ title: "   ", category: "", severity: "", crossing_point: "LUD", agency: "" }), ctx);
    expect(Object.keys(found).sort()).toEqual(["agency", "category", "crossing_point", "severity", "title"]);
    expect(found.title).toBe(t("report.check.required"));
    expect(checkReport(draft({ agency: "" }), { ...ctx, agencies: ["NA-IMM"] })).toEqual({});
  });

  it("counts characters as the hub does (code points) at 200 / 10,000 / 300", () => {
    expect(textLength("😀😀")).toBe(2);
    expect(checkReport(draft({ title: "😀".repeat(200) }), ctx)).toEqual({});
    expect(checkReport(draft({ title: "x".repeat(201) }), ctx).title).toBe(t("report.check.tooLong", { max: 200, count: 201 }));
    expect(checkReport(draft({ description: "x".repeat(10_000) }), ctx)).toEqual({});
    expect(checkReport(draft({ description: "x".repeat(10_001) }), ctx)).toHaveProperty("description");
    expect(checkReport(draft({ location_detail: "x".repeat(301) }), ctx)).toHaveProperty("location_detail");
    expect(checkText("  ", 5, false)).toBeNull();
  });

  it("takes 0 to 100,000 people as a whole number", () => {
    for (const ok of ["0", "", "100000", " 12 "]) expect(checkReport(draft({ people_count: ok }), ctx)).toEqual({});
    for (const bad of ["-1", "100001", "1.5", "abc", "1e3"]) expect(checkReport(draft({ people_count: bad }), ctx)).toHaveProperty("people_count");
    expect(parseWhole("007", 0, 10)).toBe(7);
  });

  it("wants a complete time, not more than an hour ahead, not before 2000", () => {
    expect(checkReport(draft({ occurred_at: "2026-11-22" }), ctx).occurred_at).toBe(t("report.check.dateTime"));
    expect(checkReport(draft({ occurred_at: "2026-11-22T10:59" }), ctx)).toEqual({});
    expect(checkReport(draft({ occurred_at: "2026-11-22T11:01" }), ctx).occurred_at).toBe(t("report.check.inFuture"));
    expect(checkReport(draft({ occurred_at: "1999-12-31T23:00" }), ctx).occurred_at).toBe(t("report.check.tooOld"));
  });

  it("allows only the two visibilities", () => {
    expect(checkReport(draft({ visibility: "crossing_point" }), ctx)).toEqual({});
    expect(checkReport(draft({ visibility: "public" }), ctx)).toHaveProperty("visibility");
  });
});

describe("the payload", () => {
  it("is IncidentCreate with the time in UTC, trimmed text and a number of people", () => {
    const payload = buildReportPayload(
      draft({ title: "  Forged passports  ", description: " two men \n", people_count: " 2 ", occurred_at: "2026-11-22T09:30", location_detail: " lane 3 " }),
      ctx,
    );
    expect(payload).toEqual({
      crossing_point: "WDH",
      agency: "NA-IMM",
      title: "Forged passports",
      description: "two men",
      category: "document_fraud",
      severity: "high",
      people_count: 2,
      occurred_at: "2026-11-22T07:30:00.000Z",
      location_detail: "lane 3",
      visibility: "participants",
    });
    expect("client_msg_id" in payload).toBe(false);
  });

  it("names the agency only when the officer acts for several there, and counts no one as 0", () => {
    const payload = buildReportPayload(draft({ people_count: "" }), { agencies: ["NA-IMM"], tz: TZ });
    expect("agency" in payload).toBe(false);
    expect(payload.people_count).toBe(0);
  });

  it("reads a time typed across a daylight-saving change in the point's zone", () => {
    const d = draft({ occurred_at: "2026-07-01T12:00" });
    expect(buildReportPayload(d, { agencies: [], tz: "Europe/Berlin" }).occurred_at).toBe("2026-07-01T10:00:00.000Z");
    expect(buildReportPayload(d, { agencies: [], tz: "Asia/Karachi" }).occurred_at).toBe("2026-07-01T07:00:00.000Z");
    expect(utcToZonedInput("2026-07-01T07:00:00Z", "Asia/Karachi")).toBe("2026-07-01T12:00");
  });
});

describe("a refusal next to the fields", () => {
  const refused = (error: Partial<OutboxError>): OutboxError => ({ status: 422, code: "invalid_request", detail: "bad", ...error });

  it("puts a 422's field errors next to their fields, translated", () => {
    const r = refusalOf(
      refused({
        errors: [
          { loc: ["body", "payload", "title"], msg: "String should have at most 200 characters", type: "string_too_long" },
          { loc: ["body", "payload", "people_count"], msg: "Input should be less than or equal to 100000", type: "less_than_equal" },
          { loc: ["body", "payload", "occurred_at"], msg: "Input should be a valid datetime", type: "datetime_parsing" },
        ],
      }),
      REPORT_FIELDS,
      { title: 200, people_count: REPORT_LIMITS.people_count },
    );
    expect(r.general).toBeNull();
    expect(r.fields).toEqual({
      title: t("report.check.tooLongServer", { max: 200 }),
      people_count: t("report.check.number", { min: 0, max: 100_000 }),
      occurred_at: t("report.check.dateTime"),
    });
  });

  it("joins two reasons for one field, and keeps the hub's text for kinds it does not know", () => {
    const r = refusalOf(
      refused({
        errors: [
          { loc: ["body", "payload", "title"], msg: "first", type: "value_error" },
          { loc: ["body", "payload", "title"], msg: "second", type: "value_error" },
        ],
      }),
      REPORT_FIELDS,
    );
    expect(r.fields.title).toBe("first; second");
  });

  it("says above the button what no field of the form holds", () => {
    const r = refusalOf(
      refused({ errors: [{ loc: ["body", "payload", "colour"], msg: "Extra inputs are not permitted", type: "extra_forbidden" }] }),
      REPORT_FIELDS,
    );
    expect(r.fields).toEqual({});
    expect(r.general).toBe(t("report.refusedFields", { detail: "colour: Extra inputs are not permitted" }));
  });

  it("puts a hub check that names a field (no list) next to that field", () => {
    const r = refusalOf(refused({ detail: "occurred_at is in the future." }), REPORT_FIELDS);
    expect(Object.keys(r.fields)).toEqual(["occurred_at"]);
    expect(r.fields.occurred_at).toContain("occurred_at is in the future.");
    expect(r.general).toBeNull();
  });

  it("shows other refusals translated above the button", () => {
    const r = refusalOf({ status: 403, code: "forbidden", detail: "only duty officers and coordinators serving this crossing point may report" }, REPORT_FIELDS);
    expect(r.fields).toEqual({});
    expect(r.general).toBe(t("error.forbidden", { detail: "only duty officers and coordinators serving this crossing point may report" }));
    expect(refusalOf({ status: 404, code: "not_found", detail: "Not found." }, REPORT_FIELDS).general).toBe(t("error.not_found"));
  });
});

describe("the outbox item behind the form", () => {
  const item = (status: OutboxItem["status"], error?: OutboxError): OutboxItem => ({
    id: ID,
    user: "u",
    kind: "report",
    method: "POST",
    path: "/incidents",
    body: {},
    scope: "report",
    label: "",
    createdAt: NOW,
    status,
    attempts: 0,
    nextAttemptAt: NOW,
    ...(error ? { error } : {}),
  });


  it("is idle, sending (pending or sending), sent or failed", () => {
    expect(phaseOf(undefined)).toBe("idle");
    expect(phaseOf(item("pending"))).toBe("sending");
    expect(phaseOf(item("sending"))).toBe("sending");
    expect(phaseOf(item("sent"))).toBe("sent");
    expect(phaseOf(item("failed"))).toBe("failed");
  });

  it("says why a pending item waits", () => {
    expect(retryReason(item("pending"))).toBeNull();
    expect(retryReason(item("pending", { status: 503, code: "unavailable", detail: "x" }))).toBe(t("error.unavailable"));
    expect(retryReason(item("failed", { status: 403, code: "forbidden", detail: "x" }))).toBeNull();
  });
});
