// What the list shows: filtering and sorting of workspaces and their sessions. Pure.

import { parseTime } from "./timefmt";
import type { Session, Workspace } from "./types";

export type Filter = "all" | "running" | "attention";
export type SortKey = "name" | "activity" | "attention" | "changes";

export const FILTERS: { value: Filter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "running", label: "Running" },
  { value: "attention", label: "Needs attention" },
];

export const SORTS: { value: SortKey; label: string }[] = [
  { value: "name", label: "Name" },
  { value: "activity", label: "Last activity" },
  { value: "attention", label: "Needs attention first" },
  { value: "changes", label: "Most changes" },
];

export interface VisibleWorkspace {
  workspace: Workspace;
  sessions: Session[];
}

export const needsAttention = (s: Session): boolean => s.nudge_state !== "";

export function sessionMatches(s: Session, filter: Filter): boolean {
  if (filter === "running") return s.running;
  if (filter === "attention") return needsAttention(s);
  return true;
}

/** Latest output (or creation) time among a workspace's sessions; 0 when it has none. */
export function lastActivity(w: Workspace): number {
  let best = 0;
  for (const s of w.sessions) {
    const t = parseTime(s.last_output_at) ?? parseTime(s.created_at) ?? 0;
    if (t > best) best = t;
  }
  return best;
}

const byId = (a: Workspace, b: Workspace): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function compareWorkspaces(key: SortKey): (a: Workspace, b: Workspace) => number {
  switch (key) {
    case "activity":
      return (a, b) => lastActivity(b) - lastActivity(a) || byId(a, b);
    case "attention":
      return (a, b) =>
        b.sessions.filter(needsAttention).length - a.sessions.filter(needsAttention).length ||
        lastActivity(b) - lastActivity(a) ||
        byId(a, b);
    case "changes":
      return (a, b) =>
        b.git_lines_added + b.git_lines_removed - (a.git_lines_added + a.git_lines_removed) ||
        b.git_files_changed - a.git_files_changed ||
        byId(a, b);
    case "name":
    default:
      return (a, b) =>
        a.short_repo.localeCompare(b.short_repo) || a.branch.localeCompare(b.branch) || byId(a, b);
  }
}

/**
 * The workspaces to show, in order, each with the sessions that pass the filter.
 * "all" shows every workspace (also those without sessions); the other filters show only
 * workspaces that hold at least one matching session.
 */
export function visibleWorkspaces(workspaces: readonly Workspace[], filter: Filter, sort: SortKey): VisibleWorkspace[] {
  const out: VisibleWorkspace[] = [];
  for (const workspace of workspaces) {
    const sessions = filter === "all" ? workspace.sessions : workspace.sessions.filter((s) => sessionMatches(s, filter));
    if (filter !== "all" && sessions.length === 0) continue;
    out.push({ workspace, sessions });
  }
  const cmp = compareWorkspaces(sort);
  out.sort((a, b) => cmp(a.workspace, b.workspace));
  return out;
}

export interface Totals {
  workspaces: number;
  sessions: number;
  running: number;
  attention: number;
  dirty: number;
}

export function totals(workspaces: readonly Workspace[]): Totals {
  const t: Totals = { workspaces: workspaces.length, sessions: 0, running: 0, attention: 0, dirty: 0 };
  for (const w of workspaces) {
    if (w.git_dirty) t.dirty++;
    for (const s of w.sessions) {
      t.sessions++;
      if (s.running) t.running++;
      if (needsAttention(s)) t.attention++;
    }
  }
  return t;
}

export const sessionLabel = (s: Pick<Session, "nickname" | "target">): string => s.nickname || s.target;
