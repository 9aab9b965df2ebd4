import { describe, expect, it } from "vitest";
import {
  normalizeSession,
  applyMessage,
  type DashboardState,
  initialState,
  parseMessage,
  PROGRESS_DONE_KEEP_MS,
  progressKey,
  pruneProgress,
  shortRepoName,
} from "./state";

const ws = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  repo: "/src/demo",
  branch: "main",
  short_repo: "demo",
  path: `/data/workspaces/${id}`,
  session_count: 1,
  sessions: [
    {
      id: `${id}-s1`,
      target: "shell",
      nickname: "",
      running: true,
      created_at: "2024-01-15T10:30:00Z",
      last_output_at: null,
      nudge_state: "",
      nudge_summary: "",
      attach_cmd: "tmux -S /data/tmux.sock attach -t x",
    },
  ],
  git_ahead: 0,
  git_behind: 0,
  git_dirty: false,
  git_lines_added: 0,
  git_lines_removed: 0,
  git_files_changed: 0,
  ...extra,
});

const feed = (state: DashboardState, msg: unknown, now = 1000) =>
  applyMessage(state, parseMessage(JSON.stringify(msg)), now);

describe("parseMessage", () => {
  it("accepts JSON objects with a string type", () => {
    expect(parseMessage('{"type":"sessions","workspaces":[]}')).toEqual({ type: "sessions", workspaces: [] });
  });
  it("rejects garbage", () => {
    for (const bad of ["", "not json", "[]", "42", "null", '{"type":3}', '{"workspaces":[]}']) {
      expect(parseMessage(bad)).toBeNull();
    }
  });
});

