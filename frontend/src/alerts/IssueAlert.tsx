// Issue an alert (/points/<CODE>/alerts/new; `?incident=REF` links an incident).
//
// Title, body, category, severity, urgency, certainty, an optional expiry
// typed in the crossing point's zone, the agencies that must acknowledge (all
// deployed here but the issuer, ticked by default), whether acknowledgement is
// required, the EXERCISE flag, an optional linked incident, and the issuing
// agency when the officer acts for several here. Like the report: one
// client_msg_id per form, kept with the draft; sent through the outbox; the
// alert's page when recorded; a refusal's reasons next to the fields.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import type { AlertOut } from "../api/types";
import { NotFound } from "../app/NotFound";
import { me, pointInfo, zoneOf } from "../app/session";
import { OutboxUnavailable, issueAlert } from "../app/writes";
import { SEVERITIES } from "../board/Board";
import { ExerciseBadge } from "../components/Badges";
import { Field } from "../components/Field";
import { label, t } from "../i18n";
import { zoneOffsetLabel } from "../i18n/time";
import { clearDraft, focusFirstInvalid, loadDraft, phaseOf, saveDraft, textLength } from "../incidents/form-kit";
import { Group, SendingLine } from "../incidents/FormParts";
import { newClientMsgId } from "../realtime/ids";
import { outboxItems, outboxSignal } from "../realtime/live";
import {
  ALERT_CATEGORIES,
  ALERT_LIMITS,
  CERTAINTIES,
  DEFAULT_CERTAINTY,
  DEFAULT_URGENCY,
  URGENCIES,
  alertDraftKey,
  alertRefusal,
  buildAlertPayload,
  checkAlert,
  issuerOf,
  issuingAgencies,
  newAlertDraft,
  targetChoices,
} from "./alert-form";
import type { AlertDraft } from "./alert-form";

const TEXT_LIMITS: Record<string, number> = { title: ALERT_LIMITS.title, body: ALERT_LIMITS.body, incident: ALERT_LIMITS.incident };

/** Alerts issued since this page loaded (one that arrives later, from an earlier visit, does not navigate). */
const issuedHere = new Set<string>();

function agencyName(code: string): string {
  const grant = me.value?.memberships.find((m) => m.agency === code);
  return grant ? `${grant.agency_name} (${code})` : code;
}

