// /incidents/<REF>/review: a senior official's (or the lead coordinator's) view
// of an incident's whole record: milestones, the verification of its hash
// chain, and the timeline filtered by kind, agency, officer, time and text,
// exported exactly as shown. The filters live in the URL.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { NotFound } from "../app/NotFound";
import { AgencyChip } from "../components/Agency";
import { SeverityBadge, StatusBadge } from "../components/Badges";
import { label, t } from "../i18n";
import { formatDuration, formatFull, formatUtc, zoneOffsetLabel } from "../i18n/time";
import { describeEvent } from "../incidents/describe";
import { GROUPS, NO_FILTER, activeFilters, filterFromSearch, filterToSearch } from "./filter";
import type { Group, ReviewFilter } from "./filter";
import { milestoneStrip } from "./milestones";
import { FileTable } from "../attachments/Files";
import { IncidentFiles } from "../attachments/store";
import { ExportCheck } from "./ExportCheck";
import { ReviewStore } from "./store";
import type { ReviewRow } from "./rows";
import type { ReviewOut } from "./types";

function FullTime({ at, tz }: { at: string | null; tz: string }) {
  if (at === null) return null;
  return (
    <time dateTime={new Date(at).toISOString()} title={formatUtc(at)} dir="auto">
      {formatFull(at, tz)}
    </time>
  );
}

const seconds = (value: number | null) => (value === null ? "—" : formatDuration(value * 1000));

