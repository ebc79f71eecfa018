// The review's filters: what the reviewer narrowed the timeline to, kept in the
// page's URL (a filtered view is a link that can be shared) and turned into the
// query the events endpoint and the exports take (hub/events/filters.py).
// Times are typed in the crossing point's zone and sent as UTC instants.

import { zonedInputToUtc } from "../i18n/time";

/** The kind groups, as the hub defines them (hub/events/filters.py GROUP_KINDS). */
export const GROUPS = ["messages", "status", "agencies", "alerts", "operations", "sitreps", "edits"] as const;
export type Group = (typeof GROUPS)[number];

export interface ReviewFilter {
  groups: Group[];
  agency: string;
  actor: string;
  /** Wall-clock times in the crossing point's zone ("2026-12-03T14:05"), or "". */
  from: string;
  to: string;
  q: string;
  /** Entries with no officer behind them (reminders, escalations, progress). */
  automatic: boolean;
}

export const NO_FILTER: ReviewFilter = { groups: [], agency: "", actor: "", from: "", to: "", q: "", automatic: true };

const isGroup = (value: string): value is Group => (GROUPS as readonly string[]).includes(value);

export function filterFromSearch(search: string): ReviewFilter {
  const params = new URLSearchParams(search);
  const groups = (params.get("group") ?? "").split(",").filter(isGroup);
  return {
    groups: GROUPS.filter((g) => groups.includes(g)),
    agency: params.get("agency") ?? "",
    actor: params.get("actor") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    q: params.get("q") ?? "",
    automatic: params.get("automatic") !== "0",
  };
}

/** The page's query string for a filter ("" when nothing is filtered). */
export function filterToSearch(filter: ReviewFilter): string {
  const params = new URLSearchParams();
  if (filter.groups.length > 0) params.set("group", GROUPS.filter((g) => filter.groups.includes(g)).join(","));
  if (filter.agency) params.set("agency", filter.agency);
  if (filter.actor) params.set("actor", filter.actor);
  if (filter.from) params.set("from", filter.from);
  if (filter.to) params.set("to", filter.to);
  if (filter.q.trim()) params.set("q", filter.q.trim());
  if (!filter.automatic) params.set("automatic", "0");
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** How many filters narrow the view (the badge). */
export function activeFilters(filter: ReviewFilter): number {
  return [filter.groups.length > 0, filter.agency !== "", filter.actor !== "", filter.from !== "" || filter.to !== "", filter.q.trim() !== "", !filter.automatic].filter(Boolean).length;
}

export type FilterProblem = { field: "from" | "to"; reason: "invalid" | "order" };

/**
 * The query for the events endpoint and the exports, with the times turned from
 * the crossing point's zone into UTC; or which time field is wrong.
 */
export function filterToQuery(filter: ReviewFilter, tz: string): URLSearchParams | FilterProblem {
  const params = new URLSearchParams();
  if (filter.groups.length > 0) params.set("group", GROUPS.filter((g) => filter.groups.includes(g)).join(","));
  if (filter.agency) params.set("agency", filter.agency);
  if (filter.actor) params.set("actor", filter.actor);
  let from: string | null = null;
  if (filter.from) {
    from = zonedInputToUtc(filter.from, tz);
    if (from === null) return { field: "from", reason: "invalid" };
    params.set("from", from);
  }
  if (filter.to) {
    const to = zonedInputToUtc(filter.to, tz);
    if (to === null) return { field: "to", reason: "invalid" };
    if (from !== null && Date.parse(to) <= Date.parse(from)) return { field: "to", reason: "order" };
    params.set("to", to);
  }
  if (filter.q.trim()) params.set("q", filter.q.trim());
  if (!filter.automatic) params.set("automatic", "false");
  return params;
}
