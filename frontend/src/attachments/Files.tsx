// Evidence files on screen: thumbnails in the timeline, the files an officer
// has picked before sending, the viewer (zoom, details, hash, "download
// original" for those allowed, withdraw), and the list with hashes.
//
// Pictures are the hub's derivatives (re-encoded, no location or camera
// details). The original is a plain link, shown only to those the hub lets
// download it; each download is recorded on the incident.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { me } from "../app/session";
import { withdrawAttachment } from "../app/writes";
import { AgencyChip, Name } from "../components/Agency";
import { Dialog } from "../components/Dialog";
import { Time } from "../components/Time";
import { locale, t } from "../i18n";
import type { OutboxFile } from "../realtime/outbox";
import { attachmentUrl, mayDownloadOriginal, mayWithdraw, picture } from "./store";
import type { AttachmentMeta } from "./store";
import { newClientMsgId } from "../realtime/ids";
import { fileProblem, formatSize, isImage, MAX_FILE_BYTES, sniffType } from "./upload";
import type { FileProblem } from "./upload";

/** A file picked in the browser, before it goes into the outbox with its message. */
export interface PickedFile extends OutboxFile {
  problem: FileProblem | null;
}

/** Read files the officer picked, dropped or pasted: their bytes, their type by content, and why one cannot go. */
export async function readPicked(list: Iterable<File>): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  for (const file of list) {
    const data = await file.arrayBuffer();
    const type = sniffType(new Uint8Array(data, 0, Math.min(16, data.byteLength)));
    out.push({
      id: newClientMsgId(),
      name: file.name || t("files.pasted"),
      type: type ?? (file.type || "application/octet-stream"),
      size: file.size,
      data,
      problem: fileProblem(file.size, type),
    });
  }
  return out;
}

/** The picked files as they travel (without the browser's verdict). */
export function toOutboxFiles(files: readonly PickedFile[]): OutboxFile[] {
  return files.map(({ problem: _checked, ...file }) => file);
}

export function problemText(problem: FileProblem): string {
  switch (problem) {
    case "type":
      return t("files.problem.type");
    case "size":
      return t("files.problem.size", { max: formatSize(MAX_FILE_BYTES, locale.value) });
    case "empty":
      return t("files.problem.empty");
  }
}

function Picture({ url, alt, class: cls }: { url: string; alt: string; class?: string }) {
  const state = picture(url).value;
  if (state.status === "ready") return <img src={state.url} alt={alt} class={cls} data-testid="picture" />;
  return (
    <span class={`picture-placeholder ${cls ?? ""}`} data-testid="picture-placeholder" data-state={state.status}>
      {state.status === "none" ? t("files.noPreview") : t("files.preparing")}
    </span>
  );
}

/** One file in a row of the timeline: its thumbnail (or a PDF/withdrawn card); opens the viewer. */
export function FileThumb({ incident, meta, onOpen }: { incident: string; meta: AttachmentMeta | undefined; id: number; onOpen: () => void }) {
  if (meta === undefined) {
    return <span class="file-card pending">{t("state.loading")}</span>;
  }
  if (meta.withdrawn) {
    return (
      <span class="file-card withdrawn" data-testid="file-withdrawn">
        {t("files.withdrawnShort", { name: meta.filename })}
      </span>
    );
  }
  return (
    <button type="button" class="file-card" onClick={onOpen} data-testid="file-thumb" data-attachment-id={meta.id} aria-label={t("files.open", { name: meta.filename })}>
      <Picture url={attachmentUrl(incident, meta.id, "thumbnail")} alt="" class="thumb" />
      <span class="file-name">
        <bdi>{meta.filename}</bdi>
      </span>
      <span class="file-size">
        {isImage(meta.content_type) ? "" : `${t("files.pdf")} · `}
        <Size bytes={meta.size} />
      </span>
    </button>
  );
}

export function FileRow({
  incident,
  ids,
  files,
  point,
  lead,
  tz,
}: {
  incident: string;
  ids: readonly number[];
  files: ReadonlyMap<number, AttachmentMeta>;
  point: string;
  lead: string | null;
  tz: string;
}) {
  const [open, setOpen] = useState<number | null>(null);
  if (ids.length === 0) return null;
  const shown = open === null ? undefined : files.get(open);
  return (
    <>
      <ul class="file-row" aria-label={t("files.count", { count: ids.length })}>
        {ids.map((id) => (
          <li key={id}>
            <FileThumb incident={incident} id={id} meta={files.get(id)} onOpen={() => setOpen(id)} />
          </li>
        ))}
      </ul>
      {shown ? <Viewer incident={incident} meta={shown} point={point} lead={lead} tz={tz} onClose={() => setOpen(null)} /> : null}
    </>
  );
}

const ZOOMS = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4];

