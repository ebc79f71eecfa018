// The report screen in a DOM, with a real outbox (fake-indexeddb) and a fake
// hub: labels, focus, client checks, one incident for a double click, the
// room after success, a 422 next to the fields with the text kept, other
// refusals above the button, and a draft that survives a remount.

import "fake-indexeddb/auto";
import { render } from "preact";
import { LocationProvider } from "preact-iso";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CrossingPoint, Me } from "../api/types";
import { crossingPoints, session } from "../app/session";
import { t } from "../i18n";
import { outboxSignal } from "../realtime/live";
import type { SendResult } from "../realtime/outbox";
import { byTestId, openTestOutbox, tick, typeInto, until } from "./dom-harness";
import type { FakeHub } from "./dom-harness";
import { reportDraftKey } from "./report";
import { ReportForm } from "./ReportForm";

const user: Me = {
  id: 1,
  username: "na-imm.duty",
  name: "Ndapewa Amutenya",
  memberships: [
    { agency: "NA-IMM", agency_name: "Immigration", agency_kind: "immigration", role: "duty_officer", crossing_points: ["WDH", "ORK"] },
  ],
};

const points: CrossingPoint[] = [
  { code: "WDH", name: "Hosea Kutako Airport", kind: "airport", countries: ["NA"], timezone: "Africa/Windhoek", latitude: "0", longitude: "0", one_stop_border_post: false, agencies: [{ agency: "NA-IMM", kind: "immigration" }] },
  { code: "ORK", name: "Oshikango", kind: "land", countries: ["NA", "AO"], timezone: "Africa/Windhoek", latitude: "0", longitude: "0", one_stop_border_post: true, agencies: [{ agency: "NA-IMM", kind: "immigration" }] },
];

let container: HTMLElement;
let hub: FakeHub;

const $ = (testId: string) => byTestId(container, testId);
const type = (testId: string, value: string) => typeInto($(testId), value);

async function fillValid(): Promise<void> {
  type("report-title", "Forged passports at lane 3");
  type("report-category", "document_fraud");
  type("report-severity", "high");
  type("report-people", "2");
  await tick();
}

function mount(): void {
  render(
    <LocationProvider>
      <ReportForm />
    </LocationProvider>,
    container,
  );
}

beforeEach(async () => {
  localStorage.clear();
  history.replaceState(null, "", "/report?point=WDH");
  crossingPoints.value = points;
  session.value = { kind: "signed-in", me: user, offline: false };
  hub = await openTestOutbox(user.username);
  outboxSignal.value = hub.outbox;
  container = document.createElement("div");
  document.body.append(container);
});

afterEach(() => {
  render(null, container);
  container.remove();
  outboxSignal.value?.close();
  outboxSignal.value = null;
});

