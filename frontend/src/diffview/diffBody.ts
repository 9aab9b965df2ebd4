// The diff of one file, unified or side by side, in a virtualised list. Rows are drawn plain at
// once (with their word-level marks); syntax colour follows in time-sliced chunks for the rows on
// screen only, once the highlight.js chunk has loaded. A refresh of the same file keeps the scroll
// position; widgets (a comment box) hang under a line by its side and number and survive redraws.

import { h } from "../dom";
import { type DiffLine, unified } from "../linediff";
import type { FileDiff } from "../types";
import { hunkStarts, nextHunk, type Row, rowOfLine, type Side, splitRows, unifiedRows, type ViewMode } from "./rows";
import { markRanges, type Segment } from "./segments";
import { VirtualList } from "./virtualList";
import { type Range, wordRanges } from "./worddiff";

type Highlighter = typeof import("./highlight");
let highlighter: Highlighter | null = null;
let loadingHighlighter: Promise<Highlighter | null> | null = null;

/** Load the highlight.js chunk once; null when it cannot load (then lines stay plain). */
function loadHighlighter(): Promise<Highlighter | null> {
  loadingHighlighter ??= import("./highlight").then(
    (m) => (highlighter = m),
    () => null,
  );
  return loadingHighlighter;
}

export type LineSide = "old" | "new";

export interface DiffBodyHooks {
  /** The reader picked a line (click or Enter) to comment on; `e` says whether Shift was held. */
  line(path: string, line: number, side: LineSide, e?: MouseEvent | KeyboardEvent): void;
  /** Classes for a line as it is drawn (a selected range, a line with comments). */
  lineClass?(side: LineSide, line: number): string;
}

const SLICE_MS = 8; // highlight for at most this long, then yield to the page

const sign = (k: string): string => (k === "add" ? "+" : k === "del" ? "−" : " ");
const key = (side: LineSide, line: number): string => `${side}:${line}`;

export class DiffBody {
  readonly el: HTMLDivElement;
  private readonly list: VirtualList;
  private readonly note: HTMLParagraphElement;
  private file: FileDiff | null = null;
  private path = "";
  private mode: ViewMode = "unified";
  private lines: DiffLine[] = [];
  private rows: Row[] = [];
  private hunks: number[] = [];
  private hunk = -1; // index into hunks of the current one
  private target = -1; // row revealed by a deep link's line
  private words = new Map<number, { old: Range[]; new: Range[] } | null>();
  private widgets = new Map<string, HTMLElement>();
  private queue: { cell: HTMLElement; text: string; marks: Range[] }[] = [];
  private working = false;

  constructor(private readonly hooks: DiffBodyHooks) {
    this.note = h("p", { class: "review-note", testid: "review-note" });
    this.list = new VirtualList({
      className: "review-lines",
      testid: "review-lines",
      label: "diff",
      estimate: 20,
      overscan: 600,
      render: (i) => this.renderRow(i),
      drawn: () => this.pump(),
    });
    this.el = h("div", { class: "review-diff", testid: "review-diff" }, this.note, this.list.el);
    this.note.hidden = true;
  }

  get view(): ViewMode {
    return this.mode;
  }

  /** Show `file` (null: nothing). The same file again keeps the scroll position. */
  show(file: FileDiff | null, mode: ViewMode): void {
    const path = file ? file.new_path || file.old_path || "" : "";
    const same = file !== null && path === this.path && mode === this.mode;
    if (same && this.file && file.old_content === this.file.old_content && file.new_content === this.file.new_content && file.binary === this.file.binary) {
      this.file = file;
      return;
    }
    const top = same ? this.list.el.scrollTop : 0;
    if (path !== this.path) {
      this.widgets.clear();
      this.target = -1;
    }
    this.file = file;
    this.path = path;
    this.mode = mode;
    this.el.dataset.view = mode;
    this.note.hidden = true;
    if (!file || file.binary) {
      this.lines = [];
      if (file) {
        this.note.textContent = "Binary file: not shown.";
        this.note.hidden = false;
      }
    } else {
      this.lines = unified(file.old_content, file.new_content);
      if (file.truncated) {
        this.note.textContent = "This file is too large to show whole: the diff below is cut short.";
        this.note.hidden = false;
      } else if (!this.lines.length) {
        this.note.textContent = file.status === "renamed" ? "Renamed, content unchanged." : "No content changes.";
        this.note.hidden = false;
      }
    }
    this.layout(top, same);
    if (!highlighter) void loadHighlighter().then((m) => m && this.list.redraw());
  }

  setMode(mode: ViewMode): void {
    if (mode === this.mode) return;
    // Keep the same line at the top across the switch.
    const at = this.rows[this.list.firstVisible()];
    this.mode = mode;
    this.el.dataset.view = mode;
    this.layout(0, false);
    const target = at ? this.indexOfRow(at) : -1;
    if (target > 0) this.list.scrollToIndex(target);
  }

