// The operation page (/operations/<REF>): the header (template and version,
// lead agency, linked incident, progress), an "N overdue" chip and filters
// (mine, my agency, hide done and not applicable), the checklist, and for the
// operation's coordinators: add an ad-hoc task, close the operation.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { NotFound } from "../app/NotFound";
import { me, pointInfo, zoneOf } from "../app/session";
import { addTask, closeOperation, operationScope } from "../app/writes";
import { AgencyChip, Name } from "../components/Agency";
import { now } from "../components/clock";
import { Field } from "../components/Field";
import { Time } from "../components/Time";
import { label, t } from "../i18n";
import { outboxItems } from "../realtime/live";
import { Checklist, NO_FILTERS, ProgressBar } from "./Checklist";
import type { ChecklistFilters } from "./Checklist";
import { SitrepPanel } from "../incidents/SitrepPanel";
import { OperationStore } from "./operation-store";
import { canManage } from "./rules";
import { progressOf } from "./store";
import type { OperationState } from "./store";
import { OutboxState } from "../components/OutboxState";

export const AGENCY_KINDS = ["immigration", "customs", "coastguard", "airport_authority", "port_authority", "police", "health", "other"];

export function OperationPage({ ref: opRef }: { ref: string }) {
  const refCode = decodeURIComponent(opRef);
  const store = useMemo(() => new OperationStore(refCode), [refCode]);
  const heading = useRef<HTMLHeadingElement>(null);
  const [filters, setFilters] = useState<ChecklistFilters>(NO_FILTERS);
  useEffect(() => {
    void store.start();
    return () => store.close();
  }, [store]);
  const status = store.status.value;
  useEffect(() => {
    if (status === "ready") heading.current?.focus();
  }, [status]);
  if (status === "not-found") return <NotFound what="operation" ident={refCode} />;
  if (status === "loading") return <p class="hint">{t("state.loading")}</p>;
  if (status === "failed")
    return (
      <p class="problem" role="alert">
        {t("op.loadFailed")}
      </p>
    );
  const op = store.operation.value;
  if (op === null) return null;
  const tz = zoneOf(op.crossingPoint);
  const overdue = progressOf(op, now.value).overdue;
  const toggle = (name: keyof ChecklistFilters) => setFilters({ ...filters, [name]: !filters[name] });
  return (
    <div class="operation-page" data-testid="operation">
      <header class="page-head">
        <p class="crumbs">
          <a href={`/points/${op.crossingPoint}/operations`}>{t("op.backToList", { point: pointInfo(op.crossingPoint)?.name ?? op.crossingPoint })}</a>
        </p>
        <h1 tabIndex={-1} ref={heading}>
          <bdi class="ref">{op.ref}</bdi> <span dir="auto">{op.title}</span>
        </h1>
        <dl class="facts">
          <div>
            <dt>{t("op.template")}</dt>
            <dd>
              <bdi>{op.template}</bdi> {t("op.version", { version: op.templateVersion })}
            </dd>
          </div>
          <div>
            <dt>{t("incident.lead")}</dt>
            <dd>
              <AgencyChip code={op.leadAgency} />
            </dd>
          </div>
          {op.incident ? (
            <div>
              <dt>{t("op.incident")}</dt>
              <dd>
                <a href={`/incidents/${op.incident}`}>
                  <bdi>{op.incident}</bdi>
                </a>
              </dd>
            </div>
          ) : null}
          <div>
            <dt>{t("op.started")}</dt>
            <dd>
              <Name>{op.startedBy.name}</Name> <Time at={op.startedAt} tz={tz} />
            </dd>
          </div>
          <div>
            <dt>{t("filter.status")}</dt>
            <dd>{op.status === "closed" ? t("op.closed") : t("op.active")}</dd>
          </div>
        </dl>
      </header>
      {op.status === "closed" ? (
        <p class="notice" role="status">
          {t("op.closedNote", { note: op.closeNote || "—" })} <Time at={op.closedAt} tz={tz} />
        </p>
      ) : null}
      {status === "revoked" ? (
        <p class="problem" role="alert">
          {t("op.revoked")}
        </p>
      ) : null}
      <SitrepPanel kind="operation" subject={op.ref} point={op.crossingPoint} leadAgency={op.leadAgency} state={op.sitrep} tz={tz} readOnly={op.status === "closed"} />
      <section class="panel" aria-labelledby="checklist-heading">
        <h2 id="checklist-heading">{t("op.checklist")}</h2>
        <ProgressBar op={op} />
        <div class="chips" role="group" aria-label={t("op.filters")}>
          <button type="button" class={`chip${overdue ? " chip-late" : ""}`} aria-pressed={filters.overdue} data-testid="overdue-chip" onClick={() => toggle("overdue")}>
            {t("op.overdueCount", { count: overdue })}
          </button>
          <button type="button" class="chip" aria-pressed={filters.mine} onClick={() => toggle("mine")}>
            {t("op.filter.mine")}
          </button>
          <button type="button" class="chip" aria-pressed={filters.myAgency} onClick={() => toggle("myAgency")}>
            {t("op.filter.myAgency")}
          </button>
          <button type="button" class="chip" aria-pressed={filters.hideDone} onClick={() => toggle("hideDone")}>
            {t("op.filter.hideDone")}
          </button>
        </div>
        <Checklist op={op} filters={filters} tz={tz} />
      </section>
      {canManage(me.value, op) ? <ManageOperation op={op} /> : null}
    </div>
  );
}

