// What the list shows: filtering and sorting of workspaces and their sessions. Pure.

import { parseTime } from "./timefmt";
import type { RunState, Session, Workspace } from "./types";

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

/** Running, done (a clean exit, status 0) or exited (any other end). */
export function runState(s: Pick<Session, "running" | "exit_status" | "run_state">): RunState {
  if (s.run_state === "running" || s.run_state === "done" || s.run_state === "exited") return s.run_state;
  if (s.running) return "running";
  return s.exit_status === 0 ? "done" : "exited";
}

/** The repo's name as the spawn form shows it (the configured name), else the URL's last part. */
export const repoName = (w: Pick<Workspace, "repo_name" | "short_repo" | "repo">): string => w.repo_name || w.short_repo || w.repo;

/** A short, stable tag that tells sessions of one target apart: the id's random part. */
export const sessionTag = (s: Pick<Session, "id">): string => s.id.slice(s.id.lastIndexOf("-") + 1);

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
  done: number;
  attention: number;
  dirty: number;
}

export function totals(workspaces: readonly Workspace[]): Totals {
  const t: Totals = { workspaces: workspaces.length, sessions: 0, running: 0, done: 0, attention: 0, dirty: 0 };
  for (const w of workspaces) {
    if (w.git_dirty) t.dirty++;
    for (const s of w.sessions) {
      t.sessions++;
      const state = runState(s);
      if (state === "running") t.running++;
      else if (state === "done") t.done++;
      if (needsAttention(s)) t.attention++;
    }
  }
  return t;
}

export const sessionLabel = (s: Pick<Session, "nickname" | "target">): string => s.nickname || s.target;
