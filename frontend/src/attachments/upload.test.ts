import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Outbox } from "../realtime/outbox";
import type { OutboxFile, OutboxItem, SendResult, Sender } from "../realtime/outbox";
import { fileProblem, formatSize, MAX_FILE_BYTES, sniffType, withUploads } from "./upload";
import type { Upload, UploadRequest } from "./upload";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("sniffType (decided from the bytes, like the hub)", () => {
  it("knows the four accepted types", () => {
    expect(sniffType(bytes(0xff, 0xd8, 0xff, 0xe0))).toBe("image/jpeg");
    expect(sniffType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))).toBe("image/png");
    expect(sniffType(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WEBPVP8 "))).toBe("image/webp");
    expect(sniffType(new TextEncoder().encode("%PDF-1.7\n"))).toBe("application/pdf");
  });

  it("refuses everything else, whatever its name", () => {
    expect(sniffType(new TextEncoder().encode("<html><script>"))).toBeNull();
    expect(sniffType(new TextEncoder().encode("<svg xmlns="))).toBeNull();
    expect(sniffType(bytes(0x50, 0x4b, 0x03, 0x04))).toBeNull(); // ZIP
    expect(sniffType(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WAVEfmt "))).toBeNull();
    expect(sniffType(bytes())).toBeNull();
  });

  it("says why a file cannot go", () => {
    expect(fileProblem(0, "image/png")).toBe("empty");
    expect(fileProblem(MAX_FILE_BYTES + 1, "image/png")).toBe("size");
    expect(fileProblem(10, null)).toBe("type");
    expect(fileProblem(MAX_FILE_BYTES, "application/pdf")).toBeNull();
    expect(formatSize(812, "en")).toBe("812 B");
    expect(formatSize(3.25 * 1024 * 1024, "en")).toBe("3.3 MB");
  });
});

function file(id: string, size = 4): OutboxFile {
  return { id, name: `${id}.jpg`, type: "image/jpeg", size, data: new Uint8Array(size).buffer };
}

function item(files: OutboxFile[]): OutboxItem {
  return {
    id: "m-1",
    user: "officer",
    kind: "message",
    method: "POST",
    path: "/incidents/WDH-2026-0001/messages",
    body: { body: "see photo", client_msg_id: "m-1" },
    scope: "incident:WDH-2026-0001",
    label: "see photo",
    files,
    uploadPath: "/incidents/WDH-2026-0001/attachments",
    createdAt: 1,
    status: "sending",
    attempts: 0,
    nextAttemptAt: 0,
  };
}

/** An upload double: answers from a script, one entry per call, and records the calls. */
function scriptedUpload(script: ((r: UploadRequest) => SendResult)[]) {
  const calls: UploadRequest[] = [];
  const upload: Upload = async (request) => {
    calls.push(request);
    request.onProgress(request.file.size / 2);
    const next = script.shift();
    if (!next) throw new Error("unexpected upload");
    return next(request);
  };
  return { upload, calls };
}

const stored = (id: number) => (r: UploadRequest): SendResult => ({
  kind: "ok",
  status: 201,
  data: { attachment: { id, sha256: `hash-${id}`, content_type: r.file.type, size: r.file.size, filename: r.file.name } },
});

describe("withUploads", () => {
  it("uploads each file under its own id, then writes the item with the attachment ids", async () => {
    const { upload, calls } = scriptedUpload([stored(11), stored(12)]);
    const written: OutboxItem[] = [];
    const write: Sender = async (i) => (written.push(i), { kind: "ok", status: 201, data: { seq: 9 } });
    const saves: OutboxFile[][] = [];
    const progress: number[] = [];
    const send = withUploads(write, { csrf: () => "token", upload });
    const result = await send(item([file("f-1"), file("f-2")]), { progress: (p) => progress.push(p), saveFiles: async (f) => void saves.push(f) });
    expect(result.kind).toBe("ok");
    expect(calls.map((c) => [c.url, c.file.id, c.csrf])).toEqual([
      ["/api/v1/incidents/WDH-2026-0001/attachments", "f-1", "token"],
      ["/api/v1/incidents/WDH-2026-0001/attachments", "f-2", "token"],
    ]);
    expect(written).toHaveLength(1);
    expect(written[0]?.body).toEqual({ body: "see photo", client_msg_id: "m-1", attachments: [11, 12] });
    // Each upload is recorded on the item as soon as the hub has it.
    expect(saves.map((s) => s.map((f) => f.attachment?.id ?? null))).toEqual([
      [11, null],
      [11, 12],
    ]);
    expect(progress[0]).toBe(0);
    expect(progress).toContain(0.25);
    expect(progress.at(-1)).toBe(1);
  });

  it("does not upload again a file the hub already has (a retry after the write failed)", async () => {
    const { upload, calls } = scriptedUpload([stored(12)]);
    const write: Sender = async (i) => ({ kind: "ok", status: 201, data: i.body });
    const done = { ...file("f-1"), attachment: { id: 11, sha256: "h", content_type: "image/jpeg", size: 4, filename: "f-1.jpg" } };
    const result = await withUploads(write, { csrf: () => "", upload })(item([done, file("f-2")]));
    expect(calls.map((c) => c.file.id)).toEqual(["f-2"]);
    expect(result).toMatchObject({ kind: "ok", data: { attachments: [11, 12] } });
  });

  it("fails the item with the hub's reason, naming the refused file, and writes nothing", async () => {
    const refused = (): SendResult => ({ kind: "refused", status: 415, error: { status: 415, code: "unsupported_type", detail: "Only JPEG, PNG, WebP and PDF files are accepted." } });
    const { upload } = scriptedUpload([stored(11), refused]);
    let writes = 0;
    const write: Sender = async () => (writes++, { kind: "ok", status: 201, data: null });
    const result = await withUploads(write, { csrf: () => "", upload })(item([file("f-1"), file("f-2")]));
    expect(writes).toBe(0);
    expect(result).toMatchObject({ kind: "refused", status: 415, error: { code: "unsupported_type", file: "f-2", detail: "f-2.jpg: Only JPEG, PNG, WebP and PDF files are accepted." } });
  });

  it("passes a network failure on (the outbox retries with backoff)", async () => {
    const { upload } = scriptedUpload([() => ({ kind: "network" })]);
    const write: Sender = async () => ({ kind: "ok", status: 201, data: null });
    expect(await withUploads(write, { csrf: () => "", upload })(item([file("f-1")]))).toEqual({ kind: "network" });
  });

  it("leaves items without files to the plain write", async () => {
    const { upload, calls } = scriptedUpload([]);
    const write: Sender = async (i) => ({ kind: "ok", status: 200, data: i.body });
    const plain = { ...item([]) };
    delete plain.files;
    const result = await withUploads(write, { csrf: () => "", upload })(plain);
    expect(calls).toHaveLength(0);
    expect(result).toMatchObject({ kind: "ok", data: { body: "see photo" } });
  });
});

describe("an outbox item with files", () => {
  let dbName = "";
  let n = 0;
  beforeEach(() => {
    globalThis.indexedDB = new IDBFactory();
    dbName = `files-${++n}`;
  });
  afterEach(() => undefined);

  it("keeps the bytes in IndexedDB while offline, across a reopen, sends once, then drops the bytes", async () => {
    const uploads = scriptedUpload([stored(21)]);
    const written: OutboxItem[] = [];
    const send = withUploads(async (i) => (written.push(i), { kind: "ok", status: 201, data: { seq: 3 } }), { csrf: () => "", upload: uploads.upload });
    const common = { user: "officer", dbName, send, locks: null, channel: null } as const;

    const first = await Outbox.open({ ...common, online: false });
    await first.enqueue({
      kind: "message",
      method: "POST",
      path: "/incidents/WDH-2026-0001/messages",
      body: { body: "" },
      scope: "incident:WDH-2026-0001",
      label: "photo.jpg",
      files: [{ id: "f-1", name: "photo.jpg", type: "image/jpeg", size: 3, data: new Uint8Array([0xff, 0xd8, 0xff]).buffer }],
      uploadPath: "/incidents/WDH-2026-0001/attachments",
    });
    first.close();
    expect(uploads.calls).toHaveLength(0);

    // A reload: the item and its bytes are still there.
    const second = await Outbox.open({ ...common, online: false });
    const kept = second.items.value[0];
    expect(kept?.status).toBe("pending");
    expect(new Uint8Array(kept?.files?.[0]?.data ?? new ArrayBuffer(0))).toEqual(new Uint8Array([0xff, 0xd8, 0xff]));

    second.setOnline(true);
    await second.flush();
    second.setOnline(true);
    await second.flush();
    expect(uploads.calls).toHaveLength(1);
    expect(written).toHaveLength(1);
    expect(written[0]?.body.attachments).toEqual([21]);
    const sent = second.items.value[0];
    expect(sent?.status).toBe("sent");
    expect(sent?.files?.[0]?.attachment?.id).toBe(21);
    expect(sent?.files?.[0]?.data).toBeUndefined();
    expect(second.progress.value).toEqual({});
    second.close();
  });
});
