// One workspace card: git state, actions, and its keyed session rows.

import { h, reconcileChildren, setAttr, setClass, setHidden, setText } from "../dom";
import type { Session, Workspace } from "../types";
import { type SessionActions, SessionRow } from "./sessionRow";

export interface WorkspaceActions extends SessionActions {
  disposeWorkspace(workspace: Workspace): void;
  spawnInto(workspace: Workspace): void;
}

function stat(testid: string, title: string, prefix: string, cls: string) {
  const value = h("span", { testid, class: "stat-value" });
  const el = h(
    "span",
    { class: `stat ${cls}`, attrs: { title } },
    prefix ? h("span", { class: "stat-prefix", attrs: { "aria-hidden": "true" }, text: prefix }) : null,
    value,
  );
  return { el, value };
}

export class WorkspaceRow {
  readonly el: HTMLElement;
  private workspace: Workspace;
  private signature = "";
  private readonly rows = new Map<string, SessionRow>();
  private readonly repo: HTMLHeadingElement;
  private readonly branch: HTMLSpanElement;
  private readonly idLabel: HTMLSpanElement;
  private readonly path: HTMLDivElement;
  private readonly gitError: HTMLParagraphElement;
  private readonly ahead = stat("git-ahead", "commits ahead of upstream", "↑", "stat-ahead");
  private readonly behind = stat("git-behind", "commits behind upstream", "↓", "stat-behind");
  private readonly added = stat("git-lines-added", "lines added (working tree vs HEAD)", "+", "stat-added");
  private readonly removed = stat("git-lines-removed", "lines removed (working tree vs HEAD)", "−", "stat-removed");
  private readonly files: HTMLSpanElement;
  private readonly dirty: HTMLSpanElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLParagraphElement;
  private readonly hiddenNote: HTMLParagraphElement;
  private readonly addBtn: HTMLButtonElement;
  private readonly disposeBtn: HTMLButtonElement;

  constructor(workspace: Workspace, sessions: Session[], private readonly actions: WorkspaceActions, now: number) {
    this.workspace = workspace;
    const headingId = `ws-title-${cssSafe(workspace.id)}`;
    this.repo = h("h2", { class: "ws-repo", attrs: { id: headingId } });
    this.branch = h("span", { class: "ws-branch", testid: "branch", attrs: { title: "branch" } });
    this.idLabel = h("span", { class: "ws-id" });
    this.files = h("span", { class: "stat stat-files", testid: "git-files-changed" });
    this.dirty = h("span", { class: "dirty-mark", testid: "git-dirty" });
    this.path = h("div", { class: "ws-path", testid: "path" });
    this.gitError = h("p", { class: "ws-git-error", testid: "git-error" });
    this.list = h("ul", { class: "sessions", attrs: { "aria-label": "sessions" } });
    this.empty = h("p", { class: "ws-empty", text: "No sessions in this workspace." });
    this.hiddenNote = h("p", { class: "ws-empty" });
    this.addBtn = h("button", {
      class: "btn btn-small",
      testid: "spawn-into-workspace",
      text: "+ Session",
      attrs: { type: "button" },
      on: { click: () => this.actions.spawnInto(this.workspace) },
    });
    this.disposeBtn = h("button", {
      class: "btn btn-small btn-danger-quiet",
      testid: "dispose-workspace",
      text: "Dispose workspace…",
      attrs: { type: "button" },
      on: { click: () => this.actions.disposeWorkspace(this.workspace) },
    });
    this.el = h(
      "article",
      { class: "ws", testid: `workspace-${workspace.id}`, attrs: { "aria-labelledby": headingId } },
      h(
        "header",
        { class: "ws-head" },
        h("div", { class: "ws-title" }, this.repo, h("span", { class: "branch-icon", attrs: { "aria-hidden": "true" }, text: "⎇" }), this.branch, this.idLabel),
        h(
          "div",
          { class: "ws-git", attrs: { "aria-label": "git status" } },
          this.ahead.el,
          this.behind.el,
          this.dirty,
          this.added.el,
          this.removed.el,
          this.files,
        ),
        h("div", { class: "ws-actions" }, this.addBtn, this.disposeBtn),
      ),
      this.path,
      this.gitError,
      this.list,
      this.empty,
      this.hiddenNote,
    );
    this.el.dataset.workspaceId = workspace.id;
    this.render(sessions, now);
  }

  /** Patch the card; a no-op when neither the workspace nor the visible sessions changed. */
  update(workspace: Workspace, sessions: Session[], now: number): void {
    this.workspace = workspace;
    this.render(sessions, now);
  }

  tick(now: number): void {
    for (const r of this.rows.values()) r.tick(now);
  }

  private render(sessions: Session[], now: number): void {
    const w = this.workspace;
    const sig = JSON.stringify(w) + "|" + sessions.map((s) => s.id).join(",");
    if (sig === this.signature) return;
    this.signature = sig;

    setText(this.repo, w.short_repo || w.repo);
    setAttr(this.repo, "title", w.repo);
    setText(this.branch, w.branch);
    setText(this.idLabel, w.id);
    setText(this.path, w.path);
    setText(this.gitError, w.git_error ? `git status failed: ${w.git_error}` : "");
    setHidden(this.gitError, !w.git_error);
    setAttr(this.path, "title", w.path);
    setText(this.ahead.value, String(w.git_ahead));
    setText(this.behind.value, String(w.git_behind));
    setClass(this.ahead.el, "is-zero", w.git_ahead === 0);
    setClass(this.behind.el, "is-zero", w.git_behind === 0);
    setAttr(this.ahead.el, "title", `${w.git_ahead} commit${w.git_ahead === 1 ? "" : "s"} ahead of upstream`);
    setAttr(this.behind.el, "title", `${w.git_behind} commit${w.git_behind === 1 ? "" : "s"} behind upstream`);
    setText(this.added.value, String(w.git_lines_added));
    setText(this.removed.value, String(w.git_lines_removed));
    setClass(this.added.el, "is-zero", w.git_lines_added === 0);
    setClass(this.removed.el, "is-zero", w.git_lines_removed === 0);
    setText(this.files, `${w.git_files_changed} file${w.git_files_changed === 1 ? "" : "s"}`);
    setClass(this.files, "is-zero", w.git_files_changed === 0);
    setText(this.dirty, w.git_dirty ? "● uncommitted" : "clean");
    this.dirty.dataset.dirty = String(w.git_dirty);
    setAttr(this.dirty, "title", w.git_dirty ? "modified, staged or untracked files" : "no local changes");
    setClass(this.el, "is-dirty", w.git_dirty);
    setAttr(this.addBtn, "aria-label", `Spawn a session into ${w.id}`);
    setAttr(this.disposeBtn, "aria-label", `Dispose workspace ${w.id}`);

    const wanted: Element[] = [];
    const seen = new Set<string>();
    for (const s of sessions) {
      seen.add(s.id);
      let row = this.rows.get(s.id);
      if (row) row.update(s, w, now);
      else {
        row = new SessionRow(s, w, this.actions, now);
        this.rows.set(s.id, row);
      }
      wanted.push(row.el);
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
    reconcileChildren(this.list, wanted);
    setHidden(this.list, sessions.length === 0);
    setHidden(this.empty, w.sessions.length !== 0);
    const hidden = w.sessions.length - sessions.length;
    setHidden(this.hiddenNote, hidden === 0 || sessions.length === 0);
    setText(this.hiddenNote, `${hidden} more session${hidden === 1 ? "" : "s"} hidden by the filter.`);
  }
}

function cssSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_");
}
