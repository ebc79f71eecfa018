// An alert on the board (and its own page): title with the EXERCISE marker,
// severity, who issued it, the acknowledgement grid, and "Acknowledge for
// <agency>" for each of the officer's agencies that still owes it. An
// acknowledgement goes through the outbox: pending, then recorded; a refusal
// shows the hub's reason next to the alert.

import { acknowledgeAlert, alertScope } from "../app/writes";
import { AgencyChip } from "../components/Agency";
import { ExerciseBadge, SeverityBadge } from "../components/Badges";
import { now } from "../components/clock";
import { Time } from "../components/Time";
import { errorText, label, t } from "../i18n";
import { outboxItems } from "../realtime/live";
import { AckGrid } from "./AckGrid";
import { endedAt, isLive, owedBy } from "./store";
import type { AlertState } from "./store";

export function AlertCard({ alert, mine, tz, full = false }: { alert: AlertState; mine: readonly string[]; tz: string; full?: boolean }) {
  const current = now.value;
  const owed = owedBy(alert, mine, current);
  const live = isLive(alert, current);
  const acks = outboxItems.value.filter((i) => i.scope === alertScope(alert.id) && i.kind === "ack");
  const ended = endedAt(alert, current);
  return (
    <article
      class={`alert-card severity-${alert.severity}${owed.length ? " owed" : ""}${live ? "" : " ended"}${alert.exercise ? " exercise" : ""}`}
      data-alert-id={alert.id}
      data-testid="alert"
      aria-labelledby={`alert-${alert.id}-title`}
    >
      <header>
        <h3 id={`alert-${alert.id}-title`}>
          {alert.exercise ? <ExerciseBadge /> : null} {full ? <span>{alert.title}</span> : <a href={`/alerts/${alert.id}`}>{alert.title}</a>}
        </h3>
        <p class="meta">
          <SeverityBadge severity={alert.severity} /> <span>{label("alertCategory", alert.category)}</span> ·{" "}
          {t("alert.issuedBy")} <AgencyChip code={alert.issuingAgency} /> · <Time at={alert.createdAt} tz={tz} relative />
          {alert.expiresAt && live ? (
            <>
              {" "}
              · {t("alert.expires")} <Time at={alert.expiresAt} tz={tz} />
            </>
          ) : null}
        </p>
        {!live ? (
          <p class="ended-note">
            {alert.status === "cancelled" ? t("alert.cancelled", { reason: alert.cancelReason || "—" }) : t("alert.expired")}{" "}
            {ended !== null ? <Time at={ended} tz={tz} /> : null}
          </p>
        ) : null}
      </header>
      {full || alert.body.length <= 280 ? (
        alert.body ? <p class="alert-body" dir="auto">{alert.body}</p> : null
      ) : (
        <p class="alert-body" dir="auto">
          {alert.body.slice(0, 280)}…
        </p>
      )}
      {alert.incident ? (
        <p>
          {t("alert.incident")} <a href={`/incidents/${alert.incident}`}>{alert.incident}</a>
        </p>
      ) : null}
      <AckGrid alert={alert} tz={tz} />
      {owed.map((agency) => {
        const item = acks.find((i) => i.meta?.agency === agency && i.status !== "sent");
        const busy = item !== undefined && (item.status === "pending" || item.status === "sending");
        return (
          <div class="ack-action" key={agency}>
            <button type="button" class="primary" disabled={busy} onClick={() => void acknowledgeAlert(alert.id, agency)}>
              {busy ? t("alert.acknowledging", { agency }) : t("alert.acknowledgeFor", { agency })}
            </button>
            {item?.status === "failed" && item.error ? (
              <p class="item-error" role="alert">
                {errorText(item.error.code, item.error.detail)}
              </p>
            ) : null}
          </div>
        );
      })}
    </article>
  );
}
