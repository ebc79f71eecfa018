// The app shell: the top bar (where am I, connection, language, settings, who
// am I), the aria-live regions, and the router. Screens for coordinators and
// senior officials load lazily (parts 2 and 3 add them under their paths).

import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBoundary, lazy, LocationProvider, Route, Router, useLocation } from "preact-iso";
import type { Me } from "../api/types";
import { Board } from "../board/Board";
import { loadMetricsMessages, loadOperationMessages, loadReviewMessages, loadTemplateMessages, LOCALES, locale, setLocale, t } from "../i18n";
import { onFrame } from "../realtime/live";
import {
  announce,
  assertiveAnnouncement,
  attention,
  disableNotifications,
  enableNotifications,
  notificationsEnabled,
  notificationSupport,
  politeAnnouncement,
} from "./attention";
import { ConnectionBadge } from "./ConnectionBadge";
import { Home } from "./Home";
import { NotFound } from "./NotFound";
import { parseRoute, pointOfRoute } from "./routes";
import { me, pointsServed, session, setNavigator, signOutNow, zoneOf } from "./session";
import { SignIn } from "./SignIn";

// Forms and single-alert pages load on first use (the service worker precaches
// them, so they open offline too); the board and the room are in the first load.
// The incident room (chat, evidence files, checklists) loads on first use; the
// service worker precaches it with the rest of the build, so it opens offline too.
const Room = lazy(() => import("../incidents/Room").then((m) => m.Room));
const ReportForm = lazy(() => import("../incidents/ReportForm").then((m) => m.ReportForm));
const IssueAlert = lazy(() => import("../alerts/IssueAlert").then((m) => m.IssueAlert));
const AlertPage = lazy(() => import("../alerts/AlertPage").then((m) => m.AlertPage));
// Coordinators' screens (part 2).
const OperationPage = lazy(() => loadOperationMessages().then(() => import("../operations/OperationPage")).then((m) => m.OperationPage));
const OperationsList = lazy(() => loadOperationMessages().then(() => import("../operations/OperationsList")).then((m) => m.OperationsList));
// SOP templates (administrators write them; everyone reads them).
const TemplatesList = lazy(() => loadTemplateMessages().then(() => import("../templates/TemplatesList")).then((m) => m.TemplatesList));
const TemplatePage = lazy(() => loadTemplateMessages().then(() => import("../templates/TemplatePage")).then((m) => m.TemplatePage));
const Review = lazy(() => loadReviewMessages().then(() => import("../review/Review")).then((m) => m.Review));
const Search = lazy(() => loadReviewMessages().then(() => import("../search/Search")).then((m) => m.Search));
// Response metrics (uPlot loads with this page only).
const MetricsPage = lazy(() => loadMetricsMessages().then(() => import("../metrics/Metrics")).then((m) => m.Metrics));
const TemplateEditor = lazy(() => loadTemplateMessages().then(() => import("../templates/TemplateEditor")).then((m) => m.TemplateEditor));

// Stable components per route (an inline arrow would remount on every render).
const BoardRoute = ({ code }: { code: string }) => <Board code={code} />;
const IssueAlertRoute = ({ code }: { code: string }) => <IssueAlert code={code} />;
const RoomRoute = ({ ref }: { ref: string }) => <Room ref={ref} />;
const ReviewRoute = ({ ref }: { ref: string }) => <Review ref={ref} />;
const AlertRoute = ({ id }: { id: string }) => <AlertPage id={id} />;
const OperationRoute = ({ ref }: { ref: string }) => <OperationPage ref={ref} />;
const OperationsRoute = ({ code }: { code: string }) => <OperationsList code={code} />;
const TemplateRoute = ({ code }: { code: string }) => <TemplatePage code={code} />;
const TemplateEditRoute = ({ code }: { code: string }) => <TemplateEditor code={code} />;
const TemplateNewRoute = () => <TemplateEditor code={null} />;
const MetricsRoute = ({ code }: { code: string }) => <MetricsPage code={code} />;
const AllMetricsRoute = () => <MetricsPage code={null} />;
const Unknown = () => <NotFound />;

function currentPoint(path: string): string | null {
  const named = pointOfRoute(parseRoute(`${path}${location.search}`));
  if (named) return named;
  const served = pointsServed(me.value);
  return served.length === 1 ? (served[0] ?? null) : null;
}

/** The metrics of the point in view when the officer reads them there, else of all their points. */
function metricsLink(user: Me, point: string | null): string {
  const reads = point !== null && user.memberships.some((m) => (m.role === "senior_official" || m.role === "coordinator") && m.crossing_points.includes(point));
  return reads ? `/points/${point}/metrics` : "/metrics";
}

function Settings() {
  const [open, setOpen] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <div class="menu">
      <button type="button" aria-expanded={open} aria-controls="settings-menu" onClick={() => setOpen(!open)}>
        {t("settings.title")}
      </button>
      <div id="settings-menu" class="menu-panel" hidden={!open}>
        {notificationSupport.value ? (
          notificationsEnabled.value ? (
            <button type="button" onClick={() => disableNotifications()}>
              {t("settings.notificationsOff")}
            </button>
          ) : (
            <button
              type="button"
              onClick={() =>
                void enableNotifications().then((on) => setProblem(on ? null : t("settings.notificationsDenied")))
              }
            >
              {t("settings.notificationsOn")}
            </button>
          )
        ) : (
          <p class="hint">{t("settings.notificationsUnsupported")}</p>
        )}
        {problem ? <p class="field-error">{problem}</p> : null}
        <p>
          <a href="/api/v1/docs">{t("settings.apiDocs")}</a>
        </p>
      </div>
    </div>
  );
}

