// The SOP template editor (administrators): /templates/new writes version 1 of
// a new template, /templates/<CODE>/edit a new version of one, prefilled from
// its current version with each item's key kept and `base_version` sent.
//
// The draft (with one client_msg_id for this editing session) is kept in
// localStorage per officer and per template, so a double click, a resend or a
// reload publishes one version. Publishing goes through the outbox: "sending"
// while it waits (offline too), the template's page when the hub recorded it.
// A refusal puts each reason next to its field (the client's checks mirror
// the hub's; a 422's `loc` names the item and the field) and moves focus to
// the first; a 409 template_version_conflict says someone published since and
// offers to reload the current version, keeping everything typed; a 409
// no_change says there is nothing to publish.

import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError } from "../api/client";
import { me } from "../app/session";
import { OutboxUnavailable } from "../app/writes";
import { Field } from "../components/Field";
import { errorText, label, t } from "../i18n";
import { clearDraft, loadDraft, phaseOf, saveDraft } from "../incidents/form-kit";
import { SendingLine } from "../incidents/FormParts";
import { newClientMsgId } from "../realtime/ids";
import { outboxItems, outboxSignal } from "../realtime/live";
import { getTemplate } from "./api";
import { dueText } from "./format";
import {
  AGENCY_KINDS,
  TEMPLATE_LIMITS,
  blankItem,
  buildPayload,
  checkTemplate,
  draftFromTemplate,
  draftInput,
  isTemplateAdmin,
  moveItem,
  newTemplateDraft,
  parseMinutes,
  problemsToFields,
  rebaseDraft,
  sanitizeItems,
  templateDraftKey,
  templateRefusal,
} from "./model";
import type { DraftItem, Template, TemplateDraft } from "./model";
import { createTemplate, publishTemplateVersion } from "./writes";

const enc = encodeURIComponent;

/** Publishes started on this page (a version recorded later, from an earlier visit, does not navigate). */
const submittedHere = new Set<string>();

/** The stored draft for this template, or null. */
function storedDraft(key: string, code: string | null): TemplateDraft | null {
  const fallback: TemplateDraft = { ...newTemplateDraft(""), isNew: code === null, code: code ?? "" };
  const saved = loadDraft<TemplateDraft>(key, fallback);
  if (!saved.id) return null;
  const items = sanitizeItems(saved.items);
  return code === null ? { ...saved, isNew: true, base_version: 0, items } : { ...saved, isNew: false, code, items };
}

/** The first control (or item-level reason) marked invalid, in document order. */
function focusFirstProblem(root: HTMLElement | null, fallback: HTMLElement | null): void {
  const target = root?.querySelector<HTMLElement>('[aria-invalid="true"], [data-invalid="true"]') ?? fallback;
  target?.focus();
}

type Conflict = { kind: "version" | "stale"; base: number; current: number | null };

