import { describe, expect, it } from "vitest";
import { Api, newRequestId } from "./api";

function fakeFetch(status: number, body: string, calls: { url: string; init?: RequestInit }[] = []) {
  return async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return new Response(body, { status, statusText: status === 500 ? "Internal Server Error" : "" });
  };
}

describe("Api", () => {
  it("sends JSON with the token in the header, no cookies, and returns data", async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    const api = new Api(
      fakeFetch(200, JSON.stringify([{ session_id: "s", workspace_id: "w", target: "t", nickname: "" }]), calls),
      () => ({ Authorization: "Bearer t0k" }),
    );
    const r = await api.spawn({ repo: "demo", branch: "main", targets: { shell: 1 } });
    expect(r.ok).toBe(true);
    expect(calls[0]!.url).toBe("/api/spawn");
    expect(calls[0]!.init!.method).toBe("POST");
    expect(calls[0]!.init!.credentials).toBe("omit");
    const headers = calls[0]!.init!.headers as Record<string, string>;
    expect(headers.Authorization).toBe("Bearer t0k");
    expect(headers["Content-Type"]).toBe("application/json");
    expect(JSON.parse(calls[0]!.init!.body as string)).toEqual({ repo: "demo", branch: "main", targets: { shell: 1 } });
  });

  it("sends every write as JSON, an empty object when there is no body; reads send none", async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    const api = new Api(fakeFetch(200, "{}", calls), () => ({}));
    await api.disposeSession("s1");
    await api.getConfig();
    expect(calls[0]!.init!.body).toBe("{}");
    expect((calls[0]!.init!.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
    expect(calls[1]!.init!.body).toBeUndefined();
    expect((calls[1]!.init!.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it("a 401 says signed out and tells onSignedOut", async () => {
    const api = new Api(fakeFetch(401, JSON.stringify({ error: "the token is wrong" })), () => ({}));
    let told = 0;
    api.onSignedOut = () => told++;
    const r = await api.getConfig();
    expect(r.ok === false && r.error).toMatch(/^Signed out/);
    expect(told).toBe(1);
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
    expect(unauth.ok === false && unauth.error).toMatch(/\?token=/);
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
