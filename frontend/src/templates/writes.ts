// Publishing a template goes through the persisted outbox like every other
// write: stored in IndexedDB first (keyed by the editor's client_msg_id, so a
// double click or a resend publishes one version), shown as pending, sent once
// when live. The same shape as app/writes.ts `put`, kept here so the template
// screens own their writes.

import { OutboxUnavailable } from "../app/writes";
import { outboxSignal } from "../realtime/live";
import type { OutboxItem } from "../realtime/outbox";

const enc = encodeURIComponent;

export const templateScope = (code: string) => `template:${code}`;

function enqueue(id: string, path: string, body: Record<string, unknown>, scope: string, label: string, meta: Record<string, unknown>): Promise<OutboxItem> {
  const outbox = outboxSignal.value;
  if (outbox === null) {
    throw new OutboxUnavailable("the outbox is not open");
  }
  return outbox.enqueue({ id, kind: "task", method: "POST", path, body: { ...body, client_msg_id: id }, scope, label, meta });
}

/** Version 1 of a new template (administrators). */
export function createTemplate(id: string, payload: Record<string, unknown>): Promise<OutboxItem> {
  return enqueue(id, "/checklist-templates", payload, templateScope(String(payload.code ?? "")), String(payload.title ?? ""), { action: "template.create" });
}

/** A new version of `code`, edited from `payload.base_version` (administrators). */
export function publishTemplateVersion(id: string, code: string, payload: Record<string, unknown>): Promise<OutboxItem> {
  return enqueue(id, `/checklist-templates/${enc(code)}/versions`, payload, templateScope(code), String(payload.title ?? ""), {
    action: "template.revise",
    base_version: payload.base_version,
  });
}
