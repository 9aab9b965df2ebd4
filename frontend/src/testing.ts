// Records for unit tests: every field of the pinned payload with neutral values, overridable.

import type { Session, Workspace } from "./types";

export const makeSession = (id: string, extra: Partial<Session> = {}): Session => ({
  id,
  target: "shell",
  nickname: "",
  running: true,
  created_at: "2024-01-15T10:00:00Z",
  last_output_at: null,
  nudge_state: "",
  nudge_summary: "",
  nudge_source: "",
  exit_status: null,
  workspace_id: "",
  attach_cmd: "",
  ...extra,
});

export const makeWorkspace = (id: string, sessions: Session[] = [], extra: Partial<Workspace> = {}): Workspace => ({
  id,
  repo: "/src/demo",
  branch: "main",
  short_repo: "demo",
  path: "/w/" + id,
  session_count: sessions.length,
  sessions,
  git_ahead: 0,
  git_behind: 0,
  git_dirty: false,
  git_lines_added: 0,
  git_lines_removed: 0,
  git_files_changed: 0,
  git_error: "",
  ...extra,
});
