// Review comments on the review page: select a line or a range in the diff (click a line; shift-click
// or drag in the gutter for a range), write a comment, see the workspace's pending round (kept on the
// server: GET/POST/DELETE /api/workspaces/<id>/review/pending), choose a session, "Send to agent"
// (POST .../review without comments: the pending round), and the history of rounds with each
// comment's status (pending, sent, addressed, auto-addressed, outdated), marked or reopened here.
//
// The diff is drawn by diffview/diffBody.ts: a click or Enter on a line comes here through its
// `line` hook (with the event: Shift extends the range), a drag over the line numbers through the
// `data-side`/`data-line` of the gutter cells, and the selection and the lines with comments are
// drawn through its `lineClass` hook (rows are virtualised: classes set by hand would not last).
// Comments are about the working tree's lines: a deleted line stands for the place it was at.

import type { Api } from "../api";
import type { DiffBody, DiffBodyHooks, LineSide } from "../diffview/diffBody";
import { h, setAttr, setHidden, setText } from "../dom";
import { type DiffLine, unified } from "../linediff";
import { sessionHref } from "../router";
import type { FileDiff, ReviewComment as Comment, ReviewDraft as Draft, ReviewRound as Round, Workspace } from "../types";
import { sessionLabel } from "../view";


export interface ReviewCommentsDeps {
  api: Api;
  toast(message: string, kind: "success" | "error"): void;
  storage: Storage | null;
}

const legacyKey = (wid: string): string => `schmux-review-pending-${wid}`; // before the server kept them

/** "path:12" or "path:12-14". */
export const where = (c: { path: string; line: number; end_line?: number | null }): string =>
  `${c.path}:${c.line}${c.end_line && c.end_line > c.line ? `-${c.end_line}` : ""}`;

/** The word a person reads for a comment's state. */
export function statusLabel(c: Pick<Comment, "status" | "addressed_by" | "outdated">): string {
  const base = c.status === "addressed" && c.addressed_by === "auto" ? "auto-addressed" : c.status;
  return c.outdated ? `${base} · outdated` : base;
}

/**
 * The working tree's line that line `line` of `side` stands for: itself on the new side; on the old
 * side, the new line it became (unchanged) or, for a deleted line, the place it was at (the next
 * line of the new side, else the last before it). Null when the new side has no lines.
 */
export function workingLine(lines: DiffLine[], side: LineSide, line: number): number | null {
  if (side === "new") return line;
  const at = lines.findIndex((l) => l.old === line);
  if (at < 0) return null;
  for (let k = at; k < lines.length; k++) if (lines[k]!.new !== null) return lines[k]!.new;
  for (let k = at - 1; k >= 0; k--) if (lines[k]!.new !== null) return lines[k]!.new;
  return null;
}

/** The range between two clicked lines, smaller first. */
export function span(a: number, b: number): { line: number; end_line?: number } {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return hi > lo ? { line: lo, end_line: hi } : { line: lo };
}

export class ReviewComments {
  readonly el: HTMLElement;
  private workspaceId: string | null = null;
  private workspace: Workspace | null = null;
  private pending: Comment[] = [];
  private rounds: Round[] = [];
  private signature = "";
  private body: DiffBody | null = null;
  private path = ""; // the file shown
  private lines: DiffLine[] = [];
  private anchor: number | null = null; // where a selection started (a working tree line)
  private selection: { line: number; end: number } | null = null;
  private marked = new Set<number>(); // lines of the shown file with open comments
  private dragging = false;
  private justDragged = false;
  private box: HTMLElement | null = null; // the open comment box
  private loading = 0;

  private readonly pendingList: HTMLOListElement;
  private readonly pendingBox: HTMLElement;
  private readonly sessionSelect: HTMLSelectElement;
  private readonly sendBtn: HTMLButtonElement;
  private readonly history: HTMLOListElement;
  private readonly historyBox: HTMLElement;

  /** What the diff calls (give it to DiffBody's constructor). */
  readonly hooks: DiffBodyHooks = {
    line: (path, line, side, e) => this.pick(path, line, side, e?.shiftKey === true),
    lineClass: (side, line) => this.lineClass(side, line),
  };

