import { describe, expect, it, vi } from "vitest";
import { isNeedsInput, needsInputSnapshot, newlyNeedingInput, notificationText, NOTIFY_PREF_KEY, Notifier, type NotifierEnv } from "./notify";
import { makeSession, makeWorkspace } from "./testing";
import type { Session, Workspace } from "./types";

const session = (id: string, nudge_state = "", extra: Partial<Session> = {}): Session =>
  makeSession(id, {
    target: "claude",
    created_at: "2024-01-15T10:30:00Z",
    nudge_state,
    nudge_summary: nudge_state ? "Allow edit? [y/n]" : "",
    nudge_source: nudge_state ? "detector" : "",
    workspace_id: "demo-001",
    ...extra,
  });

const ws = (...sessions: Session[]): Workspace[] => [
  makeWorkspace("demo-001", sessions, { branch: "fix-1", path: "/w/demo-001" }),
];

const ids = (found: { session: Session }[]) => found.map((f) => f.session.id);

describe("which sessions newly need input", () => {
  it("recognises the state however it is spelled", () => {
    for (const s of ["Needs Input", "needs input", "needs_input", "Needs-Input", " NEEDS  INPUT "]) expect(isNeedsInput(s), s).toBe(true);
    for (const s of ["", "Exited", "Needs Review", "input"]) expect(isNeedsInput(s), s).toBe(false);
  });

  it("never notifies for the first snapshot", () => {
    expect(newlyNeedingInput(null, ws(session("a", "Needs Input")))).toEqual([]);
  });

  it("notifies once per transition into Needs Input", () => {
    let prev = needsInputSnapshot(ws(session("a"), session("b", "Needs Input")));
    const next = ws(session("a", "Needs Input"), session("b", "Needs Input"));
    expect(ids(newlyNeedingInput(prev, next))).toEqual(["a"]); // b was already waiting
    prev = needsInputSnapshot(next);
    // Still waiting (even with a new summary): nothing new.
    expect(newlyNeedingInput(prev, ws(session("a", "Needs Input", { nudge_summary: "other" }), session("b", "Needs Input")))).toEqual([]);
  });

  it("ignores other states and counts a return to Needs Input", () => {
    let prev = needsInputSnapshot(ws(session("a", "Needs Input")));
    expect(newlyNeedingInput(prev, ws(session("a", "Exited")))).toEqual([]);
    prev = needsInputSnapshot(ws(session("a", "Exited")));
    expect(ids(newlyNeedingInput(prev, ws(session("a", "Needs Input"))))).toEqual(["a"]);
    prev = needsInputSnapshot(ws(session("a")));
    expect(newlyNeedingInput(prev, ws(session("a", "Exited")))).toEqual([]);
  });

  it("counts a session that appeared already needing input", () => {
    const prev = needsInputSnapshot(ws(session("a")));
    expect(ids(newlyNeedingInput(prev, ws(session("a"), session("new", "needs_input"))))).toEqual(["new"]);
  });
});

class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
}

function fakeApi(initial: NotificationPermission, answer: NotificationPermission = "granted") {
  const made: { title: string; options?: NotificationOptions; onclick: ((ev: Event) => unknown) | null; closed: boolean }[] = [];
  const api = class {
    static permission: NotificationPermission = initial;
    static requestPermission = vi.fn(async () => {
      api.permission = answer;
      return answer;
    });
    onclick: ((ev: Event) => unknown) | null = null;
    closed = false;
    constructor(
      public title: string,
      public options?: NotificationOptions,
    ) {
      made.push(this);
    }
    close() {
      this.closed = true;
    }
  };
  return { api, made };
}

const found = (s: Session) => ({ session: s, workspace: ws(s)[0]! });

