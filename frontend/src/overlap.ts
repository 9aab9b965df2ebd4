// The overlap matrix, pure: per repo, which workspaces change the same files (from each workspace's
// `conflicts`, docs/API.md#the-conflict-forecast) and which would conflict with the default branch.

import type { Workspace } from "./types";

export const BASE = "base";

export interface RepoMatrix {
  repo: string;
  /** Workspace ids of the repo, sorted: the rows and the columns. */
  ids: string[];
  /** Shared paths of two workspaces (either order); absent when they share none. */
  cells: Map<string, string[]>;
  /** Per workspace, the paths a merge into the default branch would conflict on. */
  base: Map<string, string[]>;
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

export function repoOf(w: Workspace): string {
  return w.repo_name || w.short_repo || w.repo;
}

/** One matrix per repo (sorted by name), its cells symmetric: the union of what both sides report. */
export function buildMatrices(workspaces: readonly Workspace[]): RepoMatrix[] {
  const byRepo = new Map<string, Workspace[]>();
  for (const w of workspaces) {
    const list = byRepo.get(repoOf(w)) ?? [];
    list.push(w);
    byRepo.set(repoOf(w), list);
  }
  const out: RepoMatrix[] = [];
  for (const [repo, list] of [...byRepo].sort((a, b) => a[0].localeCompare(b[0]))) {
    const ids = list.map((w) => w.id).sort();
    const known = new Set(ids);
    const cells = new Map<string, string[]>();
    const base = new Map<string, string[]>();
    for (const w of list) {
      for (const c of w.conflicts ?? []) {
        if (c.with === BASE) {
          base.set(w.id, [...new Set([...(base.get(w.id) ?? []), ...c.files])].sort());
        } else if (known.has(c.with) && c.with !== w.id) {
          const key = pairKey(w.id, c.with);
          cells.set(key, [...new Set([...(cells.get(key) ?? []), ...c.files])].sort());
        }
      }
    }
    out.push({ repo, ids, cells, base });
  }
  return out;
}

/** The paths workspaces `a` and `b` both change ([] when none, or a === b). */
export function shared(m: RepoMatrix, a: string, b: string): string[] {
  return a === b ? [] : (m.cells.get(pairKey(a, b)) ?? []);
}

/** How many pairs overlap and how many workspaces would conflict with the default branch. */
export function matrixTotals(m: RepoMatrix): { overlaps: number; base: number } {
  return { overlaps: m.cells.size, base: m.base.size };
}
