// The duty officer's screen: incidents, their live channel, and pending alerts.

import { agenciesAt, ApiError, crossingPointsServed, getAlert, getIncident, getMe, listAlerts, listIncidents, signIn, signOut, streamHead } from "./api";
import type { IncidentSummary, Me } from "./api";
import { AlertBoard, displayTitle, owedBy } from "./alerts";
import type { AlertState, Applied } from "./alerts";
import { alertDetail, alertItem } from "./alerts-view";
import type { AckProgress, AlertViewContext } from "./alerts-view";
import { h, rerender, time } from "./dom";
import type { ErrorFrame, EventFrame, PendingAlerts, Presence } from "./protocol";
import { HubSocket, newClientMsgId, socketUrl } from "./realtime";
import type { ConnectionStatus } from "./realtime";
import { describe } from "./timeline";

/** Re-evaluate due times and expiries this often (overdue is a matter of time). */
const CLOCK_MS = 30_000;
/** Retry a crossing point's snapshot after a failed resync this long after. */
const RETRY_MS = 5_000;

export async function mountApp(root: HTMLElement): Promise<void> {
  let me: Me;
  try {
    me = await getMe();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      renderSignIn(root);
      return;
    }
    throw error;
  }
  new OfficerScreen(root, me).start();
}

function renderSignIn(root: HTMLElement): void {
  const username = h("input", { name: "username", autocomplete: "username", required: "" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: "" });
  const problem = h("p", { class: "problem", role: "alert" });
  const form = h(
    "form",
    { class: "sign-in", "data-testid": "sign-in" },
    h("h2", {}, "Sign in"),
    h("label", {}, "Username", username),
    h("label", {}, "Password", password),
    h("button", { type: "submit" }, "Sign in"),
    problem,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(username.value, password.value)
      .then(() => mountApp(root))
      .catch((error: unknown) => {
        problem.textContent = error instanceof ApiError ? error.detail : "Could not sign in.";
      });
  });
  root.replaceChildren(form);
}

