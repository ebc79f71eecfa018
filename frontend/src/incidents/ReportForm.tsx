// Report an incident (/report, `?point=CODE` preselects the crossing point).
//
// Every field of IncidentCreate, typed times read in the crossing point's
// zone. The form keeps one client_msg_id for its life, stored with the draft
// (localStorage, per officer), so a double click, a resend or a reload in the
// middle makes one incident. Submitting puts the report in the outbox:
// "sending" while it waits (offline too: it goes when live), the incident room
// when the hub recorded it, and a refusal's reasons next to the fields (or
// above the button), with everything typed kept.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import type { IncidentOut } from "../api/types";
import { me, pointInfo, zoneOf } from "../app/session";
import { OutboxUnavailable, reportIncident } from "../app/writes";
import { CATEGORIES, SEVERITIES } from "../board/Board";
import { Field } from "../components/Field";
import { label, t } from "../i18n";
import { zoneOffsetLabel } from "../i18n/time";
import { newClientMsgId } from "../realtime/ids";
import { outboxItems, outboxSignal } from "../realtime/live";
import { clearDraft, focusFirstInvalid, loadDraft, phaseOf, refusalOf, saveDraft, textLength } from "./form-kit";
import { Group, SendingLine } from "./FormParts";
import {
  REPORT_FIELDS,
  REPORT_LIMITS,
  VISIBILITIES,
  buildReportPayload,
  checkReport,
  newReportDraft,
  reportAgencies,
  reportDraftKey,
  reportPoints,
  withPoint,
} from "./report";
import type { ReportDraft } from "./report";

const TEXT_LIMITS: Record<string, number> = {
  title: REPORT_LIMITS.title,
  description: REPORT_LIMITS.description,
  location_detail: REPORT_LIMITS.location_detail,
};

/** Reports submitted since this page loaded (a report that arrives later, from an earlier visit, does not navigate). */
const submittedHere = new Set<string>();

function agencyName(code: string): string {
  const grant = me.value?.memberships.find((m) => m.agency === code);
  return grant ? `${grant.agency_name} (${code})` : code;
}

function pointName(code: string): string {
  const name = pointInfo(code)?.name;
  return name ? `${name} (${code})` : code;
}

/** The saved draft (or a new one) at the crossing point the URL names, or the only one served. */
function startingDraft(key: string, points: readonly string[], wanted: string | undefined): ReportDraft {
  const now = Date.now();
  const fresh = newReportDraft(newClientMsgId(), "", "UTC", now);
  const saved = loadDraft<ReportDraft>(key, fresh);
  const draft = saved.id ? saved : { ...saved, id: fresh.id };
  const point =
    wanted && points.includes(wanted)
      ? wanted
      : points.includes(draft.crossing_point)
        ? draft.crossing_point
        : points.length === 1
          ? (points[0] ?? "")
          : "";
  return withPoint(draft, point, reportAgencies(me.peek(), point), zoneOf(point), now);
}