  constructor(
    private readonly deps: ReviewCommentsDeps,
    private readonly href: (path: string, line: number) => string,
  ) {
    this.pendingList = h("ol", { class: "review-pending-list", testid: "review-pending" });
    this.sessionSelect = h("select", { testid: "review-session", attrs: { "aria-label": "send to session" } });
    this.sendBtn = h("button", {
      class: "btn btn-primary",
      testid: "review-send",
      text: "Send to agent",
      attrs: { type: "button" },
      on: { click: () => void this.send() },
    });
    this.pendingBox = h(
      "section",
      { class: "review-round panel", testid: "review-pending-box", attrs: { "aria-label": "pending review round" } },
      h("h3", { text: "Pending comments" }),
      this.pendingList,
      h("div", { class: "review-send-row" }, h("label", { text: "Session " }, this.sessionSelect), this.sendBtn),
    );
    this.history = h("ol", { class: "review-history-list", testid: "review-history" });
    this.historyBox = h(
      "section",
      { class: "review-round panel", attrs: { "aria-label": "review rounds" } },
      h("h3", { text: "Rounds sent" }),
      this.history,
    );
    this.el = h("div", { class: "review-comments" }, this.pendingBox, this.historyBox);
    setHidden(this.pendingBox, true);
    setHidden(this.historyBox, true);
  }

  // -- the page's life ----------------------------------------------------------------------------

  /** Follow drags over the line numbers of `body` (the diff). Called once. */
  attach(body: DiffBody): void {
    this.body = body;
    body.el.addEventListener("mousedown", (e) => this.onMouseDown(e));
    body.el.addEventListener("mouseover", (e) => this.onMouseOver(e));
  }

  /** The file the diff shows now (null: none). */
  setFile(f: FileDiff | null): void {
    const path = f ? f.new_path || f.old_path || "" : "";
    this.lines = f && !f.binary ? unified(f.old_content, f.new_content) : [];
    if (path !== this.path) {
      this.path = path;
      this.anchor = null;
      this.selection = null;
      this.box = null; // the diff drops its widgets with the file
    }
    this.markLines();
  }

  open(wid: string): void {
    if (wid === this.workspaceId) return;
    this.workspaceId = wid;
    this.pending = [];
    this.rounds = [];
    this.signature = "";
    this.anchor = null;
    this.selection = null;
    this.render();
    void this.migrateLocal(wid);
  }

  close(): void {
    this.workspaceId = null;
    this.workspace = null;
  }

  /** A new dashboard state: the sessions to send to; fetch again when the review counts moved. */
  update(workspace: Workspace | null): void {
    this.workspace = workspace;
    this.renderSessions();
    const sig = workspace
      ? [workspace.review_rounds, workspace.review_pending, workspace.review_open, workspace.git_lines_added, workspace.git_lines_removed, workspace.git_files_changed].join(",")
      : "";
    if (sig !== this.signature) {
      this.signature = sig;
      void this.refresh();
    }
  }

  /** Fetch the pending round and the rounds sent (both re-anchored by the server first). */
  async refresh(): Promise<void> {
    const wid = this.workspaceId;
    if (!wid) return;
    const gen = ++this.loading;
    const [pending, rounds] = await Promise.all([this.deps.api.pendingComments(wid), this.deps.api.reviews(wid)]);
    if (gen !== this.loading || wid !== this.workspaceId) return;
    if (pending.ok) this.pending = pending.data.comments;
    if (rounds.ok) this.rounds = rounds.data.rounds;
    this.render();
  }

  /** The lines of the shown file that pending or open comments are about, drawn by the diff. */
  private markLines(): void {
    const open = [...this.pending, ...this.rounds.flatMap((r) => r.comments.filter((c) => c.status === "sent"))];
    const marked = new Set<number>();
    for (const c of open) {
      if (c.outdated || c.path !== this.path) continue;
      for (let n = c.line; n <= Math.min(c.end_line ?? c.line, c.line + 5000); n++) marked.add(n);
    }
    const same = marked.size === this.marked.size && [...marked].every((n) => this.marked.has(n));
    this.marked = marked;
    if (!same) this.body?.redraw();
  }

  // -- selecting lines ----------------------------------------------------------------------------

  private lineClass(side: LineSide, line: number): string {
    const n = side === "new" ? line : null; // the old side's lines are drawn as they were
    const sel = this.selection;
    const cls: string[] = [];
    if (n !== null && sel && n >= sel.line && n <= sel.end) cls.push("is-selected-line");
    if (n !== null && this.marked.has(n)) cls.push("has-comment");
    return cls.join(" ");
  }

  /** A line of the gutter under the pointer: its side and number. */
  private gutterLine(target: EventTarget | null): number | null {
    const el = target instanceof Element ? target.closest<HTMLElement>(".ln") : null;
    const at = el?.closest<HTMLElement>("[data-side][data-line]");
    if (!el || !at) return null;
    const side = at.dataset.side === "old" ? "old" : "new";
    return workingLine(this.lines, side, Number(at.dataset.line));
  }

  private onMouseDown(e: MouseEvent): void {
    if (e.button !== 0 || e.shiftKey) return;
    const n = this.gutterLine(e.target);
    if (n === null) return;
    e.preventDefault(); // no text selection while dragging over the gutter
    this.dragging = true;
    this.anchor = n;
    this.select(n, n);
    const up = (): void => {
      document.removeEventListener("mouseup", up);
      this.endDrag();
    };
    document.addEventListener("mouseup", up);
  }

