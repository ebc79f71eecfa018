import { webcrypto } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newClientMsgId, uuidFromBytes } from "./ids";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** A crypto as on a plain-HTTP origin (not a secure context): no randomUUID. */
function insecureCrypto(fill?: (bytes: Uint8Array) => void) {
  const getRandomValues = vi.fn(<T extends ArrayBufferView | null>(array: T): T => {
    if (fill && array instanceof Uint8Array) {
      fill(array);
      return array;
    }
    return webcrypto.getRandomValues(array as Uint8Array) as unknown as T;
  });
  return { getRandomValues };
}

describe("newClientMsgId", () => {
  it("uses crypto.randomUUID when the browser has it", () => {
    const spy = vi.spyOn(globalThis.crypto, "randomUUID").mockReturnValue("00000000-0000-4000-8000-000000000001");
    expect(newClientMsgId()).toBe("00000000-0000-4000-8000-000000000001");
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it("with randomUUID is a UUID v4", () => {
    expect(typeof globalThis.crypto.randomUUID).toBe("function");
    for (let i = 0; i < 100; i++) {
      expect(newClientMsgId()).toMatch(UUID_V4);
    }
  });

  it("without randomUUID builds a UUID v4 from getRandomValues", () => {
    const stub = insecureCrypto();
    vi.stubGlobal("crypto", stub);
    expect("randomUUID" in globalThis.crypto).toBe(false);
    const id = newClientMsgId();
    expect(id).toMatch(UUID_V4);
    expect(stub.getRandomValues).toHaveBeenCalledTimes(1);
  });

  it("forces the version and variant bits whatever the random bytes are", () => {
    vi.stubGlobal("crypto", insecureCrypto((b) => b.fill(0xff)));
    expect(newClientMsgId()).toBe("ffffffff-ffff-4fff-bfff-ffffffffffff");
    vi.stubGlobal("crypto", insecureCrypto((b) => b.fill(0x00)));
    expect(newClientMsgId()).toBe("00000000-0000-4000-8000-000000000000");
    vi.stubGlobal("crypto", insecureCrypto((b) => b.forEach((_, i) => (b[i] = i * 17))));
    expect(newClientMsgId()).toBe("00112233-4455-4677-8899-aabbccddeeff");
  });

  it("is unique over many calls, on both paths", () => {
    const n = 5000;
    const secure = new Set(Array.from({ length: n }, () => newClientMsgId()));
    expect(secure.size).toBe(n);
    vi.stubGlobal("crypto", insecureCrypto());
    const fallback = Array.from({ length: n }, () => newClientMsgId());
    expect(new Set(fallback).size).toBe(n);
    fallback.forEach((id) => expect(id).toMatch(UUID_V4));
  });

  it("refuses without any crypto rather than inventing weak ids", () => {
    vi.stubGlobal("crypto", {});
    expect(() => newClientMsgId()).toThrow(/getRandomValues/);
  });

  it("uuidFromBytes does not change its input and needs 16 bytes", () => {
    const bytes = new Uint8Array(16).fill(0xff);
    uuidFromBytes(bytes);
    expect(bytes.every((b) => b === 0xff)).toBe(true);
    expect(() => uuidFromBytes(new Uint8Array(15))).toThrow();
  });
});
