// Client message ids: the `client_msg_id` every write carries.
//
// Owns: making a fresh UUID v4 for each thing an officer types. The hub is
// idempotent on this id (a repeat answers with the original), so the id is
// minted once, stored with the outbox item, and reused on every retry.
//
// Invariant: the result is always a lower-case RFC 9562 version-4 UUID
// (8-4-4-4-12 hex digits, version nibble 4, variant bits 10). It comes from
// `crypto.randomUUID()` when the browser offers it; that method exists only
// in secure contexts, so on a plain-HTTP LAN origin the same format is built
// from `crypto.getRandomValues`, which every browser offers everywhere.

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A new UUID v4 for `client_msg_id`. */
export function newClientMsgId(): string {
  const c: Partial<Crypto> | undefined = globalThis.crypto;
  if (typeof c?.randomUUID === "function") {
    return c.randomUUID();
  }
  if (typeof c?.getRandomValues !== "function") {
    throw new Error("This browser offers no crypto.getRandomValues; cannot make a client_msg_id.");
  }
  return uuidFromBytes(c.getRandomValues(new Uint8Array(16)));
}

/** Format 16 random bytes as a UUID v4 (sets the version and variant bits). */
export function uuidFromBytes(random: Uint8Array): string {
  if (random.length !== 16) {
    throw new Error("A UUID needs exactly 16 bytes.");
  }
  const b = Uint8Array.from(random);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40; // version 4
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80; // variant 10xx (RFC 9562)
  const h = Array.from(b, (byte) => HEX[byte] ?? "00");
  return (
    h.slice(0, 4).join("") +
    "-" +
    h.slice(4, 6).join("") +
    "-" +
    h.slice(6, 8).join("") +
    "-" +
    h.slice(8, 10).join("") +
    "-" +
    h.slice(10, 16).join("")
  );
}