describe("Report an incident", () => {
  it("opens on its heading, the point from the URL chosen, every control labelled", async () => {
    mount();
    await tick();
    await until(() => document.activeElement?.tagName === "H1", "focus on the heading");
    expect(document.activeElement?.textContent).toBe(t("report.title"));
    expect(($("report-point") as HTMLSelectElement).value).toBe("WDH");
    const controls = [...container.querySelectorAll<HTMLInputElement>("input, select, textarea")];
    expect(controls.length).toBeGreaterThanOrEqual(9);
    for (const control of controls) expect(control.labels?.length ?? 0).toBeGreaterThan(0);
    expect(container.querySelector('input[type="datetime-local"]')).not.toBeNull();
    expect(container.querySelector(".zone-offset")?.textContent).toBe("GMT+2");
  });

  it("shows the reasons next to the fields and focuses the first invalid one, sending nothing", async () => {
    mount();
    await tick();
    type("report-people", "lots");
    ($("report-submit") as HTMLButtonElement).click();
    await tick();
    await tick();
    const title = $("report-title");
    expect(title.getAttribute("aria-invalid")).toBe("true");
    await until(() => document.activeElement === title, "focus");
    const describedBy = title.getAttribute("aria-describedby") ?? "";
    expect(document.getElementById(describedBy.split(" ").pop() ?? "")?.textContent).toBe(t("report.check.required"));
    expect($("report-people").getAttribute("aria-invalid")).toBe("true");
    expect(outboxSignal.value?.items.value).toEqual([]);
  });

  it("makes one incident of a double click, then opens its room and forgets the draft", async () => {
    let release: (r: SendResult) => void = () => undefined;
    hub.answer = (item) =>
      new Promise<SendResult>((resolve) => {
        release = resolve;
        void item;
      });
    mount();
    await tick();
    await fillValid();
    const button = $("report-submit") as HTMLButtonElement;
    button.click();
    button.click();
    await until(() => hub.sent.length === 1, "the send");
    await tick();
    expect($("sending").textContent).toContain(t("report.sending"));
    expect(($("report-submit") as HTMLButtonElement).disabled).toBe(true);
    const id = JSON.parse(localStorage.getItem(reportDraftKey(user.username)) ?? "{}").id as string;
    expect(hub.sent[0]?.body.client_msg_id).toBe(id);
    expect(hub.sent[0]?.body).toMatchObject({ crossing_point: "WDH", title: "Forged passports at lane 3", people_count: 2, visibility: "participants" });
    release({ kind: "ok", status: 201, data: { ref: "WDH-2026-0042" } });
    await until(() => location.pathname === "/incidents/WDH-2026-0042", "the room");
    expect(hub.sent).toHaveLength(1);
    expect(localStorage.getItem(reportDraftKey(user.username))).toBeNull();
  });

  it("puts a 422's reasons next to the fields, keeps the text, and resends with the same id", async () => {
    hub.answer = () => ({
      kind: "refused",
      status: 422,
      error: {
        status: 422,
        code: "invalid_request",
        detail: "title: String should have at most 200 characters",
        errors: [{ loc: ["body", "payload", "title"], msg: "String should have at most 200 characters", type: "string_too_long" }],
      },
    });
    mount();
    await tick();
    await fillValid();
    ($("report-submit") as HTMLButtonElement).click();
    await until(() => $("report-title").getAttribute("aria-invalid") === "true", "the inline error");
    await tick();
    expect(container.textContent).toContain(t("report.check.tooLongServer", { max: 200 }));
    expect(($("report-title") as HTMLInputElement).value).toBe("Forged passports at lane 3");
    await until(() => document.activeElement === $("report-title"), "focus");
    const firstId = hub.sent[0]?.body.client_msg_id;

    hub.answer = () => ({ kind: "ok", status: 201, data: { ref: "WDH-2026-0043" } });
    type("report-title", "Forged passports");
    await tick();
    ($("report-submit") as HTMLButtonElement).click();
    await until(() => location.pathname === "/incidents/WDH-2026-0043", "the room");
    expect(hub.sent).toHaveLength(2);
    expect(hub.sent[1]?.body.client_msg_id).toBe(firstId);
    expect(hub.sent[1]?.body.title).toBe("Forged passports");
  });

  it("says another refusal above the button, translated, keeping the text", async () => {
    hub.answer = () => ({
      kind: "refused",
      status: 403,
      error: { status: 403, code: "forbidden", detail: "only duty officers and coordinators serving this crossing point may report" },
    });
    mount();
    await tick();
    await fillValid();
    ($("report-submit") as HTMLButtonElement).click();
    await until(() => container.querySelector('[data-testid="form-problem"]') !== null, "the problem");
    await tick();
    expect($("form-problem").textContent).toBe(t("error.forbidden", { detail: "only duty officers and coordinators serving this crossing point may report" }));
    await until(() => document.activeElement === $("form-problem"), "focus");
    expect(($("report-title") as HTMLInputElement).value).toBe("Forged passports at lane 3");
  });

  it("waits, visibly, while offline, and keeps the draft and its id across a remount", async () => {
    outboxSignal.value?.setOnline(false);
    mount();
    await tick();
    await fillValid();
    type("report-description", "Two travellers, Angolan passports.");
    await tick();
    const id = JSON.parse(localStorage.getItem(reportDraftKey(user.username)) ?? "{}").id as string;
    render(null, container);
    mount();
    await tick();
    expect(($("report-title") as HTMLInputElement).value).toBe("Forged passports at lane 3");
    expect(($("report-description") as HTMLTextAreaElement).value).toBe("Two travellers, Angolan passports.");
    expect(JSON.parse(localStorage.getItem(reportDraftKey(user.username)) ?? "{}").id).toBe(id);
    ($("report-submit") as HTMLButtonElement).click();
    await until(() => container.querySelector('[data-testid="sending"]') !== null, "sending");
    expect($("sending").textContent).toContain(t("report.waitingForConnection"));
    expect(hub.sent).toHaveLength(0);
    expect(outboxSignal.value?.items.value[0]?.id).toBe(id);
  });

  it("changing the crossing point keeps what was typed and updates the address", async () => {
    mount();
    await tick();
    type("report-title", "Smuggled fuel");
    await tick();
    type("report-point", "ORK");
    await tick();
    await tick();
    expect(location.search).toBe("?point=ORK");
    expect(($("report-title") as HTMLInputElement).value).toBe("Smuggled fuel");
  });
});
