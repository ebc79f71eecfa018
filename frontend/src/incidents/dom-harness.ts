// Test helpers for the form screens in jsdom (used by *.test.tsx only): wait
// for a condition, find by data-testid, type into a control, and open a real
// outbox on fake-indexeddb whose sender the test controls.

import { Outbox } from "../realtime/outbox";
import type { OutboxItem, SendResult } from "../realtime/outbox";

/** Long enough for Preact's effects (they run after the next frame, at most ~35 ms). */
export const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function byTestId(root: ParentNode, testId: string): HTMLElement {
  const el = root.querySelector<HTMLElement>(`[data-testid="${testId}"]`);
  if (el === null) throw new Error(`no element with data-testid=${testId}`);
  return el;
}

/** Set a control's value and fire what Preact listens to (input, or change for selects and boxes). */
export function typeInto(el: HTMLElement, value: string | boolean): void {
  if (el instanceof HTMLInputElement && (el.type === "checkbox" || el.type === "radio")) {
    el.checked = Boolean(value);
    el.dispatchEvent(new Event("change", { bubbles: true }));
    return;
  }
  const control = el as HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
  control.value = String(value);
  control.dispatchEvent(new Event(control instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
}

export interface FakeHub {
  outbox: Outbox;
  sent: OutboxItem[];
  answer: (item: OutboxItem) => SendResult | Promise<SendResult>;
}

let dbCount = 0;

export async function openTestOutbox(user: string): Promise<FakeHub> {
  const hub = { sent: [] as OutboxItem[], answer: (() => ({ kind: "network" })) as FakeHub["answer"] } as FakeHub;
  hub.outbox = await Outbox.open({
    user,
    dbName: `forms-test-${Date.now()}-${++dbCount}`,
    locks: null,
    channel: null,
    send: async (item) => {
      hub.sent.push(item);
      return hub.answer(item);
    },
  });
  hub.outbox.setOnline(true);
  return hub;
}
