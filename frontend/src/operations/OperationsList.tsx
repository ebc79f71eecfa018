// Operations at a crossing point (/points/<CODE>/operations): active and
// finished operations with their SOP and version, lead agency, linked
// incident, progress and overdue count; filters; and, for coordinators,
// "Start operation" from an SOP template.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, ApiError, fieldErrors } from "../api/client";
import { listIncidents } from "../api/endpoints";
import type { IncidentOut } from "../api/types";
import { agenciesAt, me, pointInfo, zoneOf } from "../app/session";
import { settled, startOperation } from "../app/writes";
import { AgencyChip } from "../components/Agency";
import { now } from "../components/clock";
import { Dialog } from "../components/Dialog";
import { Field } from "../components/Field";
import { Time } from "../components/Time";
import { errorText, label, t } from "../i18n";
import { formatDuration } from "../i18n/time";
import { newClientMsgId } from "../realtime/ids";
import { isOpen } from "../incidents/state";
import { fromSnapshot, isOverdue, progressOf } from "./store";
import type { OperationSnapshot, OperationState } from "./store";

interface TemplateItem {
  key: string;
  position: number;
  title: string;
  guidance: string;
  agency_kind: string;
  due_offset_minutes: number;
  requires_note: boolean;
  requires_cosign: boolean;
}

interface Template {
  code: string;
  version: number;
  title: string;
  description: string;
  items: TemplateItem[];
}

const enc = encodeURIComponent;