class OfficerScreen {
  private readonly socket: HubSocket;
  private readonly status = h("span", { class: "connection", "data-testid": "connection" }, "connecting");
  private readonly incidentList = h("ul", { class: "incidents", "data-testid": "incidents", "aria-labelledby": "incidents-heading" });
  private readonly alertList = h("ul", { class: "alerts", "data-testid": "alerts", "aria-labelledby": "alerts-heading" });
  private readonly owedCount = h("span", { class: "owed-count", "data-testid": "alerts-owed" });
  /** Screen readers hear new alerts, acknowledgements and escalations here. */
  private readonly announcer = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite", "data-testid": "announce" });
  private readonly detail = h("section", { class: "detail", "data-testid": "detail" }, h("p", { class: "hint" }, "Choose an alert or an incident."));
  private current: string | null = null;
  private selectedAlert: number | null = null;
  private readonly board = new AlertBoard();
  private readonly acking = new Map<number, AckProgress>();
  private readonly fetching = new Set<number>();
  /** Crossing streams past their first caught_up: their events are news, not history. */
  private readonly caughtUp = new Set<string>();
  /** Crossing streams this screen follows. */
  private readonly followed = new Set<string>();
  /** Re-delivered alerts not on the board yet, by the stream expected to bring them. */
  private readonly awaiting = new Map<number, string>();
  private clock: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly me: Me,
  ) {
    this.socket = new HubSocket({
      url: socketUrl(),
      onStatus: (s: ConnectionStatus) => this.showStatus(s),
      onPendingAlerts: (frame) => this.pendingAlerts(frame),
    });
  }

  start(): void {
    const agencies = [...new Set(this.me.memberships.map((m) => m.agency))].join(", ");
    const logout = h("button", { type: "button", class: "link", "data-testid": "sign-out" }, "Sign out");
    logout.addEventListener("click", () => {
      this.stop();
      void signOut().then(() => mountApp(this.root));
    });
    this.root.replaceChildren(
      h("div", { class: "who" }, h("strong", { "data-testid": "me" }, this.me.name), ` · ${agencies} · `, this.status, " ", logout),
      this.announcer,
      h(
        "div",
        { class: "layout" },
        h(
          "aside",
          {},
          h("h2", { id: "alerts-heading" }, "Alerts ", this.owedCount),
          this.alertList,
          h("h2", { id: "incidents-heading" }, "Incidents"),
          this.incidentList,
        ),
        this.detail,
      ),
    );
    this.renderAlerts();
    this.socket.start();
    for (const code of crossingPointsServed(this.me)) {
      void this.followCrossing(code, false);
    }
    this.clock = setInterval(() => this.refresh(), CLOCK_MS);
    void this.loadIncidents();
  }

  private stop(): void {
    this.socket.stop();
    if (this.clock !== null) {
      clearInterval(this.clock);
      this.clock = null;
    }
  }

  private showStatus(status: ConnectionStatus): void {
    this.status.textContent = status;
    this.status.dataset.status = status;
    if (status === "signed-out") {
      this.stop();
      void mountApp(this.root);
    }
  }

  // --- alerts -----------------------------------------------------------------------

  /**
   * Follow a crossing point's alerts: the stream's head first, then a snapshot of
   * its current alerts (which reflects at least that head), then the stream from
   * that head. Events the snapshot already holds change nothing (alerts.ts).
   * Without a snapshot the stream is replayed from the start of the record.
   */
  private async followCrossing(code: string, resync: boolean): Promise<void> {
    const stream = `crossing:${code}`;
    this.followed.add(stream);
    let head: number | null = null;
    try {
      head = await streamHead(stream);
      for (const alert of await listAlerts(code)) {
        this.board.merge(alert);
      }
      this.renderAlerts();
    } catch {
      head = null;
    }
    if (resync) {
      if (head === null) {
        setTimeout(() => void this.followCrossing(code, true), RETRY_MS);
      } else {
        this.socket.resume(stream, head);
      }
      return;
    }
    this.socket.subscribe(
      stream,
      {
        event: (event) => this.alertEvent(event),
        caughtUp: () => this.streamCaughtUp(stream),
        resync: () => void this.followCrossing(code, true),
        revoked: () => {
          this.followed.delete(stream);
          this.caughtUp.delete(stream);
          for (const alert of this.board.all()) {
            if (alert.crossingPoint === code) {
              this.board.remove(alert.id);
            }
          }
          this.renderAlerts();
        },
      },
      head ?? 0,
    );
  }

  private alertEvent(event: EventFrame): void {
    const applied = this.board.apply(event);
    if (applied === null) {
      return;
    }
    if (!applied.known) {
      if (applied.change !== "cancelled" && applied.change !== "expired") {
        this.fetchAlert(applied.alertId);
      }
      return;
    }
    if (applied.changed) {
      if (this.caughtUp.has(event.stream)) {
        this.announce(applied);
      }
      this.renderAlerts();
    }
  }

  /**
   * Unacknowledged alerts the hub re-delivers (on connect, and after each crossing
   * stream catches up): make sure each one is on the board. A stream still loading
   * will most likely bring it, so it is checked once that stream has caught up.
   */
  private pendingAlerts(frame: PendingAlerts): void {
    for (const pending of frame.alerts) {
      if (this.board.get(pending.id) !== undefined) {
        continue;
      }
      if (this.followed.has(pending.stream) && !this.caughtUp.has(pending.stream)) {
        this.awaiting.set(pending.id, pending.stream);
      } else {
        this.fetchAlert(pending.id);
      }
    }
  }

  private streamCaughtUp(stream: string): void {
    this.caughtUp.add(stream);
    for (const [id, waitingFor] of this.awaiting) {
      if (waitingFor === stream) {
        this.awaiting.delete(id);
        if (this.board.get(id) === undefined) {
          this.fetchAlert(id);
        }
      }
    }
  }

  private fetchAlert(id: number): void {
    if (this.fetching.has(id)) {
      return;
    }
    this.fetching.add(id);
    getAlert(id)
      .then((alert) => {
        if (this.board.merge(alert)) {
          this.renderAlerts();
        }
      })
      .catch(() => undefined)
      .finally(() => this.fetching.delete(id));
  }

  private mine(alert: AlertState): string[] {
    return agenciesAt(this.me, alert.crossingPoint);
  }

  private announce(applied: Applied): void {
    const alert = this.board.get(applied.alertId);
    if (alert === undefined) {
      return;
    }
    const title = displayTitle(alert);
    const owed = owedBy(alert, this.mine(alert), Date.now());
    let text = "";
    switch (applied.change) {
      case "issued":
        text = `New ${alert.severity} alert at ${alert.crossingPoint}: ${title}.${owed.length ? ` ${owed.join(", ")} must acknowledge.` : ""}`;
        break;
      case "acknowledged":
        if (alert.id === this.selectedAlert || this.mine(alert).includes(alert.issuingAgency)) {
          text = `${applied.agency ?? "An agency"} acknowledged: ${title}.`;
        }
        break;
      case "escalated":
        if (owed.length || alert.id === this.selectedAlert) {
          text = `Overdue, not acknowledged: ${title}.`;
        }
        break;
      case "cancelled":
        text = `Alert cancelled: ${title}.`;
        break;
      case "updated":
        if (alert.id === this.selectedAlert || owed.length) {
          text = `Alert updated: ${title}.`;
        }
        break;
      case "expired":
        break;
    }
    if (text) {
      this.announcer.textContent = text;
    }
  }

  private viewContext(): AlertViewContext {
    return {
      now: Date.now(),
      mine: (alert) => this.mine(alert),
      acking: this.acking,
      selected: this.selectedAlert,
      onOpen: (id) => this.openAlert(id),
      onAck: (id) => this.acknowledge(id),
      onOpenIncident: (ref) => void this.open(ref),
    };
  }

  private renderAlerts(): void {
    const ctx = this.viewContext();
    const items = this.board.visible(ctx.now, (alert) => this.mine(alert));
    const owed = items.filter((alert) => owedBy(alert, this.mine(alert), ctx.now).length > 0).length;
    this.owedCount.textContent = owed ? `(${owed} to acknowledge)` : "";
    rerender(this.alertList, () =>
      items.length === 0 ? [h("li", { class: "hint" }, "No current alerts.")] : items.map((alert) => alertItem(alert, ctx)),
    );
    if (this.selectedAlert !== null) {
      this.renderAlertDetail(ctx);
    }
  }

  private renderAlertDetail(ctx: AlertViewContext = this.viewContext()): void {
    const alert = this.selectedAlert === null ? undefined : this.board.get(this.selectedAlert);
    rerender(this.detail, () => [alert ? alertDetail(alert, ctx) : h("p", { class: "hint" }, "This alert is no longer available.")]);
  }

  /** Re-evaluate what time changes: due times passing, expiries. */
  private refresh(): void {
    this.renderAlerts();
  }

  private openAlert(id: number): void {
    if (this.current !== null) {
      this.socket.unsubscribe(this.current);
      this.current = null;
    }
    this.selectedAlert = id;
    this.renderAlerts();
    this.detail.querySelector<HTMLElement>("[data-focus-fallback]")?.focus();
  }

  /** Acknowledge for the officer's agency over the WebSocket (resent after a reconnect). */
  private acknowledge(id: number): void {
    if (this.acking.get(id)?.sending) {
      return;
    }
    this.acking.set(id, { sending: true, problem: "" });
    this.renderAlerts();
    this.socket
      .ackAlert(id, newClientMsgId())
      .then(() => {
        this.acking.delete(id);
        const alert = this.board.get(id);
        // The alert.acknowledged event normally arrives on the crossing stream;
        // if it has not yet, the REST view brings the same change.
        if (alert === undefined || owedBy(alert, this.mine(alert), Date.now()).length > 0) {
          this.fetchAlert(id);
        }
        this.renderAlerts();
      })
      .catch((error: ErrorFrame) => {
        if (error.code === "already_acknowledged") {
          this.acking.delete(id);
          this.fetchAlert(id);
        } else {
          this.acking.set(id, { sending: false, problem: error.detail || "refused" });
          if (error.code === "alert_cancelled" || error.code === "alert_expired") {
            this.fetchAlert(id);
          }
        }
        this.renderAlerts();
      });
  }

  // --- incidents ----------------------------------------------------------------------

  private async loadIncidents(): Promise<void> {
    const { items } = await listIncidents();
    if (items.length === 0) {
      this.incidentList.replaceChildren(h("li", { class: "hint" }, "No incidents you can see."));
      return;
    }
    this.incidentList.replaceChildren(
      ...items.map((incident) => {
        const button = h(
          "button",
          { type: "button", class: `incident severity-${incident.severity}`, "data-ref": incident.ref },
          h("span", { class: "ref" }, incident.ref),
          " ",
          incident.title,
          h("span", { class: "status" }, ` ${incident.status}`),
        );
        button.addEventListener("click", () => void this.open(incident.ref));
        return h("li", {}, button);
      }),
    );
  }

  private async open(ref: string): Promise<void> {
    let incident: IncidentSummary;
    try {
      incident = await getIncident(ref);
    } catch (error) {
      const why = error instanceof ApiError && error.status === 404 ? "it is not shared with your agency" : "the hub did not answer";
      this.detail.append(h("p", { class: "problem", role: "alert" }, `Cannot open incident ${ref}: ${why}.`));
      return;
    }
    if (this.current !== null) {
      this.socket.unsubscribe(this.current);
    }
    this.current = incident.stream;
    if (this.selectedAlert !== null) {
      this.selectedAlert = null;
      this.renderAlerts();
    }
    const timeline = h("ol", { class: "timeline", "data-testid": "timeline" });
    const presence = h("p", { class: "presence", "data-testid": "presence" });
    const typing = h("p", { class: "typing", "data-testid": "typing" });
    const body = h("textarea", { name: "body", rows: "2", placeholder: "Message the agencies on this incident", "aria-label": "Message", "data-testid": "composer" });
    const send = h("button", { type: "submit", "data-testid": "send" }, "Send");
    const form = h("form", { class: "composer" }, body, send);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = body.value.trim();
      if (!text) {
        return;
      }
      body.value = "";
      const outgoing = h("li", { class: "message pending" }, h("span", { class: "text" }, text), h("span", { class: "meta" }, " sending…"));
      timeline.append(outgoing);
      this.socket
        .sendMessage(incident.stream, text)
        .then(() => outgoing.remove())
        .catch((error: { detail?: string }) => {
          outgoing.classList.add("failed");
          outgoing.lastElementChild!.textContent = ` not sent: ${error.detail ?? "refused"}`;
        });
    });
    body.addEventListener("input", () => this.socket.typing(incident.stream));
    this.detail.replaceChildren(this.header(incident), presence, timeline, typing, form);
    this.socket.subscribe(incident.stream, {
      event: (event: EventFrame) => this.append(timeline, event),
      presence: (frame: Presence) => {
        presence.textContent = `Online: ${Object.entries(frame.online)
          .map(([agency, users]) => `${agency} (${users.map((u) => u.name).join(", ")})`)
          .join(" · ")}`;
      },
      typing: (frame) => {
        typing.textContent = `${frame.user.name} (${frame.user.agency ?? ""}) is typing…`;
        setTimeout(() => (typing.textContent = ""), 3000);
      },
      revoked: () => {
        this.detail.replaceChildren(h("p", { class: "problem" }, "Your access to this incident has ended."));
      },
    });
  }

  private header(incident: IncidentSummary): HTMLElement {
    return h(
      "header",
      {},
      h("h2", { "data-testid": "incident-title" }, `${incident.ref} — ${incident.title}`),
      h(
        "p",
        { class: "meta" },
        `${incident.crossing_point} · ${incident.category} · ${incident.severity} · ${incident.status} · lead ${incident.lead_agency} · agencies ${incident.participating_agencies.join(", ")}`,
      ),
      h("p", {}, incident.description),
    );
  }

  private append(timeline: HTMLElement, event: EventFrame): void {
    const line = describe(event);
    const mine = event.actor?.username === this.me.username;
    timeline.append(
      h(
        "li",
        {
          class: `${line.kind}${mine ? " mine" : ""}${line.redacted ? " redacted" : ""}${line.exercise ? " exercise" : ""}`,
          "data-seq": String(line.seq),
          "data-kind": event.kind,
        },
        h("span", { class: "meta" }, `${time(line.at)} ${line.who}${line.agency ? ` (${line.agency})` : ""}: `),
        h("span", { class: "text" }, line.text),
      ),
    );
    timeline.scrollTop = timeline.scrollHeight;
  }
}
