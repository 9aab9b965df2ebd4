// @vitest-environment jsdom
import { beforeEach, describe, expect, it, vi } from "vitest";
import { normalizeHosts } from "../hosts";
import { makeSession, makeWorkspace } from "../testing";
import type { Session, Workspace } from "../types";
import { visibleWorkspaces } from "../view";
import { WorkspaceList } from "./workspaceList";
import type { WorkspaceActions } from "./workspaceRow";

const NOW = Date.parse("2024-01-15T10:40:00Z");

const session = (id: string, extra: Partial<Session> = {}): Session =>
  makeSession(id, {
    target: "claude",
    created_at: "2024-01-15T10:30:00Z",
    last_output_at: "2024-01-15T10:39:00Z",
    attach_cmd: `tmux -S /d/tmux.sock attach -t ${id}`,
    ...extra,
  });

const workspace = (n: number, extra: Partial<Workspace> = {}): Workspace => {
  const id = `repo-${String(n).padStart(3, "0")}`;
  const sessions = [session(`${id}-a`), session(`${id}-b`), session(`${id}-c`)];
  return makeWorkspace(id, sessions, {
    repo: "git@github.com:me/repo.git",
    branch: `branch-${n}`,
    short_repo: "repo",
    path: `/d/workspaces/${id}`,
    ...extra,
  });
};

function actions(overrides: Partial<WorkspaceActions> = {}): WorkspaceActions {
  return {
    rename: vi.fn(async () => ({ ok: true as const, status: 200, data: {} })),
    disposeSession: vi.fn(),
    restartSession: vi.fn(),
    disposeWorkspace: vi.fn(),
    spawnInto: vi.fn(),
    copy: vi.fn(async () => true),
    ...overrides,
  };
}

function mount(acts = actions()) {
  const list = new WorkspaceList(acts);
  document.body.replaceChildren(list.el);
  const show = (ws: Workspace[]) => list.update(visibleWorkspaces(ws, "all", "name"), NOW);
  return { list, show, acts };
}

const q = (sel: string) => document.querySelector(sel) as HTMLElement;

beforeEach(() => {
  document.body.innerHTML = "";
});