export function TemplateEditor({ code }: { code: string | null }) {
  const { route } = useLocation();
  const user = me.value;
  const admin = isTemplateAdmin(user);
  const isNew = code === null;
  const key = templateDraftKey(user?.username ?? "", code);

  const [draft, setDraftState] = useState<TemplateDraft | null>(() => storedDraft(key, code) ?? (isNew ? newTemplateDraft(newClientMsgId()) : null));
  const latest = useRef(draft);
  const setDraft = (next: TemplateDraft | null) => {
    latest.current = next;
    if (next) saveDraft(key, next);
    setDraftState(next);
  };
  const [current, setCurrent] = useState<Template | null>(null);
  const [loadProblem, setLoadProblem] = useState<string | null>(null);
  const [reloadTick, setReloadTick] = useState(0);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [rebased, setRebased] = useState<{ from: number; to: number } | null>(null);
  const [recorded, setRecorded] = useState<Template | null>(null);
  const [focusTick, setFocusTick] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const problemRef = useRef<HTMLParagraphElement>(null);
  const conflictRef = useRef<HTMLDivElement>(null);
  const pendingFocus = useRef<{ uid: string; action: string } | null>(null);
  const busy = useRef(false);

  const item = draft ? outboxItems.value.find((i) => i.id === draft.id) : undefined;
  const phase = phaseOf(item);
  const sending = phase === "sending";

  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    if (focusTick > 0) focusFirstProblem(form.current, problemRef.current ?? conflictRef.current);
  }, [focusTick]);
  useEffect(() => {
    if (latest.current) saveDraft(key, latest.current);
  }, [key]);

  // The current version: what a new draft starts from, and whether a kept draft is behind it.
  useEffect(() => {
    if (isNew || !admin) return;
    const abort = new AbortController();
    getTemplate(code, null, abort.signal)
      .then((tpl) => {
        setCurrent(tpl);
        setLoadProblem(null);
        const kept = latest.current;
        if (kept === null) {
          setDraft(draftFromTemplate(newClientMsgId(), tpl));
        } else if (kept.base_version !== tpl.version && !outboxSignal.peek()?.items.peek().some((i) => i.id === kept.id)) {
          if (kept.touched) setConflict({ kind: "stale", base: kept.base_version, current: tpl.version });
          else setDraft(draftFromTemplate(kept.id, tpl));
        }
      })
      .catch((error: unknown) => {
        if (error instanceof DOMException && error.name === "AbortError") return;
        setLoadProblem(error instanceof ApiError ? errorText(error.code, error.detail) : t("error.network"));
      });
    return () => abort.abort();
  }, [code, admin, reloadTick]);

  // Where the publish stands in the outbox.
  useEffect(() => {
    if (item === undefined || draft === null) return;
    if (item.status === "sent") {
      const result = (item.result ?? null) as Template | null;
      clearDraft(key);
      const target = result?.code ?? draft.code;
      if (submittedHere.has(item.id) && target) {
        route(`/templates/${enc(target)}`);
        return;
      }
      // Recorded after this editor was left (or before a reload): start afresh, and say so.
      setRecorded(result);
      setErrors({});
      setProblem(null);
      setConflict(null);
      if (isNew) setDraft(newTemplateDraft(newClientMsgId()));
      else {
        latest.current = null;
        setDraftState(null);
        setReloadTick((n) => n + 1);
      }
    } else if (item.status === "failed" && item.error) {
      const refusal = templateRefusal(item.error, draft.items.length, isNew);
      setErrors(refusal.fields);
      if (refusal.conflict === "version") {
        setProblem(null);
        setConflict({ kind: "version", base: draft.base_version, current: null });
      } else if (refusal.conflict === "no_change") {
        setProblem(t("tpl.editor.noChange", { version: draft.base_version }));
      } else {
        setProblem(refusal.general);
      }
      setFocusTick((n) => n + 1);
    }
  }, [item?.id, item?.status, item?.attempts]);

  // Focus follows an item that moved, was added or removed.
  useEffect(() => {
    const want = pendingFocus.current;
    if (want === null || form.current === null) return;
    pendingFocus.current = null;
    const row = form.current.querySelector<HTMLElement>(`[data-uid="${want.uid}"]`);
    const target =
      row?.querySelector<HTMLElement>(`[data-action="${want.action}"]:not(:disabled)`) ??
      row?.querySelector<HTMLElement>('[data-action]:not(:disabled)') ??
      form.current.querySelector<HTMLElement>('[data-action="add"]');
    target?.focus();
  }, [draft]);

  const clearErrors = (names: string[]) =>
    setErrors((prev) => {
      if (!names.some((n) => n in prev)) return prev;
      const next = { ...prev };
      names.forEach((n) => delete next[n]);
      return next;
    });

  const update = (patch: Partial<TemplateDraft>) => {
    const base = latest.current;
    if (base === null) return;
    setDraft({ ...base, ...patch, touched: true });
    clearErrors(Object.keys(patch));
  };

  const updateItem = (index: number, patch: Partial<DraftItem>) => {
    const base = latest.current;
    if (base === null) return;
    setDraft({ ...base, touched: true, items: base.items.map((it, i) => (i === index ? { ...it, ...patch } : it)) });
    clearErrors(Object.keys(patch).map((name) => `items.${index}.${name === "due" ? "due_offset_minutes" : name}`));
  };

  // Moving, adding or removing renumbers the items: reasons tied to an index no longer fit.
  const reshape = (items: DraftItem[], focus: { uid: string; action: string } | null) => {
    const base = latest.current;
    if (base === null) return;
    pendingFocus.current = focus;
    setErrors((prev) => Object.fromEntries(Object.entries(prev).filter(([name]) => !name.startsWith("items"))));
    setDraft({ ...base, touched: true, items });
  };

  const reloadCurrent = async () => {
    if (code === null) return;
    try {
      const tpl = await getTemplate(code);
      const kept = latest.current;
      if (item?.status === "failed") await outboxSignal.value?.discard(item.id);
      setCurrent(tpl);
      if (kept) {
        setRebased({ from: kept.base_version, to: tpl.version });
        setDraft(rebaseDraft(kept, tpl));
      } else {
        setDraft(draftFromTemplate(newClientMsgId(), tpl));
      }
      setConflict(null);
      setProblem(null);
      setErrors({});
      heading.current?.focus();
    } catch (error) {
      setProblem(error instanceof ApiError ? errorText(error.code, error.detail) : t("error.network"));
      setFocusTick((n) => n + 1);
    }
  };

  const submit = async () => {
    const d = latest.current;
    if (d === null || sending || busy.current) return;
    const knownKeys = !isNew && current !== null && current.version === d.base_version ? current.items.map((i) => i.key) : null;
    const found = problemsToFields(checkTemplate(draftInput(d), { isNew, knownKeys }), d.items.length, isNew);
    setErrors(found.fields);
    setProblem(found.general);
    setRecorded(null);
    if (Object.keys(found.fields).length > 0 || found.general !== null) {
      setFocusTick((n) => n + 1);
      return;
    }
    busy.current = true;
    try {
      if (item?.status === "failed") {
        // The hub refused it and recorded nothing: the same id carries the corrected version.
        await outboxSignal.value?.discard(d.id);
      }
      setConflict(null);
      submittedHere.add(d.id);
      const payload = buildPayload(d) as unknown as Record<string, unknown>;
      await (isNew ? createTemplate(d.id, payload) : publishTemplateVersion(d.id, d.code, payload));
    } catch (error) {
      submittedHere.delete(d.id);
      setProblem(error instanceof OutboxUnavailable ? t("tpl.editor.noOutbox") : t("tpl.editor.notStored"));
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
    setConflict(null);
    setRebased(null);
    if (isNew) setDraft(newTemplateDraft(newClientMsgId()));
    else if (current) setDraft(draftFromTemplate(newClientMsgId(), current));
    else {
      latest.current = null;
      setDraftState(null);
      setReloadTick((n) => n + 1);
    }
  };

  const headingText = isNew ? t("tpl.editor.newTitle") : t("tpl.editor.versionTitle");
  const head = (
    <header class="page-head">
      <p class="crumbs">
        <a href="/templates">{t("tpl.list.title")}</a>
        {!isNew ? (
          <>
            {" "}
            · <a href={`/templates/${enc(code ?? "")}`}>{current ? <bdi>{current.title}</bdi> : <bdi>{code}</bdi>}</a>
          </>
        ) : null}
      </p>
      <h1 id="template-editor-heading" tabIndex={-1} ref={heading}>
        {headingText}
        {!isNew && (current || draft) ? (
          <>
            {": "}
            <bdi>{current?.title ?? draft?.title ?? code}</bdi>
          </>
        ) : null}
      </h1>
      <p class="meta">{isNew ? t("tpl.editor.introNew") : t("tpl.editor.intro", { base: draft?.base_version ?? current?.version ?? 0, next: (draft?.base_version ?? current?.version ?? 0) + 1 })}</p>
    </header>
  );

  if (!admin) {
    return (
      <section class="panel template-editor" aria-labelledby="template-editor-heading">
        {head}
        <p class="hint" data-testid="admins-only">
          {t("tpl.editor.adminsOnly")}
        </p>
      </section>
    );
  }

  return (
    <section class="panel template-editor" aria-labelledby="template-editor-heading" data-testid="template-editor">
      {head}
      {loadProblem ? (
        <p class={draft ? "notice" : "problem"} role="alert">
          {draft ? t("tpl.editor.loadFailedDraft", { reason: loadProblem }) : loadProblem}
        </p>
      ) : null}
      {recorded ? (
        <p class="notice" role="status" data-testid="recorded">
          {t("tpl.editor.recordedEarlier", { version: recorded.version })}{" "}
          <a href={`/templates/${enc(recorded.code)}`}>
            <bdi>{recorded.title}</bdi>
          </a>
        </p>
      ) : null}
      {conflict ? (
        <div class="notice" role="alert" tabIndex={-1} ref={conflictRef} data-testid="conflict">
          <p>
            {conflict.kind === "version"
              ? t("tpl.editor.conflict", { base: conflict.base })
              : t("tpl.editor.stale", { base: conflict.base, current: conflict.current ?? 0 })}
          </p>
          <button type="button" class="primary" onClick={() => void reloadCurrent()} data-testid="conflict-reload">
            {t("tpl.editor.reload")}
          </button>
        </div>
      ) : null}
      {rebased && !conflict ? (
        <p class="notice" role="status" data-testid="rebased">
          {t("tpl.editor.rebased", { from: rebased.from, to: rebased.to })}{" "}
          <a href={`/templates/${enc(code ?? "")}?from=${rebased.from}&to=${rebased.to}`} target="_blank" rel="noopener">
            {t("tpl.editor.seeChanges", { from: rebased.from, to: rebased.to })}
          </a>
        </p>
      ) : null}
      {draft === null ? (
        loadProblem ? null : <p class="hint">{t("state.loading")}</p>
      ) : (
        <form
          ref={form}
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <fieldset class="form-body" disabled={sending}>
            <legend class="visually-hidden">{headingText}</legend>
            {isNew ? (
              <Field label={t("tpl.editor.code")} hint={t("tpl.editor.codeHint")} error={errors.code}>
                {(props) => (
                  <input
                    {...props}
                    type="text"
                    dir="ltr"
                    autoComplete="off"
                    autoCapitalize="none"
                    spellcheck={false}
                    aria-required="true"
                    data-testid="tpl-code"
                    value={draft.code}
                    onInput={(e) => update({ code: e.currentTarget.value })}
                  />
                )}
              </Field>
            ) : null}
            <Field label={t("tpl.editor.title")} hint={t("tpl.editor.titleHint", { max: TEMPLATE_LIMITS.title })} error={errors.title}>
              {(props) => (
                <input
                  {...props}
                  type="text"
                  dir="auto"
                  autoComplete="off"
                  aria-required="true"
                  data-testid="tpl-title"
                  value={draft.title}
                  onInput={(e) => update({ title: e.currentTarget.value })}
                />
              )}
            </Field>
            <Field label={t("tpl.editor.description")} error={errors.description}>
              {(props) => (
                <textarea
                  {...props}
                  dir="auto"
                  rows={4}
                  data-testid="tpl-description"
                  value={draft.description}
                  onInput={(e) => update({ description: e.currentTarget.value })}
                />
              )}
            </Field>
            <section class="template-items" aria-labelledby="template-items-heading">
              <h2 id="template-items-heading">{t("tpl.editor.items", { count: draft.items.length })}</h2>
              <p class="hint">{t("tpl.editor.itemsHint")}</p>
              {errors.items ? (
                <p class="field-error item-error" data-invalid="true" tabIndex={-1} data-testid="items-error">
                  {errors.items}
                </p>
              ) : null}
              <ol class="checklist">
                {draft.items.map((it, index) => (
                  <ItemEditor
                    key={it.uid}
                    item={it}
                    index={index}
                    count={draft.items.length}
                    errors={errors}
                    onChange={(patch) => updateItem(index, patch)}
                    onMove={(delta) => reshape(moveItem(draft.items, index, delta), { uid: it.uid, action: delta < 0 ? "up" : "down" })}
                    onRemove={() => {
                      const next = draft.items.filter((_, i) => i !== index);
                      const neighbour = next[index] ?? next[index - 1];
                      reshape(next, neighbour ? { uid: neighbour.uid, action: "title" } : { uid: "", action: "add" });
                    }}
                  />
                ))}
              </ol>
              <p>
                <button
                  type="button"
                  data-action="add"
                  data-testid="tpl-add-item"
                  disabled={draft.items.length >= TEMPLATE_LIMITS.items}
                  onClick={() => {
                    const added = blankItem();
                    reshape([...draft.items, added], { uid: added.uid, action: "title" });
                  }}
                >
                  {t("tpl.editor.addItem")}
                </button>{" "}
                {draft.items.length >= TEMPLATE_LIMITS.items ? <span class="hint">{t("tpl.check.tooManyItems", { max: TEMPLATE_LIMITS.items })}</span> : null}
              </p>
            </section>
          </fieldset>
          {problem ? (
            <p class="problem" role="alert" tabIndex={-1} ref={problemRef} data-testid="form-problem">
              {problem}
            </p>
          ) : null}
          <SendingLine item={item} text={t("tpl.editor.sending")} />
          <div class="form-actions">
            <button type="submit" class="primary" disabled={sending} data-testid="tpl-publish">
              {sending ? t("tpl.editor.publishing") : isNew ? t("tpl.editor.publishNew") : t("tpl.editor.publish", { version: draft.base_version + 1 })}
            </button>{" "}
            {!sending ? (
              <button type="button" class="link" onClick={startOver} data-testid="tpl-discard">
                {t("tpl.editor.discard")}
              </button>
            ) : null}
          </div>
        </form>
      )}
    </section>
  );
}

