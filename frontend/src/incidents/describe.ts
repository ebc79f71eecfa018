// One readable, translated line per event of a stream (the room's system rows,
// the board's "last activity"). Every event kind the hub defines has a line.

import { formatSize } from "../attachments/upload";
import { label, locale, t, tDynamic } from "../i18n";
import type { EventFrame } from "../realtime/protocol";

type Payload = Record<string, unknown>;

function str(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function list(value: unknown): string {
  return Array.isArray(value) ? value.map(str).join(", ") : "";
}

function changedFields(changes: unknown): string {
  return Object.keys((changes as object | null) ?? {})
    .map((f) => tDynamic(`field.${f}`, undefined, f.replace(/_/g, " ")))
    .join(", ");
}

export function describeEvent(event: Pick<EventFrame, "kind" | "payload">): string {
  const p = event.payload as Payload;
  let text: string;
  switch (event.kind) {
    case "incident.reported":
      text = t("event.incident.reported", { title: str(p.title), category: label("category", str(p.category)), severity: label("severity", str(p.severity)) });
      break;
    case "incident.updated":
      text = t("event.incident.updated", { fields: changedFields(p.changes) });
      break;
    case "incident.transitioned":
      text = p.reason
        ? t("event.incident.transitioned.reason", { from: label("status", str(p.from_status)), to: label("status", str(p.to_status)), reason: str(p.reason) })
        : t("event.incident.transitioned", { from: label("status", str(p.from_status)), to: label("status", str(p.to_status)) });
      break;
    case "incident.agency_invited":
      text = t("event.incident.agency_invited", { agency: str(p.agency) });
      break;
    case "incident.lead_changed":
      text = t("event.incident.lead_changed", { old: str(p.old), new: str(p.new) });
      break;
    case "message.posted":
      text = p.redacted ? t("message.redacted.placeholder") : str(p.body);
      break;
    case "message.edited":
      text = p.redacted ? t("event.message.edited.redacted") : t("event.message.edited", { body: str(p.body) });
      break;
    case "message.redacted":
      text = t("event.message.redacted", { reason: str(p.reason) });
      break;
    case "alert.issued":
      text = t("event.alert.issued", { title: str(p.title), severity: label("severity", str(p.severity)), targets: list(p.targets) });
      break;
    case "alert.updated":
      text = t("event.alert.updated", { id: str(p.alert_id), fields: changedFields(p.changes) });
      break;
    case "alert.acknowledged":
      text = t("event.alert.acknowledged", { id: str(p.alert_id), agency: str(p.agency) });
      break;
    case "alert.escalated":
      text = t("event.alert.escalated", { id: str(p.alert_id), agency: str(p.agency), notified: list(p.notified) });
      break;
    case "alert.cancelled":
      text = t("event.alert.cancelled", { id: str(p.alert_id), reason: str(p.reason) });
      break;
    case "alert.expired":
      text = t("event.alert.expired", { id: str(p.alert_id) });
      break;
    case "operation.started":
      text = t("event.operation.started", { ref: str(p.ref), title: str(p.title) });
      break;
    case "operation.closed":
      text = t("event.operation.closed", { ref: str(p.ref), note: str(p.note) });
      break;
    case "operation.progress": {
      const progress = (p.progress ?? {}) as Record<string, number>;
      text = t("event.operation.progress", { ref: str(p.ref), done: progress.done ?? 0, total: progress.total ?? 0 });
      break;
    }
    case "task.added":
      text = t("event.task.added", { title: str((p.task as Payload | undefined)?.title) });
      break;
    case "task.removed":
      text = t("event.task.removed", { id: str(p.task_id), reason: str(p.reason) });
      break;
    case "task.assigned":
      text = t("event.task.assigned", { id: str(p.task_id), agency: str(p.agency) || "—", officers: list(p.assignees) || "—" });
      break;
    case "task.status_changed":
      text = t("event.task.status_changed", { id: str(p.task_id), from: label("task", str(p.from_status)), to: label("task", str(p.to_status)) });
      break;
    case "task.noted":
      text = t("event.task.noted", { id: str(p.task_id), note: str(p.note) });
      break;
    case "task.cosigned":
      text = t("event.task.cosigned", { id: str(p.task_id), agency: str(p.agency) });
      break;
    case "task.overdue":
      text = t("event.task.overdue", { id: str(p.task_id), agency: str(p.agency) || "—" });
      break;
    case "sitrep.posted":
      text = t("event.sitrep.posted", { n: str(p.number), situation: str(p.situation) });
      break;
    case "sitrep.cadence_set":
      text = p.every_minutes ? t("event.sitrep.cadence_set", { minutes: str(p.every_minutes) }) : t("event.sitrep.cadence_cleared");
      break;
    case "sitrep.overdue":
      text = t("event.sitrep.overdue", { notified: list(p.notified) || "—" });
      break;
    case "attachment.added":
      text = t("event.attachment.added", { id: str(p.attachment_id), name: str(p.filename), size: formatSize(Number(p.size ?? 0), locale.value) });
      break;
    case "attachment.withdrawn":
      text = t("event.attachment.withdrawn", { id: str(p.attachment_id), reason: str(p.reason) });
      break;
    case "attachment.original_downloaded":
      text = t("event.attachment.original_downloaded", { id: str(p.attachment_id) });
      break;
    case "template.published":
      text = t("event.template.published", { code: str(p.code), version: str(p.version) });
      break;
    default:
      text = event.kind.replace(/[._]/g, " ");
  }
  if (event.kind.startsWith("alert.") && p.exercise) {
    text = t("event.exercise", { text });
  }
  return text;
}
