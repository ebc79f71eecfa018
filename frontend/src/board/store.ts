// The crossing-point board's live state: the incidents the officer may see at
// the point (kept current by their streams, and by `notice` frames for new
// ones), the point's alerts (its `crossing:<CODE>` stream), who is online, and
// the last-known copy for an offline start.

import { batch, signal } from "@preact/signals";
import { ApiError } from "../api/client";
import { getAlert, getIncident, listAlerts, listIncidents, streamHead } from "../api/endpoints";
import type { IncidentQuery } from "../api/endpoints";
import { AlertBoard, restoreInto } from "../alerts/store";
import type { AlertState, Applied } from "../alerts/store";
import { loadCached, saveCached } from "../realtime/cache";
import type { FeedListener } from "../realtime/feeds";
import { liveFeeds, onFrame, onPendingAlerts } from "../realtime/live";
import type { EventFrame, Presence } from "../realtime/protocol";
import { applyIncidentEvent, isOpen } from "../incidents/state";
import type { IncidentState } from "../incidents/state";

export interface BoardSnapshot {
  incidents: IncidentState[];
  alerts: AlertState[];
}

/** How long to wait before retrying a failed load (ms). */
const RETRY_MS = 5000;

export class BoardStore {
  readonly incidents = signal<Map<string, IncidentState>>(new Map());
  readonly alertsVersion = signal(0);
  readonly presence = signal<Presence["online"]>({});
  readonly loading = signal(true);
  readonly problem = signal<string | null>(null);
  /** When the shown state was last live (ms); null while live. */
  readonly staleSince = signal<number | null>(null);
  readonly alerts = new AlertBoard();
  /** Alert events that arrived live (not from replay), for announcements. */
  onAlertChange: ((applied: Applied, alert: AlertState | undefined) => void) | null = null;
  onNewIncident: ((incident: IncidentState) => void) | null = null;

  private readonly stops: (() => void)[] = [];
  private readonly follows = new Map<string, () => void>();
  private readonly fetchingAlerts = new Set<number>();
  private crossingCaughtUp = false;
  private stopped = false;
  private query: IncidentQuery = {};

  constructor(readonly code: string) {}

  get crossingStream(): string {
    return `crossing:${this.code}`;
  }

  /** Start live: load, subscribe, listen for notices. */
  async start(query: IncidentQuery): Promise<void> {
    this.query = query;
    this.stops.push(
      onFrame((frame) => {
        if (frame.type === "notice" && frame.kind === "incident" && frame.crossing_point === this.code && typeof frame.ref === "string") {
          void this.refreshIncident(frame.ref, true);
        }
      }),
      onPendingAlerts((frame) => {
        for (const pending of frame.alerts) {
          if (pending.crossing_point === this.code && this.alerts.get(pending.id) === undefined) this.fetchAlert(pending.id);
        }
      }),
    );
    await Promise.all([this.loadIncidents(), this.followCrossing(false)]);
  }

  /** Show the last-known state (offline start). Returns false when there is none. */
  async startOffline(): Promise<boolean> {
    const cached = await loadCached<BoardSnapshot>(`board:${this.code}`);
    if (cached === null) {
      this.loading.value = false;
      return false;
    }
    batch(() => {
      this.incidents.value = new Map(cached.value.incidents.map((i) => [i.ref, i]));
      restoreInto(this.alerts, cached.value.alerts);
      this.alertsVersion.value += 1;
      this.staleSince.value = cached.savedAt;
      this.loading.value = false;
    });
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.stops.splice(0).forEach((s) => s());
    for (const stop of this.follows.values()) stop();
    this.follows.clear();
  }

  /** New server-side filters: reload the list. */
  async setQuery(query: IncidentQuery): Promise<void> {
    this.query = query;
    await this.loadIncidents();
  }

  private save(): void {
    void saveCached(`board:${this.code}`, {
      incidents: [...this.incidents.value.values()],
      alerts: this.alerts.all(),
    } satisfies BoardSnapshot, false);
  }

  private async loadIncidents(): Promise<void> {
    try {
      const page = await listIncidents({ ...this.query, crossing_point: this.code, limit: 200 });
      if (this.stopped) return;
      const map = new Map<string, IncidentState>();
      for (const item of page.items) map.set(item.ref, item as IncidentState);
      batch(() => {
        this.incidents.value = map;
        this.loading.value = false;
        this.problem.value = null;
      });
      this.syncFollows();
      this.save();
    } catch (error) {
      if (this.stopped) return;
      this.loading.value = false;
      this.problem.value = error instanceof ApiError ? error.code : "network";
      setTimeout(() => {
        if (!this.stopped && this.problem.value !== null) void this.loadIncidents();
      }, RETRY_MS);
    }
  }

