// Sign-in without an ambient credential (docs/PROTOCOL.md "Authentication").
//
// The address the app prints ends in `?token=…`. The page keeps that token in this origin's own
// storage (scheme, host and port: another port of the same host cannot read it), takes it out of
// the address bar, and sends it as `Authorization: Bearer` on every request. No cookie carries it:
// cookies reach every port of a host. A WebSocket cannot send that header, so each connection
// first fetches a one-time ticket with it and names the ticket in the socket's address.
//
// A 401 anywhere means "signed out" (a wrong token, or the server restarted with a new one): the
// page says so and stops retrying, instead of reconnecting forever.

export const TOKEN_KEY = "schmux-desktop.token";

export const SIGNED_OUT_MESSAGE =
  "Signed out — open the address the app printed when it started (the one ending in ?token=…).";

type StorageLike = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function defaultStorage(): StorageLike | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

/** This page's copy, for when storage is refused (then new tabs need the address again). */
let memoryToken: string | null = null;

/** Move `?token=` from the address into storage; returns the address to show instead (or null). */
export function takeTokenFromAddress(href: string, storage: StorageLike | undefined = defaultStorage()): string | null {
  const url = new URL(href);
  const token = url.searchParams.get("token");
  if (token === null) return null;
  if (token) {
    memoryToken = token;
    try {
      storage?.setItem(TOKEN_KEY, token);
    } catch {
      /* refused (private mode, full): this page keeps memoryToken */
    }
  }
  url.searchParams.delete("token");
  return url.pathname + url.search + url.hash;
}

export function storedToken(storage: StorageLike | undefined = defaultStorage()): string | null {
  try {
    return storage?.getItem(TOKEN_KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

/** Called at the very start of every page: the token leaves the address bar at once. */
export function captureToken(): void {
  const shown = takeTokenFromAddress(location.href);
  if (shown !== null) history.replaceState(history.state, "", shown);
}

export function authHeaders(token: string | null = storedToken()): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export type SocketAddress = { kind: "url"; url: string } | { kind: "signed-out"; reason: string } | { kind: "error"; reason: string };

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** The address of a WebSocket on this server, with a fresh one-time ticket. */
export async function socketAddress(
  path: string,
  loc: Pick<Location, "protocol" | "host">,
  fetchImpl: FetchLike = (i, init) => fetch(i, init),
  token: string | null = storedToken(),
): Promise<SocketAddress> {
  let res: Response;
  try {
    res = await fetchImpl("/api/ws-ticket", {
      method: "POST",
      credentials: "omit",
      headers: { Accept: "application/json", "Content-Type": "application/json", ...authHeaders(token) },
      body: "{}",
    });
  } catch (e) {
    return { kind: "error", reason: e instanceof Error ? e.message : String(e) };
  }
  if (res.status === 401) return { kind: "signed-out", reason: SIGNED_OUT_MESSAGE };
  if (!res.ok) return { kind: "error", reason: `${res.status} ${res.statusText}`.trim() };
  let ticket = "";
  try {
    const body = (await res.json()) as { ticket?: unknown };
    if (typeof body.ticket === "string") ticket = body.ticket;
  } catch {
    /* below */
  }
  if (!ticket) return { kind: "error", reason: "the server sent no ticket" };
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const sep = path.includes("?") ? "&" : "?";
  return { kind: "url", url: `${scheme}//${loc.host}${path}${sep}ticket=${encodeURIComponent(ticket)}` };
}
