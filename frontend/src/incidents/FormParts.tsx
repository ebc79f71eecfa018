// Pieces the write forms share: a group of radio buttons or checkboxes under
// a visible legend with its reason next to it, and the line that says where
// the form's outbox item stands (sending, waiting for the connection,
// retrying).

import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";
import { t } from "../i18n";
import { isLive } from "../realtime/live";
import type { OutboxItem } from "../realtime/outbox";
import { retryReason } from "./form-kit";

export interface GroupControlProps {
  name: string;
  "aria-invalid"?: "true";
  "aria-describedby"?: string;
}

/** A fieldset whose legend names the group; each control gets the group's error wiring. */
export function Group({
  legend,
  error,
  hint,
  class: extra,
  children,
}: {
  legend: ComponentChildren;
  error?: string | null;
  hint?: string | null;
  class?: string;
  children: (props: GroupControlProps) => ComponentChildren;
}) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <fieldset class={`field group${error ? " invalid" : ""}${extra ? ` ${extra}` : ""}`}>
      <legend>{legend}</legend>
      {children({ name: id, ...(error ? { "aria-invalid": "true" as const } : {}), ...(describedBy ? { "aria-describedby": describedBy } : {}) })}
      {hint ? (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p class="field-error" id={`${id}-error`} data-testid="field-error">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

/** "Sending…" for a form's pending item; offline, that it waits for the connection. */
export function SendingLine({ item, text }: { item: OutboxItem | undefined; text: string }) {
  if (item === undefined || (item.status !== "pending" && item.status !== "sending")) return null;
  const reason = retryReason(item);
  return (
    <p class="notice sending" role="status" data-testid="sending">
      {text}{" "}
      {!isLive.value ? t("report.waitingForConnection") : reason !== null ? t("report.retrying", { reason }) : null}
    </p>
  );
}
