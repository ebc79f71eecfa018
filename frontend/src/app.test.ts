// The officer's screen wired end to end in jsdom: REST and the WebSocket are fakes.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AlertOut, Me } from "./api";
import { mountApp } from "./app";

const NOW = new Date();
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000).toISOString();

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onmessage: ((m: MessageEvent) => void) | null = null;
  onclose: ((c: CloseEvent) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  send(text: string): void {
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
  }

  close(): void {
    this.readyState = 3;
  }

  deliver(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent);
  }

  open(): void {
    this.readyState = 1;
    this.deliver({ type: "welcome" });
  }
}

const me: Me = {
  id: 7,
  username: "na-cus.duty",
  name: "Helvi Nghipandulwa",
  memberships: [
    { agency: "NA-CUS", agency_name: "Customs", role: "duty_officer", crossing_points: ["WDH"] },
    // An admin membership reads no alerts: WVB must not be followed.
    { agency: "NA-CUS", agency_name: "Customs", role: "admin", crossing_points: ["WVB"] },
  ],
};

function alertOut(id: number, overrides: Partial<AlertOut> = {}): AlertOut {
  return {
    id,
    crossing_point: "WDH",
    category: "other",
    severity: "medium",
    urgency: "Expected",
    certainty: "Likely",
    title: `Alert ${id}`,
    body: "",
    exercise: false,
    ack_required: true,
    status: "active",
    version: 1,
    incident: null,
    issuing_agency: "NA-IMM",
    issued_by: { id: 3, username: "na-imm.duty", name: "Ndapewa Amutenya" },
    created_at: at(-10),
    updated_at: at(-10),
    expires_at: null,
    cancel_reason: "",
    targets: [
      { agency: "NA-CUS", due_at: at(20), acknowledged: false, acknowledged_at: null, acknowledged_by: null, overdue: false, escalated_at: null },
    ],
    pending: ["NA-CUS"],
    stream: "crossing:WDH",
    ...overrides,
  };
}

let requests: string[];

function route(url: string): unknown {
  if (url === "/api/v1/me") return me;
  if (url === "/api/v1/incidents?limit=100") return { items: [] };
  if (url.startsWith("/api/v1/streams/crossing%3AWDH/events")) return { head: 12 };
  if (url.startsWith("/api/v1/crossing-points/WDH/alerts")) return [alertOut(5, { title: "Counterfeit visas" })];
  if (url === "/api/v1/alerts/11") return alertOut(11, { title: "Fetched one" });
  throw new Error(`unexpected ${url}`);
}

