// "#/review/<workspace id>": a workspace's changes (GET /api/diff) as a file list with status and
// +/− counts beside a unified view of the selected file. Comments (selecting lines, the pending round,
// sending, the rounds' history) are reviewComments.ts's: it reads the `data-path`/`data-line`/
// `data-old-line` of the lines drawn here. The diff is fetched again when the dashboard push says the
// workspace's git state changed: no polling.

import type { Api } from "../api";
import { h, setText } from "../dom";
import { type DiffLine, unified } from "../linediff";
import { reviewHref } from "../router";
import type { DiffResponse, FileDiff, Workspace } from "../types";
import { ReviewComments } from "./reviewComments";

const MAX_ROWS = 5000; // rows of one file drawn at once; "Show more" draws the rest
const STATUS_LETTER: Record<string, string> = { added: "A", modified: "M", deleted: "D", renamed: "R", untracked: "?" };

export interface ReviewViewDeps {
  api: Api;
  toast(message: string, kind: "success" | "error"): void;
  storage: Storage | null;
}

const fileKey = (f: FileDiff): string => f.new_path || f.old_path || "";

export class ReviewView {
  readonly el: HTMLElement;
  private workspaceId: string | null = null;
  private file: string | null = null;
  private base: "head" | "branch" = "head";
  private diff: DiffResponse | null = null;
  private gitSignature = "";
  private loading = 0; // generation of the fetch in flight
  private refetch = false;
  private rowsShown = MAX_ROWS;

  private readonly title: HTMLHeadingElement;
  private readonly status: HTMLParagraphElement;
  private readonly baseSelect: HTMLSelectElement;
  private readonly files: HTMLUListElement;
  private readonly fileTitle: HTMLHeadingElement;
  private readonly body: HTMLDivElement;
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
    this.files = h("ul", { class: "review-files", testid: "review-files", attrs: { "aria-label": "changed files" } });
    this.fileTitle = h("h3", { class: "review-file-title", testid: "review-file-title" });
    this.body = h("div", { class: "review-diff", testid: "review-diff" });
    this.comments = new ReviewComments(deps);
    this.comments.attach(this.body);
    this.el = h(
      "section",
      { class: "review-view", testid: "review-view", attrs: { "aria-label": "review" } },
      h(
        "header",
        { class: "review-head" },
        h("a", { class: "btn btn-small", attrs: { href: "#/" }, text: "← Dashboard" }),
        this.title,
        this.baseSelect,
        this.status,
      ),
      h(
        "div",
        { class: "review-layout" },
        h("nav", { class: "review-side", attrs: { "aria-label": "files" } }, this.files),
        h("div", { class: "review-main" }, this.fileTitle, this.body),
      ),
      this.comments.el,
    );
    this.el.addEventListener("keydown", (e) => this.onKey(e));
    this.el.tabIndex = -1;
  }

  /** Show workspace `wid` (its `file` selected, when given); the dashboard state's record of it. */
  open(wid: string, file: string | null, workspace: Workspace | null): void {
    if (wid !== this.workspaceId) {
      this.workspaceId = wid;
      this.diff = null;
      this.gitSignature = "";
      this.comments.open(wid);
      this.file = file;
      this.rowsShown = MAX_ROWS;
    } else if (file !== this.file) {
      this.file = file;
      this.rowsShown = MAX_ROWS;
      this.renderFiles();
      this.renderFile();
    }
    this.update(workspace);
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
      ? [workspace.git_lines_added, workspace.git_lines_removed, workspace.git_files_changed, workspace.git_ahead, workspace.git_dirty].join(",")
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
    const files = this.diff?.files ?? [];
    this.files.replaceChildren(
      ...files.map((f) => {
        const key = fileKey(f);
        const selected = key === this.file;
        return h(
          "li",
          {},
          h(
            "a",
            {
              class: `review-file${selected ? " is-selected" : ""}`,
              testid: "review-file",
              attrs: { href: reviewHref(this.workspaceId ?? "", key), "aria-current": selected ? "true" : null, title: key },
            },
            h("span", { class: `review-file-status status-${f.status}`, text: STATUS_LETTER[f.status] ?? "M", attrs: { title: f.status } }),
            h("span", { class: "review-file-path", text: key }),
            h("span", { class: "stat-added", text: f.lines_added ? `+${f.lines_added}` : "" }),
            h("span", { class: "stat-removed", text: f.lines_removed ? `−${f.lines_removed}` : "" }),
          ),
        );
      }),
    );
  }

  private selected(): FileDiff | null {
    return this.diff?.files.find((f) => fileKey(f) === this.file) ?? null;
  }

  private renderFile(): void {
    const f = this.selected();
    setText(this.fileTitle, f ? (f.status === "renamed" && f.old_path ? `${f.old_path} → ${f.new_path}` : fileKey(f)) : "");
    if (!f) {
      this.body.replaceChildren();
      return;
    }
    if (f.binary) {
      this.body.replaceChildren(h("p", { class: "review-note", text: "Binary file: not shown." }));
      return;
    }
    const lines = unified(f.old_content, f.new_content);
    const rows = lines.slice(0, this.rowsShown).map((l) => this.row(f, l));
    const table = h("table", { class: "review-lines" }, h("tbody", {}, ...rows));
    const extra: Node[] = [];
    if (f.truncated) extra.push(h("p", { class: "review-note", text: "This file is too large to show whole: it is cut." }));
    if (lines.length > this.rowsShown) {
      extra.push(
        h("button", {
          class: "btn btn-small",
          text: `Show ${lines.length - this.rowsShown} more lines`,
          attrs: { type: "button" },
          on: {
            click: () => {
              this.rowsShown += MAX_ROWS;
              this.renderFile();
            },
          },
        }),
      );
    }
    this.body.replaceChildren(table, ...extra);
    this.comments.decorate();
  }

  private row(f: FileDiff, l: DiffLine): HTMLTableRowElement {
    if (l.kind === "gap") {
      return h("tr", { class: "line-gap" }, h("td", { attrs: { colspan: 4 }, text: `⋯ ${l.skipped} unchanged line${l.skipped === 1 ? "" : "s"}` }));
    }
    const sign = l.kind === "add" ? "+" : l.kind === "del" ? "−" : " ";
    const tr = h(
      "tr",
      {
        class: `line-${l.kind}`,
        testid: "review-line",
        // reviewComments.ts selects lines by these (data-line: the working tree's line number)
        attrs: {
          tabindex: 0,
          title: "Click to comment on this line; shift-click or drag the line numbers for a range",
          "data-path": fileKey(f),
          "data-line": l.new,
          "data-old-line": l.old,
        },
      },
      h("td", { class: "ln", text: l.old === null ? "" : String(l.old) }),
      h("td", { class: "ln", text: l.new === null ? "" : String(l.new) }),
      h("td", { class: "sign", text: sign }),
      h("td", { class: "code", text: l.text }),
    );
    return tr;
  }

  private onKey(e: KeyboardEvent): void {
    const t = e.target as HTMLElement | null;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT")) return;
    if (e.key !== "j" && e.key !== "k") return;
    const files = this.diff?.files ?? [];
    const at = files.findIndex((f) => fileKey(f) === this.file);
    const next = files[at + (e.key === "j" ? 1 : -1)];
    if (next) {
      e.preventDefault();
      location.hash = reviewHref(this.workspaceId ?? "", fileKey(next));
    }
  }
}