function ManageOperation({ op }: { op: OperationState }) {
  const [title, setTitle] = useState("");
  const [kind, setKind] = useState("immigration");
  const [agency, setAgency] = useState("");
  const [due, setDue] = useState("60");
  const [requiresNote, setRequiresNote] = useState(false);
  const [requiresCosign, setRequiresCosign] = useState(false);
  const [titleError, setTitleError] = useState<string | null>(null);
  const [note, setNote] = useState("");
  const deployed = pointInfo(op.crossingPoint)?.agencies.map((a) => a.agency) ?? [];
  const lines = outboxItems.value.filter((i) => i.scope === operationScope(op.ref) && (i.meta?.action === "add" || i.meta?.action === "close") && i.status !== "sent");
  return (
    <section class="panel manage" aria-labelledby="manage-heading">
      <h2 id="manage-heading">{t("op.manage")}</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!title.trim()) return setTitleError(t("op.titleRequired"));
          const minutes = Number(due);
          void addTask(op.ref, {
            title: title.trim(),
            agency_kind: kind,
            agency: agency || null,
            due_in_minutes: Number.isInteger(minutes) && minutes >= 0 ? minutes : 60,
            requires_note: requiresNote,
            requires_cosign: requiresCosign,
          });
          setTitle("");
          setTitleError(null);
        }}
      >
        <Field label={t("op.newTask")} error={titleError}>
          {(props) => <input {...props} value={title} maxLength={200} onInput={(e) => setTitle(e.currentTarget.value)} />}
        </Field>
        <Field label={t("op.agencyKind")}>
          {(props) => (
            <select {...props} value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
              {AGENCY_KINDS.map((k) => (
                <option key={k} value={k}>
                  {label("agencyKind", k)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("op.assignAgency")}>
          {(props) => (
            <select {...props} value={agency} onChange={(e) => setAgency(e.currentTarget.value)}>
              <option value="">{t("op.noAgency")}</option>
              {deployed.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("op.dueInMinutes")}>
          {(props) => <input {...props} type="number" min={0} max={43200} value={due} class="narrow" onInput={(e) => setDue(e.currentTarget.value)} />}
        </Field>
        <label class="choice">
          <input type="checkbox" checked={requiresNote} onChange={(e) => setRequiresNote(e.currentTarget.checked)} /> {t("op.requiresNote")}
        </label>
        <label class="choice">
          <input type="checkbox" checked={requiresCosign} onChange={(e) => setRequiresCosign(e.currentTarget.checked)} /> {t("op.requiresCosign")}
        </label>
        <button type="submit">{t("op.addTask")}</button>
      </form>
      {op.status !== "closed" ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void closeOperation(op.ref, note.trim());
            setNote("");
          }}
        >
          <Field label={t("op.closingNote")}>
            {(props) => <input {...props} value={note} maxLength={5000} onInput={(e) => setNote(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="danger">
            {t("op.close")}
          </button>
        </form>
      ) : null}
      {lines.map((item) => (
        <p key={item.id} class="outbox-line">
          {item.meta?.action === "close" ? t("op.close") : t("op.addTask")} — {item.label}:{" "}
          <OutboxState item={item} />
        </p>
      ))}
    </section>
  );
}

/** The linked incident's room shows the same checklist in a panel. */
export function OperationPanel({ opRef }: { opRef: string }) {
  const store = useMemo(() => new OperationStore(opRef), [opRef]);
  const [filters, setFilters] = useState<ChecklistFilters>(NO_FILTERS);
  useEffect(() => {
    void store.start();
    return () => store.close();
  }, [store]);
  const op = store.operation.value;
  if (op === null) return null;
  const tz = zoneOf(op.crossingPoint);
  return (
    <section class="panel operation-panel" aria-labelledby={`op-${op.ref}`} data-testid="operation-panel">
      <h2 id={`op-${op.ref}`}>
        <a href={`/operations/${op.ref}`}>
          <bdi>{op.ref}</bdi>
        </a>{" "}
        <span dir="auto">{op.title}</span>
      </h2>
      <ProgressBar op={op} />
      <label class="choice">
        <input type="checkbox" checked={filters.hideDone} onChange={() => setFilters({ ...filters, hideDone: !filters.hideDone })} /> {t("op.filter.hideDone")}
      </label>
      <Checklist op={op} filters={filters} tz={tz} />
    </section>
  );
}