/** The viewer: the view image with zoom, the file's details and hash, and what the officer may do with it. */
export function Viewer({ incident, meta, point, lead, tz, onClose }: { incident: string; meta: AttachmentMeta; point: string; lead: string | null; tz: string; onClose: () => void }) {
  const user = me.value;
  const memberships = user?.memberships ?? [];
  const [zoom, setZoom] = useState<number | null>(null); // null: fit
  const [natural, setNatural] = useState(0);
  const [withdrawing, setWithdrawing] = useState(false);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const frame = useRef<HTMLDivElement>(null);
  const original = mayDownloadOriginal(memberships, point, lead);
  const canWithdraw = !meta.withdrawn && mayWithdraw(memberships, point, lead, meta.uploaded_by.username, user?.username ?? "");
  const view = picture(attachmentUrl(incident, meta.id, "view")).value;

  const step = (direction: 1 | -1) => {
    const current = zoom ?? fitZoom(frame.current, natural);
    const next = direction > 0 ? ZOOMS.find((z) => z > current + 0.001) : [...ZOOMS].reverse().find((z) => z < current - 0.001);
    setZoom(next ?? current);
  };
  useEffect(() => setCopied(false), [meta.id]);

  const onKey = (e: KeyboardEvent) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
    if (e.key === "+" || e.key === "=") (e.preventDefault(), step(1));
    else if (e.key === "-") (e.preventDefault(), step(-1));
    else if (e.key === "0") (e.preventDefault(), setZoom(null));
  };

  return (
    <Dialog title={meta.filename} open={true} onClose={onClose}>
      <div class="viewer" onKeyDown={onKey} data-testid="viewer">
        <div class="viewer-tools" role="group" aria-label={t("files.zoom")}>
          <button type="button" onClick={() => step(-1)} aria-label={t("files.zoomOut")}>
            −
          </button>
          <output aria-live="polite" class="zoom-level">
            {new Intl.NumberFormat(locale.value, { style: "percent" }).format(zoom ?? fitZoom(frame.current, natural))}
          </output>
          <button type="button" onClick={() => step(1)} aria-label={t("files.zoomIn")}>
            +
          </button>
          <button type="button" onClick={() => setZoom(null)} aria-pressed={zoom === null}>
            {t("files.zoomFit")}
          </button>
        </div>
        <div class="viewer-frame" ref={frame} tabIndex={0} aria-label={t("files.picture", { name: meta.filename })}>
          {meta.withdrawn ? (
            <p class="hint">{t("files.withdrawnShort", { name: meta.filename })}</p>
          ) : view.status === "ready" ? (
            <img
              src={view.url}
              alt={t("files.picture", { name: meta.filename })}
              onLoad={(e) => setNatural(e.currentTarget.naturalWidth)}
              style={zoom === null ? { maxWidth: "100%", maxHeight: "58vh" } : { width: `${Math.round(natural * zoom)}px`, maxWidth: "none" }}
              data-testid="viewer-image"
            />
          ) : (
            <p class="picture-placeholder">{view.status === "none" ? t("files.noPreview") : t("files.preparing")}</p>
          )}
        </div>
        <dl class="file-details">
          <Detail term={t("files.type")}>{isImage(meta.content_type) ? meta.content_type : t("files.pdf")}</Detail>
          <Detail term={t("files.size")}><Size bytes={meta.size} /></Detail>
          <Detail term={t("files.uploadedBy")}>
            <Name>{meta.uploaded_by.name}</Name> <AgencyChip code={meta.agency} />
          </Detail>
          <Detail term={t("files.uploadedAt")}>
            <Time at={meta.created_at} tz={tz} />
          </Detail>
          <Detail term={t("files.sha256")}>
            <code class="hash" data-testid="file-hash">
              {meta.sha256}
            </code>{" "}
            <button
              type="button"
              class="link"
              onClick={() => {
                void navigator.clipboard?.writeText(meta.sha256).then(() => setCopied(true));
              }}
            >
              {copied ? t("files.copied") : t("files.copyHash")}
            </button>
          </Detail>
          {meta.withdrawn ? (
            <Detail term={t("files.withdrawn")}>{t("files.withdrawnBy", { name: meta.withdrawn_by?.name ?? t("files.theHub"), reason: meta.withdrawn_reason ?? "" })}</Detail>
          ) : null}
        </dl>
        {meta.withdrawn ? null : original ? (
          <p>
            <a class="button" href={attachmentUrl(incident, meta.id)} download={meta.filename} data-testid="download-original">
              {t("files.downloadOriginal")}
            </a>{" "}
            <span class="hint">{t("files.downloadNote")}</span>
          </p>
        ) : (
          <p class="hint" data-testid="original-restricted">
            {t("files.originalRestricted")}
          </p>
        )}
        {canWithdraw ? (
          withdrawing ? (
            <form
              class="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                const text = reason.trim();
                if (!text) return setError(t("redact.reasonRequired"));
                void withdrawAttachment(incident, meta.id, text, meta.filename);
                setWithdrawing(false);
                setError(null);
              }}
            >
              <label for={`withdraw-${meta.id}`}>{t("files.withdrawReason")}</label>
              <input id={`withdraw-${meta.id}`} value={reason} maxLength={500} aria-invalid={error ? "true" : undefined} onInput={(e) => setReason(e.currentTarget.value)} />
              {error ? <p class="field-error">{error}</p> : null}
              <button type="submit" class="danger">
                {t("files.withdraw")}
              </button>{" "}
              <button type="button" class="link" onClick={() => setWithdrawing(false)}>
                {t("action.cancel")}
              </button>
            </form>
          ) : (
            <p>
              <button type="button" class="link" onClick={() => setWithdrawing(true)}>
                {t("files.withdraw")}
              </button>
            </p>
          )
        ) : null}
      </div>
    </Dialog>
  );
}

