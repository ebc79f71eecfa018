// The incident channel: messages (newest at the bottom, older ones loaded when
// the officer scrolls up), system rows, the officer's own unsent messages from
// the outbox, typing, "seen by" and the composer with @ completion.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { agenciesAt, me } from "../app/session";
import { editMessage, incidentScope, postMessage, redactMessage } from "../app/writes";
import { AgencyChip, Name } from "../components/Agency";
import { SafeText } from "../components/SafeText";
import { Time } from "../components/Time";
import { errorText, t } from "../i18n";
import { outboxItems, outboxSignal } from "../realtime/live";
import type { OutboxItem } from "../realtime/outbox";
import { describeEvent } from "./describe";
import { activeMention, completeMentions, insertMention } from "./mentions";
import type { MentionCandidate } from "./mentions";
import type { RoomStore } from "./room-store";
import type { IncidentState } from "./state";
import type { ChatMessage } from "./timeline";
import { OutboxState } from "../components/OutboxState";
import { FileRow, PickedFiles, readPicked, toOutboxFiles, UnsentFiles } from "../attachments/Files";
import type { PickedFile } from "../attachments/Files";
import { MAX_FILES } from "../attachments/upload";

/** The hub's limit on a message body (hub/incidents/schemas.py MessageIn). */
export const MAX_BODY = 10_000;
const DRAFT_KEY = (ref: string) => `hub.draft.${ref}`;

