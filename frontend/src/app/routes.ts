// The web app's paths (history routing; Django serves the shell for each).
// Parts 2 and 3 add operations, review and search under the paths below.

export type RouteMatch =
  | { name: "home" }
  | { name: "signin" }
  | { name: "board"; code: string }
  | { name: "issue-alert"; code: string }
  | { name: "operations"; code: string }
  | { name: "room"; ref: string }
  | { name: "review"; ref: string }
  | { name: "alert"; id: number }
  | { name: "operation"; ref: string }
  | { name: "report"; point: string | null }
  | { name: "search" }
  | { name: "unknown" };

const CODE = "[A-Z0-9]{2,6}";
const REF = "[A-Z0-9][A-Z0-9-]{0,60}";

const TABLE: [RegExp, (m: RegExpExecArray, query: URLSearchParams) => RouteMatch][] = [
  [/^\/$/, () => ({ name: "home" })],
  [/^\/signin$/, () => ({ name: "signin" })],
  [new RegExp(`^/points/(${CODE})$`), (m) => ({ name: "board", code: m[1] as string })],
  [new RegExp(`^/points/(${CODE})/alerts/new$`), (m) => ({ name: "issue-alert", code: m[1] as string })],
  [new RegExp(`^/points/(${CODE})/operations$`), (m) => ({ name: "operations", code: m[1] as string })],
  [new RegExp(`^/incidents/(${REF})$`), (m) => ({ name: "room", ref: m[1] as string })],
  [new RegExp(`^/incidents/(${REF})/review$`), (m) => ({ name: "review", ref: m[1] as string })],
  [/^\/alerts\/([1-9][0-9]{0,17})$/, (m) => ({ name: "alert", id: Number(m[1]) })],
  [new RegExp(`^/operations/(${REF})$`), (m) => ({ name: "operation", ref: m[1] as string })],
  [/^\/report$/, (_m, q) => ({ name: "report", point: q.get("point") })],
  [/^\/search$/, () => ({ name: "search" })],
];

/** What a path (with its query string) names. */
export function parseRoute(pathWithQuery: string): RouteMatch {
  const [path = "/", search = ""] = pathWithQuery.split("?", 2);
  const query = new URLSearchParams(search);
  for (const [pattern, build] of TABLE) {
    const match = pattern.exec(path.length > 1 ? path.replace(/\/$/, "") : path);
    if (match) return build(match, query);
  }
  return { name: "unknown" };
}

/** The crossing point a screen is about, when its path says. */
export function pointOfRoute(route: RouteMatch): string | null {
  switch (route.name) {
    case "board":
    case "issue-alert":
    case "operations":
      return route.code;
    case "report":
      return route.point;
    default:
      return null;
  }
}
