import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SocketAddress } from "./auth";
import { OFFLINE_AFTER_FAILURES } from "./backoff";
import {
  type ConnectionStatus,
  DashboardConnection,
  type SocketLike,
  describeStatus,
} from "./connection";

class FakeSocket implements SocketLike {
  onopen: ((ev: Event) => unknown) | null = null;
  onclose: ((ev: CloseEvent) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  onmessage: ((ev: MessageEvent) => unknown) | null = null;
  closed = false;
  constructor(public url: string) {}
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.onopen?.({} as Event);
  }
  message(data: string): void {
    this.onmessage?.({ data } as MessageEvent);
  }
  fail(): void {
    this.onerror?.({} as Event);
    this.onclose?.({} as CloseEvent);
  }
}

function setup(online = () => true) {
  const sockets: FakeSocket[] = [];
  const statuses: ConnectionStatus[] = [];
  const messages: string[] = [];
  const failed: number[] = [];
  const conn = new DashboardConnection({
    url: "ws://example.test/ws/dashboard",
    onMessage: (d) => messages.push(d),
    onStatus: (s) => statuses.push(s),
    onFailedAttempt: (n) => failed.push(n),
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => 0.5,
    now: () => Date.now(),
    isOnline: online,
  });
  return { conn, sockets, statuses, messages, failed };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("DashboardConnection with an address found per try (tickets)", () => {
  function setupAsync(answers: SocketAddress[]) {
    const sockets: FakeSocket[] = [];
    const statuses: ConnectionStatus[] = [];
    let asked = 0;
    const conn = new DashboardConnection({
      url: async () => answers[Math.min(asked++, answers.length - 1)]!,
      onMessage: () => undefined,
      onStatus: (s) => statuses.push(s),
      createSocket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      random: () => 0.5,
    });
    return { conn, sockets, statuses, asked: () => asked };
  }

  it("asks for a fresh address on every try", async () => {
    const { conn, sockets, asked } = setupAsync([
      { kind: "url", url: "ws://h/ws/dashboard?ticket=a" },
      { kind: "url", url: "ws://h/ws/dashboard?ticket=b" },
    ]);
    conn.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets.map((s) => s.url)).toEqual(["ws://h/ws/dashboard?ticket=a"]);
    sockets[0]!.fail();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets[1]!.url).toBe("ws://h/ws/dashboard?ticket=b");
    expect(asked()).toBe(2);
  });

  it("a refused ticket means signed out: said once, never retried", async () => {
    const { conn, sockets, statuses, asked } = setupAsync([{ kind: "signed-out", reason: "Signed out — open it" }]);
    conn.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(0);
    const last = statuses.at(-1)!;
    expect(last).toEqual({ state: "signed-out", reason: "Signed out — open it" });
    expect(describeStatus(last, 0).word).toBe("Signed out");
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(asked()).toBe(1);
    conn.retryNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(asked()).toBe(1);
  });

  it("a server it cannot reach is retried as before (not signed out)", async () => {
    const { conn, statuses, asked } = setupAsync([
      { kind: "error", reason: "Failed to fetch" },
      { kind: "url", url: "ws://h/ws/dashboard?ticket=c" },
    ]);
    conn.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(statuses.at(-1)!.state).toBe("waiting");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(asked()).toBe(2);
  });

  it("an address that arrives after stop() opens nothing", async () => {
    const { conn, sockets } = setupAsync([{ kind: "url", url: "ws://h/x" }]);
    conn.start();
    conn.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(0);
  });

  it("signOut from a REST 401 stops a live connection", async () => {
    const { conn, sockets, statuses } = setupAsync([{ kind: "url", url: "ws://h/x" }]);
    conn.start();
    await vi.advanceTimersByTimeAsync(0);
    sockets[0]!.open();
    conn.signOut("Signed out");
    expect(sockets[0]!.closed).toBe(true);
    expect(statuses.at(-1)!.state).toBe("signed-out");
  });
});

