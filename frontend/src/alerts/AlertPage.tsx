// One alert (/alerts/<ID>): the alert card in full with its acknowledgement
// grid, kept live by its crossing point's stream; urgency, certainty, version
// and the link to its CAP document; an EXERCISE alert marked as such. The
// issuer (the issuing officer, or a coordinator or senior official of the
// issuing agency at the point) may update it (only the fields changed go: a
// new version) or cancel it with a reason. Both go through the outbox; a
// refusal shows next to the fields, keeping the text.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { getAlert, streamHead } from "../api/endpoints";
import type { AlertOut } from "../api/types";
import { NotFound } from "../app/NotFound";
import { agenciesAt, me, pointInfo, pointsServed, session, zoneOf } from "../app/session";
import { alertScope, cancelAlert, OutboxUnavailable, updateAlert } from "../app/writes";
import { SEVERITIES } from "../board/Board";
import { AgencyChip, Name } from "../components/Agency";
import { ExerciseBadge } from "../components/Badges";
import { now } from "../components/clock";
import { Field } from "../components/Field";
import { Time } from "../components/Time";
import { label, t } from "../i18n";
import { formatTime, zoneOffsetLabel } from "../i18n/time";
import { focusFirstInvalid, refusalOf, textLength } from "../incidents/form-kit";
import { SendingLine } from "../incidents/FormParts";
import { newClientMsgId } from "../realtime/ids";
import { liveFeeds, outboxItems, outboxSignal } from "../realtime/live";
import type { OutboxItem } from "../realtime/outbox";
import {
  ALERT_CATEGORIES,
  ALERT_LIMITS,
  CERTAINTIES,
  UPDATE_FIELDS,
  URGENCIES,
  alertChanges,
  canChangeAlert,
  checkCancel,
  checkUpdate,
  updateFormOf,
} from "./alert-form";
import type { UpdateForm } from "./alert-form";
import { AlertCard } from "./AlertCard";
import { AlertPageStore, cachedBoardsOf } from "./alert-page-store";
import { isLive } from "./store";
import type { AlertState } from "./store";
import { OutboxState } from "../components/OutboxState";