export function OperationsList({ code }: { code: string }) {
  const user = me.value;
  const tz = zoneOf(code);
  const [ops, setOps] = useState<OperationState[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [finished, setFinished] = useState(false);
  const [template, setTemplate] = useState("");
  const [lead, setLead] = useState("");
  const [mine, setMine] = useState(false);
  const [myAgency, setMyAgency] = useState(false);
  const [starting, setStarting] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const coordinatorOf = agenciesAt(user, code, ["coordinator"]);
  const myAgencies = agenciesAt(user, code);

  const load = () => {
    const params = new URLSearchParams({ crossing_point: code, limit: "200" });
    if (!finished) params.set("status", "active");
    api<OperationSnapshot[] | { items: OperationSnapshot[] }>("GET", `/operations?${params}`)
      .then((data) => setOps((Array.isArray(data) ? data : data.items).map(fromSnapshot)))
      .catch((error: unknown) => setProblem(error instanceof ApiError ? errorText(error.code, error.detail) : t("error.network")));
  };
  useEffect(load, [code, finished]);
  useEffect(() => heading.current?.focus(), [code]);

  const current = now.value;
  const shown = (ops ?? []).filter(
    (op) =>
      (!template || op.template === template) &&
      (!lead || op.leadAgency === lead) &&
      (!mine || op.tasks.some((task) => !task.removed && user !== null && task.assignees.includes(user.username))) &&
      (!myAgency || myAgencies.includes(op.leadAgency) || op.tasks.some((task) => task.assignedAgency !== null && myAgencies.includes(task.assignedAgency))),
  );
  const templates = [...new Set((ops ?? []).map((op) => op.template))].sort();
  const leads = [...new Set((ops ?? []).map((op) => op.leadAgency))].sort();

  return (
    <div class="operations" data-testid="operations">
      <header class="page-head">
        <p class="crumbs">
          <a href={`/points/${code}`}>{t("nav.board", { point: pointInfo(code)?.name ?? code })}</a>
        </p>
        <h1 tabIndex={-1} ref={heading}>
          {t("ops.title", { point: pointInfo(code)?.name ?? code })}
        </h1>
        {coordinatorOf.length > 0 ? (
          <nav class="page-actions" aria-label={t("ops.actions")}>
            <button type="button" class="primary" onClick={() => setStarting(true)}>
              {t("ops.start")}
            </button>
          </nav>
        ) : null}
      </header>
      <form class="filters panel" aria-label={t("ops.filters")} onSubmit={(e) => e.preventDefault()}>
        <label>
          {t("op.template")}
          <select value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
            <option value="">{t("filter.any")}</option>
            {templates.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("incident.lead")}
          <select value={lead} onChange={(e) => setLead(e.currentTarget.value)}>
            <option value="">{t("filter.any")}</option>
            {leads.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label class="choice">
          <input type="checkbox" checked={mine} onChange={(e) => setMine(e.currentTarget.checked)} /> {t("op.filter.mine")}
        </label>
        <label class="choice">
          <input type="checkbox" checked={myAgency} onChange={(e) => setMyAgency(e.currentTarget.checked)} /> {t("op.filter.myAgency")}
        </label>
        <label class="choice">
          <input type="checkbox" checked={finished} onChange={(e) => setFinished(e.currentTarget.checked)} /> {t("ops.includeFinished")}
        </label>
      </form>
      {problem ? (
        <p class="problem" role="alert">
          {problem}
        </p>
      ) : null}
      {ops === null && !problem ? <p class="hint">{t("state.loading")}</p> : null}
      <ul class="operation-list">
        {ops !== null && shown.length === 0 ? <li class="hint">{t("ops.none")}</li> : null}
        {shown.map((op) => {
          const p = progressOf(op, current);
          const applicable = p.total - p.not_applicable;
          const nextDue = op.tasks.filter((task) => !task.removed && task.dueAt && !isOverdue(task, current) && (task.status === "open" || task.status === "in_progress")).map((task) => Date.parse(task.dueAt as string)).sort()[0];
          return (
            <li key={op.ref} class={`operation-row${op.status === "closed" ? " closed" : ""}`} data-ref={op.ref} data-testid="operation-row">
              <a href={`/operations/${op.ref}`} class="incident-link">
                <span class="ref">
                  <bdi>{op.ref}</bdi>
                </span>{" "}
                <span dir="auto">{op.title}</span>
              </a>
              <p class="row-meta">
                <bdi>{op.template}</bdi> {t("op.version", { version: op.templateVersion })} · {t("incident.lead")} <AgencyChip code={op.leadAgency} />
                {op.incident ? (
                  <>
                    {" "}
                    · <a href={`/incidents/${op.incident}`}>{op.incident}</a>
                  </>
                ) : null}{" "}
                · <Time at={op.startedAt} tz={tz} relative />
                {op.status === "closed" ? <> · {t("op.closed")}</> : null}
              </p>
              <div class="progress-line">
                <progress max={Math.max(applicable, 1)} value={p.done} aria-label={t("op.progressLabel", { done: p.done, total: applicable })} />
                <span>{t("op.progress", { done: p.done, total: applicable })}</span>
                {p.overdue > 0 ? <span class="badge overdue-badge">{t("op.overdueCount", { count: p.overdue })}</span> : null}
                {nextDue ? <span class="hint">{t("ops.nextDue", { time: formatDuration(nextDue - current) })}</span> : null}
              </div>
            </li>
          );
        })}
      </ul>
      <Dialog title={t("ops.start")} open={starting} onClose={() => setStarting(false)}>
        <StartOperation code={code} leads={coordinatorOf} onStarted={() => setStarting(false)} />
      </Dialog>
    </div>
  );
}

/** Which deployed agency each task of a template will go to (hub/operations/services.py _choose_agency). */
export function predictedAgency(point: { agencies: { agency: string; kind: string }[] } | undefined, kind: string, lead: string, countryOf: (code: string) => string | undefined): string | null {
  const candidates = (point?.agencies ?? []).filter((a) => a.kind === kind).map((a) => a.agency);
  if (candidates.length === 0) return null;
  const leadCountry = countryOf(lead);
  return [...candidates].sort((a, b) => {
    const key = (c: string) => [c === lead ? 0 : 1, countryOf(c) === leadCountry ? 0 : 1] as const;
    const [a1, a2] = key(a);
    const [b1, b2] = key(b);
    return a1 - b1 || a2 - b2 || (a < b ? -1 : a > b ? 1 : 0);
  })[0] ?? null;
}

function StartOperation({ code, leads, onStarted }: { code: string; leads: string[]; onStarted: () => void }) {
  const { route } = useLocation();
  const [templates, setTemplates] = useState<Template[]>([]);
  const [incidents, setIncidents] = useState<IncidentOut[]>([]);
  const [chosen, setChosen] = useState("");
  const [incident, setIncident] = useState("");
  const [lead, setLead] = useState(leads[0] ?? "");
  // Per task position, the agency chosen instead of the suggestion ("" = no agency yet).
  const [overrides, setOverrides] = useState<Record<number, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const id = useMemo(() => newClientMsgId(), []);
  const point = pointInfo(code);
  useEffect(() => {
    void api<Template[]>("GET", "/checklist-templates").then(setTemplates).catch(() => setTemplates([]));
    void listIncidents({ crossing_point: code, limit: 100 }).then((page) => setIncidents(page.items.filter(isOpen))).catch(() => setIncidents([]));
  }, [code]);
  const template = templates.find((x) => x.code === chosen);
  const countryOf = (agency: string) => agency.split("-")[0];
  const deployed = (point?.agencies ?? []).map((a) => a.agency);

  return (
    <form
      class="start-operation"
      onSubmit={(e) => {
        e.preventDefault();
        if (!template) return setErrors({ template: t("ops.chooseTemplate") });
        setBusy(true);
        setErrors({});
        const assignments = template.items
          .filter((item) => item.position in overrides && overrides[item.position] !== (predictedAgency(point, item.agency_kind, lead, countryOf) ?? ""))
          .map((item) => ({ position: item.position, agency: overrides[item.position] || null }));
        void startOperation(id, {
          crossing_point: code,
          template: template.code,
          template_version: template.version,
          incident: incident || null,
          agency: lead || null,
          ...(assignments.length > 0 ? { assignments } : {}),
        })
          .then((item) => settled(item.id))
          .then((item) => {
            setBusy(false);
            if (item.status === "sent") {
              onStarted();
              route(`/operations/${(item.result as { ref: string }).ref}`);
            } else if (item.error) {
              setErrors(item.error.status === 422 ? fieldErrors({ errors: item.error.errors, detail: item.error.detail }) : { "": errorText(item.error.code, item.error.detail) });
            }
          });
      }}
    >
      <Field label={t("op.template")} error={errors.template}>
        {(props) => (
          <select {...props} value={chosen} onChange={(e) => (setChosen(e.currentTarget.value), setOverrides({}))}>
            <option value="">{t("ops.chooseTemplate")}</option>
            {templates.map((x) => (
              <option key={x.code} value={x.code}>
                {x.title} ({t("op.version", { version: x.version })})
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("ops.linkedIncident")} error={errors.incident}>
        {(props) => (
          <select {...props} value={incident} onChange={(e) => setIncident(e.currentTarget.value)}>
            <option value="">{t("ops.noIncident")}</option>
            {incidents.map((i) => (
              <option key={i.ref} value={i.ref}>
                {i.ref} — {i.title}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("ops.leadAgency")} error={errors.agency}>
        {(props) => (
          <select {...props} value={lead} onChange={(e) => setLead(e.currentTarget.value)}>
            {leads.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        )}
      </Field>
      {template ? (
        <section aria-labelledby="start-tasks">
          <h3 id="start-tasks">{t("ops.tasksOf", { count: template.items.length })}</h3>
          {template.description ? <p class="hint">{template.description}</p> : null}
          <table class="start-tasks">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">{t("ops.task")}</th>
                <th scope="col">{t("op.agencyKind")}</th>
                <th scope="col">{t("ops.goesTo")}</th>
                <th scope="col">{t("ops.dueAfter")}</th>
              </tr>
            </thead>
            <tbody>
              {template.items.map((item) => {
                const suggested = predictedAgency(point, item.agency_kind, lead, countryOf);
                const value = overrides[item.position] ?? suggested ?? "";
                return (
                  <tr key={item.key} data-testid="start-task">
                    <td>{item.position}</td>
                    <td dir="auto">{item.title}</td>
                    <td>{label("agencyKind", item.agency_kind)}</td>
                    <td>
                      <select
                        aria-label={t("ops.goesToFor", { position: item.position })}
                        value={value}
                        onChange={(e) => setOverrides({ ...overrides, [item.position]: e.currentTarget.value })}
                      >
                        {deployed.map((a) => (
                          <option key={a} value={a}>
                            {a === suggested ? t("ops.suggested", { agency: a }) : a}
                          </option>
                        ))}
                        <option value="">{t("ops.noAgencyYet")}</option>
                      </select>
                      {suggested === null ? <p class="hint">{t("ops.nobody")}</p> : null}
                    </td>
                    <td>{formatDuration(item.due_offset_minutes * 60_000)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <p class="hint">{t("ops.reassignAfter")}</p>
        </section>
      ) : null}
      {errors[""] ? (
        <p class="problem" role="alert">
          {errors[""]}
        </p>
      ) : null}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? t("outbox.pending") : t("ops.start")}
      </button>
    </form>
  );
}