describe("WorkspaceList rendering", () => {
  it("shows git state and sessions with stable test ids", () => {
    const { show } = mount();
    show([workspace(1, { git_ahead: 3, git_behind: 1, git_dirty: true, git_lines_added: 42, git_lines_removed: 10, git_files_changed: 5 })]);
    const row = q('[data-testid="workspace-repo-001"]');
    expect(row.querySelector('[data-testid="git-ahead"]')!.textContent).toBe("3");
    expect(row.querySelector('[data-testid="git-behind"]')!.textContent).toBe("1");
    expect(row.querySelector('[data-testid="git-lines-added"]')!.textContent).toBe("42");
    expect(row.querySelector('[data-testid="git-lines-removed"]')!.textContent).toBe("10");
    expect(row.querySelector('[data-testid="git-files-changed"]')!.textContent).toBe("5 files");
    expect((row.querySelector('[data-testid="git-dirty"]') as HTMLElement).dataset.dirty).toBe("true");
    expect(row.querySelectorAll("[data-session-id]")).toHaveLength(3);
    const s = q('[data-testid="session-repo-001-a"]');
    expect(s.querySelector('[data-testid="run-state"]')!.textContent).toBe("Running");
    expect(s.querySelector('[data-testid="created-at"]')!.textContent).toBe("10m ago");
    expect(s.querySelector('[data-testid="last-output-at"]')!.textContent).toBe("1m ago");
    expect(s.querySelector('[data-testid="last-output-at"]')!.getAttribute("title")).toContain("2024-01-15T10:39:00Z");
    expect((s.querySelector('[data-testid="attention"]') as HTMLElement).hidden).toBe(true);
    expect((row.querySelector('[data-testid="git-error"]') as HTMLElement).hidden).toBe(true);
  });

  it("shows a failed git status pass (the extra git_error key)", () => {
    const { show } = mount();
    show([workspace(1, { git_error: "timed out after 30 s" })]);
    const err = q('[data-testid="workspace-repo-001"] [data-testid="git-error"]');
    expect(err.hidden).toBe(false);
    expect(err.textContent).toContain("timed out after 30 s");
  });

  it("highlights attention with state and summary", () => {
    const { show } = mount();
    const w = workspace(1);
    w.sessions[1] = session("repo-001-b", { nudge_state: "needs_input", nudge_summary: "Approve the plan?" });
    show([w]);
    const s = q('[data-testid="session-repo-001-b"]');
    expect(s.classList.contains("needs-attention")).toBe(true);
    const a = s.querySelector('[data-testid="attention"]') as HTMLElement;
    expect(a.hidden).toBe(false);
    expect(a.textContent).toContain("Needs input");
    expect(a.textContent).toContain("Approve the plan?");
  });

  it("keeps DOM nodes of unchanged rows and patches only what changed", () => {
    const { show } = mount();
    const ws = Array.from({ length: 100 }, (_, i) => workspace(i + 1));
    show(ws);
    const before = [...document.querySelectorAll("[data-workspace-id]")];
    const untouchedSession = q('[data-testid="session-repo-050-b"]');
    const observer = new MutationObserver(() => undefined);
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    const next = ws.map((w) => ({ ...w, sessions: w.sessions.map((s) => ({ ...s })) })); // fresh objects, same data
    next[6] = { ...next[6]!, git_ahead: 2 };
    show(next);
    const records = observer.takeRecords();
    observer.disconnect();
    const after = [...document.querySelectorAll("[data-workspace-id]")];
    expect(after).toEqual(before); // same nodes, same order
    expect(q('[data-testid="session-repo-050-b"]')).toBe(untouchedSession);
    expect(q('[data-testid="workspace-repo-007"] [data-testid="git-ahead"]').textContent).toBe("2");
    const touchedRows = new Set(
      records.map((r) => (r.target instanceof Element ? r.target : r.target.parentElement)!.closest("[data-workspace-id]")),
    );
    expect([...touchedRows].map((el) => (el as HTMLElement).dataset.workspaceId)).toEqual(["repo-007"]);
  });

  it("renders 100 workspaces x 3 sessions updated every second quickly", () => {
    const { show } = mount();
    let ws = Array.from({ length: 100 }, (_, i) => workspace(i + 1));
    show(ws);
    const t0 = performance.now();
    for (let tick = 0; tick < 20; tick++) {
      ws = ws.map((w, i) => (i % 10 === tick % 10 ? { ...w, git_lines_added: tick, sessions: w.sessions.map((s) => ({ ...s, last_output_at: new Date(NOW - tick * 1000).toISOString() })) } : w));
      show(ws);
    }
    const perUpdate = (performance.now() - t0) / 20;
    expect(perUpdate).toBeLessThan(50); // generous for jsdom on a slow CI core; ~1-3 ms typical
  });

  it("adds, removes and reorders keyed rows", () => {
    const { list } = mount();
    const a = workspace(1), b = workspace(2), c = workspace(3);
    list.update(visibleWorkspaces([a, b, c], "all", "name"), NOW);
    const nodeB = q('[data-testid="workspace-repo-002"]');
    list.update(visibleWorkspaces([c, b], "all", "name"), NOW);
    const ids = [...document.querySelectorAll<HTMLElement>("[data-workspace-id]")].map((e) => e.dataset.workspaceId);
    expect(ids).toEqual(["repo-002", "repo-003"]);
    expect(q('[data-testid="workspace-repo-002"]')).toBe(nodeB);
    // sort by changes puts repo-003 first: moved, not rebuilt
    const c2 = { ...c, git_lines_added: 100 };
    list.update(visibleWorkspaces([b, c2], "all", "changes"), NOW);
    const ids2 = [...document.querySelectorAll<HTMLElement>("[data-workspace-id]")].map((e) => e.dataset.workspaceId);
    expect(ids2).toEqual(["repo-003", "repo-002"]);
    expect(q('[data-testid="workspace-repo-002"]')).toBe(nodeB);
  });

  it("an open rename field keeps its text and focus across updates, even when its row moves", async () => {
    const { list } = mount();
    const a = workspace(1), b = workspace(2);
    list.update(visibleWorkspaces([a, b], "all", "changes"), NOW);
    const row = q('[data-testid="session-repo-002-a"]');
    (row.querySelector('[data-testid="rename-button"]') as HTMLButtonElement).click();
    const input = row.querySelector('[data-testid="rename-input"]') as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    input.value = "half-typ";
    // a push moves repo-002 to the top and changes its session's data
    const b2 = { ...b, git_lines_added: 9, sessions: b.sessions.map((s) => ({ ...s, running: false })) };
    list.update(visibleWorkspaces([a, b2], "all", "changes"), NOW);
    expect(document.querySelector("[data-workspace-id]")!.getAttribute("data-workspace-id")).toBe("repo-002");
    expect(row.querySelector('[data-testid="rename-input"]')).toBe(input);
    expect(input.value).toBe("half-typ");
    expect(document.activeElement).toBe(input);
    expect(row.querySelector('[data-testid="run-state"]')!.textContent).toBe("Stopped");
  });

  it("rename shows the server's 409 text next to the field and keeps it open", async () => {
    const acts = actions({ rename: vi.fn(async () => ({ ok: false as const, status: 409, error: "nickname 'x' is taken" })) });
    const { show } = mount(acts);
    show([workspace(1)]);
    const row = q('[data-testid="session-repo-001-a"]');
    (row.querySelector('[data-testid="rename-button"]') as HTMLButtonElement).click();
    const input = row.querySelector('[data-testid="rename-input"]') as HTMLInputElement;
    input.value = "x";
    (row.querySelector('[data-testid="rename-save"]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(row.querySelector('[data-testid="rename-error"]')!.textContent).toBe("nickname 'x' is taken"));
    expect(acts.rename).toHaveBeenCalledWith("repo-001-a", "x");
    expect(row.querySelector('[data-testid="rename-input"]')).toBe(input);
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(row.querySelector('[data-testid="rename-input"]')).toBeNull();
  });

  it("wires dispose, copy and spawn-into buttons", async () => {
    const acts = actions();
    const { show } = mount(acts);
    show([workspace(1)]);
    q('[data-testid="session-repo-001-c"] [data-testid="dispose-session"]').click();
    expect(acts.disposeSession).toHaveBeenCalledWith(expect.objectContaining({ id: "repo-001-c" }), expect.objectContaining({ id: "repo-001" }));
    q('[data-testid="workspace-repo-001"] [data-testid="dispose-workspace"]').click();
    expect(acts.disposeWorkspace).toHaveBeenCalledWith(expect.objectContaining({ id: "repo-001" }));
    q('[data-testid="workspace-repo-001"] [data-testid="spawn-into-workspace"]').click();
    expect(acts.spawnInto).toHaveBeenCalled();
    q('[data-testid="session-repo-001-a"] [data-testid="copy-attach"]').click();
    expect(acts.copy).toHaveBeenCalledWith("tmux -S /d/tmux.sock attach -t repo-001-a", "attach command");
    expect(q('[data-testid="session-repo-001-a"] [data-testid="open-session"]').getAttribute("href")).toBe("#/session/repo-001-a");
  });
});

describe("WorkspaceList with other hosts", () => {
  const hosts = normalizeHosts([
    { name: "gpu-box", state: "connected", since: "2024-01-15T10:00:00Z", error: "", latency_ms: 8 },
    { name: "lab", state: "offline", since: "2024-01-15T10:38:00Z", error: "connection refused" },
  ]);
  const local = workspace(1);
  const gpu = workspace(2, { id: "gpu-box:repo-002", host: "gpu-box" });
  const lab = workspace(3, { id: "lab:repo-003", host: "lab" });

  it("renders one header per machine before its cards, and marks a dropped host's cards stale", () => {
    const list = new WorkspaceList(actions());
    document.body.replaceChildren(list.el);
    const all = [local, gpu, lab];
    list.update(visibleWorkspaces(all, "all", "name"), NOW, hosts, all);
    const order = [...list.el.children].map((el) => (el as HTMLElement).dataset.host ?? (el as HTMLElement).dataset.testid);
    expect(order).toEqual(["", "workspace-repo-001", "gpu-box", "workspace-gpu-box:repo-002", "lab", "workspace-lab:repo-003"]);
    const labHeader = list.el.querySelector('[data-host="lab"]') as HTMLElement;
    expect(labHeader.dataset.state).toBe("offline");
    expect(labHeader.querySelector('[data-testid="host-state"]')!.textContent).toContain("connection refused");
    expect(labHeader.querySelector('[data-testid="host-note"]')!.textContent).toBe("Showing the last state this host sent.");
    expect(q('[data-testid="workspace-lab:repo-003"]').classList.contains("is-host-stale")).toBe(true);
    expect(q('[data-testid="workspace-gpu-box:repo-002"]').classList.contains("is-host-stale")).toBe(false);
    expect((list.el.querySelector('[data-host="gpu-box"] [data-testid="host-state"]') as HTMLElement).textContent).toBe("connected · 8 ms");
    expect((list.el.querySelector('[data-host=""] [data-testid="host-state"]') as HTMLElement).hidden).toBe(true);

    // The host comes back: the same card element, no longer stale.
    const card = q('[data-testid="workspace-lab:repo-003"]');
    const back = normalizeHosts([hosts[0], { name: "lab", state: "connected", since: "2024-01-15T10:39:00Z", error: "" }]);
    list.update(visibleWorkspaces(all, "all", "name"), NOW, back, all);
    expect(q('[data-testid="workspace-lab:repo-003"]')).toBe(card);
    expect(card.classList.contains("is-host-stale")).toBe(false);
  });

  it("stays a flat list without hosts", () => {
    const { list, show } = mount();
    show([local]);
    expect(list.el.querySelector('[data-testid="host-section"]')).toBeNull();
  });
});
