// /search: search the record (messages' current text, incident titles and
// descriptions, alert titles and bodies) over what the officer may read. The
// query lives in the URL (?q=), so a search is a link; each hit links to its row
// in the room, or an alert to its page (and to its incident, when it has one).

import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, api } from "../api/client";
import type { components } from "../api/schema";
import { zoneOf } from "../app/session";
import { Time } from "../components/Time";
import { t } from "../i18n";
import { hitPath, incidentPath, searchPath, splitSnippet } from "./highlight";

type Hit = components["schemas"]["SearchHitOut"];
type Page = components["schemas"]["SearchPageOut"];

const PAGE = 20;

const KIND_LABEL = {
  message: "search.kind.message",
  incident: "search.kind.incident",
  alert: "search.kind.alert",
} as const;

function HitTitle({ hit }: { hit: Hit }) {
  if (hit.kind === "alert") {
    return (
      <>
        <a href={hitPath(hit)}>
          {t("search.alertLabel", { id: String(hit.alert_id ?? "") })} · <bdi>{hit.alert_title}</bdi>
        </a>
        {hit.incident ? (
          <>
            {" "}
            (<a href={incidentPath(hit.incident)}>
              <bdi>{hit.incident}</bdi>
            </a>)
          </>
        ) : null}
      </>
    );
  }
  return (
    <a href={hitPath(hit)}>
      <bdi>{hit.incident}</bdi> · <bdi>{hit.incident_title}</bdi>
    </a>
  );
}

function Snippet({ hit }: { hit: Hit }) {
  const parts = splitSnippet(hit.snippet, hit.match);
  return (
    <p class="snippet" dir="auto">
      {parts.before}
      {parts.match ? <mark>{parts.match}</mark> : null}
      {parts.after}
    </p>
  );
}

export function Search() {
  const location = useLocation();
  const q = (location.query?.q ?? "").trim();
  const [draft, setDraft] = useState(q);
  const [hits, setHits] = useState<Hit[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [state, setState] = useState<"idle" | "loading" | "done" | "failed">("idle");
  const [problem, setProblem] = useState<string | null>(null);
  const generation = useRef(0);

  const fetchPage = async (text: string, before: string | null) => {
    const mine = ++generation.current;
    setState("loading");
    const params = new URLSearchParams({ q: text, limit: String(PAGE) });
    if (before) params.set("before", before);
    try {
      const page = await api<Page>("GET", `/search?${params.toString()}`);
      if (mine !== generation.current) return;
      setHits((old) => (before ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setProblem(null);
      setState("done");
    } catch (error) {
      if (mine !== generation.current) return;
      if (error instanceof ApiError && error.status === 422) {
        const mineField = error.errors.find((e) => e.loc.at(-1) === "q");
        setProblem(mineField ? mineField.msg : error.detail);
        setHits([]);
        setCursor(null);
        setState("idle");
        return;
      }
      setState("failed");
    }
  };

  // The box follows the URL when the query changes (a search, back, a link), never
  // on the first render: the effect runs after paint, and resetting the box then
  // threw away what the officer had already started typing.
  const shownQuery = useRef(q);
  useEffect(() => {
    if (shownQuery.current !== q) {
      shownQuery.current = q;
      setDraft(q);
    }
    setHits([]);
    setCursor(null);
    if (q) void fetchPage(q, null);
    else {
      generation.current++;
      setState("idle");
      setProblem(null);
    }
  }, [q]);

  const submit = (e: Event) => {
    e.preventDefault();
    const text = draft.trim();
    if (text === q && text) void fetchPage(text, null);
    else location.route(searchPath(text));
  };

  return (
    <section class="search" aria-labelledby="search-title">
      <h1 id="search-title">{t("search.title")}</h1>
      <form role="search" onSubmit={submit} class="search-form">
        <label for="search-q">{t("search.label")}</label>
        <input
          id="search-q"
          name="q"
          type="search"
          value={draft}
          maxLength={200}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? "search-q-e search-q-hint" : "search-q-hint"}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit">{t("search.submit")}</button>
        <p id="search-q-hint" class="hint">
          {t("search.hint")}
        </p>
        {problem ? (
          <p id="search-q-e" class="field-error" role="alert" data-testid="search-problem">
            {problem}
          </p>
        ) : null}
      </form>
      {state === "failed" ? (
        <p class="problem" role="alert">
          {t("search.failed")}
        </p>
      ) : null}
      {q && !problem && state !== "failed" ? (
        <div aria-live="polite" aria-busy={state === "loading"}>
          {state === "loading" && hits.length === 0 ? <p class="hint">{t("search.loading")}</p> : null}
          {state === "done" && hits.length === 0 ? (
            <p data-testid="search-empty">{t("search.noResults", { q })}</p>
          ) : null}
          {hits.length > 0 ? (
            <>
              <h2>{t("search.results", { q })}</h2>
              <ol class="search-results" data-testid="search-results">
                {hits.map((hit) => (
                  <li
                    key={hit.kind === "alert" ? `alert-${hit.alert_id}` : `${hit.kind}-${hit.incident}-${hit.seq}`}
                    data-testid="search-hit"
                    data-incident={hit.incident ?? undefined}
                    data-alert={hit.alert_id ?? undefined}
                    data-kind={hit.kind}
                  >
                    <HitTitle hit={hit} />{" "}
                    <span class="meta">
                      <bdi>{hit.crossing_point}</bdi> · {t(KIND_LABEL[hit.kind])} ·{" "}
                      <bdi>{t("search.by", { name: hit.actor.name, agency: hit.actor.agency })}</bdi> ·{" "}
                      <Time at={hit.at} tz={hit.timezone || zoneOf(hit.crossing_point)} />
                    </span>
                    <Snippet hit={hit} />
                  </li>
                ))}
              </ol>
            </>
          ) : null}
          {cursor ? (
            <button type="button" disabled={state === "loading"} onClick={() => void fetchPage(q, cursor)}>
              {t("search.more")}
            </button>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