export function AlertPage({ id }: { id: string }) {
  const numeric = /^[1-9]\d{0,15}$/.test(id) ? Number(id) : null;
  const offline = session.value.kind === "signed-in" && session.value.offline;
  const store = useMemo(
    () =>
      numeric === null
        ? null
        : new AlertPageStore(numeric, {
            getAlert,
            streamHead,
            follow: (stream, listener) => liveFeeds().follow(stream, listener),
            resume: (stream, after) => liveFeeds().resume(stream, after),
            cachedBoards: cachedBoardsOf(pointsServed(me.peek())),
          }),
    [numeric, offline],
  );
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (store === null) return;
    if (offline) {
      void store.startOffline().then((found) => {
        if (!found) store.status.value = "failed";
      });
    } else {
      void store.start();
    }
    return () => store.stop();
  }, [store, offline]);

  const status = store?.status.value ?? "not-found";
  useEffect(() => {
    if (status === "ready") heading.current?.focus();
  }, [status, numeric]);

  // The hub's answer to this officer's update, cancel or acknowledgement moves the page at once (the event follows).
  const mine = store === null ? [] : outboxItems.value.filter((i) => i.scope === alertScope(store.id));
  const sentKey = mine
    .filter((i) => i.status === "sent")
    .map((i) => i.id)
    .join(",");
  useEffect(() => {
    if (store === null) return;
    for (const item of mine) {
      if (item.status !== "sent" || typeof item.result !== "object" || item.result === null) continue;
      if (item.kind === "alert.update" || item.kind === "alert.cancel") store.merge(item.result as AlertOut);
      else if (item.kind === "ack") store.merge((item.result as { alert: AlertOut }).alert);
    }
  }, [store, sentKey]);

  if (numeric === null || store === null || status === "not-found") return <NotFound what="alert" ident={id} />;
  if (status === "loading") return <p class="hint">{t("state.loading")}</p>;
  const alert = (store.version.value, store.alert);
  if (status === "failed" || alert === undefined) {
    return (
      <p class="problem" role="alert">
        {offline ? t("alertPage.notCached") : t("alertPage.loadFailed")}{" "}
        {!offline ? (
          <button
            type="button"
            class="link"
            onClick={() => {
              store.status.value = "loading";
              void store.start();
            }}
          >
            {t("alertPage.retry")}
          </button>
        ) : null}
      </p>
    );
  }
  const code = alert.crossingPoint;
  const tz = zoneOf(code);
  const user = me.value;
  const stale = store.staleSince.value;
  const live = isLive(alert, now.value);
  const canChange = !offline && stale === null && live && canChangeAlert(user, alert);

  return (
    <div class="alert-page" data-testid="alert-page">
      <header class="page-head">
        <p class="crumbs">
          <a href={`/points/${code}`}>{t("report.backToBoard", { point: pointInfo(code)?.name ?? code })}</a>
        </p>
        <h1 tabIndex={-1} ref={heading} data-testid="alert-heading">
          {alert.exercise ? (
            <>
              <ExerciseBadge />{" "}
            </>
          ) : null}
          {t("alertPage.title", { id: alert.id })}
        </h1>
        <p class="meta">
          <bdi>{code}</bdi> · {t("alertPage.zone", { zone: tz, offset: zoneOffsetLabel(tz) })}
        </p>
      </header>
      {alert.exercise ? (
        <p class="exercise-banner" role="note" data-testid="exercise-banner">
          <ExerciseBadge /> {t("alertPage.exerciseNote")}
        </p>
      ) : null}
      {stale !== null ? (
        <p class="stale" role="status" data-testid="stale">
          {t("alertPage.stale", { time: formatTime(stale, tz) })}
        </p>
      ) : null}
      <AlertCard alert={alert} mine={agenciesAt(user, code)} tz={tz} full />
      <section class="panel" aria-labelledby="alert-details">
        <h2 id="alert-details">{t("alertPage.details")}</h2>
        <dl class="facts">
          <div>
            <dt>{t("alertPage.urgency")}</dt>
            <dd>{label("urgency", alert.urgency)}</dd>
          </div>
          <div>
            <dt>{t("alertPage.certainty")}</dt>
            <dd>{label("certainty", alert.certainty)}</dd>
          </div>
          <div>
            <dt>{t("alertPage.issuedBy")}</dt>
            <dd>
              {alert.issuedBy ? <Name>{alert.issuedBy.name}</Name> : null} (<AgencyChip code={alert.issuingAgency} />)
            </dd>
          </div>
          <div>
            <dt>{t("alertPage.issuedAt")}</dt>
            <dd>
              <Time at={alert.createdAt} tz={tz} />
            </dd>
          </div>
          <div>
            <dt>{t("alertPage.expires")}</dt>
            <dd>{alert.expiresAt ? <Time at={alert.expiresAt} tz={tz} relative /> : t("alertPage.noExpiry")}</dd>
          </div>
          <div>
            <dt>{t("alertPage.ack")}</dt>
            <dd>{alert.ackRequired ? t("alertPage.ackRequired") : t("alertPage.ackNotRequired")}</dd>
          </div>
          <div>
            <dt>{t("alertPage.version")}</dt>
            <dd data-testid="alert-version">
              {alert.version}
              {alert.version > 1 ? (
                <>
                  {" "}
                  · {t("alertPage.updatedAt")} <Time at={alert.updatedAt} tz={tz} />
                </>
              ) : null}
            </dd>
          </div>
        </dl>
        <p>
          <a href={`/api/v1/alerts/${alert.id}/cap`} data-testid="cap-link" type="application/cap+xml">
            {t("alertPage.cap")}
          </a>
        </p>
      </section>
      <OutboxLines items={mine} />
      {canChange ? <IssuerActions store={store} alert={alert} tz={tz} /> : null}
    </div>
  );
}

/** This officer's update or cancel of the alert still waiting, or refused (from before a reload). */
function OutboxLines({ items }: { items: OutboxItem[] }) {
  const shown = items.filter((i) => (i.kind === "alert.update" || i.kind === "alert.cancel") && i.status !== "sent" && !openForms.has(i.id));
  if (shown.length === 0) return null;
  return (
    <ul class="outbox-lines">
      {shown.map((item) => (
        <li key={item.id} class="outbox-line">
          {item.kind === "alert.update" ? t("alertPage.pendingUpdate") : t("alertPage.pendingCancel")}{" "}
          <OutboxState item={item} pending={t("alertPage.sending")} />
        </li>
      ))}
    </ul>
  );
}

