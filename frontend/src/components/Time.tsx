// A time in the crossing point's zone, with UTC on hover (and for screen
// readers, the full date in the title).

import { formatRelative, formatTime, formatUtc } from "../i18n/time";
import { now } from "./clock";

export function Time({ at, tz, relative = false }: { at: string | number | null | undefined; tz: string; relative?: boolean }) {
  if (at === null || at === undefined || at === "") {
    return null;
  }
  const iso = new Date(at).toISOString();
  const current = now.value;
  return (
    <time dateTime={iso} title={formatUtc(at)} class="time" dir="auto">
      {formatTime(at, tz, current)}
      {relative ? <span class="relative"> · {formatRelative(at, current)}</span> : null}
    </time>
  );
}