export function ReportForm() {
  const { query, route } = useLocation();
  const user = me.value;
  const username = user?.username ?? "";
  const key = reportDraftKey(username);
  const points = reportPoints(user);
  const [draft, setDraftState] = useState<ReportDraft>(() => startingDraft(key, points, query.point));
  // The latest draft, stored at once: a reload right after a keystroke, or Enter
  // pressed before the next render, still sees everything typed.
  const latest = useRef(draft);
  const setDraft = (next: ReportDraft) => {
    latest.current = next;
    saveDraft(key, next);
    setDraftState(next);
  };
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [recorded, setRecorded] = useState<string | null>(null);
  const [focusTick, setFocusTick] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const problemRef = useRef<HTMLParagraphElement>(null);
  const busy = useRef(false);

  const point = draft.crossing_point;
  const tz = zoneOf(point);
  const agencies = reportAgencies(user, point);
  const item = outboxItems.value.find((i) => i.id === draft.id);
  const phase = phaseOf(item);
  const sending = phase === "sending";

  useEffect(() => heading.current?.focus(), []);

  useEffect(() => {
    if (focusTick > 0) focusFirstInvalid(form.current, problemRef.current);
  }, [focusTick]);

  // Keep the draft (with its id) across reloads, from the first render on.
  useEffect(() => saveDraft(key, latest.current), [key]);

  // Where the report stands in the outbox.
  useEffect(() => {
    if (item === undefined) return;
    if (item.status === "sent") {
      const ref = (item.result as IncidentOut | null | undefined)?.ref ?? null;
      clearDraft(key);
      if (submittedHere.has(item.id) && ref) {
        route(`/incidents/${encodeURIComponent(ref)}`);
        return;
      }
      // Sent after this form was left (or before a reload): start afresh, and say where it went.
      setRecorded(ref);
      setErrors({});
      setProblem(null);
      setDraft(withPoint(newReportDraft(newClientMsgId(), "", zoneOf(point), Date.now()), point, agencies, zoneOf(point), Date.now()));
    } else if (item.status === "failed" && item.error) {
      const refusal = refusalOf(item.error, REPORT_FIELDS, { ...TEXT_LIMITS, people_count: REPORT_LIMITS.people_count });
      setErrors(refusal.fields);
      setProblem(refusal.general);
      setFocusTick((n) => n + 1);
    }
  }, [item?.id, item?.status, item?.attempts]);

  const update = (patch: Partial<ReportDraft>) => {
    setDraft({ ...latest.current, ...patch });
    const names = Object.keys(patch);
    setErrors((prev) => {
      if (!names.some((n) => n in prev)) return prev;
      const next = { ...prev };
      names.forEach((n) => delete next[n]);
      return next;
    });
  };

  const choosePoint = (code: string) => {
    setDraft(withPoint(latest.current, code, reportAgencies(me.peek(), code), zoneOf(code), Date.now()));
    setErrors((prev) => {
      const { crossing_point: _p, agency: _a, ...rest } = prev;
      return rest;
    });
    route(code ? `/report?point=${encodeURIComponent(code)}` : "/report", true);
  };

  const submit = async () => {
    if (sending || busy.current) return;
    const draft = latest.current;
    const agencies = reportAgencies(me.peek(), draft.crossing_point);
    const ctx = { points, agencies, tz: zoneOf(draft.crossing_point), now: Date.now() };
    const found = checkReport(draft, ctx);
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
        // The hub refused it and recorded nothing: the same id carries the corrected report.
        await outboxSignal.value?.discard(draft.id);
      }
      submittedHere.add(draft.id);
      await reportIncident(draft.id, buildReportPayload(draft, ctx));
    } catch (error) {
      submittedHere.delete(draft.id);
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
    setDraft(withPoint(newReportDraft(newClientMsgId(), "", zoneOf(point), Date.now()), point, agencies, zoneOf(point), Date.now()));
  };

  // Too long shows while typing; everything else on submit.
  const errorFor = (field: string): string | null => {
    if (errors[field] !== undefined) return errors[field];
    const max = TEXT_LIMITS[field];
    if (max === undefined) return null;
    const count = textLength(String((draft as unknown as Record<string, unknown>)[field] ?? "").trim());
    return count > max ? t("report.check.tooLong", { max, count }) : null;
  };
  const offset = useMemo(() => zoneOffsetLabel(tz), [tz]);

  if (points.length === 0) {
    return (
      <section class="panel report-form" aria-labelledby="report-heading">
        <h1 id="report-heading" tabIndex={-1} ref={heading}>
          {t("report.title")}
        </h1>
        <p class="hint">{t("report.noPoints")}</p>
      </section>
    );
  }

  return (
    <section class="panel report-form" aria-labelledby="report-heading" data-testid="report-form">
      <header class="page-head">
        {point ? (
          <p class="crumbs">
            <a href={`/points/${point}`}>{t("report.backToBoard", { point: pointInfo(point)?.name ?? point })}</a>
          </p>
        ) : null}
        <h1 id="report-heading" tabIndex={-1} ref={heading}>
          {t("report.title")}
        </h1>
        <p class="hint">{t("report.intro")}</p>
      </header>
      {recorded ? (
        <p class="notice" role="status" data-testid="recorded">
          {t("report.recordedEarlier")} <a href={`/incidents/${encodeURIComponent(recorded)}`}>
            <bdi>{recorded}</bdi>
          </a>
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
          <legend class="visually-hidden">{t("report.title")}</legend>
          <Field label={t("report.point")} error={errorFor("crossing_point")}>
            {(props) => (
              <select {...props} value={point} data-testid="report-point" onChange={(e) => choosePoint(e.currentTarget.value)}>
                {points.length > 1 ? <option value="">{t("report.choose")}</option> : null}
                {points.map((code) => (
                  <option key={code} value={code}>
                    {pointName(code)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {agencies.length > 1 ? (
            <Field label={t("report.agency")} hint={t("report.agencyHint")} error={errorFor("agency")}>
              {(props) => (
                <select {...props} value={draft.agency} data-testid="report-agency" onChange={(e) => update({ agency: e.currentTarget.value })}>
                  <option value="">{t("report.choose")}</option>
                  {agencies.map((code) => (
                    <option key={code} value={code}>
                      {agencyName(code)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : null}
          <Field label={t("report.titleLabel")} hint={t("report.titleHint")} error={errorFor("title")}>
            {(props) => (
              <input
                {...props}
                type="text"
                dir="auto"
                autoComplete="off"
                aria-required="true"
                data-testid="report-title"
                value={draft.title}
                onInput={(e) => update({ title: e.currentTarget.value })}
              />
            )}
          </Field>
          <Field label={t("report.description")} error={errorFor("description")}>
            {(props) => (
              <textarea
                {...props}
                dir="auto"
                rows={6}
                data-testid="report-description"
                value={draft.description}
                onInput={(e) => update({ description: e.currentTarget.value })}
              />
            )}
          </Field>
          <div class="field-row">
            <Field label={t("report.category")} error={errorFor("category")}>
              {(props) => (
                <select
                  {...props}
                  aria-required="true"
                  data-testid="report-category"
                  value={draft.category}
                  onChange={(e) => update({ category: e.currentTarget.value })}
                >
                  <option value="">{t("report.choose")}</option>
                  {CATEGORIES.map((c) => (
                    <option key={c} value={c}>
                      {label("category", c)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("report.severity")} error={errorFor("severity")}>
              {(props) => (
                <select
                  {...props}
                  aria-required="true"
                  data-testid="report-severity"
                  value={draft.severity}
                  onChange={(e) => update({ severity: e.currentTarget.value })}
                >
                  <option value="">{t("report.choose")}</option>
                  {SEVERITIES.map((s) => (
                    <option key={s} value={s}>
                      {label("severity", s)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("report.people")} hint={t("report.peopleHint")} error={errorFor("people_count")}>
              {(props) => (
                <input
                  {...props}
                  type="text"
                  inputMode="numeric"
                  autoComplete="off"
                  class="narrow"
                  data-testid="report-people"
                  value={draft.people_count}
                  onInput={(e) => update({ people_count: e.currentTarget.value })}
                />
              )}
            </Field>
          </div>
          <Field
            label={t("report.occurredAt")}
            hint={t("report.zoneHint", { zone: tz, offset })}
            error={errorFor("occurred_at")}
          >
            {(props) => (
              <span class="zoned-input">
                <input
                  {...props}
                  type="datetime-local"
                  data-testid="report-occurred"
                  value={draft.occurred_at}
                  onInput={(e) => update({ occurred_at: e.currentTarget.value, occurred_touched: true })}
                />{" "}
                <span class="zone-offset" aria-hidden="true">
                  <bdi>{offset}</bdi>
                </span>
              </span>
            )}
          </Field>
          <Field label={t("report.location")} hint={t("report.locationHint")} error={errorFor("location_detail")}>
            {(props) => (
              <input
                {...props}
                type="text"
                dir="auto"
                data-testid="report-location"
                value={draft.location_detail}
                onInput={(e) => update({ location_detail: e.currentTarget.value })}
              />
            )}
          </Field>
          <Group legend={t("report.visibility")} error={errorFor("visibility")}>
            {(props) => (
              <div class="choices">
                {VISIBILITIES.map((v) => (
                  <label key={v} class="choice">
                    <input
                      {...props}
                      type="radio"
                      value={v}
                      data-testid={`report-visibility-${v}`}
                      checked={draft.visibility === v}
                      onChange={() => update({ visibility: v })}
                    />{" "}
                    {t(v === "participants" ? "report.visibility.participants" : "report.visibility.crossing_point")}
                  </label>
                ))}
              </div>
            )}
          </Group>
        </fieldset>
        {problem ? (
          <p class="problem" role="alert" tabIndex={-1} ref={problemRef} data-testid="form-problem">
            {problem}
          </p>
        ) : null}
        <SendingLine item={item} text={t("report.sending")} />
        <div class="form-actions">
          <button type="submit" class="primary" disabled={sending} data-testid="report-submit">
            {sending ? t("report.sendingButton") : t("report.submit")}
          </button>{" "}
          {!sending ? (
            <button type="button" class="link" onClick={startOver} data-testid="report-clear">
              {t("report.clear")}
            </button>
          ) : null}
        </div>
      </form>
    </section>
  );
}