  /** Move to the next (1) or previous (-1) hunk; false when there is none that way. */
  stepHunk(dir: 1 | -1): boolean {
    const from = this.hunk >= 0 ? this.hunks[this.hunk]! : dir === 1 ? -1 : this.rows.length;
    const next = nextHunk(this.hunks, from, dir);
    if (next === null) return false;
    this.hunk = this.hunks.indexOf(next);
    this.list.scrollToIndex(next, "center");
    this.list.redraw();
    return true;
  }

  /** Scroll to line `line` of the new side (else the old side) and mark it; false when the file has no such row. */
  reveal(line: number): boolean {
    let i = rowOfLine(this.rows, line, "new");
    if (i < 0) i = rowOfLine(this.rows, line, "old");
    if (i < 0) return false;
    this.target = i;
    this.list.scrollToIndex(i, "center");
    this.list.redraw();
    return true;
  }

  /** The widget hanging under that line, if any. */
  widgetAt(side: LineSide, line: number): HTMLElement | undefined {
    return this.widgets.get(key(side, line));
  }

  /** Hang `widget` under line `line` of `side`; it stays until removeWidget or another file. */
  addWidget(side: LineSide, line: number, widget: HTMLElement): void {
    this.widgets.set(key(side, line), widget);
    this.list.redraw();
  }

  /** Draw the rows on screen again (their lineClass changed). */
  redraw(): void {
    this.list.redraw();
  }

  removeWidget(widget: HTMLElement): void {
    for (const [k, w] of this.widgets) if (w === widget) this.widgets.delete(k);
    widget.remove();
    this.list.redraw();
  }

  private layout(top: number, keepHunk: boolean): void {
    this.rows = this.mode === "split" ? splitRows(this.lines) : unifiedRows(this.lines);
    this.hunks = hunkStarts(this.rows);
    if (!keepHunk) this.hunk = -1;
    else if (this.hunk >= this.hunks.length) this.hunk = this.hunks.length - 1;
    this.words.clear();
    let maxLine = 0;
    for (const l of this.lines) maxLine = Math.max(maxLine, l.old ?? 0, l.new ?? 0);
    this.list.el.style.setProperty("--ln-ch", String(Math.max(3, String(maxLine).length) + 1));
    this.list.reset(this.rows.length, top);
  }

  private indexOfRow(row: Row): number {
    const old = row.type === "line" ? row.line.old : row.type === "split" ? (row.left?.line ?? null) : null;
    const nu = row.type === "line" ? row.line.new : row.type === "split" ? (row.right?.line ?? null) : null;
    return this.rows.findIndex((r) =>
      r.type === "line"
        ? (nu !== null && r.line.new === nu) || (old !== null && r.line.old === old)
        : r.type === "split"
          ? (nu !== null && r.right?.line === nu) || (old !== null && r.left?.line === old)
          : false,
    );
  }

  /** Word ranges of a unified line and its partner (cached per row). */
  private wordsOf(i: number, row: Extract<Row, { type: "line" }>): Range[] {
    if (row.partner < 0) return [];
    const delIdx = row.line.kind === "del" ? i : row.partner;
    if (!this.words.has(delIdx)) {
      const del = this.rows[delIdx];
      const add = this.rows[row.line.kind === "del" ? row.partner : i];
      this.words.set(delIdx, del?.type === "line" && add?.type === "line" ? wordRanges(del.line.text, add.line.text) : null);
    }
    const w = this.words.get(delIdx);
    return w ? (row.line.kind === "del" ? w.old : w.new) : [];
  }

  private splitWords(i: number, left: Side | null, right: Side | null): { old: Range[]; new: Range[] } {
    if (!left || !right || left.kind !== "del" || right.kind !== "add") return { old: [], new: [] };
    if (!this.words.has(i)) this.words.set(i, wordRanges(left.text, right.text));
    return this.words.get(i) ?? { old: [], new: [] };
  }

