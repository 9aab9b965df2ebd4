// Hosts: the other machines whose agents this dashboard shows (docs/PROTOCOL.md#hosts). Pure:
// what the `hosts` message says, how workspaces group by host, and how a host's state reads.

import { formatRelative } from "./timefmt";
import type { RepoConfig, RunTarget, Workspace } from "./types";
import { type Totals, totals, type VisibleWorkspace } from "./view";

export type HostState = "connected" | "reconnecting" | "offline";

export interface HostStatus {
  name: string;
  state: HostState;
  /** When the state last changed (RFC 3339), null when unknown. */
  since: string | null;
  /** The last connection error ("" when none). */
  error: string;
  /** Round trip of the last ping to that host, null when not measured yet. */
  latency_ms: number | null;
  /** That host's own repositories and run targets (what a spawn there can choose), [] when unknown. */
  repos: RepoConfig[];
  run_targets: RunTarget[];
}

/** This machine's workspaces carry `host: ""`. */
export const LOCAL_HOST = "";

export const hostLabel = (name: string): string => (name === LOCAL_HOST ? "This machine" : name);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The well-formed entries of a `hosts` message; anything else is dropped. */
export function normalizeHosts(raw: unknown): HostStatus[] {
  if (!Array.isArray(raw)) return [];
  const out: HostStatus[] = [];
  for (const h of raw) {
    if (!isObject(h) || typeof h.name !== "string" || h.name === "") continue;
    const state: HostState = h.state === "connected" || h.state === "offline" ? h.state : "reconnecting";
    const repos = Array.isArray(h.repos)
      ? h.repos.filter(isObject).map((r) => ({ name: str(r.name), url: str(r.url) })).filter((r) => r.name || r.url)
      : [];
    const run_targets = Array.isArray(h.run_targets)
      ? h.run_targets
          .filter(isObject)
          .map((t) => ({ name: str(t.name), type: str(t.type) || "command", command: str(t.command) }))
          .filter((t) => t.name)
      : [];
    out.push({
      name: h.name,
      state,
      since: typeof h.since === "string" && h.since ? h.since : null,
      error: str(h.error),
      latency_ms: typeof h.latency_ms === "number" && Number.isFinite(h.latency_ms) ? h.latency_ms : null,
      repos,
      run_targets,
    });
  }
  return out;
}

export const hostOf = (w: Pick<Workspace, "host">): string => w.host ?? LOCAL_HOST;

/** A remote host's workspaces are stale while its link is not connected (its last state is shown). */
export function isStaleHost(host: string, hosts: readonly HostStatus[]): boolean {
  if (host === LOCAL_HOST) return false;
  const status = hosts.find((h) => h.name === host);
  return !status || status.state !== "connected";
}

export interface HostGroup {
  host: string;
  status: HostStatus | null;
  items: VisibleWorkspace[];
  /** Counts over all the host's workspaces, whatever the filter shows. */
  totals: Totals;
  stale: boolean;
}

/**
 * The visible workspaces split by host: this machine first, then the configured hosts in their
 * order (each shown even with nothing visible, so its state is always on screen), then any host the
 * payload names that the hosts message does not (yet) list. Order within a group is kept.
 */
export function groupByHost(visible: readonly VisibleWorkspace[], all: readonly Workspace[], hosts: readonly HostStatus[]): HostGroup[] {
  const names: string[] = [LOCAL_HOST, ...hosts.map((h) => h.name)];
  for (const w of all) if (!names.includes(hostOf(w))) names.push(hostOf(w));
  return names.map((host) => ({
    host,
    status: hosts.find((h) => h.name === host) ?? null,
    items: visible.filter((v) => hostOf(v.workspace) === host),
    totals: totals(all.filter((w) => hostOf(w) === host)),
    stale: isStaleHost(host, hosts),
  }));
}

/** "connected · 12 ms", "reconnecting (lost 2m ago): connection refused", "offline (1h ago): …". */
export function hostStateText(status: HostStatus | null, now: number): string {
  if (status === null) return "this machine";
  const since = status.since === null ? "" : formatRelative(status.since, now);
  const err = status.error ? `: ${status.error}` : "";
  switch (status.state) {
    case "connected":
      return status.latency_ms === null ? "connected" : `connected · ${Math.round(status.latency_ms)} ms`;
    case "reconnecting":
      return `reconnecting${since ? ` (lost ${since})` : ""}${err}`;
    default:
      return `offline${since ? ` (${since})` : ""}${err}`;
  }
}

/** "1 workspace · 2 sessions · 1 running": the short count of a host's header. */
export function hostCounts(t: Totals): string {
  return `${t.workspaces} workspace${t.workspaces === 1 ? "" : "s"} · ${t.sessions} session${t.sessions === 1 ? "" : "s"} · ${t.running} running`;
}
