// How the alerts panel and an alert's detail look (DOM only; the state is alerts.ts).
//
// A drill shows its EXERCISE marker on every surface: the list item, the detail
// (a banner and the title) and, through timeline.ts, the incident timeline.

import { ackSummary, displayTitle, endedAt, EXERCISE, isLive, owedBy, standing } from "./alerts";
import type { AlertState, Standing, TargetState } from "./alerts";
import { h, when } from "./dom";

export interface AckProgress {
  /** The write is in the outbox (sent, or waiting for the connection). */
  sending: boolean;
  /** Why the hub refused it, if it did. */
  problem: string;
}

export interface AlertViewContext {
  now: number;
  /** The officer's agencies at the alert's crossing point. */
  mine: (alert: AlertState) => readonly string[];
  acking: ReadonlyMap<number, AckProgress>;
  selected: number | null;
  onOpen: (alertId: number) => void;
  onAck: (alertId: number) => void;
  onOpenIncident: (ref: string) => void;
}

const STANDING_TEXT: Record<Standing, string> = {
  acknowledged: "Acknowledged",
  waiting: "Not yet acknowledged",
  overdue: "OVERDUE — not acknowledged",
  not_required: "No acknowledgement required",
};

function exerciseBadge(): HTMLElement {
  return h("strong", { class: "badge exercise", "data-testid": "exercise-marker" }, EXERCISE);
}

function endedText(alert: AlertState, now: number): string {
  const at = endedAt(alert, now);
  const stamp = at === null ? "" : ` ${when(new Date(at).toISOString(), now)}`;
  if (alert.status === "cancelled") {
    return `Cancelled${stamp}${alert.cancelReason ? ` — ${alert.cancelReason}` : ""}`;
  }
  return `Expired${stamp}`;
}

function ackButton(alert: AlertState, owed: readonly string[], ctx: AlertViewContext, where: string): HTMLElement | null {
  if (owed.length === 0) {
    return null;
  }
  const progress = ctx.acking.get(alert.id);
  const label = progress?.sending
    ? "Acknowledging…"
    : owed.length === 1
      ? `Acknowledge for ${owed[0]}`
      : "Acknowledge for my agency";
  const button = h(
    "button",
    {
      type: "button",
      class: "ack",
      "data-testid": "ack",
      "data-alert": String(alert.id),
      "data-focus-key": `${where}-ack-${alert.id}`,
      "aria-label": `${label}: ${displayTitle(alert)}`,
    },
    label,
  );
  if (progress?.sending) {
    button.setAttribute("disabled", "");
    button.setAttribute("aria-busy", "true");
  }
  button.addEventListener("click", () => ctx.onAck(alert.id));
  return button;
}

function problem(alert: AlertState, ctx: AlertViewContext): HTMLElement | null {
  const text = ctx.acking.get(alert.id)?.problem;
  return text ? h("p", { class: "problem", role: "alert" }, `Not acknowledged: ${text}`) : null;
}

/** One line of the alerts list. */
export function alertItem(alert: AlertState, ctx: AlertViewContext): HTMLElement {
  const { now } = ctx;
  const live = isLive(alert, now);
  const owed = owedBy(alert, ctx.mine(alert), now);
  const summary = ackSummary(alert, now);
  const mineOverdue = alert.targets.some((t) => owed.includes(t.agency) && standing(alert, t, now) === "overdue");
  const classes = [
    "alert",
    `severity-${alert.severity}`,
    alert.exercise ? "exercise" : "",
    owed.length ? "owed" : "",
    summary.overdue.length ? "overdue" : "",
    live ? "" : "ended",
    ctx.selected === alert.id ? "selected" : "",
  ].filter(Boolean);
  const state = !live
    ? endedText(alert, now)
    : owed.length
      ? `${mineOverdue ? "OVERDUE — " : ""}${owed.join(", ")} must acknowledge`
      : alert.ackRequired
        ? `${summary.acknowledged.length} of ${alert.targets.length} acknowledged`
        : "For information";
  const open = h(
    "button",
    {
      type: "button",
      class: "alert-open",
      "data-testid": "alert-open",
      "data-focus-key": `open-${alert.id}`,
      ...(ctx.selected === alert.id ? { "aria-current": "true" } : {}),
    },
    alert.exercise ? exerciseBadge() : null,
    alert.exercise ? " " : null,
    h("span", { class: "alert-title" }, alert.title),
    h("span", { class: "meta" }, `${alert.crossingPoint} · ${alert.severity} · from ${alert.issuingAgency} · ${when(alert.createdAt, now)}`),
    h("span", { class: `alert-state${mineOverdue ? " urgent" : ""}` }, state),
  );
  open.addEventListener("click", () => ctx.onOpen(alert.id));
  return h(
    "li",
    {
      class: classes.join(" "),
      "data-alert-id": String(alert.id),
      "data-exercise": String(alert.exercise),
      "data-status": live ? "active" : alert.status === "active" ? "expired" : alert.status,
    },
    open,
    ackButton(alert, owed, ctx, "list"),
    problem(alert, ctx),
  );
}

