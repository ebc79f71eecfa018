// The alert page in a DOM with a fake hub (REST) and a real outbox: the card
// in full, the CAP link, the EXERCISE marking, "not found" for what is not
// there, and the issuer's update (only the changed fields) and cancel (a
// reason required), with refusals inline.

import "fake-indexeddb/auto";
import { render } from "preact";
import { LocationProvider } from "preact-iso";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AlertOut, CrossingPoint, Me } from "../api/types";
import { crossingPoints, session } from "../app/session";
import { t } from "../i18n";
import { byTestId, openTestOutbox, tick, typeInto, until } from "../incidents/dom-harness";
import type { FakeHub } from "../incidents/dom-harness";
import { outboxSignal } from "../realtime/live";
import { AlertPage } from "./AlertPage";

const issuer: Me = {
  id: 3,
  username: "na-imm.duty",
  name: "Ndapewa Amutenya",
  memberships: [{ agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["WDH"] }],
};
const colleague: Me = { ...issuer, id: 4, username: "na-imm.other", name: "Other Officer" };

const WDH: CrossingPoint = {
  code: "WDH",
  name: "Hosea Kutako Airport",
  kind: "airport",
  countries: ["NA"],
  timezone: "Africa/Windhoek",
  latitude: "0",
  longitude: "0",
  one_stop_border_post: false,
  agencies: ["NA-CUS", "NA-IMM"].map((agency) => ({ agency, kind: "x" })),
};

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
    expires_at: "2099-01-01T00:00:00Z",
    cancel_reason: "",
    targets: [
      { agency: "NA-CUS", due_at: "2099-01-01T00:00:00Z", acknowledged: false, acknowledged_at: null, acknowledged_by: null, overdue: false, escalated_at: null },
    ],
    pending: ["NA-CUS"],
    stream: "crossing:WDH",
    ...overrides,
  };
}

let container: HTMLElement;
let hub: FakeHub;
let current: AlertOut | null;
const $ = (testId: string) => byTestId(container, testId);

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function mount(id = "12"): void {
  render(
    <LocationProvider>
      <AlertPage id={id} />
    </LocationProvider>,
    container,
  );
}

async function signIn(user: Me): Promise<void> {
  session.value = { kind: "signed-in", me: user, offline: false };
  hub = await openTestOutbox(user.username);
  outboxSignal.value = hub.outbox;
}

beforeEach(async () => {
  localStorage.clear();
  current = snapshot();
  vi.stubGlobal("fetch", async (input: string) => {
    const url = String(input);
    if (url.startsWith("/api/v1/streams/")) return json(200, { head: 40, items: [] });
    if (url === "/api/v1/alerts/12" && current) return json(200, current);
    return json(404, { code: "not_found", detail: "Not found." });
  });
  crossingPoints.value = [WDH];
  await signIn(issuer);
  container = document.createElement("div");
  document.body.append(container);
});

afterEach(() => {
  render(null, container);
  container.remove();
  outboxSignal.value?.close();
  outboxSignal.value = null;
  vi.unstubAllGlobals();
});

