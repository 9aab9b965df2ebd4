// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { Api } from "../api";
import { ReviewComments, span, statusLabel, where } from "./reviewComments";

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

// A diff table as reviewView draws it: line 2 deleted, a line added at 3.
function diffTable(): HTMLElement {
  const box = document.createElement("div");
  const rows: [number | null, number | null, string][] = [
    [1, 1, "one"],
    [2, null, "two (deleted)"],
    [null, 2, "two, new"],
    [3, 3, "three"],
    [4, 4, "four"],
  ];
  box.innerHTML =
    "<table><tbody>" +
    rows
      .map(
        ([o, n, t]) =>
          `<tr data-path="a.txt"${n ? ` data-line="${n}"` : ""}${o ? ` data-old-line="${o}"` : ""}>` +
          `<td class="ln">${o ?? ""}</td><td class="ln">${n ?? ""}</td><td class="code">${t}</td></tr>`,
      )
      .join("") +
    "</tbody></table>";
  document.body.append(box);
  return box;
}

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

describe("ReviewComments", () => {
  it("shift-click selects a range and the comment goes to the pending round on the server", async () => {
    const { api, calls } = fakeApi();
    const rc = new ReviewComments({ api, toast: () => undefined, storage: null });
    const box = diffTable();
    rc.attach(box);
    rc.open("ws-001");
    const rows = box.querySelectorAll<HTMLElement>("tr");
    rows[1]!.querySelector(".code")!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    // a deleted line stands for the place it was at: line 2 of the working tree
    expect(box.querySelector('[data-testid="review-comment-where"]')!.textContent).toBe("a.txt:2");
    rows[4]!.querySelector(".code")!.dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true }));
    expect(box.querySelector('[data-testid="review-comment-where"]')!.textContent).toBe("a.txt:2-4");
    expect(box.querySelectorAll(".is-selected-line")).toHaveLength(4);
    box.querySelector<HTMLTextAreaElement>("textarea")!.value = "range comment";
    box.querySelector<HTMLButtonElement>('[data-testid="review-comment-add"]')!.click();
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    const post = calls.find((c) => c.method === "POST");
    expect(post).toEqual({
      method: "POST",
      url: "/api/workspaces/ws-001/review/pending",
      body: { comments: [{ path: "a.txt", line: 2, end_line: 4, body: "range comment" }] },
    });
    expect(box.querySelector(".comment-row")).toBeNull();
    expect(rc.el.querySelector('[data-testid="review-pending-item"]')!.textContent).toContain("a.txt:2-4");
  });

  it("a drag over the line numbers selects the lines passed over", () => {
    const { api } = fakeApi();
    const rc = new ReviewComments({ api, toast: () => undefined, storage: null });
    const box = diffTable();
    rc.attach(box);
    rc.open("ws-002");
    const gutter = (i: number) => box.querySelectorAll("tr")[i]!.querySelector(".ln")!;
    gutter(3).dispatchEvent(new MouseEvent("mousedown", { bubbles: true, button: 0 }));
    gutter(4).dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    document.dispatchEvent(new MouseEvent("mouseup", { bubbles: true }));
    expect(box.querySelector('[data-testid="review-comment-where"]')!.textContent).toBe("a.txt:3-4");
  });
});
