// /points/<CODE>/metrics and /metrics: response metrics for senior officials
// and coordinators, computed by the hub from the record (GET /api/v1/metrics).
// Five sections, each a chart, the same figures as a table (for readers who
// prefer numbers and for screen readers) and a CSV of them. The period and the
// point live in the URL, so a view is a link to share.

import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError } from "../api/client";
import { me, pointInfo, zoneOf } from "../app/session";
import { AgencyChip } from "../components/Agency";
import { label, locale, t } from "../i18n";
import { formatUtc, zoneOffsetLabel } from "../i18n/time";
import { Chart } from "./Chart";
import "./metrics.css";
import {
  type Change,
  type ChartTarget,
  durationChange,
  type DurationRow,
  type DurationSection,
  fetchMetrics,
  filterFromUrl,
  formatRate,
  formatSeconds,
  type MetricsFilter,
  type MetricsOut,
  metricsPath,
  PERIODS,
  type PunctualityRow,
  type PunctualitySection,
  rateChange,
  rowLabel,
  type Section,
  sectionCsv,
  csvFilename,
} from "./metrics";

const METRICS_ROLES = ["senior_official", "coordinator"];
const SEVERITIES = ["critical", "high", "medium", "low"];

type Load =
  | { kind: "loading" }
  | { kind: "done"; data: MetricsOut }
  | { kind: "forbidden" }
  | { kind: "not-found" }
  | { kind: "failed" };

/** The points where the signed-in official reads metrics (the point picker). */
function metricsPoints(): string[] {
  const codes = new Set<string>();
  for (const m of me.value?.memberships ?? []) {
    if (METRICS_ROLES.includes(m.role)) m.crossing_points.forEach((c) => codes.add(c));
  }
  return [...codes].sort();
}

