// The offline verifier of a stream export, in the browser: the same checks, in the
// same order, with the same result codes and parameters as hub/record/verify.py
// (docs/record.md is the specification; docs/record-vectors.json is run by both
// test suites). Pure and async: SHA-256 through crypto.subtle.digest, Ed25519
// through crypto.subtle.verify. The sentences are review.verify.<code> in the
// review's locale files (English equal to the Python MESSAGES).
//
// Canonical JSON must equal Python's json.dumps(sort_keys=True,
// separators=(",", ":"), ensure_ascii=False): keys sorted by code point, strings
// escaped as JSON.stringify does (the same escapes for well-formed text), and
// numbers as Python prints them. So the file is parsed with parseJson, which
// keeps each number's text (JSON.parse would round large integers and lose 1.0
// against 1).

export const EXPORT_FORMAT = "hub-record-export/1";
export const GENESIS_HASH = "0".repeat(64);

// --- JSON with numbers kept as written ----------------------------------------------

export class JsonNumber {
  constructor(readonly text: string) {}
  get value(): number {
    return Number(this.text);
  }
  get isInteger(): boolean {
    return !/[.eE]/.test(this.text);
  }
}

export type Json = null | boolean | string | JsonNumber | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export class JsonSyntaxError extends Error {}

export function parseJson(text: string): Json {
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at character ${i}`);
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: JsonObject = Object.create(null) as JsonObject;
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        out[key] = value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: Json[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null) return fail("unexpected character");
    i += m[0].length;
    return new JsonNumber(m[0]);
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      else if (text.charCodeAt(i) < 0x20) fail("control character in a string");
      i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const out = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return out;
}

/** Python's repr of a float (what json.dumps writes): shortest round-trip digits,
 * fixed notation for exponents -4..15 (with ".0" when integral), else d.ddde±XX. */
export function pythonFloat(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError("NaN and infinities are not JSON");
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa = "", exp = "0"] = x.toExponential().split("e");
  const e = Number(exp);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (e >= -4 && e < 16) {
    if (e < 0) return `${sign}0.${"0".repeat(-e - 1)}${digits}`;
    const whole = digits.slice(0, e + 1).padEnd(e + 1, "0");
    const frac = digits.slice(e + 1);
    return `${sign}${whole}.${frac === "" ? "0" : frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const ee = Math.abs(e).toString().padStart(2, "0");
  return `${sign}${m}e${e < 0 ? "-" : "+"}${ee}`;
}

function numberText(n: JsonNumber): string {
  if (n.isInteger) return BigInt(n.text).toString(); // "-0" is 0 to Python too
  return pythonFloat(n.value);
}

function byCodePoint(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let k = 0; k < Math.min(x.length, y.length); k++) {
    const d = (x[k]?.codePointAt(0) ?? 0) - (y[k]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export function canonicalJson(value: Json | number): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pythonFloat(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof JsonNumber) return numberText(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort(byCodePoint);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] ?? null)}`).join(",")}}`;
}

// --- hashing -------------------------------------------------------------------------

const encoder = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
}

export const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
  return out;
}

