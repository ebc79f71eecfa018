// Situation reports on an incident or an operation: the latest report pinned
// (situation, actions taken, next steps, needs from other agencies), "update
// due in …" (red when late), and for the lead agency's coordinators "Post
// situation report" and the reporting cadence. Writes go through the outbox.

import { useMemo, useState } from "preact/hooks";
import { hasRoleAt, pointInfo } from "../app/session";
import { postSitrep, setSitrepCadence, sitrepScope } from "../app/writes";
import type { SitrepSubject } from "../app/writes";
import { AgencyChip, Name } from "../components/Agency";
import { now } from "../components/clock";
import { Field } from "../components/Field";
import { Time } from "../components/Time";
import { t } from "../i18n";
import { formatDuration } from "../i18n/time";
import { newClientMsgId } from "../realtime/ids";
import { me } from "../app/session";
import { outboxItems } from "../realtime/live";
import { dueState } from "./sitrep-state";
import type { SitrepState } from "./sitrep-state";
import { OutboxState } from "../components/OutboxState";

const CADENCES = [15, 30, 60, 120, 240, 480];

export function SitrepDue({ state }: { state: SitrepState | null | undefined }) {
  const due = dueState(state, now.value);
  if (due.kind === "none") return null;
  return due.kind === "late" ? (
    <span class="badge sitrep-late" data-testid="update-due" data-state="late">
      {t("sitrep.late", { time: formatDuration(due.ms) })}
    </span>
  ) : (
    <span class="badge sitrep-due" data-testid="update-due" data-state="due">
      {t("sitrep.dueIn", { time: formatDuration(due.ms) })}
    </span>
  );
}

export function SitrepPanel({
  kind,
  subject,
  point,
  leadAgency,
  state,
  tz,
  readOnly,
}: {
  kind: SitrepSubject;
  subject: string;
  point: string;
  leadAgency: string;
  state: SitrepState | null | undefined;
  tz: string;
  readOnly: boolean;
}) {
  const user = me.value;
  const lead = !readOnly && hasRoleAt(user, point, "coordinator", leadAgency);
  const [open, setOpen] = useState(false);
  const latest = state?.latest ?? null;
  const scope = sitrepScope(kind, subject);
  const items = outboxItems.value.filter((i) => i.scope === scope && i.status !== "sent");
  if (!latest && !lead && !state?.every_minutes) return null;
  return (
    <section class="panel sitrep" aria-labelledby={`sitrep-${subject}`} data-testid="sitrep">
      <header class="sitrep-head">
        <h2 id={`sitrep-${subject}`}>{t("sitrep.title")}</h2>
        <SitrepDue state={state} />
        {state?.every_minutes ? <span class="hint">{t("sitrep.every", { minutes: state.every_minutes })}</span> : null}
      </header>
      {latest ? (
        <article class="sitrep-latest" data-testid="sitrep-latest">
          <p class="meta">
            {t("sitrep.number", { n: latest.number })} · <Name>{latest.author.name}</Name> <AgencyChip code={latest.agency} /> <Time at={latest.posted_at} tz={tz} relative />
          </p>
          <dl class="sitrep-fields">
            <dt>{t("sitrep.situation")}</dt>
            <dd dir="auto">{latest.situation}</dd>
            {latest.actions_taken ? (
              <>
                <dt>{t("sitrep.actions")}</dt>
                <dd dir="auto">{latest.actions_taken}</dd>
              </>
            ) : null}
            {latest.next_steps ? (
              <>
                <dt>{t("sitrep.next")}</dt>
                <dd dir="auto">{latest.next_steps}</dd>
              </>
            ) : null}
            {latest.needs.length ? (
              <>
                <dt>{t("sitrep.needs")}</dt>
                <dd>
                  <ul class="needs">
                    {latest.needs.map((n, i) => (
                      <li key={i}>
                        {n.agency ? <AgencyChip code={n.agency} /> : <span class="hint">{t("sitrep.anyAgency")}</span>} <span dir="auto">{n.need}</span>
                      </li>
                    ))}
                  </ul>
                </dd>
              </>
            ) : null}
          </dl>
        </article>
      ) : (
        <p class="hint">{t("sitrep.none")}</p>
      )}
      {lead ? (
        open ? (
          <SitrepForm kind={kind} subject={subject} point={point} onDone={() => setOpen(false)} />
        ) : (
          <p class="sitrep-actions">
            <button type="button" class="primary" onClick={() => setOpen(true)}>
              {t("sitrep.post")}
            </button>{" "}
            <label>
              {t("sitrep.cadence")}{" "}
              <select
                value={String(state?.every_minutes ?? "")}
                onChange={(e) => {
                  const value = e.currentTarget.value;
                  void setSitrepCadence(kind, subject, value ? Number(value) : null);
                }}
              >
                <option value="">{t("sitrep.noCadence")}</option>
                {CADENCES.map((m) => (
                  <option key={m} value={m}>
                    {t("sitrep.every", { minutes: m })}
                  </option>
                ))}
              </select>
            </label>
          </p>
        )
      ) : null}
      {items.map((item) => (
        <p key={item.id} class="outbox-line">
          {item.meta?.action === "cadence" ? t("sitrep.cadence") : t("sitrep.post")}:{" "}
          <OutboxState item={item} />
        </p>
      ))}
    </section>
  );
}

