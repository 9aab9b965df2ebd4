// One workspace card: git state, actions, and its keyed session rows.

import { conflictBadges } from "../conflicts";
import { h, reconcileChildren, setAttr, setClass, setHidden, setText } from "../dom";
import { conflictsHref, reviewHref } from "../router";
import type { Session, Workspace } from "../types";
import { repoName } from "../view";
import { GitStats } from "./gitStats";
import { type SessionActions, SessionRow } from "./sessionRow";

export interface WorkspaceActions extends SessionActions {
  disposeWorkspace(workspace: Workspace): void;
  spawnInto(workspace: Workspace): void;
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
  private readonly git = new GitStats("git-");
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLParagraphElement;
  private readonly hiddenNote: HTMLParagraphElement;
  private readonly addBtn: HTMLButtonElement;
  private readonly disposeBtn: HTMLButtonElement;
  private readonly reviewLink: HTMLAnchorElement;
  private readonly conflicts: HTMLDivElement;

  constructor(workspace: Workspace, sessions: Session[], private readonly actions: WorkspaceActions, now: number) {
    this.workspace = workspace;
    const headingId = `ws-title-${cssSafe(workspace.id)}`;
    this.repo = h("h2", { class: "ws-repo", attrs: { id: headingId } });
    this.branch = h("span", { class: "ws-branch", testid: "branch", attrs: { title: "branch" } });
    this.idLabel = h("span", { class: "ws-id" });
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
    this.reviewLink = h("a", { class: "btn btn-small", testid: "review-workspace", text: "Review changes", attrs: { href: reviewHref(workspace.id) } });
    this.conflicts = h("div", { class: "ws-conflicts", testid: "conflicts", attrs: { "aria-label": "conflict forecast" } });
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
          ...this.git.nodes,
        ),
        h("div", { class: "ws-actions" }, this.reviewLink, this.addBtn, this.disposeBtn),
      ),
      this.conflicts,
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

    setText(this.repo, repoName(w));
    setAttr(this.repo, "title", w.repo);
    setText(this.branch, w.branch);
    setText(this.idLabel, w.id);
    setText(this.path, w.path);
    setText(this.gitError, w.git_error ? `git status failed: ${w.git_error}` : "");
    setHidden(this.gitError, !w.git_error);
    setAttr(this.path, "title", w.path);
    this.git.update(w);
    setClass(this.el, "is-dirty", w.git_dirty);
    const badges = conflictBadges(w);
    this.conflicts.replaceChildren(
      ...badges.map((b) =>
        h("a", { class: `conflict-badge conflict-${b.kind}`, testid: `conflict-${b.kind}`, text: b.text, attrs: { title: `${b.title}\n\nClick for the overlap matrix.`, href: conflictsHref } }),
      ),
    );
    setHidden(this.conflicts, badges.length === 0);
    setAttr(this.reviewLink, "href", reviewHref(w.id));
    setAttr(this.reviewLink, "aria-label", `Review the changes of ${w.id}`);
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
