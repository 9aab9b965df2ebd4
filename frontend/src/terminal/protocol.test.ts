import { describe, expect, it } from "vitest";
import {
  applyTerminalMessage,
  INPUT_CHUNK,
  inputFrames,
  parseTerminalMessage,
  resizeFrame,
  runStateLabel,
  splitInput,
  type TerminalSink,
  terminalSocketPath,
} from "./protocol";

/** Records what the view would do to xterm.js; `write` callbacks run at once (in order). */
class FakeSink implements TerminalSink {
  calls: string[] = [];
  rows = 24;
  screen = "";
  reset(): void {
    this.calls.push("reset");
    this.screen = "";
  }
  setRows(rows: number): void {
    this.calls.push(`rows ${rows}`);
    this.rows = rows;
  }
  write(data: string, done?: () => void): void {
    this.calls.push(`write ${JSON.stringify(data)}`);
    this.screen += data;
    done?.();
  }
  refit(): void {
    this.calls.push("refit");
    this.rows = 30;
  }
}

const feed = (sink: FakeSink, msg: unknown) => {
  const m = parseTerminalMessage(JSON.stringify(msg));
  if (m) applyTerminalMessage(sink, m);
  return m;
};

describe("parseTerminalMessage", () => {
  it("reads full, append and error frames", () => {
    expect(parseTerminalMessage('{"type":"full","content":"a\\r\\nb","rows":40,"running":true,"exit_status":null}')).toEqual({
      type: "full",
      content: "a\r\nb",
      rows: 40,
      running: true,
      exit_status: null,
    });
    expect(parseTerminalMessage('{"type":"append","content":"x"}')).toEqual({ type: "append", content: "x" });
    expect(parseTerminalMessage('{"type":"error","error":"bad"}')).toEqual({ type: "error", error: "bad" });
  });

  it("takes a full without rows (the pane is gone) and an exit status", () => {
    expect(parseTerminalMessage('{"type":"full","content":"bye","running":false,"exit_status":3}')).toEqual({
      type: "full",
      content: "bye",
      rows: null,
      running: false,
      exit_status: 3,
    });
  });

  it("ignores malformed and unknown frames", () => {
    for (const bad of ["", "nope", "[]", "null", '{"type":"full"}', '{"type":"append","content":5}', '{"type":"sessions"}', '{"content":"x"}']) {
      expect(parseTerminalMessage(bad), bad).toBeNull();
    }
    expect(parseTerminalMessage('{"type":"full","content":"","rows":-1}')?.type).toBe("full");
    expect((parseTerminalMessage('{"type":"full","content":"","rows":2.5}') as { rows: number | null }).rows).toBeNull();
  });
});

describe("applyTerminalMessage", () => {
  it("full resets, writes at the pane's rows, then refits to the window", () => {
    const sink = new FakeSink();
    feed(sink, { type: "full", content: "one\r\ntwo\x1b[2;4H", rows: 40, running: true, exit_status: null });
    expect(sink.calls).toEqual(["reset", "rows 40", `write ${JSON.stringify("one\r\ntwo\x1b[2;4H")}`, "refit"]);
  });

  it("full with the same rows does not resize before writing", () => {
    const sink = new FakeSink();
    sink.rows = 40;
    feed(sink, { type: "full", content: "x", rows: 40, running: true, exit_status: null });
    expect(sink.calls).toEqual(["reset", 'write "x"', "refit"]);
  });

  it("appends write as they come; a later full starts over", () => {
    const sink = new FakeSink();
    feed(sink, { type: "full", content: "$ ", rows: 24, running: true, exit_status: null });
    feed(sink, { type: "append", content: "l" });
    feed(sink, { type: "append", content: "s\r\n" });
    feed(sink, { type: "append", content: "" });
    expect(sink.screen).toBe("$ ls\r\n");
    sink.calls = [];
    feed(sink, { type: "full", content: "exited (status 3)", running: false, exit_status: 3 });
    // The ended process's cursor is hidden.
    expect(sink.calls).toEqual(["reset", `write ${JSON.stringify("exited (status 3)\x1b[?25l")}`, "refit"]);
    expect(sink.screen).toBe("exited (status 3)\x1b[?25l");
  });

  it("error frames leave the terminal alone", () => {
    const sink = new FakeSink();
    feed(sink, { type: "error", error: "frames must be JSON objects" });
    expect(sink.calls).toEqual([]);
  });
});

describe("input frames", () => {
  it("sends small input as one frame, literally", () => {
    expect(inputFrames("ls -l\r")).toEqual(['{"type":"input","data":"ls -l\\r"}']);
    expect(inputFrames("\x03")).toEqual(['{"type":"input","data":"\\u0003"}']);
    expect(inputFrames("")).toEqual([]);
  });

  it("splits a big paste into frames under 64 KiB that join back to the original", () => {
    const paste = "echo é😀\x1b[A\r".repeat(20_000); // multi-byte, astral and escaped characters
    const frames = inputFrames(paste);
    expect(frames.length).toBeGreaterThan(1);
    const enc = new TextEncoder();
    for (const f of frames) expect(enc.encode(f).length).toBeLessThanOrEqual(64 * 1024);
    const parts = frames.map((f) => (JSON.parse(f) as { data: string }).data);
    expect(parts.join("")).toBe(paste);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(INPUT_CHUNK);
      expect(p).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/); // no split surrogate pair
    }
  });

  it("worst case: every character escaped still fits one frame", () => {
    const frames = inputFrames("\x01".repeat(INPUT_CHUNK * 2));
    expect(frames).toHaveLength(2);
    for (const f of frames) expect(new TextEncoder().encode(f).length).toBeLessThanOrEqual(64 * 1024);
  });

  it("never splits a surrogate pair at the boundary", () => {
    expect(splitInput("ab😀cd", 3)).toEqual(["ab", "😀c", "d"]);
    expect(splitInput("abc", 3)).toEqual(["abc"]);
    expect(() => splitInput("x", 1)).toThrow(RangeError);
  });

  it("builds resize frames", () => {
    expect(JSON.parse(resizeFrame(120, 40))).toEqual({ type: "resize", cols: 120, rows: 40 });
  });
});

describe("helpers", () => {
  it("builds the socket path, the id escaped", () => {
    expect(terminalSocketPath("demo-001-ab")).toBe("/ws/terminal/demo-001-ab");
    expect(terminalSocketPath("a/b c")).toBe("/ws/terminal/a%2Fb%20c");
  });

  it("labels the run state", () => {
    expect(runStateLabel(true, null)).toBe("Running");
    expect(runStateLabel(false, null)).toBe("Stopped");
    expect(runStateLabel(false, 3)).toBe("Stopped · exit 3");
    expect(runStateLabel(false, 0)).toBe("Done");
  });
});
