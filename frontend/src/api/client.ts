// The REST client (/api/v1). The browser signs in with the session cookie;
// writes carry the CSRF token Django sets. Every error is an `ApiError` with the
// hub's `{code, detail}` (and `errors` for a 422). A 401 anywhere means the
// session ended: `onUnauthorized` takes the officer to sign in, and back.

export interface FieldError {
  loc: string[];
  msg: string;
  type: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(`${status} ${code}: ${detail}`);
  }

  /** No answer at all (offline, DNS, the server is down). */
  get network(): boolean {
    return this.status === 0;
  }
}

let unauthorizedHandler: (() => void) | null = null;

/** Called once per 401 (REST or socket): the session has ended. */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

export function notifyUnauthorized(): void {
  unauthorizedHandler?.();
}

export function csrfToken(cookies: string = typeof document === "undefined" ? "" : document.cookie): string {
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(cookies);
  return match ? decodeURIComponent(match[1] ?? "") : "";
}

export async function refreshCsrf(): Promise<void> {
  await fetch("/api/v1/auth/csrf", { credentials: "same-origin", headers: { Accept: "application/json" } });
}

export interface ApiOptions {
  /** Do not treat a 401 as the end of the session (the sign-in form). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

export async function api<T>(method: string, path: string, body?: unknown, options: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrfToken();
  }
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") {
      throw error;
    }
    throw new ApiError(0, "network", "The hub could not be reached.");
  }
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) {
      notifyUnauthorized();
    }
    throw new ApiError(
      response.status,
      String(data.code ?? "error"),
      String(data.detail ?? response.statusText),
      Array.isArray(data.errors) ? (data.errors as FieldError[]) : [],
    );
  }
  return data as T;
}

/**
 * Field errors of a 422 by field name (the last part of `loc`), so a form can
 * show each reason next to its field. Errors without a field go under "".
 */
export function fieldErrors(error: { errors?: FieldError[]; detail: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of error.errors ?? []) {
    const loc = e.loc.filter((p) => p !== "body" && p !== "payload");
    const name = loc.length ? String(loc[0]) : "";
    out[name] = out[name] ? `${out[name]}; ${e.msg}` : e.msg;
  }
  if (Object.keys(out).length === 0) {
    out[""] = error.detail;
  }
  return out;
}
