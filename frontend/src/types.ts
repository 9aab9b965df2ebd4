// Shapes of what the backend sends (docs/API.md#the-dashboard-payload, docs/PROTOCOL.md#messages). Extra keys may appear; we ignore them.

export type RunState = "running" | "done" | "exited";

export interface Session {
  id: string;
  target: string;
  nickname: string;
  running: boolean;
  created_at: string;
  last_output_at: string | null;
  nudge_state: string;
  nudge_summary: string;
  /** Who set the nudge: "agent" (the endpoint), "detector" (the built-in detector) or "". */
  nudge_source: string;
  attach_cmd: string;
  /** The process's exit status once it ended; null while running (or when unknown). */
  exit_status: number | null;
  /** "running"; "done" (exited with status 0); "exited" (any other end). Derived when absent. */
  run_state?: RunState;
  workspace_id: string;
  /** "" for this machine, else the configured host's name (its ids then start with "<host>:"). */
  host?: string;
}

export interface Workspace {
  id: string;
  repo: string;
  branch: string;
  short_repo: string;
  /** The configured repo's name (what the spawn form shows); absent from older servers. */
  repo_name?: string;
  path: string;
  session_count: number;
  sessions: Session[];
  git_ahead: number;
  git_behind: number;
  git_dirty: boolean;
  git_lines_added: number;
  git_lines_removed: number;
  git_files_changed: number;
  /** Extra key: why the last git status pass failed for this workspace ("" when it did not). */
  git_error: string;
  /** Moves with every edit of a changed file, even one that keeps the counts; absent from older servers. */
  git_revision?: string;
  /** The conflict forecast (docs/API.md#the-conflict-forecast); absent from older servers. */
  conflicts?: Conflict[];
  /** How many review rounds the workspace has had; absent from older servers. */
  review_rounds?: number;
  /** Review comments waiting in its pending round; absent from older servers. */
  review_pending?: number;
  /** Sent review comments not addressed yet; absent from older servers. */
  review_open?: number;
  /** "" for this machine, else the configured host's name; absent from older servers. */
  host?: string;
}

/** Another workspace (by id) touching the same files, or "base": a merge into the default branch would conflict. */
export interface Conflict {
  with: string;
  files: string[];
}

/** One file of GET /api/diff (docs/API.md#diff). */
export interface FileDiff {
  old_path?: string;
  new_path: string;
  old_content?: string;
  new_content?: string;
  status: "added" | "modified" | "deleted" | "renamed" | "untracked" | string;
  lines_added: number;
  lines_removed: number;
  binary?: boolean;
  truncated?: boolean;
}

export interface DiffResponse {
  workspace_id: string;
  repo: string;
  branch: string;
  base?: string;
  files: FileDiff[];
}

export type CommentStatus = "pending" | "sent" | "addressed";

/** A review comment as the server keeps it (docs/API.md#review-rounds). */
export interface ReviewComment {
  id: string;
  path: string;
  line: number;
  end_line: number | null;
  body: string;
  status: CommentStatus | string;
  quote: string | null;
  outdated: boolean;
  addressed_by: "user" | "auto" | null;
  created_at: number;
}

/** A review round as GET /api/workspaces/<id>/reviews lists it. */
export interface ReviewRound {
  id: string;
  session_id: string;
  created_at: number;
  sent_at: number | null;
  state: "sending" | "sent" | "failed" | string;
  error: string;
  comments: ReviewComment[];
}

/** A comment being written: what POST .../review/pending takes. */
export interface ReviewDraft {
  path: string;
  line: number;
  end_line?: number;
  body: string;
}

export interface RepoConfig {
  name: string;
  url: string;
}

export interface RunTarget {
  name: string;
  type: "command" | "promptable" | string;
  command: string;
  /** "user" (configured), "detected" (an agent CLI found on PATH, /api/detect-tools). */
  source?: string;
}

/** A spawn preset: the user's (config quick_launch) or built in (target ""). */
export interface QuickLaunch {
  name: string;
  target: string;
  prompt: string;
  /** schmux's shell-command presets: kept in the config, not offered by our form. */
  command?: string;
}

export interface DetectedTool {
  name: string;
  command: string;
  source: "detected" | "config" | string;
  type?: string;
  version?: string;
}

export interface Config {
  workspace_path?: string;
  source_code_management?: string;
  repos: RepoConfig[];
  run_targets: RunTarget[];
  quick_launch?: QuickLaunch[];
  [key: string]: unknown;
}

export type ProgressStage = "fetching" | "checkout" | "ready" | "error";

export interface WorkspaceProgress {
  request_id: string | null;
  repo: string;
  branch: string;
  workspace_id: string | null;
  stage: ProgressStage | string;
  percent: number | null;
  message: string;
}

/** A disposed workspace's snapshot, from GET /api/disposed. */
export interface DisposedSnapshot {
  id: string;
  workspace_id: string;
  repo: string;
  branch: string;
  disposed_at: string;
  expires_at?: string;
  repo_name?: string;
  path?: string;
  files?: number;
  commits?: number;
  stashes?: number;
}
