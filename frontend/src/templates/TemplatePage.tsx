// One SOP template (/templates/<CODE>, `?version=N` to read an older one):
// its items (position, title, guidance, the agency kind each goes to, the due
// offset, whether a note or a co-sign is required), every version (who, when,
// from where), and what changed between any two versions (`?from=&to=`).

import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError } from "../api/client";
import { me } from "../app/session";
import { Field } from "../components/Field";
import { Time } from "../components/Time";
import { errorText, label, t } from "../i18n";
import { getTemplate, getTemplateDiff, listTemplateVersions } from "./api";
import { dueText, fieldLabel, sourceText, valueText, viewerZone } from "./format";
import { isTemplateAdmin } from "./model";
import type { FieldChange, ItemSnapshot, Template, TemplateDiff, TemplateVersion } from "./model";
import { Publisher } from "./TemplatesList";

const enc = encodeURIComponent;

function whole(text: string | undefined): number | null {
  return text && /^[1-9]\d{0,8}$/.test(text) ? Number(text) : null;
}

function problemOf(error: unknown): string {
  return error instanceof ApiError ? errorText(error.code, error.detail) : t("error.network");
}

function aborted(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

export function TemplatePage({ code }: { code: string }) {
  const { query, route, path } = useLocation();
  const admin = isTemplateAdmin(me.value);
  const wanted = whole(query.version);
  const [template, setTemplate] = useState<Template | null>(null);
  const [versions, setVersions] = useState<TemplateVersion[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const tz = viewerZone();

  useEffect(() => heading.current?.focus(), [code]);
  useEffect(() => {
    const abort = new AbortController();
    setProblem(null);
    getTemplate(code, wanted, abort.signal)
      .then(setTemplate)
      .catch((error: unknown) => aborted(error) || setProblem(problemOf(error)));
    return () => abort.abort();
  }, [code, wanted]);
  useEffect(() => {
    const abort = new AbortController();
    listTemplateVersions(code, abort.signal)
      .then(setVersions)
      .catch((error: unknown) => aborted(error) || setVersions([]));
    return () => abort.abort();
  }, [code]);

  const current = versions?.find((v) => v.current)?.version ?? (template?.current ? template.version : null);
  const setQuery = (changes: Record<string, string | null>) => {
    const params = new URLSearchParams(location.search);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) params.delete(name);
      else params.set(name, value);
    }
    const search = params.toString();
    route(`${path}${search ? `?${search}` : ""}`, true);
  };

  return (
    <div class="template-page" data-testid="template-page">
      <header class="page-head">
        <p class="crumbs">
          <a href="/templates">{t("tpl.list.title")}</a>
        </p>
        <h1 tabIndex={-1} ref={heading} dir="auto" data-testid="template-heading">
          {template ? template.title : t("tpl.page.loading", { code })}
        </h1>
        {admin && template ? (
          <nav class="page-actions" aria-label={t("tpl.actions")}>
            <a class="button primary" href={`/templates/${enc(code)}/edit`} data-testid="template-edit">
              {t("tpl.newVersion")}
            </a>
          </nav>
        ) : null}
        {template ? (
          <dl class="facts">
            <div>
              <dt>{t("tpl.col.code")}</dt>
              <dd>
                <bdi>{template.code}</bdi>
              </dd>
            </div>
            <div>
              <dt>{t("tpl.col.version")}</dt>
              <dd>
                {template.version} {template.current ? <span class="badge status">{t("tpl.current")}</span> : <span class="badge">{t("tpl.notCurrent")}</span>}
              </dd>
            </div>
            <div>
              <dt>{t("tpl.col.source")}</dt>
              <dd>{sourceText(template.source)}</dd>
            </div>
            <div>
              <dt>{t("tpl.col.publishedBy")}</dt>
              <dd>
                <Publisher name={template.published_by?.name ?? null} agency={template.publisher_agency} />
              </dd>
            </div>
            <div>
              <dt>{t("tpl.col.when")}</dt>
              <dd>
                <Time at={template.published_at} tz={tz} relative />
              </dd>
            </div>
          </dl>
        ) : null}
      </header>
      {problem ? (
        <p class="problem" role="alert">
          {problem}
        </p>
      ) : null}
      {template === null && problem === null ? <p class="hint">{t("state.loading")}</p> : null}
      {template && !template.current ? (
        <p class="notice">
          {t("tpl.page.olderVersion", { version: template.version })}{" "}
          <a href={`/templates/${enc(code)}`} onClick={(e) => (e.preventDefault(), setQuery({ version: null }))}>
            {t("tpl.page.showCurrent")}
          </a>
        </p>
      ) : null}
      {template ? (
        <section class="panel" aria-labelledby="template-items-heading">
          <h2 id="template-items-heading">{t("tpl.page.items", { count: template.items.length, version: template.version })}</h2>
          {template.description ? (
            <p class="description" dir="auto">
              {template.description}
            </p>
          ) : null}
          <ItemList items={template.items} />
        </section>
      ) : null}
      <section class="panel" aria-labelledby="template-versions-heading">
        <h2 id="template-versions-heading">{t("tpl.page.history")}</h2>
        {versions === null ? <p class="hint">{t("state.loading")}</p> : null}
        {versions !== null && versions.length > 0 ? (
          <div class="table-scroll">
            <table class="start-tasks template-table" data-testid="template-versions">
              <thead>
                <tr>
                  <th scope="col">{t("tpl.col.version")}</th>
                  <th scope="col">{t("tpl.col.template")}</th>
                  <th scope="col">{t("tpl.col.publishedBy")}</th>
                  <th scope="col">{t("tpl.col.when")}</th>
                  <th scope="col">{t("tpl.col.source")}</th>
                  <th scope="col">{t("tpl.col.items")}</th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.version} aria-current={template?.version === v.version ? "true" : undefined}>
                    <td>
                      {template?.version === v.version ? (
                        <strong>{v.version}</strong>
                      ) : (
                        <a
                          href={`/templates/${enc(code)}?version=${v.version}`}
                          onClick={(e) => (e.preventDefault(), setQuery({ version: v.current ? null : String(v.version) }))}
                        >
                          {t("tpl.page.viewVersion", { version: v.version })}
                        </a>
                      )}{" "}
                      {v.current ? <span class="badge status">{t("tpl.current")}</span> : null}
                    </td>
                    <td dir="auto">{v.title}</td>
                    <td>
                      <Publisher name={v.published_by?.name ?? null} agency={v.publisher_agency} />
                    </td>
                    <td>
                      <Time at={v.published_at} tz={tz} />
                    </td>
                    <td>{sourceText(v.source)}</td>
                    <td>{v.items}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      {versions !== null && versions.length > 0 ? (
        <DiffPanel
          code={code}
          versions={versions.map((v) => v.version).sort((a, b) => a - b)}
          current={current}
          from={whole(query.from)}
          to={whole(query.to)}
          onPick={(from, to) => setQuery({ from: String(from), to: String(to) })}
        />
      ) : null}
    </div>
  );
}

/** A version's items in position order. */
export function ItemList({ items }: { items: readonly ItemSnapshot[] }) {
  return (
    <ol class="checklist" data-testid="template-items">
      {[...items]
        .sort((a, b) => a.position - b.position)
        .map((item) => (
          <li key={item.key} class="task" data-key={item.key}>
            <div class="task-head">
              <span class="task-title">
                <span class="position">{item.position}.</span> <span dir="auto">{item.title}</span>
              </span>
            </div>
            <p class="task-meta">
              <span>
                {t("tpl.item.goesTo")} {label("agencyKind", item.agency_kind)}
              </span>
              <span>{dueText(item.due_offset_minutes)}</span>
              {item.requires_note ? <span class="badge">{t("tpl.field.requiresNote")}</span> : null}
              {item.requires_cosign ? <span class="badge">{t("tpl.field.requiresCosign")}</span> : null}
            </p>
            {item.guidance ? (
              <p class="description" dir="auto">
                {item.guidance}
              </p>
            ) : null}
          </li>
        ))}
    </ol>
  );
}

function DiffPanel({
  code,
  versions,
  current,
  from: askedFrom,
  to: askedTo,
  onPick,
}: {
  code: string;
  versions: number[];
  current: number | null;
  from: number | null;
  to: number | null;
  onPick: (from: number, to: number) => void;
}) {
  const newest = current ?? versions[versions.length - 1] ?? 1;
  const to = askedTo !== null && versions.includes(askedTo) ? askedTo : newest;
  const fallbackFrom = [...versions].reverse().find((v) => v < to) ?? to;
  const from = askedFrom !== null && versions.includes(askedFrom) ? askedFrom : fallbackFrom;
  const [diff, setDiff] = useState<TemplateDiff | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    if (versions.length < 2) return;
    const abort = new AbortController();
    setProblem(null);
    getTemplateDiff(code, from, to, abort.signal)
      .then(setDiff)
      .catch((error: unknown) => aborted(error) || setProblem(problemOf(error)));
    return () => abort.abort();
  }, [code, from, to, versions.length]);

  if (versions.length < 2) {
    return (
      <section class="panel" aria-labelledby="template-diff-heading">
        <h2 id="template-diff-heading">{t("tpl.diff.title")}</h2>
        <p class="hint">{t("tpl.diff.onlyOne")}</p>
      </section>
    );
  }
  const shown = diff !== null && diff.from_version === from && diff.to_version === to ? diff : null;
  return (
    <section class="panel" aria-labelledby="template-diff-heading" data-testid="template-diff">
      <h2 id="template-diff-heading">{t("tpl.diff.title")}</h2>
      <form class="inline-form" onSubmit={(e) => e.preventDefault()} aria-label={t("tpl.diff.pick")}>
        <Field label={t("tpl.diff.from")}>
          {(props) => (
            <select {...props} value={String(from)} data-testid="diff-from" onChange={(e) => onPick(Number(e.currentTarget.value), to)}>
              {versions.map((v) => (
                <option key={v} value={String(v)}>
                  {t("tpl.versionN", { version: v })}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("tpl.diff.to")}>
          {(props) => (
            <select {...props} value={String(to)} data-testid="diff-to" onChange={(e) => onPick(from, Number(e.currentTarget.value))}>
              {versions.map((v) => (
                <option key={v} value={String(v)}>
                  {t("tpl.versionN", { version: v })}
                </option>
              ))}
            </select>
          )}
        </Field>
      </form>
      {problem ? (
        <p class="problem" role="alert">
          {problem}
        </p>
      ) : null}
      {shown === null && problem === null ? <p class="hint">{t("state.loading")}</p> : null}
      {shown ? <DiffView diff={shown} /> : null}
    </section>
  );
}

/** "old → new", the arrow following the text's direction, read as "changed to". */
function Change({ field, change }: { field: string; change: FieldChange }) {
  return (
    <span class="change">
      <del dir="auto">{valueText(field, change.old)}</del> <span aria-hidden="true">{t("tpl.diff.arrow")}</span>
      <span class="visually-hidden">{t("tpl.diff.changedTo")}</span> <ins dir="auto">{valueText(field, change.new)}</ins>
    </span>
  );
}

function ItemLine({ item }: { item: ItemSnapshot }) {
  return (
    <li data-key={item.key}>
      <span class="position">{item.position}.</span> <span dir="auto">{item.title}</span>{" "}
      <span class="hint">
        ({label("agencyKind", item.agency_kind)}, {dueText(item.due_offset_minutes)}
        {item.requires_note ? `, ${t("tpl.field.requiresNote")}` : ""}
        {item.requires_cosign ? `, ${t("tpl.field.requiresCosign")}` : ""})
      </span>
    </li>
  );
}

export function DiffView({ diff }: { diff: TemplateDiff }) {
  const fieldNames = Object.keys(diff.fields);
  const nothing = fieldNames.length === 0 && diff.items_added.length === 0 && diff.items_removed.length === 0 && diff.items_changed.length === 0;
  return (
    <div class="template-diff" data-testid="diff-view">
      <p class="meta">{t("tpl.diff.summary", { from: diff.from_version, to: diff.to_version, unchanged: diff.items_unchanged })}</p>
      {nothing ? <p class="hint">{t("tpl.diff.none")}</p> : null}
      {fieldNames.length > 0 ? (
        <>
          <h3>{t("tpl.diff.fields")}</h3>
          <ul class="versions" data-testid="diff-fields">
            {fieldNames.map((name) => (
              <li key={name}>
                {fieldLabel(name)}: <Change field={name} change={diff.fields[name] as FieldChange} />
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {diff.items_added.length > 0 ? (
        <>
          <h3>{t("tpl.diff.added", { count: diff.items_added.length })}</h3>
          <ul class="versions" data-testid="diff-added">
            {diff.items_added.map((item) => (
              <ItemLine key={item.key} item={item} />
            ))}
          </ul>
        </>
      ) : null}
      {diff.items_removed.length > 0 ? (
        <>
          <h3>{t("tpl.diff.removed", { count: diff.items_removed.length })}</h3>
          <ul class="versions" data-testid="diff-removed">
            {diff.items_removed.map((item) => (
              <ItemLine key={item.key} item={item} />
            ))}
          </ul>
        </>
      ) : null}
      {diff.items_changed.length > 0 ? (
        <>
          <h3>{t("tpl.diff.changed", { count: diff.items_changed.length })}</h3>
          <ul class="versions" data-testid="diff-changed">
            {diff.items_changed.map((item) => (
              <li key={item.key} data-key={item.key}>
                <span class="position">{item.position}.</span> <span dir="auto">{item.title}</span>
                <ul>
                  {Object.entries(item.changes).map(([name, change]) => (
                    <li key={name}>
                      {fieldLabel(name)}: <Change field={name} change={change} />
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}
