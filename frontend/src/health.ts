// Readiness of the hub as the landing page shows it.

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
  reasons: Record<string, string>;
}

export async function fetchReadiness(fetcher: typeof fetch = fetch): Promise<Readiness> {
  let response: Response;
  try {
    response = await fetcher("/readyz", { headers: { Accept: "application/json" } });
  } catch (error) {
    return { ready: false, checks: {}, reasons: { network: String(error) } };
  }
  const body = (await response.json().catch(() => ({}))) as Partial<{
    checks: Record<string, string>;
    reasons: Record<string, string>;
  }>;
  return {
    ready: response.ok,
    checks: body.checks ?? {},
    reasons: body.reasons ?? (response.ok ? {} : { http: `HTTP ${response.status}` }),
  };
}

export function describeReadiness(readiness: Readiness): string {
  if (readiness.ready) {
    return "All systems ready";
  }
  const reasons = Object.entries(readiness.reasons).map(([name, why]) => `${name}: ${why}`);
  return `Degraded — ${reasons.join("; ") || "unknown reason"}`;
}
