// The crossing-point board (/points/<CODE>): count cards that are also
// filters, the live incident list, the alerts panel with acknowledgement
// grids, and who is online at the point, by agency.

import { useComputed, useSignal, useSignalEffect } from "@preact/signals";
import { useEffect, useMemo, useRef } from "preact/hooks";
import { lazy, useLocation } from "preact-iso";
import { AlertCard } from "../alerts/AlertCard";
import { isLive, owedBy, standing } from "../alerts/store";
import { announce, attention } from "../app/attention";
import { agenciesAt, hasRoleAt, me, pointInfo, session, zoneOf } from "../app/session";
import { AgencyChip, Name } from "../components/Agency";
import { SeverityBadge, StatusBadge } from "../components/Badges";
import { now } from "../components/clock";
import { Time } from "../components/Time";
import { errorText, label, loadOperationMessages, t } from "../i18n";
import { formatTime, zoneOffsetLabel } from "../i18n/time";
import { isOpen, unreadCount } from "../incidents/state";
import type { IncidentState } from "../incidents/state";
import { SitrepDue } from "../incidents/SitrepPanel";
import { BoardStore } from "./store";

export const STATUSES = ["reported", "triaged", "active", "resolved", "closed"];
export const CATEGORIES = [
  "trafficking_in_persons",
  "migrant_smuggling",
  "document_fraud",
  "contraband",
  "irregular_crossing",
  "vessel_interdiction",
  "security_threat",
  "health",
  "other",
];
export const SEVERITIES = ["low", "medium", "high", "critical"];

type Card = "open" | "owed" | "overdue" | "unread";

// Coordinators get more on their board; the code for it loads only for them.
const Coordination = lazy(() => loadOperationMessages().then(() => import("./Coordination")).then((m) => m.Coordination));

