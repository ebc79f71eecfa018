// A joint operation's checklist: one row per task with its agency and
// officers, due time and countdown, state, note and evidence, the co-sign in
// words, who did what on request, and the actions the officer may take. Every
// change goes through the outbox; a refusal shows next to the task.

import { useEffect, useMemo, useState } from "preact/hooks";
import { FileRow, PickedFiles, readPicked, toOutboxFiles, UnsentFiles } from "../attachments/Files";
import type { PickedFile } from "../attachments/Files";
import { IncidentFiles } from "../attachments/store";
import type { AttachmentMeta } from "../attachments/store";
import { MAX_FILES } from "../attachments/upload";
import { me, pointInfo } from "../app/session";
import { changeTask, cosignTask, operationScope, removeTask } from "../app/writes";
import { AgencyChip, Name } from "../components/Agency";
import { now } from "../components/clock";
import { Time } from "../components/Time";
import { label, t } from "../i18n";
import { formatDuration, formatTime } from "../i18n/time";
import { describeEvent } from "../incidents/describe";
import { outboxItems, outboxSignal } from "../realtime/live";
import type { OutboxItem } from "../realtime/outbox";
import { canCosign, canManage, completionProblem, isMine, isMyAgency, movesFor, NEEDS_REASON } from "./rules";
import { cosignState, isOverdue, progressOf } from "./store";
import type { OperationState, TaskState, TaskStatus } from "./store";
import { OutboxState } from "../components/OutboxState";

export interface ChecklistFilters {
  mine: boolean;
  myAgency: boolean;
  hideDone: boolean;
  overdue: boolean;
}

export const NO_FILTERS: ChecklistFilters = { mine: false, myAgency: false, hideDone: false, overdue: false };

export function ProgressBar({ op }: { op: OperationState }) {
  const p = progressOf(op, now.value);
  const applicable = p.total - p.not_applicable;
  return (
    <div class="progress-line">
      <progress max={Math.max(applicable, 1)} value={p.done} aria-label={t("op.progressLabel", { done: p.done, total: applicable })} />
      <span>{t("op.progress", { done: p.done, total: applicable })}</span>
      {p.overdue > 0 ? <span class="badge overdue-badge">{t("op.overdueCount", { count: p.overdue })}</span> : null}
    </div>
  );
}

export function Checklist({ op, filters, tz }: { op: OperationState; filters: ChecklistFilters; tz: string }) {
  const user = me.value;
  const current = now.value;
  const tasks = op.tasks.filter((task) => {
    if (task.removed) return false;
    if (filters.mine && !isMine(user, task)) return false;
    if (filters.myAgency && !isMyAgency(user, op, task)) return false;
    if (filters.hideDone && (task.status === "done" || task.status === "not_applicable")) return false;
    if (filters.overdue && !isOverdue(task, current)) return false;
    return true;
  });
  const items = outboxItems.value.filter((i) => i.scope === operationScope(op.ref));
  // The evidence files of the tasks are files of the operation's incident.
  const files = useMemo(() => (op.incident ? new IncidentFiles(op.incident) : null), [op.incident]);
  const wanted = op.tasks.flatMap((task) => task.files);
  const missing = files !== null && wanted.some((id) => !files.items.value.has(id));
  useEffect(() => {
    if (missing) void files?.load();
  }, [files, missing, wanted.join(",")]);
  return (
    <ol class="checklist" data-testid="checklist">
      {tasks.length === 0 ? <li class="hint">{t("op.noTasks")}</li> : null}
      {tasks.map((task) => (
        <TaskRow
          key={task.id}
          op={op}
          task={task}
          tz={tz}
          items={items.filter((i) => i.meta?.taskId === task.id && i.status !== "sent")}
          files={files?.items.value ?? new Map()}
        />
      ))}
    </ol>
  );
}

const MOVE_LABEL: Record<TaskStatus, string> = {
  in_progress: "op.move.start",
  done: "op.move.complete",
  blocked: "op.move.block",
  not_applicable: "op.move.notApplicable",
  open: "op.move.reopen",
};

/** A move's button, by where the task stands: a done task is reopened, a blocked one resumed. */
function moveLabel(from: TaskStatus, to: TaskStatus): string {
  if (to === "in_progress" && from === "done") return t("op.move.reopen");
  if (to === "in_progress" && from === "blocked") return t("op.move.resume");
  if (to === "open" && from === "in_progress") return t("op.move.toOpen");
  return t(MOVE_LABEL[to] as "op.move.start");
}

