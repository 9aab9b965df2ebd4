import { describe, expect, it } from "vitest";
import { disposeWorkspaceLines, keepDays, keptSummary, workAtRisk } from "./disposal";
import { makeSession, makeWorkspace } from "./testing";
import type { Config } from "./types";

const cfg = (extra: Record<string, unknown>): Config => ({ repos: [], run_targets: [], ...extra });

describe("dispose wording", () => {
  it("names what the snapshot keeps and for how long", () => {
    const w = makeWorkspace("demo-001", [], { git_dirty: true, git_files_changed: 3, git_ahead: 2 });
    expect(workAtRisk(w)).toBe("3 uncommitted files and 2 unpushed commits");
    const lines = disposeWorkspaceLines(w, 14).join("\n");
    expect(lines).toContain("3 uncommitted files and 2 unpushed commits will be kept in a snapshot for 14 days");
    expect(lines).toContain("Recently disposed");
  });
  it("says a clean workspace is kept too, and asks to dispose sessions first", () => {
    const w = makeWorkspace("demo-001", [makeSession("s1")], { git_ahead: 1 });
    const lines = disposeWorkspaceLines(w, 1);
    expect(lines.join("\n")).toContain("1 unpushed commit will be kept in a snapshot for 1 day:");
    expect(lines[1]).toMatch(/1 session: dispose it first/);
    const clean = disposeWorkspaceLines(makeWorkspace("demo-002", []), 14).join("\n");
    expect(clean).toContain("A snapshot is kept for 14 days");
  });
  it("reads workspaces.snapshot_keep_days from the config", () => {
    expect(keepDays(null)).toBe(14);
    expect(keepDays(cfg({ workspaces: { snapshot_keep_days: 3 } }))).toBe(3);
    expect(keepDays(cfg({ workspaces: { snapshot_keep_days: "x" } }))).toBe(14);
  });
  it("summarises a snapshot", () => {
    const base = { id: "s", workspace_id: "w", repo: "r", branch: "b", disposed_at: "2024-01-15T10:30:00Z" };
    expect(keptSummary({ ...base, files: 1, commits: 2, stashes: 1 })).toBe("kept 1 file, 2 unpushed commits, 1 stash");
    expect(keptSummary({ ...base, files: 0 })).toBe("clean when disposed");
  });
});
