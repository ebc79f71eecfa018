// How the web app shows each event of a stream (pure, so it is tested).

import { EXERCISE } from "./alerts";
import type { EventFrame } from "./protocol";

export interface TimelineLine {
  seq: number;
  at: string;
  who: string;
  agency: string;
  kind: "message" | "system";
  text: string;
  redacted: boolean;
  exercise: boolean;
}

function str(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function list(value: unknown): string {
  return Array.isArray(value) ? value.map(str).join(", ") : "";
}

export function describe(event: EventFrame): TimelineLine {
  const p = event.payload as Record<string, unknown>;
  const line: TimelineLine = {
    seq: event.seq,
    at: event.at,
    who: event.actor?.name ?? "Hub",
    agency: event.actor?.agency ?? "",
    kind: "system",
    text: event.kind,
    redacted: Boolean(p.redacted),
    exercise: Boolean(p.exercise),
  };
  switch (event.kind) {
    case "incident.reported":
      line.text = `reported: ${str(p.title)} (${str(p.category)}, ${str(p.severity)})`;
      break;
    case "incident.updated":
      line.text = `updated ${Object.keys((p.changes as object) ?? {}).join(", ")}`;
      break;
    case "incident.transitioned":
      line.text = `status ${str(p.from_status)} → ${str(p.to_status)}${p.reason ? ` — ${str(p.reason)}` : ""}`;
      break;
    case "incident.agency_invited":
      line.text = `invited ${str(p.agency)}`;
      break;
    case "incident.lead_changed":
      line.text = `lead ${str(p.old)} → ${str(p.new)}`;
      break;
    case "message.posted":
      line.kind = "message";
      line.text = line.redacted ? "[redacted]" : str(p.body);
      break;
    case "message.edited":
      line.text = line.redacted ? "edited a message [redacted]" : `edited a message: ${str(p.body)}`;
      break;
    case "message.redacted":
      line.text = `redacted a message — ${str(p.reason)}`;
      break;
    case "alert.issued":
      line.text = `alert: ${str(p.title)} (${str(p.severity)}) to ${list(p.targets)}`;
      break;
    case "alert.updated": {
      const changes = (p.changes ?? {}) as Record<string, { new?: unknown }>;
      const title = changes.title?.new;
      line.text = `updated alert ${str(p.alert_id)}${title ? ` (now "${str(title)}")` : ""}: ${Object.keys(changes).join(", ")}`;
      break;
    }
    case "alert.acknowledged":
      line.text = `acknowledged alert ${str(p.alert_id)} for ${str(p.agency)}`;
      break;
    case "alert.escalated":
      line.text = `alert ${str(p.alert_id)} overdue for ${str(p.agency)}; notified ${list(p.notified)}`;
      break;
    case "alert.cancelled":
      line.text = `cancelled alert ${str(p.alert_id)} — ${str(p.reason)}`;
      break;
    case "alert.expired":
      line.text = `alert ${str(p.alert_id)} expired`;
      break;
    case "operation.started":
      line.text = `started joint operation ${str(p.ref)}: ${str(p.title)}`;
      break;
    case "operation.progress": {
      const progress = p.progress as Record<string, number> | undefined;
      line.text = `operation ${str(p.ref)}: ${progress?.done ?? 0}/${progress?.total ?? 0} done`;
      break;
    }
    case "task.status_changed":
      line.text = `task ${str(p.task_id)}: ${str(p.from_status)} → ${str(p.to_status)}`;
      break;
    default:
      line.text = event.kind.replace(".", " ");
  }
  // Every line about a drill (every alert.* kind of an exercise alert) carries the marker.
  if (line.exercise) {
    line.text = `${EXERCISE} — ${line.text}`;
  }
  return line;
}
