import { describe, expect, it } from "vitest";
import { DEFAULT_PREFS, DIFF_VIEW_KEY, loadDiffView, loadPrefs, PREFS_KEY, saveDiffView, savePrefs } from "./prefs";
import { parseRoute, reviewHref, sessionHref } from "./router";

class MemStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
}

describe("prefs", () => {
  it("round-trips through storage", () => {
    const s = new MemStorage();
    expect(loadPrefs(s)).toEqual(DEFAULT_PREFS);
    savePrefs(s, { filter: "attention", sort: "activity" });
    expect(loadPrefs(s)).toEqual({ filter: "attention", sort: "activity" });
  });
  it("falls back to defaults on junk, unknown values or a throwing storage", () => {
    const s = new MemStorage();
    s.setItem(PREFS_KEY, "{oops");
    expect(loadPrefs(s)).toEqual(DEFAULT_PREFS);
    s.setItem(PREFS_KEY, JSON.stringify({ filter: "weird", sort: "activity" }));
    expect(loadPrefs(s)).toEqual({ filter: "all", sort: "activity" });
    const throwing = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
    };
    expect(loadPrefs(throwing)).toEqual(DEFAULT_PREFS);
    expect(() => savePrefs(throwing, DEFAULT_PREFS)).not.toThrow();
    expect(loadPrefs(undefined)).toEqual(DEFAULT_PREFS);
  });
});

describe("router", () => {
  it("parses session routes and falls back to the dashboard", () => {
    expect(parseRoute("#/session/abc-123")).toEqual({ name: "session", sessionId: "abc-123" });
    expect(parseRoute(sessionHref("a b/c"))).toEqual({ name: "session", sessionId: "a b/c" });
    expect(parseRoute("")).toEqual({ name: "dashboard" });
    expect(parseRoute("#/")).toEqual({ name: "dashboard" });
    expect(parseRoute("#/session/%E0%A4%A")).toEqual({ name: "dashboard" });
  });
});

describe("diff view pref", () => {
  it("remembers unified or split, unified for anything else", () => {
    const s = new MemStorage();
    expect(loadDiffView(s)).toBe("unified");
    saveDiffView(s, "split");
    expect(loadDiffView(s)).toBe("split");
    s.setItem(DIFF_VIEW_KEY, "sideways");
    expect(loadDiffView(s)).toBe("unified");
    expect(loadPrefs(s)).toEqual(DEFAULT_PREFS); // the dashboard's prefs are not touched
  });
});

describe("review deep links", () => {
  it("carry the file and the view, and read back", () => {
    const href = reviewHref("proj-001", "src/a b+c.py", "split");
    expect(href).toBe("#/review/proj-001?file=src%2Fa%20b%2Bc.py&view=split");
    expect(parseRoute(href)).toEqual({ name: "review", workspaceId: "proj-001", file: "src/a b+c.py", view: "split", line: null });
    expect(parseRoute("#/review/proj-001")).toEqual({ name: "review", workspaceId: "proj-001", file: null, view: null, line: null });
    expect(parseRoute(reviewHref("w", "a.py", null, 42))).toMatchObject({ file: "a.py", line: 42 });
    expect(parseRoute("#/review/w?file=a.py&line=-3")).toMatchObject({ line: null });
    expect(parseRoute("#/review/proj-001?view=weird")).toMatchObject({ view: null });
    expect(reviewHref("proj-001")).toBe("#/review/proj-001");
  });
  it("knows the overlap matrix route", () => {
    expect(parseRoute("#/conflicts")).toEqual({ name: "conflicts" });
    expect(parseRoute("#/conflicts/")).toEqual({ name: "conflicts" });
  });
});