  private onMouseOver(e: MouseEvent): void {
    if (!this.dragging || this.anchor === null) return;
    const n = this.gutterLine(e.target);
    if (n !== null) this.select(this.anchor, n);
  }

  private endDrag(): void {
    if (!this.dragging) return;
    this.dragging = false;
    this.justDragged = true; // the click that follows this mouseup is the drag's, not a pick
    setTimeout(() => (this.justDragged = false), 0);
    if (this.selection) this.openBox(this.selection.line, this.selection.end);
  }

  /** A click (or Enter) on a line: a comment on it, or with Shift on the range from the last one. */
  private pick(path: string, line: number, side: LineSide, extend: boolean): void {
    if (this.justDragged || path !== this.path) return;
    const n = workingLine(this.lines, side, line);
    if (n === null) {
      this.deps.toast("This file has no lines in the working tree to comment on.", "error");
      return;
    }
    const from = extend && this.anchor !== null ? this.anchor : n;
    this.anchor = from;
    this.select(from, n);
    this.openBox(Math.min(from, n), Math.max(from, n));
  }

  private select(a: number, b: number): void {
    const line = Math.min(a, b);
    const end = Math.max(a, b);
    if (this.selection?.line === line && this.selection.end === end) return; // a redraw re-fires mouseover
    this.selection = { line, end };
    this.body?.redraw();
  }

  private closeBox(): void {
    if (this.box) this.body?.removeWidget(this.box);
    this.box = null;
    this.selection = null;
    this.body?.redraw();
  }

