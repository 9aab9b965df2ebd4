// REST actions. Same origin, the token in the Authorization header (auth.ts; no cookie carries it).
// Every call resolves (never rejects) to ok/data or the server's error text, shown to the user as is;
// a 401 also tells `onSignedOut`.

import { authHeaders, SIGNED_OUT_MESSAGE } from "./auth";
import type { Config, DetectedTool, DiffResponse, DisposedSnapshot, QuickLaunch, ReviewComment, ReviewDraft, ReviewRound } from "./types";

export type ApiResult<T> = { ok: true; status: number; data: T } | { ok: false; status: number; error: string };

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface SpawnRequest {
  repo: string;
  branch: string;
  targets: Record<string, number>;
  prompt?: string;
  nickname?: string;
  workspace_id?: string;
  request_id?: string;
  /** Another machine's name (docs/API.md#hosts); absent for this machine. */
  host?: string;
}

/** A configured machine (config `hosts`, docs/API.md#hosts); the server blanks tokens it returns. */
export type HostEntry =
  | { name: string; url: string; token: string; has_token?: boolean }
  | { name: string; ssh: string; remote_port: number; token?: string; has_token?: boolean };

/** POST /api/hosts/test: whether that machine answers, as whom, how fast. */
export interface HostTestResult {
  ok: boolean;
  error: string;
  version?: string;
  latency_ms?: number;
}

export type SpawnItem =
  | { session_id: string; workspace_id: string; target: string; nickname: string }
  | { target: string; error: string };

export interface RestartResult {
  session_id: string;
  workspace_id: string;
  target: string;
  nickname: string;
  replaces: string;
}

export interface RestoreResult {
  workspace_id: string;
  branch?: string;
  /** Set when the workspace could not get its old branch back, saying what happened instead. */
  message?: string;
}

/** A workspace as a scan reports it (schmux's shape). */
export interface ScannedWorkspace {
  id: string;
  repo: string;
  branch: string;
  path: string;
}

export interface ScanResult {
  added: ScannedWorkspace[];
  removed: ScannedWorkspace[];
  updated: { old: ScannedWorkspace; new: ScannedWorkspace }[];
}

export class Api {
  /** Told of every 401 (a wrong token, or the server restarted with a new one). */
  onSignedOut: (() => void) | null = null;