  /** Follow the stream of every open incident listed (status and activity, live). */
  private syncFollows(): void {
    const wanted = new Set<string>();
    for (const incident of this.incidents.value.values()) {
      if (isOpen(incident)) wanted.add(incident.ref);
    }
    for (const [ref, stop] of this.follows) {
      if (!wanted.has(ref)) {
        stop();
        this.follows.delete(ref);
      }
    }
    for (const ref of wanted) {
      if (this.follows.has(ref)) continue;
      const incident = this.incidents.value.get(ref);
      if (incident === undefined) continue;
      const listener: FeedListener = {
        after: incident.seq,
        event: (event) => this.incidentEvent(ref, event),
        gap: () => void this.refreshIncident(ref, false),
        resync: () => void this.refreshIncident(ref, false),
        revoked: () => {
          this.follows.delete(ref);
          const next = new Map(this.incidents.value);
          next.delete(ref);
          this.incidents.value = next;
        },
      };
      this.follows.set(ref, liveFeeds().follow(`incident:${ref}`, listener));
    }
  }

  private incidentEvent(ref: string, event: EventFrame): void {
    const current = this.incidents.value.get(ref);
    if (current === undefined) return;
    const next = applyIncidentEvent(current, event);
    if (next === current) return;
    const map = new Map(this.incidents.value);
    map.set(ref, next);
    this.incidents.value = map;
    this.save();
  }

  /** Mark an incident read up to `seq` locally (the room reports it to the hub). */
  markRead(ref: string, seq: number): void {
    const current = this.incidents.value.get(ref);
    if (current === undefined || (current.read_seq ?? 0) >= seq) return;
    const map = new Map(this.incidents.value);
    map.set(ref, { ...current, read_seq: seq });
    this.incidents.value = map;
  }

  /** Fetch one incident (a notice said it is new or changed). */
  async refreshIncident(ref: string, announce: boolean): Promise<void> {
    try {
      const incident = (await getIncident(ref)) as IncidentState;
      if (this.stopped || incident.crossing_point !== this.code) return;
      const had = this.incidents.value.has(ref);
      const map = new Map(this.incidents.value);
      const current = map.get(ref);
      if (current === undefined || incident.seq >= current.seq) map.set(ref, incident);
      this.incidents.value = map;
      this.syncFollows();
      this.save();
      if (!had && announce) this.onNewIncident?.(incident);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        const map = new Map(this.incidents.value);
        if (map.delete(ref)) this.incidents.value = map;
      }
    }
  }

  // --- alerts -----------------------------------------------------------------

  /**
   * The point's alerts: the stream head first, then a snapshot (which reflects
   * at least that head), then the stream from that head. Events the snapshot
   * already holds change nothing (alerts/store.ts).
   */
  private async followCrossing(resync: boolean): Promise<void> {
    let head: number | null = null;
    try {
      head = await streamHead(this.crossingStream);
      for (const alert of await listAlerts(this.code)) this.alerts.merge(alert);
      this.alertsVersion.value += 1;
      this.save();
    } catch {
      head = null;
    }
    if (this.stopped) return;
    if (resync) {
      if (head === null) setTimeout(() => void this.followCrossing(true), RETRY_MS);
      else liveFeeds().resume(this.crossingStream, head);
      return;
    }
    this.stops.push(
      liveFeeds().follow(this.crossingStream, {
        after: head ?? 0,
        event: (event) => this.alertEvent(event),
        caughtUp: () => {
          this.crossingCaughtUp = true;
        },
        resync: () => void this.followCrossing(true),
        presence: (frame) => {
          this.presence.value = frame.online;
        },
        revoked: () => {
          for (const alert of this.alerts.all()) this.alerts.remove(alert.id);
          this.alertsVersion.value += 1;
        },
      }),
    );
  }

  private alertEvent(event: EventFrame): void {
    const applied = this.alerts.apply(event);
    if (applied === null) return;
    if (!applied.known) {
      if (applied.change !== "cancelled" && applied.change !== "expired") this.fetchAlert(applied.alertId);
      return;
    }
    if (applied.changed) {
      this.alertsVersion.value += 1;
      this.save();
      if (this.crossingCaughtUp) this.onAlertChange?.(applied, this.alerts.get(applied.alertId));
    }
  }

  fetchAlert(id: number): void {
    if (this.fetchingAlerts.has(id)) return;
    this.fetchingAlerts.add(id);
    getAlert(id)
      .then((alert) => {
        const isNew = this.alerts.get(id) === undefined;
        if (this.alerts.merge(alert)) {
          this.alertsVersion.value += 1;
          this.save();
          if (isNew && this.crossingCaughtUp) this.onAlertChange?.({ alertId: id, change: "issued", known: true, changed: true }, this.alerts.get(id));
        }
      })
      .catch(() => undefined)
      .finally(() => this.fetchingAlerts.delete(id));
  }
}
