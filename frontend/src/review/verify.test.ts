// @vitest-environment node
// The browser's verifier runs the same test vectors as the Python one
// (docs/record-vectors.json, built by hub/record/vectors.py): the same hashes,
// canonical JSON byte for byte, the same result and, for every mutation, the same
// first problem in the same words (review.verify.* in English).
import { readFileSync } from "node:fs";
import { IntlMessageFormat } from "intl-messageformat";
import { describe, expect, it } from "vitest";
import reviewEn from "../i18n/locales/review.en.json";
import { canonicalJson, checkpointBody, eventHash, keyId, leafData, leafHash, linesOf, parseJson, payloadDigest, proofLength, pythonFloat, toHex, verifyExport, verifyExportText } from "./verify";
import type { Json, Params } from "./verify";

const vectorsText = readFileSync(new URL("../../../docs/record-vectors.json", import.meta.url), "utf8");
const vectors = JSON.parse(vectorsText);
const english = reviewEn as Record<string, string>;
const say = (code: string, params: Params) => String(new IntlMessageFormat(english[`review.verify.${code}`] ?? code, "en").format(params));
const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
const hubKeys = () => new Map([[vectors.key.key_id as string, fromHex(vectors.key.ed25519_public_hex)]]);
const exportDoc = () => parseJson(JSON.stringify(vectors.export)) as Json;

function mutate(document: Json, mutation: { path: (string | number)[]; value: unknown }): Json {
  const changed = parseJson(canonicalJson(document)) as Record<string, unknown>;
  const path = [...mutation.path];
  const last = path.pop()!;
  let target: any = changed;
  for (const step of path) target = target[step];
  const value = mutation.value;
  if (value === "$drop") target.splice(last, 1);
  else if (value === "$delete") delete target[last];
  else if (value === "$swap") [target[last], target[(last as number) + 1]] = [target[(last as number) + 1], target[last]];
  else if (value === "$dup") target.splice(last, 0, parseJson(canonicalJson(target[last])));
  else target[last] = parseJson(JSON.stringify(value));
  return changed as Json;
}

describe("canonical JSON", () => {
  it.each(vectors.canonical_json as { input: string; canonical: string }[])("$input", ({ input, canonical }) => {
    expect(canonicalJson(parseJson(input))).toBe(canonical);
  });

  it("spells floats as Python does", () => {
    const cases: [number, string][] = [[1, "1.0"], [1e-5, "1e-05"], [1e16, "1e+16"], [1e15, "1000000000000000.0"], [0.1, "0.1"], [-2.5e-7, "-2.5e-07"], [123.456, "123.456"], [1.7976931348623157e308, "1.7976931348623157e+308"], [5e-324, "5e-324"]];
    for (const [x, text] of cases) expect(pythonFloat(x)).toBe(text);
  });
});

describe("the vectors' intermediate values", () => {
  it("event hashes, payload digests and canonical bytes", async () => {
    let prev = "0".repeat(64);
    for (const event of vectors.events) {
      if (event.form === 3) {
        const entry = vectors.export.record.events[event.seq - 1];
        if ("payload" in entry) expect(await payloadDigest(entry.salt, parseJson(JSON.stringify(entry.payload)))).toBe(event.payload_digest);
        else expect(entry.payload_digest).toBe(event.payload_digest);
      }
      expect(await eventHash(prev, event.canonical)).toBe(event.hash);
      prev = event.hash;
    }
  });

  it("leaves, roots, checkpoint bodies and the key id", async () => {
    for (const cp of vectors.checkpoints) {
      for (const leaf of cp.leaves) {
        const { stream, seq, hash } = JSON.parse(leaf.data);
        expect(leafData(stream, seq, hash)).toBe(leaf.data);
        expect(toHex(await leafHash(leaf.data))).toBe(leaf.leaf_hash);
      }
      expect(checkpointBody(cp.checkpoint)).toBe(cp.body);
    }
    expect(await keyId(fromHex(vectors.key.ed25519_public_hex))).toBe(vectors.key.key_id);
    for (const size of [1, 2, 3, 5, 8, 13]) expect(proofLength(0, size)).toBeGreaterThanOrEqual(size > 1 ? 1 : 0);
  });
});

describe("verifyExport", () => {
  it("verifies the vector export and says what the command says", async () => {
    const result = await verifyExport(exportDoc(), hubKeys());
    expect(result.ok).toBe(true);
    expect(result.headSeq).toBe(vectors.expected.head_seq);
    expect(result.headHash).toBe(vectors.expected.head_hash);
    expect(result.checkpointNumber).toBe(vectors.expected.checkpoint_number);
    expect(result.withheld).toEqual(vectors.expected.withheld);
    expect(linesOf(result, say)).toEqual(vectors.expected.lines);
  });

  it("with only the embedded key, says it proves self-consistency", async () => {
    const result = await verifyExport(exportDoc(), null);
    expect(result.ok).toBe(true);
    expect(result.keySource).toBe("embedded");
    expect(linesOf(result, say)[2]).toContain("self-consistent, not that the hub signed it");
  });

  it.each(vectors.mutations as { name: string; path: (string | number)[]; value: unknown; code: string | null; where: string | null; seq: number | null; lines: string[] }[])(
    "$name: the same first problem, in the same words",
    async (mutation) => {
      const result = await verifyExport(mutate(exportDoc(), mutation), hubKeys());
      expect(result.problem?.code ?? null).toBe(mutation.code);
      expect(result.problem?.where ?? null).toBe(mutation.where);
      expect(result.problem?.seq ?? null).toBe(mutation.seq);
      expect(linesOf(result, say)).toEqual(mutation.lines);
    },
  );

  it("keeps the redacted text out and verifies the text of the file as dropped", async () => {
    const text = JSON.stringify(vectors.export, null, 2);
    expect(text).not.toContain(vectors.redacted_text);
    expect((await verifyExportText(text, hubKeys())).ok).toBe(true);
    const broken = await verifyExportText(text.slice(0, -2), null);
    expect(broken.problem?.code).toBe("fail.document");
  });
});
