// The changed files of a review, virtualised: a thousand files cost a screenful of links.

import { h } from "../dom";
import type { FileDiff } from "../types";
import { VirtualList } from "./virtualList";

const STATUS_LETTER: Record<string, string> = { added: "A", modified: "M", deleted: "D", renamed: "R", untracked: "?" };

export const fileKey = (f: FileDiff): string => f.new_path || f.old_path || "";

export class FileList {
  private files: FileDiff[] = [];
  private selected: string | null = null;
  private readonly list: VirtualList;

  constructor(private readonly href: (path: string) => string) {
    this.list = new VirtualList({
      className: "review-files",
      testid: "review-files",
      label: "changed files",
      estimate: 28,
      overscan: 300,
      render: (i) => this.renderItem(i),
    });
  }

  get el(): HTMLElement {
    return this.list.el;
  }

  /** New files (the scroll position stays) and the selected one. */
  set(files: FileDiff[], selected: string | null): void {
    const sameList = files.length === this.files.length && files.every((f, i) => fileKey(f) === fileKey(this.files[i]!) && f.status === this.files[i]!.status);
    this.files = files;
    this.selected = selected;
    if (sameList) this.list.redraw();
    else this.list.reset(files.length);
  }

  select(path: string | null): void {
    this.selected = path;
    this.list.redraw();
    const i = this.files.findIndex((f) => fileKey(f) === path);
    if (i >= 0) this.list.scrollToIndex(i);
  }

  private renderItem(i: number): HTMLElement {
    const f = this.files[i]!;
    const key = fileKey(f);
    const selected = key === this.selected;
    return h(
      "a",
      {
        class: `review-file${selected ? " is-selected" : ""}`,
        testid: "review-file",
        attrs: { href: this.href(key), "aria-current": selected ? "true" : null, title: f.status === "renamed" && f.old_path ? `${f.old_path} → ${key}` : key, "data-path": key },
      },
      h("span", { class: `review-file-status status-${f.status}`, text: STATUS_LETTER[f.status] ?? "M", attrs: { title: f.status } }),
      h("span", { class: "review-file-path", text: key }),
      h("span", { class: "stat-added", text: f.lines_added ? `+${f.lines_added}` : "" }),
      h("span", { class: "stat-removed", text: f.lines_removed ? `−${f.lines_removed}` : "" }),
    );
  }
}
