// SOP templates (/templates): the current version of each, where it came from
// (an administrator in the browser, or code through load_sops), who published
// it and when, and how many items it has. Every officer reads them;
// administrators also see "New template" and "New version".

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { me } from "../app/session";
import { AgencyChip } from "../components/Agency";
import { Time } from "../components/Time";
import { errorText, t } from "../i18n";
import { listTemplates } from "./api";
import { sourceText, viewerZone } from "./format";
import { isTemplateAdmin } from "./model";
import type { Template } from "./model";

const enc = encodeURIComponent;

export function TemplatesList() {
  const admin = isTemplateAdmin(me.value);
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const tz = viewerZone();

  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    const abort = new AbortController();
    listTemplates(abort.signal)
      .then((list) => setTemplates([...list].sort((a, b) => a.title.localeCompare(b.title))))
      .catch((error: unknown) => {
        if (error instanceof DOMException && error.name === "AbortError") return;
        setProblem(error instanceof ApiError ? errorText(error.code, error.detail) : t("error.network"));
      });
    return () => abort.abort();
  }, []);

  return (
    <section class="templates" aria-labelledby="templates-heading" data-testid="templates">
      <header class="page-head">
        <h1 id="templates-heading" tabIndex={-1} ref={heading}>
          {t("tpl.list.title")}
        </h1>
        {admin ? (
          <nav class="page-actions" aria-label={t("tpl.actions")}>
            <a class="button primary" href="/templates/new" data-testid="template-new">
              {t("tpl.new")}
            </a>
          </nav>
        ) : null}
        <p class="meta">{t("tpl.list.intro")}</p>
      </header>
      {problem ? (
        <p class="problem" role="alert">
          {problem}
        </p>
      ) : null}
      {templates === null && problem === null ? <p class="hint">{t("state.loading")}</p> : null}
      {templates !== null && templates.length === 0 ? <p class="hint">{t("tpl.list.none")}</p> : null}
      {templates !== null && templates.length > 0 ? (
        <div class="panel table-scroll">
          <table class="start-tasks template-table" data-testid="template-table">
            <caption class="visually-hidden">{t("tpl.list.caption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("tpl.col.template")}</th>
                <th scope="col">{t("tpl.col.code")}</th>
                <th scope="col">{t("tpl.col.version")}</th>
                <th scope="col">{t("tpl.col.source")}</th>
                <th scope="col">{t("tpl.col.publishedBy")}</th>
                <th scope="col">{t("tpl.col.when")}</th>
                <th scope="col">{t("tpl.col.items")}</th>
                {admin ? <th scope="col">{t("tpl.col.actions")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {templates.map((tpl) => (
                <tr key={tpl.code} data-code={tpl.code} data-testid="template-row">
                  <td>
                    <a href={`/templates/${enc(tpl.code)}`} dir="auto">
                      {tpl.title}
                    </a>
                  </td>
                  <td>
                    <bdi>{tpl.code}</bdi>
                  </td>
                  <td>{tpl.version}</td>
                  <td>{sourceText(tpl.source)}</td>
                  <td>
                    <Publisher name={tpl.published_by?.name ?? null} agency={tpl.publisher_agency} />
                  </td>
                  <td>
                    <Time at={tpl.published_at} tz={tz} />
                  </td>
                  <td>{tpl.items.length}</td>
                  {admin ? (
                    <td>
                      <a href={`/templates/${enc(tpl.code)}/edit`} data-testid="template-new-version">
                        {t("tpl.newVersion")}
                        <span class="visually-hidden"> ({tpl.title})</span>
                      </a>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/** Who published a version: an administrator (with their agency), or code. */
export function Publisher({ name, agency }: { name: string | null; agency: string | null }) {
  if (name === null) return <span class="hint">{t("tpl.publishedByCode")}</span>;
  return (
    <>
      <bdi class="name">{name}</bdi>
      {agency ? (
        <>
          {" "}
          <AgencyChip code={agency} />
        </>
      ) : null}
    </>
  );
}
