// The alert forms' pure parts: issuing (targets, checks, payload, refusals),
// updating (only the changed fields), cancelling, and who may change an alert.

import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import { t } from "../i18n";
import {
  ALERT_CATEGORIES,
  alertChanges,
  alertDraftKey,
  alertRefusal,
  buildAlertPayload,
  canChangeAlert,
  checkAlert,
  checkCancel,
  checkUpdate,
  issuerOf,
  issuingAgencies,
  newAlertDraft,
  targetChoices,
  targetsOf,
  updateFormOf,
} from "./alert-form";
import type { AlertDraft } from "./alert-form";
import { fromSnapshot } from "./store";
import type { AlertOut } from "../api/types";

const NOW = Date.parse("2026-11-22T08:00:00Z");
const TZ = "Africa/Windhoek"; // UTC+2
const ID = "0b5e4a1c-2d3f-4e5a-8b9c-abcdefabcdef";
const DEPLOYED = ["NA-AIR", "NA-CUS", "NA-IMM", "NA-POL"];

function officer(memberships: Me["memberships"], username = "na-imm.duty"): Me {
  return { id: 3, username, name: "Ndapewa Amutenya", memberships };
}

const imm = officer([{ agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["WDH"] }]);
const both = officer([
  { agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["WDH"] },
  { agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role: "senior_official", crossing_points: ["WDH"] },
]);

function draft(overrides: Partial<AlertDraft> = {}): AlertDraft {
  return { ...newAlertDraft(ID, ["NA-IMM"]), title: "Counterfeit visas", category: "document_fraud", severity: "high", ...overrides };
}

const ctx = { agencies: ["NA-IMM"], deployed: DEPLOYED, tz: TZ, now: NOW };

describe("who issues, and to whom", () => {
  it("issues for any agency the officer serves the point for (every reader role)", () => {
    expect(issuingAgencies(both, "WDH")).toEqual(["NA-CUS", "NA-IMM"]);
    expect(issuingAgencies(both, "ORK")).toEqual([]);
    expect(alertDraftKey("u", "WDH")).toBe("hub.draft.alert.u.WDH");
  });

  it("preselects the only agency; with several, waits for a choice", () => {
    expect(newAlertDraft(ID, ["NA-IMM"]).agency).toBe("NA-IMM");
    expect(newAlertDraft(ID, ["NA-CUS", "NA-IMM"]).agency).toBe("");
    expect(issuerOf(draft({ agency: "" }), ["NA-IMM"])).toBe("NA-IMM");
    expect(issuerOf(draft({ agency: "NA-POL" }), ["NA-CUS", "NA-IMM"])).toBe("");
  });

  it("offers every deployed agency but the issuer, all ticked until unticked", () => {
    expect(targetChoices(DEPLOYED, "NA-IMM")).toEqual(["NA-AIR", "NA-CUS", "NA-POL"]);
    expect(targetsOf(draft(), DEPLOYED, "NA-IMM")).toEqual(["NA-AIR", "NA-CUS", "NA-POL"]);
    expect(targetsOf(draft({ unchecked: ["NA-AIR"] }), DEPLOYED, "NA-IMM")).toEqual(["NA-CUS", "NA-POL"]);
    // Choosing another issuing agency makes the first one a target, ticked.
    expect(targetsOf(draft({ unchecked: ["NA-AIR"] }), DEPLOYED, "NA-CUS")).toEqual(["NA-IMM", "NA-POL"]);
  });
});