function targetRow(alert: AlertState, target: TargetState, ctx: AlertViewContext): HTMLElement {
  const s = standing(alert, target, ctx.now);
  const mine = ctx.mine(alert).includes(target.agency);
  let by = "—";
  let at = "—";
  if (s === "acknowledged") {
    by = target.acknowledgedBy?.name ?? "an officer";
    at = target.acknowledgedAt ? when(target.acknowledgedAt, ctx.now) : "";
  } else if (s === "overdue") {
    at = target.escalatedAt
      ? `escalated ${when(target.escalatedAt, ctx.now)}`
      : target.dueAt
        ? `due ${when(target.dueAt, ctx.now)}`
        : "";
  } else if (s === "waiting" && target.dueAt && isLive(alert, ctx.now)) {
    at = `due ${when(target.dueAt, ctx.now)}`;
  }
  return h(
    "tr",
    { class: `standing-${s}${mine ? " mine" : ""}`, "data-agency": target.agency, "data-standing": s },
    h("th", { scope: "row" }, target.agency, mine ? " (you)" : ""),
    h("td", {}, STANDING_TEXT[s]),
    h("td", {}, by),
    h("td", {}, at),
  );
}

/** The detail of one alert: what it says, and who acknowledged it (who, when) and who has not. */
export function alertDetail(alert: AlertState, ctx: AlertViewContext): HTMLElement {
  const { now } = ctx;
  const live = isLive(alert, now);
  const owed = owedBy(alert, ctx.mine(alert), now);
  const summary = ackSummary(alert, now);
  const names = (targets: TargetState[]) => targets.map((t) => t.agency).join(", ");
  const parts = [`${summary.acknowledged.length} of ${alert.targets.length} agencies acknowledged`];
  if (summary.waiting.length) {
    parts.push(`waiting for ${names(summary.waiting)}`);
  }
  if (summary.overdue.length) {
    parts.push(`OVERDUE: ${names(summary.overdue)}`);
  }
  const incident = alert.incident;
  const incidentLink = incident
    ? h("button", { type: "button", class: "link", "data-testid": "alert-incident" }, `Open incident ${incident}`)
    : null;
  incidentLink?.addEventListener("click", () => ctx.onOpenIncident(incident as string));
  const ownAck = alert.targets.filter((t) => ctx.mine(alert).includes(t.agency) && t.acknowledgedAt !== null);
  return h(
    "article",
    {
      class: `alert-detail severity-${alert.severity}${alert.exercise ? " exercise" : ""}`,
      "data-testid": "alert-detail",
      "data-alert-id": String(alert.id),
      "data-exercise": String(alert.exercise),
      "aria-labelledby": "alert-detail-title",
    },
    alert.exercise
      ? h(
          "p",
          { class: "exercise-banner" },
          exerciseBadge(),
          " This alert is an exercise (a drill). Act as instructed for the drill.",
        )
      : null,
    h(
      "h2",
      { id: "alert-detail-title", "data-testid": "alert-title", tabindex: "-1", "data-focus-fallback": "" },
      displayTitle(alert),
    ),
    h(
      "p",
      { class: "meta" },
      `${alert.crossingPoint} · severity ${alert.severity} · ${alert.category.replaceAll("_", " ")} · ${alert.urgency} · ${alert.certainty} · version ${alert.version}`,
    ),
    h(
      "p",
      { class: "meta" },
      `Issued by ${alert.issuedBy?.name ?? "the hub"} (${alert.issuingAgency}) ${when(alert.createdAt, now)}`,
      alert.expiresAt && live ? ` · expires ${when(alert.expiresAt, now)}` : "",
    ),
    live ? null : h("p", { class: "ended-note", "data-testid": "alert-ended" }, endedText(alert, now)),
    alert.body ? h("p", { class: "alert-body" }, alert.body) : null,
    incidentLink,
    h(
      "div",
      { class: "ack-area" },
      ackButton(alert, owed, ctx, "detail"),
      owed.length === 0 && ownAck.length
        ? h(
            "p",
            { class: "ok" },
            ownAck
              .map((t) => `${t.agency} acknowledged${t.acknowledgedBy ? ` (${t.acknowledgedBy.name})` : ""} ${t.acknowledgedAt ? when(t.acknowledgedAt, now) : ""}`)
              .join(" · "),
          )
        : null,
      problem(alert, ctx),
    ),
    h("h3", { id: "ack-heading" }, "Acknowledgements"),
    alert.ackRequired
      ? h("p", { class: "ack-summary", "data-testid": "ack-summary" }, parts.join(" · "))
      : h("p", { class: "ack-summary", "data-testid": "ack-summary" }, "For information: no acknowledgement required."),
    h(
      "table",
      { class: "targets", "data-testid": "ack-table", "aria-labelledby": "ack-heading" },
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, "Agency"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "By"), h("th", { scope: "col" }, "When")),
      ),
      h("tbody", {}, ...alert.targets.map((t) => targetRow(alert, t, ctx))),
    ),
  );
}