export function Chat({ store, incident, tz, readOnly }: { store: RoomStore; incident: IncidentState; tz: string; readOnly: boolean }) {
  const user = me.value;
  const list = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  store.version.value; // re-render on timeline changes
  const entries = store.timeline.entries();
  const scope = incidentScope(incident.ref);
  const mine = outboxItems.value.filter((i) => i.scope === scope);
  const sentSeqs = new Set(entries.map((e) => e.seq));
  const unsentMessages = mine.filter(
    (i) => i.kind === "message" && (i.status !== "sent" || !sentSeqs.has(Number((i.result as { seq?: number } | undefined)?.seq ?? -1))),
  );
  const myAgencies = agenciesAt(user, incident.crossing_point);
  const files = store.files.items.value;
  // A file a message shows needs no row of its own ("added file …").
  const shownWithMessage = new Set(entries.flatMap((e) => (e.type === "message" ? e.message.attachments : [])));
  const mentionKeys = [user?.username ?? "", ...myAgencies];

  // A link to one row (/incidents/REF#seq-N, from search) opens the room there, once.
  const linked = useRef<string | null>(typeof location === "undefined" ? null : /^#seq-\d+$/.test(location.hash) ? location.hash.slice(1) : null);
  useLayoutEffect(() => {
    const el = list.current;
    const target = linked.current === null ? null : document.getElementById(linked.current);
    if (target !== null) {
      linked.current = null;
      atBottom.current = false;
      target.classList.add("linked");
      target.scrollIntoView({ block: "center" });
      return;
    }
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  });

  useEffect(() => {
    if (!document.hidden && atBottom.current) store.markRead();
  });

  useEffect(() => {
    const onVisible = () => {
      if (!document.hidden) store.markRead();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [store]);

  const onScroll = () => {
    const el = list.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 60 && !store.timeline.complete && !store.loadingOlder.value) {
      const before = el.scrollHeight;
      void store.loadOlder().then(() => {
        requestAnimationFrame(() => {
          el.scrollTop += el.scrollHeight - before;
        });
      });
    }
    if (atBottom.current) store.markRead();
  };

  // "Seen by": the agencies whose officers have read the newest message.
  const newestMessage = [...entries].reverse().find((e) => e.type === "message");
  const seenBy = new Set<string>();
  if (newestMessage) {
    for (const reader of store.readers.value.values()) {
      if (reader.seq >= newestMessage.seq && reader.agency && reader.user !== user?.username) seenBy.add(reader.agency);
    }
  }
  const typists = store.typing.value.filter((x) => x.user !== user?.username);

  return (
    <section class="panel chat" aria-labelledby="chat-heading">
      <h2 id="chat-heading">{t("room.channel")}</h2>
      <ol class="timeline" ref={list} onScroll={onScroll} data-testid="timeline" aria-label={t("room.channel")} tabIndex={0}>
        {!store.timeline.complete ? (
          <li class="older">
            <button type="button" class="link" disabled={store.loadingOlder.value} onClick={() => void store.loadOlder()}>
              {store.loadingOlder.value ? t("state.loading") : t("room.loadOlder")}
            </button>
          </li>
        ) : null}
        {entries.map((entry) =>
          entry.type === "message" ? (
            <MessageRow
              key={entry.seq}
              message={entry.message}
              incident={incident}
              tz={tz}
              mentionKeys={mentionKeys}
              readOnly={readOnly}
              pending={mine.filter((i) => i.meta?.messageId === entry.message.id && i.status !== "sent")}
              files={files}
            />
          ) : entry.event.kind === "attachment.added" && shownWithMessage.has(Number((entry.event.payload as Record<string, unknown>).attachment_id)) ? null : (
            <li key={entry.seq} class={`system kind-${entry.event.kind.replace(/\./g, "-")}`} id={`seq-${entry.seq}`} data-seq={entry.seq} data-kind={entry.event.kind}>
              <Time at={entry.event.at} tz={tz} />{" "}
              {entry.event.actor ? (
                <>
                  <Name>{entry.event.actor.name}</Name>
                  {entry.event.actor.agency ? (
                    <>
                      {" "}
                      <AgencyChip code={entry.event.actor.agency} />
                    </>
                  ) : null}
                  {": "}
                </>
              ) : null}
              <span dir="auto">{describeEvent(entry.event)}</span>
            </li>
          ),
        )}
        {unsentMessages.map((item) => (
          <UnsentRow key={item.id} item={item} />
        ))}
      </ol>
      <p class="seen-by" data-testid="seen-by">
        {seenBy.size > 0 ? (
          <>
            {t("room.seenBy")}{" "}
            {[...seenBy].sort().map((a) => (
              <AgencyChip key={a} code={a} />
            ))}
          </>
        ) : null}
      </p>
      <p class="typing" data-testid="typing" aria-live="polite">
        {typists.length === 1
          ? t("room.typingOne", { name: typists[0]?.name ?? "", agency: typists[0]?.agency ?? "" })
          : typists.length > 1
            ? t("room.typingMany", { count: typists.length })
            : ""}
      </p>
      {readOnly || incident.status === "closed" ? (
        <p class="hint">{incident.status === "closed" ? t("room.closed") : t("offline.noWrites")}</p>
      ) : (
        <Composer store={store} incident={incident} />
      )}
    </section>
  );
}

function UnsentRow({ item }: { item: OutboxItem }) {
  const failed = item.status === "failed";
  const progress = outboxSignal.value?.progress.value[item.id];
  return (
    <li class={`message mine ${failed ? "failed" : "pending"}`} data-testid="unsent" data-status={item.status}>
      <p class="body" dir="auto">
        {item.label}
      </p>
      <UnsentFiles files={item.files ?? []} progress={progress} refused={item.error?.file} />
      <p class="meta">
        {failed ? (
          <span class="item-error" role="alert">
            {t("outbox.notSent", { reason: errorText(item.error?.code ?? "error", item.error?.detail ?? "") })}{" "}
            <button type="button" class="link" onClick={() => void navigator.clipboard?.writeText(item.label)}>
              {t("action.copy")}
            </button>{" "}
            <button type="button" class="link" onClick={() => void outboxSignal.value?.discard(item.id)}>
              {t("action.dismiss")}
            </button>
          </span>
        ) : item.status === "sent" ? (
          <span>{t("outbox.sent")}</span>
        ) : (
          <span class="item-pending">
            {item.error ? t("outbox.retrying", { reason: errorText(item.error.code, item.error.detail) }) : t("outbox.pending")}{" "}
            <button type="button" class="link" onClick={() => void outboxSignal.value?.retry(item.id)}>
              {t("action.retryNow")}
            </button>
          </span>
        )}
      </p>
    </li>
  );
}

function MessageRow({
  message,
  incident,
  tz,
  mentionKeys,
  readOnly,
  pending,
  files,
}: {
  message: ChatMessage;
  incident: IncidentState;
  tz: string;
  mentionKeys: string[];
  readOnly: boolean;
  pending: OutboxItem[];
  files: ReadonlyMap<number, import("../attachments/store").AttachmentMeta>;
}) {
  const user = me.value;
  const own = message.author.username === user?.username;
  const point = incident.crossing_point;
  const canRedact =
    !message.redacted &&
    (own ||
      (user?.memberships ?? []).some(
        (m) =>
          m.crossing_points.includes(point) &&
          (m.role === "senior_official" || (m.role === "coordinator" && incident.participating_agencies.includes(m.agency))),
      ));
  const [mode, setMode] = useState<"view" | "edit" | "redact" | "history">("view");
  const [text, setText] = useState(message.body);
  const [error, setError] = useState<string | null>(null);
  const mentioned = message.mentions.some((m) => mentionKeys.map((k) => k.toLowerCase()).includes(m.key.toLowerCase()));
  const edited = message.versions.length > 1;

  return (
    <li
      class={`message${own ? " mine" : ""}${mentioned ? " mentioned" : ""}${message.redacted ? " redacted" : ""}`}
      id={`seq-${message.seq}`}
      data-seq={message.seq}
      data-message-id={message.id}
      data-testid="message"
    >
      <p class="meta">
        <Name>{message.author.name}</Name> {message.author.agency ? <AgencyChip code={message.author.agency} /> : null} <Time at={message.at} tz={tz} />
        {edited && !message.redacted ? (
          <>
            {" "}
            <button type="button" class="link edited" aria-expanded={mode === "history"} onClick={() => setMode(mode === "history" ? "view" : "history")}>
              {t("message.edited", { count: message.versions.length - 1 })}
            </button>
          </>
        ) : null}
        {mentioned ? <span class="badge mention-badge">{t("message.mentionsYou")}</span> : null}
      </p>
      {message.redacted ? (
        <p class="body redaction" data-testid="redaction">
          {message.redaction
            ? t("message.redactedBy", { name: message.redaction.by.name, agency: message.redaction.by.agency ?? "", reason: message.redaction.reason })
            : t("message.redacted.placeholder")}
        </p>
      ) : mode === "edit" ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            const body = text.trim();
            if (!body) return setError(t("composer.empty"));
            if (body.length > MAX_BODY) return setError(t("composer.tooLong", { max: MAX_BODY }));
            void editMessage(incident.ref, message.id, body);
            setMode("view");
            setError(null);
          }}
        >
          <label class="visually-hidden" for={`edit-${message.id}`}>
            {t("message.editLabel")}
          </label>
          <textarea id={`edit-${message.id}`} dir="auto" value={text} rows={2} onInput={(e) => setText(e.currentTarget.value)} />
          {error ? <p class="field-error">{error}</p> : null}
          <button type="submit" class="primary">
            {t("action.save")}
          </button>{" "}
          <button type="button" class="link" onClick={() => setMode("view")}>
            {t("action.cancel")}
          </button>
        </form>
      ) : (
        <>
          {message.body ? (
            <p class="body" dir="auto">
              <SafeText text={message.body} mentionKeys={mentionKeys} />
            </p>
          ) : null}
          <FileRow incident={incident.ref} ids={message.attachments} files={files} point={point} lead={incident.lead_agency} tz={tz} />
        </>
      )}
      {mode === "history" ? (
        <ol class="versions" data-testid="versions" aria-label={t("message.history")}>
          {message.versions.map((v, i) => (
            <li key={v.seq}>
              <span class="meta">
                {i === 0 ? t("message.original") : t("message.version", { n: i })} · <Time at={v.at} tz={tz} />
              </span>{" "}
              <span dir="auto">{v.body}</span>
            </li>
          ))}
        </ol>
      ) : null}
      {mode === "redact" ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!text.trim()) return setError(t("redact.reasonRequired"));
            void redactMessage(incident.ref, message.id, text.trim());
            setMode("view");
            setError(null);
          }}
        >
          <label for={`redact-${message.id}`}>{t("redact.reason")}</label>
          <input id={`redact-${message.id}`} value={text} maxLength={500} onInput={(e) => setText(e.currentTarget.value)} />
          {error ? <p class="field-error">{error}</p> : null}
          <button type="submit" class="danger">
            {t("action.redact")}
          </button>{" "}
          <button type="button" class="link" onClick={() => setMode("view")}>
            {t("action.cancel")}
          </button>
        </form>
      ) : null}
      {!readOnly && mode === "view" && !message.redacted ? (
        <p class="row-actions">
          {own ? (
            <button type="button" class="link" onClick={() => (setText(message.body), setMode("edit"), setError(null))}>
              {t("action.edit")}
            </button>
          ) : null}{" "}
          {canRedact ? (
            <button type="button" class="link" onClick={() => (setText(""), setMode("redact"), setError(null))}>
              {t("action.redact")}
            </button>
          ) : null}
        </p>
      ) : null}
      {pending.map((item) => (
        <p key={item.id} class="outbox-line">
          {item.kind === "edit" ? t("message.editing") : t("message.redacting")}{" "}
          <OutboxState item={item} />
        </p>
      ))}
    </li>
  );
}

