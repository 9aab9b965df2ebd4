// A workspace's git state as a row of small stats: ↑ ahead, ↓ behind, dirty, + / − lines, files.
// Shared by the workspace cards and the session view's header; test ids get the caller's prefix
// ("git-ahead", "term-git-ahead", ...) and sit on the element holding the value.

import { h, setAttr, setClass, setText } from "../dom";
import type { Workspace } from "../types";

interface Stat {
  el: HTMLSpanElement;
  value: HTMLSpanElement;
}

function stat(testid: string, sign: string, cls: string): Stat {
  const value = h("span", { testid, class: "stat-value" });
  const el = h(
    "span",
    { class: `stat ${cls}` },
    h("span", { class: "stat-sign", attrs: { "aria-hidden": "true" }, text: sign }),
    value,
  );
  return { el, value };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

export class GitStats {
  private readonly ahead: Stat;
  private readonly behind: Stat;
  private readonly added: Stat;
  private readonly removed: Stat;
  private readonly files: HTMLSpanElement;
  private readonly dirty: HTMLSpanElement;
  /** In display order, for the caller to place. */
  readonly nodes: HTMLElement[];

  constructor(testidPrefix: string) {
    const id = (name: string): string => `${testidPrefix}${name}`;
    this.ahead = stat(id("ahead"), "↑", "stat-ahead");
    this.behind = stat(id("behind"), "↓", "stat-behind");
    this.added = stat(id("lines-added"), "+", "stat-added");
    this.removed = stat(id("lines-removed"), "−", "stat-removed");
    this.files = h("span", { class: "stat stat-files", testid: id("files-changed") });
    this.dirty = h("span", { class: "dirty-mark", testid: id("dirty") });
    setAttr(this.added.el, "title", "lines added (working tree vs HEAD)");
    setAttr(this.removed.el, "title", "lines removed (working tree vs HEAD)");
    this.nodes = [this.ahead.el, this.behind.el, this.dirty, this.added.el, this.removed.el, this.files];
  }

  update(w: Workspace): void {
    setText(this.ahead.value, String(w.git_ahead));
    setText(this.behind.value, String(w.git_behind));
    setClass(this.ahead.el, "is-zero", w.git_ahead === 0);
    setClass(this.behind.el, "is-zero", w.git_behind === 0);
    setAttr(this.ahead.el, "title", `${plural(w.git_ahead, "commit")} ahead of upstream`);
    setAttr(this.behind.el, "title", `${plural(w.git_behind, "commit")} behind upstream`);
    setText(this.added.value, String(w.git_lines_added));
    setText(this.removed.value, String(w.git_lines_removed));
    setClass(this.added.el, "is-zero", w.git_lines_added === 0);
    setClass(this.removed.el, "is-zero", w.git_lines_removed === 0);
    setText(this.files, plural(w.git_files_changed, "file"));
    setClass(this.files, "is-zero", w.git_files_changed === 0);
    setText(this.dirty, w.git_dirty ? "● uncommitted" : "clean");
    this.dirty.dataset.dirty = String(w.git_dirty);
    setAttr(this.dirty, "title", w.git_dirty ? "modified, staged or untracked files" : "no local changes");
  }
}
