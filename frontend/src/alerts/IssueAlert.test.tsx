// The issue-alert screen in a DOM with a real outbox and a fake hub: the
// targets (every other agency, ticked), the EXERCISE flag, the payload, the
// alert's page after success, refusals next to the fields.

import "fake-indexeddb/auto";
import { render } from "preact";
import { LocationProvider } from "preact-iso";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CrossingPoint, Me } from "../api/types";
import { crossingPoints, session } from "../app/session";
import { t } from "../i18n";
import { byTestId, openTestOutbox, tick, typeInto, until } from "../incidents/dom-harness";
import type { FakeHub } from "../incidents/dom-harness";
import { outboxSignal } from "../realtime/live";
import { alertDraftKey } from "./alert-form";
import { IssueAlert } from "./IssueAlert";

const imm: Me = {
  id: 3,
  username: "na-imm.duty",
  name: "Ndapewa Amutenya",
  memberships: [{ agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["WDH"] }],
};
const both: Me = {
  ...imm,
  memberships: [...imm.memberships, { agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role: "senior_official", crossing_points: ["WDH"] }],
};

const WDH: CrossingPoint = {
  code: "WDH",
  name: "Hosea Kutako Airport",
  kind: "airport",
  countries: ["NA"],
  timezone: "Africa/Windhoek",
  latitude: "0",
  longitude: "0",
  one_stop_border_post: false,
  agencies: ["NA-AIR", "NA-CUS", "NA-IMM", "NA-POL"].map((agency) => ({ agency, kind: "x" })),
};

let container: HTMLElement;
let hub: FakeHub;
const $ = (testId: string) => byTestId(container, testId);
const type = (testId: string, value: string | boolean) => typeInto($(testId), value);
const targets = () => [...container.querySelectorAll<HTMLInputElement>('input[data-testid^="alert-target-"]')];

function mount(code = "WDH"): void {
  render(
    <LocationProvider>
      <IssueAlert code={code} />
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
  history.replaceState(null, "", "/points/WDH/alerts/new");
  crossingPoints.value = [WDH];
  await signIn(imm);
  container = document.createElement("div");
  document.body.append(container);
});

afterEach(() => {
  render(null, container);
  container.remove();
  outboxSignal.value?.close();
  outboxSignal.value = null;
});

describe("Issue an alert", () => {
  it("opens on its heading; every other agency is a ticked target; every control labelled", async () => {
    mount();
    await tick();
    await until(() => document.activeElement?.tagName === "H1", "focus on the heading");
    expect(targets().map((b) => [b.value, b.checked])).toEqual([
      ["NA-AIR", true],
      ["NA-CUS", true],
      ["NA-POL", true],
    ]);
    expect(container.querySelector('[data-testid="alert-agency"]')).toBeNull();
    for (const control of container.querySelectorAll<HTMLInputElement>("input, select, textarea")) {
      expect(control.labels?.length ?? 0).toBeGreaterThan(0);
    }
    expect(($("alert-ack-required") as HTMLInputElement).checked).toBe(true);
    expect(($("alert-exercise") as HTMLInputElement).checked).toBe(false);
  });

  it("wants at least one target, said next to the boxes, focus on the first", async () => {
    mount();
    await tick();
    type("alert-title", "Counterfeit visas");
    type("alert-category", "document_fraud");
    type("alert-severity", "high");
    for (const box of targets()) typeInto(box, false);
    ($("alert-submit") as HTMLButtonElement).click();
    await tick();
    expect(container.textContent).toContain(t("alertForm.check.noTargets"));
    await until(() => document.activeElement === targets()[0], "focus");
    expect(hub.sent).toHaveLength(0);
  });

  it("issues an EXERCISE alert to the ticked agencies once, then opens its page", async () => {
    hub.answer = () => ({ kind: "ok", status: 201, data: { id: 12 } });
    mount();
    await tick();
    type("alert-exercise", true);
    type("alert-title", "Drill: counterfeit visas");
    type("alert-body", "Check every visa.");
    type("alert-category", "document_fraud");
    type("alert-severity", "high");
    type("alert-certainty", "Observed");
    type("alert-expires", "2099-01-01T12:00");
    typeInto(targets()[0] as HTMLElement, false);
    await tick();
    expect($("alert-submit").textContent).toBe(t("alertForm.submitExercise"));
    const id = JSON.parse(localStorage.getItem(alertDraftKey(imm.username, "WDH")) ?? "{}").id as string;
    ($("alert-submit") as HTMLButtonElement).click();
    ($("alert-submit") as HTMLButtonElement).click();
    await until(() => location.pathname === "/alerts/12", "the alert page");
    expect(hub.sent).toHaveLength(1);
    expect(hub.sent[0]?.path).toBe("/crossing-points/WDH/alerts");
    expect(hub.sent[0]?.body).toEqual({
      title: "Drill: counterfeit visas",
      body: "Check every visa.",
      category: "document_fraud",
      severity: "high",
      certainty: "Observed",
      expires_at: "2099-01-01T10:00:00.000Z",
      targets: ["NA-CUS", "NA-POL"],
      ack_required: true,
      exercise: true,
      client_msg_id: id,
    });
    expect(localStorage.getItem(alertDraftKey(imm.username, "WDH"))).toBeNull();
  });

  it("asks which agency issues when the officer has several here; the other becomes a target", async () => {
    outboxSignal.value?.close();
    await signIn(both);
    mount();
    await tick();
    expect(targets().map((b) => b.value)).toEqual(["NA-AIR", "NA-CUS", "NA-IMM", "NA-POL"]);
    type("alert-agency", "NA-CUS");
    await tick();
    expect(targets().map((b) => b.value)).toEqual(["NA-AIR", "NA-IMM", "NA-POL"]);
  });

  it("puts the hub's 'no such incident' next to the linked incident, keeping the text", async () => {
    hub.answer = () => ({ kind: "refused", status: 404, error: { status: 404, code: "not_found", detail: "No such incident." } });
    mount();
    await tick();
    type("alert-title", "Counterfeit visas");
    type("alert-category", "document_fraud");
    type("alert-severity", "high");
    type("alert-incident", "WDH-2026-0999");
    ($("alert-submit") as HTMLButtonElement).click();
    await until(() => $("alert-incident").getAttribute("aria-invalid") === "true", "the inline error");
    await tick();
    await until(() => document.activeElement === $("alert-incident"), "focus");
    expect(($("alert-title") as HTMLInputElement).value).toBe("Counterfeit visas");
  });

  it("answers a point the officer does not serve like one that does not exist", async () => {
    mount("ORK");
    await tick();
    expect($("not-found").textContent).toContain(t("notFound.point", { ident: "ORK" }));
  });
});
