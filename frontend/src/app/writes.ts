// Every write an officer makes, as an outbox item: stored in IndexedDB first
// (keyed by its client_msg_id), shown as pending, sent once when live. Each
// helper names the REST call, the screen that shows it (`scope`) and the text
// to keep for the officer (`label`).

import { outboxSignal } from "../realtime/live";
import type { OutboxFile, OutboxItem, OutboxKind } from "../realtime/outbox";
import { newClientMsgId } from "../realtime/ids";

const enc = encodeURIComponent;

export class OutboxUnavailable extends Error {}

async function put(input: {
  kind: OutboxKind;
  method: OutboxItem["method"];
  path: string;
  body: Record<string, unknown>;
  scope: string;
  label: string;
  meta?: Record<string, unknown>;
  id?: string;
  files?: OutboxFile[];
  uploadPath?: string;
}): Promise<OutboxItem> {
  const outbox = outboxSignal.value;
  if (outbox === null) {
    throw new OutboxUnavailable("the outbox is not open");
  }
  const id = input.id ?? newClientMsgId();
  return outbox.enqueue({ ...input, id, body: { ...input.body, client_msg_id: id } });
}

export const incidentScope = (ref: string) => `incident:${ref}`;
export const incidentMetaScope = (ref: string) => `incident-meta:${ref}`;
export const alertScope = (id: number) => `alert:${id}`;
export const pointAlertsScope = (code: string) => `alerts:${code}`;

/** Where an incident's evidence files are uploaded. */
export const attachmentsPath = (ref: string) => `/incidents/${enc(ref)}/attachments`;

/** A message, with evidence files uploaded first when it has any (they travel in the outbox). */
export function postMessage(ref: string, body: string, agency?: string | null, files: OutboxFile[] = []): Promise<OutboxItem> {
  return put({
    kind: "message",
    method: "POST",
    path: `/incidents/${enc(ref)}/messages`,
    body: agency ? { body, agency } : { body },
    scope: incidentScope(ref),
    label: body || files.map((f) => f.name).join(", "),
    ...(files.length > 0 ? { files, uploadPath: attachmentsPath(ref) } : {}),
  });
}

/** Withdraw an evidence file with a reason (the hub keeps its record and hash). */
export function withdrawAttachment(ref: string, attachmentId: number, reason: string, filename: string): Promise<OutboxItem> {
  return put({
    kind: "file.withdraw",
    method: "POST",
    path: `${attachmentsPath(ref)}/${attachmentId}/withdraw`,
    body: { reason },
    scope: incidentMetaScope(ref),
    label: reason,
    meta: { attachmentId, filename },
  });
}

export function editMessage(ref: string, messageId: number, body: string): Promise<OutboxItem> {
  return put({
    kind: "edit",
    method: "PATCH",
    path: `/incidents/${enc(ref)}/messages/${messageId}`,
    body: { body },
    scope: incidentScope(ref),
    label: body,
    meta: { messageId },
  });
}

export function redactMessage(ref: string, messageId: number, reason: string): Promise<OutboxItem> {
  return put({
    kind: "redact",
    method: "POST",
    path: `/incidents/${enc(ref)}/messages/${messageId}/redact`,
    body: { reason },
    scope: incidentScope(ref),
    label: reason,
    meta: { messageId },
  });
}

export function transition(ref: string, to: string, reason: string): Promise<OutboxItem> {
  return put({
    kind: "transition",
    method: "POST",
    path: `/incidents/${enc(ref)}/transitions`,
    body: { to, reason },
    scope: incidentMetaScope(ref),
    label: reason || to,
    meta: { to },
  });
}

export function inviteAgency(ref: string, agency: string, note: string): Promise<OutboxItem> {
  return put({
    kind: "invite",
    method: "POST",
    path: `/incidents/${enc(ref)}/agencies`,
    body: { agency, note },
    scope: incidentMetaScope(ref),
    label: note || agency,
    meta: { agency },
  });
}

export function setLead(ref: string, agency: string): Promise<OutboxItem> {
  return put({
    kind: "lead",
    method: "PUT",
    path: `/incidents/${enc(ref)}/lead`,
    body: { agency },
    scope: incidentMetaScope(ref),
    label: agency,
    meta: { agency },
  });
}

export function acknowledgeAlert(alertId: number, agency: string): Promise<OutboxItem> {
  return put({
    kind: "ack",
    method: "POST",
    path: `/alerts/${alertId}/ack`,
    body: { agency },
    scope: alertScope(alertId),
    label: agency,
    meta: { agency },
  });
}

/** A report keeps the id the form generated, so a resend of the same form is one incident. */
export function reportIncident(id: string, payload: Record<string, unknown>): Promise<OutboxItem> {
  return put({
    id,
    kind: "report",
    method: "POST",
    path: "/incidents",
    body: payload,
    scope: "report",
    label: String(payload.title ?? ""),
  });
}

