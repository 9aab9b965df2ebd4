// Hash routes: "#/" is the dashboard, "#/session/<id>" one session's terminal, "#/review/<workspace id>"
// a workspace's changes and review comments ("?file=<path>" selects a file, "&view=split" the side-by-side
// layout, "&line=<n>" scrolls to that line: a deep link), "#/conflicts" the overlap matrix of every repo.

import { VIEW_MODES, type ViewMode } from "./diffview/rows";

export type Route =
  | { name: "dashboard" }
  | { name: "session"; sessionId: string }
  | { name: "review"; workspaceId: string; file: string | null; view: ViewMode | null; line: number | null }
  | { name: "conflicts" };

export function parseRoute(hash: string): Route {
  if (/^#\/conflicts\/?$/.test(hash)) return { name: "conflicts" };
  const m = /^#\/(session|review)\/([^/?#]+)\/?(?:\?(.*))?$/.exec(hash);
  if (m) {
    try {
      const id = decodeURIComponent(m[2]!);
      if (m[1] === "session") return { name: "session", sessionId: id };
      const q = new URLSearchParams(m[3] ?? "");
      const v = q.get("view");
      const line = Number(q.get("line"));
      return {
        name: "review",
        workspaceId: id,
        file: q.get("file"),
        view: VIEW_MODES.includes(v as ViewMode) ? (v as ViewMode) : null,
        line: Number.isInteger(line) && line > 0 ? line : null,
      };
    } catch {
      return { name: "dashboard" };
    }
  }
  return { name: "dashboard" };
}

export const sessionHref = (sessionId: string): string => `#/session/${encodeURIComponent(sessionId)}`;

export function reviewHref(workspaceId: string, file?: string | null, view?: ViewMode | null, line?: number | null): string {
  const q = new URLSearchParams();
  if (file) q.set("file", file);
  if (view) q.set("view", view);
  if (file && line) q.set("line", String(line));
  const query = q.toString().replace(/\+/g, "%20");
  return `#/review/${encodeURIComponent(workspaceId)}` + (query ? `?${query}` : "");
}

export const conflictsHref = "#/conflicts";
