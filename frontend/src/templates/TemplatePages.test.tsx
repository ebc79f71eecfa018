// The reading screens in a DOM with a fake REST hub: the list (administrators
// see "New template" and "New version", others do not) and one template's
// page (items, version history, a diff between two chosen versions).

import { render } from "preact";
import { LocationProvider } from "preact-iso";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Me } from "../api/types";
import { session } from "../app/session";
import { label, t } from "../i18n";
import { byTestId, tick, typeInto, until } from "../incidents/dom-harness";
import { formatMinutes } from "./format";
import type { Template, TemplateDiff, TemplateVersion } from "./model";
import { TemplatePage } from "./TemplatePage";
import { TemplatesList } from "./TemplatesList";
import { loadTemplateMessages } from "../i18n";

// The template screens load their strings with them.
await loadTemplateMessages();

const admin: Me = {
  id: 7,
  username: "na-cus.admin",
  name: "Selma Nangolo",
  memberships: [{ agency: "NA-CUS", agency_name: "Customs", agency_kind: "customs", role: "admin", crossing_points: [] }],
};
const officer: Me = { ...admin, username: "na-imm.duty", memberships: [{ ...admin.memberships[0]!, role: "duty_officer", crossing_points: ["WDH"] }] };

const crew = { key: "a1", position: 1, title: "Check crew list", guidance: "Against the manifest", agency_kind: "immigration", due_offset_minutes: 15, requires_note: false, requires_cosign: false };
const hold = { key: "b2", position: 2, title: "Search the hold", guidance: "", agency_kind: "customs", due_offset_minutes: 90, requires_note: true, requires_cosign: true };

const template: Template = {
  code: "vessel-boarding",
  version: 3,
  title: "Vessel boarding",
  description: "Joint boarding.",
  current: true,
  source: "browser",
  published_at: "2026-12-03T10:00:00Z",
  published_by: { id: 7, username: "na-cus.admin", name: "Selma Nangolo" },
  publisher_agency: "NA-CUS",
  stream: "template:VESSEL-BOARDING",
  seq: 3,
  items: [hold, crew],
};

const versions: TemplateVersion[] = [3, 2, 1].map((n) => ({
  version: n,
  title: n === 1 ? "Boarding" : "Vessel boarding",
  current: n === 3,
  source: n === 1 ? "code" : "browser",
  published_at: `2026-12-0${n}T10:00:00Z`,
  published_by: n === 1 ? null : { id: 7, username: "na-cus.admin", name: "Selma Nangolo" },
  publisher_agency: n === 1 ? null : "NA-CUS",
  items: 2,
  seq: n,
}));

function diff(from: number, to: number): TemplateDiff {
  return {
    code: "vessel-boarding",
    from_version: from,
    to_version: to,
    fields: from === 1 ? { title: { old: "Boarding", new: "Vessel boarding" } } : {},
    items_added: [hold],
    items_removed: [{ ...hold, key: "c3", title: "Photograph the deck", position: 3 }],
    items_changed: [{ key: "a1", position: 1, title: "Check crew list", changes: { agency_kind: { old: "customs", new: "immigration" }, due_offset_minutes: { old: 60, new: 15 }, requires_note: { old: true, new: false } } }],
    items_unchanged: 0,
  };
}

let container: HTMLElement;
let reads: string[];
const $ = (testId: string) => byTestId(container, testId);

beforeEach(() => {
  reads = [];
  session.value = { kind: "signed-in", me: admin, offline: false };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      reads.push(url);
      const path = new URL(url, "http://hub").pathname;
      const query = new URL(url, "http://hub").searchParams;
      const data =
        path === "/api/v1/checklist-templates"
          ? [template]
          : path.endsWith("/versions")
            ? versions
            : path.endsWith("/diff")
              ? diff(Number(query.get("from")), Number(query.get("to")))
              : template;
      return { ok: true, status: 200, statusText: "", json: async () => data };
    }),
  );
  container = document.createElement("div");
  document.body.append(container);
});

afterEach(() => {
  render(null, container);
  container.remove();
  vi.unstubAllGlobals();
});

describe("SOP templates list", () => {
  it("shows each template's current version; administrators get New template and New version", async () => {
    history.replaceState(null, "", "/templates");
    render(
      <LocationProvider>
        <TemplatesList />
      </LocationProvider>,
      container,
    );
    await until(() => container.querySelector('[data-testid="template-row"]') !== null, "the rows");
    await until(() => document.activeElement?.tagName === "H1", "focus on the heading");
    const row = $("template-row");
    expect(row.textContent).toContain("Vessel boarding");
    expect(row.textContent).toContain("vessel-boarding");
    expect(row.textContent).toContain("Selma Nangolo");
    expect(row.textContent).toContain(t("tpl.source.browser"));
    expect($("template-new").getAttribute("href")).toBe("/templates/new");
    expect($("template-new-version").getAttribute("href")).toBe("/templates/vessel-boarding/edit");
  });

  it("officers read it without the write actions", async () => {
    session.value = { kind: "signed-in", me: officer, offline: false };
    render(
      <LocationProvider>
        <TemplatesList />
      </LocationProvider>,
      container,
    );
    await until(() => container.querySelector('[data-testid="template-row"]') !== null, "the rows");
    expect(container.querySelector('[data-testid="template-new"]')).toBeNull();
    expect(container.querySelector('[data-testid="template-new-version"]')).toBeNull();
  });
});

describe("One SOP template", () => {
  it("shows its items in order, its versions, and what changed between two chosen versions", async () => {
    history.replaceState(null, "", "/templates/vessel-boarding");
    render(
      <LocationProvider>
        <TemplatePage code="vessel-boarding" />
      </LocationProvider>,
      container,
    );
    await until(() => container.querySelector('[data-testid="diff-view"]') !== null, "the diff");
    await until(() => document.activeElement === $("template-heading"), "focus on the heading");
    expect($("template-heading").textContent).toBe("Vessel boarding");
    const items = [...$("template-items").querySelectorAll("li")];
    expect(items.map((li) => li.getAttribute("data-key"))).toEqual(["a1", "b2"]);
    expect(items[1]?.textContent).toContain(label("agencyKind", "customs"));
    expect(items[1]?.textContent).toContain(t("tpl.field.requiresCosign"));
    expect(items[1]?.textContent).toContain(formatMinutes(90));
    expect($("template-versions").querySelectorAll("tbody tr")).toHaveLength(3);
    expect($("template-versions").textContent).toContain(t("tpl.publishedByCode"));
    expect(reads).toContain("/api/v1/checklist-templates/vessel-boarding/diff?from=2&to=3");
    const changed = $("diff-changed");
    expect(changed.textContent).toContain(`${label("agencyKind", "customs")} ${t("tpl.diff.arrow")}${t("tpl.diff.changedTo")} ${label("agencyKind", "immigration")}`);
    expect(changed.querySelector("del")?.textContent).toBe(label("agencyKind", "customs"));
    expect($("diff-removed").textContent).toContain("Photograph the deck");
    expect($("diff-added").textContent).toContain("Search the hold");
    expect($("template-edit").getAttribute("href")).toBe("/templates/vessel-boarding/edit");

    typeInto($("diff-from"), "1");
    await until(() => container.querySelector('[data-testid="diff-fields"]') !== null, "the other diff");
    await tick();
    expect(location.search).toBe("?from=1&to=3");
    expect($("diff-fields").textContent).toContain("Boarding");
    expect(reads).toContain("/api/v1/checklist-templates/vessel-boarding/diff?from=1&to=3");
  });
});
