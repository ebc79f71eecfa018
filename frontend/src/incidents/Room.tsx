// The incident room (/incidents/<REF>): the header (what, where, when, who
// leads), the status moves the officer may make, coordinators' invite and
// lead controls, and the shared channel: live messages with edits, redactions,
// mentions, typing, presence and "seen by", and the officer's own pending
// writes from the outbox.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { lazy } from "preact-iso";
import { announce } from "../app/attention";
import { hasRoleAt, me, pointInfo, session, zoneOf } from "../app/session";
import { incidentMetaScope, inviteAgency, setLead, transition } from "../app/writes";
import { Online } from "../board/Board";
import { AgencyChip, Name } from "../components/Agency";
import { SeverityBadge, StatusBadge } from "../components/Badges";
import { Field } from "../components/Field";
import { Time } from "../components/Time";
import { NotFound } from "../app/NotFound";
import { label, loadOperationMessages, t } from "../i18n";
import { formatTime } from "../i18n/time";
import { outboxItems } from "../realtime/live";
import type { OutboxItem } from "../realtime/outbox";
import { FileRow } from "../attachments/Files";
import { Chat } from "./Chat";
import { RoomStore } from "./room-store";
import { SitrepPanel } from "./SitrepPanel";
import { needsReason, TRANSITIONS } from "./state";
import type { IncidentState } from "./state";
import { OutboxState } from "../components/OutboxState";

// The checklist panel loads with the operations code, on first use.
const OperationPanel = lazy(() => loadOperationMessages().then(() => import("../operations/OperationPage")).then((m) => m.OperationPanel));

export function Room({ ref: incidentRef }: { ref: string }) {
  const refCode = decodeURIComponent(incidentRef);
  const offline = session.value.kind === "signed-in" && session.value.offline;
  const store = useMemo(() => new RoomStore(refCode), [refCode]);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    store.onLiveEvent = (event) => {
      if (event.kind === "message.posted" && event.actor?.username !== me.peek()?.username) {
        const body = String((event.payload as Record<string, unknown>).body ?? "");
        announce(t("announce.message", { name: event.actor?.name ?? "", agency: event.actor?.agency ?? "", body: body.slice(0, 140) }));
      }
    };
    if (offline) {
      void store.startOffline().then((found) => {
        if (!found) store.status.value = "failed";
      });
    } else {
      void store.start();
    }
    return () => store.stop();
  }, [store, offline]);

  const status = store.status.value;
  useEffect(() => {
    if (status === "ready") heading.current?.focus();
  }, [status, refCode]);

  if (status === "not-found") return <NotFound what="incident" ident={refCode} />;
  if (status === "loading") return <p class="hint">{t("state.loading")}</p>;
  if (status === "failed")
    return (
      <p class="problem" role="alert">
        {offline ? t("offline.notCached") : t("room.loadFailed")}
      </p>
    );
  const incident = store.incident.value;
  if (incident === null) return null;
  const tz = zoneOf(incident.crossing_point);
  const stale = store.staleSince.value;

  return (
    <div class="room" data-testid="room">
      <IncidentHeader incident={incident} tz={tz} headingRef={heading} readOnly={offline || status === "revoked"} />
      {stale !== null ? (
        <p class="stale" role="status" data-testid="stale">
          {t("offline.readOnly", { time: formatTime(stale, tz) })}
        </p>
      ) : null}
      {status === "revoked" ? (
        <p class="problem" role="alert">
          {t("room.revoked")}
        </p>
      ) : null}
      <SitrepPanel
        kind="incident"
        subject={incident.ref}
        point={incident.crossing_point}
        leadAgency={incident.lead_agency}
        state={incident.sitrep}
        tz={tz}
        readOnly={offline || status === "revoked" || incident.status === "closed" || incident.status === "resolved"}
      />
      <div class="room-grid">
        <Chat store={store} incident={incident} tz={tz} readOnly={offline || status === "revoked"} />
        <aside class="panel room-side" aria-labelledby="room-online">
          <h2 id="room-online">{t("board.online")}</h2>
          <Online online={store.presence.value} />
          <RoomFiles store={store} incident={incident} tz={tz} />
        </aside>
      </div>
      {offline ? null : store.operations.value.map((opRef) => <OperationPanel key={opRef} opRef={opRef} />)}
    </div>
  );
}

