import { describe, expect, it } from "vitest";
import {
  Backoff,
  BACKOFF_FACTOR,
  BACKOFF_INITIAL_MS,
  BACKOFF_JITTER,
  BACKOFF_MAX_MS,
  backoffBase,
  backoffBounds,
  backoffDelay,
} from "./backoff";

describe("backoff schedule", () => {
  it("starts at the initial delay and doubles up to the cap", () => {
    expect(BACKOFF_INITIAL_MS).toBe(500);
    expect(BACKOFF_MAX_MS).toBe(30_000);
    expect(BACKOFF_FACTOR).toBe(2);
    const bases = Array.from({ length: 10 }, (_, i) => backoffBase(i));
    expect(bases).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    expect(backoffBase(10_000)).toBe(BACKOFF_MAX_MS);
    expect(backoffBase(-3)).toBe(BACKOFF_INITIAL_MS);
  });

  it("with neutral jitter returns the base", () => {
    expect(backoffDelay(0, () => 0.5)).toBe(500);
    expect(backoffDelay(3, () => 0.5)).toBe(4000);
  });

  it("keeps jitter within ±BACKOFF_JITTER and never above the cap", () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const [low, high] = backoffBounds(attempt);
      const base = backoffBase(attempt);
      expect(low).toBeCloseTo(base * (1 - BACKOFF_JITTER));
      expect(high).toBeLessThanOrEqual(BACKOFF_MAX_MS);
      for (const r of [0, 1e-9, 0.25, 0.5, 0.75, 0.999999, 1]) {
        const d = backoffDelay(attempt, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(low));
        expect(d).toBeLessThanOrEqual(Math.ceil(high));
      }
    }
    // extremes of the random source hit the bounds
    expect(backoffDelay(0, () => 0)).toBe(400);
    expect(backoffDelay(0, () => 1)).toBe(600);
    expect(backoffDelay(12, () => 0)).toBe(24_000);
    expect(backoffDelay(12, () => 1)).toBe(30_000);
  });

  it("spreads delays when the random source varies (many tabs do not retry in lockstep)", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(backoffDelay(4));
    expect(seen.size).toBeGreaterThan(20);
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(8000 * 0.8);
      expect(d).toBeLessThanOrEqual(8000 * 1.2);
    }
  });
});

describe("Backoff", () => {
  it("grows with each failure and resets after a successful open", () => {
    const b = new Backoff(() => 0.5);
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000, 4000]);
    expect(b.failureCount).toBe(4);
    b.reset();
    expect(b.failureCount).toBe(0);
    expect(b.next()).toBe(500);
  });

  it("stays at the cap however many failures", () => {
    const b = new Backoff(() => 0.5);
    let last = 0;
    for (let i = 0; i < 100; i++) last = b.next();
    expect(last).toBe(BACKOFF_MAX_MS);
  });
});