/** Outbox ids an open form shows itself (the list above leaves them out). */
const openForms = new Set<string>();

function IssuerActions({ store, alert, tz }: { store: AlertPageStore; alert: AlertState; tz: string }) {
  const [open, setOpen] = useState<"update" | "cancel" | null>(null);
  const updateButton = useRef<HTMLButtonElement>(null);
  const cancelButton = useRef<HTMLButtonElement>(null);
  const close = () => {
    const opener = open === "cancel" ? cancelButton : updateButton;
    setOpen(null);
    requestAnimationFrame(() => opener.current?.focus());
  };
  return (
    <section class="panel issuer" aria-labelledby="issuer-heading">
      <h2 id="issuer-heading">{t("alertPage.issuerTools")}</h2>
      <div class="page-actions">
        <button
          type="button"
          ref={updateButton}
          aria-expanded={open === "update"}
          data-testid="alert-update-open"
          onClick={() => setOpen(open === "update" ? null : "update")}
        >
          {t("alertPage.update")}
        </button>{" "}
        <button
          type="button"
          ref={cancelButton}
          class="danger"
          aria-expanded={open === "cancel"}
          data-testid="alert-cancel-open"
          onClick={() => setOpen(open === "cancel" ? null : "cancel")}
        >
          {t("alertPage.cancelAlert")}
        </button>
      </div>
      {open === "update" ? <UpdateAlertForm key={`u-${alert.id}`} store={store} alert={alert} tz={tz} onDone={close} /> : null}
      {open === "cancel" ? <CancelAlertForm key={`c-${alert.id}`} store={store} alert={alert} onDone={close} /> : null}
    </section>
  );
}

function useOpenForm(id: string | null): void {
  useEffect(() => {
    if (id === null) return;
    openForms.add(id);
    return () => {
      openForms.delete(id);
    };
  }, [id]);
}

const UPDATE_TEXT_LIMITS: Record<string, number> = { title: ALERT_LIMITS.title, body: ALERT_LIMITS.body };

