// The review page's state: the incident, its review summary (milestones,
// verification), and the filtered timeline read a page at a time, oldest first
// (keyset: `after` = the last seq shown), with "Showing X of Y".

import { signal } from "@preact/signals";
import { ApiError, api, fieldErrors } from "../api/client";
import type { FieldError } from "../api/client";
import { getIncident } from "../api/endpoints";
import type { IncidentOut } from "../api/types";
import type { FilterProblem, ReviewFilter } from "./filter";
import { filterToQuery } from "./filter";
import { appendRows, reviewRows } from "./rows";
import type { ReviewEvent, ReviewRow } from "./rows";
import type { ReviewOut } from "./types";

export const PAGE = 100;

const FIELDS = ["group", "agency", "actor", "from", "to", "q"];

/** A refused filter's reason by field: pydantic's `loc`, or the hub's "field: reason". */
export function filterProblems(error: { errors: FieldError[]; detail: string }): Record<string, string> {
  if (error.errors.length > 0) {
    return fieldErrors({ errors: error.errors.map((e) => ({ ...e, loc: [String(e.loc.at(-1) ?? "")] })), detail: error.detail });
  }
  const m = /^(\w+): (.+)$/.exec(error.detail);
  return m && FIELDS.includes(m[1] as string) ? { [m[1] as string]: m[2] as string } : { "": error.detail };
}
const enc = encodeURIComponent;

interface FilteredPage {
  head: number;
  matched: number | null;
  events: ReviewEvent[];
  next_after: number | null;
}

export type ReviewStatus = "loading" | "ready" | "not-found" | "forbidden" | "failed";

export class ReviewStore {
  readonly status = signal<ReviewStatus>("loading");
  readonly incident = signal<IncidentOut | null>(null);
  readonly review = signal<ReviewOut | null>(null);
  readonly rows = signal<ReviewRow[]>([]);
  readonly matched = signal<number | null>(null);
  readonly head = signal(0);
  readonly more = signal(false);
  readonly loading = signal(false);
  /** Why the filters were refused, by field ("" for the form as a whole). */
  readonly problems = signal<Record<string, string>>({});
  private nextAfter: number | null = null;
  private query = "";
  private generation = 0;

  constructor(readonly ref: string) {}

  get stream(): string {
    return `incident:${this.ref}`;
  }

  async start(filter: ReviewFilter): Promise<void> {
    try {
      const [incident, review] = await Promise.all([getIncident(this.ref), api<ReviewOut>("GET", `/incidents/${enc(this.ref)}/review`)]);
      this.incident.value = incident;
      this.review.value = review;
      this.status.value = "ready";
    } catch (error) {
      this.status.value =
        error instanceof ApiError && (error.status === 404 || error.status === 422) ? "not-found" : error instanceof ApiError && error.status === 403 ? "forbidden" : "failed";
      return;
    }
    await this.apply(filter);
  }

  /** Read the first page under new filters (and how many events they keep). */
  async apply(filter: ReviewFilter): Promise<FilterProblem | null> {
    const review = this.review.value;
    if (review === null) return null;
    const query = filterToQuery(filter, review.timezone);
    if (!(query instanceof URLSearchParams)) return query;
    this.query = query.toString();
    const generation = ++this.generation;
    this.loading.value = true;
    try {
      const page = await this.read(0, true);
      if (generation !== this.generation) return null;
      this.problems.value = {};
      this.rows.value = reviewRows(page.events, review.reported_at);
      this.matched.value = page.matched;
      this.head.value = page.head;
      this.nextAfter = page.next_after;
      this.more.value = page.next_after !== null;
    } catch (error) {
      if (generation !== this.generation) return null;
      this.problems.value = error instanceof ApiError && error.status === 422 ? filterProblems(error) : { "": error instanceof Error ? error.message : String(error) };
    } finally {
      if (generation === this.generation) this.loading.value = false;
    }
    return null;
  }

  /** The next page of the filtered timeline. */
  async loadMore(): Promise<void> {
    const review = this.review.value;
    if (review === null || this.nextAfter === null || this.loading.value) return;
    const generation = this.generation;
    this.loading.value = true;
    try {
      const page = await this.read(this.nextAfter, false);
      if (generation !== this.generation) return;
      this.rows.value = appendRows(this.rows.value, page.events, review.reported_at);
      this.head.value = page.head;
      this.nextAfter = page.next_after;
      this.more.value = page.next_after !== null;
    } catch {
      // The button stays; the reviewer can try again.
    } finally {
      this.loading.value = false;
    }
  }

  /** The export of exactly what is shown (the same filters). */
  exportUrl(format: "csv" | "json" | "html" | "attachments_csv"): string {
    const params = new URLSearchParams(this.query);
    params.set("format", format);
    return `/api/v1/incidents/${enc(this.ref)}/export?${params}`;
  }

  private read(after: number, count: boolean): Promise<FilteredPage> {
    const params = new URLSearchParams(this.query);
    params.set("after", String(after));
    params.set("limit", String(PAGE));
    if (count) params.set("count", "true");
    return api<FilteredPage>("GET", `/streams/${enc(this.stream)}/events?${params}`);
  }
}