export function Review({ ref: incidentRef }: { ref: string }) {
  const refCode = decodeURIComponent(incidentRef);
  const location = useLocation();
  const store = useMemo(() => new ReviewStore(refCode), [refCode]);
  const files = useMemo(() => new IncidentFiles(refCode), [refCode]);
  const [filter, setFilter] = useState<ReviewFilter>(() => filterFromSearch(location.query ? new URLSearchParams(location.query as Record<string, string>).toString() : ""));
  const [draft, setDraft] = useState<ReviewFilter>(filter);
  const [timeProblem, setTimeProblem] = useState<{ field: string; text: string } | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    void store.start(filter);
    void files.load();
  }, [store, files]);
  const status = store.status.value;
  useEffect(() => {
    if (status === "ready") heading.current?.focus();
  }, [status]);

  const submit = async (next: ReviewFilter) => {
    const problem = await store.apply(next);
    if (problem !== null) {
      setTimeProblem({ field: problem.field, text: problem.reason === "order" ? t("review.timeOrder") : t("review.invalidTime") });
      return;
    }
    setTimeProblem(null);
    setFilter(next);
    location.route(`/incidents/${encodeURIComponent(refCode)}/review${filterToSearch(next)}`, true);
  };

  if (status === "not-found") return <NotFound what="incident" ident={refCode} />;
  if (status === "forbidden")
    return (
      <p class="problem" role="alert" data-testid="review-forbidden">
        {t("review.forbidden")}
      </p>
    );
  if (status === "failed")
    return (
      <p class="problem" role="alert">
        {t("room.loadFailed")}
      </p>
    );
  const incident = store.incident.value;
  const review = store.review.value;
  if (status === "loading" || incident === null || review === null) return <p class="hint">{t("state.loading")}</p>;
  const tz = review.timezone;
  const zone = zoneOffsetLabel(tz);
  const problems = store.problems.value;
  const count = activeFilters(filter);
  const matched = store.matched.value;
  const rows = store.rows.value;
  const problemOf = (field: string) => (timeProblem?.field === field ? timeProblem.text : problems[field]);

  return (
    <div class="review" data-testid="review">
      <header class="page-head">
        <p class="crumbs">
          <a href={`/incidents/${encodeURIComponent(incident.ref)}`}>{t("review.backToRoom", { ref: incident.ref })}</a>
        </p>
        <h1 tabIndex={-1} ref={heading}>
          {t("review.title")} <bdi class="ref">{incident.ref}</bdi> <span dir="auto">{incident.title}</span>
        </h1>
        <p class="meta">
          <StatusBadge status={incident.status} /> <SeverityBadge severity={incident.severity} /> <span>{label("category", incident.category)}</span>{" "}
          <span>{t("incident.lead")}</span> <AgencyChip code={incident.lead_agency} />{" "}
          {incident.participating_agencies.map((a) => (
            <AgencyChip key={a} code={a} />
          ))}
        </p>
        <Verification review={review} tz={tz} />
      </header>

      <section class="panel" aria-labelledby="review-milestones">
        <h2 id="review-milestones">{t("review.milestones")}</h2>
        <ol class="milestones" data-testid="milestones">
          {milestoneStrip(review).map((m) => (
            <li key={m.key} class={m.at ? "reached" : "pending"} data-key={m.key}>
              <span class="milestone-name">{t(`review.milestone.${m.key}` as "review.milestone.reported")}</span>
              {m.at ? (
                <>
                  <FullTime at={m.at} tz={tz} />
                  <span class="hint">{m.key === "reported" ? "" : t("review.afterReport", { time: seconds(m.afterSeconds) })}</span>
                </>
              ) : (
                <span class="hint">{t("review.notReached")}</span>
              )}
            </li>
          ))}
        </ol>
        <div class="review-responses">
          <table class="start-tasks" data-testid="first-responses">
            <caption>{t("review.firstResponses")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("review.col.agency")}</th>
                <th scope="col">{t("review.col.invited")}</th>
                <th scope="col">{t("review.col.firstResponse")}</th>
                <th scope="col">{t("review.col.afterInvite")}</th>
              </tr>
            </thead>
            <tbody>
              {review.first_responses.length === 0 ? (
                <tr>
                  <td colSpan={4} class="hint">
                    {t("review.noneInvited")}
                  </td>
                </tr>
              ) : (
                review.first_responses.map((r) => (
                  <tr key={r.agency}>
                    <td>
                      <AgencyChip code={r.agency} />
                    </td>
                    <td>{r.invited_at ? <FullTime at={r.invited_at} tz={tz} /> : "—"}</td>
                    <td>{r.at ? <FullTime at={r.at} tz={tz} /> : <span class="hint">{t("review.noResponse")}</span>}</td>
                    <td>{seconds(r.after_invite_seconds)}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
          {review.alert_acks.length > 0 ? (
            <table class="start-tasks" data-testid="alert-acks">
              <caption>{t("review.alertAcks")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("review.col.alert")}</th>
                  <th scope="col">{t("review.col.agency")}</th>
                  <th scope="col">{t("review.col.acknowledged")}</th>
                  <th scope="col">{t("review.col.afterIssue")}</th>
                </tr>
              </thead>
              <tbody>
                {review.alert_acks.map((a) => (
                  <tr key={`${a.alert_id}-${a.agency}`}>
                    <td dir="auto">
                      <a href={`/alerts/${a.alert_id}`}>{a.title}</a>
                    </td>
                    <td>
                      <AgencyChip code={a.agency} />
                    </td>
                    <td>{a.at ? <FullTime at={a.at} tz={tz} /> : <span class="hint">{t("review.notAcknowledged")}</span>}</td>
                    <td>{seconds(a.after_issue_seconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </div>
      </section>

      <form
        class="panel filters review-filters"
        aria-labelledby="review-filters"
        onSubmit={(e) => {
          e.preventDefault();
          void submit(draft);
        }}
      >
        <h2 id="review-filters">
          {t("review.filters")}{" "}
          {count > 0 ? (
            <span class="badge" data-testid="filter-count">
              {t("review.activeFilters", { count })}
            </span>
          ) : null}
        </h2>
        <fieldset class="chips">
          <legend>{t("review.groups")}</legend>
          {GROUPS.map((g) => {
            const on = draft.groups.includes(g);
            return (
              <button
                key={g}
                type="button"
                class={`chip${on ? " on" : ""}`}
                aria-pressed={on}
                onClick={() => {
                  const groups: Group[] = on ? draft.groups.filter((x) => x !== g) : [...draft.groups, g];
                  const next = { ...draft, groups };
                  setDraft(next);
                  void submit(next);
                }}
              >
                {t(`review.group.${g}` as "review.group.messages")}
              </button>
            );
          })}
        </fieldset>
        {problems.group ? <p class="field-error">{problems.group}</p> : null}
        <div class="filter-fields">
          <div class="field">
            <label for="review-agency">{t("review.agency")}</label>
            <select id="review-agency" value={draft.agency} onChange={(e) => setDraft({ ...draft, agency: e.currentTarget.value })}>
              <option value="">{t("review.anyAgency")}</option>
              {[...new Set([...review.agencies, ...review.actors.map((a) => a.agency ?? "").filter(Boolean)])].sort().map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="review-actor">{t("review.actor")}</label>
            <select id="review-actor" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.currentTarget.value })}>
              <option value="">{t("review.anyActor")}</option>
              {review.actors.map((a) => (
                <option key={a.username} value={a.username}>
                  {a.name}
                  {a.agency ? ` (${a.agency})` : ""}
                </option>
              ))}
            </select>
          </div>
          <TimeField label={t("review.from", { zone })} value={draft.from} error={problemOf("from")} onInput={(from) => setDraft({ ...draft, from })} />
          <TimeField label={t("review.to", { zone })} value={draft.to} error={problemOf("to")} onInput={(to) => setDraft({ ...draft, to })} />
          <div class="field grow">
            <label for="review-q">{t("review.q")}</label>
            <input id="review-q" type="search" value={draft.q} maxLength={200} aria-invalid={problems.q ? true : undefined} onInput={(e) => setDraft({ ...draft, q: e.currentTarget.value })} />
            {problems.q ? <span class="field-error">{problems.q}</span> : null}
          </div>
          <label class="choice">
            <input type="checkbox" checked={draft.automatic} onChange={(e) => setDraft({ ...draft, automatic: e.currentTarget.checked })} /> {t("review.automatic")}
          </label>
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            {t("review.apply")}
          </button>
          {count > 0 || activeFilters(draft) > 0 ? (
            <button
              type="button"
              class="link"
              onClick={() => {
                setDraft(NO_FILTER);
                void submit(NO_FILTER);
              }}
            >
              {t("review.clear")}
            </button>
          ) : null}
        </div>
        {problems[""] ? (
          <p class="problem" role="alert">
            {problems[""]}
          </p>
        ) : null}
      </form>

      <section class="panel" aria-labelledby="review-files" data-testid="review-files">
        <div class="review-bar">
          <h2 id="review-files">{t("files.list")}</h2>
          <a class="button" href={store.exportUrl("attachments_csv")} download data-testid="export-files-csv">
            {t("files.csv")}
          </a>
        </div>
        <FileTable
          incident={incident.ref}
          files={[...files.items.value.values()].sort((a, b) => a.id - b.id)}
          point={incident.crossing_point}
          lead={incident.lead_agency}
          tz={tz}
        />
      </section>

      <section class="panel" aria-labelledby="review-timeline">
        <div class="review-bar">
          <h2 id="review-timeline">{t("review.timeline")}</h2>
          <p role="status" data-testid="showing">
            {matched === null ? null : t("review.showing", { shown: matched, total: store.head.value })}
          </p>
          <nav class="exports" aria-label={t("review.export")}>
            <a class="button" href={store.exportUrl("csv")} download data-testid="export-csv">
              {t("review.csv")}
            </a>
            <a class="button" href={store.exportUrl("json")} download data-testid="export-json">
              {t("review.json")}
            </a>
            <a class="button" href={store.exportUrl("html")} target="_blank" rel="noopener" data-testid="export-print">
              {t("review.print")}
            </a>
          </nav>
        </div>
        {rows.length === 0 && !store.loading.value ? <p class="hint">{t("review.empty")}</p> : null}
        {rows.length > 0 ? (
          <table class="review-table" data-testid="review-rows">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">{t("review.col.time", { zone })}</th>
                <th scope="col">{t("review.col.since")}</th>
                <th scope="col">{t("review.col.gap")}</th>
                <th scope="col">{t("review.col.who")}</th>
                <th scope="col">{t("review.col.what")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <Row key={row.seq} row={row} tz={tz} />
              ))}
            </tbody>
          </table>
        ) : null}
        {store.more.value ? (
          <button type="button" disabled={store.loading.value} onClick={() => void store.loadMore()}>
            {t("review.loadMore")}
          </button>
        ) : null}
      </section>

      <ExportCheck />
    </div>
  );
}

function Row({ row, tz }: { row: ReviewRow; tz: string }) {
  const p = row.payload;
  const kind = row.kind;
  return (
    <tr data-testid="review-row" data-kind={kind} data-seq={row.seq} class={kind === "message.redacted" || p.redacted ? "redacted" : ""}>
      <td>{row.seq}</td>
      <td>
        <FullTime at={row.at} tz={tz} />
      </td>
      <td>{formatDuration(row.sinceStartMs)}</td>
      <td>{row.gapMs === null ? "—" : formatDuration(row.gapMs)}</td>
      <td>
        {row.actor ? (
          <>
            <span dir="auto">{row.actor.name}</span> {row.actor.agency ? <AgencyChip code={row.actor.agency} /> : null}
          </>
        ) : (
          <span class="hint">{t("review.automaticActor")}</span>
        )}
      </td>
      <td dir="auto" class="review-what">
        {kind === "message.edited" && !p.redacted ? <span class="hint">{t("review.editedTo")} </span> : null}
        {describeEvent({ kind, payload: p })}
      </td>
    </tr>
  );
}

function TimeField({ label: text, value, error, onInput }: { label: string; value: string; error: string | undefined; onInput: (value: string) => void }) {
  const id = useMemo(() => `tf-${Math.random().toString(36).slice(2)}`, []);
  return (
    <div class="field">
      <label for={id}>{text}</label>
      <input id={id} type="datetime-local" value={value} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-e` : undefined} onInput={(e) => onInput(e.currentTarget.value)} />
      {error ? (
        <span id={`${id}-e`} class="field-error">
          {error}
        </span>
      ) : null}
    </div>
  );
}

function Verification({ review, tz }: { review: Pick<ReviewOut, "verification">; tz: string }) {
  const v = review.verification;
  return (
    <p class={`verification ${v.ok ? "ok" : "broken"}`} data-testid="verification" role="status">
      <strong>{v.ok ? t("review.verified", { seq: v.through_seq }) : t("review.broken", { seq: v.broken_seq ?? 0, reason: v.reason ?? "" })}</strong>{" "}
      <span class="hint">
        {t("review.verifiedAt")} <FullTime at={v.verified_at} tz={tz} />
      </span>{" "}
      <span class="hint" data-testid="verification-checkpoint">
        {v.checkpoint != null && v.checkpoint_at ? (
          <>
            {t("review.checkpointed", { number: v.checkpoint, seq: v.checkpoint_seq ?? 0, key_id: v.key_id ?? "" })}{" "}
            <FullTime at={v.checkpoint_at} tz={tz} />
          </>
        ) : (
          t("review.notCheckpointed")
        )}
      </span>
    </p>
  );
}
