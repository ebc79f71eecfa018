// The evidence files of one incident as the room shows them: their metadata
// (the list endpoint on open, then the incident's live `attachment.*` events),
// and their derivatives (view image, thumbnail) fetched as blobs.
//
// A derivative is made in the background after the upload: until then the hub
// answers 409 `derivative_pending`, and the picture is asked for again with a
// growing delay. Originals are never fetched here: "download original" is a
// plain link, for those allowed (mayDownloadOriginal), and the hub logs it.

import { signal, type Signal } from "@preact/signals";
import type { AttachmentOut } from "../api/types";
import type { EventFrame } from "../realtime/protocol";

const enc = encodeURIComponent;

export type AttachmentMeta = AttachmentOut;

export function attachmentUrl(ref: string, id: number, kind?: "view" | "thumbnail"): string {
  return `/api/v1/incidents/${enc(ref)}/attachments/${id}${kind ? `/${kind}` : ""}`;
}

type Payload = Record<string, unknown>;

/** Metadata from an `attachment.added` event, before (or instead of) the list endpoint's. */
export function metaFromEvent(ref: string, event: EventFrame): AttachmentMeta | null {
  const p = event.payload as Payload;
  if (event.kind !== "attachment.added" || typeof p.attachment_id !== "number") return null;
  return {
    id: p.attachment_id,
    incident: ref,
    seq: event.seq,
    sha256: String(p.sha256 ?? ""),
    size: Number(p.size ?? 0),
    content_type: String(p.content_type ?? ""),
    filename: String(p.filename ?? ""),
    uploaded_by: { id: event.actor?.id ?? 0, username: event.actor?.username ?? String(p.uploader ?? ""), name: event.actor?.name ?? String(p.uploader ?? "") },
    agency: String(p.agency ?? event.actor?.agency ?? ""),
    created_at: event.at,
    withdrawn: false,
    withdrawn_at: null,
    withdrawn_by: null,
    withdrawn_reason: null,
    derivatives: { view: false, thumbnail: false },
  } as AttachmentMeta;
}

export class IncidentFiles {
  readonly items = signal<ReadonlyMap<number, AttachmentMeta>>(new Map());
  readonly loaded = signal(false);

  constructor(
    readonly ref: string,
    private readonly fetchList: (ref: string) => Promise<{ items: AttachmentMeta[] }> = defaultList,
  ) {}

  async load(): Promise<void> {
    try {
      const page = await this.fetchList(this.ref);
      const map = new Map(this.items.value);
      for (const item of page.items) map.set(item.id, item);
      this.items.value = map;
      this.loaded.value = true;
    } catch {
      // Rows still show from events; thumbnails are fetched by id.
    }
  }

  /** Fold live or replayed events in (added, withdrawn). */
  apply(events: readonly EventFrame[]): void {
    let map: Map<number, AttachmentMeta> | null = null;
    for (const event of events) {
      const p = event.payload as Payload;
      if (event.kind === "attachment.added") {
        const meta = metaFromEvent(this.ref, event);
        if (meta && !(map ?? this.items.value).has(meta.id)) {
          map ??= new Map(this.items.value);
          map.set(meta.id, meta);
        }
      } else if (event.kind === "attachment.withdrawn" && typeof p.attachment_id === "number") {
        const known = (map ?? this.items.value).get(p.attachment_id);
        if (known && !known.withdrawn) {
          map ??= new Map(this.items.value);
          map.set(p.attachment_id, {
            ...known,
            withdrawn: true,
            withdrawn_at: event.at,
            withdrawn_reason: String(p.reason ?? ""),
            withdrawn_by: event.actor ? { id: event.actor.id ?? 0, username: event.actor.username ?? "", name: event.actor.name } : null,
            derivatives: { view: false, thumbnail: false },
          } as AttachmentMeta);
        }
      }
    }
    if (map) this.items.value = map;
  }

  get(id: number): AttachmentMeta | undefined {
    return this.items.value.get(id);
  }
}

async function defaultList(ref: string): Promise<{ items: AttachmentMeta[] }> {
  const { api } = await import("../api/client");
  return api<{ items: AttachmentMeta[] }>("GET", `/incidents/${enc(ref)}/attachments`);
}

