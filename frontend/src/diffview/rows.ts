// Rows of the diff viewer, pure: the unified lines of one file (linediff.ts) as unified rows or as
// side-by-side (split) rows, each removed line paired with the added line that replaced it (for the
// word-level highlights), and where each hunk starts (for keyboard navigation).

import type { DiffLine } from "../linediff";

export type ViewMode = "unified" | "split";
export const VIEW_MODES: readonly ViewMode[] = ["unified", "split"];

/** One side of a split row: a line of the old or the new file, or nothing (the other side grew). */
export interface Side {
  kind: "ctx" | "add" | "del";
  text: string;
  line: number;
}

export type Row =
  | { type: "gap"; skipped: number }
  /** Unified: one line; `partner` is the index (in the same list) of the line it pairs with, or -1. */
  | { type: "line"; line: DiffLine; partner: number }
  /** Split: the old side and the new side (either may be absent inside a change). */
  | { type: "split"; left: Side | null; right: Side | null };

/**
 * For every line, the index of the line it pairs with: inside a change block (removed lines then
 * added lines, nothing between), the i-th removed line pairs with the i-th added one; -1 otherwise.
 */
export function pairChanges(lines: readonly DiffLine[]): Int32Array {
  const partner = new Int32Array(lines.length).fill(-1);
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.kind !== "del" && lines[i]!.kind !== "add") {
      i++;
      continue;
    }
    const delStart = i;
    while (i < lines.length && lines[i]!.kind === "del") i++;
    const addStart = i;
    while (i < lines.length && lines[i]!.kind === "add") i++;
    const pairs = Math.min(addStart - delStart, i - addStart);
    for (let k = 0; k < pairs; k++) {
      partner[delStart + k] = addStart + k;
      partner[addStart + k] = delStart + k;
    }
  }
  return partner;
}

export function unifiedRows(lines: readonly DiffLine[]): Row[] {
  const partner = pairChanges(lines);
  return lines.map((l, i) => (l.kind === "gap" ? { type: "gap", skipped: l.skipped ?? 0 } : { type: "line", line: l, partner: partner[i]! }));
}

const side = (l: DiffLine): Side => ({
  kind: l.kind === "gap" ? "ctx" : l.kind,
  text: l.text,
  line: (l.kind === "add" ? l.new : l.old) ?? 0,
});

/** Side by side: unchanged lines on both sides, each change block as removed|added pairs. */
export function splitRows(lines: readonly DiffLine[]): Row[] {
  const rows: Row[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.kind === "gap") {
      rows.push({ type: "gap", skipped: l.skipped ?? 0 });
      i++;
    } else if (l.kind === "ctx") {
      rows.push({ type: "split", left: side(l), right: { kind: "ctx", text: l.text, line: l.new ?? 0 } });
      i++;
    } else {
      const dels: DiffLine[] = [];
      const adds: DiffLine[] = [];
      while (i < lines.length && lines[i]!.kind === "del") dels.push(lines[i++]!);
      while (i < lines.length && lines[i]!.kind === "add") adds.push(lines[i++]!);
      for (let k = 0; k < Math.max(dels.length, adds.length); k++) {
        rows.push({ type: "split", left: dels[k] ? side(dels[k]!) : null, right: adds[k] ? side(adds[k]!) : null });
      }
    }
  }
  return rows;
}

const changed = (r: Row): boolean =>
  r.type === "line" ? r.line.kind !== "ctx" : r.type === "split" ? r.left?.kind !== "ctx" || r.right?.kind !== "ctx" : false;

/** Index of the first row of every hunk (a run of changed rows). */
export function hunkStarts(rows: readonly Row[]): number[] {
  const out: number[] = [];
  rows.forEach((r, i) => {
    if (changed(r) && (i === 0 || !changed(rows[i - 1]!))) out.push(i);
  });
  return out;
}

/** The hunk start after (dir 1) or before (dir -1) row `at`; null when there is none. */
export function nextHunk(starts: readonly number[], at: number, dir: 1 | -1): number | null {
  if (dir === 1) return starts.find((s) => s > at) ?? null;
  for (let k = starts.length - 1; k >= 0; k--) if (starts[k]! < at) return starts[k]!;
  return null;
}

/** The row showing line `line` of the new side (or, failing that, the old side); -1 when absent. */
export function rowOfLine(rows: readonly Row[], line: number, which: "old" | "new"): number {
  return rows.findIndex((r) =>
    r.type === "line"
      ? (which === "new" ? r.line.new : r.line.old) === line
      : r.type === "split"
        ? (which === "new" ? r.right : r.left)?.line === line
        : false,
  );
}