describe("issue checks", () => {
  it("accepts a complete alert", () => {
    expect(checkAlert(draft(), ctx)).toEqual({});
  });

  it("requires title, category, severity, the agency when several, and one target", () => {
    const found = checkAlert(draft({ title: " ", category: "", severity: "", agency: "", unchecked: [...DEPLOYED] }), {
      ...ctx,
      agencies: ["NA-CUS", "NA-IMM"],
    });
    expect(Object.keys(found).sort()).toEqual(["agency", "category", "severity", "targets", "title"]);
    expect(found.targets).toBe(t("alertForm.check.noTargets"));
  });

  it("keeps the hub's limits: title 200, body 10,000, incident ref 32", () => {
    expect(checkAlert(draft({ title: "x".repeat(201) }), ctx)).toHaveProperty("title");
    expect(checkAlert(draft({ body: "x".repeat(10_001) }), ctx)).toHaveProperty("body");
    expect(checkAlert(draft({ incident: "X".repeat(33) }), ctx)).toHaveProperty("incident");
    expect(checkAlert(draft({ body: "x".repeat(10_000), incident: "WDH-2026-0001" }), ctx)).toEqual({});
  });

  it("takes only the CAP urgency and certainty values, or none", () => {
    expect(checkAlert(draft({ urgency: "Immediate", certainty: "Observed" }), ctx)).toEqual({});
    expect(checkAlert(draft({ urgency: "immediate" }), ctx)).toHaveProperty("urgency");
    expect(checkAlert(draft({ certainty: "Sure" }), ctx)).toHaveProperty("certainty");
    expect(checkAlert(draft({ category: "contraband" }), ctx)).toHaveProperty("category");
    expect(ALERT_CATEGORIES).toContain("vessel_of_interest");
  });

  it("wants an expiry in the future, or none", () => {
    expect(checkAlert(draft({ expires_at: "" }), ctx)).toEqual({});
    expect(checkAlert(draft({ expires_at: "2026-11-22T10:01" }), ctx)).toEqual({});
    expect(checkAlert(draft({ expires_at: "2026-11-22T10:00" }), ctx).expires_at).toBe(t("alertForm.check.expiryPast"));
    expect(checkAlert(draft({ expires_at: "2026-11-22T" }), ctx).expires_at).toBe(t("report.check.dateTime"));
  });
});

describe("the issue payload", () => {
  it("is AlertIn: trimmed text, named targets, expiry in UTC, the flags", () => {
    const payload = buildAlertPayload(
      draft({
        title: " Counterfeit visas ",
        body: " Check every visa. ",
        urgency: "Expected",
        certainty: "Likely",
        expires_at: "2026-11-22T18:00",
        unchecked: ["NA-AIR"],
        ack_required: false,
        exercise: true,
        incident: " WDH-2026-0001 ",
      }),
      ctx,
    );
    expect(payload).toEqual({
      title: "Counterfeit visas",
      body: "Check every visa.",
      category: "document_fraud",
      severity: "high",
      urgency: "Expected",
      certainty: "Likely",
      expires_at: "2026-11-22T16:00:00.000Z",
      targets: ["NA-CUS", "NA-POL"],
      ack_required: false,
      exercise: true,
      incident: "WDH-2026-0001",
    });
  });

  it("leaves urgency, certainty, expiry and incident to the hub when open; names the agency only among several", () => {
    const payload = buildAlertPayload(draft(), ctx);
    for (const field of ["urgency", "certainty", "expires_at", "incident", "agency"]) expect(field in payload).toBe(false);
    expect(payload.exercise).toBe(false);
    expect(payload.ack_required).toBe(true);
    const several = buildAlertPayload(draft({ agency: "NA-CUS" }), { ...ctx, agencies: ["NA-CUS", "NA-IMM"] });
    expect(several.agency).toBe("NA-CUS");
    expect(several.targets).toEqual(["NA-AIR", "NA-IMM", "NA-POL"]);
  });
});

describe("issue refusals", () => {
  it("puts the hub's reasons about targets and the linked incident next to them", () => {
    expect(alertRefusal({ status: 422, code: "agency_not_deployed", detail: "Not deployed at WDH: NA-XXX." }, draft()).fields).toHaveProperty("targets");
    expect(alertRefusal({ status: 422, code: "invalid_request", detail: "An alert needs at least one targeted agency." }, draft()).fields).toHaveProperty(
      "targets",
    );
    const inc = draft({ incident: "WDH-2026-0009" });
    expect(alertRefusal({ status: 404, code: "not_found", detail: "No such incident." }, inc).fields).toHaveProperty("incident");
    expect(alertRefusal({ status: 422, code: "invalid_request", detail: "The incident is at another crossing point." }, inc).fields).toHaveProperty(
      "incident",
    );
    expect(alertRefusal({ status: 422, code: "invalid_request", detail: "expires_at must be in the future." }, draft()).fields).toHaveProperty(
      "expires_at",
    );
  });

  it("says a 404 without a linked incident, or a 403, above the button", () => {
    const r = alertRefusal({ status: 404, code: "not_found", detail: "Not found." }, draft());
    expect(r.fields).toEqual({});
    expect(r.general).toBe(t("error.not_found"));
    expect(alertRefusal({ status: 403, code: "forbidden", detail: "no" }, draft()).general).toBe(t("error.forbidden", { detail: "no" }));
  });
});