function download(filename: string, text: string): void {
  // A BOM, so that spreadsheets read the file as UTF-8.
  const url = URL.createObjectURL(new Blob(["\ufeff", text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function ChangeCell({ change }: { change: Change }) {
  return (
    <td class={`metrics-change ${change.tone}`} data-tone={change.tone}>
      {change.arrow ? <span aria-hidden="true">{change.arrow} </span> : null}
      {change.text}
    </td>
  );
}

function KeyCell({ section, rowKey }: { section: Section; rowKey: string }) {
  return (
    <th scope="row">
      {section === "resolution" || rowKey === "" ? rowLabel(section, rowKey) : <AgencyChip code={rowKey} />}
    </th>
  );
}

const nf = () => new Intl.NumberFormat(locale.value);

function Seconds({ value }: { value: number | null }) {
  return <td data-value={value ?? ""}>{formatSeconds(value)}</td>;
}

function Count({ value }: { value: number | null | undefined }) {
  return <td data-value={value ?? ""}>{value === null || value === undefined ? t("metrics.none") : nf().format(value)}</td>;
}

function DurationTable({ section, rows, caption }: { section: DurationSection; rows: DurationRow[]; caption: string }) {
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-label={caption}>
      <table class="metrics-table" data-testid={`table-${section}`}>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{section === "resolution" ? t("metrics.col.categorySeverity") : t("metrics.col.agency")}</th>
            <th scope="col">{t("metrics.col.count")}</th>
            <th scope="col">{t("metrics.col.median")}</th>
            <th scope="col">{t("metrics.col.p90")}</th>
            <th scope="col">{t("metrics.col.previousMedian")}</th>
            <th scope="col">{t("metrics.col.change")}</th>
            {section === "alert_ack" ? (
              <>
                <th scope="col">{t("metrics.col.ackOnTime")}</th>
                <th scope="col">{t("metrics.col.ackLate")}</th>
                <th scope="col">{t("metrics.col.ackMissed")}</th>
              </>
            ) : null}
            {section === "resolution" ? <th scope="col">{t("metrics.col.open")}</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key} data-key={row.key}>
              <KeyCell section={section} rowKey={row.key} />
              <Count value={row.current.count} />
              <Seconds value={row.current.median_seconds} />
              <Seconds value={row.current.p90_seconds} />
              <Seconds value={row.previous.median_seconds} />
              <ChangeCell change={durationChange(row.median_change_seconds)} />
              {section === "alert_ack" ? (
                <>
                  <Count value={row.on_time?.on_time} />
                  <Count value={row.on_time?.late} />
                  <Count value={row.on_time?.missed} />
                </>
              ) : null}
              {section === "resolution" ? <Count value={row.open} /> : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PunctualityTable({ section, rows, caption }: { section: PunctualitySection; rows: PunctualityRow[]; caption: string }) {
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-label={caption}>
      <table class="metrics-table" data-testid={`table-${section}`}>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("metrics.col.agency")}</th>
            <th scope="col">{t("metrics.col.onTime")}</th>
            <th scope="col">{t("metrics.col.late")}</th>
            <th scope="col">{t("metrics.col.missed")}</th>
            <th scope="col">{t("metrics.col.rate")}</th>
            <th scope="col">{t("metrics.col.previousRate")}</th>
            <th scope="col">{t("metrics.col.change")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key} data-key={row.key}>
              <KeyCell section={section} rowKey={row.key} />
              <Count value={row.current.on_time} />
              <Count value={row.current.late} />
              <Count value={row.current.missed} />
              <td data-value={row.current.on_time_rate ?? ""}>{formatRate(row.current.on_time_rate, locale.value)}</td>
              <td data-value={row.previous.on_time_rate ?? ""}>{formatRate(row.previous.on_time_rate, locale.value)}</td>
              <ChangeCell change={rateChange(row.current.on_time_rate, row.previous.on_time_rate)} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ackTargets(data: MetricsOut): ChartTarget[] {
  return SEVERITIES.filter((s) => data.alert_ack_targets[s] !== undefined).map((s) => ({
    label: t("metrics.legend.target", { severity: label("severity", s), window: formatSeconds(data.alert_ack_targets[s] ?? null) }),
    value: data.alert_ack_targets[s] as number,
  }));
}

function Legend({ items, note }: { items: { colour: string; text: string; shape: "bar" | "dot" }[]; note?: string }) {
  return (
    <ul class="metrics-legend">
      {items.map((item) => (
        <li key={item.text}>
          <span class={`swatch ${item.shape}`} style={{ background: item.colour }} aria-hidden="true" />
          {item.text}
        </li>
      ))}
      {note ? (
        <li>
          <span class="swatch target" aria-hidden="true" />
          {note}
        </li>
      ) : null}
    </ul>
  );
}

const formatPercent = (v: number) => formatRate(v, locale.value);

function SectionView({ data, section, filter }: { data: MetricsOut; section: Section; filter: MetricsFilter }) {
  const title = t(`metrics.section.${section}`);
  const caption = t("metrics.tableCaption", { title, days: data.days });
  const headingId = `metrics-${section}`;
  const punctual = section === "tasks" || section === "sitreps";
  const rows = data[section];
  const keys = rows.map((r) => rowLabel(section, r.key));
  let chart;
  if (rows.length === 0) {
    chart = null;
  } else if (punctual) {
    const prows = rows as PunctualityRow[];
    chart = (
      <>
        <Chart
          keys={keys}
          bar={prows.map((r) => r.current.on_time_rate)}
          dot={prows.map((r) => r.previous.on_time_rate)}
          kind="rate"
          format={formatPercent}
          testId={`chart-${section}`}
        />
        <Legend
          items={[
            { colour: "#3f7fcf", text: t("metrics.legend.rate"), shape: "bar" },
            { colour: "#d9480f", text: t("metrics.legend.previousRate"), shape: "dot" },
          ]}
        />
      </>
    );
  } else {
    const drows = rows as DurationRow[];
    const targets = section === "alert_ack" ? ackTargets(data) : undefined;
    chart = (
      <>
        <Chart
          keys={keys}
          bar={drows.map((r) => r.current.median_seconds)}
          dot={drows.map((r) => r.current.p90_seconds)}
          kind="duration"
          format={formatSeconds}
          targets={targets}
          testId={`chart-${section}`}
        />
        <Legend
          items={[
            { colour: "#3f7fcf", text: t("metrics.legend.median"), shape: "bar" },
            { colour: "#d9480f", text: t("metrics.legend.p90"), shape: "dot" },
          ]}
          note={targets ? t("metrics.legend.targets", { windows: targets.map((tg) => tg.label).join(", ") }) : undefined}
        />
      </>
    );
  }
  return (
    <section class="panel metrics-section" aria-labelledby={headingId} data-testid={`section-${section}`}>
      <div class="metrics-section-head">
        <h2 id={headingId}>{title}</h2>
        {rows.length > 0 ? (
          <button
            type="button"
            class="button"
            data-testid={`csv-${section}`}
            aria-label={t("metrics.downloadCsvOf", { title })}
            onClick={() => download(csvFilename(filter, section), sectionCsv(data, section))}
          >
            {t("metrics.downloadCsv")}
          </button>
        ) : null}
      </div>
      <p class="hint">{t(`metrics.about.${section}`)}</p>
      {rows.length === 0 ? (
        <p class="metrics-empty" data-testid={`empty-${section}`}>
          {t(`metrics.empty.${section}`)}
        </p>
      ) : (
        <div class="metrics-body">
          <figure class="metrics-figure">
            <div aria-hidden="true">{chart}</div>
            <figcaption class="visually-hidden">{t("metrics.chartAlt", { title: caption })}</figcaption>
          </figure>
          {punctual ? (
            <PunctualityTable section={section} rows={rows as PunctualityRow[]} caption={caption} />
          ) : (
            <DurationTable section={section as DurationSection} rows={rows as DurationRow[]} caption={caption} />
          )}
        </div>
      )}
    </section>
  );
}

function Controls({ filter }: { filter: MetricsFilter }) {
  const location = useLocation();
  const points = metricsPoints();
  return (
    <div class="metrics-controls">
      <nav aria-label={t("metrics.period")} class="metrics-periods">
        <span class="metrics-control-label" aria-hidden="true">
          {t("metrics.period")}
        </span>
        <ul>
          {PERIODS.map((days) => (
            <li key={days}>
              <a
                class="button"
                href={metricsPath({ ...filter, days })}
                aria-current={filter.days === days ? "page" : undefined}
                data-testid={`period-${days}`}
              >
                {t("metrics.days", { days })}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {points.length > 1 || (points.length === 1 && filter.point === null) ? (
        <label class="metrics-point">
          {t("metrics.point")}{" "}
          <select
            value={filter.point ?? ""}
            onChange={(e) => location.route(metricsPath({ ...filter, point: e.currentTarget.value || null }))}
          >
            <option value="">{t("metrics.allPoints")}</option>
            {points.map((code) => (
              <option key={code} value={code}>
                {pointInfo(code)?.name ?? code} ({code})
              </option>
            ))}
          </select>
        </label>
      ) : null}
    </div>
  );
}

/** A period's bound in the zone, always with its date (the zone is shown once, beside); UTC on hover. */
function Instant({ at, tz }: { at: string; tz: string }) {
  const text = new Intl.DateTimeFormat(locale.value, {
    timeZone: tz,
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(at));
  return (
    <time dateTime={at} title={formatUtc(at)}>
      <bdi>{text}</bdi>
    </time>
  );
}

/** The zone the period's times are shown in: the point's, or the one all the points share, else UTC. */
function zoneFor(filter: MetricsFilter, data: MetricsOut | null): string {
  if (filter.point) return data?.crossing_points[0]?.timezone ?? zoneOf(filter.point);
  const zones = new Set((data?.crossing_points ?? []).map((p) => p.timezone));
  return zones.size === 1 ? ([...zones][0] as string) : "UTC";
}

export function Metrics({ code }: { code: string | null }) {
  const location = useLocation();
  const search = new URLSearchParams(location.query as Record<string, string>).toString();
  const filter = filterFromUrl(code, search);
  const [load, setLoad] = useState<Load>({ kind: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    setLoad({ kind: "loading" });
    fetchMetrics(filter, abort.signal).then(
      (data) => setLoad({ kind: "done", data }),
      (error: unknown) => {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.status === 403) setLoad({ kind: "forbidden" });
        else if (error instanceof ApiError && error.status === 404) setLoad({ kind: "not-found" });
        else setLoad({ kind: "failed" });
      },
    );
    return () => abort.abort();
  }, [filter.point, filter.days, attempt]);

  const data = load.kind === "done" ? load.data : null;
  const tz = zoneFor(filter, data);
  const pointName = filter.point ? (data?.crossing_points[0]?.name ?? pointInfo(filter.point)?.name ?? filter.point) : null;

  return (
    <div class="metrics-page" data-testid="metrics">
      <header class="page-head">
        {/* The name isolated (FSI…PDI), so a Latin name keeps its place in an Urdu title. */}
        <h1>{pointName ? t("metrics.titleAt", { point: `\u2068${pointName}\u2069` }) : t("metrics.titleAll")}</h1>
        {filter.point ? (
          <p class="meta">
            <a href={`/points/${filter.point}`}>{t("metrics.backToBoard", { point: filter.point })}</a>
          </p>
        ) : null}
      </header>
      <p class="hint">{t("metrics.intro")}</p>
      <Controls filter={filter} />
      {load.kind === "loading" ? (
        <p class="hint" role="status" data-testid="metrics-loading">
          {t("metrics.loading")}
        </p>
      ) : null}
      {load.kind === "forbidden" ? (
        <p class="problem" role="alert" data-testid="metrics-forbidden">
          {t("metrics.forbidden")}
        </p>
      ) : null}
      {load.kind === "not-found" ? (
        <p class="problem" role="alert">
          {t("metrics.notFound", { point: filter.point ?? "" })}
        </p>
      ) : null}
      {load.kind === "failed" ? (
        <p class="problem" role="alert">
          {t("metrics.failed")}{" "}
          <button type="button" onClick={() => setAttempt((n) => n + 1)}>
            {t("metrics.retry")}
          </button>
        </p>
      ) : null}
      {data && data.crossing_points.length === 0 ? <p data-testid="metrics-nowhere">{t("metrics.nowhere")}</p> : null}
      {data && data.crossing_points.length > 0 ? (
        <>
          <dl class="metrics-period" data-testid="metrics-period">
            <div>
              <dt>{t("metrics.thisPeriod", { days: data.days })}</dt>
              <dd>
                <Instant at={data.period.start} tz={tz} /> – <Instant at={data.period.end} tz={tz} />
              </dd>
            </div>
            <div>
              <dt>{t("metrics.previousPeriod")}</dt>
              <dd>
                <Instant at={data.previous_period.start} tz={tz} /> – <Instant at={data.previous_period.end} tz={tz} />
              </dd>
            </div>
            <div>
              <dt>{t("metrics.zoneLabel")}</dt>
              <dd>
                <bdi dir="ltr">
                  {tz} ({zoneOffsetLabel(tz)})
                </bdi>
              </dd>
            </div>
            {!filter.point ? (
              <div>
                <dt>{t("metrics.covers")}</dt>
                <dd>
                  {data.crossing_points.map((p, i) => (
                    <span key={p.code}>
                      {i > 0 ? ", " : null}
                      <a href={metricsPath({ point: p.code, days: filter.days })}>
                        <bdi>{p.name}</bdi> (<bdi>{p.code}</bdi>)
                      </a>
                    </span>
                  ))}
                </dd>
              </div>
            ) : null}
          </dl>
          {(["alert_ack", "first_response", "resolution", "tasks", "sitreps"] as const).map((section) => (
            <SectionView key={section} data={data} section={section} filter={filter} />
          ))}
        </>
      ) : null}
    </div>
  );
}
