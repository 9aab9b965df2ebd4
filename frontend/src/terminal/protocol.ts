// /ws/terminal/<id> (docs/API.md#the-terminal-socket): parsing server frames, applying them to a
// terminal, and building client frames. Pure: no DOM, no xterm, no network.
//
//   server → client  {"type":"full","content","rows"?,"running","exit_status"}  reset, then write
//                    {"type":"append","content"}                                write
//                    {"type":"error","error"}                                   a bad client frame
//   client → server  {"type":"input","data"}  {"type":"resize","cols","rows"}

export type TerminalMessage =
  | { type: "full"; content: string; rows: number | null; running: boolean | null; exit_status: number | null }
  | { type: "append"; content: string }
  | { type: "error"; error: string };

/** The server rejects an input frame over 64 KiB. A chunk of this many UTF-16 code units stays well
 *  below that even when every character is escaped by JSON (\u001b is 6 bytes) or is 3 bytes of UTF-8. */
export const INPUT_CHUNK = 8192;

/** The close code and reason the server uses when the session was disposed: stop reconnecting. */
export const DISPOSED_CODE = 1000;
export const DISPOSED_REASON = "session disposed";

const HIDE_CURSOR = "\x1b[?25l";

export function terminalSocketPath(sessionId: string): string {
  return `/ws/terminal/${encodeURIComponent(sessionId)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** One server frame, or null for anything malformed or of an unknown type (ignored). */
export function parseTerminalMessage(data: string): TerminalMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(v)) return null;
  switch (v.type) {
    case "full":
      if (typeof v.content !== "string") return null;
      return {
        type: "full",
        content: v.content,
        rows: typeof v.rows === "number" && Number.isInteger(v.rows) && v.rows > 0 ? v.rows : null,
        running: typeof v.running === "boolean" ? v.running : null,
        exit_status: typeof v.exit_status === "number" ? v.exit_status : null,
      };
    case "append":
      return typeof v.content === "string" ? { type: "append", content: v.content } : null;
    case "error":
      return { type: "error", error: typeof v.error === "string" ? v.error : "error" };
    default:
      return null;
  }
}

/** What a terminal must do for the messages (xterm.js in the app, a recorder in tests). */
export interface TerminalSink {
  /** Clear screen and scrollback, back to the initial state. */
  reset(): void;
  readonly rows: number;
  /** Change the number of rows, keeping the columns. */
  setRows(rows: number): void;
  /** Queue output; `done` runs once it has been parsed (before anything written later). */
  write(data: string, done?: () => void): void;
  /** Fit the terminal to its box again (and tell the server the size). */
  refit(): void;
}

/**
 * Apply one message. A `full` resets the terminal and writes the capture into a screen with the
 * pane's row count (its trailing cursor escape is relative to the pane's visible screen), then
 * refits to the window once that is parsed: the terminal reflows like a real one does on resize,
 * and the refit reports our size so the pane follows.
 */
export function applyTerminalMessage(sink: TerminalSink, msg: TerminalMessage): void {
  switch (msg.type) {
    case "full": {
      sink.reset();
      if (msg.rows !== null && msg.rows !== sink.rows) sink.setRows(msg.rows);
      // A process that ended has no cursor worth showing over tmux's "exited" marker.
      const content = msg.running === false ? msg.content + HIDE_CURSOR : msg.content;
      sink.write(content, () => sink.refit());
      return;
    }
    case "append":
      if (msg.content) sink.write(msg.content);
      return;
    case "error":
      return;
  }
}

/** Split input into pieces of at most `max` code units, never between the halves of a surrogate pair. */
export function splitInput(data: string, max: number = INPUT_CHUNK): string[] {
  if (max < 2) throw new RangeError("max must be at least 2");
  const out: string[] = [];
  let i = 0;
  while (i < data.length) {
    let end = Math.min(i + max, data.length);
    if (end < data.length) {
      const last = data.charCodeAt(end - 1);
      if (last >= 0xd800 && last <= 0xdbff) end -= 1; // a high surrogate: keep it with its pair
    }
    out.push(data.slice(i, end));
    i = end;
  }
  return out;
}

/** The frames that send `data` as keystrokes (several for a big paste; none for ""). */
export function inputFrames(data: string, max: number = INPUT_CHUNK): string[] {
  return splitInput(data, max).map((part) => JSON.stringify({ type: "input", data: part }));
}

export function resizeFrame(cols: number, rows: number): string {
  return JSON.stringify({ type: "resize", cols, rows });
}

/** The header's words for the process state. */
export function runStateLabel(running: boolean, exitStatus: number | null): string {
  if (running) return "Running";
  if (exitStatus === 0) return "Done";
  return exitStatus === null ? "Stopped" : `Stopped · exit ${exitStatus}`;
}
