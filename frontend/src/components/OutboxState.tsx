// Where one of the officer's writes stands: "sending…" while the outbox holds
// it, or the hub's reason with "Dismiss" when it was refused (the text stays
// in the outbox until then).

import { errorText, t } from "../i18n";
import { outboxSignal } from "../realtime/live";
import type { OutboxItem } from "../realtime/outbox";

export function OutboxState({ item, pending }: { item: OutboxItem; pending?: string }) {
  if (item.status === "failed") {
    return (
      <span class="item-error" role="alert">
        {errorText(item.error?.code ?? "error", item.error?.detail ?? "")}{" "}
        <button type="button" class="link" onClick={() => void outboxSignal.value?.discard(item.id)}>
          {t("action.dismiss")}
        </button>
      </span>
    );
  }
  return <span class="item-pending">{pending ?? t("outbox.pending")}</span>;
}
