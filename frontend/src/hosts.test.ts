import { describe, expect, it } from "vitest";
import { groupByHost, hostCounts, hostStateText, isStaleHost, normalizeHosts } from "./hosts";
import { applyMessage, initialState } from "./state";
import { makeSession, makeWorkspace } from "./testing";
import { visibleWorkspaces } from "./view";

const NOW = Date.parse("2024-01-15T10:40:00Z");

const hostsMsg = [
  { name: "gpu-box", state: "connected", since: "2024-01-15T10:00:00Z", error: "", latency_ms: 12.4, repos: [{ name: "ml", url: "/src/ml" }], run_targets: [{ name: "claude", type: "promptable" }] },
  { name: "lab", state: "offline", since: "2024-01-15T10:38:00Z", error: "connection refused" },
];

describe("normalizeHosts", () => {
  it("keeps well-formed entries with defaults and drops the rest", () => {
    const hosts = normalizeHosts([...hostsMsg, null, { state: "connected" }, { name: "" }, { name: "x", state: "weird" }]);
    expect(hosts.map((h) => h.name)).toEqual(["gpu-box", "lab", "x"]);
    expect(hosts[0]).toMatchObject({ latency_ms: 12.4, repos: [{ name: "ml", url: "/src/ml" }], run_targets: [{ name: "claude", type: "promptable", command: "" }] });
    expect(hosts[1]).toMatchObject({ state: "offline", latency_ms: null, repos: [], error: "connection refused" });
    // An unknown state reads as "not connected yet", never as connected.
    expect(hosts[2]!.state).toBe("reconnecting");
    expect(normalizeHosts("nope")).toEqual([]);
  });

  it("arrives through the reducer as its own message", () => {
    const s = applyMessage(initialState, { type: "hosts", hosts: hostsMsg } as never, NOW);
    expect(s.hosts.map((h) => [h.name, h.state])).toEqual([
      ["gpu-box", "connected"],
      ["lab", "offline"],
    ]);
    expect(applyMessage(s, { type: "hosts", hosts: "bad" } as never, NOW)).toBe(s);
  });
});

describe("groupByHost", () => {
  const local = makeWorkspace("demo-001", [makeSession("s1")], { host: "" });
  const gpu = makeWorkspace("gpu-box:ml-001", [makeSession("gpu-box:s2", { running: false, exit_status: 0 }), makeSession("gpu-box:s3")], { host: "gpu-box" });
  const lab = makeWorkspace("lab:x-001", [], { host: "lab" });
  const stray = makeWorkspace("old:y-001", [], { host: "old" });
  const all = [local, gpu, lab, stray];
  const hosts = normalizeHosts(hostsMsg);

  it("puts this machine first, then hosts in config order, then unknown ones; counts per host", () => {
    const groups = groupByHost(visibleWorkspaces(all, "all", "name"), all, hosts);
    expect(groups.map((g) => [g.host, g.items.map((i) => i.workspace.id), g.stale])).toEqual([
      ["", ["demo-001"], false],
      ["gpu-box", ["gpu-box:ml-001"], false],
      ["lab", ["lab:x-001"], true],
      ["old", ["old:y-001"], true],
    ]);
    expect(groups[1]!.totals).toMatchObject({ workspaces: 1, sessions: 2, running: 1, done: 1 });
    expect(hostCounts(groups[1]!.totals)).toBe("1 workspace · 2 sessions · 1 running");
  });

  it("shows a host even when the filter hides all of its workspaces", () => {
    const groups = groupByHost(visibleWorkspaces(all, "running", "name"), all, hosts);
    const labGroup = groups.find((g) => g.host === "lab")!;
    expect(labGroup.items).toEqual([]);
    expect(labGroup.totals.workspaces).toBe(1);
  });

  it("marks only a remote host that is not connected as stale", () => {
    expect(isStaleHost("", hosts)).toBe(false);
    expect(isStaleHost("gpu-box", hosts)).toBe(false);
    expect(isStaleHost("lab", hosts)).toBe(true);
    expect(isStaleHost("unknown", hosts)).toBe(true);
  });
});

describe("hostStateText", () => {
  const [gpu, lab] = normalizeHosts(hostsMsg);
  it("says latency when connected, and since when with the error otherwise", () => {
    expect(hostStateText(null, NOW)).toBe("this machine");
    expect(hostStateText(gpu!, NOW)).toBe("connected · 12 ms");
    expect(hostStateText(lab!, NOW)).toBe("offline (2m ago): connection refused");
    expect(hostStateText({ ...lab!, state: "reconnecting", error: "" }, NOW)).toBe("reconnecting (lost 2m ago)");
  });
});
