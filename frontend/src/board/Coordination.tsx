// The coordinator's part of the site board (loaded only for coordinators):
// count cards that are also filters (alerts not acknowledged, by agency;
// overdue tasks; operations in progress; situation reports due; incidents
// still only "reported"), the acknowledgement coverage grid (open alerts ×
// targeted agencies) and a "needs attention" list ordered by how late each
// item is. Operations stay live through their streams.

import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../api/client";
import { isLive, standing } from "../alerts/store";
import type { AlertState } from "../alerts/store";
import { AgencyChip } from "../components/Agency";
import { now } from "../components/clock";
import { t } from "../i18n";
import { formatDuration } from "../i18n/time";
import type { IncidentState } from "../incidents/state";
import { sitrepsDue } from "./sitreps-due";
import type { SitrepDue } from "./sitreps-due";
import { OperationsFeed } from "./operations-feed";
import { isOverdue } from "../operations/store";
import type { OperationState } from "../operations/store";

type Focus = "acks" | "tasks" | "operations" | "sitreps" | "reported" | null;

interface Attention {
  key: string;
  lateMs: number;
  text: string;
  href: string;
}

export function Coordination({ code, alerts, incidents }: { code: string; alerts: AlertState[]; incidents: IncidentState[] }) {
  const feed = useMemo(() => new OperationsFeed(code), [code]);
  const [focus, setFocus] = useState<Focus>(null);
  const [sitreps, setSitreps] = useState<SitrepDue[]>([]);
  useEffect(() => {
    void feed.start();
    const load = () =>
      api<SitrepDue[] | { items: SitrepDue[] }>("GET", `/crossing-points/${encodeURIComponent(code)}/sitreps-due`)
        .then((data) => setSitreps(Array.isArray(data) ? data : data.items))
        .catch(() => setSitreps([]));
    void load();
    // New operations and reports at the point: re-read each minute (their
    // changes in between arrive live on their streams).
    const timer = setInterval(() => {
      void load();
      void feed.refresh();
    }, 60_000);
    return () => {
      feed.stop();
      clearInterval(timer);
    };
  }, [feed]);
  const current = now.value;
  const ops: OperationState[] = feed.operations.value;
  const liveAlerts = alerts.filter((a) => isLive(a, current) && a.ackRequired);
  const agencies = [...new Set(liveAlerts.flatMap((a) => a.targets.map((tg) => tg.agency)))].sort();
  const unackedByAgency = new Map<string, number>();
  for (const alert of liveAlerts) {
    for (const target of alert.targets) {
      if (target.acknowledgedAt === null) unackedByAgency.set(target.agency, (unackedByAgency.get(target.agency) ?? 0) + 1);
    }
  }
  const overdueTasks = ops.flatMap((op) => op.tasks.filter((task) => isOverdue(task, current)).map((task) => ({ op, task })));
  const inProgress = ops.filter((op) => op.status !== "closed");
  const owed = sitrepsDue(
    sitreps,
    incidents.map((i) => ({ ref: i.ref, title: i.title, sitrep: i.sitrep, closed: i.status === "closed" || i.status === "resolved" })),
    ops.map((op) => ({ ref: op.ref, title: op.title, sitrep: op.sitrep, closed: op.status === "closed" })),
    current,
  );
  const due = owed.filter((s) => s.due_at !== null && (s.overdue || Date.parse(s.due_at) - current < 15 * 60_000));
  const reported = incidents.filter((i) => i.status === "reported");
  const totalUnacked = [...unackedByAgency.values()].reduce((a, b) => a + b, 0);

  const attention: Attention[] = [];
  for (const alert of liveAlerts) {
    for (const target of alert.targets) {
      if (standing(alert, target, current) === "overdue" && target.dueAt) {
        attention.push({ key: `a${alert.id}${target.agency}`, lateMs: current - Date.parse(target.dueAt), text: t("coord.attn.ack", { agency: target.agency, title: alert.title }), href: `/alerts/${alert.id}` });
      }
    }
  }
  for (const { op, task } of overdueTasks) {
    attention.push({ key: `t${task.id}`, lateMs: current - Date.parse(task.dueAt as string), text: t("coord.attn.task", { ref: op.ref, title: task.title, agency: task.assignedAgency ?? "—" }), href: `/operations/${op.ref}` });
  }
  for (const s of owed) {
    if (s.overdue && s.due_at) attention.push({ key: `s${s.ref}`, lateMs: current - Date.parse(s.due_at), text: t("coord.attn.sitrep", { ref: s.ref }), href: s.kind === "incident" ? `/incidents/${s.ref}` : `/operations/${s.ref}` });
  }
  for (const incident of reported) {
    attention.push({ key: `i${incident.ref}`, lateMs: current - Date.parse(incident.created_at), text: t("coord.attn.reported", { ref: incident.ref, title: incident.title }), href: `/incidents/${incident.ref}` });
  }
  attention.sort((a, b) => b.lateMs - a.lateMs);

  const cards: { id: Exclude<Focus, null>; label: string; count: number; late?: boolean }[] = [
    { id: "acks", label: t("coord.card.acks"), count: totalUnacked },
    { id: "tasks", label: t("coord.card.tasks"), count: overdueTasks.length, late: overdueTasks.length > 0 },
    { id: "operations", label: t("coord.card.operations"), count: inProgress.length },
    { id: "sitreps", label: t("coord.card.sitreps"), count: due.length, late: due.some((s) => s.overdue) },
    { id: "reported", label: t("coord.card.reported"), count: reported.length },
  ];

  return (
    <section class="coordination" aria-labelledby="coord-board-heading" data-testid="coordination">
      <h2 id="coord-board-heading">{t("coord.title")}</h2>
      <ul class="cards" aria-label={t("coord.cards")}>
        {cards.map((c) => (
          <li key={c.id}>
            <button type="button" class={`count-card${c.late ? " card-late" : ""}`} aria-pressed={focus === c.id} data-testid={`coord-card-${c.id}`} onClick={() => setFocus(focus === c.id ? null : c.id)}>
              <span class="count">{c.count}</span>
              <span class="card-label">{c.label}</span>
            </button>
          </li>
        ))}
      </ul>
      <div class="coord-grid">
        {focus === null || focus === "acks" ? (
          <section class="panel" aria-labelledby="coverage-heading">
            <h3 id="coverage-heading">{t("coord.coverage")}</h3>
            {liveAlerts.length === 0 ? (
              <p class="hint">{t("board.noAlerts")}</p>
            ) : (
              <div class="table-scroll">
                <table class="coverage" data-testid="coverage">
                  <caption class="visually-hidden">{t("coord.coverage")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("coord.alert")}</th>
                      {agencies.map((a) => (
                        <th key={a} scope="col">
                          <AgencyChip code={a} /> {unackedByAgency.get(a) ? <span class="badge overdue-badge">{unackedByAgency.get(a)}</span> : null}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {liveAlerts.map((alert) => (
                      <tr key={alert.id}>
                        <th scope="row">
                          <a href={`/alerts/${alert.id}`} dir="auto">
                            {alert.exercise ? `${t("alert.exercise")} — ` : ""}
                            {alert.title}
                          </a>
                        </th>
                        {agencies.map((a) => {
                          const target = alert.targets.find((tg) => tg.agency === a);
                          const state = target ? standing(alert, target, current) : null;
                          return (
                            <td key={a} class={state ? `ack-${state}` : "ack-none"} data-agency={a} data-state={state ?? "none"}>
                              {state === null ? "—" : state === "acknowledged" ? t("coord.acked") : state === "waiting" ? t("alert.ack.pending") : state === "overdue" ? t("alert.ack.overdue") : t("alert.ack.notRequired")}
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        ) : null}
        {focus === "tasks" || focus === "operations" ? (
          <section class="panel" aria-labelledby="coord-ops-heading">
            <h3 id="coord-ops-heading">{focus === "tasks" ? t("coord.card.tasks") : t("coord.card.operations")}</h3>
            <ul class="attention">
              {focus === "tasks"
                ? overdueTasks.map(({ op, task }) => (
                    <li key={task.id}>
                      <a href={`/operations/${op.ref}`}>{t("coord.attn.task", { ref: op.ref, title: task.title, agency: task.assignedAgency ?? "—" })}</a>{" "}
                      <span class="late">{t("op.overdueBy", { time: formatDuration(current - Date.parse(task.dueAt as string)) })}</span>
                    </li>
                  ))
                : inProgress.map((op) => (
                    <li key={op.ref}>
                      <a href={`/operations/${op.ref}`}>
                        <bdi>{op.ref}</bdi> <span dir="auto">{op.title}</span>
                      </a>
                    </li>
                  ))}
            </ul>
          </section>
        ) : null}
        {focus === "sitreps" ? (
          <section class="panel" aria-labelledby="coord-sitreps-heading">
            <h3 id="coord-sitreps-heading">{t("coord.card.sitreps")}</h3>
            <ul class="attention">
              {due.length === 0 ? <li class="hint">{t("coord.noneDue")}</li> : null}
              {due.map((s) => (
                <li key={s.ref} data-testid="sitrep-due">
                  <a href={s.kind === "incident" ? `/incidents/${s.ref}` : `/operations/${s.ref}`}>
                    <bdi>{s.ref}</bdi> <span dir="auto">{s.title}</span>
                  </a>{" "}
                  <span class={s.overdue ? "late" : "soon"}>
                    {s.overdue ? t("coord.updateLate", { time: formatDuration(current - Date.parse(s.due_at as string)) }) : t("coord.updateDue", { time: formatDuration(Date.parse(s.due_at as string) - current) })}
                  </span>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
        {focus === "reported" ? (
          <section class="panel" aria-labelledby="coord-reported-heading">
            <h3 id="coord-reported-heading">{t("coord.card.reported")}</h3>
            <ul class="attention">
              {reported.map((i) => (
                <li key={i.ref}>
                  <a href={`/incidents/${i.ref}`}>
                    <bdi>{i.ref}</bdi> <span dir="auto">{i.title}</span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
        <section class="panel" aria-labelledby="attention-heading">
          <h3 id="attention-heading">{t("coord.attention")}</h3>
          <ol class="attention" data-testid="attention">
            {attention.length === 0 ? <li class="hint">{t("coord.nothing")}</li> : null}
            {attention.slice(0, 30).map((item) => (
              <li key={item.key}>
                <a href={item.href}>{item.text}</a> <span class={item.lateMs > 0 ? "late" : "soon"}>{item.lateMs > 0 ? t("coord.late", { time: formatDuration(item.lateMs) }) : ""}</span>
              </li>
            ))}
          </ol>
        </section>
      </div>
    </section>
  );
}
