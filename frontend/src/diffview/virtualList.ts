// A virtualised list: only the items in (and just around) the viewport exist in the DOM. Items may
// differ in height (wrapped lines, a comment box under a line): each drawn item is measured and the
// prefix sums (virtual.ts) corrected; a correction above the viewport moves scrollTop with it, so
// what the reader looks at does not jump.

import { Heights, scrollToShow, visibleRange } from "./virtual";

export interface VirtualListOptions {
  className: string;
  testid?: string;
  label?: string;
  /** Assumed height of an item not measured yet, in px. */
  estimate: number;
  /** Pixels drawn beyond each edge of the viewport. */
  overscan?: number;
  render(index: number): HTMLElement;
  /** After each draw, with the items now in the DOM. */
  drawn?(start: number, end: number): void;
}

export class VirtualList {
  readonly el: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly win: HTMLDivElement;
  private heights: Heights;
  private range: [number, number] = [0, 0];
  private nodes = new Map<number, HTMLElement>();
  private frame = 0;
  /** A scroll asked for while the list was hidden (no layout): applied once it has a size. */
  private pendingScroll: { index: number; align: "start" | "center" } | null = null;

  constructor(private readonly opts: VirtualListOptions) {
    this.el = document.createElement("div");
    this.el.className = `vlist ${opts.className}`;
    if (opts.testid) this.el.dataset.testid = opts.testid;
    if (opts.label) this.el.setAttribute("aria-label", opts.label);
    this.spacer = document.createElement("div");
    this.spacer.className = "vlist-spacer";
    this.win = document.createElement("div");
    this.win.className = "vlist-window";
    this.spacer.append(this.win);
    this.el.append(this.spacer);
    this.heights = new Heights(0, opts.estimate);
    this.el.addEventListener("scroll", () => this.schedule(), { passive: true });
    if (typeof ResizeObserver === "function") new ResizeObserver(() => this.onResize()).observe(this.el);
  }

  get count(): number {
    return this.heights.count;
  }

  /** A new set of items (heights forgotten); scrollTop is kept unless `top` says otherwise. */
  reset(count: number, top?: number): void {
    this.pendingScroll = null;
    this.heights = new Heights(count, this.opts.estimate);
    this.spacer.style.height = `${this.heights.total()}px`;
    if (top !== undefined) this.el.scrollTop = top;
    this.redraw();
  }

  /** Draw the visible items again (their data changed, not their number). */
  redraw(): void {
    this.nodes.clear();
    this.range = [0, 0];
    this.win.replaceChildren();
    this.draw();
  }

  /** Redraw one item if it is drawn. */
  redrawItem(i: number): void {
    if (i >= this.range[0] && i < this.range[1]) this.redraw();
  }

  scrollToIndex(i: number, align: "start" | "center" = "start"): void {
    if (i < 0 || i >= this.count) return;
    if (!this.el.clientHeight) {
      this.pendingScroll = { index: i, align };
      return;
    }
    this.pendingScroll = null;
    const top = scrollToShow(this.heights, i, this.el.scrollTop, this.el.clientHeight, align);
    if (top !== this.el.scrollTop) this.el.scrollTop = top;
    this.draw();
  }

  /** The first item at the top of the viewport. */
  firstVisible(): number {
    return this.heights.indexAt(this.el.scrollTop);
  }

  /** Items in the DOM now, with their indices. */
  drawnItems(): [number, HTMLElement][] {
    return [...this.nodes];
  }

  private onResize(): void {
    const p = this.pendingScroll;
    if (p && this.el.clientHeight) this.scrollToIndex(p.index, p.align);
    else this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    for (let pass = 0; pass < 3; pass++) {
      const [start, end] = visibleRange(this.heights, this.el.scrollTop, this.el.clientHeight || 600, this.opts.overscan ?? 400);
      if (start === this.range[0] && end === this.range[1] && this.nodes.size === end - start) break;
      const nodes = new Map<number, HTMLElement>();
      for (let i = start; i < end; i++) nodes.set(i, this.nodes.get(i) ?? this.opts.render(i));
      this.nodes = nodes;
      this.range = [start, end];
      this.win.replaceChildren(...nodes.values());
      // Measure what was drawn (one layout) and correct the sums.
      const anchor = this.heights.indexAt(this.el.scrollTop);
      let shiftAbove = 0;
      let changed = false;
      for (const [i, node] of nodes) {
        const before = this.heights.size(i);
        if (this.heights.set(i, node.offsetHeight || before)) {
          changed = true;
          if (i < anchor) shiftAbove += this.heights.size(i) - before;
        }
      }
      this.win.style.transform = `translateY(${this.heights.top(start)}px)`;
      this.spacer.style.height = `${this.heights.total()}px`;
      if (shiftAbove) this.el.scrollTop += shiftAbove;
      if (!changed) break;
    }
    this.opts.drawn?.(this.range[0], this.range[1]);
  }
}
