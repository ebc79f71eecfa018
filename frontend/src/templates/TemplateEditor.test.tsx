// The template editor in a DOM, with a real outbox (fake-indexeddb), a fake
// hub behind it, and a fake REST read of the current version: prefilled with
// keys and base_version, labels and focus, the client's checks next to the
// item fields, one version for a double click, the template's page after
// success, a 422 next to the right item field, a 409 conflict reloaded with
// the text kept, no_change, a taken code, and administrators only.

import "fake-indexeddb/auto";
import { render } from "preact";
import { LocationProvider } from "preact-iso";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Me } from "../api/types";
import { session } from "../app/session";
import { t } from "../i18n";
import { byTestId, openTestOutbox, tick, typeInto, until } from "../incidents/dom-harness";
import type { FakeHub } from "../incidents/dom-harness";
import { outboxSignal } from "../realtime/live";
import type { SendResult } from "../realtime/outbox";
import type { Template } from "./model";
import { templateDraftKey } from "./model";
import { TemplateEditor } from "./TemplateEditor";
import { loadTemplateMessages } from "../i18n";

// The template screens load their strings with them.
await loadTemplateMessages();

const admin: Me = {
  id: 7,
  username: "na-cus.admin",
  name: "Selma Nangolo",
  memberships: [{ agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role: "admin", crossing_points: [] }],
};

const officer: Me = {
  ...admin,
  username: "na-cus.duty",
  memberships: [{ agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role: "duty_officer", crossing_points: ["WDH"] }],
};

function version(n: number, items: Template["items"]): Template {
  return {
    code: "vessel-boarding",
    version: n,
    title: "Vessel boarding",
    description: "Joint boarding.",
    current: true,
    source: "browser",
    published_at: "2026-12-03T10:00:00Z",
    published_by: { id: 7, username: "na-cus.admin", name: "Selma Nangolo" },
    publisher_agency: "NA-CUS",
    stream: "template:VESSEL-BOARDING",
    seq: n,
    items,
  };
}

const crew = { key: "a1", position: 1, title: "Check crew list", guidance: "Against the manifest", agency_kind: "immigration", due_offset_minutes: 15, requires_note: false, requires_cosign: false };
const hold = { key: "b2", position: 2, title: "Search the hold", guidance: "", agency_kind: "customs", due_offset_minutes: 60, requires_note: true, requires_cosign: true };

let container: HTMLElement;
let hub: FakeHub;
let current: Template;
let reads: string[];

const $ = (testId: string) => byTestId(container, testId);
const type = (testId: string, value: string | boolean) => typeInto($(testId), value);
const click = (testId: string) => ($(testId) as HTMLButtonElement).click();

function mount(code: string | null): void {
  history.replaceState(null, "", code === null ? "/templates/new" : `/templates/${code}/edit`);
  render(
    <LocationProvider>
      <TemplateEditor code={code} />
    </LocationProvider>,
    container,
  );
}

async function mountLoaded(): Promise<void> {
  mount("vessel-boarding");
  await until(() => container.querySelector('[data-testid="tpl-title"]') !== null, "the prefilled form");
  await tick();
}

function storedId(code: string | null): string {
  return JSON.parse(localStorage.getItem(templateDraftKey(session.value.kind === "signed-in" ? session.value.me.username : "", code)) ?? "{}").id as string;
}

beforeEach(async () => {
  localStorage.clear();
  session.value = { kind: "signed-in", me: admin, offline: false };
  current = version(3, [crew, hold]);
  reads = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      reads.push(url);
      const found = url.startsWith("/api/v1/checklist-templates/vessel-boarding");
      return { ok: found, status: found ? 200 : 404, statusText: "", json: async () => (found ? current : { code: "not_found", detail: "No such checklist template." }) };
    }),
  );
  hub = await openTestOutbox(admin.username);
  outboxSignal.value = hub.outbox;
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