function Composer({ store, incident }: { store: RoomStore; incident: IncidentState }) {
  const [text, setText] = useState(() => {
    try {
      return localStorage.getItem(DRAFT_KEY(incident.ref)) ?? "";
    } catch {
      return "";
    }
  });
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<PickedFile[]>([]);
  const [dragging, setDragging] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const [caret, setCaret] = useState(0);
  const [choice, setChoice] = useState(0);
  const area = useRef<HTMLTextAreaElement>(null);

  const saveDraft = (value: string) => {
    try {
      if (value) localStorage.setItem(DRAFT_KEY(incident.ref), value);
      else localStorage.removeItem(DRAFT_KEY(incident.ref));
    } catch {
      // private mode: the draft lives as long as the page
    }
  };

  const candidates: MentionCandidate[] = [
    ...incident.participating_agencies.map((code) => ({ kind: "agency" as const, key: code, name: code })),
    ...Object.values(store.presence.value)
      .flat()
      .map((u) => ({ kind: "officer" as const, key: u.user, name: u.name })),
    ...store.timeline
      .entries()
      .filter((e) => e.type === "message")
      .map((e) => (e.type === "message" ? e.message.author : null))
      .filter((a): a is NonNullable<typeof a> => a !== null && a.username !== null)
      .map((a) => ({ kind: "officer" as const, key: a.username as string, name: a.name })),
  ].filter((c) => c.key !== me.value?.username);
  const active = activeMention(text, caret);
  const options = active ? completeMentions(active.query, candidates) : [];
  const listId = `mentions-${incident.ref}`;

  const pick = (c: MentionCandidate) => {
    if (!active) return;
    const next = insertMention(text, active.start, caret, c.key);
    setText(next.text);
    saveDraft(next.text);
    setCaret(next.caret);
    requestAnimationFrame(() => {
      area.current?.focus();
      area.current?.setSelectionRange(next.caret, next.caret);
    });
  };

  const addFiles = async (list: Iterable<File>) => {
    const added = await readPicked(list);
    if (added.length > 0) {
      setPicked((now) => [...now, ...added]);
      setError(null);
    }
  };

  const send = () => {
    const body = text.trim();
    if (!body && picked.length === 0) {
      setError(t("composer.empty"));
      return;
    }
    if (picked.some((f) => f.problem !== null)) {
      setError(t("files.fixFirst"));
      return;
    }
    if (picked.length > MAX_FILES) {
      setError(t("files.tooMany", { max: MAX_FILES }));
      return;
    }
    if (body.length > MAX_BODY) {
      setError(t("composer.tooLong", { max: MAX_BODY }));
      return;
    }
    setError(null);
    void postMessage(incident.ref, body, null, toOutboxFiles(picked)).then(() => {
      setText("");
      saveDraft("");
      setPicked([]);
    });
  };

  return (
    <form
      class={`composer${dragging ? " dragging" : ""}`}
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
      onDragOver={(e) => {
        if (e.dataTransfer?.types.includes("Files")) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        if (e.dataTransfer && e.dataTransfer.files.length > 0) {
          e.preventDefault();
          setDragging(false);
          void addFiles(Array.from(e.dataTransfer.files));
        }
      }}
    >
      <label for={`composer-${incident.ref}`}>{t("composer.label")}</label>
      <div class="composer-row">
        <textarea
          id={`composer-${incident.ref}`}
          ref={area}
          data-testid="composer"
          dir="auto"
          rows={2}
          value={text}
          placeholder={t("composer.placeholder")}
          aria-autocomplete="list"
          aria-controls={listId}
          aria-activedescendant={options.length > 0 ? `${listId}-${choice % options.length}` : undefined}
          aria-invalid={error ? "true" : undefined}
          onInput={(e) => {
            const value = e.currentTarget.value;
            setText(value);
            setCaret(e.currentTarget.selectionStart ?? value.length);
            setChoice(0);
            saveDraft(value);
            if (value.trim()) store.sendTyping();
            if (error) setError(null);
          }}
          onPaste={(e) => {
            const pasted = Array.from(e.clipboardData?.files ?? []);
            if (pasted.length > 0) {
              e.preventDefault();
              void addFiles(pasted);
            }
          }}
          onKeyUp={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
          onClick={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
          onKeyDown={(e) => {
            if (options.length > 0) {
              if (e.key === "ArrowDown" || e.key === "ArrowUp") {
                e.preventDefault();
                setChoice((choice + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length);
                return;
              }
              if (e.key === "Enter" || e.key === "Tab") {
                e.preventDefault();
                const picked = options[choice % options.length];
                if (picked) pick(picked);
                return;
              }
              if (e.key === "Escape") {
                setCaret(-1);
                return;
              }
            }
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <div class="composer-actions">
          <input
            ref={fileInput}
            id={`files-${incident.ref}`}
            type="file"
            multiple
            accept="image/jpeg,image/png,image/webp,application/pdf"
            class="visually-hidden"
            tabIndex={-1}
            aria-label={t("files.attach")}
            data-testid="file-input"
            onChange={(e) => {
              const input = e.currentTarget;
              void addFiles(Array.from(input.files ?? [])).then(() => {
                input.value = "";
              });
            }}
          />
          <button type="button" onClick={() => fileInput.current?.click()} data-testid="attach">
            {t("files.attach")}
          </button>
          <button type="submit" class="primary" data-testid="send">
            {t("action.send")}
          </button>
        </div>
      </div>
      <PickedFiles files={picked} onRemove={(id) => setPicked((now) => now.filter((f) => f.id !== id))} />
      <ul id={listId} role="listbox" class="mention-list" hidden={options.length === 0} aria-label={t("composer.mentions")}>
        {options.map((c, i) => (
          <li
            key={`${c.kind}:${c.key}`}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === choice % options.length}
            onMouseDown={(e) => {
              e.preventDefault();
              pick(c);
            }}
          >
            <bdi>@{c.key}</bdi> <span class="hint">{c.kind === "agency" ? t("composer.agency") : c.name}</span>
          </li>
        ))}
      </ul>
      <p class="hint">
        {t("composer.hint")} {t("files.hint")} <span class="counter">{t("composer.count", { count: text.length, max: MAX_BODY })}</span>
      </p>
      {error ? (
        <p class="field-error" role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}
