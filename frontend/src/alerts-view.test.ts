import { describe, expect, it } from "vitest";
import { AlertBoard } from "./alerts";
import type { AlertState } from "./alerts";
import { alertDetail, alertItem } from "./alerts-view";
import type { AckProgress, AlertViewContext } from "./alerts-view";
import type { EventFrame } from "./protocol";

const T0 = Date.parse("2026-11-22T08:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function ev(seq: number, kind: string, payload: Record<string, unknown>, minutes = 0): EventFrame {
  return {
    type: "event",
    stream: "crossing:WDH",
    seq,
    kind,
    at: at(minutes),
    actor: { id: 7, username: "na-cus.duty", name: "Helvi Nghipandulwa", agency: "NA-CUS" },
    payload,
  };
}

function board(exercise: boolean): AlertBoard {
  const b = new AlertBoard();
  b.apply(
    ev(1, "alert.issued", {
      alert_id: 5,
      version: 1,
      crossing_point: "WDH",
      category: "security_threat",
      severity: "high",
      urgency: "Immediate",
      certainty: "Likely",
      title: "Unattended bag at arrivals",
      body: "Cordon in place.",
      expires_at: null,
      exercise,
      ack_required: true,
      targets: ["NA-CUS", "NA-POL", "NA-AIR"],
      due_at: at(15),
      incident: null,
      issuing_agency: "NA-IMM",
    }),
  );
  return b;
}

function ctx(mine: string[], acks: Array<[number, AckProgress]> = [], minutes = 1): AlertViewContext & { acked: number[] } {
  const acked: number[] = [];
  return {
    acked,
    now: T0 + minutes * 60_000,
    mine: (_alert: AlertState) => mine,
    acking: new Map(acks),
    selected: null,
    onOpen: () => undefined,
    onAck: (id) => acked.push(id),
    onOpenIncident: () => undefined,
  };
}

describe("alert list item", () => {
  it("marks a drill with EXERCISE and offers my agency the acknowledgement", () => {
    const c = ctx(["NA-CUS"]);
    const li = alertItem(board(true).get(5)!, c);
    expect(li.dataset.exercise).toBe("true");
    expect(li.querySelector("[data-testid=exercise-marker]")?.textContent).toBe("EXERCISE");
    const ack = li.querySelector<HTMLButtonElement>("[data-testid=ack]")!;
    expect(ack.textContent).toBe("Acknowledge for NA-CUS");
    expect(ack.getAttribute("aria-label")).toBe("Acknowledge for NA-CUS: EXERCISE — Unattended bag at arrivals");
    ack.click();
    expect(c.acked).toEqual([5]);
  });

  it("has no marker for a real alert, and no button for an agency that is not targeted", () => {
    const li = alertItem(board(false).get(5)!, ctx(["NA-IMM"]));
    expect(li.querySelector("[data-testid=exercise-marker]")).toBeNull();
    expect(li.querySelector("[data-testid=ack]")).toBeNull();
    expect(li.textContent).toContain("0 of 3 acknowledged");
  });

  it("shows an acknowledgement in flight as busy", () => {
    const li = alertItem(board(false).get(5)!, ctx(["NA-CUS"], [[5, { sending: true, problem: "" }]]));
    const ack = li.querySelector<HTMLButtonElement>("[data-testid=ack]")!;
    expect(ack.disabled).toBe(true);
    expect(ack.textContent).toBe("Acknowledging…");
  });
});

describe("alert detail", () => {
  it("lists who acknowledged (who, when), who has not, and who is overdue", () => {
    const b = board(true);
    b.apply(ev(2, "alert.acknowledged", { alert_id: 5, exercise: true, agency: "NA-CUS", pending: ["NA-POL", "NA-AIR"] }, 3));
    b.apply(ev(3, "alert.escalated", { alert_id: 5, exercise: true, agency: "NA-AIR", due_at: at(15), notified: [] }, 16));
    const article = alertDetail(b.get(5)!, ctx(["NA-IMM"], [], 10));
    expect(article.querySelector("[data-testid=alert-title]")?.textContent).toBe("EXERCISE — Unattended bag at arrivals");
    expect(article.querySelector(".exercise-banner [data-testid=exercise-marker]")).not.toBeNull();
    const rows = [...article.querySelectorAll<HTMLTableRowElement>("tbody tr")].map((tr) => [
      tr.dataset.agency,
      tr.dataset.standing,
      [...tr.cells].map((c) => c.textContent),
    ]);
    expect(rows[0]!.slice(0, 2)).toEqual(["NA-AIR", "overdue"]);
    expect(rows[0]![2]![1]).toBe("OVERDUE — not acknowledged");
    expect(rows[1]![0]).toBe("NA-CUS");
    expect(rows[1]![1]).toBe("acknowledged");
    expect(rows[1]![2]![2]).toBe("Helvi Nghipandulwa");
    expect(rows[1]![2]![3]).not.toBe("—");
    expect(rows[2]!.slice(0, 2)).toEqual(["NA-POL", "waiting"]);
    expect(article.querySelector("[data-testid=ack-summary]")?.textContent).toBe(
      "1 of 3 agencies acknowledged · waiting for NA-POL · OVERDUE: NA-AIR",
    );
    expect(article.querySelector("[data-testid=ack]")).toBeNull();
  });

  it("shows a refused acknowledgement as a problem", () => {
    const article = alertDetail(board(false).get(5)!, ctx(["NA-CUS"], [[5, { sending: false, problem: "The alert was cancelled." }]]));
    expect(article.querySelector("[role=alert]")?.textContent).toBe("Not acknowledged: The alert was cancelled.");
    expect(article.querySelector<HTMLButtonElement>("[data-testid=ack]")?.disabled).toBe(false);
  });
});
