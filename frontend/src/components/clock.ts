// A shared clock for what changes with time alone (due times, countdowns,
// "3 min ago"): one timer for the whole app, not one per row.

import { signal } from "@preact/signals";

export const now = signal(Date.now());
let timer: ReturnType<typeof setInterval> | null = null;

export function startClock(everyMs = 1000): void {
  if (timer === null) {
    timer = setInterval(() => {
      now.value = Date.now();
    }, everyMs);
  }
}

export function stopClock(): void {
  if (timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}