  constructor(
    private readonly fetchImpl: FetchLike = (i, init) => fetch(i, init),
    private readonly headers: () => Record<string, string> = () => authHeaders(),
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> {
    const init: RequestInit = { method, credentials: "omit", headers: { Accept: "application/json", ...this.headers() } };
    // Every write is JSON, even without a body: the server refuses anything else (a form or a
    // text/plain body is what another site's page could send).
    if (body !== undefined || method !== "GET") {
      init.body = JSON.stringify(body ?? {});
      init.headers = { ...init.headers, "Content-Type": "application/json" };
    }
    let res: Response;
    try {
      res = await this.fetchImpl(path, init);
    } catch (e) {
      return { ok: false, status: 0, error: `Cannot reach the server (${e instanceof Error ? e.message : String(e)})` };
    }
    let payload: unknown = null;
    const text = await res.text().catch(() => "");
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = null;
      }
    }
    if (res.ok) return { ok: true, status: res.status, data: payload as T };
    if (res.status === 401) {
      this.onSignedOut?.();
      return { ok: false, status: 401, error: SIGNED_OUT_MESSAGE };
    }
    const err =
      typeof payload === "object" && payload !== null && typeof (payload as { error?: unknown }).error === "string"
        ? (payload as { error: string }).error
        : `${res.status} ${res.statusText || "error"}`.trim();
    return { ok: false, status: res.status, error: err };
  }

  healthz() {
    return this.request<{ status: string; version: string }>("GET", "/api/healthz");
  }
  getConfig() {
    return this.request<Config>("GET", "/api/config");
  }
  /** Configured run targets and agent CLIs found on the server's PATH. */
  detectTools() {
    return this.request<{ tools: DetectedTool[] }>("GET", "/api/detect-tools");
  }
  builtinQuickLaunch() {
    return this.request<QuickLaunch[]>("GET", "/api/builtin-quick-launch");
  }
  updateConfig(partial: Partial<Config>) {
    return this.request<unknown>("POST", "/api/config", partial);
  }
  /** Reach a machine as configured (or about to be): nothing is saved. */
  testHost(entry: HostEntry) {
    return this.request<HostTestResult>("POST", "/api/hosts/test", entry);
  }
  spawn(body: SpawnRequest) {
    return this.request<SpawnItem[]>("POST", "/api/spawn", body);
  }
  /** An ended session again: same target, workspace and nickname, a new id. */
  restartSession(id: string) {
    return this.request<RestartResult>("POST", `/api/sessions/${encodeURIComponent(id)}/restart`, {});
  }
  disposeSession(id: string) {
    return this.request<unknown>("POST", `/api/dispose/${encodeURIComponent(id)}`, {});
  }
  /** Without `force` the server refuses (409) to remove work that exists nowhere else. */
  disposeWorkspace(id: string, force = false) {
    return this.request<{ status: string; snapshot_id?: string | null }>(
      "POST",
      `/api/dispose-workspace/${encodeURIComponent(id)}`,
      force ? { force: true } : {},
    );
  }
  disposed() {
    return this.request<DisposedSnapshot[]>("GET", "/api/disposed");
  }
  restore(snapshotId: string) {
    return this.request<RestoreResult>("POST", `/api/disposed/${encodeURIComponent(snapshotId)}/restore`, {});
  }
  rename(id: string, nickname: string) {
    return this.request<unknown>("PUT", `/api/sessions-nickname/${encodeURIComponent(id)}`, { nickname });
  }
  scan() {
    return this.request<ScanResult>("POST", "/api/workspaces/scan", {});
  }
  /** The workspace's changes against HEAD ("head") or since it forked from the default branch ("branch"). */
  diff(workspaceId: string, base: "head" | "branch" = "head") {
    return this.request<DiffResponse>("GET", `/api/diff/${encodeURIComponent(workspaceId)}?base=${base}`);
  }
  /** The workspace's rounds sent, each comment where its lines are now. */
  reviews(workspaceId: string) {
    return this.request<{ rounds: ReviewRound[] }>("GET", `${reviewBase(workspaceId)}/reviews`);
  }
  /** The pending round: comments written, not yet sent. */
  pendingComments(workspaceId: string) {
    return this.request<{ comments: ReviewComment[] }>("GET", `${reviewBase(workspaceId)}/review/pending`);
  }
  addPendingComments(workspaceId: string, drafts: ReviewDraft[]) {
    return this.request<{ comments: ReviewComment[] }>("POST", `${reviewBase(workspaceId)}/review/pending`, { comments: drafts });
  }
  removePendingComment(workspaceId: string, commentId: string) {
    return this.request<unknown>("DELETE", `${reviewBase(workspaceId)}/review/pending/${encodeURIComponent(commentId)}`);
  }
  /** A sent comment marked addressed, or opened again. */
  markComment(workspaceId: string, roundId: string, index: number, addressed: boolean) {
    return this.request<unknown>("POST", `${reviewBase(workspaceId)}/reviews/mark`, { round_id: roundId, index, addressed });
  }
  /** Type the pending round (or the comments given) into one of the workspace's sessions. */
  review(workspaceId: string, sessionId: string, comments?: ReviewDraft[]) {
    return this.request<{ status: string; round_id: string }>("POST", `${reviewBase(workspaceId)}/review`, {
      session_id: sessionId,
      ...(comments ? { comments } : {}),
    });
  }
}

const reviewBase = (workspaceId: string): string => `/api/workspaces/${encodeURIComponent(workspaceId)}`;

/** A request id for matching workspace_progress messages to our spawn; works outside secure contexts. */
export function newRequestId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") {
    try {
      return c.randomUUID();
    } catch {
      /* insecure context in some browsers */
    }
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
