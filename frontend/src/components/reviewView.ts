// "#/review/<workspace id>": a workspace's changes (GET /api/diff) as a virtualised file list with
// status and +/− counts beside the selected file's diff, unified or side by side (diffview/). Review
// comments (a line or a range picked in the diff, the pending round kept on the server, sending,
// the rounds' history) are reviewComments.ts's, through the diff's line hooks. The diff is fetched
// again when the dashboard push says the workspace's git state changed: no polling.

import type { Api } from "../api";
import { h, setAttr, setText } from "../dom";
import { DiffBody } from "../diffview/diffBody";
import { FileList, fileKey } from "../diffview/fileList";
import type { ViewMode } from "../diffview/rows";
import { loadDiffView, saveDiffView } from "../prefs";
import { conflictsHref, reviewHref } from "../router";
import type { DiffResponse, FileDiff, Workspace } from "../types";
import { ReviewComments } from "./reviewComments";

/** The page's keys, shown in its help (and tested by tests/browser/test_review_viewer.py). */
export const REVIEW_KEYS: [key: string, what: string][] = [
  ["j / k", "next / previous file"],
  ["n / p", "next / previous change (hunk) in the file"],
  ["s", "switch between unified and side-by-side"],
  ["?", "show or hide this help"],
];

export interface ReviewViewDeps {
  api: Api;
  toast(message: string, kind: "success" | "error"): void;
  storage: Storage | null;
}

export class ReviewView {
  readonly el: HTMLElement;
  private workspaceId: string | null = null;
  private file: string | null = null;
  private base: "head" | "branch" = "head";
  private diff: DiffResponse | null = null;
  private gitSignature = "";
  private loading = 0; // generation of the fetch in flight
  private refetch = false;
  private view: ViewMode;
  private revealLine: { file: string | null; line: number; done: boolean } | null = null; // a deep link's line, shown once

  private readonly title: HTMLHeadingElement;
  private readonly status: HTMLParagraphElement;
  private readonly baseSelect: HTMLSelectElement;
  private readonly files: FileList;
  private readonly fileTitle: HTMLHeadingElement;
  private readonly diffBody: DiffBody;
  private readonly viewButtons: Record<ViewMode, HTMLButtonElement>;
  private readonly help: HTMLDetailsElement;
  private readonly comments: ReviewComments;

  constructor(private readonly deps: ReviewViewDeps) {
    this.title = h("h2", { class: "review-title", testid: "review-title" });
    this.status = h("p", { class: "review-status", testid: "review-status", attrs: { role: "status" } });
    this.baseSelect = h(
      "select",
      { testid: "review-base", attrs: { "aria-label": "compare with" }, on: { change: () => this.setBase(this.baseSelect.value) } },
      h("option", { attrs: { value: "head" }, text: "Uncommitted changes (against HEAD)" }),
      h("option", { attrs: { value: "branch" }, text: "Whole branch (since it forked)" }),
    );
    this.view = loadDiffView(deps.storage ?? undefined);
    this.files = new FileList((path) => reviewHref(this.workspaceId ?? "", path, this.view));
    this.fileTitle = h("h3", { class: "review-file-title", testid: "review-file-title" });
    this.comments = new ReviewComments(deps, (path, line) => reviewHref(this.workspaceId ?? "", path, this.view, line));
    this.diffBody = new DiffBody(this.comments.hooks);
    this.comments.attach(this.diffBody);
    const viewButton = (mode: ViewMode, text: string): HTMLButtonElement =>
      h("button", { class: "btn btn-small", testid: `review-view-${mode}`, text, attrs: { type: "button" }, on: { click: () => this.setView(mode) } });
    this.viewButtons = { unified: viewButton("unified", "Unified"), split: viewButton("split", "Side by side") };
    this.help = h(
      "details",
      { class: "review-help", testid: "review-help" },
      h("summary", { text: "Keys" }),
      h("dl", {}, ...REVIEW_KEYS.flatMap(([k, what]) => [h("dt", {}, h("kbd", { text: k })), h("dd", { text: what })])),
    );
    this.el = h(
      "section",
      { class: "review-view", testid: "review-view", attrs: { "aria-label": "review" } },
      h(
        "header",
        { class: "review-head" },
        h("a", { class: "btn btn-small", attrs: { href: "#/" }, text: "← Dashboard" }),
        this.title,
        this.baseSelect,
        h("div", { class: "review-view-toggle", attrs: { role: "group", "aria-label": "diff layout" } }, this.viewButtons.unified, this.viewButtons.split),
        h("a", { class: "btn btn-small", testid: "review-open-overlaps", attrs: { href: conflictsHref }, text: "Overlaps" }),
        this.help,
        this.status,
      ),
      h(
        "div",
        { class: "review-layout" },
        h("nav", { class: "review-side", attrs: { "aria-label": "files" } }, this.files.el),
        h("div", { class: "review-main" }, this.fileTitle, this.diffBody.el),
      ),
      this.comments.el,
    );
    document.addEventListener("keydown", (e) => this.onKey(e));
    this.el.tabIndex = -1;
    this.renderViewButtons();
  }