  private openBox(first: number, last: number): void {
    const body = this.body;
    const path = this.path;
    if (!body || !path) return;
    if (this.box) body.removeWidget(this.box);
    const range = span(first, last);
    const label = where({ path, ...range });
    const text = h("textarea", { testid: "review-comment-text", attrs: { rows: 3, "aria-label": `comment on ${label}` } });
    const add = h("button", {
      class: "btn btn-small btn-primary",
      testid: "review-comment-add",
      text: "Add comment",
      attrs: { type: "button" },
      on: {
        click: async () => {
          if (!text.value.trim()) return;
          add.disabled = true;
          if (await this.addPending([{ path, ...range, body: text.value }])) this.closeBox();
          add.disabled = false;
        },
      },
    });
    const box = h(
      "div",
      { class: "comment-row", attrs: { "data-at": `new:${last}` } },
      h("div", { class: "comment-box" }, h("strong", { testid: "review-comment-where", text: label }), text),
      h(
        "div",
        { class: "comment-actions" },
        add,
        h("button", { class: "btn btn-small", text: "Cancel", attrs: { type: "button" }, on: { click: () => this.closeBox() } }),
      ),
    );
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) add.click();
      if (e.key === "Escape") this.closeBox();
    });
    this.box = box;
    body.addWidget("new", last, box);
    text.focus();
  }

  // -- the server ---------------------------------------------------------------------------------

  private async addPending(drafts: Draft[]): Promise<boolean> {
    const res = await this.deps.api.addPendingComments(this.workspaceId ?? "", drafts);
    if (!res.ok) {
      this.deps.toast(`Comment not kept: ${res.error}`, "error");
      return false;
    }
    this.pending = [...this.pending, ...res.data.comments];
    this.render();
    return true;
  }

  /** Comments an older version of this page kept in the browser: moved to the server once. */
  private async migrateLocal(wid: string): Promise<void> {
    let drafts: Draft[] = [];
    try {
      const raw = this.deps.storage?.getItem(legacyKey(wid));
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      if (Array.isArray(parsed)) {
        drafts = parsed.filter(
          (c): c is Draft => typeof c === "object" && c !== null && typeof c.path === "string" && typeof c.line === "number" && typeof c.body === "string",
        );
      }
    } catch {
      return;
    }
    if (drafts.length && (await this.addPending(drafts.map(({ path, line, body }) => ({ path, line, body }))))) {
      this.deps.storage?.removeItem(legacyKey(wid));
    }
  }

  private async remove(c: Comment): Promise<void> {
    const res = await this.deps.api.removePendingComment(this.workspaceId ?? "", c.id);
    if (!res.ok) this.deps.toast(res.error, "error");
    await this.refresh();
  }

  private async send(): Promise<void> {
    const sid = this.sessionSelect.value;
    const n = this.pending.length;
    if (!this.workspaceId || !sid || !n) return;
    this.sendBtn.disabled = true;
    const res = await this.deps.api.review(this.workspaceId, sid);
    if (res.ok) {
      const link = h("a", { attrs: { href: sessionHref(sid) }, text: "Watch the session" });
      this.deps.toast(`Sent ${n} comment${n === 1 ? "" : "s"} to the agent.`, "success");
      this.pending = [];
      this.render();
      this.pendingBox.after(h("p", { class: "review-note", testid: "review-sent-note" }, "Sent. ", link));
    } else {
      this.deps.toast(`Not sent: ${res.error}`, "error");
    }
    await this.refresh();
  }

  private async mark(r: Round, index: number, addressed: boolean): Promise<void> {
    const res = await this.deps.api.markComment(this.workspaceId ?? "", r.id, index, addressed);
    if (!res.ok) this.deps.toast(res.error, "error");
    await this.refresh();
  }

  // -- drawing ------------------------------------------------------------------------------------

  private render(): void {
    this.el.querySelector('[data-testid="review-sent-note"]')?.remove();
    this.renderPending();
    this.renderRounds();
    this.markLines();
  }

  private commentHead(c: Comment): HTMLElement {
    return h(
      "div",
      { class: "comment-head" },
      h("a", { class: "comment-where", attrs: { href: this.href(c.path, c.line) }, text: where(c) }),
      h("span", {
        class: `comment-status status-${c.status}${c.addressed_by === "auto" ? " is-auto" : ""}`,
        testid: "review-comment-status",
        text: c.status === "addressed" && c.addressed_by === "auto" ? "auto-addressed" : c.status,
        attrs: { title: c.addressed_by === "auto" ? "its lines changed after it was sent" : null },
      }),
      c.outdated
        ? h("span", { class: "comment-status status-outdated", testid: "review-comment-outdated", text: "outdated", attrs: { title: "its lines changed or are gone" } })
        : null,
    );
  }

  private quote(c: Comment): HTMLElement | null {
    return c.quote === null ? null : h("pre", { class: `comment-quote${c.outdated ? " is-outdated" : ""}`, text: c.quote });
  }

  private renderPending(): void {
    this.pendingList.replaceChildren(
      ...this.pending.map((c) =>
        h(
          "li",
          { class: "round-comment status-pending", testid: "review-pending-item", attrs: { "data-comment-id": c.id } },
          this.commentHead(c),
          this.quote(c),
          h("div", { class: "pending-body", text: c.body }),
          h("button", {
            class: "btn btn-small btn-danger-quiet",
            testid: "review-pending-remove",
            text: "Remove",
            attrs: { type: "button", "aria-label": `remove the comment on ${where(c)}` },
            on: { click: () => void this.remove(c) },
          }),
        ),
      ),
    );
    setHidden(this.pendingBox, this.pending.length === 0);
    this.renderSessions();
  }

  private renderRounds(): void {
    setHidden(this.historyBox, this.rounds.length === 0);
    this.history.replaceChildren(
      ...[...this.rounds].reverse().map((r) => {
        const when = new Date((r.sent_at ?? r.created_at) * 1000).toLocaleString();
        const who = this.workspace?.sessions.find((s) => s.id === r.session_id);
        return h(
          "li",
          { testid: "review-round", attrs: { "data-round-id": r.id } },
          h("span", {
            class: "round-when",
            text: `${when} · to ${who ? sessionLabel(who) : r.session_id} · ${r.state}${r.error ? `: ${r.error}` : ""}`,
          }),
          h(
            "ul",
            {},
            ...r.comments.map((c, i) =>
              h(
                "li",
                {
                  class: `round-comment status-${c.status}${c.outdated ? " is-outdated" : ""}`,
                  testid: "review-round-comment",
                  attrs: { "data-comment-id": c.id, "data-status": statusLabel(c) },
                },
                this.commentHead(c),
                this.quote(c),
                h("div", { class: "pending-body", text: c.body }),
                c.status === "pending"
                  ? null
                  : h("button", {
                      class: "btn btn-small",
                      testid: "review-mark",
                      text: c.status === "addressed" ? "Reopen" : "Mark addressed",
                      attrs: { type: "button" },
                      on: { click: () => void this.mark(r, i, c.status !== "addressed") },
                    }),
              ),
            ),
          ),
        );
      }),
    );
  }

  private renderSessions(): void {
    const running = (this.workspace?.sessions ?? []).filter((s) => s.running);
    const current = this.sessionSelect.value;
    this.sessionSelect.replaceChildren(...running.map((s) => h("option", { attrs: { value: s.id }, text: sessionLabel(s) })));
    if (running.some((s) => s.id === current)) this.sessionSelect.value = current;
    this.sendBtn.disabled = running.length === 0 || this.pending.length === 0;
    setAttr(this.sendBtn, "title", running.length ? null : "No running session in this workspace");
    setText(this.sendBtn, this.pending.length > 1 ? `Send ${this.pending.length} comments to agent` : "Send to agent");
  }
}
