// Hash routes: "#/" is the dashboard, "#/session/<id>" one session's terminal, "#/review/<workspace id>"
// a workspace's changes and review comments ("?file=<path>" selects a file: a deep link).

export type Route =
  | { name: "dashboard" }
  | { name: "session"; sessionId: string }
  | { name: "review"; workspaceId: string; file: string | null };

export function parseRoute(hash: string): Route {
  const m = /^#\/(session|review)\/([^/?#]+)\/?(?:\?(.*))?$/.exec(hash);
  if (m) {
    try {
      const id = decodeURIComponent(m[2]!);
      if (m[1] === "session") return { name: "session", sessionId: id };
      const file = new URLSearchParams(m[3] ?? "").get("file");
      return { name: "review", workspaceId: id, file };
    } catch {
      return { name: "dashboard" };
    }
  }
  return { name: "dashboard" };
}

export const sessionHref = (sessionId: string): string => `#/session/${encodeURIComponent(sessionId)}`;

export const reviewHref = (workspaceId: string, file?: string | null): string =>
  `#/review/${encodeURIComponent(workspaceId)}` + (file ? `?file=${encodeURIComponent(file)}` : "");