  /**
   * Show workspace `wid` (its `file` selected, when given; `view` from the deep link, else the
   * remembered layout); the dashboard state's record of it.
   */
  open(wid: string, file: string | null, workspace: Workspace | null, view: ViewMode | null = null, line: number | null = null): void {
    if (view && view !== this.view) this.setView(view, false);
    if (line !== null && (line !== this.revealLine?.line || file !== this.revealLine.file)) this.revealLine = { file, line, done: false };
    if (wid !== this.workspaceId) {
      this.workspaceId = wid;
      this.diff = null;
      this.gitSignature = "";
      this.comments.open(wid);
      this.file = file;
      this.renderFiles();
      this.renderFile();
    } else if (file !== null && file !== this.file) {
      this.file = file;
      this.files.select(file);
      this.renderFile();
    } else if (this.revealLine && !this.revealLine.done && this.diff) {
      this.renderFile(); // the same file, another line
    }
    this.update(workspace);
  }

  /** Unified or side by side: remembered (prefs) and put in the address, so a reload keeps it. */
  private setView(view: ViewMode, updateLink = true): void {
    this.view = view;
    saveDiffView(this.deps.storage ?? undefined, view);
    this.diffBody.setMode(view);
    this.renderViewButtons();
    if (this.diff) this.files.set(this.diff.files, this.file); // their links carry the view
    if (updateLink && this.workspaceId) history.replaceState(null, "", reviewHref(this.workspaceId, this.file, view));
  }

  private renderViewButtons(): void {
    for (const [mode, btn] of Object.entries(this.viewButtons)) {
      setAttr(btn, "aria-pressed", String(mode === this.view));
      btn.classList.toggle("btn-primary", mode === this.view);
    }
  }

  close(): void {
    this.workspaceId = null;
    this.comments.close();
  }

  /** A new dashboard state: fetch the diff again when this workspace's git state moved. */
  update(workspace: Workspace | null): void {
    if (!this.workspaceId) return;
    setText(this.title, workspace ? `Review ${workspace.id} · ⎇ ${workspace.branch}` : `Review ${this.workspaceId}`);
    const sig = workspace
      ? [workspace.git_lines_added, workspace.git_lines_removed, workspace.git_files_changed, workspace.git_ahead, workspace.git_dirty, workspace.git_revision ?? ""].join(",")
      : "";
    if (sig !== this.gitSignature || this.diff === null) {
      this.gitSignature = sig;
      void this.load();
    }
    this.comments.update(workspace);
  }

  private setBase(value: string): void {
    this.base = value === "branch" ? "branch" : "head";
    void this.load();
  }

  private async load(): Promise<void> {
    const wid = this.workspaceId;
    if (!wid) return;
    if (this.loading) {
      this.refetch = true; // one more once this one is in
      return;
    }
    const gen = ++this.loading;
    if (!this.diff) setText(this.status, "Loading the diff…");
    const res = await this.deps.api.diff(wid, this.base);
    if (gen !== this.loading || wid !== this.workspaceId) return;
    this.loading = 0;
    if (res.ok) {
      this.diff = res.data;
      const n = res.data.files.length;
      setText(this.status, n ? `${n} changed file${n === 1 ? "" : "s"}` : "No changes.");
      if (this.file === null || !res.data.files.some((f) => fileKey(f) === this.file)) this.file = n ? fileKey(res.data.files[0]!) : null;
      this.renderFiles();
      this.renderFile();
    } else {
      setText(this.status, `Cannot show the diff: ${res.error}`);
    }
    if (this.refetch) {
      this.refetch = false;
      void this.load();
    }
  }

  private renderFiles(): void {
    this.files.set(this.diff?.files ?? [], this.file);
  }

  private selected(): FileDiff | null {
    return this.diff?.files.find((f) => fileKey(f) === this.file) ?? null;
  }

  private renderFile(): void {
    const f = this.selected();
    setText(this.fileTitle, f ? (f.status === "renamed" && f.old_path ? `${f.old_path} → ${f.new_path}` : fileKey(f)) : "");
    this.comments.setFile(f);
    this.diffBody.show(f, this.view);
    const r = this.revealLine;
    if (f && r && !r.done && (r.file === null || r.file === this.file)) r.done = this.diffBody.reveal(r.line);
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.workspaceId || this.el.hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target as HTMLElement | null;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT" || t.isContentEditable)) return;
    if (e.key === "j" || e.key === "k") {
      const files = this.diff?.files ?? [];
      const at = files.findIndex((f) => fileKey(f) === this.file);
      const next = files[at + (e.key === "j" ? 1 : -1)];
      if (next) {
        // Select now (a key held down outruns hashchange), then put it in the address.
        this.file = fileKey(next);
        this.files.select(this.file);
        this.renderFile();
        location.hash = reviewHref(this.workspaceId, this.file, this.view);
      }
    } else if (e.key === "n" || e.key === "p") {
      this.diffBody.stepHunk(e.key === "n" ? 1 : -1);
    } else if (e.key === "s") {
      this.setView(this.view === "split" ? "unified" : "split");
    } else if (e.key === "?") {
      this.help.open = !this.help.open;
    } else return;
    e.preventDefault();
  }
}
