// Line diff for the review page: Myers' O(ND) algorithm on the lines between a common prefix and
// suffix, shown as unified hunks with `context` lines around each change. Bounded: past MAX_D
// edits the middle is shown as removed then added (a rewrite), so a huge file never stalls the page.

export type LineKind = "ctx" | "add" | "del" | "gap";

export interface DiffLine {
  kind: LineKind;
  text: string;
  /** Line number on the old side (null for an added line or a gap). */
  old: number | null;
  /** Line number on the new side (null for a removed line or a gap). */
  new: number | null;
  /** For a gap: how many unchanged lines it stands for. */
  skipped?: number;
}

const MAX_D = 1000; // its trace holds MAX_D copies of a 2·MAX_D array: 8 MB at most

export function splitLines(text: string | undefined): string[] {
  if (!text) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

type Op = "=" | "-" | "+";

/** The edit script turning `a` into `b` (one op per line), or null past `MAX_D` edits. */
function myers(a: string[], b: string[]): Op[] | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_D);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a.length, b.length, offset, d);
    }
  }
  return null;
}

function backtrack(trace: Int32Array[], n: number, m: number, offset: number, dEnd: number): Op[] {
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = v[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push("=");
      x--;
      y--;
    }
    ops.push(x === prevX ? "+" : "-");
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    ops.push("=");
    x--;
    y--;
  }
  return ops.reverse();
}

/** Every line of both sides, in order, each marked unchanged, removed or added. */
export function diffLines(a: string[], b: string[]): DiffLine[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  // One side empty (an added or deleted file, lines only appended): nothing to search for.
  const ops: Op[] = (midA.length && midB.length ? myers(midA, midB) : null) ?? [...midA.map((): Op => "-"), ...midB.map((): Op => "+")];
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) out.push({ kind: "ctx", text: a[i]!, old: i + 1, new: i + 1 });
  let i = start;
  let j = start;
  for (const op of ops) {
    if (op === "=") {
      out.push({ kind: "ctx", text: a[i]!, old: i + 1, new: j + 1 });
      i++;
      j++;
    } else if (op === "-") {
      out.push({ kind: "del", text: a[i]!, old: i + 1, new: null });
      i++;
    } else {
      out.push({ kind: "add", text: b[j]!, old: null, new: j + 1 });
      j++;
    }
  }
  for (; i < a.length; i++, j++) out.push({ kind: "ctx", text: a[i]!, old: i + 1, new: j + 1 });
  return out;
}

/** Unified hunks: changed lines with `context` unchanged lines around them, the rest as gaps. */
export function unified(oldText: string | undefined, newText: string | undefined, context = 3): DiffLine[] {
  const all = diffLines(splitLines(oldText), splitLines(newText));
  const keep = new Uint8Array(all.length);
  all.forEach((l, idx) => {
    if (l.kind === "ctx") return;
    for (let k = Math.max(0, idx - context); k <= Math.min(all.length - 1, idx + context); k++) keep[k] = 1;
  });
  const out: DiffLine[] = [];
  let skipped = 0;
  all.forEach((l, idx) => {
    if (keep[idx]) {
      if (skipped) out.push({ kind: "gap", text: "", old: null, new: null, skipped });
      skipped = 0;
      out.push(l);
    } else skipped++;
  });
  if (skipped && out.length) out.push({ kind: "gap", text: "", old: null, new: null, skipped });
  return out;
}
