// Getting an officer's attention: aria-live announcements (assertive for
// critical alerts, polite otherwise), an unread count in the page title while
// the tab is hidden, and desktop notifications — only after the officer turned
// them on from the settings menu, never asked for on load.

import { computed, signal } from "@preact/signals";
import { t } from "../i18n";

export const politeAnnouncement = signal("");
export const assertiveAnnouncement = signal("");
export const unseenWhileHidden = signal(0);
export const notificationsEnabled = signal(readNotificationSetting());

const SETTING = "hub.notifications";

function readNotificationSetting(): boolean {
  try {
    return (
      typeof Notification !== "undefined" && Notification.permission === "granted" && localStorage.getItem(SETTING) === "on"
    );
  } catch {
    return false;
  }
}

const CLEAR_AFTER_MS = 5000;
let clearTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * Read `text` out. The live region is emptied again after a few seconds: it
 * is for hearing news, not a record, and text that is later redacted must not
 * linger in the page.
 */
export function announce(text: string, assertive = false): void {
  const target = assertive ? assertiveAnnouncement : politeAnnouncement;
  // The same text twice must still be read out: clear, then set.
  target.value = "";
  queueMicrotask(() => {
    target.value = text;
  });
  if (clearTimer !== null) clearTimeout(clearTimer);
  clearTimer = setTimeout(() => {
    politeAnnouncement.value = "";
    assertiveAnnouncement.value = "";
    clearTimer = null;
  }, CLEAR_AFTER_MS);
}

export const notificationSupport = computed(() => typeof Notification !== "undefined");

/** Ask the browser (from the settings menu only). Returns whether they are on now. */
export async function enableNotifications(): Promise<boolean> {
  if (typeof Notification === "undefined") return false;
  const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
  const on = permission === "granted";
  try {
    localStorage.setItem(SETTING, on ? "on" : "off");
  } catch {
    // private mode: the choice lasts this visit
  }
  notificationsEnabled.value = on;
  return on;
}

export function disableNotifications(): void {
  try {
    localStorage.setItem(SETTING, "off");
  } catch {
    // ignore
  }
  notificationsEnabled.value = false;
}

/**
 * Something needs this officer (an alert to their agency, a mention). While
 * the tab is hidden it counts in the title and, if enabled, notifies.
 */
export function attention(title: string, body: string, url: string | null): void {
  if (typeof document === "undefined" || !document.hidden) return;
  unseenWhileHidden.value += 1;
  if (notificationsEnabled.value && typeof Notification !== "undefined" && Notification.permission === "granted") {
    try {
      const note = new Notification(title, { body, tag: url ?? undefined });
      note.onclick = () => {
        window.focus();
        if (url) history.pushState(null, "", url), dispatchEvent(new PopStateEvent("popstate"));
        note.close();
      };
    } catch {
      // Some browsers only notify from a service worker; the title count remains.
    }
  }
}

export function installTitleCounter(): void {
  const base = () => t("app.title");
  const update = () => {
    document.title = unseenWhileHidden.value > 0 ? `(${unseenWhileHidden.value}) ${base()}` : base();
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) unseenWhileHidden.value = 0;
  });
  unseenWhileHidden.subscribe(update);
}