function LanguageSelect() {
  return (
    <label class="language">
      {t("settings.language")}{" "}
      <select value={locale.value} onChange={(e) => void setLocale(e.currentTarget.value)}>
        {LOCALES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.name}
          </option>
        ))}
      </select>
    </label>
  );
}

function TopBar() {
  const { path } = useLocation();
  const user = me.value;
  const point = currentPoint(path);
  const served = pointsServed(user);
  return (
    <header class="top-bar">
      <a class="skip" href="#main">
        {t("app.skip")}
      </a>
      <a class="brand" href="/">
        {t("app.title")}
      </a>
      {user ? (
        <nav aria-label={t("nav.main")}>
          <ul class="nav">
            {served.map((code) => (
              <li key={code}>
                <a href={`/points/${code}`} aria-current={path.startsWith(`/points/${code}`) ? "page" : undefined}>
                  <bdi>{code}</bdi>
                </a>
              </li>
            ))}
            <li>
              <a href={point ? `/report?point=${point}` : "/report"} aria-current={path === "/report" ? "page" : undefined}>
                {t("action.reportIncident")}
              </a>
            </li>
            <li>
              <a href="/search" aria-current={path === "/search" ? "page" : undefined}>
                {t("nav.search")}
              </a>
            </li>
            {user.memberships.some((m) => m.role === "senior_official" || m.role === "coordinator") ? (
              <li>
                <a href={metricsLink(user, point)} aria-current={path.endsWith("/metrics") ? "page" : undefined} data-testid="nav-metrics">
                  {t("nav.metrics")}
                </a>
              </li>
            ) : null}
            {user.memberships.some((m) => m.role === "coordinator" || m.role === "admin") ? (
              <li>
                <a href="/templates" aria-current={path.startsWith("/templates") ? "page" : undefined}>
                  {t("nav.templates")}
                </a>
              </li>
            ) : null}
          </ul>
        </nav>
      ) : null}
      <div class="bar-end">
        {user ? <ConnectionBadge tz={zoneOf(point)} /> : null}
        <LanguageSelect />
        {user ? <Settings /> : null}
        {user ? (
          <span class="who">
            <bdi data-testid="me">{user.name}</bdi>{" "}
            <button type="button" class="link" data-testid="sign-out" onClick={() => void signOutNow()}>
              {t("action.signOut")}
            </button>
          </span>
        ) : null}
      </div>
    </header>
  );
}

function Routes() {
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  useEffect(() => setNavigator((p) => location.route(p)), [location]);
  useEffect(() => {
    // Mentions and the like reach the officer wherever they are.
    return onFrame((frame) => {
      if (frame.type === "notice" && frame.kind === "mention") {
        const by = (frame.by ?? {}) as { name?: string; agency?: string };
        const text = t("announce.mention", { name: by.name ?? "", ref: String(frame.ref ?? ""), excerpt: String(frame.excerpt ?? "") });
        announce(text);
        // A situation report's needs on an operation come from operation:<REF>.
        const where = String(frame.stream ?? "").startsWith("operation:") ? "operations" : "incidents";
        attention(t("notify.mentionTitle", { ref: String(frame.ref ?? "") }), String(frame.excerpt ?? ""), `/${where}/${String(frame.ref ?? "")}`);
      }
    });
  }, []);
  const state = session.value;
  if (state.kind === "loading") {
    return <p class="hint">{t("state.loading")}</p>;
  }
  if (state.kind === "signed-out") {
    return (
      <main id="main" ref={main} tabIndex={-1}>
        <SignIn />
      </main>
    );
  }
  return (
    <main id="main" ref={main} tabIndex={-1}>
      <ErrorBoundary>
        <Router>
          <Route path="/" component={Home} />
          <Route path="/signin" component={SignIn} />
          <Route path="/points/:code" component={BoardRoute} />
          <Route path="/points/:code/alerts/new" component={IssueAlertRoute} />
          <Route path="/incidents/:ref" component={RoomRoute} />
          <Route path="/incidents/:ref/review" component={ReviewRoute} />
          <Route path="/alerts/:id" component={AlertRoute} />
          <Route path="/points/:code/operations" component={OperationsRoute} />
          <Route path="/operations/:ref" component={OperationRoute} />
          <Route path="/templates" component={TemplatesList} />
          <Route path="/templates/new" component={TemplateNewRoute} />
          <Route path="/templates/:code" component={TemplateRoute} />
          <Route path="/templates/:code/edit" component={TemplateEditRoute} />
          <Route path="/report" component={ReportForm} />
          <Route path="/search" component={Search} />
          <Route path="/points/:code/metrics" component={MetricsRoute} />
          <Route path="/metrics" component={AllMetricsRoute} />
          <Route default component={Unknown} />
        </Router>
      </ErrorBoundary>
    </main>
  );
}

export function App() {
  return (
    <LocationProvider>
      <TopBar />
      <Routes />
      <div class="visually-hidden" aria-live="polite" data-testid="announce">
        {politeAnnouncement.value}
      </div>
      <div class="visually-hidden" aria-live="assertive" data-testid="announce-assertive">
        {assertiveAnnouncement.value}
      </div>
    </LocationProvider>
  );
}
