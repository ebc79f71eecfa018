// Evidence files on their way to the hub: what the browser accepts before the
// hub decides again, the multipart upload with progress, and the sender that
// uploads an outbox item's files before its write.
//
// The hub decides a file's type from its bytes and refuses everything but
// JPEG, PNG, WebP and PDF (hub/attachments/inspection.py), and anything larger
// than its limit. The browser checks the same first, so an officer learns at
// once, next to the file, that a file will not go; the hub's answer still
// decides (a refused upload fails the item with the hub's reason).

import { errorFrom } from "../realtime/outbox";
import type { OutboxFile, OutboxItem, SendContext, Sender, SendResult } from "../realtime/outbox";

/** The hub's default limit (HUB_ATTACHMENT_MAX_BYTES); the hub's 413 decides. */
export const MAX_FILE_BYTES = 25 * 1024 * 1024;
/** The hub's limit of files per message (hub/attachments/selectors.py). */
export const MAX_FILES = 10;

export type FileProblem = "type" | "size" | "empty";

const starts = (bytes: Uint8Array, magic: number[], at = 0) => magic.every((b, i) => bytes[at + i] === b);

/** The content type the bytes are, among those the hub accepts; null otherwise. */
export function sniffType(bytes: Uint8Array): string | null {
  if (starts(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (starts(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts(bytes, [0x52, 0x49, 0x46, 0x46]) && starts(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return "image/webp";
  if (starts(bytes, [0x25, 0x50, 0x44, 0x46, 0x2d])) return "application/pdf";
  return null;
}

/** Why a file cannot go (checked in the browser), or null. */
export function fileProblem(size: number, type: string | null, max = MAX_FILE_BYTES): FileProblem | null {
  if (size === 0) return "empty";
  if (size > max) return "size";
  if (type === null) return "type";
  return null;
}

export function isImage(type: string): boolean {
  return type === "image/jpeg" || type === "image/png" || type === "image/webp";
}

/** A short human size: 812 B, 14 KB, 3.2 MB. */
export function formatSize(bytes: number, locale?: string): string {
  const format = (n: number, digits: number) => new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(n);
  if (bytes < 1024) return `${format(bytes, 0)} B`;
  if (bytes < 1024 * 1024) return `${format(bytes / 1024, 0)} KB`;
  return `${format(bytes / (1024 * 1024), 1)} MB`;
}

export interface UploadRequest {
  url: string;
  file: OutboxFile;
  csrf: string;
  onProgress: (loaded: number) => void;
  timeoutMs: number;
}
export type Upload = (request: UploadRequest) => Promise<SendResult>;

/** One multipart upload with XMLHttpRequest (fetch has no upload progress). */
export const xhrUpload: Upload = (request) =>
  new Promise<SendResult>((resolve) => {
    const data = request.file.data;
    if (data === undefined) {
      resolve({ kind: "refused", status: 410, error: { status: 410, code: "file_lost", detail: "The file is no longer in this browser.", file: request.file.id } });
      return;
    }
    const form = new FormData();
    form.append("client_msg_id", request.file.id);
    form.append("file", new Blob([data], { type: request.file.type }), request.file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", request.url);
    xhr.timeout = request.timeoutMs;
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", request.csrf);
    xhr.upload.onprogress = (e) => request.onProgress(e.loaded);
    xhr.onload = () => {
      let parsed: unknown;
      try {
        parsed = xhr.responseText ? (JSON.parse(xhr.responseText) as unknown) : null;
      } catch {
        parsed = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ kind: "ok", status: xhr.status, data: parsed ?? null });
        return;
      }
      const result: SendResult = { kind: "refused", status: xhr.status, error: errorFrom(xhr.status, xhr.statusText, parsed) };
      const retryAfter = Number(xhr.getResponseHeader("Retry-After"));
      if (Number.isFinite(retryAfter) && retryAfter > 0) result.retryAfterMs = retryAfter * 1000;
      resolve(result);
    };
    xhr.onerror = () => resolve({ kind: "network" });
    xhr.ontimeout = () => resolve({ kind: "network" });
    xhr.onabort = () => resolve({ kind: "network" });
    xhr.send(form);
  });

export interface UploadsOptions {
  base?: string; // default "/api/v1"
  csrf: () => string;
  refreshCsrf?: () => Promise<void>;
  upload?: Upload;
  timeoutMs?: number; // per file; default 10 minutes (a 25 MB file on a slow link)
}

interface AttachmentAnswer {
  attachment?: { id?: unknown; sha256?: unknown; content_type?: unknown; size?: unknown; filename?: unknown };
}

function recorded(data: unknown): OutboxFile["attachment"] | null {
  const a = (data as AttachmentAnswer | null)?.attachment;
  if (!a || typeof a.id !== "number") return null;
  return {
    id: a.id,
    sha256: String(a.sha256 ?? ""),
    content_type: String(a.content_type ?? ""),
    size: Number(a.size ?? 0),
    filename: String(a.filename ?? ""),
  };
}

/**
 * A sender for items with files: each file not yet uploaded goes first (in
 * order, each recorded on the item as soon as the hub has it), then `write`
 * sends the item with `attachments` set to the ids of all its files. Any
 * failure of an upload is the item's failure, with the file named in the
 * error, and the same rules (retry or final) apply.
 */
export function withUploads(write: Sender, options: UploadsOptions): Sender {
  const base = options.base ?? "/api/v1";
  const upload = options.upload ?? xhrUpload;
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;

  async function uploadOnce(item: OutboxItem, file: OutboxFile, onProgress: (loaded: number) => void): Promise<SendResult> {
    const request = () => upload({ url: base + (item.uploadPath ?? ""), file, csrf: options.csrf(), onProgress, timeoutMs });
    let result = await request();
    if (result.kind === "refused" && result.status === 403 && result.error.code === "csrf_failed" && options.refreshCsrf) {
      try {
        await options.refreshCsrf();
      } catch {
        return { kind: "network" };
      }
      result = await request();
    }
    return result;
  }

  return async (item: OutboxItem, context?: SendContext) => {
    const files = (item.files ?? []).map((f) => ({ ...f }));
    if (files.length === 0) return write(item, context);
    const total = files.reduce((sum, f) => sum + (f.attachment ? 0 : f.size), 0) || 1;
    let done = 0;
    context?.progress(0);
    for (const file of files) {
      if (file.attachment) continue;
      const result = await uploadOnce(item, file, (loaded) => context?.progress((done + Math.min(loaded, file.size)) / total));
      if (result.kind === "network") return result;
      if (result.kind === "refused") {
        return { ...result, error: { ...result.error, detail: `${file.name}: ${result.error.detail}`, file: file.id } };
      }
      const attachment = recorded(result.data);
      if (attachment === null) {
        return { kind: "refused", status: 502, error: { status: 502, code: "bad_answer", detail: `${file.name}: the hub's answer names no file.`, file: file.id } };
      }
      file.attachment = attachment;
      done += file.size;
      context?.progress(done / total);
      await context?.saveFiles(files.map((f) => ({ ...f })));
    }
    const ids = files.map((f) => f.attachment?.id).filter((id): id is number => typeof id === "number");
    return write({ ...item, files, body: { ...item.body, attachments: ids } }, context);
  };
}
