// Sorting and filter choices, kept in localStorage so they survive reloads.

import { VIEW_MODES, type ViewMode } from "./diffview/rows";
import { FILTERS, type Filter, SORTS, type SortKey } from "./view";

export const PREFS_KEY = "schmux-desktop.dashboard.prefs.v1";

export interface Prefs {
  filter: Filter;
  sort: SortKey;
}

export const DEFAULT_PREFS: Prefs = { filter: "all", sort: "name" };

type StorageLike = Pick<Storage, "getItem" | "setItem">;

export function loadPrefs(storage: StorageLike | undefined): Prefs {
  try {
    const raw = storage?.getItem(PREFS_KEY);
    if (!raw) return { ...DEFAULT_PREFS };
    const v = JSON.parse(raw) as Partial<Record<keyof Prefs, unknown>>;
    const filter = FILTERS.some((f) => f.value === v.filter) ? (v.filter as Filter) : DEFAULT_PREFS.filter;
    const sort = SORTS.some((s) => s.value === v.sort) ? (v.sort as SortKey) : DEFAULT_PREFS.sort;
    return { filter, sort };
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

export function savePrefs(storage: StorageLike | undefined, prefs: Prefs): void {
  try {
    storage?.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    // Private mode or quota: the choice just does not survive a reload.
  }
}

/** The review page's diff layout (unified or side by side), its own key: the dashboard's prefs stay as they were. */
export const DIFF_VIEW_KEY = "schmux-desktop.review.view.v1";

export function loadDiffView(storage: StorageLike | undefined): ViewMode {
  try {
    const v = storage?.getItem(DIFF_VIEW_KEY);
    return VIEW_MODES.includes(v as ViewMode) ? (v as ViewMode) : "unified";
  } catch {
    return "unified";
  }
}

export function saveDiffView(storage: StorageLike | undefined, view: ViewMode): void {
  try {
    storage?.setItem(DIFF_VIEW_KEY, view);
  } catch {
    // as above
  }
}