export function Board({ code }: { code: string }) {
  const { query, route, path } = useLocation();
  const point = pointInfo(code);
  const user = me.value;
  const mine = agenciesAt(user, code);
  const offline = session.value.kind === "signed-in" && session.value.offline;
  const tz = zoneOf(code);
  const store = useMemo(() => new BoardStore(code), [code]);
  const card = (query.view as Card | undefined) ?? "open";
  const filters = {
    status: query.status ?? "",
    category: query.category ?? "",
    severity: query.severity ?? "",
    agency: query.agency ?? "",
    q: query.q ?? "",
  };
  const text = useSignal(filters.q);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, [code]);

  useEffect(() => {
    store.onAlertChange = (applied, alert) => {
      if (alert === undefined) return;
      const owes = owedBy(alert, agenciesAt(me.peek(), code), Date.now()).length > 0;
      if (applied.change === "issued") {
        const text = t("announce.alertIssued", { severity: label("severity", alert.severity), title: alert.title });
        announce(text, alert.severity === "critical");
        if (owes) attention(t("notify.alertTitle", { point: code }), alert.title, `/alerts/${alert.id}`);
      } else if (applied.change === "acknowledged" && applied.agency) {
        announce(t("announce.alertAcknowledged", { agency: applied.agency, title: alert.title }));
      } else if (applied.change === "escalated" && owes) {
        announce(t("announce.alertOverdue", { title: alert.title }), true);
      } else if (applied.change === "cancelled") {
        announce(t("announce.alertCancelled", { title: alert.title }));
      }
    };
    store.onNewIncident = (incident) => {
      announce(t("announce.incidentReported", { ref: incident.ref, title: incident.title }));
    };
    if (offline) {
      void store.startOffline();
    } else {
      void store.start({ status: filters.status, category: filters.category, severity: filters.severity, agency: filters.agency, q: filters.q });
    }
    return () => store.stop();
  }, [store, offline]);

  // Server-side filters: reload the list when they change.
  const serverKey = `${filters.status}|${filters.category}|${filters.severity}|${filters.agency}|${filters.q}`;
  const firstKey = useRef(serverKey);
  useEffect(() => {
    if (serverKey === firstKey.current || offline) return;
    firstKey.current = serverKey;
    void store.setQuery({ ...filters });
  }, [serverKey]);

  const setParam = (name: string, value: string) => {
    const params = new URLSearchParams(query as Record<string, string>);
    if (value) params.set(name, value);
    else params.delete(name);
    const qs = params.toString();
    route(`${path}${qs ? `?${qs}` : ""}`, true);
  };

  // Typing in the search box filters after a pause, not on every key.
  useSignalEffect(() => {
    const value = text.value;
    const timer = setTimeout(() => {
      if (value !== (new URLSearchParams(location.search).get("q") ?? "")) setParam("q", value.trim());
    }, 350);
    return () => clearTimeout(timer);
  });

  const incidents = useComputed(() => [...store.incidents.value.values()]);
  const current = now.value;
  const all = incidents.value;
  const alerts = (store.alertsVersion.value, store.alerts.visible(current, (a) => agenciesAt(me.peek(), a.crossingPoint)));
  const owedAlerts = alerts.filter((a) => owedBy(a, mine, current).length > 0);
  const overdueAlerts = alerts.filter((a) => isLive(a, current) && a.targets.some((tg) => standing(a, tg, current) === "overdue"));
  const openCount = all.filter(isOpen).length;
  const unreadIncidents = all.filter((i) => unreadCount(i) > 0);

  let shownIncidents: IncidentState[] = all;
  if (card === "open" && !filters.status) shownIncidents = all.filter(isOpen);
  if (card === "unread") shownIncidents = unreadIncidents;
  shownIncidents = [...shownIncidents].sort((a, b) => (b.updated_at > a.updated_at ? 1 : b.updated_at < a.updated_at ? -1 : 0));
  let shownAlerts = alerts;
  if (card === "owed") shownAlerts = owedAlerts;
  if (card === "overdue") shownAlerts = overdueAlerts;

  const cards: { id: Card; label: string; count: number }[] = [
    { id: "open", label: t("board.card.open"), count: openCount },
    { id: "owed", label: t("board.card.owed"), count: owedAlerts.length },
    { id: "overdue", label: t("board.card.overdue"), count: overdueAlerts.length },
    { id: "unread", label: t("board.card.unread"), count: unreadIncidents.length },
  ];
  const agencies = point?.agencies.map((a) => a.agency) ?? [];
  const stale = store.staleSince.value;

  return (
    <div class="board" data-testid="board">
      <header class="page-head">
        <h1 tabIndex={-1} ref={heading}>
          {t("board.title", { point: point?.name ?? code })}
        </h1>
        <p class="meta">
          <bdi>{code}</bdi> · {t("board.zone", { zone: tz, offset: zoneOffsetLabel(tz) })}
        </p>
        {!offline ? (
          <nav class="page-actions" aria-label={t("board.actions")}>
            <a class="button primary" href={`/report?point=${code}`}>
              {t("action.reportIncident")}
            </a>
            <a class="button" href={`/points/${code}/alerts/new`}>
              {t("action.issueAlert")}
            </a>
            <a class="button" href={`/points/${code}/operations`}>
              {t("nav.operations")}
            </a>
          </nav>
        ) : null}
      </header>
      {stale !== null ? (
        <p class="stale" role="status" data-testid="stale">
          {t("offline.readOnly", { time: formatTime(stale, tz) })}
        </p>
      ) : null}
      {store.problem.value ? (
        <p class="problem" role="alert">
          {errorText(store.problem.value, t("board.loadFailed"))}
        </p>
      ) : null}
      <ul class="cards" aria-label={t("board.cards")}>
        {cards.map((c) => (
          <li key={c.id}>
            <button
              type="button"
              class={`count-card card-${c.id}`}
              aria-pressed={card === c.id}
              data-testid={`card-${c.id}`}
              onClick={() => setParam("view", card === c.id ? "all" : c.id)}
            >
              <span class="count">{c.count}</span>
              <span class="card-label">{c.label}</span>
            </button>
          </li>
        ))}
      </ul>
      {!offline && hasRoleAt(user, code, "coordinator") ? <Coordination code={code} alerts={alerts} incidents={all} /> : null}
      <div class="board-grid">
        <section class="panel incidents-panel" aria-labelledby="incidents-heading">
          <h2 id="incidents-heading">{t("board.incidents")}</h2>
          <form class="filters" role="search" aria-label={t("board.filters")} onSubmit={(e) => e.preventDefault()}>
            <label>
              {t("filter.status")}
              <select value={filters.status} onChange={(e) => setParam("status", e.currentTarget.value)}>
                <option value="">{t("filter.any")}</option>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {label("status", s)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t("filter.category")}
              <select value={filters.category} onChange={(e) => setParam("category", e.currentTarget.value)}>
                <option value="">{t("filter.any")}</option>
                {CATEGORIES.map((c) => (
                  <option key={c} value={c}>
                    {label("category", c)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t("filter.severity")}
              <select value={filters.severity} onChange={(e) => setParam("severity", e.currentTarget.value)}>
                <option value="">{t("filter.any")}</option>
                {SEVERITIES.map((s) => (
                  <option key={s} value={s}>
                    {label("severity", s)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t("filter.agency")}
              <select value={filters.agency} onChange={(e) => setParam("agency", e.currentTarget.value)}>
                <option value="">{t("filter.any")}</option>
                {agencies.map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
            </label>
            <label class="grow">
              {t("filter.text")}
              <input type="search" value={text.value} maxLength={100} onInput={(e) => (text.value = e.currentTarget.value)} />
            </label>
          </form>
          <p class="count-line" aria-live="polite">
            {t("board.showing", { shown: shownIncidents.length, total: all.length })}
          </p>
          {store.loading.value ? <p class="hint">{t("state.loading")}</p> : null}
          <ul class="incident-list" data-testid="incidents">
            {shownIncidents.length === 0 && !store.loading.value ? <li class="hint">{t("board.noIncidents")}</li> : null}
            {shownIncidents.map((incident) => (
              <IncidentRow key={incident.ref} incident={incident} tz={tz} />
            ))}
          </ul>
        </section>
        <section class="panel alerts-panel" aria-labelledby="alerts-heading">
          <h2 id="alerts-heading">{t("board.alerts")}</h2>
          <div class="alert-list" data-testid="alerts">
            {shownAlerts.length === 0 ? <p class="hint">{t("board.noAlerts")}</p> : null}
            {shownAlerts.map((alert) => (
              <AlertCard key={alert.id} alert={alert} mine={mine} tz={tz} />
            ))}
          </div>
        </section>
        <section class="panel online-panel" aria-labelledby="online-heading">
          <h2 id="online-heading">{t("board.online")}</h2>
          <Online online={store.presence.value} />
        </section>
      </div>
    </div>
  );
}

function IncidentRow({ incident, tz }: { incident: IncidentState; tz: string }) {
  const unread = unreadCount(incident);
  return (
    <li class={`incident-row severity-${incident.severity}${unread ? " unread" : ""}`} data-ref={incident.ref} data-testid="incident-row">
      <a href={`/incidents/${incident.ref}`} class="incident-link">
        <span class="ref">
          <bdi>{incident.ref}</bdi>
        </span>
        <span class="title" dir="auto">
          {incident.title}
        </span>
      </a>
      <span class="row-meta">
        <SeverityBadge severity={incident.severity} /> <StatusBadge status={incident.status} /> <span>{label("category", incident.category)}</span> ·{" "}
        {t("incident.lead")} <AgencyChip code={incident.lead_agency} /> · <Time at={incident.updated_at} tz={tz} relative />
      </span>
      <SitrepDue state={incident.sitrep} />
      {unread > 0 ? (
        <span class="unread-badge" data-testid="unread">
          {t("board.unread", { count: unread })}
        </span>
      ) : null}
    </li>
  );
}

export function Online({ online }: { online: Record<string, { user: string; name: string }[]> }) {
  const agencies = Object.keys(online).sort();
  if (agencies.length === 0) return <p class="hint">{t("board.nobodyOnline")}</p>;
  return (
    <ul class="online" data-testid="presence">
      {agencies.map((agency) => (
        <li key={agency}>
          <AgencyChip code={agency} />{" "}
          {(online[agency] ?? []).map((u, i) => (
            <span key={u.user}>
              {i > 0 ? ", " : ""}
              <Name>{u.name}</Name>
            </span>
          ))}
        </li>
      ))}
    </ul>
  );
}