function Check({ label: text, checked, error, testId, onChange }: { label: string; checked: boolean; error?: string; testId: string; onChange: (on: boolean) => void }) {
  const id = useId();
  return (
    <span class="choice">
      <input
        id={id}
        type="checkbox"
        checked={checked}
        data-testid={testId}
        {...(error ? { "aria-invalid": "true" as const, "aria-describedby": `${id}-error` } : {})}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />{" "}
      <label for={id}>{text}</label>
      {error ? (
        <span class="field-error" id={`${id}-error`}>
          {" "}
          {error}
        </span>
      ) : null}
    </span>
  );
}

function ItemEditor({
  item,
  index,
  count,
  errors,
  onChange,
  onMove,
  onRemove,
}: {
  item: DraftItem;
  index: number;
  count: number;
  errors: Record<string, string>;
  onChange: (patch: Partial<DraftItem>) => void;
  onMove: (delta: number) => void;
  onRemove: () => void;
}) {
  const at = (name: string) => errors[`items.${index}.${name}`];
  const whole = errors[`items.${index}`];
  const errorId = `tpl-item-${item.uid}-error`;
  const minutes = parseMinutes(item.due);
  const known = (AGENCY_KINDS as readonly string[]).includes(item.agency_kind);
  const n = index + 1;
  return (
    <li class="task template-item" data-uid={item.uid} data-testid="tpl-item">
      <fieldset class="template-item-fields" {...(whole ? { "aria-describedby": errorId } : {})}>
        <legend>{item.key ? t("tpl.editor.itemN", { n }) : t("tpl.editor.itemNew", { n })}</legend>
        {whole ? (
          <p class="field-error item-error" id={errorId} data-invalid="true" tabIndex={-1}>
            {whole}
          </p>
        ) : null}
        <Field label={t("tpl.field.title")} error={at("title")}>
          {(props) => (
            <input
              {...props}
              type="text"
              dir="auto"
              autoComplete="off"
              aria-required="true"
              data-action="title"
              data-testid={`tpl-item-title-${index}`}
              value={item.title}
              onInput={(e) => onChange({ title: e.currentTarget.value })}
            />
          )}
        </Field>
        <Field label={t("tpl.field.guidance")} error={at("guidance")}>
          {(props) => (
            <textarea {...props} dir="auto" rows={2} data-testid={`tpl-item-guidance-${index}`} value={item.guidance} onInput={(e) => onChange({ guidance: e.currentTarget.value })} />
          )}
        </Field>
        <div class="field-row">
          <Field label={t("tpl.field.agencyKind")} error={at("agency_kind")}>
            {(props) => (
              <select {...props} aria-required="true" data-testid={`tpl-item-kind-${index}`} value={item.agency_kind} onChange={(e) => onChange({ agency_kind: e.currentTarget.value })}>
                {item.agency_kind === "" ? <option value="">{t("tpl.editor.choose")}</option> : null}
                {!known && item.agency_kind !== "" ? <option value={item.agency_kind}>{label("agencyKind", item.agency_kind)}</option> : null}
                {AGENCY_KINDS.map((kind) => (
                  <option key={kind} value={kind}>
                    {label("agencyKind", kind)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field
            label={t("tpl.field.dueMinutes")}
            hint={minutes !== null && minutes >= 0 && minutes <= TEMPLATE_LIMITS.dueOffsetMinutes ? dueText(minutes) : t("tpl.editor.dueHint")}
            error={at("due_offset_minutes")}
          >
            {(props) => (
              <input
                {...props}
                type="text"
                inputMode="numeric"
                autoComplete="off"
                class="narrow"
                data-testid={`tpl-item-due-${index}`}
                value={item.due}
                onInput={(e) => onChange({ due: e.currentTarget.value })}
              />
            )}
          </Field>
        </div>
        <p class="choices">
          <Check label={t("tpl.field.requiresNote")} checked={item.requires_note} error={at("requires_note")} testId={`tpl-item-note-${index}`} onChange={(on) => onChange({ requires_note: on })} />{" "}
          <Check
            label={t("tpl.field.requiresCosign")}
            checked={item.requires_cosign}
            error={at("requires_cosign")}
            testId={`tpl-item-cosign-${index}`}
            onChange={(on) => onChange({ requires_cosign: on })}
          />
        </p>
        <ItemActions>
          <button type="button" data-action="up" disabled={index === 0} onClick={() => onMove(-1)}>
            {t("tpl.editor.moveUp")}
          </button>
          <button type="button" data-action="down" disabled={index === count - 1} onClick={() => onMove(1)}>
            {t("tpl.editor.moveDown")}
          </button>
          <button type="button" class="danger" data-action="remove" data-testid={`tpl-item-remove-${index}`} onClick={onRemove}>
            {t("tpl.editor.removeItem")}
          </button>
        </ItemActions>
      </fieldset>
    </li>
  );
}

function ItemActions({ children }: { children: ComponentChildren }) {
  return <p class="row-actions">{children}</p>;
}
