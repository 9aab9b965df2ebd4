// Review comments on the review page: select a line or a range in the diff (click a line; shift-click
// or drag in the gutter for a range), write a comment, see the workspace's pending round (kept on the
// server: GET/POST/DELETE /api/workspaces/<id>/review/pending), choose a session, "Send to agent"
// (POST .../review without comments: the pending round), and the history of rounds with each
// comment's status (pending, sent, addressed, auto-addressed, outdated), marked or reopened here.
//
// The diff is drawn by reviewView.ts; this module only reads the attributes its line elements carry
// (`data-path`, `data-line`: the working tree's line number, absent on a deleted line,
// `data-old-line`) through listeners on the diff's container, so any layout of rows works.

import type { Api } from "../api";
import { h, setAttr, setHidden, setText } from "../dom";
import { reviewHref, sessionHref } from "../router";
import type { Workspace } from "../types";
import { sessionLabel } from "../view";

export type CommentStatus = "pending" | "sent" | "addressed";

/** A comment as the server keeps it (docs/API.md#review-rounds). */
export interface Comment {
  id: string;
  path: string;
  line: number;
  end_line: number | null;
  body: string;
  status: CommentStatus | string;
  quote: string | null;
  outdated: boolean;
  addressed_by: "user" | "auto" | null;
  created_at: number;
}

export interface Round {
  id: string;
  session_id: string;
  created_at: number;
  sent_at: number | null;
  state: "sending" | "sent" | "failed" | string;
  error: string;
  comments: Comment[];
}

export interface Draft {
  path: string;
  line: number;
  end_line?: number;
  body: string;
}

export interface ReviewCommentsDeps {
  api: Api;
  toast(message: string, kind: "success" | "error"): void;
  storage: Storage | null;
}

const LINE = "[data-line], [data-old-line]"; // a line of the diff, either side
const legacyKey = (wid: string): string => `schmux-review-pending-${wid}`; // before the server kept them

/** "path:12" or "path:12-14". */
export const where = (c: { path: string; line: number; end_line?: number | null }): string =>
  `${c.path}:${c.line}${c.end_line && c.end_line > c.line ? `-${c.end_line}` : ""}`;