export function issueAlert(id: string, code: string, payload: Record<string, unknown>): Promise<OutboxItem> {
  return put({
    id,
    kind: "alert.issue",
    method: "POST",
    path: `/crossing-points/${enc(code)}/alerts`,
    body: payload,
    scope: pointAlertsScope(code),
    label: String(payload.title ?? ""),
  });
}

export function updateAlert(id: string, alertId: number, changes: Record<string, unknown>): Promise<OutboxItem> {
  return put({
    id,
    kind: "alert.update",
    method: "PATCH",
    path: `/alerts/${alertId}`,
    body: changes,
    scope: alertScope(alertId),
    label: String(changes.title ?? ""),
  });
}

export function cancelAlert(alertId: number, reason: string): Promise<OutboxItem> {
  return put({
    kind: "alert.cancel",
    method: "POST",
    path: `/alerts/${alertId}/cancel`,
    body: { reason },
    scope: alertScope(alertId),
    label: reason,
  });
}

/** Wait until the outbox has recorded (or refused) the item with this id. */
export function settled(id: string): Promise<OutboxItem> {
  return new Promise((resolve) => {
    const outbox = outboxSignal.value;
    if (outbox === null) return;
    let done = false;
    let stop: (() => void) | null = null;
    stop = outbox.items.subscribe((items: OutboxItem[]) => {
      const item = items.find((i) => i.id === id);
      if (!done && item && (item.status === "sent" || item.status === "failed")) {
        done = true;
        stop?.();
        resolve(item);
      }
    });
    if (done) stop();
  });
}

// --- joint operations (part 2) ------------------------------------------------------

export const operationScope = (ref: string) => `operation:${ref}`;

export function startOperation(id: string, payload: Record<string, unknown>): Promise<OutboxItem> {
  return put({ id, kind: "task", method: "POST", path: "/operations", body: payload, scope: "operation-start", label: String(payload.title ?? payload.template ?? "") });
}

/** A task change; evidence files (of the operation's incident) are uploaded first and added to the task. */
export function changeTask(
  ref: string,
  taskId: number,
  changes: Record<string, unknown>,
  label: string,
  files: OutboxFile[] = [],
  incident: string | null = null,
): Promise<OutboxItem> {
  return put({
    ...(files.length > 0 && incident !== null ? { files, uploadPath: attachmentsPath(incident) } : {}),
    kind: "task",
    method: "PATCH",
    path: `/operations/${enc(ref)}/tasks/${taskId}`,
    body: changes,
    scope: operationScope(ref),
    label,
    meta: { taskId, action: changes.status ? `status:${String(changes.status)}` : changes.assigned_agency !== undefined || changes.assignees !== undefined ? "assign" : "note" },
  });
}

export function cosignTask(ref: string, taskId: number, note: string): Promise<OutboxItem> {
  return put({ kind: "task", method: "POST", path: `/operations/${enc(ref)}/tasks/${taskId}/cosign`, body: { note }, scope: operationScope(ref), label: note, meta: { taskId, action: "cosign" } });
}

export function removeTask(ref: string, taskId: number, reason: string): Promise<OutboxItem> {
  return put({ kind: "task", method: "POST", path: `/operations/${enc(ref)}/tasks/${taskId}/remove`, body: { reason }, scope: operationScope(ref), label: reason, meta: { taskId, action: "remove" } });
}

export function addTask(ref: string, payload: Record<string, unknown>): Promise<OutboxItem> {
  return put({ kind: "task", method: "POST", path: `/operations/${enc(ref)}/tasks`, body: payload, scope: operationScope(ref), label: String(payload.title ?? ""), meta: { action: "add" } });
}

export function closeOperation(ref: string, note: string): Promise<OutboxItem> {
  return put({ kind: "task", method: "POST", path: `/operations/${enc(ref)}/close`, body: { note }, scope: operationScope(ref), label: note, meta: { action: "close" } });
}

// --- situation reports (part 2) -----------------------------------------------------

export type SitrepSubject = "incident" | "operation";

export const sitrepScope = (kind: SitrepSubject, ref: string) => `sitrep:${kind}:${ref}`;

function subjectPath(kind: SitrepSubject, ref: string): string {
  return kind === "incident" ? `/incidents/${enc(ref)}` : `/operations/${enc(ref)}`;
}

export function postSitrep(id: string, kind: SitrepSubject, ref: string, payload: Record<string, unknown>): Promise<OutboxItem> {
  return put({ id, kind: "sitrep", method: "POST", path: `${subjectPath(kind, ref)}/sitreps`, body: payload, scope: sitrepScope(kind, ref), label: String(payload.situation ?? ""), meta: { action: "post" } });
}

export function setSitrepCadence(kind: SitrepSubject, ref: string, everyMinutes: number | null): Promise<OutboxItem> {
  return put({ kind: "sitrep", method: "PUT", path: `${subjectPath(kind, ref)}/sitrep-cadence`, body: { every_minutes: everyMinutes }, scope: sitrepScope(kind, ref), label: String(everyMinutes ?? "—"), meta: { action: "cadence" } });
}
