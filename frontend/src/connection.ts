// The one module that owns the dashboard WebSocket. Others get messages and status via callbacks.
//
//   connecting ──open──▶ connected ──close/error──▶ waiting(retryAt) ──timer or retryNow()──▶ connecting
//        ├──────────close/error (never opened)──────────▶ waiting
//        └──ticket refused (401)──▶ signed-out (final: no retry until start() again)
//
// Each try first asks for the socket's address (`url`): with a one-time ticket from the server
// (auth.ts), whose 401 means signed out.
//
// The client never sends anything on /ws/dashboard (a one-way push channel); the terminal view uses
// the same class for /ws/terminal/<id>, which also sends (`send`) and may be told to stop (`onClose`).

import type { SocketAddress } from "./auth";
import { Backoff, OFFLINE_AFTER_FAILURES } from "./backoff";

export type ConnectionStatus =
  | { state: "connecting"; failures: number; everConnected: boolean; offline: boolean }
  | { state: "connected"; since: number }
  | { state: "waiting"; retryAt: number; failures: number; everConnected: boolean; offline: boolean }
  | { state: "signed-out"; reason: string };

/** What the indicator says. `word` is exactly one of these words, and none other appears. */
export interface StatusLabel {
  word: "Connected" | "Reconnecting" | "Offline" | "Signed out";
  detail: string;
}

export function describeStatus(status: ConnectionStatus, now: number): StatusLabel {
  if (status.state === "connected") return { word: "Connected", detail: "live" };
  if (status.state === "signed-out") return { word: "Signed out", detail: "open the address the app printed" };
  // Offline: the browser says so, the server has not answered for several tries, or the very first
  // try is still under way (there is nothing to "re"-connect yet).
  const offline =
    status.offline ||
    status.failures >= OFFLINE_AFTER_FAILURES ||
    (!status.everConnected && status.failures === 0);
  const word = offline ? "Offline" : "Reconnecting";
  if (status.state === "connecting") return { word, detail: "connecting…" };
  const seconds = Math.max(0, Math.ceil((status.retryAt - now) / 1000));
  return { word, detail: `retry in ${seconds}s` };
}

/** The parts of the WebSocket API we use; a test passes a fake. */
export interface SocketLike {
  onopen: ((ev: Event) => unknown) | null;
  onclose: ((ev: CloseEvent) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  onmessage: ((ev: MessageEvent) => unknown) | null;
  close(code?: number, reason?: string): void;
  send?(data: string): void;
}

export interface ConnectionOptions {
  /** The socket's address, or a function that finds it for each try (a fresh ticket each time). */
  url: string | (() => Promise<SocketAddress>);
  onMessage: (data: string) => void;
  onStatus: (status: ConnectionStatus) => void;
  /** Called once per failed attempt to connect that never opened. */
  onFailedAttempt?: (failures: number) => void;
  /** The socket opened (after `onStatus` said connected). */
  onOpen?: () => void;
  /** The socket closed with this code and reason; return true to stop reconnecting. */
  onClose?: (code: number, reason: string) => boolean | void;
  createSocket?: (url: string) => SocketLike;
  random?: () => number;
  now?: () => number;
  isOnline?: () => boolean;
}

export class DashboardConnection {
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: Backoff;
  private everConnected = false;
  private stopped = true;
  /** Counts tries, so an address that arrives after stop() or a newer try is dropped. */
  private attempt = 0;
  private current: ConnectionStatus;
  private readonly now: () => number;
  private readonly isOnline: () => boolean;
  private readonly createSocket: (url: string) => SocketLike;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = new Backoff(opts.random);
    this.now = opts.now ?? (() => Date.now());
    this.isOnline = opts.isOnline ?? (() => (typeof navigator === "undefined" ? true : navigator.onLine !== false));
    this.createSocket = opts.createSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.current = { state: "connecting", failures: 0, everConnected: false, offline: false };
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.attempt++;
    this.clearTimer();
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onclose = s.onerror = s.onmessage = null;
      s.close(1000);
    }
  }

  /** Send one text frame; false when no socket is open. */
  send(data: string): boolean {
    const s = this.socket;
    if (this.stopped || s === null || this.current.state !== "connected" || !s.send) return false;
    try {
      s.send(data);
      return true;
    } catch {
      return false;
    }
  }

  /** The server said this client is not signed in: stop trying until start() is called again. */
  signOut(reason: string): void {
    this.stop();
    this.setStatus({ state: "signed-out", reason });
  }

  /** Skip the wait and try now (a click on the indicator, or the browser coming back online). */
  retryNow(): void {
    if (this.stopped || this.current.state !== "waiting") return;
    this.clearTimer();
    this.connect();
  }

  /** The browser's online/offline flag changed: refresh the status, retry at once when back online. */
  networkChanged(): void {
    if (this.current.state === "waiting") {
      if (this.isOnline()) this.retryNow();
      else this.setStatus({ ...this.current, offline: true });
    }
  }

  private connect(): void {
    this.setStatus({
      state: "connecting",
      failures: this.backoff.failureCount,
      everConnected: this.everConnected,
      offline: !this.isOnline(),
    });
    const url = this.opts.url;
    if (typeof url === "string") {
      this.open(url);
      return;
    }
    const attempt = ++this.attempt;
    void url().then(
      (address) => {
        if (this.stopped || attempt !== this.attempt) return;
        if (address.kind === "url") this.open(address.url);
        else if (address.kind === "signed-out") this.signOut(address.reason);
        else this.scheduleRetry(false);
      },
      () => {
        if (!this.stopped && attempt === this.attempt) this.scheduleRetry(false);
      },
    );
  }

  private open(url: string): void {
    let socket: SocketLike;
    try {
      socket = this.createSocket(url);
    } catch {
      this.scheduleRetry(false);
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.everConnected = true;
      this.backoff.reset();
      this.setStatus({ state: "connected", since: this.now() });
      this.opts.onOpen?.();
    };
    socket.onmessage = (ev: MessageEvent) => {
      if (this.socket !== socket) return;
      if (typeof ev.data === "string") this.opts.onMessage(ev.data);
    };
    // error is always followed by close; handle both but only once.
    const dropped = (ev?: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
      try {
        socket.close();
      } catch {
        /* already closed */
      }
      if (ev && this.opts.onClose?.(typeof ev.code === "number" ? ev.code : 1006, ev.reason ?? "") === true) {
        this.stop();
        return;
      }
      this.scheduleRetry(opened);
    };
    socket.onclose = (ev) => dropped(ev);
    socket.onerror = () => dropped();
  }

  private scheduleRetry(wasOpen: boolean): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    if (!wasOpen) this.opts.onFailedAttempt?.(this.backoff.failureCount);
    this.setStatus({
      state: "waiting",
      retryAt: this.now() + delay,
      failures: this.backoff.failureCount,
      everConnected: this.everConnected,
      offline: !this.isOnline(),
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private setStatus(status: ConnectionStatus): void {
    this.current = status;
    this.opts.onStatus(status);
  }
}