describe("Template editor", () => {
  it("opens on its heading, prefilled from the current version, every control labelled", async () => {
    await mountLoaded();
    await until(() => document.activeElement?.tagName === "H1", "focus on the heading");
    expect(reads).toEqual(["/api/v1/checklist-templates/vessel-boarding"]);
    expect(($("tpl-title") as HTMLInputElement).value).toBe("Vessel boarding");
    expect(($("tpl-item-title-0") as HTMLInputElement).value).toBe("Check crew list");
    expect(($("tpl-item-kind-1") as HTMLSelectElement).value).toBe("customs");
    expect(($("tpl-item-due-1") as HTMLInputElement).value).toBe("60");
    expect(($("tpl-item-cosign-1") as HTMLInputElement).checked).toBe(true);
    const controls = [...container.querySelectorAll<HTMLInputElement>("input, select, textarea")];
    expect(controls.length).toBe(2 + 2 * 6);
    for (const control of controls) expect(control.labels?.length ?? 0).toBeGreaterThan(0);
    expect($("tpl-publish").textContent).toBe(t("tpl.editor.publish", { version: 4 }));
  });

  it("checks on the client: reasons next to the item fields, focus on the first, nothing sent", async () => {
    await mountLoaded();
    type("tpl-item-title-0", "  ");
    type("tpl-item-due-1", "-5");
    await tick();
    click("tpl-publish");
    await tick();
    const title = $("tpl-item-title-0");
    expect(title.getAttribute("aria-invalid")).toBe("true");
    await until(() => document.activeElement === title, "focus on the first invalid field");
    const due = $("tpl-item-due-1");
    expect(due.getAttribute("aria-invalid")).toBe("true");
    const describedBy = due.getAttribute("aria-describedby") ?? "";
    expect(document.getElementById(describedBy.split(" ").pop() ?? "")?.textContent).toBe(t("tpl.check.negativeOffset"));
    expect(hub.sent).toHaveLength(0);
    expect(outboxSignal.value?.items.value).toEqual([]);

    // Removing every item says so next to the list.
    click("tpl-item-remove-1");
    await tick();
    click("tpl-item-remove-0");
    await tick();
    click("tpl-publish");
    await until(() => container.querySelector('[data-testid="items-error"]') !== null, "the list's reason");
    expect($("items-error").textContent).toBe(t("tpl.check.noItems"));
    await until(() => document.activeElement === $("items-error"), "focus on the list's reason");
  });

  it("publishes one version for a double click, with base_version, kept keys and new positions, then opens the template", async () => {
    let release: (r: SendResult) => void = () => undefined;
    hub.answer = () => new Promise<SendResult>((resolve) => (release = resolve));
    await mountLoaded();
    // Move "Search the hold" up, add a new item at the end.
    const up = container.querySelectorAll<HTMLButtonElement>('[data-action="up"]')[1] as HTMLButtonElement;
    up.click();
    await tick();
    expect(($("tpl-item-title-0") as HTMLInputElement).value).toBe("Search the hold");
    await until(() => document.activeElement?.getAttribute("data-action") !== null && document.activeElement?.closest("[data-uid]") === container.querySelectorAll("[data-uid]")[0], "focus follows the moved item");
    click("tpl-add-item");
    await tick();
    await until(() => document.activeElement === $("tpl-item-title-2"), "focus on the new item's title");
    type("tpl-item-title-2", "Seal the hold");
    type("tpl-item-kind-2", "police");
    type("tpl-item-due-2", "90");
    type("tpl-item-note-2", true);
    await tick();
    const button = $("tpl-publish") as HTMLButtonElement;
    button.click();
    button.click();
    await until(() => hub.sent.length === 1, "the send");
    await tick();
    expect($("sending").textContent).toContain(t("tpl.editor.sending"));
    expect(($("tpl-publish") as HTMLButtonElement).disabled).toBe(true);
    const sent = hub.sent[0]!;
    expect(sent.path).toBe("/checklist-templates/vessel-boarding/versions");
    expect(sent.body.client_msg_id).toBe(storedId("vessel-boarding"));
    expect(sent.body).toMatchObject({
      base_version: 3,
      title: "Vessel boarding",
      items: [
        { key: "b2", position: 1, title: "Search the hold" },
        { key: "a1", position: 2, title: "Check crew list" },
        { position: 3, title: "Seal the hold", agency_kind: "police", due_offset_minutes: 90, requires_note: true, requires_cosign: false },
      ],
    });
    expect("key" in ((sent.body.items as Record<string, unknown>[])[2] ?? {})).toBe(false);
    release({ kind: "ok", status: 201, data: version(4, [hold, crew]) });
    await until(() => location.pathname === "/templates/vessel-boarding", "the template's page");
    expect(hub.sent).toHaveLength(1);
    expect(localStorage.getItem(templateDraftKey(admin.username, "vessel-boarding"))).toBeNull();
  });

  it("puts a 422's reason next to the item field its loc names, keeps the text, and resends with the same id", async () => {
    hub.answer = () => ({
      kind: "refused",
      status: 422,
      error: {
        status: 422,
        code: "invalid_request",
        detail: "items.1.due_offset_minutes: At most 43200.",
        errors: [{ loc: ["body", "payload", "items", "1", "due_offset_minutes"], msg: "At most 43200.", type: "less_than_equal" }],
      },
    });
    await mountLoaded();
    type("tpl-item-guidance-1", "Use the torch.");
    await tick();
    click("tpl-publish");
    const due = () => $("tpl-item-due-1");
    await until(() => due().getAttribute("aria-invalid") === "true", "the inline reason");
    await until(() => document.activeElement === due(), "focus on it");
    expect(container.textContent).toContain(t("tpl.check.offsetTooLarge", { max: 43_200, days: 30 }));
    expect(($("tpl-item-guidance-1") as HTMLTextAreaElement).value).toBe("Use the torch.");
    const firstId = hub.sent[0]?.body.client_msg_id;

    hub.answer = () => ({ kind: "ok", status: 201, data: version(4, [crew, hold]) });
    type("tpl-item-due-1", "120");
    await tick();
    expect(due().getAttribute("aria-invalid")).toBeNull();
    click("tpl-publish");
    await until(() => location.pathname === "/templates/vessel-boarding", "the template's page");
    expect(hub.sent).toHaveLength(2);
    expect(hub.sent[1]?.body.client_msg_id).toBe(firstId);
  });

  it("on a 409 conflict, offers to reload the current version and keeps what was typed", async () => {
    hub.answer = () => ({
      kind: "refused",
      status: 409,
      error: { status: 409, code: "template_version_conflict", detail: "This edit started from version 3, but version 4 is current now." },
    });
    await mountLoaded();
    type("tpl-title", "Vessel boarding (revised)");
    type("tpl-item-title-0", "Check the crew list twice");
    await tick();
    click("tpl-publish");
    await until(() => container.querySelector('[data-testid="conflict"]') !== null, "the conflict");
    await until(() => document.activeElement === $("conflict"), "focus on the conflict");
    expect($("conflict").textContent).toContain(t("tpl.editor.conflict", { base: 3 }));
    const firstId = hub.sent[0]?.body.client_msg_id;

    // Someone published version 4, which removed "Search the hold".
    current = version(4, [crew]);
    click("conflict-reload");
    await until(() => container.querySelector('[data-testid="rebased"]') !== null, "the reload");
    expect(($("tpl-title") as HTMLInputElement).value).toBe("Vessel boarding (revised)");
    expect(($("tpl-item-title-0") as HTMLInputElement).value).toBe("Check the crew list twice");
    expect($("tpl-publish").textContent).toBe(t("tpl.editor.publish", { version: 5 }));
    expect($("rebased").querySelector("a")?.getAttribute("href")).toBe("/templates/vessel-boarding?from=3&to=4");

    hub.answer = () => ({ kind: "ok", status: 201, data: version(5, [crew, hold]) });
    click("tpl-publish");
    await until(() => location.pathname === "/templates/vessel-boarding", "the template's page");
    const resent = hub.sent[1]!;
    expect(resent.body.client_msg_id).toBe(firstId);
    expect(resent.body.base_version).toBe(4);
    const items = resent.body.items as Record<string, unknown>[];
    expect(items[0]).toMatchObject({ key: "a1", title: "Check the crew list twice" });
    expect("key" in (items[1] ?? {})).toBe(false); // the removed item comes back as a new one
  });

  it("says when nothing changed", async () => {
    hub.answer = () => ({ kind: "refused", status: 409, error: { status: 409, code: "no_change", detail: "Nothing changed since version 3." } });
    await mountLoaded();
    click("tpl-publish");
    await until(() => container.querySelector('[data-testid="form-problem"]') !== null, "the problem");
    expect($("form-problem").textContent).toBe(t("tpl.editor.noChange", { version: 3 }));
  });

  it("keeps the draft and its id across a remount; an untouched draft follows a newer version", async () => {
    await mountLoaded();
    type("tpl-item-title-1", "Search the hold and the bilge");
    await tick();
    const id = storedId("vessel-boarding");
    render(null, container);
    await mountLoaded();
    expect(($("tpl-item-title-1") as HTMLInputElement).value).toBe("Search the hold and the bilge");
    expect(storedId("vessel-boarding")).toBe(id);

    // A newer version arrives while the draft is touched: say so, offer the reload.
    render(null, container);
    current = version(4, [crew, hold]);
    await mountLoaded();
    await until(() => container.querySelector('[data-testid="conflict"]') !== null, "the stale notice");
    expect($("conflict").textContent).toContain(t("tpl.editor.stale", { base: 3, current: 4 }));
  });

  it("writes a new template: its code is checked, and a taken code is said next to it", async () => {
    hub.answer = () => ({ kind: "refused", status: 409, error: { status: 409, code: "template_exists", detail: "taken" } });
    mount(null);
    await until(() => container.querySelector('[data-testid="tpl-code"]') !== null, "the form");
    await tick();
    expect(reads).toEqual([]);
    type("tpl-code", "Vessel Boarding");
    type("tpl-title", "Vessel boarding");
    type("tpl-item-title-0", "Check crew list");
    type("tpl-item-kind-0", "immigration");
    await tick();
    click("tpl-publish");
    await until(() => $("tpl-code").getAttribute("aria-invalid") === "true", "the code's reason");
    expect(container.textContent).toContain(t("tpl.check.code"));
    expect(hub.sent).toHaveLength(0);
    type("tpl-code", "vessel-boarding");
    await tick();
    click("tpl-publish");
    await until(() => hub.sent.length === 1, "the send");
    expect(hub.sent[0]?.path).toBe("/checklist-templates");
    expect(hub.sent[0]?.body).toMatchObject({ code: "vessel-boarding", title: "Vessel boarding", items: [{ position: 1, agency_kind: "immigration", due_offset_minutes: 0 }] });
    await until(() => $("tpl-code").getAttribute("aria-invalid") === "true" && container.textContent?.includes(t("tpl.check.codeTaken")) === true, "taken");
    await until(() => document.activeElement === $("tpl-code"), "focus on the code");
  });

  it("is for administrators only", async () => {
    session.value = { kind: "signed-in", me: officer, offline: false };
    mount("vessel-boarding");
    await tick();
    expect($("admins-only").textContent).toBe(t("tpl.editor.adminsOnly"));
    expect(container.querySelector("form")).toBeNull();
    expect(reads).toEqual([]);
  });
});