/** The word a person reads for a comment's state. */
export function statusLabel(c: Pick<Comment, "status" | "addressed_by" | "outdated">): string {
  const base = c.status === "addressed" && c.addressed_by === "auto" ? "auto-addressed" : c.status;
  return c.outdated ? `${base} · outdated` : base;
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
  private container: HTMLElement | null = null;
  private anchorRow: HTMLElement | null = null; // the first line of a selection
  private dragging = false;
  private loading = 0;

  private readonly pendingList: HTMLOListElement;
  private readonly pendingBox: HTMLElement;
  private readonly sessionSelect: HTMLSelectElement;
  private readonly sendBtn: HTMLButtonElement;
  private readonly history: HTMLOListElement;
  private readonly historyBox: HTMLElement;

  constructor(private readonly deps: ReviewCommentsDeps) {
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
    document.addEventListener("mouseup", () => this.endDrag());
  }

  // -- the page's life ----------------------------------------------------------------------------

  /** Listen to line selections inside `container` (the diff). Called once. */
  attach(container: HTMLElement): void {
    this.container = container;
    container.addEventListener("mousedown", (e) => this.onMouseDown(e));
    container.addEventListener("mouseover", (e) => this.onMouseOver(e));
    container.addEventListener("click", (e) => this.onClick(e));
    container.addEventListener("keydown", (e) => {
      const row = this.rowOf(e.target);
      if (e.key === "Enter" && row && e.target === row) {
        e.preventDefault();
        this.select(row, e.shiftKey ? this.anchorRow : null);
      }
    });
  }

  open(wid: string): void {
    if (wid === this.workspaceId) return;
    this.workspaceId = wid;
    this.pending = [];
    this.rounds = [];
    this.signature = "";
    this.anchorRow = null;
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
    const base = `/api/workspaces/${encodeURIComponent(wid)}`;
    const [pending, rounds] = await Promise.all([
      this.deps.api.request<{ comments: Comment[] }>("GET", `${base}/review/pending`),
      this.deps.api.request<{ rounds: Round[] }>("GET", `${base}/reviews`),
    ]);
    if (gen !== this.loading || wid !== this.workspaceId) return;
    if (pending.ok) this.pending = pending.data.comments;
    if (rounds.ok) this.rounds = rounds.data.rounds;
    this.render();
  }

  /** Mark the lines of the shown file that pending or open comments are about. */
  decorate(): void {
    const box = this.container;
    if (!box) return;
    const open = [...this.pending, ...this.rounds.flatMap((r) => r.comments.filter((c) => c.status === "sent"))];
    const marked = new Set<string>();
    for (const c of open) {
      if (c.outdated) continue;
      for (let n = c.line; n <= Math.min(c.end_line ?? c.line, c.line + 5000); n++) marked.add(`${c.path}\0${n}`);
    }
    for (const el of box.querySelectorAll<HTMLElement>("[data-line]")) {
      el.classList.toggle("has-comment", marked.has(`${el.dataset.path ?? ""}\0${el.dataset.line ?? ""}`));
    }
  }

  // -- selecting lines ----------------------------------------------------------------------------

  private rowOf(target: EventTarget | null): HTMLElement | null {
    const el = target instanceof Element ? target.closest<HTMLElement>(LINE) : null;
    return el && this.container?.contains(el) ? el : null;
  }

  private inGutter(target: EventTarget | null): boolean {
    return target instanceof Element && target.closest(".ln, [data-gutter]") !== null;
  }

  private onMouseDown(e: MouseEvent): void {
    const row = this.rowOf(e.target);
    if (!row || e.button !== 0) return;
    if (e.shiftKey) e.preventDefault(); // a shift-click extends the range, not a text selection
    if (!this.inGutter(e.target) || e.shiftKey) return;
    e.preventDefault(); // no text selection while dragging over the gutter
    this.dragging = true;
    this.anchorRow = row;
    this.highlight(row, row);
  }

  private onMouseOver(e: MouseEvent): void {
    if (!this.dragging || !this.anchorRow) return;
    const row = this.rowOf(e.target);
    if (row) this.highlight(this.anchorRow, row);
  }

  private endDrag(): void {
    if (!this.dragging) return;
    this.dragging = false;
    const rows = this.selectedRows();
    if (rows.length) this.openBox(rows);
  }

  private onClick(e: MouseEvent): void {
    const row = this.rowOf(e.target);
    if (!row || (e.target instanceof Element && e.target.closest(".comment-row"))) return;
    if (this.inGutter(e.target) && !e.shiftKey) return; // handled by the drag
    if (window.getSelection()?.toString()) return; // copying text, not commenting
    this.select(row, e.shiftKey ? this.anchorRow : null);
  }

  /** Open a comment on `row`, or on the range from `from` to `row`. */
  private select(row: HTMLElement, from: HTMLElement | null): void {
    const start = from && from.isConnected && from.dataset.path === row.dataset.path ? from : row;
    this.anchorRow = start;
    this.highlight(start, row);
    this.openBox(this.selectedRows());
  }

  private lineRows(): HTMLElement[] {
    return this.container ? [...this.container.querySelectorAll<HTMLElement>(LINE)] : [];
  }

  private highlight(a: HTMLElement, b: HTMLElement): void {
    const rows = this.lineRows();
    let i = rows.indexOf(a);
    let j = rows.indexOf(b);
    if (i > j) [i, j] = [j, i];
    rows.forEach((r, k) => r.classList.toggle("is-selected-line", k >= i && k <= j && i >= 0));
  }

  private selectedRows(): HTMLElement[] {
    return this.lineRows().filter((r) => r.classList.contains("is-selected-line"));
  }

  /** The working tree line a row stands for: its own, or for a deleted line the place it was at. */
  private lineOf(row: HTMLElement): number | null {
    const rows = this.lineRows();
    const at = rows.indexOf(row);
    for (let k = at; k < rows.length; k++) {
      const n = Number(rows[k]!.dataset.line);
      if (n > 0 && rows[k]!.dataset.path === row.dataset.path) return n;
    }
    for (let k = at - 1; k >= 0; k--) {
      const n = Number(rows[k]!.dataset.line);
      if (n > 0 && rows[k]!.dataset.path === row.dataset.path) return n;
    }
    return null;
  }

  private openBox(rows: HTMLElement[]): void {
    const first = rows[0];
    const last = rows[rows.length - 1];
    const path = first?.dataset.path;
    if (!first || !last || !path) return;
    const a = this.lineOf(first);
    const b = this.lineOf(last);
    if (a === null || b === null) {
      this.deps.toast("This file has no lines in the working tree to comment on.", "error");
      return;
    }
    const range = span(a, b);
    this.container?.querySelector(".comment-row")?.remove();
    const label = where({ path, ...range });
    const text = h("textarea", { testid: "review-comment-text", attrs: { rows: 3, "aria-label": `comment on ${label}` } });
    const close = (): void => {
      box.remove();
      for (const r of this.selectedRows()) r.classList.remove("is-selected-line");
    };
    const add = h("button", {
      class: "btn btn-small btn-primary",
      testid: "review-comment-add",
      text: "Add comment",
      attrs: { type: "button" },
      on: {
        click: async () => {
          if (!text.value.trim()) return;
          add.disabled = true;
          if (await this.addPending([{ path, ...range, body: text.value }])) close();
          add.disabled = false;
        },
      },
    });
    const inner: Node[] = [
      h("div", { class: "comment-box" }, h("strong", { testid: "review-comment-where", text: label }), text),
      h(
        "div",
        { class: "comment-actions" },
        add,
        h("button", { class: "btn btn-small", text: "Cancel", attrs: { type: "button" }, on: { click: close } }),
      ),
    ];
    const cells = last.tagName === "TR" ? (last as HTMLTableRowElement).cells.length || 1 : 0;
    const box: HTMLElement = cells
      ? h("tr", { class: "comment-row" }, h("td", { attrs: { colspan: cells } }, ...inner))
      : h("div", { class: "comment-row" }, ...inner);
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) add.click();
      if (e.key === "Escape") close();
    });
    last.after(box);
    text.focus();
  }

  // -- the server ---------------------------------------------------------------------------------

  private url(path: string): string {
    return `/api/workspaces/${encodeURIComponent(this.workspaceId ?? "")}${path}`;
  }

  private async addPending(drafts: Draft[]): Promise<boolean> {
    const res = await this.deps.api.request<{ comments: Comment[] }>("POST", this.url("/review/pending"), { comments: drafts });
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
    const res = await this.deps.api.request("DELETE", this.url(`/review/pending/${encodeURIComponent(c.id)}`));
    if (!res.ok) this.deps.toast(res.error, "error");
    await this.refresh();
  }

  private async send(): Promise<void> {
    const sid = this.sessionSelect.value;
    const n = this.pending.length;
    if (!this.workspaceId || !sid || !n) return;
    this.sendBtn.disabled = true;
    const res = await this.deps.api.request<{ round_id: string }>("POST", this.url("/review"), { session_id: sid });
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
    const res = await this.deps.api.request("POST", this.url("/reviews/mark"), { round_id: r.id, index, addressed });
    if (!res.ok) this.deps.toast(res.error, "error");
    await this.refresh();
  }

  // -- drawing ------------------------------------------------------------------------------------

  private render(): void {
    this.el.querySelector('[data-testid="review-sent-note"]')?.remove();
    this.renderPending();
    this.renderRounds();
    this.decorate();
  }

  private commentHead(c: Comment): HTMLElement {
    const wid = this.workspaceId ?? "";
    return h(
      "div",
      { class: "comment-head" },
      h("a", { class: "comment-where", attrs: { href: reviewHref(wid, c.path) }, text: where(c) }),
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
