// Relative and absolute time labels. Pure functions of (timestamp, now).

export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

// Building an Intl formatter is costly; 300 sessions re-render often, so build each once.
let dateFmt: Intl.DateTimeFormat | null = null;
let dateTimeFmt: Intl.DateTimeFormat | null = null;
const dateFormat = () => (dateFmt ??= new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric" }));
const dateTimeFormat = () =>
  (dateTimeFmt ??= new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }));

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "42s ago", "5m ago", "3h ago", "2d ago", "Jan 15" (older than 30 days). */
export function formatRelative(iso: string | null | undefined, now: number): string {
  const t = parseTime(iso);
  if (t === null) return "never";
  const age = now - t;
  // Small clock skew between server and browser shows up as a time slightly in the future.
  if (age < 5 * SECOND) return "just now";
  if (age < MINUTE) return `${Math.floor(age / SECOND)}s ago`;
  if (age < HOUR) return `${Math.floor(age / MINUTE)}m ago`;
  if (age < DAY) return `${Math.floor(age / HOUR)}h ago`;
  if (age < 30 * DAY) return `${Math.floor(age / DAY)}d ago`;
  return dateFormat().format(new Date(t));
}

/** Full local date and time, plus the UTC instant, for a tooltip. */
export function formatAbsolute(iso: string | null | undefined): string {
  const t = parseTime(iso);
  if (t === null) return "no output yet";
  const d = new Date(t);
  const local = dateTimeFormat().format(d);
  return `${local} (${d.toISOString().replace(/\.\d{3}Z$/, "Z")})`;
}

/** How long until the label of `iso` next changes, so a ticker can sleep just long enough. */
export function nextChangeIn(iso: string | null | undefined, now: number): number {
  const t = parseTime(iso);
  if (t === null) return Infinity;
  const age = Math.max(0, now - t);
  const step = age < MINUTE ? SECOND : age < HOUR ? MINUTE : age < DAY ? HOUR : DAY;
  return step - (age % step);
}