/** A file size, kept left to right inside Urdu text ("5 KB", not "KB 5"). */
function Size({ bytes }: { bytes: number }) {
  return <bdi dir="ltr">{formatSize(bytes, locale.value)}</bdi>;
}

function fitZoom(frame: HTMLDivElement | null, natural: number): number {
  if (!frame || natural <= 0) return 1;
  return Math.min(1, frame.clientWidth / natural);
}

function Detail({ term, children }: { term: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </>
  );
}

/** The files an officer has picked for a message, before Send: name, size, and why one cannot go. */
export function PickedFiles({ files, onRemove, progress }: { files: readonly PickedFile[]; onRemove: (id: string) => void; progress?: number | undefined }) {
  if (files.length === 0) return null;
  return (
    <ul class="picked-files" aria-label={t("files.count", { count: files.length })} data-testid="picked-files">
      {files.map((f) => (
        <li key={f.id} class={f.problem ? "problem" : ""}>
          <bdi>{f.name}</bdi> <span class="hint"><Size bytes={f.size} /></span>
          {progress !== undefined ? <progress max={1} value={progress} /> : null}{" "}
          <button type="button" class="link" onClick={() => onRemove(f.id)} aria-label={t("files.remove", { name: f.name })}>
            ×
          </button>
          {f.problem ? (
            <span class="field-error" role="alert">
              {problemText(f.problem)}
            </span>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

/** Files travelling with an unsent item: names, upload progress, and the file the hub refused. */
export function UnsentFiles({ files, progress, refused }: { files: readonly OutboxFile[]; progress: number | undefined; refused: string | undefined }) {
  if (files.length === 0) return null;
  return (
    <ul class="picked-files" data-testid="unsent-files" aria-label={t("files.count", { count: files.length })}>
      {files.map((f) => (
        <li key={f.id} class={refused === f.id ? "problem" : ""} data-uploaded={f.attachment ? "yes" : "no"}>
          <bdi>{f.name}</bdi> <span class="hint"><Size bytes={f.size} /></span>{" "}
          {f.attachment ? (
            <span class="hint">{t("files.uploaded")}</span>
          ) : progress !== undefined ? (
            <>
              <progress max={1} value={progress} aria-label={t("files.uploading", { name: f.name })} />{" "}
              <span class="hint">{new Intl.NumberFormat(locale.value, { style: "percent" }).format(progress)}</span>
            </>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

/** Every file of an incident with its hash (the review page). */
export function FileTable({ incident, files, point, lead, tz }: { incident: string; files: readonly AttachmentMeta[]; point: string; lead: string | null; tz: string }) {
  const [open, setOpen] = useState<number | null>(null);
  const shown = files.find((f) => f.id === open);
  if (files.length === 0) return <p class="hint">{t("files.none")}</p>;
  return (
    <>
      <table class="file-table" data-testid="file-table">
        <thead>
          <tr>
            <th scope="col">{t("files.name")}</th>
            <th scope="col">{t("files.type")}</th>
            <th scope="col">{t("files.size")}</th>
            <th scope="col">{t("files.uploadedBy")}</th>
            <th scope="col">{t("files.uploadedAt")}</th>
            <th scope="col">{t("files.sha256")}</th>
          </tr>
        </thead>
        <tbody>
          {files.map((f) => (
            <tr key={f.id} class={f.withdrawn ? "withdrawn" : ""} data-attachment-id={f.id}>
              <td>
                <button type="button" class="link" onClick={() => setOpen(f.id)}>
                  <bdi>{f.filename}</bdi>
                </button>
                {f.withdrawn ? (
                  <>
                    {" "}
                    <span class="badge">{t("files.withdrawn")}</span>
                  </>
                ) : null}
              </td>
              <td>{isImage(f.content_type) ? f.content_type : t("files.pdf")}</td>
              <td><Size bytes={f.size} /></td>
              <td>
                <Name>{f.uploaded_by.name}</Name> <AgencyChip code={f.agency} />
              </td>
              <td>
                <Time at={f.created_at} tz={tz} />
              </td>
              <td>
                <code class="hash">{f.sha256}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown ? <Viewer incident={incident} meta={shown} point={point} lead={lead} tz={tz} onClose={() => setOpen(null)} /> : null}
    </>
  );
}