  private renderRow(i: number): HTMLElement {
    const row = this.rows[i]!;
    const current = this.hunk >= 0 && this.hunks[this.hunk] === i;
    if (row.type === "gap") {
      return h("div", { class: "vrow line-gap", attrs: { role: "row" } }, h("span", { class: "gap-text", text: `⋯ ${row.skipped} unchanged line${row.skipped === 1 ? "" : "s"}` }));
    }
    let el: HTMLElement;
    const widgets: HTMLElement[] = [];
    if (row.type === "line") {
      const l = row.line;
      const side: LineSide = l.kind === "del" ? "old" : "new";
      const line = (side === "old" ? l.old : l.new) ?? 0;
      el = h(
        "div",
        { class: `vrow line-${l.kind}`, testid: "review-line", attrs: { tabindex: 0, role: "row", title: "Click to comment on this line", "data-line": line, "data-side": side } },
        h("span", { class: "ln", text: l.old === null ? "" : String(l.old) }),
        h("span", { class: "ln", text: l.new === null ? "" : String(l.new) }),
        h("span", { class: "sign", text: sign(l.kind) }),
        this.code(l.text, this.wordsOf(i, row), l.kind),
      );
      this.activate(el, el, side, line);
      this.mark(el, side, line);
      const w = this.widgets.get(key(side, line)) ?? (l.kind === "ctx" && l.old !== null ? this.widgets.get(key("old", l.old)) : undefined);
      if (w) widgets.push(w);
    } else {
      const words = this.splitWords(i, row.left, row.right);
      const half = (s: Side | null, which: LineSide, marks: Range[]): HTMLElement[] => {
        if (!s) return [h("span", { class: "ln side-empty" }), h("span", { class: "sign side-empty" }), h("span", { class: "code side-empty" })];
        const code = this.code(s.text, marks, s.kind);
        code.classList.add(`side-${which}`);
        const ln = h("span", { class: `ln line-${s.kind}`, text: String(s.line), attrs: { "data-side": which, "data-line": s.line } });
        const cells = [ln, h("span", { class: `sign line-${s.kind}`, text: sign(s.kind) }), code];
        // an unchanged line is commented by its new number (as in the unified view)
        for (const c of cells) this.mark(c, s.kind === "ctx" ? "new" : which, s.kind === "ctx" && which === "old" ? (row.right?.line ?? s.line) : s.line);
        return cells;
      };
      const kind = row.left?.kind === "ctx" ? "ctx" : "change";
      el = h("div", { class: `vrow split-row split-${kind}`, testid: "review-line", attrs: { role: "row", "data-line": row.right?.line ?? row.left?.line ?? 0 } }, ...half(row.left, "old", words.old), ...half(row.right, "new", words.new));
      const cells = el.children;
      // An unchanged line is commented by its new number on either side (as in the unified view).
      if (row.left && row.left.kind === "ctx" && row.right) this.activate(el, cells[2] as HTMLElement, "new", row.right.line, [cells[0] as HTMLElement]);
      else if (row.left) this.activate(el, cells[2] as HTMLElement, "old", row.left.line, [cells[0] as HTMLElement]);
      if (row.right) this.activate(el, cells[5] as HTMLElement, "new", row.right.line, [cells[3] as HTMLElement]);
      for (const k of [row.left && key("old", row.left.line), row.right && key("new", row.right.line)]) {
        const w = k ? this.widgets.get(k) : undefined;
        if (w && !widgets.includes(w)) widgets.push(w);
      }
    }
    if (current) el.classList.add("is-current-hunk");
    if (i === this.target) el.classList.add("is-target");
    if (!widgets.length) return el;
    return h("div", { class: "vrow-wrap" }, el, ...widgets);
  }

  private mark(el: HTMLElement, side: LineSide, line: number): void {
    const cls = this.hooks.lineClass?.(side, line);
    if (cls) el.classList.add(...cls.split(" "));
  }

  private activate(row: HTMLElement, target: HTMLElement, side: LineSide, line: number, more: HTMLElement[] = []): void {
    const fire = (e: MouseEvent | KeyboardEvent): void => this.hooks.line(this.path, line, side, e);
    for (const t of [target, ...more]) {
      t.addEventListener("click", (e) => {
        if (window.getSelection()?.toString()) return; // selecting text to copy, not commenting
        e.stopPropagation();
        fire(e);
      });
    }
    if (row === target) {
      row.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && e.target === row) fire(e);
      });
    } else {
      target.classList.add("is-commentable");
      target.title = "Click to comment on this line";
    }
  }

  /** The code cell: plain text with word marks now; syntax colour later (pump). */
  private code(text: string, marks: Range[], kind: string): HTMLElement {
    const cell = h("span", { class: `code line-${kind}` });
    const plain: Segment[] = [{ text, cls: "" }];
    fill(cell, marks.length ? markRanges(plain, marks) : plain, kind);
    if (highlighter) this.queue.push({ cell, text, marks });
    return cell;
  }

  /** Colour the queued cells that are still on screen, SLICE_MS at a time. */
  private pump(): void {
    if (this.working || !highlighter || !this.queue.length) return;
    this.working = true;
    const step = (): void => {
      const t0 = performance.now();
      const hl = highlighter!;
      while (this.queue.length && performance.now() - t0 < SLICE_MS) {
        const job = this.queue.shift()!;
        if (!job.cell.isConnected) continue;
        const segs = hl.highlightLine(this.path, job.text);
        if (segs) fill(job.cell, job.marks.length ? markRanges(segs, job.marks) : segs, job.cell.classList.contains("line-del") ? "del" : "add");
      }
      if (this.queue.length) setTimeout(step, 0);
      else this.working = false;
    };
    step();
  }
}

function fill(cell: HTMLElement, segs: Segment[], kind: string): void {
  const wd = kind === "del" ? "wd wd-del" : "wd wd-add";
  cell.replaceChildren(
    ...segs.map((s) => {
      if (!s.cls && !s.changed) return document.createTextNode(s.text);
      const span = document.createElement("span");
      span.className = s.changed ? (s.cls ? `${s.cls} ${wd}` : wd) : s.cls;
      span.textContent = s.text;
      return span;
    }),
  );
  if (!cell.firstChild) cell.textContent = "\u200b"; // an empty line keeps its height
}