export function IssueAlert({ code }: { code: string }) {
  const { query, route } = useLocation();
  const user = me.value;
  const point = pointInfo(code);
  const agencies = issuingAgencies(user, code);
  const deployed = point?.agencies.map((a) => a.agency) ?? [];
  const tz = zoneOf(code);
  const key = alertDraftKey(user?.username ?? "", code);
  const [draft, setDraftState] = useState<AlertDraft>(() => {
    const fresh = newAlertDraft(newClientMsgId(), agencies, query.incident ?? "");
    const saved = loadDraft<AlertDraft>(key, fresh);
    const draft = saved.id ? saved : { ...saved, id: fresh.id };
    // "Issue an alert" from an incident names it, unless the draft already links one.
    return query.incident && !draft.incident.trim() ? { ...draft, incident: query.incident } : draft;
  });
  // The latest draft, stored at once (a reload or Enter right after a keystroke sees it).
  const latest = useRef(draft);
  const setDraft = (next: AlertDraft) => {
    latest.current = next;
    saveDraft(key, next);
    setDraftState(next);
  };
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [recorded, setRecorded] = useState<number | null>(null);
  const [focusTick, setFocusTick] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const problemRef = useRef<HTMLParagraphElement>(null);
  const busy = useRef(false);

  const issuer = issuerOf(draft, agencies);
  const choices = targetChoices(deployed, issuer);
  const item = outboxItems.value.find((i) => i.id === draft.id);
  const sending = phaseOf(item) === "sending";
  const offset = useMemo(() => zoneOffsetLabel(tz), [tz]);

  useEffect(() => heading.current?.focus(), [code]);

  useEffect(() => {
    if (focusTick > 0) focusFirstInvalid(form.current, problemRef.current);
  }, [focusTick]);

  useEffect(() => saveDraft(key, latest.current), [key]);

  useEffect(() => {
    if (item === undefined) return;
    if (item.status === "sent") {
      const id = (item.result as AlertOut | null | undefined)?.id ?? null;
      clearDraft(key);
      if (issuedHere.has(item.id) && id !== null) {
        route(`/alerts/${id}`);
        return;
      }
      setRecorded(id);
      setErrors({});
      setProblem(null);
      setDraft(newAlertDraft(newClientMsgId(), agencies));
    } else if (item.status === "failed" && item.error) {
      const refusal = alertRefusal(item.error, draft);
      setErrors(refusal.fields);
      setProblem(refusal.general);
      setFocusTick((n) => n + 1);
    }
  }, [item?.id, item?.status, item?.attempts]);

  if (point === undefined || agencies.length === 0) {
    return <NotFound what="point" ident={code} />;
  }

  const update = (patch: Partial<AlertDraft>, fields: string[] = Object.keys(patch)) => {
    setDraft({ ...latest.current, ...patch });
    setErrors((prev) => {
      if (!fields.some((n) => n in prev)) return prev;
      const next = { ...prev };
      fields.forEach((n) => delete next[n]);
      return next;
    });
  };

  const toggleTarget = (agency: string, on: boolean) => {
    const current = latest.current.unchecked;
    const unchecked = on ? current.filter((a) => a !== agency) : [...new Set([...current, agency])];
    update({ unchecked }, ["targets"]);
  };

  const submit = async () => {
    if (sending || busy.current) return;
    const draft = latest.current;
    const ctx = { agencies, deployed, tz, now: Date.now() };
    const found = checkAlert(draft, ctx);
    setErrors(found);
    setProblem(null);
    setRecorded(null);
    if (Object.keys(found).length > 0) {
      setFocusTick((n) => n + 1);
      return;
    }
    busy.current = true;
    try {
      if (item?.status === "failed") {
        // Refused, so nothing was recorded: the same id carries the corrected alert.
        await outboxSignal.value?.discard(draft.id);
      }
      issuedHere.add(draft.id);
      await issueAlert(draft.id, code, buildAlertPayload(draft, ctx));
    } catch (error) {
      issuedHere.delete(draft.id);
      setProblem(error instanceof OutboxUnavailable ? t("report.noOutbox") : t("report.notStored"));
      setFocusTick((n) => n + 1);
    } finally {
      busy.current = false;
    }
  };

  const startOver = () => {
    if (item?.status === "failed") void outboxSignal.value?.discard(item.id);
    clearDraft(key);
    setErrors({});
    setProblem(null);
    setDraft(newAlertDraft(newClientMsgId(), agencies));
  };

  const errorFor = (field: string): string | null => {
    if (errors[field] !== undefined) return errors[field];
    const max = TEXT_LIMITS[field];
    if (max === undefined) return null;
    const count = textLength(String((draft as unknown as Record<string, unknown>)[field] ?? "").trim());
    return count > max ? t("report.check.tooLong", { max, count }) : null;
  };

  const defaultUrgency = draft.severity ? DEFAULT_URGENCY[draft.severity] : undefined;

  return (
    <section class="panel alert-form" aria-labelledby="alert-form-heading" data-testid="issue-alert">
      <header class="page-head">
        <p class="crumbs">
          <a href={`/points/${code}`}>{t("report.backToBoard", { point: point.name || code })}</a>
        </p>
        <h1 id="alert-form-heading" tabIndex={-1} ref={heading}>
          {t("alertForm.title", { point: point.name || code })}
        </h1>
        <p class="hint">{t("alertForm.intro")}</p>
      </header>
      {recorded !== null ? (
        <p class="notice" role="status" data-testid="recorded">
          {t("alertForm.recordedEarlier")} <a href={`/alerts/${recorded}`}>{t("alertPage.title", { id: recorded })}</a>
        </p>
      ) : null}
      <form
        ref={form}
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <fieldset class="form-body" disabled={sending}>
          <legend class="visually-hidden">{t("alertForm.title", { point: point.name || code })}</legend>
          {agencies.length > 1 ? (
            <Field label={t("alertForm.agency")} hint={t("alertForm.agencyHint")} error={errorFor("agency")}>
              {(props) => (
                <select {...props} value={draft.agency} data-testid="alert-agency" onChange={(e) => update({ agency: e.currentTarget.value })}>
                  <option value="">{t("report.choose")}</option>
                  {agencies.map((a) => (
                    <option key={a} value={a}>
                      {agencyName(a)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : null}
          <div class={`exercise-toggle${draft.exercise ? " on" : ""}`}>
            <label class="choice">
              <input
                type="checkbox"
                data-testid="alert-exercise"
                checked={draft.exercise}
                aria-describedby="alert-exercise-hint"
                onChange={(e) => update({ exercise: e.currentTarget.checked })}
              />{" "}
              <ExerciseBadge /> {t("alertForm.exercise")}
            </label>
            <p class="hint" id="alert-exercise-hint">
              {draft.exercise ? t("alertForm.exerciseOn") : t("alertForm.exerciseHint")}
            </p>
          </div>
          <Field label={t("alertForm.titleLabel")} error={errorFor("title")}>
            {(props) => (
              <input
                {...props}
                type="text"
                dir="auto"
                autoComplete="off"
                aria-required="true"
                data-testid="alert-title"
                value={draft.title}
                onInput={(e) => update({ title: e.currentTarget.value })}
              />
            )}
          </Field>
          <Field label={t("alertForm.body")} hint={t("alertForm.bodyHint")} error={errorFor("body")}>
            {(props) => (
              <textarea {...props} dir="auto" rows={6} data-testid="alert-body" value={draft.body} onInput={(e) => update({ body: e.currentTarget.value })} />
            )}
          </Field>
          <div class="field-row">
            <Field label={t("alertForm.category")} error={errorFor("category")}>
              {(props) => (
                <select {...props} aria-required="true" data-testid="alert-category" value={draft.category} onChange={(e) => update({ category: e.currentTarget.value })}>
                  <option value="">{t("report.choose")}</option>
                  {ALERT_CATEGORIES.map((c) => (
                    <option key={c} value={c}>
                      {label("alertCategory", c)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("alertForm.severity")} error={errorFor("severity")}>
              {(props) => (
                <select {...props} aria-required="true" data-testid="alert-severity" value={draft.severity} onChange={(e) => update({ severity: e.currentTarget.value })}>
                  <option value="">{t("report.choose")}</option>
                  {SEVERITIES.map((s) => (
                    <option key={s} value={s}>
                      {label("severity", s)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("alertForm.urgency")} error={errorFor("urgency")}>
              {(props) => (
                <select {...props} data-testid="alert-urgency" value={draft.urgency} onChange={(e) => update({ urgency: e.currentTarget.value })}>
                  <option value="">
                    {defaultUrgency ? t("alertForm.defaultIs", { value: label("urgency", defaultUrgency) }) : t("alertForm.bySeverity")}
                  </option>
                  {URGENCIES.map((u) => (
                    <option key={u} value={u}>
                      {label("urgency", u)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("alertForm.certainty")} error={errorFor("certainty")}>
              {(props) => (
                <select {...props} data-testid="alert-certainty" value={draft.certainty} onChange={(e) => update({ certainty: e.currentTarget.value })}>
                  <option value="">{t("alertForm.defaultIs", { value: label("certainty", DEFAULT_CERTAINTY) })}</option>
                  {CERTAINTIES.map((c) => (
                    <option key={c} value={c}>
                      {label("certainty", c)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          <Field label={t("alertForm.expiresAt")} hint={t("alertForm.expiresHint", { zone: tz, offset })} error={errorFor("expires_at")}>
            {(props) => (
              <span class="zoned-input">
                <input
                  {...props}
                  type="datetime-local"
                  data-testid="alert-expires"
                  value={draft.expires_at}
                  onInput={(e) => update({ expires_at: e.currentTarget.value })}
                />{" "}
                <span class="zone-offset" aria-hidden="true">
                  <bdi>{offset}</bdi>
                </span>
              </span>
            )}
          </Field>
          <Group legend={t("alertForm.targets")} hint={t("alertForm.targetsHint")} error={errorFor("targets")} class="targets">
            {(props) =>
              choices.length === 0 ? (
                <p class="hint">{t("alertForm.noOtherAgencies")}</p>
              ) : (
                <ul class="choices">
                  {choices.map((agency) => (
                    <li key={agency}>
                      <label class="choice">
                        <input
                          {...props}
                          type="checkbox"
                          value={agency}
                          data-testid={`alert-target-${agency}`}
                          checked={!draft.unchecked.includes(agency)}
                          onChange={(e) => toggleTarget(agency, e.currentTarget.checked)}
                        />{" "}
                        <bdi class="agency-chip">{agency}</bdi>
                      </label>
                    </li>
                  ))}
                </ul>
              )
            }
          </Group>
          <label class="choice">
            <input
              type="checkbox"
              data-testid="alert-ack-required"
              checked={draft.ack_required}
              aria-describedby="alert-ack-hint"
              onChange={(e) => update({ ack_required: e.currentTarget.checked })}
            />{" "}
            {t("alertForm.ackRequired")}
          </label>
          <p class="hint" id="alert-ack-hint">
            {draft.ack_required ? t("alertForm.ackHint") : t("alertForm.noAckHint")}
          </p>
          <Field label={t("alertForm.incident")} hint={t("alertForm.incidentHint")} error={errorFor("incident")}>
            {(props) => (
              <input
                {...props}
                type="text"
                dir="ltr"
                autoComplete="off"
                class="narrow"
                data-testid="alert-incident"
                value={draft.incident}
                onInput={(e) => update({ incident: e.currentTarget.value })}
              />
            )}
          </Field>
        </fieldset>
        {problem ? (
          <p class="problem" role="alert" tabIndex={-1} ref={problemRef} data-testid="form-problem">
            {problem}
          </p>
        ) : null}
        <SendingLine item={item} text={t("alertForm.sending")} />
        <div class="form-actions">
          <button type="submit" class={draft.exercise ? "primary exercise" : "primary"} disabled={sending} data-testid="alert-submit">
            {sending ? t("report.sendingButton") : draft.exercise ? t("alertForm.submitExercise") : t("alertForm.submit")}
          </button>{" "}
          {!sending ? (
            <button type="button" class="link" onClick={startOver} data-testid="alert-clear">
              {t("report.clear")}
            </button>
          ) : null}
        </div>
      </form>
    </section>
  );
}
