import { describe, expect, it } from "vitest";
import { authHeaders, SIGNED_OUT_MESSAGE, socketAddress, storedToken, takeTokenFromAddress, TOKEN_KEY } from "./auth";

function memoryStorage() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    m,
  };
}

describe("takeTokenFromAddress", () => {
  it("keeps the token in storage and gives the address without it", () => {
    const s = memoryStorage();
    expect(takeTokenFromAddress("http://127.0.0.1:8765/?token=ab%2Bcd%2Fef%3D%3D&x=1#/session/a", s)).toBe("/?x=1#/session/a");
    expect(s.m.get(TOKEN_KEY)).toBe("ab+cd/ef==");
    expect(storedToken(s)).toBe("ab+cd/ef==");
  });

  it("leaves an address without a token alone", () => {
    const s = memoryStorage();
    expect(takeTokenFromAddress("http://127.0.0.1:8765/#/session/a", s)).toBeNull();
    expect(s.m.size).toBe(0);
  });

  it("still works for this page when storage refuses", () => {
    const refusing = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
      removeItem: () => undefined,
    };
    expect(takeTokenFromAddress("http://h/?token=secret-token-123456", refusing)).toBe("/");
    expect(storedToken(refusing)).toBe("secret-token-123456");
  });
});

describe("authHeaders", () => {
  it("is a bearer header with a token, nothing without", () => {
    expect(authHeaders("t")).toEqual({ Authorization: "Bearer t" });
    expect(authHeaders(null)).toEqual({});
  });
});

describe("socketAddress", () => {
  const loc = { protocol: "http:", host: "127.0.0.1:8765" };

  it("fetches a one-time ticket with the header and names it in the socket's address", async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    const fetchImpl = async (url: string, init?: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ ticket: "t/+1" }), { status: 200 });
    };
    expect(await socketAddress("/ws/terminal/a%2Fb", loc, fetchImpl, "tok")).toEqual({
      kind: "url",
      url: "ws://127.0.0.1:8765/ws/terminal/a%2Fb?ticket=t%2F%2B1",
    });
    expect(calls[0]!.url).toBe("/api/ws-ticket");
    expect(calls[0]!.init!.method).toBe("POST");
    const headers = calls[0]!.init!.headers as Record<string, string>;
    expect(headers.Authorization).toBe("Bearer tok");
    expect(headers["Content-Type"]).toBe("application/json");
    const secure = await socketAddress("/ws/dashboard", { protocol: "https:", host: "box" }, fetchImpl, "tok");
    expect(secure).toEqual({ kind: "url", url: "wss://box/ws/dashboard?ticket=t%2F%2B1" });
  });

  it("a 401 is signed out; other failures are errors to retry", async () => {
    const status = (n: number) => async () => new Response("{}", { status: n });
    expect(await socketAddress("/ws/dashboard", loc, status(401), "x")).toEqual({ kind: "signed-out", reason: SIGNED_OUT_MESSAGE });
    expect((await socketAddress("/ws/dashboard", loc, status(503), "x")).kind).toBe("error");
    const down = async () => {
      throw new TypeError("Failed to fetch");
    };
    expect(await socketAddress("/ws/dashboard", loc, down, "x")).toEqual({ kind: "error", reason: "Failed to fetch" });
  });
});
