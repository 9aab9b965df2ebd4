// Reconnect schedule for the dashboard socket: exponential, capped, jittered, reset after an open.

/** First retry waits about this long after a connection drops or fails. */
export const BACKOFF_INITIAL_MS = 500;
/** No retry ever waits longer than this. */
export const BACKOFF_MAX_MS = 30_000;
/** Each further failure multiplies the wait by this. */
export const BACKOFF_FACTOR = 2;
/** Each wait is spread by ±this fraction so many tabs do not retry in lockstep. */
export const BACKOFF_JITTER = 0.2;
/** After this many failures in a row the indicator says Offline (it keeps retrying). */
export const OFFLINE_AFTER_FAILURES = 4;

/** The un-jittered wait before retry number `attempt` (0-based), capped at BACKOFF_MAX_MS. */
export function backoffBase(attempt: number): number {
  const n = Math.max(0, Math.floor(attempt));
  // Past ~16 doublings the cap is reached anyway; avoid Infinity for huge n.
  const raw = BACKOFF_INITIAL_MS * Math.pow(BACKOFF_FACTOR, Math.min(n, 32));
  return Math.min(raw, BACKOFF_MAX_MS);
}

/** Bounds [low, high] that backoffDelay(attempt) stays within. */
export function backoffBounds(attempt: number): [number, number] {
  const base = backoffBase(attempt);
  return [base * (1 - BACKOFF_JITTER), Math.min(base * (1 + BACKOFF_JITTER), BACKOFF_MAX_MS)];
}

/** The jittered wait before retry number `attempt`; `random` returns a number in [0, 1). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = backoffBase(attempt);
  const r = Math.min(Math.max(random(), 0), 1);
  const jittered = base * (1 + BACKOFF_JITTER * (2 * r - 1));
  const [low, high] = backoffBounds(attempt);
  return Math.round(Math.min(Math.max(jittered, low), high));
}

/** Counts consecutive failures and hands out the next wait. */
export class Backoff {
  private failures = 0;

  constructor(private readonly random: () => number = Math.random) {}

  /** Failures since the last successful open. */
  get failureCount(): number {
    return this.failures;
  }

  /** Record one more failure and return how long to wait before the next try. */
  next(): number {
    const delay = backoffDelay(this.failures, this.random);
    this.failures += 1;
    return delay;
  }

  /** A connection opened: the next failure starts again from BACKOFF_INITIAL_MS. */
  reset(): void {
    this.failures = 0;
  }
}
