// One chip per targeted agency: acknowledged (who, when), pending, or overdue.

import { AgencyChip, Name } from "../components/Agency";
import { now } from "../components/clock";
import { Time } from "../components/Time";
import { t } from "../i18n";
import { standing } from "./store";
import type { AlertState } from "./store";

export function AckGrid({ alert, tz }: { alert: AlertState; tz: string }) {
  const current = now.value;
  if (alert.targets.length === 0) {
    return null;
  }
  return (
    <ul class="ack-grid" aria-label={t("alert.ackGrid")} data-testid="ack-grid">
      {alert.targets.map((target) => {
        const state = standing(alert, target, current);
        return (
          <li key={target.agency} class={`ack-chip ack-${state}`} data-agency={target.agency} data-state={state}>
            <AgencyChip code={target.agency} />{" "}
            {state === "acknowledged" ? (
              <span>
                {t("alert.ack.done")} {target.acknowledgedBy ? <Name>{target.acknowledgedBy.name}</Name> : null}{" "}
                <Time at={target.acknowledgedAt} tz={tz} />
              </span>
            ) : state === "overdue" ? (
              <span>{t("alert.ack.overdue")}</span>
            ) : state === "waiting" ? (
              <span>
                {t("alert.ack.pending")}
                {target.dueAt ? (
                  <>
                    {" "}
                    {t("alert.ack.dueBy")} <Time at={target.dueAt} tz={tz} />
                  </>
                ) : null}
              </span>
            ) : (
              <span>{t("alert.ack.notRequired")}</span>
            )}
          </li>
        );
      })}
    </ul>
  );
}
