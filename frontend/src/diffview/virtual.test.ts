import { describe, expect, it } from "vitest";
import { Heights, scrollToShow, visibleRange } from "./virtual";

describe("virtual window", () => {
  it("shows only the rows in the viewport plus overscan", () => {
    const hs = new Heights(100_000, 20);
    expect(hs.total()).toBe(2_000_000);
    expect(visibleRange(hs, 0, 400, 0)).toEqual([0, 21]);
    expect(visibleRange(hs, 10_000, 400, 100)).toEqual([495, 526]);
    expect(visibleRange(hs, 1_999_900, 400, 0)).toEqual([99_995, 100_000]);
    expect(visibleRange(new Heights(0, 20), 0, 400, 0)).toEqual([0, 0]);
  });
  it("measured heights move everything below them", () => {
    const hs = new Heights(10, 20);
    expect(hs.set(2, 100)).toBe(true);
    expect(hs.set(2, 100)).toBe(false);
    expect(hs.top(3)).toBe(140);
    expect(hs.total()).toBe(280);
    expect(hs.indexAt(139)).toBe(2);
    expect(hs.indexAt(140)).toBe(3);
    expect(hs.indexAt(10_000)).toBe(9);
  });
  it("scrolls just enough to show a row", () => {
    const hs = new Heights(100, 20);
    expect(scrollToShow(hs, 5, 0, 400)).toBe(0);
    expect(scrollToShow(hs, 50, 0, 400)).toBe(1000);
    expect(scrollToShow(hs, 50, 0, 400, "center")).toBe(810);
  });
});