function snapshot(overrides: Partial<AlertOut> = {}): AlertOut {
  return {
    id: 12,
    crossing_point: "WDH",
    category: "document_fraud",
    severity: "high",
    urgency: "Immediate",
    certainty: "Likely",
    title: "Counterfeit visas",
    body: "Check every visa.",
    exercise: false,
    ack_required: true,
    status: "active",
    version: 1,
    incident: null,
    issuing_agency: "NA-IMM",
    issued_by: { id: 3, username: "na-imm.duty", name: "Ndapewa Amutenya" },
    created_at: "2026-11-22T07:00:00Z",
    updated_at: "2026-11-22T07:00:00Z",
    expires_at: "2026-11-22T16:00:00Z",
    cancel_reason: "",
    targets: [],
    pending: [],
    stream: "crossing:WDH",
    ...overrides,
  };
}

describe("updating", () => {
  const alert = fromSnapshot(snapshot());
  const base = updateFormOf(alert, TZ);

  it("prefills the form, the expiry in the point's zone", () => {
    expect(base).toEqual({
      title: "Counterfeit visas",
      body: "Check every visa.",
      category: "document_fraud",
      severity: "high",
      urgency: "Immediate",
      certainty: "Likely",
      expires_at: "2026-11-22T18:00",
    });
    expect(updateFormOf(fromSnapshot(snapshot({ expires_at: null })), TZ).expires_at).toBe("");
  });

  it("sends only what changed", () => {
    expect(alertChanges(base, { ...base }, TZ)).toEqual({});
    expect(alertChanges(base, { ...base, title: " Counterfeit visas  " }, TZ)).toEqual({});
    expect(alertChanges(base, { ...base, severity: "critical", body: "Stop every NA visa." }, TZ)).toEqual({
      severity: "critical",
      body: "Stop every NA visa.",
    });
    expect(alertChanges(base, { ...base, expires_at: "2026-11-23T06:00" }, TZ)).toEqual({ expires_at: "2026-11-23T04:00:00.000Z" });
  });

  it("clears the expiry with null", () => {
    expect(alertChanges(base, { ...base, expires_at: "" }, TZ)).toEqual({ expires_at: null });
  });

  it("checks the changed form like the hub", () => {
    expect(checkUpdate(base, base, TZ, NOW)).toEqual({});
    expect(checkUpdate({ ...base, title: "" }, base, TZ, NOW)).toHaveProperty("title");
    expect(checkUpdate({ ...base, urgency: "" }, base, TZ, NOW)).toHaveProperty("urgency");
    expect(checkUpdate({ ...base, expires_at: "2026-11-22T09:00" }, base, TZ, NOW).expires_at).toBe(t("alertForm.check.expiryPast"));
    // An unchanged expiry that has meanwhile passed is not the officer's doing.
    expect(checkUpdate(base, base, TZ, Date.parse("2026-11-22T17:00:00Z"))).toEqual({});
  });

  it("requires a cancel reason of at most 500 characters", () => {
    expect(checkCancel("  ")).toBe(t("report.check.required"));
    expect(checkCancel("x".repeat(501))).toBe(t("report.check.tooLong", { max: 500, count: 501 }));
    expect(checkCancel("Issued in error")).toBeNull();
  });
});

describe("who may change an alert (hub/alerts/permissions.py)", () => {
  const alert = fromSnapshot(snapshot());

  it("the issuing officer, while serving the point for the issuing agency", () => {
    expect(canChangeAlert(imm, alert)).toBe(true);
    const moved = officer([{ agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["ORK"] }]);
    expect(canChangeAlert(moved, alert)).toBe(false);
  });

  it("a coordinator or senior official of the issuing agency at the point", () => {
    const coord = officer(
      [{ agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "coordinator", crossing_points: ["WDH"] }],
      "na-imm.coord",
    );
    const senior = officer(
      [{ agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "senior_official", crossing_points: ["WDH"] }],
      "na-imm.senior",
    );
    expect(canChangeAlert(coord, alert)).toBe(true);
    expect(canChangeAlert(senior, alert)).toBe(true);
  });

  it("not another duty officer of the same agency, nor a coordinator of another agency", () => {
    const colleague = officer(
      [{ agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["WDH"] }],
      "na-imm.other",
    );
    const customs = officer([{ agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role: "coordinator", crossing_points: ["WDH"] }], "na-cus.coord");
    expect(canChangeAlert(colleague, alert)).toBe(false);
    expect(canChangeAlert(customs, alert)).toBe(false);
    expect(canChangeAlert(null, alert)).toBe(false);
  });
});
