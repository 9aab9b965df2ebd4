// What a workspace dispose keeps and what a session dispose loses, in words. Pure.

import type { Config, DisposedSnapshot, Workspace } from "./types";

export const DEFAULT_KEEP_DAYS = 14;

/** `workspaces.snapshot_keep_days` from the effective config, else the default. */
export function keepDays(config: Config | null): number {
  const ws = config?.workspaces;
  const v = typeof ws === "object" && ws !== null ? (ws as Record<string, unknown>).snapshot_keep_days : undefined;
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : DEFAULT_KEEP_DAYS;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const days = (n: number) => plural(n, "day");

/** "3 uncommitted files and 2 unpushed commits", or "" when the workspace holds neither. */
export function workAtRisk(w: Workspace): string {
  const parts: string[] = [];
  if (w.git_dirty) parts.push(plural(Math.max(1, w.git_files_changed), "uncommitted file"));
  if (w.git_ahead > 0) parts.push(plural(w.git_ahead, "unpushed commit"));
  return parts.join(" and ");
}

/** The dialog's paragraphs for disposing a workspace. */
export function disposeWorkspaceLines(w: Workspace, keep: number): string[] {
  const lines = [`This deletes the checkout of ${w.repo_name || w.short_repo} @ ${w.branch} at ${w.path} from disk.`];
  if (w.sessions.length > 0) {
    lines.push(`It still has ${plural(w.sessions.length, "session")}: dispose ${w.sessions.length === 1 ? "it" : "them"} first.`);
  }
  const risk = workAtRisk(w);
  const where = "you can restore the workspace from “Recently disposed”.";
  if (risk) {
    lines.push(
      `${risk} will be kept in a snapshot for ${days(keep)}: ${where} ` +
        "The server asks once more before it removes work that exists nowhere else.",
    );
  } else {
    lines.push(`No uncommitted changes or unpushed commits. A snapshot is kept for ${days(keep)}: ${where}`);
  }
  return lines;
}

/** What a forced dispose keeps, for the "Dispose anyway" step. */
export function forceNote(keep: number): string {
  return `Dispose anyway keeps everything listed above in a snapshot for ${days(keep)}, then removes the workspace.`;
}

/** One line about a snapshot: what it kept. */
export function keptSummary(s: DisposedSnapshot): string {
  const parts: string[] = [];
  if (s.files) parts.push(plural(s.files, "file"));
  if (s.commits) parts.push(plural(s.commits, "unpushed commit"));
  if (s.stashes) parts.push(plural(s.stashes, "stash", "stashes"));
  return parts.length ? `kept ${parts.join(", ")}` : "clean when disposed";
}
