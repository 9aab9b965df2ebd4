// Virtual window maths, pure: item heights (known or estimated) as prefix sums, and which items a
// scroll position shows. A list of 100,000 rows costs one Float64Array, not 100,000 DOM nodes.

export class Heights {
  private sizes: Float64Array;
  private offsets: Float64Array; // offsets[i] = top of item i; offsets[n] = total
  private dirtyFrom = 0;

  constructor(
    count: number,
    readonly estimate: number,
  ) {
    this.sizes = new Float64Array(count).fill(estimate);
    this.offsets = new Float64Array(count + 1);
    this.dirtyFrom = 0;
  }

  get count(): number {
    return this.sizes.length;
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  /** Record a measured height; true when it differs from what was assumed. */
  set(i: number, px: number): boolean {
    if (i < 0 || i >= this.sizes.length || this.sizes[i] === px) return false;
    this.sizes[i] = px;
    this.dirtyFrom = Math.min(this.dirtyFrom, i);
    return true;
  }

  private settle(): void {
    const n = this.sizes.length;
    if (this.dirtyFrom > n) return;
    for (let i = this.dirtyFrom; i < n; i++) this.offsets[i + 1] = this.offsets[i]! + this.sizes[i]!;
    this.dirtyFrom = n + 1;
  }

  /** Top of item i (i = count gives the total height). */
  top(i: number): number {
    this.settle();
    return this.offsets[Math.max(0, Math.min(i, this.sizes.length))]!;
  }

  total(): number {
    return this.top(this.sizes.length);
  }

  /** The item at pixel `y` (the last one when y is past the end; 0 for an empty list). */
  indexAt(y: number): number {
    this.settle();
    const n = this.sizes.length;
    if (n === 0) return 0;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid]! <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Items [start, end) to draw for a viewport at `scrollTop` of `viewport` px, `overscan` px beyond each edge. */
export function visibleRange(heights: Heights, scrollTop: number, viewport: number, overscan: number): [number, number] {
  if (heights.count === 0) return [0, 0];
  const start = heights.indexAt(Math.max(0, scrollTop - overscan));
  const last = heights.indexAt(scrollTop + viewport + overscan);
  return [start, Math.min(heights.count, last + 1)];
}

/** The scrollTop that brings item i into view: unchanged if visible, else aligned to `align`. */
export function scrollToShow(heights: Heights, i: number, scrollTop: number, viewport: number, align: "start" | "center" = "start"): number {
  const top = heights.top(i);
  const bottom = top + heights.size(i);
  if (top >= scrollTop && bottom <= scrollTop + viewport) return scrollTop;
  return Math.max(0, align === "center" ? top - (viewport - heights.size(i)) / 2 : top);
}
