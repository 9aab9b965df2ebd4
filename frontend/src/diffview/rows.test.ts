import { describe, expect, it } from "vitest";
import { unified } from "../linediff";
import { hunkStarts, nextHunk, pairChanges, rowOfLine, splitRows, unifiedRows } from "./rows";

const OLD = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n";
const NEW = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nK1\nK2\nl\nm\n";

describe("split pairing", () => {
  it("pairs the i-th removed line with the i-th added one, extras against an empty side", () => {
    const lines = unified(OLD, NEW);
    const rows = splitRows(lines);
    const pairs = rows.filter((r) => r.type === "split").map((r) => (r.type === "split" ? [r.left?.text ?? null, r.right?.text ?? null] : []));
    expect(pairs).toContainEqual(["b", "B"]);
    expect(pairs).toContainEqual(["k", "K1"]);
    expect(pairs).toContainEqual([null, "K2"]);
    expect(pairs).toContainEqual([null, "m"]);
    expect(pairs).toContainEqual(["c", "c"]);
    // line numbers follow each side
    const kRow = rows.find((r) => r.type === "split" && r.left?.text === "k");
    expect(kRow).toMatchObject({ left: { kind: "del", line: 11 }, right: { kind: "add", line: 11 } });
    const mRow = rows.find((r) => r.type === "split" && r.right?.text === "m");
    expect(mRow).toMatchObject({ left: null, right: { kind: "add", line: 14 } });
    expect(rows.some((r) => r.type === "gap")).toBe(true);
  });

  it("in the unified view, partners point at each other", () => {
    const lines = unified("x\ny\n", "X\nY\nZ\n");
    const p = pairChanges(lines);
    const kinds = lines.map((l) => l.kind);
    expect(kinds).toEqual(["del", "del", "add", "add", "add"]);
    expect([...p]).toEqual([2, 3, 0, 1, -1]);
    const rows = unifiedRows(lines);
    expect(rows[0]).toMatchObject({ type: "line", partner: 2 });
  });

  it("an added file has no pairs and one row per line", () => {
    const rows = splitRows(unified(undefined, "1\n2\n"));
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.type === "split" && r.left === null)).toBe(true);
  });
});

describe("hunks", () => {
  it("finds each hunk's first row and steps between them", () => {
    for (const rows of [unifiedRows(unified(OLD, NEW)), splitRows(unified(OLD, NEW))]) {
      const starts = hunkStarts(rows);
      expect(starts).toHaveLength(3); // b→B; k→K1,K2; +m (an unchanged line between)
      expect(nextHunk(starts, -1, 1)).toBe(starts[0]);
      expect(nextHunk(starts, starts[0]!, 1)).toBe(starts[1]);
      expect(nextHunk(starts, starts[2]!, 1)).toBeNull();
      expect(nextHunk(starts, starts[1]!, -1)).toBe(starts[0]);
      expect(nextHunk(starts, starts[0]!, -1)).toBeNull();
    }
  });

  it("finds the row of a line on either side", () => {
    const rows = splitRows(unified(OLD, NEW));
    const r = rowOfLine(rows, 12, "new");
    expect(rows[r]).toMatchObject({ right: { text: "K2" } });
    expect(rowOfLine(rows, 99, "new")).toBe(-1);
  });
});
