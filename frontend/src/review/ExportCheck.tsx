// "Check an export file": the review page verifies a dropped (or chosen) JSON
// export in this browser, with WebCrypto, and says what `manage.py verify_export`
// says (the same checks and result codes; the sentences are review.verify.* in the
// review's locale files). Nothing is uploaded. The verifier lives in this lazy chunk.

import { useState } from "preact/hooks";
import { api } from "../api/client";
import type { components } from "../api/schema";
import { t, tDynamic } from "../i18n";
import { linesOf, verifyExportText } from "./verify";
import type { Params, Result } from "./verify";

type Checked = { name: string; result: Result | null; lines: string[] };
type PublicKey = components["schemas"]["PublicKeyOut"];

const say = (code: string, params: Params) => tDynamic(`review.verify.${code}`, params, code);
// Checked against the hub's own keys, "the key you gave" reads as the hub's key.
const sayWithHubKeys = (code: string, params: Params) =>
  code === "keyGiven" ? t("review.verify.keyHub", params) : say(code, params);

/** The public keys the hub signs checkpoints with (GET /audit/keys), by key id; null
 * when they cannot be fetched (offline): the file's embedded key is used, and the
 * result says that proves only that the file is self-consistent. */
export async function hubKeys(): Promise<Map<string, Uint8Array> | null> {
  try {
    const keys = await api<PublicKey[]>("GET", "/audit/keys");
    return new Map(keys.map((k) => [k.key_id, Uint8Array.from(atob(k.ed25519), (c) => c.charCodeAt(0))]));
  } catch {
    return null;
  }
}

export function ExportCheck() {
  const [checking, setChecking] = useState<string | null>(null);
  const [checked, setChecked] = useState<Checked | null>(null);
  const [over, setOver] = useState(false);

  const check = async (file: File | undefined | null) => {
    if (!file) return;
    setChecking(file.name);
    setChecked(null);
    try {
      const keys = await hubKeys();
      const result = await verifyExportText(await file.text(), keys);
      setChecked({ name: file.name, result, lines: linesOf(result, keys ? sayWithHubKeys : say) });
    } catch {
      setChecked({ name: file.name, result: null, lines: [t("review.verify.unreadable")] });
    } finally {
      setChecking(null);
    }
  };

  const ok = checked?.result?.ok === true;
  return (
    <section class="panel export-check" aria-labelledby="export-check-heading" data-testid="export-check">
      <h2 id="export-check-heading">{t("review.verify.heading")}</h2>
      <p class="hint">{t("review.verify.explain")}</p>
      <div
        class={`drop-zone${over ? " over" : ""}`}
        data-testid="export-drop"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          void check(e.dataTransfer?.files[0]);
        }}
      >
        <span aria-hidden="true">{t("review.verify.drop")}</span>
        <label class="field">
          <span>{t("review.verify.choose")}</span>
          <input
            type="file"
            accept="application/json,.json"
            data-testid="export-file"
            onChange={(e) => {
              const input = e.currentTarget;
              void check(input.files?.[0]).then(() => {
                input.value = "";
              });
            }}
          />
        </label>
      </div>
      <div role="status" aria-live="polite">
        {checking !== null ? <p class="hint">{t("review.verify.checking", { name: checking })}</p> : null}
        {checked !== null ? (
          <div class={`verification export-result ${ok ? "ok" : "broken"}`} data-testid="export-check-result" data-ok={ok ? "true" : "false"}>
            <p class="hint">
              {t("review.verify.file", { name: checked.name })}
            </p>
            <ul>
              {checked.lines.map((line, i) => (
                <li key={i} dir="auto">
                  {i === 0 ? <strong>{line}</strong> : line}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
    </section>
  );
}
