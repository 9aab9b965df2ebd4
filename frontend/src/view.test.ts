import { describe, expect, it } from "vitest";
import { makeSession, makeWorkspace } from "./testing";
import { lastActivity, runState, sessionLabel, totals, visibleWorkspaces } from "./view";

const session = makeSession;
const workspace = makeWorkspace;

const a = workspace("alpha-001", [session("a1", { running: false }), session("a2", { last_output_at: "2024-01-15T12:00:00Z" })], {
  short_repo: "alpha",
  git_lines_added: 5,
});
const b = workspace("beta-001", [session("b1", { nudge_state: "needs_input", nudge_summary: "Approve?" })], {
  short_repo: "beta",
  branch: "feature",
  git_lines_added: 50,
  git_dirty: true,
});
const c = workspace("beta-002", [], { short_repo: "beta", branch: "aaa" });
const all = [b, c, a];
const ids = (v: ReturnType<typeof visibleWorkspaces>) => v.map((x) => x.workspace.id);

describe("visibleWorkspaces", () => {
  it("all shows every workspace, also empty ones, sorted by repo then branch", () => {
    const v = visibleWorkspaces(all, "all", "name");
    expect(ids(v)).toEqual(["alpha-001", "beta-002", "beta-001"]);
    expect(v[0]!.sessions).toHaveLength(2);
  });
  it("running keeps only running sessions and the workspaces that have one", () => {
    const v = visibleWorkspaces(all, "running", "name");
    expect(ids(v)).toEqual(["alpha-001", "beta-001"]);
    expect(v[0]!.sessions.map((s) => s.id)).toEqual(["a2"]);
  });
  it("attention keeps only nudged sessions", () => {
    const v = visibleWorkspaces(all, "attention", "name");
    expect(ids(v)).toEqual(["beta-001"]);
  });
  it("sorts by last activity, attention and changes", () => {
    expect(ids(visibleWorkspaces(all, "all", "activity"))).toEqual(["alpha-001", "beta-001", "beta-002"]);
    expect(ids(visibleWorkspaces(all, "all", "attention"))[0]).toBe("beta-001");
    expect(ids(visibleWorkspaces(all, "all", "changes"))).toEqual(["beta-001", "alpha-001", "beta-002"]);
  });
  it("does not mutate its input", () => {
    const copy = [...all];
    visibleWorkspaces(all, "all", "activity");
    expect(all).toEqual(copy);
  });
});

describe("helpers", () => {
  it("lastActivity falls back to created_at, 0 without sessions", () => {
    expect(lastActivity(a)).toBe(Date.parse("2024-01-15T12:00:00Z"));
    expect(lastActivity(b)).toBe(Date.parse("2024-01-15T10:00:00Z"));
    expect(lastActivity(c)).toBe(0);
  });
  it("totals counts running, done, attention and dirty", () => {
    expect(totals(all)).toEqual({ workspaces: 3, sessions: 3, running: 2, done: 0, attention: 1, dirty: 1 });
  });
  it("a clean exit is done, any other end exited", () => {
    const base = { running: false, exit_status: null as number | null };
    expect(runState({ ...base, exit_status: 0 })).toBe("done");
    expect(runState({ ...base, exit_status: 3 })).toBe("exited");
    expect(runState(base)).toBe("exited");
    expect(runState({ ...base, running: true })).toBe("running");
    expect(runState({ ...base, exit_status: 0, run_state: "exited" })).toBe("exited");
  });
  it("sessionLabel prefers the nickname", () => {
    expect(sessionLabel({ nickname: "", target: "claude" })).toBe("claude");
    expect(sessionLabel({ nickname: "fixer", target: "claude" })).toBe("fixer");
  });
});
