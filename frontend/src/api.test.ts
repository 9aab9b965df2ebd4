import { describe, expect, it } from "vitest";
import { Api, newRequestId } from "./api";

function fakeFetch(status: number, body: string, calls: { url: string; init?: RequestInit }[] = []) {
  return async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return new Response(body, { status, statusText: status === 500 ? "Internal Server Error" : "" });
  };
}

describe("Api", () => {
  it("sends JSON with same-origin credentials and returns data", async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    const api = new Api(fakeFetch(200, JSON.stringify([{ session_id: "s", workspace_id: "w", target: "t", nickname: "" }]), calls));
    const r = await api.spawn({ repo: "demo", branch: "main", targets: { shell: 1 } });
    expect(r.ok).toBe(true);
    expect(calls[0]!.url).toBe("/api/spawn");
    expect(calls[0]!.init!.method).toBe("POST");
    expect(calls[0]!.init!.credentials).toBe("same-origin");
    expect(JSON.parse(calls[0]!.init!.body as string)).toEqual({ repo: "demo", branch: "main", targets: { shell: 1 } });
  });

  it("returns the server's error text as is", async () => {
    const api = new Api(fakeFetch(409, JSON.stringify({ error: "workspace has 2 unpushed commits" })));
    expect(await api.disposeWorkspace("demo-001")).toEqual({
      ok: false,
      status: 409,
      error: "workspace has 2 unpushed commits",
    });
  });

  it("explains non-JSON errors, 401 and network failures", async () => {
    expect(await new Api(fakeFetch(500, "<html>")).scan()).toMatchObject({ ok: false, error: "500 Internal Server Error" });
    const unauth = await new Api(fakeFetch(401, "")).getConfig();
    expect(unauth.ok === false && unauth.error).toMatch(/token/);
    const down = await new Api(async () => {
      throw new TypeError("Failed to fetch");
    }).healthz();
    expect(down).toMatchObject({ ok: false, status: 0 });
    expect(down.ok === false && down.error).toMatch(/Cannot reach the server/);
  });

  it("escapes ids in paths", async () => {
    const calls: { url: string }[] = [];
    await new Api(fakeFetch(200, "{}", calls)).rename("a/b", "x");
    expect(calls[0]!.url).toBe("/api/sessions-nickname/a%2Fb");
  });
});

describe("newRequestId", () => {
  it("is unique-ish and non-empty", () => {
    const a = newRequestId();
    expect(a.length).toBeGreaterThanOrEqual(32);
    expect(newRequestId()).not.toBe(a);
  });
});