describe("Notifier", () => {
  it("is off until clicked on; asks for permission only then; notifies and opens the session on click", async () => {
    const storage = new MemoryStorage();
    const { api, made } = fakeApi("default");
    const opened: string[] = [];
    const n = new Notifier({ storage: storage as unknown as Storage, api } as NotifierEnv, (id) => opened.push(id));
    expect(n.supported).toBe(true);
    expect(n.enabled).toBe(false);
    expect(api.requestPermission).not.toHaveBeenCalled();
    expect(n.notify(found(session("a", "Needs Input")))).toBe(false);

    expect(await n.setEnabled(true)).toEqual({ enabled: true });
    expect(api.requestPermission).toHaveBeenCalledTimes(1);
    expect(storage.getItem(NOTIFY_PREF_KEY)).toBe("on");

    expect(n.notify(found(session("a", "Needs Input", { nickname: "fixer" })))).toBe(true);
    expect(made).toHaveLength(1);
    expect(made[0]!.title).toBe("fixer needs input");
    expect(made[0]!.options?.body).toContain("Allow edit? [y/n]");
    expect(made[0]!.options?.body).toContain("demo @ fix-1");
    made[0]!.onclick?.(new Event("click"));
    expect(opened).toEqual(["a"]);
    expect(made[0]!.closed).toBe(true);

    await n.setEnabled(false);
    expect(n.enabled).toBe(false);
    expect(storage.getItem(NOTIFY_PREF_KEY)).toBe("off");
    expect(n.notify(found(session("a", "Needs Input")))).toBe(false);
  });

  it("stays off when the browser refuses", async () => {
    const { api } = fakeApi("default", "denied");
    const n = new Notifier({ api } as NotifierEnv, () => {});
    const res = await n.setEnabled(true);
    expect(res.enabled).toBe(false);
    expect(n.enabled).toBe(false);
  });

  it("remembers the setting, but not past a revoked permission", () => {
    const storage = new MemoryStorage();
    storage.setItem(NOTIFY_PREF_KEY, "on");
    expect(new Notifier({ storage: storage as unknown as Storage, api: fakeApi("granted").api } as NotifierEnv, () => {}).enabled).toBe(true);
    expect(new Notifier({ storage: storage as unknown as Storage, api: fakeApi("denied").api } as NotifierEnv, () => {}).enabled).toBe(false);
  });

  it("uses the desktop app's hook instead, on by default and without asking", () => {
    const hook = vi.fn();
    const { api, made } = fakeApi("default");
    const n = new Notifier({ api, desktop: () => ({ notify: hook }) } as NotifierEnv, () => {});
    expect(n.enabled).toBe(true);
    expect(n.notify(found(session("s-1", "Needs Input")))).toBe(true);
    expect(hook).toHaveBeenCalledWith("claude needs input", expect.stringContaining("Allow edit?"), "s-1");
    expect(made).toHaveLength(0);
    expect(api.requestPermission).not.toHaveBeenCalled();
  });

  it("respects an explicit off in the desktop app", () => {
    const storage = new MemoryStorage();
    storage.setItem(NOTIFY_PREF_KEY, "off");
    const hook = vi.fn();
    const n = new Notifier({ storage: storage as unknown as Storage, desktop: () => ({ notify: hook }) } as NotifierEnv, () => {});
    expect(n.enabled).toBe(false);
    n.notify(found(session("a", "Needs Input")));
    expect(hook).not.toHaveBeenCalled();
  });

  it("is unsupported with neither a hook nor the API", async () => {
    const n = new Notifier({}, () => {});
    expect(n.supported).toBe(false);
    expect((await n.setEnabled(true)).enabled).toBe(false);
  });
});

describe("notification text", () => {
  it("names the host of a session on another machine, and not this machine's", () => {
    const session = makeSession("gpu-box:s1", { nickname: "fixer", nudge_state: "Needs Input", nudge_summary: "Proceed?" });
    const remote = makeWorkspace("gpu-box:ml-001", [session], { host: "gpu-box", short_repo: "ml", branch: "fix" });
    expect(notificationText({ session, workspace: remote })).toEqual({ title: "fixer needs input on gpu-box", body: "Proceed?\nml @ fix" });
    const here = makeWorkspace("ml-001", [session], { host: "", short_repo: "ml", branch: "fix" });
    expect(notificationText({ session, workspace: here }).title).toBe("fixer needs input");
  });
});
