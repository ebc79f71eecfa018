// The last-known state of the screens an officer had open (the session, the
// boards and the incident rooms), kept in IndexedDB so that after one visit the
// app opens without a network and shows them read-only, marked with the time
// they were last live. Writes are coalesced: a busy room saves at most once a
// second. Nothing here is the record; the hub is.

import { openDB } from "idb";
import type { IDBPDatabase } from "idb";

const DB = "hub-cache";
const STORE = "snapshots";
const SAVE_EVERY_MS = 1000;

export interface Cached<T> {
  key: string;
  value: T;
  /** When this state was last live (ms since epoch). */
  savedAt: number;
}

let dbPromise: Promise<IDBPDatabase> | null = null;

function db(): Promise<IDBPDatabase> | null {
  if (typeof indexedDB === "undefined") {
    return null;
  }
  dbPromise ??= openDB(DB, 1, {
    upgrade(database) {
      database.createObjectStore(STORE, { keyPath: "key" });
    },
  });
  return dbPromise;
}

const pending = new Map<string, { value: unknown; timer: ReturnType<typeof setTimeout> }>();

async function write(key: string, value: unknown): Promise<void> {
  const handle = db();
  if (handle === null) return;
  try {
    await (await handle).put(STORE, { key, value, savedAt: Date.now() } satisfies Cached<unknown>);
  } catch {
    // A full or unavailable store only costs the offline start.
  }
}

/** Save now (`immediate`) or within a second, keeping only the latest value. */
export function saveCached(key: string, value: unknown, immediate = true): Promise<void> {
  if (immediate) {
    const queued = pending.get(key);
    if (queued) {
      clearTimeout(queued.timer);
      pending.delete(key);
    }
    return write(key, value);
  }
  const queued = pending.get(key);
  if (queued) {
    queued.value = value;
    return Promise.resolve();
  }
  const timer = setTimeout(() => {
    const latest = pending.get(key);
    pending.delete(key);
    if (latest) void write(key, latest.value);
  }, SAVE_EVERY_MS);
  pending.set(key, { value, timer });
  return Promise.resolve();
}

export async function loadCached<T>(key: string): Promise<Cached<T> | null> {
  const handle = db();
  if (handle === null) return null;
  try {
    return ((await (await handle).get(STORE, key)) as Cached<T> | undefined) ?? null;
  } catch {
    return null;
  }
}

/** Forget everything (sign-out: the next officer on this tablet must not read it). */
export async function clearCached(): Promise<void> {
  const handle = db();
  if (handle === null) return;
  try {
    await (await handle).clear(STORE);
  } catch {
    // nothing to clear
  }
}