function TaskRow({
  op,
  task,
  tz,
  items,
  files,
}: {
  op: OperationState;
  task: TaskState;
  tz: string;
  items: OutboxItem[];
  files: ReadonlyMap<number, AttachmentMeta>;
}) {
  const user = me.value;
  const current = now.value;
  const overdue = isOverdue(task, current);
  const [mode, setMode] = useState<null | TaskStatus | "assign" | "remove" | "cosign">(null);
  const [text, setText] = useState("");
  const [evidence, setEvidence] = useState(task.evidence);
  const [agency, setAgency] = useState(task.assignedAgency ?? "");
  const [officers, setOfficers] = useState(task.assignees.join(", "));
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<PickedFile[]>([]);
  const [showHistory, setShowHistory] = useState(false);
  const moves = movesFor(user, op, task);
  const manage = canManage(user, op);
  const cosign = canCosign(user, op, task);
  const deployed = pointInfo(op.crossingPoint)?.agencies.map((a) => a.agency) ?? [];
  const sign = cosignState(task);
  const busy = items.some((i) => i.status === "pending" || i.status === "sending");

  const submit = (e: Event) => {
    e.preventDefault();
    if (mode === null) return;
    if (mode === "assign") {
      const list = officers.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
      void changeTask(op.ref, task.id, { assigned_agency: agency || null, assignees: list }, t("op.assignLine", { agency: agency || "—" }));
    } else if (mode === "remove") {
      if (!text.trim()) return setError(t("op.reasonRequired"));
      void removeTask(op.ref, task.id, text.trim());
    } else if (mode === "cosign") {
      void cosignTask(op.ref, task.id, text.trim());
    } else {
      if (NEEDS_REASON.includes(mode) && !text.trim()) return setError(t("op.reasonRequired"));
      if (mode === "done" && completionProblem(task, text, evidence, picked.length)) return setError(t("op.noteRequired"));
      if (picked.some((f) => f.problem !== null)) return setError(t("files.fixFirst"));
      if (picked.length > MAX_FILES) return setError(t("files.tooMany", { max: MAX_FILES }));
      const changes: Record<string, unknown> = { status: mode };
      if (NEEDS_REASON.includes(mode)) changes.reason = text.trim();
      else if (text.trim()) changes.note = text.trim();
      if (mode === "done" && evidence.trim() !== task.evidence) changes.evidence = evidence.trim();
      void changeTask(op.ref, task.id, changes, moveLabel(task.status, mode), toOutboxFiles(picked), op.incident);
    }
    setPicked([]);
    setMode(null);
    setText("");
    setError(null);
  };

  return (
    <li class={`task status-${task.status}${overdue ? " overdue" : ""}`} data-task-id={task.id} data-status={task.status} data-testid="task">
      <div class="task-head">
        <h3 class="task-title" dir="auto">
          <span class="position">{task.position}.</span> {task.title}
          {task.adhoc ? <span class="badge">{t("op.adhoc")}</span> : null}
        </h3>
        <span class={`badge task-state state-${task.status}`} data-testid="task-state">
          {label("task", task.status)}
        </span>
      </div>
      {task.guidance ? (
        <details class="guidance">
          <summary>{t("op.guidance")}</summary>
          <p dir="auto">{task.guidance}</p>
        </details>
      ) : null}
      <p class="task-meta">
        {task.assignedAgency ? <AgencyChip code={task.assignedAgency} /> : <span class="hint">{t("op.unassigned", { kind: label("agencyKind", task.agencyKind) })}</span>}
        {task.assignees.length ? (
          <span class="assignees">
            {task.assignees.map((u) => (
              <bdi key={u} class="name">
                {u}
              </bdi>
            ))}
          </span>
        ) : null}
        {task.dueAt ? (
          <span class={`due${overdue ? " late" : ""}`} data-testid="due">
            {t("op.due")} <Time at={task.dueAt} tz={tz} />{" "}
            {task.status === "done" || task.status === "not_applicable"
              ? null
              : overdue
                ? t("op.overdueBy", { time: formatDuration(current - Date.parse(task.dueAt)) })
                : t("op.dueIn", { time: formatDuration(Date.parse(task.dueAt) - current) })}
          </span>
        ) : null}
      </p>
      {(task.status === "blocked" || task.status === "not_applicable") && task.reason ? (
        <p class="task-reason" dir="auto">
          {t("op.reason", { reason: task.reason })}
        </p>
      ) : null}
      {task.note ? (
        <p class="task-note" dir="auto">
          {t("op.note", { note: task.note })}
        </p>
      ) : null}
      {task.evidence ? (
        <p class="task-note" dir="auto">
          {t("op.evidence", { evidence: task.evidence })}
        </p>
      ) : null}
      {op.incident && task.files.length > 0 ? (
        <div class="task-files" data-testid="task-files">
          <FileRow incident={op.incident} ids={task.files} files={files} point={op.crossingPoint} lead={op.leadAgency} tz={tz} />
        </div>
      ) : null}
      {sign.kind !== "none" ? (
        <p class={`cosign cosign-${sign.kind}`} data-testid="cosign">
          {sign.kind === "awaiting"
            ? t("op.cosign.awaiting", { agency: sign.doneAgency ?? "—", name: sign.doneBy ?? "—", time: sign.doneAt ? formatTime(sign.doneAt, tz, current) : "—" })
            : sign.kind === "cosigned"
              ? t("op.cosign.done", {
                  agency: sign.doneAgency ?? "—",
                  name: sign.doneBy ?? "—",
                  by: sign.by ?? "—",
                  byAgency: sign.agency ?? "—",
                  time: sign.at ? formatTime(sign.at, tz, current) : "—",
                })
              : t("op.cosign.before", { by: sign.by ?? "—", byAgency: sign.agency ?? "—" })}
        </p>
      ) : task.requiresCosign ? (
        <p class="cosign hint">{t("op.cosign.required")}</p>
      ) : null}
      {mode === null && (moves.length > 0 || manage || cosign) ? (
        <div class="task-actions" role="group" aria-label={t("op.actionsFor", { title: task.title })}>
          {moves.map((to) => (
            <button key={to} type="button" disabled={busy} class={to === "done" ? "primary" : ""} onClick={() => (setMode(to), setText(""), setError(null))}>
              {moveLabel(task.status, to)}
            </button>
          ))}
          {cosign ? (
            <button type="button" disabled={busy} onClick={() => (setMode("cosign"), setText(""), setError(null))}>
              {t("op.cosignAction")}
            </button>
          ) : null}
          {manage ? (
            <button type="button" disabled={busy} onClick={() => setMode("assign")}>
              {t("op.assign")}
            </button>
          ) : null}
          {manage && task.adhoc ? (
            <button type="button" class="link" disabled={busy} onClick={() => (setMode("remove"), setText(""))}>
              {t("op.remove")}
            </button>
          ) : null}
        </div>
      ) : null}
      {mode !== null ? (
        <form class="inline-form task-form" onSubmit={submit}>
          {mode === "assign" ? (
            <>
              <label>
                {t("op.assignAgency")}
                <select value={agency} onChange={(e) => setAgency(e.currentTarget.value)}>
                  <option value="">{t("op.noAgency")}</option>
                  {deployed.map((a) => (
                    <option key={a} value={a}>
                      {a}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                {t("op.assignOfficers")}
                <input value={officers} maxLength={500} onInput={(e) => setOfficers(e.currentTarget.value)} placeholder="na-pol.duty" />
              </label>
            </>
          ) : (
            <label class="grow">
              {mode === "remove" || NEEDS_REASON.includes(mode as TaskStatus)
                ? t("op.reasonLabel")
                : mode === "cosign"
                  ? t("op.cosignNote")
                  : task.requiresNote && mode === "done"
                    ? t("op.noteLabelRequired")
                    : t("op.noteLabel")}
              <input value={text} maxLength={mode === "cosign" || mode === "remove" || NEEDS_REASON.includes(mode as TaskStatus) ? 500 : 5000} onInput={(e) => setText(e.currentTarget.value)} />
            </label>
          )}
          {mode === "done" ? (
            <label>
              {t("op.evidenceLabel")}
              <input value={evidence} maxLength={500} onInput={(e) => setEvidence(e.currentTarget.value)} />
            </label>
          ) : null}
          {op.incident && (mode === "done" || mode === "in_progress" || mode === "blocked") ? (
            <label>
              {t("files.evidenceFiles")}
              <input
                type="file"
                multiple
                accept="image/jpeg,image/png,image/webp,application/pdf"
                data-testid="task-file-input"
                onChange={(e) => {
                  const input = e.currentTarget;
                  void readPicked(Array.from(input.files ?? [])).then((added) => {
                    setPicked((now) => [...now, ...added]);
                    input.value = "";
                  });
                }}
              />
            </label>
          ) : null}
          <PickedFiles files={picked} onRemove={(id) => setPicked((now) => now.filter((f) => f.id !== id))} />
          <button type="submit" class="primary">
            {mode === "assign" ? t("op.assign") : mode === "remove" ? t("op.remove") : mode === "cosign" ? t("op.cosignAction") : moveLabel(task.status, mode)}
          </button>
          <button type="button" class="link" onClick={() => (setMode(null), setError(null), setPicked([]))}>
            {t("action.cancel")}
          </button>
          {error ? (
            <p class="field-error" role="alert">
              {error}
            </p>
          ) : null}
        </form>
      ) : null}
      {items.map((item) => (
        <div key={item.id} class="outbox-line" data-testid="task-outbox">
          {item.label}: <OutboxState item={item} />
          <UnsentFiles files={item.files ?? []} progress={outboxSignal.value?.progress.value[item.id]} refused={item.error?.file} />
        </div>
      ))}
      {task.history.length > 0 || showHistory ? (
        <p class="history-toggle">
          <button type="button" class="link" aria-expanded={showHistory} onClick={() => setShowHistory(!showHistory)}>
            {t("op.history", { count: task.history.length })}
          </button>
        </p>
      ) : null}
      {showHistory ? (
        <ol class="task-history">
          {task.history.map((h) => (
            <li key={h.seq}>
              <Time at={h.at} tz={tz} /> {h.actor ? <Name>{h.actor.name}</Name> : null} {h.actor?.agency ? <AgencyChip code={h.actor.agency} /> : null}{" "}
              <span dir="auto">{describeEvent({ kind: h.kind, payload: h.payload })}</span>
            </li>
          ))}
        </ol>
      ) : null}
    </li>
  );
}
