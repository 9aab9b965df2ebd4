// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { Api } from "../api";
import type { DiffBody } from "../diffview/diffBody";
import { unified } from "../linediff";
import type { FileDiff } from "../types";
import { ReviewComments, span, statusLabel, where, workingLine } from "./reviewComments";

describe("review comment helpers", () => {
  it("names a line or a range", () => {
    expect(where({ path: "a.py", line: 3, end_line: null })).toBe("a.py:3");
    expect(where({ path: "a.py", line: 3, end_line: 3 })).toBe("a.py:3");
    expect(where({ path: "a.py", line: 3, end_line: 7 })).toBe("a.py:3-7");
    expect(span(7, 3)).toEqual({ line: 3, end_line: 7 });
    expect(span(4, 4)).toEqual({ line: 4 });
  });

  it("says auto-addressed and outdated", () => {
    expect(statusLabel({ status: "addressed", addressed_by: "auto", outdated: true })).toBe("auto-addressed · outdated");
    expect(statusLabel({ status: "addressed", addressed_by: "user", outdated: false })).toBe("addressed");
    expect(statusLabel({ status: "sent", addressed_by: null, outdated: false })).toBe("sent");
  });
});

// The diff's side of the contract, as DiffBody offers it: widgets under a line, a redraw.
function fakeBody(): { body: DiffBody; widgets: Map<string, HTMLElement> } {
  const widgets = new Map<string, HTMLElement>();
  const el = document.createElement("div");
  const body = {
    el,
    redraw: () => undefined,
    addWidget: (side: string, line: number, w: HTMLElement) => {
      widgets.set(`${side}:${line}`, w);
      el.append(w);
    },
    removeWidget: (w: HTMLElement) => {
      for (const [k, v] of widgets) if (v === w) widgets.delete(k);
      w.remove();
    },
  };
  document.body.append(el);
  return { body: body as unknown as DiffBody, widgets };
}

const FILE: FileDiff = {
  old_path: "a.txt",
  new_path: "a.txt",
  status: "modified",
  binary: false,
  truncated: false,
  lines_added: 1,
  lines_removed: 1,
  old_content: "one\ntwo\nthree\nfour\n",
  new_content: "one\ntwo, new\nthree\nfour\n",
} as FileDiff;

function fakeApi(): { api: Api; calls: { method: string; url: string; body: unknown }[] } {
  const calls: { method: string; url: string; body: unknown }[] = [];
  const api = new Api(
    async (input, init) => {
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method: init?.method ?? "GET", url: String(input), body });
      let answer: unknown = {};
      if (String(input).endsWith("/review/pending") && init?.method === "POST") {
        const drafts = (body as { comments: Record<string, unknown>[] }).comments;
        answer = { status: "ok", comments: drafts.map((d, i) => ({ id: `c-${i}`, status: "pending", quote: null, outdated: false, addressed_by: null, end_line: null, ...d })) };
      } else if (String(input).endsWith("/review/pending")) answer = { comments: [] };
      else if (String(input).endsWith("/reviews")) answer = { rounds: [] };
      return new Response(JSON.stringify(answer), { status: 200 });
    },
    () => ({}),
  );
  return { api, calls };
}

describe("workingLine", () => {
  it("maps a deleted line to where it was, an unchanged one to its new number", () => {
    const lines = unified(FILE.old_content, FILE.new_content);
    expect(workingLine(lines, "new", 3)).toBe(3);
    expect(workingLine(lines, "old", 2)).toBe(2); // "two" deleted: where "two, new" stands
    expect(workingLine(lines, "old", 4)).toBe(4);
    expect(workingLine(unified("a\nb\n", ""), "old", 1)).toBeNull(); // nothing left to point at
  });
});

describe("ReviewComments", () => {
  it("a click then a shift-click picks a range, drawn by lineClass, kept in the pending round on the server", async () => {
    const { api, calls } = fakeApi();
    const rc = new ReviewComments({ api, toast: () => undefined, storage: null }, (p, l) => `#${p}:${l}`);
    const { body, widgets } = fakeBody();
    rc.attach(body);
    rc.open("ws-001");
    rc.setFile(FILE);
    rc.hooks.line("a.txt", 2, "old"); // the deleted line
    expect(widgets.get("new:2")!.querySelector('[data-testid="review-comment-where"]')!.textContent).toBe("a.txt:2");
    rc.hooks.line("a.txt", 4, "new", new MouseEvent("click", { shiftKey: true }));
    expect(widgets.has("new:2")).toBe(false);
    const box = widgets.get("new:4")!;
    expect(box.querySelector('[data-testid="review-comment-where"]')!.textContent).toBe("a.txt:2-4");
    expect([1, 2, 3, 4, 5].map((n) => rc.hooks.lineClass!("new", n))).toEqual(["", "is-selected-line", "is-selected-line", "is-selected-line", ""]);
    box.querySelector("textarea")!.value = "range comment";
    box.querySelector<HTMLButtonElement>('[data-testid="review-comment-add"]')!.click();
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(calls.find((c) => c.method === "POST")).toEqual({
      method: "POST",
      url: "/api/workspaces/ws-001/review/pending",
      body: { comments: [{ path: "a.txt", line: 2, end_line: 4, body: "range comment" }] },
    });
    expect(widgets.size).toBe(0);
    expect(rc.el.querySelector('[data-testid="review-pending-item"]')!.textContent).toContain("a.txt:2-4");
    expect(rc.hooks.lineClass!("new", 3)).toBe("has-comment"); // the comment's lines are marked
  });
});
