// Reading SOP templates (every officer with a membership may).

import { api } from "../api/client";
import type { Template, TemplateDiff, TemplateVersion } from "./model";

const enc = encodeURIComponent;

export function listTemplates(signal?: AbortSignal): Promise<Template[]> {
  return api<Template[]>("GET", "/checklist-templates", undefined, { signal });
}

export function getTemplate(code: string, version?: number | null, signal?: AbortSignal): Promise<Template> {
  const query = version ? `?version=${version}` : "";
  return api<Template>("GET", `/checklist-templates/${enc(code)}${query}`, undefined, { signal });
}

export function listTemplateVersions(code: string, signal?: AbortSignal): Promise<TemplateVersion[]> {
  return api<TemplateVersion[]>("GET", `/checklist-templates/${enc(code)}/versions`, undefined, { signal });
}

export function getTemplateDiff(code: string, from: number, to: number, signal?: AbortSignal): Promise<TemplateDiff> {
  return api<TemplateDiff>("GET", `/checklist-templates/${enc(code)}/diff?from=${from}&to=${to}`, undefined, { signal });
}