beforeEach(() => {
  FakeSocket.all = [];
  requests = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("fetch", async (url: string) => {
    requests.push(url);
    return new Response(JSON.stringify(route(url)), { status: 200 });
  });
  document.body.innerHTML = '<div id="hub-app"></div>';
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function mounted(): Promise<{ root: HTMLElement; socket: FakeSocket }> {
  const root = document.querySelector<HTMLElement>("#hub-app")!;
  await mountApp(root);
  const socket = FakeSocket.all[0]!;
  socket.open();
  await vi.waitFor(() => expect(socket.sent).toContainEqual({ type: "subscribe", stream: "crossing:WDH", after: 12 }));
  socket.deliver({ type: "caught_up", stream: "crossing:WDH", seq: 12 });
  return { root, socket };
}

function issued(seq: number, id: number, exercise: boolean) {
  return {
    type: "event",
    stream: "crossing:WDH",
    seq,
    kind: "alert.issued",
    at: at(0),
    actor: { id: 3, username: "na-imm.duty", name: "Ndapewa Amutenya", agency: "NA-IMM" },
    payload: {
      alert_id: id,
      version: 1,
      crossing_point: "WDH",
      category: "security_threat",
      severity: "high",
      urgency: "Immediate",
      certainty: "Likely",
      title: "Unattended bag",
      body: "",
      expires_at: null,
      exercise,
      ack_required: true,
      targets: ["NA-CUS", "NA-POL"],
      due_at: at(15),
      incident: null,
      issuing_agency: "NA-IMM",
    },
  };
}

describe("the officer's alerts panel", () => {
  it("follows the crossing points served in a reader role, from the snapshot's head", async () => {
    const { root, socket } = await mounted();
    expect(socket.sent.filter((f) => f.type === "subscribe").map((f) => f.stream)).toEqual(["crossing:WDH"]);
    // The head was read before the snapshot, so nothing between them is missed.
    const head = requests.findIndex((u) => u.includes("/streams/crossing%3AWDH/events"));
    const snapshot = requests.findIndex((u) => u.includes("/crossing-points/WDH/alerts"));
    expect(head).toBeGreaterThanOrEqual(0);
    expect(head).toBeLessThan(snapshot);
    expect(root.querySelector("li.alert[data-alert-id='5']")?.textContent).toContain("Counterfeit visas");
  });

  it("shows a new alert live, marked as an exercise, and announces it", async () => {
    const { root, socket } = await mounted();
    socket.deliver(issued(13, 9, true));
    const item = root.querySelector<HTMLElement>("li.alert[data-alert-id='9']")!;
    expect(item.querySelector("[data-testid=exercise-marker]")?.textContent).toBe("EXERCISE");
    expect(root.querySelector("[data-testid=announce]")?.textContent).toBe(
      "New high alert at WDH: EXERCISE — Unattended bag. NA-CUS must acknowledge.",
    );
    expect(root.querySelector("[data-testid=alerts-owed]")?.textContent).toBe("(2 to acknowledge)");
  });

  it("acknowledges over the WebSocket and shows the acknowledgement when it comes back", async () => {
    const { root, socket } = await mounted();
    socket.deliver(issued(13, 9, false));
    root.querySelector<HTMLElement>("li.alert[data-alert-id='9'] [data-testid=alert-open]")!.click();
    root.querySelector<HTMLButtonElement>("[data-testid=alert-detail] [data-testid=ack]")!.click();
    const ack = socket.sent.find((f) => f.type === "alert.ack")!;
    expect(ack).toMatchObject({ type: "alert.ack", alert_id: 9 });
    expect(typeof ack.client_msg_id).toBe("string");
    expect(root.querySelector<HTMLButtonElement>("[data-testid=alert-detail] [data-testid=ack]")!.disabled).toBe(true);
    socket.deliver({
      type: "event",
      stream: "crossing:WDH",
      seq: 14,
      kind: "alert.acknowledged",
      at: at(1),
      actor: { id: 7, username: "na-cus.duty", name: "Helvi Nghipandulwa", agency: "NA-CUS" },
      payload: { alert_id: 9, exercise: false, agency: "NA-CUS", pending: ["NA-POL"] },
    });
    socket.deliver({ type: "ack", client_msg_id: ack.client_msg_id, stream: "crossing:WDH", seq: 14 });
    await vi.waitFor(() => expect(root.querySelector("[data-testid=alert-detail] [data-testid=ack]")).toBeNull());
    const row = root.querySelector<HTMLElement>("[data-testid=alert-detail] tr[data-agency='NA-CUS']")!;
    expect(row.dataset.standing).toBe("acknowledged");
    expect(row.textContent).toContain("Helvi Nghipandulwa");
    expect(root.querySelector<HTMLElement>("[data-testid=alert-detail] tr[data-agency='NA-POL']")!.dataset.standing).toBe("waiting");
  });

  it("fetches an alert it does not hold when an event or a re-delivery names it", async () => {
    const { root, socket } = await mounted();
    socket.deliver({
      type: "event",
      stream: "crossing:WDH",
      seq: 13,
      kind: "alert.acknowledged",
      at: at(0),
      actor: null,
      payload: { alert_id: 11, exercise: false, agency: "NA-POL", pending: ["NA-CUS"] },
    });
    await vi.waitFor(() => expect(root.querySelector("li.alert[data-alert-id='11']")?.textContent).toContain("Fetched one"));
    expect(requests).toContain("/api/v1/alerts/11");
  });
});
