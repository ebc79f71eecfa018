// Always visible: live, reconnecting (in N s), offline since HH:MM, and how
// many of the officer's writes wait to be sent.

import { now } from "../components/clock";
import { t } from "../i18n";
import { formatTime } from "../i18n/time";
import { connection, reconnectNow, unsent } from "../realtime/live";
import { session } from "./session";

export function ConnectionBadge({ tz }: { tz: string }) {
  const state = connection.value;
  const current = now.value;
  const offlineStart = session.value.kind === "signed-in" && session.value.offline;
  let text: string;
  let status: string = state.status;
  if (offlineStart) {
    status = "offline";
    text = t("connection.offlineStart");
  } else if (state.status === "live") {
    text = t("connection.live");
  } else if (state.status === "offline" && state.retryAt !== null && state.retryAt > current) {
    text = t("connection.reconnecting", { seconds: Math.ceil((state.retryAt - current) / 1000) });
  } else if (state.status === "connecting" || state.status === "offline") {
    text = t("connection.connecting");
  } else if (state.status === "signed-out") {
    text = t("connection.signedOut");
  } else {
    text = t("connection.idle");
  }
  const since = state.status !== "live" && state.offlineSince !== null ? formatTime(state.offlineSince, tz, current) : null;
  const waiting = unsent.value;
  return (
    <div class={`connection status-${status}`} data-testid="connection" data-status={status} role="status">
      <span class="dot" aria-hidden="true" />
      <span>{text}</span>
      {since ? <span class="since"> · {t("connection.offlineSince", { time: since })}</span> : null}
      {waiting > 0 ? (
        <span class="unsent" data-testid="unsent-count">
          {" "}
          · {t("connection.unsent", { count: waiting })}
        </span>
      ) : null}
      {state.status === "offline" && !offlineStart ? (
        <button type="button" class="link" onClick={reconnectNow}>
          {t("connection.retryNow")}
        </button>
      ) : null}
    </div>
  );
}