describe("DashboardConnection", () => {
  it("connects, forwards text frames and reports Connected", () => {
    const { conn, sockets, statuses, messages } = setup();
    conn.start();
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.url).toBe("ws://example.test/ws/dashboard");
    sockets[0]!.open();
    sockets[0]!.message('{"type":"sessions","workspaces":[]}');
    expect(messages).toEqual(['{"type":"sessions","workspaces":[]}']);
    expect(statuses.at(-1)!.state).toBe("connected");
    expect(describeStatus(statuses.at(-1)!, Date.now()).word).toBe("Connected");
  });

  it("retries with growing delays and resets the schedule after a successful open", () => {
    const { conn, sockets, statuses } = setup();
    conn.start();
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      sockets.at(-1)!.fail();
      const s = statuses.at(-1)!;
      expect(s.state).toBe("waiting");
      if (s.state === "waiting") waits.push(s.retryAt - Date.now());
      vi.advanceTimersByTime(waits.at(-1)! - 1);
      expect(sockets).toHaveLength(i + 1); // not yet
      vi.advanceTimersByTime(1);
      expect(sockets).toHaveLength(i + 2); // retried
    }
    expect(waits).toEqual([500, 1000, 2000]);
    sockets.at(-1)!.open();
    sockets.at(-1)!.fail();
    const s = statuses.at(-1)!;
    expect(s.state === "waiting" && s.retryAt - Date.now()).toBe(500);
    expect(describeStatus(s, Date.now())).toEqual({ word: "Reconnecting", detail: "retry in 1s" });
  });

  it("counts down to the next retry", () => {
    const { conn, sockets, statuses } = setup();
    conn.start();
    sockets[0]!.open();
    for (let i = 0; i < 5; i++) {
      sockets.at(-1)!.fail();
      vi.advanceTimersByTime((statuses.at(-1) as { retryAt: number }).retryAt - Date.now());
    }
    sockets.at(-1)!.fail(); // 6th failure: waits 16 s
    const s = statuses.at(-1)!;
    expect(describeStatus(s, Date.now()).detail).toBe("retry in 16s");
    expect(describeStatus(s, Date.now() + 10_500).detail).toBe("retry in 6s");
  });

  it("says Offline after several failures but keeps retrying", () => {
    const { conn, sockets, statuses } = setup();
    conn.start();
    sockets[0]!.open();
    for (let i = 0; i < OFFLINE_AFTER_FAILURES + 3; i++) {
      sockets.at(-1)!.fail();
      const s = statuses.at(-1)!;
      const word = describeStatus(s, Date.now()).word;
      expect(word).toBe(i + 1 >= OFFLINE_AFTER_FAILURES ? "Offline" : "Reconnecting");
      vi.runOnlyPendingTimers();
    }
    expect(sockets.length).toBe(OFFLINE_AFTER_FAILURES + 4);
  });

  it("says Offline when the browser is offline", () => {
    let online = true;
    const { conn, sockets, statuses } = setup(() => online);
    conn.start();
    sockets[0]!.open();
    online = false;
    sockets[0]!.fail();
    expect(describeStatus(statuses.at(-1)!, Date.now()).word).toBe("Offline");
    online = true;
    conn.networkChanged(); // back online: retry at once
    expect(sockets).toHaveLength(2);
  });

  it("retryNow skips the wait and is ignored while connected", () => {
    const { conn, sockets } = setup();
    conn.start();
    sockets[0]!.fail();
    conn.retryNow();
    expect(sockets).toHaveLength(2);
    sockets[1]!.open();
    conn.retryNow();
    expect(sockets).toHaveLength(2);
    // the abandoned timer must not open a second socket later
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(2);
  });

  it("reports failed attempts that never opened, and handles error+close as one drop", () => {
    const { conn, sockets, failed, statuses } = setup();
    conn.start();
    sockets[0]!.fail(); // error then close
    expect(failed).toEqual([1]);
    expect(statuses.filter((s) => s.state === "waiting")).toHaveLength(1);
    vi.runOnlyPendingTimers();
    sockets[1]!.open();
    sockets[1]!.fail();
    expect(failed).toEqual([1]); // that one had opened
  });

  it("first attempt reads Offline (nothing to re-connect yet), never an unknown word", () => {
    const { conn, statuses } = setup();
    conn.start();
    expect(describeStatus(statuses[0]!, 0)).toEqual({ word: "Offline", detail: "connecting…" });
  });

  it("stop closes the socket and cancels retries", () => {
    const { conn, sockets } = setup();
    conn.start();
    sockets[0]!.fail();
    conn.stop();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("ignores binary frames and messages from a replaced socket", () => {
    const { conn, sockets, messages } = setup();
    conn.start();
    const first = sockets[0]!;
    first.open();
    first.onmessage?.({ data: new ArrayBuffer(2) } as MessageEvent);
    expect(messages).toEqual([]);
  });
});

describe("DashboardConnection as the terminal view uses it (/ws/terminal)", () => {
  class SendingSocket extends FakeSocket {
    sent: string[] = [];
    send(data: string): void {
      this.sent.push(data);
    }
    closeWith(code: number, reason: string): void {
      this.onclose?.({ code, reason } as CloseEvent);
    }
  }

  function setupTerminal(stopOn: (code: number, reason: string) => boolean) {
    const sockets: SendingSocket[] = [];
    const events: string[] = [];
    const conn = new DashboardConnection({
      url: "ws://example.test/ws/terminal/x",
      onMessage: () => {},
      onStatus: (s) => events.push(s.state),
      onOpen: () => events.push("open"),
      onClose: (code, reason) => {
        events.push(`close ${code} ${reason}`);
        return stopOn(code, reason);
      },
      createSocket: (url) => {
        const s = new SendingSocket(url);
        sockets.push(s);
        return s;
      },
      random: () => 0.5,
    });
    return { conn, sockets, events };
  }

  it("sends only while connected, and calls onOpen after the status", () => {
    const { conn, sockets, events } = setupTerminal(() => false);
    conn.start();
    expect(conn.send("early")).toBe(false);
    sockets[0]!.open();
    expect(events).toEqual(["connecting", "connected", "open"]);
    expect(conn.send('{"type":"input","data":"x"}')).toBe(true);
    expect(sockets[0]!.sent).toEqual(['{"type":"input","data":"x"}']);
    sockets[0]!.fail();
    expect(conn.send("late")).toBe(false);
  });

  it("stops reconnecting when onClose says so (the session was disposed)", () => {
    const { conn, sockets, events } = setupTerminal((code, reason) => code === 1000 && reason === "session disposed");
    conn.start();
    sockets[0]!.open();
    sockets[0]!.closeWith(1000, "session disposed");
    expect(events.at(-1)).toBe("close 1000 session disposed");
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(conn.send("x")).toBe(false);
  });

  it("reconnects after any other close", () => {
    const { conn, sockets } = setupTerminal((code, reason) => code === 1000 && reason === "session disposed");
    conn.start();
    sockets[0]!.open();
    sockets[0]!.closeWith(1006, "");
    vi.advanceTimersByTime(600);
    expect(sockets).toHaveLength(2);
  });
});
