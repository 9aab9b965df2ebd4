import { describe, expect, it } from "vitest";
import { diffLines, unified } from "./linediff";

const kinds = (lines: { kind: string; text: string }[]): string[] => lines.map((l) => `${l.kind}:${l.text}`);

describe("diffLines", () => {
  it("finds the smallest edit, with both sides' line numbers", () => {
    const out = diffLines(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]);
    expect(kinds(out)).toEqual(["ctx:a", "del:b", "add:x", "ctx:c", "ctx:d", "add:e"]);
    expect(out[2]).toEqual({ kind: "add", text: "x", old: null, new: 2 });
    expect(out[4]).toEqual({ kind: "ctx", text: "d", old: 4, new: 4 });
  });

  it("handles an added and a deleted file", () => {
    expect(kinds(diffLines([], ["1", "2"]))).toEqual(["add:1", "add:2"]);
    expect(kinds(diffLines(["1"], []))).toEqual(["del:1"]);
  });

  it("stays fast on a large rewrite", () => {
    const a = Array.from({ length: 20_000 }, (_, i) => `old ${i}`);
    const b = Array.from({ length: 20_000 }, (_, i) => `new ${i}`);
    const t = performance.now();
    const out = diffLines(a, b);
    expect(out.length).toBe(40_000);
    expect(performance.now() - t).toBeLessThan(2000);
  });
});

describe("unified", () => {
  it("keeps three lines of context and folds the rest into gaps", () => {
    const old = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join("\n") + "\n";
    const neu = old.replace("l10\n", "ten\n");
    const out = unified(old, neu);
    expect(out[0]).toEqual({ kind: "gap", text: "", old: null, new: null, skipped: 6 });
    expect(kinds(out.slice(1, 10))).toEqual(["ctx:l7", "ctx:l8", "ctx:l9", "del:l10", "add:ten", "ctx:l11", "ctx:l12", "ctx:l13", "gap:"]);
    expect(out[9]!.skipped).toBe(7);
  });
});

describe("one side empty", () => {
  it("an added file of 30,000 lines is all additions, at once", () => {
    const text = Array.from({ length: 30_000 }, (_, i) => `line ${i}`).join("\n") + "\n";
    const t0 = performance.now();
    const lines = unified(undefined, text);
    const took = performance.now() - t0;
    expect(lines).toHaveLength(30_000);
    expect(lines.every((l) => l.kind === "add")).toBe(true);
    expect(lines[29_999]).toMatchObject({ new: 30_000, old: null, text: "line 29999" });
    expect(took).toBeLessThan(200);
  });
  it("a deleted file is all removals", () => {
    expect(unified("a\nb\n", "").map((l) => l.kind)).toEqual(["del", "del"]);
  });
});
