// Message dispatch and the dashboard state reducer. Pure: no DOM, no network.

import { type HostStatus, normalizeHosts } from "./hosts";
import type { Config, Conflict, Session, Workspace, WorkspaceProgress } from "./types";

export type ServerMessage =
  | { type: "sessions"; workspaces: Workspace[]; seq?: number }
  | { type: "config"; config: Config }
  | ({ type: "workspace_progress" } & WorkspaceProgress)
  | { type: "hosts"; hosts: HostStatus[] };

export interface ProgressEntry extends WorkspaceProgress {
  key: string;
  updatedAt: number;
}

export interface DashboardState {
  /** null until the first `sessions` message arrived. */
  workspaces: Workspace[] | null;
  config: Config | null;
  seq: number | null;
  /** When the last `sessions` message arrived (ms since epoch). */
  receivedAt: number | null;
  /** Workspaces being prepared for a spawn, keyed by request id (or repo+branch). */
  progress: Record<string, ProgressEntry>;
  /** The other machines' connection states ([] when none is configured). */
  hosts: HostStatus[];
}

export const initialState: DashboardState = {
  workspaces: null,
  config: null,
  seq: null,
  receivedAt: null,
  progress: {},
  hosts: [],
};

/** A finished (ready/error) progress entry stays visible this long. */
export const PROGRESS_DONE_KEEP_MS = 8_000;
/** A progress entry with no news for this long is dropped (its spawn answer got lost). */
export const PROGRESS_STALE_MS = 10 * 60_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const str = (v: unknown, d = ""): string => (typeof v === "string" ? v : d);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const strOrNull = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

export function normalizeSession(raw: unknown): Session | null {
  if (!isObject(raw) || typeof raw.id !== "string") return null;
  return {
    id: raw.id,
    target: str(raw.target),
    nickname: str(raw.nickname),
    running: raw.running === true,
    created_at: str(raw.created_at),
    last_output_at: strOrNull(raw.last_output_at),
    nudge_state: str(raw.nudge_state),
    nudge_summary: str(raw.nudge_summary),
    nudge_source: str(raw.nudge_source),
    attach_cmd: str(raw.attach_cmd),
    exit_status: typeof raw.exit_status === "number" && Number.isFinite(raw.exit_status) ? raw.exit_status : null,
    ...(raw.run_state === "running" || raw.run_state === "done" || raw.run_state === "exited" ? { run_state: raw.run_state } : {}),
    workspace_id: str(raw.workspace_id),
    host: str(raw.host),
  };
}

export function normalizeWorkspace(raw: unknown): Workspace | null {
  if (!isObject(raw) || typeof raw.id !== "string") return null;
  const sessions = Array.isArray(raw.sessions)
    ? raw.sessions.map(normalizeSession).filter((s): s is Session => s !== null)
    : [];
  const repo = str(raw.repo);
  return {
    id: raw.id,
    repo,
    branch: str(raw.branch),
    short_repo: str(raw.short_repo) || shortRepoName(repo),
    ...(str(raw.repo_name) ? { repo_name: str(raw.repo_name) } : {}),
    path: str(raw.path),
    session_count: typeof raw.session_count === "number" ? raw.session_count : sessions.length,
    sessions,
    git_ahead: num(raw.git_ahead),
    git_behind: num(raw.git_behind),
    git_dirty: raw.git_dirty === true,
    git_lines_added: num(raw.git_lines_added),
    git_lines_removed: num(raw.git_lines_removed),
    git_files_changed: num(raw.git_files_changed),
    git_error: str(raw.git_error),
    git_revision: str(raw.git_revision),
    conflicts: normalizeConflicts(raw.conflicts),
    review_rounds: num(raw.review_rounds),
    review_pending: num(raw.review_pending),
    review_open: num(raw.review_open),
    host: str(raw.host),
  };
}

/** The conflict forecast: well-formed items only (`[]` from an older server without the key). */
export function normalizeConflicts(raw: unknown): Conflict[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter(isObject)
    .filter((c) => typeof c.with === "string" && Array.isArray(c.files))
    .map((c) => ({ with: c.with as string, files: (c.files as unknown[]).filter((f): f is string => typeof f === "string") }));
}

export function normalizeConfig(raw: unknown): Config {
  const c: Record<string, unknown> = isObject(raw) ? { ...raw } : {};
  const repos = Array.isArray(c.repos)
    ? c.repos.filter(isObject).map((r) => ({ name: str(r.name), url: str(r.url) })).filter((r) => r.name || r.url)
    : [];
  const run_targets = Array.isArray(c.run_targets)
    ? c.run_targets
        .filter(isObject)
        .map((t) => ({ name: str(t.name), type: str(t.type, "command"), command: str(t.command) }))
        .filter((t) => t.name)
    : [];
  return { ...c, repos, run_targets };
}

/** "git@github.com:me/proj.git" → "proj"; "/home/me/src/proj/" → "proj". */
export function shortRepoName(url: string): string {
  const trimmed = url.trim().replace(/[/\\]+$/, "");
  const last = trimmed.split(/[/\\:]/).pop() ?? "";
  return last.replace(/\.git$/, "");
}

/** Parse one text frame. Anything that is not a JSON object with a string `type` is null. */
export function parseMessage(data: string): ServerMessage | { type: string } | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.type !== "string") return null;
  return v as ServerMessage | { type: string };
}

export function progressKey(p: { request_id: string | null; repo: string; branch: string }): string {
  return p.request_id ? `req:${p.request_id}` : `rb:${p.repo}\u0000${p.branch}`;
}

/** Apply one message. Unknown types and malformed bodies leave the state object untouched. */
export function applyMessage(state: DashboardState, msg: { type: string } | null, now: number): DashboardState {
  if (msg === null) return state;
  const m = msg as Record<string, unknown>;
  switch (msg.type) {
    case "sessions": {
      if (!Array.isArray(m.workspaces)) return state;
      const workspaces = m.workspaces.map(normalizeWorkspace).filter((w): w is Workspace => w !== null);
      const seq = typeof m.seq === "number" ? m.seq : state.seq;
      return { ...state, workspaces, seq, receivedAt: now };
    }
    case "config": {
      if (!isObject(m.config)) return state;
      return { ...state, config: normalizeConfig(m.config) };
    }
    case "hosts": {
      if (!Array.isArray(m.hosts)) return state;
      return { ...state, hosts: normalizeHosts(m.hosts) };
    }
    case "workspace_progress": {
      const p: WorkspaceProgress = {
        request_id: strOrNull(m.request_id),
        repo: str(m.repo),
        branch: str(m.branch),
        workspace_id: strOrNull(m.workspace_id),
        stage: str(m.stage),
        percent: typeof m.percent === "number" && Number.isFinite(m.percent) ? Math.max(0, Math.min(100, m.percent)) : null,
        message: str(m.message),
      };
      const key = progressKey(p);
      return { ...state, progress: { ...state.progress, [key]: { ...p, key, updatedAt: now } } };
    }
    default:
      return state;
  }
}

/** Drop finished progress entries after PROGRESS_DONE_KEEP_MS and silent ones after PROGRESS_STALE_MS. */
export function pruneProgress(state: DashboardState, now: number): DashboardState {
  let changed = false;
  const next: Record<string, ProgressEntry> = {};
  for (const [k, p] of Object.entries(state.progress)) {
    const done = p.stage === "ready" || p.stage === "error";
    const age = now - p.updatedAt;
    if ((done && age > PROGRESS_DONE_KEEP_MS) || age > PROGRESS_STALE_MS) changed = true;
    else next[k] = p;
  }
  return changed ? { ...state, progress: next } : state;
}