interface NeedRow {
  agency: string;
  need: string;
}

function SitrepForm({ kind, subject, point, onDone }: { kind: SitrepSubject; subject: string; point: string; onDone: () => void }) {
  const id = useMemo(() => newClientMsgId(), []);
  const [situation, setSituation] = useState("");
  const [actions, setActions] = useState("");
  const [next, setNext] = useState("");
  const [needs, setNeeds] = useState<NeedRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const agencies = pointInfo(point)?.agencies.map((a) => a.agency) ?? [];
  return (
    <form
      class="sitrep-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!situation.trim()) return setError(t("sitrep.situationRequired"));
        void postSitrep(id, kind, subject, {
          situation: situation.trim(),
          actions_taken: actions.trim(),
          next_steps: next.trim(),
          needs: needs.filter((n) => n.need.trim()).map((n) => ({ agency: n.agency || null, need: n.need.trim() })),
        });
        onDone();
      }}
    >
      <Field label={t("sitrep.situation")} error={error}>
        {(props) => <textarea {...props} dir="auto" rows={3} maxLength={5000} value={situation} onInput={(e) => setSituation(e.currentTarget.value)} />}
      </Field>
      <Field label={t("sitrep.actions")}>
        {(props) => <textarea {...props} dir="auto" rows={2} maxLength={5000} value={actions} onInput={(e) => setActions(e.currentTarget.value)} />}
      </Field>
      <Field label={t("sitrep.next")}>
        {(props) => <textarea {...props} dir="auto" rows={2} maxLength={5000} value={next} onInput={(e) => setNext(e.currentTarget.value)} />}
      </Field>
      <fieldset class="field group">
        <legend>{t("sitrep.needs")}</legend>
        {needs.map((row, i) => (
          <div class="inline-form" key={i}>
            <label>
              {t("sitrep.needAgency")}
              <select value={row.agency} onChange={(e) => setNeeds(needs.map((n, j) => (j === i ? { ...n, agency: e.currentTarget.value } : n)))}>
                <option value="">{t("sitrep.anyAgency")}</option>
                {agencies.map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
            </label>
            <label class="grow">
              {t("sitrep.need")}
              <input dir="auto" maxLength={500} value={row.need} onInput={(e) => setNeeds(needs.map((n, j) => (j === i ? { ...n, need: e.currentTarget.value } : n)))} />
            </label>
            <button type="button" class="link" onClick={() => setNeeds(needs.filter((_, j) => j !== i))}>
              {t("sitrep.removeNeed")}
            </button>
          </div>
        ))}
        {needs.length < 20 ? (
          <button type="button" onClick={() => setNeeds([...needs, { agency: "", need: "" }])}>
            {t("sitrep.addNeed")}
          </button>
        ) : null}
      </fieldset>
      <p class="form-actions">
        <button type="submit" class="primary">
          {t("sitrep.post")}
        </button>
        <button type="button" class="link" onClick={onDone}>
          {t("action.cancel")}
        </button>
      </p>
    </form>
  );
}
