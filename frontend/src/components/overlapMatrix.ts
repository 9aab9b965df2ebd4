// "#/conflicts": who overlaps whom, per repo. Rows and columns are the repo's workspaces; a cell
// counts the files both change (their names on hover, listed with review links on click); the last
// column counts the files a merge into the default branch would conflict on. Built from the
// `conflicts` of the pushed workspaces, so it is live like the rest of the dashboard.

import { h, setHidden, setText } from "../dom";
import { buildMatrices, matrixTotals, type RepoMatrix, shared } from "../overlap";
import { reviewHref } from "../router";
import type { Workspace } from "../types";

const files = (n: number): string => `${n} file${n === 1 ? "" : "s"}`;
const listed = (paths: string[]): string => (paths.length > 20 ? `${paths.slice(0, 20).join("\n")}\n… and ${paths.length - 20} more` : paths.join("\n"));

export class OverlapMatrix {
  readonly el: HTMLElement;
  private readonly body: HTMLDivElement;
  private readonly detail: HTMLElement;
  private readonly summary: HTMLParagraphElement;
  private picked: { a: string; b: string } | null = null; // b = "base" for the default branch
  private matrices: RepoMatrix[] = [];

  constructor() {
    this.summary = h("p", { class: "overlap-summary", testid: "overlap-summary", attrs: { role: "status" } });
    this.body = h("div", { class: "overlap-body" });
    this.detail = h("section", { class: "overlap-detail panel", testid: "overlap-detail", attrs: { "aria-live": "polite" } });
    this.el = h(
      "section",
      { class: "overlap-view", testid: "overlap-view", attrs: { "aria-label": "overlaps between workspaces" } },
      h(
        "header",
        { class: "review-head" },
        h("a", { class: "btn btn-small", attrs: { href: "#/" }, text: "← Dashboard" }),
        h("h2", { class: "review-title", text: "Who overlaps whom" }),
        this.summary,
      ),
      h("p", {
        class: "overlap-help",
        text: "A number is how many files two workspaces both change (committed or not): merging both means merging those files twice. The last column counts the files a merge into the default branch would conflict on. Hover a cell for the names; click it for links.",
      }),
      this.body,
      this.detail,
    );
    setHidden(this.detail, true);
  }

  update(workspaces: Workspace[] | null): void {
    if (!workspaces) {
      setText(this.summary, "Loading…");
      return;
    }
    this.matrices = buildMatrices(workspaces);
    const totals = this.matrices.map(matrixTotals);
    const pairs = totals.reduce((n, t) => n + t.overlaps, 0);
    const base = totals.reduce((n, t) => n + t.base, 0);
    setText(
      this.summary,
      this.matrices.length === 0
        ? "No workspaces."
        : `${pairs} overlapping pair${pairs === 1 ? "" : "s"}; ${base} workspace${base === 1 ? "" : "s"} would conflict with the default branch.`,
    );
    this.body.replaceChildren(...this.matrices.map((m) => this.table(m)));
    this.renderDetail();
  }

  private table(m: RepoMatrix): HTMLElement {
    const head = h(
      "tr",
      {},
      h("th", { attrs: { scope: "col" }, class: "overlap-corner", text: m.repo }),
      ...m.ids.map((id) => h("th", { attrs: { scope: "col", title: id }, class: "overlap-col", text: id })),
      h("th", { attrs: { scope: "col", title: "a merge into the default branch" }, class: "overlap-col overlap-base-col", text: "default branch" }),
    );
    const rows = m.ids.map((a) =>
      h(
        "tr",
        { testid: `overlap-row-${a}` },
        h("th", { attrs: { scope: "row" } }, h("a", { attrs: { href: reviewHref(a) }, text: a })),
        ...m.ids.map((b) => this.cell(a, b, a === b ? null : shared(m, a, b), false)),
        this.cell(a, "base", m.base.get(a) ?? [], true),
      ),
    );
    return h(
      "section",
      { class: "overlap-repo panel", testid: "overlap-repo", attrs: { "data-repo": m.repo } },
      h("table", { class: "overlap-table", attrs: { "aria-label": `overlaps in ${m.repo}` } }, h("thead", {}, head), h("tbody", {}, ...rows)),
    );
  }

  private cell(a: string, b: string, paths: string[] | null, base: boolean): HTMLElement {
    if (paths === null) return h("td", { class: "overlap-self", attrs: { "aria-label": "same workspace" }, text: "·" });
    if (!paths.length) return h("td", { class: "overlap-none", text: "" });
    const picked = this.picked && this.picked.a === a && this.picked.b === b;
    const title = base ? `${a} would conflict with the default branch on:\n${listed(paths)}` : `${a} and ${b} both change:\n${listed(paths)}`;
    return h(
      "td",
      { class: base ? "overlap-hit overlap-base" : "overlap-hit" },
      h("button", {
        class: `overlap-cell${picked ? " is-picked" : ""}`,
        testid: "overlap-cell",
        text: String(paths.length),
        attrs: { type: "button", title, "data-a": a, "data-b": b, "aria-label": `${files(paths.length)}: ${title}` },
        on: {
          click: () => {
            this.picked = picked ? null : { a, b };
            this.body.replaceChildren(...this.matrices.map((m) => this.table(m)));
            this.renderDetail();
          },
        },
      }),
    );
  }

  private renderDetail(): void {
    const p = this.picked;
    const m = p && this.matrices.find((x) => x.ids.includes(p.a));
    const paths = p && m ? (p.b === "base" ? (m.base.get(p.a) ?? []) : shared(m, p.a, p.b)) : [];
    setHidden(this.detail, !p || !paths.length);
    if (!p || !paths.length) return;
    const head = p.b === "base" ? `${p.a} would conflict with the default branch on ${files(paths.length)}` : `${p.a} and ${p.b} both change ${files(paths.length)}`;
    this.detail.replaceChildren(
      h("h3", { text: head }),
      h(
        "ul",
        { class: "overlap-files" },
        ...paths.map((path) =>
          h(
            "li",
            { testid: "overlap-file" },
            h("code", { text: path }),
            " ",
            h("a", { attrs: { href: reviewHref(p.a, path) }, text: `in ${p.a}` }),
            p.b === "base" ? null : h("span", { text: " · " }),
            p.b === "base" ? null : h("a", { attrs: { href: reviewHref(p.b, path) }, text: `in ${p.b}` }),
          ),
        ),
      ),
    );
  }
}