describe("applyMessage", () => {
  it("sessions replaces the whole workspaces state and records seq", () => {
    let s = feed(initialState, { type: "sessions", workspaces: [ws("demo-001"), ws("demo-002")], seq: 4 });
    expect(s.workspaces!.map((w) => w.id)).toEqual(["demo-001", "demo-002"]);
    expect(s.seq).toBe(4);
    expect(s.receivedAt).toBe(1000);
    s = feed(s, { type: "sessions", workspaces: [ws("demo-003", { git_ahead: 2 })], seq: 5 }, 2000);
    expect(s.workspaces!.map((w) => w.id)).toEqual(["demo-003"]);
    expect(s.workspaces![0]!.git_ahead).toBe(2);
    expect(s.receivedAt).toBe(2000);
  });

  it("an empty sessions list is a real state, distinct from no state yet", () => {
    expect(initialState.workspaces).toBeNull();
    expect(feed(initialState, { type: "sessions", workspaces: [] }).workspaces).toEqual([]);
  });

  it("a restarted server's lower seq is still accepted (no stale-seq filtering across connections)", () => {
    let s = feed(initialState, { type: "sessions", workspaces: [ws("a-001")], seq: 99 });
    s = feed(s, { type: "sessions", workspaces: [ws("b-001")], seq: 1 });
    expect(s.workspaces!.map((w) => w.id)).toEqual(["b-001"]);
  });

  it("ignores unknown types and unknown keys", () => {
    const s = feed(initialState, { type: "sessions", workspaces: [ws("demo-001", { brand_new_key: 1 })] });
    expect(feed(s, { type: "ping" })).toBe(s);
    expect(feed(s, { type: "something_new", workspaces: [] })).toBe(s);
    expect(applyMessage(s, null, 5)).toBe(s);
    expect(s.workspaces![0]).not.toHaveProperty("brand_new_key");
  });

  it("ignores a malformed sessions or config message", () => {
    expect(feed(initialState, { type: "sessions", workspaces: "nope" })).toBe(initialState);
    expect(feed(initialState, { type: "config", config: [] })).toBe(initialState);
  });

  it("fills missing workspace/session keys with safe defaults", () => {
    const s = feed(initialState, {
      type: "sessions",
      workspaces: [{ id: "x-001", repo: "git@github.com:me/proj.git", sessions: [{ id: "s" }, 5] }, "junk"],
    });
    const w = s.workspaces![0]!;
    expect(s.workspaces).toHaveLength(1);
    expect(w.short_repo).toBe("proj");
    expect(w.git_ahead).toBe(0);
    expect(w.git_error).toBe("");
    expect(w.sessions).toHaveLength(1);
    expect(w.sessions[0]!.last_output_at).toBeNull();
    expect(w.sessions[0]!.running).toBe(false);
  });

  it("config updates what the spawn form offers", () => {
    const s = feed(initialState, {
      type: "config",
      config: {
        workspace_path: "/w",
        repos: [{ name: "demo", url: "/src/demo" }],
        run_targets: [
          { name: "shell", type: "command", command: "bash" },
          { name: "claude", type: "promptable", command: "claude" },
        ],
        terminal: { width: 120, height: 40 },
      },
    });
    expect(s.config!.repos).toEqual([{ name: "demo", url: "/src/demo" }]);
    expect(s.config!.run_targets.map((t) => t.name)).toEqual(["shell", "claude"]);
    expect(s.config!.terminal).toEqual({ width: 120, height: 40 });
    expect(s.workspaces).toBeNull();
  });

  it("config without repos or targets yields empty lists (first run)", () => {
    const s = feed(initialState, { type: "config", config: {} });
    expect(s.config!.repos).toEqual([]);
    expect(s.config!.run_targets).toEqual([]);
  });

  it("workspace_progress keeps the latest entry per request and clamps percent", () => {
    const base = { type: "workspace_progress", request_id: "r1", repo: "demo", branch: "feat", workspace_id: null };
    let s = feed(initialState, { ...base, stage: "fetching", percent: 10, message: "Receiving objects" }, 1);
    s = feed(s, { ...base, stage: "fetching", percent: 140, message: "Receiving objects" }, 2);
    const p = s.progress[progressKey({ request_id: "r1", repo: "demo", branch: "feat" })]!;
    expect(Object.keys(s.progress)).toHaveLength(1);
    expect(p.percent).toBe(100);
    expect(p.updatedAt).toBe(2);
    s = feed(s, { ...base, request_id: null, stage: "checkout", percent: null, message: "" }, 3);
    expect(Object.keys(s.progress)).toHaveLength(2);
  });

  it("pruneProgress drops finished entries after a while and keeps running ones", () => {
    const base = { type: "workspace_progress", repo: "demo", branch: "b", workspace_id: "demo-001", percent: null, message: "" };
    let s = feed(initialState, { ...base, request_id: "done", stage: "ready" }, 0);
    s = feed(s, { ...base, request_id: "busy", stage: "fetching" }, 0);
    expect(pruneProgress(s, PROGRESS_DONE_KEEP_MS - 1)).toBe(s);
    const pruned = pruneProgress(s, PROGRESS_DONE_KEEP_MS + 1);
    expect(Object.values(pruned.progress).map((p) => p.request_id)).toEqual(["busy"]);
  });
});

describe("shortRepoName", () => {
  it("takes the last path segment without .git", () => {
    expect(shortRepoName("git@github.com:me/proj.git")).toBe("proj");
    expect(shortRepoName("https://github.com/me/proj")).toBe("proj");
    expect(shortRepoName("/home/me/src/proj/")).toBe("proj");
    expect(shortRepoName("proj")).toBe("proj");
  });
});

describe("normalizeSession", () => {
  it("keeps the exit status, nudge source and workspace id the terminal header shows", () => {
    const s = normalizeSession({
      id: "demo-001-a",
      running: false,
      exit_status: 3,
      nudge_state: "Exited",
      nudge_source: "detector",
      workspace_id: "demo-001",
    });
    expect(s).toMatchObject({ running: false, exit_status: 3, nudge_source: "detector", workspace_id: "demo-001" });
    expect(normalizeSession({ id: "x", exit_status: "3" })).toMatchObject({ exit_status: null, nudge_source: "", workspace_id: "" });
  });
});