// --- derivatives ------------------------------------------------------------------

export type PictureState =
  | { status: "loading" }
  | { status: "pending" } // being made; asked again later
  | { status: "ready"; url: string }
  | { status: "none"; code: string }; // no picture: withdrawn, failed, refused

/** Delays between asks while a derivative is being made (ms); the last repeats. */
export const PENDING_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000];
/** Give up asking after this many 409 derivative_pending answers (about 10 minutes). */
export const PENDING_MAX_ASKS = 26;

export interface PictureFetch {
  (url: string): Promise<Response>;
}

const pictures = new Map<string, Signal<PictureState>>();
const order: string[] = [];
const KEEP = 300;

/**
 * The state of one derivative, fetched once per page (and kept for the next
 * render): the same key always gives the same signal.
 */
export function picture(url: string, fetcher: PictureFetch = defaultFetch, schedule = defaultSchedule): Signal<PictureState> {
  const known = pictures.get(url);
  if (known) return known;
  const state = signal<PictureState>({ status: "loading" });
  pictures.set(url, state);
  order.push(url);
  while (order.length > KEEP) {
    const old = order.shift();
    const gone = old === undefined ? undefined : pictures.get(old);
    if (old !== undefined && gone) {
      if (gone.value.status === "ready") URL.revokeObjectURL(gone.value.url);
      pictures.delete(old);
    }
  }
  void fetchPicture(url, state, fetcher, schedule, 0);
  return state;
}

/** Forget a picture (e.g. the file was withdrawn). */
export function forgetPicture(url: string): void {
  const known = pictures.get(url);
  if (known?.value.status === "ready") URL.revokeObjectURL(known.value.url);
  pictures.delete(url);
}

async function fetchPicture(
  url: string,
  state: Signal<PictureState>,
  fetcher: PictureFetch,
  schedule: (fn: () => void, ms: number) => void,
  asked: number,
): Promise<void> {
  const again = () => {
    if (asked + 1 >= PENDING_MAX_ASKS) {
      state.value = { status: "none", code: "derivative_pending" };
      return;
    }
    state.value = { status: "pending" };
    const delay = PENDING_DELAYS_MS[Math.min(asked, PENDING_DELAYS_MS.length - 1)] ?? 30_000;
    schedule(() => void fetchPicture(url, state, fetcher, schedule, asked + 1), delay);
  };
  let response: Response;
  try {
    response = await fetcher(url);
  } catch {
    again(); // offline: try again later
    return;
  }
  if (response.ok) {
    const blob = await response.blob();
    state.value = { status: "ready", url: URL.createObjectURL(blob) };
    return;
  }
  const body = (await response.json().catch(() => ({}))) as { code?: unknown };
  const code = typeof body.code === "string" ? body.code : `http_${response.status}`;
  if (response.status === 409 && code === "derivative_pending") {
    again();
    return;
  }
  if (response.status >= 500 || response.status === 429) {
    again();
    return;
  }
  state.value = { status: "none", code };
}

const defaultFetch: PictureFetch = (url) => fetch(url, { credentials: "same-origin" });
const defaultSchedule = (fn: () => void, ms: number) => void setTimeout(fn, ms);

export interface Membership {
  agency: string;
  role: string;
  crossing_points: string[];
}

/** Mirrors hub/attachments/permissions.py can_download_original (the hub decides). */
export function mayDownloadOriginal(memberships: readonly Membership[], point: string, leadAgency: string | null | undefined): boolean {
  return memberships.some(
    (m) => m.crossing_points.includes(point) && (m.role === "senior_official" || (m.role === "coordinator" && leadAgency !== null && leadAgency !== undefined && m.agency === leadAgency)),
  );
}

/** Mirrors can_withdraw: the officials above, or the uploader. */
export function mayWithdraw(memberships: readonly Membership[], point: string, leadAgency: string | null | undefined, uploader: string, me: string): boolean {
  return mayDownloadOriginal(memberships, point, leadAgency) || (uploader !== "" && uploader === me);
}