describe("the alert page", () => {
  it("shows the alert in full with its acknowledgements, details and CAP link; focus on its heading", async () => {
    mount();
    await until(() => container.querySelector('[data-testid="alert-page"]') !== null, "the page");
    await tick();
    await until(() => document.activeElement === $("alert-heading"), "focus");
    expect($("alert").textContent).toContain("Counterfeit visas");
    expect($("ack-grid").textContent).toContain("NA-CUS");
    expect($("cap-link").getAttribute("href")).toBe("/api/v1/alerts/12/cap");
    expect(container.textContent).toContain(t("urgency.Immediate"));
    expect(container.querySelector('[data-testid="exercise-banner"]')).toBeNull();
  });

  it("marks an EXERCISE alert", async () => {
    current = snapshot({ exercise: true });
    mount();
    await until(() => container.querySelector('[data-testid="alert-page"]') !== null, "the page");
    expect($("exercise-banner").textContent).toContain(t("alertPage.exerciseNote"));
    expect($("alert-heading").textContent).toContain(t("alert.exercise"));
  });

  it("answers not found for a missing alert and for an id that is not one", async () => {
    mount("99");
    await until(() => container.querySelector('[data-testid="not-found"]') !== null, "not found");
    expect($("not-found").textContent).toContain(t("notFound.alert", { ident: "99" }));
    render(null, container);
    mount("abc");
    await tick();
    expect($("not-found").textContent).toContain(t("notFound.alert", { ident: "abc" }));
  });

  it("offers update and cancel to the issuer only", async () => {
    mount();
    await until(() => container.querySelector('[data-testid="alert-update-open"]') !== null, "the issuer tools");
    render(null, container);
    outboxSignal.value?.close();
    await signIn(colleague);
    mount();
    await until(() => container.querySelector('[data-testid="alert-page"]') !== null, "the page");
    expect(container.querySelector('[data-testid="alert-update-open"]')).toBeNull();
  });

  it("updates only the changed fields, as one new version", async () => {
    hub.answer = () => ({ kind: "ok", status: 200, data: snapshot({ version: 2, severity: "critical", updated_at: "2026-11-22T07:30:00Z" }) });
    mount();
    await until(() => container.querySelector('[data-testid="alert-update-open"]') !== null, "the issuer tools");
    await tick();
    $("alert-update-open").click();
    await tick();
    await until(() => document.activeElement === $("update-title"), "focus on the title");
    expect(($("update-title") as HTMLInputElement).value).toBe("Counterfeit visas");
    ($("update-submit") as HTMLButtonElement).click();
    await tick();
    expect($("update-problem").textContent).toBe(t("alertPage.noChange"));
    typeInto($("update-severity"), "critical");
    ($("update-submit") as HTMLButtonElement).click();
    ($("update-submit") as HTMLButtonElement).click();
    await until(() => container.querySelector('[data-testid="alert-update"]') === null, "the form to close");
    expect(hub.sent).toHaveLength(1);
    expect(hub.sent[0]?.method).toBe("PATCH");
    expect(hub.sent[0]?.path).toBe("/alerts/12");
    expect(Object.keys(hub.sent[0]?.body ?? {}).sort()).toEqual(["client_msg_id", "severity"]);
    expect(hub.sent[0]?.body.severity).toBe("critical");
    expect($("alert-version").textContent).toContain("2");
  });

  it("shows an update refusal next to the field, keeping the text", async () => {
    hub.answer = () => ({
      kind: "refused",
      status: 422,
      error: { status: 422, code: "invalid_request", detail: "expires_at must be in the future." },
    });
    mount();
    await until(() => container.querySelector('[data-testid="alert-update-open"]') !== null, "the issuer tools");
    await tick();
    $("alert-update-open").click();
    await tick();
    typeInto($("update-title"), "Counterfeit visas (NA passports)");
    typeInto($("update-expires"), "2098-06-01T12:00");
    ($("update-submit") as HTMLButtonElement).click();
    await until(() => $("update-expires").getAttribute("aria-invalid") === "true", "the inline error");
    expect(($("update-title") as HTMLInputElement).value).toBe("Counterfeit visas (NA passports)");
  });

  it("cancels with a required reason", async () => {
    hub.answer = () => ({
      kind: "ok",
      status: 200,
      data: snapshot({ status: "cancelled", version: 2, cancel_reason: "Issued in error", updated_at: "2026-11-22T07:40:00Z" }),
    });
    mount();
    await until(() => container.querySelector('[data-testid="alert-cancel-open"]') !== null, "the issuer tools");
    await tick();
    $("alert-cancel-open").click();
    await tick();
    await until(() => document.activeElement === $("cancel-reason"), "focus on the reason");
    ($("cancel-submit") as HTMLButtonElement).click();
    await tick();
    expect($("cancel-reason").getAttribute("aria-invalid")).toBe("true");
    expect(hub.sent).toHaveLength(0);
    typeInto($("cancel-reason"), "Issued in error");
    ($("cancel-submit") as HTMLButtonElement).click();
    await until(() => container.querySelector('[data-testid="alert-cancel-open"]') === null, "the alert to end");
    expect(hub.sent[0]?.path).toBe("/alerts/12/cancel");
    expect(hub.sent[0]?.body.reason).toBe("Issued in error");
    expect($("alert").textContent).toContain(t("alert.cancelled", { reason: "Issued in error" }));
  });

  it("says a cancel refusal above the button, keeping the reason", async () => {
    hub.answer = () => ({ kind: "refused", status: 409, error: { status: 409, code: "alert_cancelled", detail: "Already cancelled." } });
    mount();
    await until(() => container.querySelector('[data-testid="alert-cancel-open"]') !== null, "the issuer tools");
    await tick();
    $("alert-cancel-open").click();
    await tick();
    typeInto($("cancel-reason"), "Duplicate of alert 11");
    ($("cancel-submit") as HTMLButtonElement).click();
    await until(() => container.querySelector('[data-testid="cancel-problem"]') !== null, "the problem");
    expect($("cancel-problem").textContent).toBe(t("error.alert_cancelled"));
    expect(($("cancel-reason") as HTMLTextAreaElement).value).toBe("Duplicate of alert 11");
  });
});