/** Standard base64 in its one canonical spelling, else null. */
function fromBase64(value: Json | undefined): Uint8Array | null {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return null;
  let binary: string;
  try {
    binary = atob(value);
  } catch {
    return null;
  }
  if (btoa(binary) !== value) return null;
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export async function payloadDigest(salt: string, payload: Json): Promise<string> {
  return toHex(await sha256(fromHex(salt), encoder.encode(canonicalJson(payload))));
}

export async function eventHash(prevHash: string, canonical: string): Promise<string> {
  return toHex(await sha256(encoder.encode(prevHash), encoder.encode(canonical)));
}

export const leafData = (stream: string, seq: number, hash: string) =>
  canonicalJson({ stream, seq: new JsonNumber(String(seq)), hash });

export const leafHash = (data: string) => sha256(new Uint8Array([0]), encoder.encode(data));
const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(new Uint8Array([1]), left, right);

export async function keyId(raw: Uint8Array): Promise<string> {
  return toHex(await sha256(raw)).slice(0, 16);
}

export function checkpointBody(c: { number: number; tree_size: number; root: string; at: string; prev: string; key_id: string }): string {
  return canonicalJson({
    number: new JsonNumber(String(c.number)),
    tree_size: new JsonNumber(String(c.tree_size)),
    root: c.root,
    at: c.at,
    prev: c.prev,
    key_id: c.key_id,
  });
}

/** How many nodes an RFC 6962 inclusion proof of leaf `index` in a tree of `size` has. */
export function proofLength(index: number, size: number): number {
  let fn = index;
  let sn = size - 1;
  let count = 0;
  while (sn !== 0) {
    if ((fn & 1 || fn === sn) && !(fn & 1)) {
      while ((fn & 1) === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    }
    fn >>= 1;
    sn >>= 1;
    count++;
  }
  return count;
}

/** RFC 9162 §2.1.3.2; the caller has checked the proof's length. */
async function rootFromInclusion(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[]): Promise<Uint8Array> {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (fn & 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (!(fn & 1)) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return r;
}

// --- the result ----------------------------------------------------------------------

export type Params = Record<string, string>;
export interface Message {
  code: string;
  params: Params;
}
export interface Problem extends Message {
  where: string;
  index: number | null;
  seq: number | null;
  node: number | null;
}
export interface Result {
  ok: boolean;
  stream: string;
  events: number;
  headSeq: number;
  headHash: string;
  checkpointNumber: number | null;
  checkpointAt: string | null;
  checkpointSeq: number | null;
  keyId: string | null;
  keySource: "given" | "embedded" | null;
  withheld: number[];
  takenAsStated: number[];
  problem: Problem | null;
}

class Stop extends Error {
  constructor(readonly problem: Problem) {
    super(problem.code);
  }
}

type Raw = string | number | null | undefined | Json;

function show(value: Raw): string {
  if (value === undefined) return "None";
  if (value === null) return "None";
  if (value instanceof JsonNumber) return numberText(value);
  if (typeof value === "object") return canonicalJson(value);
  return String(value);
}

function fail(code: string, where: string, params: Record<string, Raw> = {}): Stop {
  const shown: Params = {};
  for (const [k, v] of Object.entries(params)) shown[k] = show(v);
  const index = where === "entry" && typeof params.index === "number" ? params.index : null;
  if (index !== null) shown.position = String(index + 1);
  const seqRaw = params.seq;
  const seq = (where === "entry" || where === "leaf") ? asInt(seqRaw ?? null) : null;
  const node = typeof params.node === "number" ? params.node : null;
  return new Stop({ code, where, params: shown, index, seq, node });
}

function asInt(value: Raw): number | null {
  if (typeof value === "number") return value;
  if (value instanceof JsonNumber && value.isInteger) return Number(value.text);
  return null;
}

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
const isHex64 = (v: Json | undefined): v is string => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

function seqsText(seqs: number[]): string {
  const runs: [number, number][] = [];
  for (const s of seqs) {
    const last = runs[runs.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else runs.push([s, s]);
  }
  return runs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(", ");
}

/** The sentences of a result, in order (the command prints one line each). */
export function messagesOf(r: Result): Message[] {
  if (r.problem !== null) return [{ code: "notVerified", params: {} }, r.problem];
  const out: Message[] = [
    { code: "ok", params: { stream: r.stream, count: String(r.events), head_seq: String(r.headSeq), head_hash: r.headHash } },
    {
      code: "checkpoint",
      params: { number: String(r.checkpointNumber), at: r.checkpointAt ?? "", key_id: r.keyId ?? "", seq: String(r.checkpointSeq) },
    },
    { code: r.keySource === "given" ? "keyGiven" : "keyEmbedded", params: { key_id: r.keyId ?? "" } },
  ];
  if (r.checkpointSeq !== null && r.checkpointSeq < r.headSeq)
    out.push({ code: "chainOnly", params: { seq: String(r.checkpointSeq), head_seq: String(r.headSeq) } });
  if (r.withheld.length) out.push({ code: "withheld", params: { seqs: seqsText(r.withheld) } });
  if (r.takenAsStated.length) out.push({ code: "takenAsStated", params: { seqs: seqsText(r.takenAsStated) } });
  return out;
}

/** The result in words, with `say(code, params)` giving each sentence (i18n's t, or a
 * plain formatter): "Not verified: <problem>" or the lines of what was proved. */
export function linesOf(r: Result, say: (code: string, params: Params) => string): string[] {
  if (r.problem !== null) return [say("notVerified", { problem: say(r.problem.code, r.problem.params) })];
  return messagesOf(r).map((m) => say(m.code, m.params));
}

// --- the checks ------------------------------------------------------------------------

async function entryHash(entry: JsonObject, stream: string, index: number, seq: number): Promise<[string, "payload" | "digest" | "stated"]> {
  const bad = (detail: string) => fail("fail.entry", "entry", { index, seq, detail });
  const form = entry.form;
  const formN = asInt(form ?? null);
  if (formN !== 2 && formN !== 3) throw bad(`unknown form ${form === undefined ? "None" : show(form)}`);
  const { kind, at, actor, agency } = entry;
  if (typeof kind !== "string" || typeof at !== "string") throw bad("kind and at must be strings");
  const intOrNull = (v: Json | undefined) => v === null || v === undefined || (v instanceof JsonNumber && v.isInteger);
  if (!intOrNull(actor) || !intOrNull(agency)) throw bad("actor and agency must be integers or null");
  const hasPayload = "payload" in entry;
  const payload = entry.payload;
  const salt = "salt" in entry ? entry.salt : "";
  const digest = entry.payload_digest ?? null;
  if (hasPayload && !isObject(payload)) throw bad("payload must be an object");
  if (typeof salt !== "string" || !/^(?:[0-9a-f]{2})*$/.test(salt)) throw bad("salt must be hex");
  if ("salt" in entry && !hasPayload) throw bad("a salt without its payload");
  if (digest !== null && !isHex64(digest)) throw bad("payload_digest must be a 64-digit hex hash");
  const doc: JsonObject = {
    stream,
    seq: new JsonNumber(String(seq)),
    kind,
    actor: actor ?? null,
    agency: agency ?? null,
    at,
  };
  const prev = entry.prev_hash as string;
  if (formN === 3) {
    if (hasPayload) {
      const made = await payloadDigest(salt, payload as Json);
      if (digest !== null && made !== digest) throw bad("its payload and salt do not make its payload_digest");
      return [await eventHash(prev, canonicalJson({ ...doc, payload_digest: made, form: new JsonNumber("3") })), "payload"];
    }
    if (digest === null) throw bad("a form-3 entry needs its payload and salt, or its payload_digest");
    return [await eventHash(prev, canonicalJson({ ...doc, payload_digest: digest, form: new JsonNumber("3") })), "digest"];
  }
  if (digest !== null) throw bad("a form-2 entry has no payload_digest");
  if (!hasPayload) return [String(entry.hash), "stated"];
  const legacy: JsonObject = { ...doc, payload: payload as Json };
  if (salt) legacy.salt = salt;
  return [await eventHash(prev, canonicalJson(legacy)), "payload"];
}

async function checkChain(record: JsonObject, r: Result): Promise<JsonObject[]> {
  const { stream, events } = record;
  if (typeof stream !== "string" || !stream) throw fail("fail.document", "document", { detail: "record.stream is missing" });
  if (!Array.isArray(events)) throw fail("fail.document", "document", { detail: "record.events is missing" });
  if (events.length === 0) throw fail("fail.empty", "document");
  r.stream = stream;
  let prev = GENESIS_HASH;
  for (let index = 0; index < events.length; index++) {
    const entry = events[index];
    if (!isObject(entry)) throw fail("fail.entry", "entry", { index, seq: null, detail: "not an object" });
    const seqN = asInt(entry.seq ?? null);
    if (seqN !== index + 1) throw fail("fail.seq", "entry", { index, seq: entry.seq, expected: index + 1 });
    if (!isHex64(entry.prev_hash) || !isHex64(entry.hash))
      throw fail("fail.entry", "entry", { index, seq: seqN, detail: "prev_hash and hash must be 64-digit hex hashes" });
    if (entry.prev_hash !== prev) throw fail("fail.prev", "entry", { index, seq: seqN });
    const [computed, how] = await entryHash(entry, stream, index, seqN);
    if (computed !== entry.hash) throw fail("fail.hash", "entry", { index, seq: seqN });
    if (how === "digest") r.withheld.push(seqN);
    else if (how === "stated") r.takenAsStated.push(seqN);
    prev = entry.hash;
  }
  r.events = events.length;
  r.headSeq = events.length;
  r.headHash = prev;
  const head = record.head;
  if (head !== undefined && head !== null) {
    if (!isObject(head) || asInt(head.seq ?? null) !== r.headSeq || head.hash !== r.headHash) {
      throw fail("fail.head", "head", { seq: r.headSeq, head: isObject(head) ? head.seq : head });
    }
  }
  return events as JsonObject[];
}

async function resolveKey(checkpoint: JsonObject, record: JsonObject, publicKeys: Map<string, Uint8Array> | null): Promise<[string, Uint8Array, "given" | "embedded"]> {
  const named = checkpoint.key_id;
  if (typeof named !== "string") throw fail("fail.checkpoint", "checkpoint", { detail: "key_id is missing" });
  if (publicKeys && publicKeys.size) {
    const raw = publicKeys.get(named);
    if (!raw) throw fail("fail.keyUnknown", "key", { key_id: named });
    return [named, raw, "given"];
  }
  const embedded = record.public_key;
  if (!isObject(embedded)) throw fail("fail.keyUnknown", "key", { key_id: named });
  const raw = fromBase64(embedded.ed25519);
  if (raw === null || raw.length !== 32) throw fail("fail.keyId", "key", { key_id: embedded.key_id, actual: "(no valid key)" });
  const actual = await keyId(raw);
  if (embedded.key_id !== actual) throw fail("fail.keyId", "key", { key_id: embedded.key_id, actual });
  if (named !== actual) throw fail("fail.keyMismatch", "key", { key_id: named, embedded: actual });
  return [named, raw, "embedded"];
}

async function signatureHolds(raw: Uint8Array, signature: Uint8Array, body: string): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey("raw", concat(raw), { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, concat(signature), concat(encoder.encode(body)));
  } catch {
    return false;
  }
}

async function checkProof(record: JsonObject, events: JsonObject[], publicKeys: Map<string, Uint8Array> | null, r: Result): Promise<void> {
  const proof = record.proof;
  if (!isObject(proof) || !isObject(proof.checkpoint)) throw fail("fail.noCheckpoint", "checkpoint", { count: events.length });
  const checkpoint = proof.checkpoint;
  const number = asInt(checkpoint.number ?? null);
  const treeSize = asInt(checkpoint.tree_size ?? null);
  const { root, at, prev } = checkpoint;
  if (number === null || treeSize === null || typeof at !== "string")
    throw fail("fail.checkpoint", "checkpoint", { detail: "number, tree_size and at are needed" });
  if (!isHex64(root) || !isHex64(prev)) throw fail("fail.checkpoint", "checkpoint", { detail: "root and prev must be hex hashes" });
  const [named, rawKey, source] = await resolveKey(checkpoint, record, publicKeys);
  const body = checkpointBody({ number, tree_size: treeSize, root, at, prev, key_id: named });
  const signature = fromBase64(checkpoint.signature);
  if (signature === null || signature.length !== 64 || !(await signatureHolds(rawKey, signature, body)))
    throw fail("fail.signature", "signature", { number, key_id: named });
  if (checkpoint.hash !== toHex(await sha256(encoder.encode(body)))) throw fail("fail.checkpointHash", "checkpoint", { number });

  const leaf = proof.leaf;
  if (!isObject(leaf)) throw fail("fail.leaf", "leaf", { detail: "nothing", seq: null });
  const leafSeq = asInt(leaf.seq ?? null);
  const stated = `${show(leaf.stream)} seq ${show(leaf.seq)} hash ${show(leaf.hash)}`;
  if (leaf.stream !== r.stream || leafSeq === null || leafSeq < 1 || leafSeq > events.length || leaf.hash !== events[leafSeq - 1]?.hash)
    throw fail("fail.leaf", "leaf", { detail: stated, seq: leaf.seq });

  const index = asInt(proof.leaf_index ?? null);
  const nodes = proof.inclusion;
  if (index === null || index < 0 || index >= treeSize)
    throw fail("fail.checkpoint", "proof", { detail: `leaf_index ${proof.leaf_index === undefined ? "None" : show(proof.leaf_index)} is outside the tree` });
  if (!Array.isArray(nodes)) throw fail("fail.checkpoint", "proof", { detail: "the inclusion proof is missing" });
  nodes.forEach((value, node) => {
    if (!isHex64(value)) throw fail("fail.proofNode", "proof", { node });
  });
  const expected = proofLength(index, treeSize);
  if (nodes.length !== expected) throw fail("fail.proofLength", "proof", { count: nodes.length, leaf: index, size: treeSize, expected });
  const start = await leafHash(leafData(r.stream, leafSeq, leaf.hash as string));
  const reached = await rootFromInclusion(start, index, treeSize, (nodes as string[]).map(fromHex));
  if (toHex(reached) !== root) throw fail("fail.inclusion", "proof", { last: Math.max(nodes.length - 1, 0), number });

  r.checkpointNumber = number;
  r.checkpointAt = at;
  r.checkpointSeq = leafSeq;
  r.keyId = named;
  r.keySource = source;
}

/** Verify an export (the whole document, or its `record`) against `publicKeys`
 * (key id -> raw 32-byte key); with none, against the key embedded in the file
 * (self-consistency only). Never throws on bad input. */
export async function verifyExport(document: Json, publicKeys: Map<string, Uint8Array> | null = null): Promise<Result> {
  const r: Result = {
    ok: false,
    stream: "",
    events: 0,
    headSeq: 0,
    headHash: "",
    checkpointNumber: null,
    checkpointAt: null,
    checkpointSeq: null,
    keyId: null,
    keySource: null,
    withheld: [],
    takenAsStated: [],
    problem: null,
  };
  try {
    if (!isObject(document)) throw fail("fail.document", "document", { detail: "not a JSON object" });
    const record = "record" in document ? document.record : document;
    if (!isObject(record)) throw fail("fail.document", "document", { detail: "record is not an object" });
    if (record.format !== EXPORT_FORMAT) throw fail("fail.document", "document", { detail: `record.format is not ${EXPORT_FORMAT}` });
    const events = await checkChain(record, r);
    await checkProof(record, events, publicKeys, r);
  } catch (error) {
    if (error instanceof Stop) {
      r.problem = error.problem;
      return r;
    }
    throw error;
  }
  r.ok = true;
  return r;
}

/** Read a dropped file's text and verify it; a file that is not JSON is named so. */
export async function verifyExportText(text: string, publicKeys: Map<string, Uint8Array> | null = null): Promise<Result> {
  let document: Json;
  try {
    document = parseJson(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : "not JSON";
    return {
      ...(await verifyExport(null)),
      problem: { code: "fail.document", where: "document", params: { detail }, index: null, seq: null, node: null },
    };
  }
  return verifyExport(document, publicKeys);
}