/** Every evidence file of the incident (newest first), and the officer's unsent withdrawals. */
function RoomFiles({ store, incident, tz }: { store: RoomStore; incident: IncidentState; tz: string }) {
  const ids = [...store.files.items.value.keys()].sort((a, b) => b - a);
  const withdrawals = pendingOrFailed(outboxItems.value, incidentMetaScope(incident.ref), "file.withdraw");
  return (
    <section class="room-files" aria-labelledby="room-files" data-testid="room-files">
      <h2 id="room-files">{t("files.list")}</h2>
      {ids.length === 0 ? <p class="hint">{t("files.none")}</p> : null}
      <FileRow incident={incident.ref} ids={ids} files={store.files.items.value} point={incident.crossing_point} lead={incident.lead_agency} tz={tz} />
      {withdrawals.map((item) => (
        <p key={item.id} class="outbox-line">
          {t("files.withdrawing", { name: String(item.meta?.filename ?? "") })} <OutboxState item={item} />
        </p>
      ))}
    </section>
  );
}

function IncidentHeader({
  incident,
  tz,
  headingRef,
  readOnly,
}: {
  incident: IncidentState;
  tz: string;
  headingRef: { current: HTMLHeadingElement | null };
  readOnly: boolean;
}) {
  const user = me.value;
  const point = incident.crossing_point;
  const coordinator = incident.participating_agencies.some((a) => hasRoleAt(user, point, "coordinator", a));
  // The review is for senior officials and the lead agency's coordinators (the hub decides).
  const reviewer = hasRoleAt(user, point, "senior_official") || hasRoleAt(user, point, "coordinator", incident.lead_agency);
  return (
    <header class="page-head incident-head">
      <p class="crumbs">
        <a href={`/points/${point}`}>{t("nav.board", { point: pointInfo(point)?.name ?? point })}</a>
        {reviewer ? (
          <>
            {" · "}
            <a href={`/incidents/${encodeURIComponent(incident.ref)}/review`} data-testid="review-link">
              {t("room.review")}
            </a>
          </>
        ) : null}
      </p>
      <h1 tabIndex={-1} ref={headingRef} data-testid="incident-title">
        <bdi class="ref">{incident.ref}</bdi> <span dir="auto">{incident.title}</span>
      </h1>
      <p class="meta">
        <StatusBadge status={incident.status} /> <SeverityBadge severity={incident.severity} /> <span>{label("category", incident.category)}</span>
      </p>
      <dl class="facts">
        <div>
          <dt>{t("incident.lead")}</dt>
          <dd>
            <AgencyChip code={incident.lead_agency} />
          </dd>
        </div>
        <div>
          <dt>{t("incident.agencies")}</dt>
          <dd data-testid="participants">
            {incident.participating_agencies.map((a) => (
              <AgencyChip key={a} code={a} />
            ))}
          </dd>
        </div>
        <div>
          <dt>{t("incident.where")}</dt>
          <dd>
            <bdi>{pointInfo(point)?.name ?? point}</bdi>
            {incident.location_detail ? (
              <>
                {" "}
                · <span dir="auto">{incident.location_detail}</span>
              </>
            ) : null}
          </dd>
        </div>
        <div>
          <dt>{t("incident.when")}</dt>
          <dd>
            <Time at={incident.occurred_at} tz={tz} relative />
          </dd>
        </div>
        <div>
          <dt>{t("incident.reportedBy")}</dt>
          <dd>
            <Name>{incident.reported_by.name}</Name> <AgencyChip code={incident.reporting_agency} />
          </dd>
        </div>
        {incident.people_count ? (
          <div>
            <dt>{t("incident.people")}</dt>
            <dd>{incident.people_count}</dd>
          </div>
        ) : null}
      </dl>
      {incident.description ? (
        <p class="description" dir="auto">
          {incident.description}
        </p>
      ) : null}
      {!readOnly && coordinator ? <CoordinatorControls incident={incident} /> : null}
    </header>
  );
}

