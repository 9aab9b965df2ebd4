import { describe, expect, it } from "vitest";
import { formatAbsolute, formatRelative, nextChangeIn, parseTime } from "./timefmt";

const T = Date.parse("2024-01-15T10:30:00Z");

describe("formatRelative", () => {
  it("reads naturally at every scale", () => {
    const iso = "2024-01-15T10:30:00Z";
    expect(formatRelative(iso, T)).toBe("just now");
    expect(formatRelative(iso, T + 4_999)).toBe("just now");
    expect(formatRelative(iso, T + 42_000)).toBe("42s ago");
    expect(formatRelative(iso, T + 5 * 60_000 + 10)).toBe("5m ago");
    expect(formatRelative(iso, T + 3 * 3_600_000)).toBe("3h ago");
    expect(formatRelative(iso, T + 2 * 86_400_000)).toBe("2d ago");
    expect(formatRelative(iso, T + 40 * 86_400_000)).toMatch(/2024/);
  });
  it("treats a slightly future time (clock skew) as just now", () => {
    expect(formatRelative("2024-01-15T10:30:10Z", T)).toBe("just now");
  });
  it("says never for null or unparseable", () => {
    expect(formatRelative(null, T)).toBe("never");
    expect(formatRelative("garbage", T)).toBe("never");
  });
});

describe("formatAbsolute", () => {
  it("includes the UTC instant", () => {
    expect(formatAbsolute("2024-01-15T10:30:00Z")).toContain("2024-01-15T10:30:00Z");
    expect(formatAbsolute(null)).toBe("no output yet");
  });
});

describe("nextChangeIn", () => {
  it("waits until the label's next unit boundary", () => {
    const iso = "2024-01-15T10:30:00Z";
    expect(nextChangeIn(iso, T + 42_300)).toBe(700);
    expect(nextChangeIn(iso, T + 5 * 60_000 + 10)).toBe(60_000 - 10);
    expect(nextChangeIn(null, T)).toBe(Infinity);
  });
});

describe("parseTime", () => {
  it("parses RFC 3339", () => {
    expect(parseTime("2024-01-15T10:30:00Z")).toBe(T);
    expect(parseTime("")).toBeNull();
  });
});