function UpdateAlertForm({ store, alert, tz, onDone }: { store: AlertPageStore; alert: AlertState; tz: string; onDone: () => void }) {
  const [base] = useState<UpdateForm>(() => updateFormOf(alert, tz));
  const [baseVersion] = useState(alert.version);
  const [form, setFormState] = useState<UpdateForm>(base);
  const latest = useRef(form);
  const setForm = (next: UpdateForm) => {
    latest.current = next;
    setFormState(next);
  };
  // One client_msg_id for this edit: a double click or a resend is one new version.
  const [writeId] = useState(newClientMsgId);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [focusTick, setFocusTick] = useState(0);
  const root = useRef<HTMLFormElement>(null);
  const problemRef = useRef<HTMLParagraphElement>(null);
  const first = useRef<HTMLInputElement>(null);
  const busy = useRef(false);
  const item = outboxItems.value.find((i) => i.id === writeId);
  const sending = item !== undefined && (item.status === "pending" || item.status === "sending");
  useOpenForm(writeId);

  useEffect(() => first.current?.focus(), []);
  useEffect(() => {
    if (focusTick > 0) focusFirstInvalid(root.current, problemRef.current);
  }, [focusTick]);
  useEffect(() => {
    if (item === undefined) return;
    if (item.status === "sent") {
      const result = item.result as AlertOut | null | undefined;
      if (result && typeof result === "object") store.merge(result);
      onDone();
    } else if (item.status === "failed" && item.error) {
      const refusal = refusalOf(item.error, UPDATE_FIELDS, UPDATE_TEXT_LIMITS);
      setErrors(refusal.fields);
      setProblem(refusal.general);
      setFocusTick((n) => n + 1);
    }
  }, [item?.status, item?.attempts]);

  const set = (patch: Partial<UpdateForm>) => {
    setForm({ ...latest.current, ...patch });
    setErrors((prev) => {
      const names = Object.keys(patch);
      if (!names.some((n) => n in prev)) return prev;
      const next = { ...prev };
      names.forEach((n) => delete next[n]);
      return next;
    });
  };

  const submit = async () => {
    if (sending || busy.current) return;
    const form = latest.current;
    const found = checkUpdate(form, base, tz, Date.now());
    setErrors(found);
    setProblem(null);
    if (Object.keys(found).length > 0) {
      setFocusTick((n) => n + 1);
      return;
    }
    const changes = alertChanges(base, form, tz);
    if (Object.keys(changes).length === 0) {
      setProblem(t("alertPage.noChange"));
      setFocusTick((n) => n + 1);
      return;
    }
    busy.current = true;
    try {
      if (item?.status === "failed") await outboxSignal.value?.discard(writeId);
      await updateAlert(writeId, alert.id, changes);
    } catch (error) {
      setProblem(error instanceof OutboxUnavailable ? t("report.noOutbox") : t("report.notStored"));
      setFocusTick((n) => n + 1);
    } finally {
      busy.current = false;
    }
  };

  const errorFor = (field: string): string | null => {
    if (errors[field] !== undefined) return errors[field];
    const max = UPDATE_TEXT_LIMITS[field];
    if (max === undefined) return null;
    const count = textLength(String((form as unknown as Record<string, unknown>)[field] ?? "").trim());
    return count > max ? t("report.check.tooLong", { max, count }) : null;
  };
  const offset = zoneOffsetLabel(tz);

  return (
    <form
      ref={root}
      class="alert-update"
      noValidate
      aria-labelledby="alert-update-heading"
      data-testid="alert-update"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h3 id="alert-update-heading">{t("alertPage.updateTitle")}</h3>
      <p class="hint">{t("alertPage.updateHint")}</p>
      {alert.version !== baseVersion ? (
        <p class="notice" role="status">
          {t("alertPage.changedMeanwhile", { version: alert.version })}
        </p>
      ) : null}
      <fieldset class="form-body" disabled={sending}>
        <legend class="visually-hidden">{t("alertPage.updateTitle")}</legend>
        <Field label={t("alertForm.titleLabel")} error={errorFor("title")}>
          {(props) => (
            <input
              {...props}
              ref={first}
              type="text"
              dir="auto"
              aria-required="true"
              data-testid="update-title"
              value={form.title}
              onInput={(e) => set({ title: e.currentTarget.value })}
            />
          )}
        </Field>
        <Field label={t("alertForm.body")} error={errorFor("body")}>
          {(props) => <textarea {...props} dir="auto" rows={5} data-testid="update-body" value={form.body} onInput={(e) => set({ body: e.currentTarget.value })} />}
        </Field>
        <div class="field-row">
          <Field label={t("alertForm.category")} error={errorFor("category")}>
            {(props) => (
              <select {...props} data-testid="update-category" value={form.category} onChange={(e) => set({ category: e.currentTarget.value })}>
                {ALERT_CATEGORIES.map((c) => (
                  <option key={c} value={c}>
                    {label("alertCategory", c)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t("alertForm.severity")} hint={t("alertPage.severityHint")} error={errorFor("severity")}>
            {(props) => (
              <select {...props} data-testid="update-severity" value={form.severity} onChange={(e) => set({ severity: e.currentTarget.value })}>
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
              <select {...props} data-testid="update-urgency" value={form.urgency} onChange={(e) => set({ urgency: e.currentTarget.value })}>
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
              <select {...props} data-testid="update-certainty" value={form.certainty} onChange={(e) => set({ certainty: e.currentTarget.value })}>
                {CERTAINTIES.map((c) => (
                  <option key={c} value={c}>
                    {label("certainty", c)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <Field label={t("alertForm.expiresAt")} hint={t("alertPage.expiresHint", { zone: tz, offset })} error={errorFor("expires_at")}>
          {(props) => (
            <span class="zoned-input">
              <input {...props} type="datetime-local" data-testid="update-expires" value={form.expires_at} onInput={(e) => set({ expires_at: e.currentTarget.value })} />{" "}
              <span class="zone-offset" aria-hidden="true">
                <bdi>{offset}</bdi>
              </span>
            </span>
          )}
        </Field>
      </fieldset>
      {problem ? (
        <p class="problem" role="alert" tabIndex={-1} ref={problemRef} data-testid="update-problem">
          {problem}
        </p>
      ) : null}
      <SendingLine item={item} text={t("alertPage.sending")} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled={sending} data-testid="update-submit">
          {sending ? t("report.sendingButton") : t("alertPage.saveUpdate")}
        </button>{" "}
        {!sending ? (
          <button type="button" class="link" onClick={onDone}>
            {t("action.close")}
          </button>
        ) : null}
      </div>
    </form>
  );
}

function CancelAlertForm({ store, alert, onDone }: { store: AlertPageStore; alert: AlertState; onDone: () => void }) {
  const [reason, setReasonState] = useState("");
  const latest = useRef(reason);
  const setReason = (next: string) => {
    latest.current = next;
    setReasonState(next);
  };
  const [itemId, setItemId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [focusTick, setFocusTick] = useState(0);
  const root = useRef<HTMLFormElement>(null);
  const problemRef = useRef<HTMLParagraphElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const busy = useRef(false);
  const item = itemId === null ? undefined : outboxItems.value.find((i) => i.id === itemId);
  const sending = item !== undefined && (item.status === "pending" || item.status === "sending");
  useOpenForm(itemId);

  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    if (focusTick > 0) focusFirstInvalid(root.current, problemRef.current);
  }, [focusTick]);
  useEffect(() => {
    if (item === undefined) return;
    if (item.status === "sent") {
      const result = item.result as AlertOut | null | undefined;
      if (result && typeof result === "object") store.merge(result);
      onDone();
    } else if (item.status === "failed" && item.error) {
      const refusal = refusalOf(item.error, ["reason"], { reason: ALERT_LIMITS.reason });
      setError(refusal.fields.reason ?? null);
      setProblem(refusal.general);
      setFocusTick((n) => n + 1);
    }
  }, [item?.status, item?.attempts]);

  const submit = async () => {
    if (sending || busy.current) return;
    const reason = latest.current;
    const found = checkCancel(reason);
    setError(found);
    setProblem(null);
    if (found !== null) {
      setFocusTick((n) => n + 1);
      return;
    }
    busy.current = true;
    try {
      // A refused cancel recorded nothing; it is replaced by this one.
      if (item?.status === "failed") await outboxSignal.value?.discard(item.id);
      const queued = await cancelAlert(alert.id, reason.trim());
      setItemId(queued.id);
    } catch (err) {
      setProblem(err instanceof OutboxUnavailable ? t("report.noOutbox") : t("report.notStored"));
      setFocusTick((n) => n + 1);
    } finally {
      busy.current = false;
    }
  };

  const count = textLength(reason.trim());
  const shownError = error ?? (count > ALERT_LIMITS.reason ? t("report.check.tooLong", { max: ALERT_LIMITS.reason, count }) : null);

  return (
    <form
      ref={root}
      class="inline-form alert-cancel"
      noValidate
      aria-labelledby="alert-cancel-heading"
      data-testid="alert-cancel"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h3 id="alert-cancel-heading">{t("alertPage.cancelTitle")}</h3>
      <p class="hint">{t("alertPage.cancelHint")}</p>
      <Field label={t("alertPage.cancelReason")} error={shownError}>
        {(props) => (
          <textarea
            {...props}
            ref={input}
            dir="auto"
            rows={3}
            aria-required="true"
            disabled={sending}
            data-testid="cancel-reason"
            value={reason}
            onInput={(e) => {
              setReason(e.currentTarget.value);
              setError(null);
            }}
          />
        )}
      </Field>
      {problem ? (
        <p class="problem" role="alert" tabIndex={-1} ref={problemRef} data-testid="cancel-problem">
          {problem}
        </p>
      ) : null}
      <SendingLine item={item} text={t("alertPage.sending")} />
      <div class="form-actions">
        <button type="submit" class="danger" disabled={sending} data-testid="cancel-submit">
          {sending ? t("report.sendingButton") : t("alertPage.confirmCancel")}
        </button>{" "}
        {!sending ? (
          <button type="button" class="link" onClick={onDone}>
            {t("action.close")}
          </button>
        ) : null}
      </div>
    </form>
  );
}