function pendingOrFailed(items: OutboxItem[], scope: string, kind: string): OutboxItem[] {
  return items.filter((i) => i.scope === scope && i.kind === kind && i.status !== "sent");
}

function CoordinatorControls({ incident }: { incident: IncidentState }) {
  const scope = incidentMetaScope(incident.ref);
  const items = outboxItems.value;
  const moves = TRANSITIONS[incident.status] ?? [];
  const [moving, setMoving] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  const [reasonError, setReasonError] = useState<string | null>(null);
  const deployed = pointInfo(incident.crossing_point)?.agencies.map((a) => a.agency) ?? [];
  const invitable = deployed.filter((a) => !incident.participating_agencies.includes(a));
  const [invite, setInvite] = useState("");
  const [note, setNote] = useState("");
  const [lead, setLeadValue] = useState(incident.lead_agency);
  const transitions = pendingOrFailed(items, scope, "transition");
  const invites = pendingOrFailed(items, scope, "invite");
  const leads = pendingOrFailed(items, scope, "lead");

  const submitMove = (to: string) => {
    if (needsReason(incident.status, to) && !reason.trim()) {
      setMoving(to);
      setReasonError(t("transition.reasonRequired"));
      return;
    }
    void transition(incident.ref, to, reason.trim());
    setMoving(null);
    setReason("");
    setReasonError(null);
  };

  return (
    <section class="coordinator" aria-labelledby="coord-heading">
      <h2 id="coord-heading">{t("room.coordination")}</h2>
      <div class="transitions" role="group" aria-label={t("transition.group")}>
        {moves.map((to) => (
          <button
            key={to}
            type="button"
            data-testid={`transition-${to}`}
            onClick={() => (needsReason(incident.status, to) && moving !== to ? (setMoving(to), setReasonError(null)) : submitMove(to))}
          >
            {t("transition.to", { status: label("status", to) })}
          </button>
        ))}
      </div>
      {moving !== null ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            submitMove(moving);
          }}
        >
          <Field label={t("transition.reason", { status: label("status", moving) })} error={reasonError}>
            {(props) => <input {...props} value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary">
            {t("transition.confirm", { status: label("status", moving) })}
          </button>{" "}
          <button type="button" class="link" onClick={() => setMoving(null)}>
            {t("action.cancel")}
          </button>
        </form>
      ) : null}
      {transitions.map((item) => (
        <p key={item.id} class="outbox-line" data-testid="transition-state">
          {t("transition.to", { status: label("status", String(item.meta?.to ?? "")) })}: <OutboxState item={item} />
        </p>
      ))}
      <div class="coord-forms">
        {invitable.length > 0 ? (
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (!invite) return;
              void inviteAgency(incident.ref, invite, note.trim());
              setInvite("");
              setNote("");
            }}
          >
            <Field label={t("invite.agency")}>
              {(props) => (
                <select {...props} value={invite} onChange={(e) => setInvite(e.currentTarget.value)}>
                  <option value="">{t("invite.choose")}</option>
                  {invitable.map((a) => (
                    <option key={a} value={a}>
                      {a}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={t("invite.note")}>
              {(props) => <input {...props} value={note} maxLength={500} onInput={(e) => setNote(e.currentTarget.value)} />}
            </Field>
            <button type="submit" disabled={!invite}>
              {t("action.invite")}
            </button>
          </form>
        ) : null}
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (lead && lead !== incident.lead_agency) void setLead(incident.ref, lead);
          }}
        >
          <Field label={t("lead.agency")}>
            {(props) => (
              <select {...props} value={lead} onChange={(e) => setLeadValue(e.currentTarget.value)}>
                {incident.participating_agencies.map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <button type="submit" disabled={lead === incident.lead_agency}>
            {t("action.setLead")}
          </button>
        </form>
      </div>
      {[...invites, ...leads].map((item) => (
        <p key={item.id} class="outbox-line">
          {item.kind === "invite" ? t("invite.line", { agency: String(item.meta?.agency ?? "") }) : t("lead.line", { agency: String(item.meta?.agency ?? "") })}:{" "}
          <OutboxState item={item} />
        </p>
      ))}
    </section>
  );
}

