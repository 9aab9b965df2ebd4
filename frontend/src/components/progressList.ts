// Progress bars for workspaces being prepared (clone/fetch/checkout), from workspace_progress pushes.

import { h, reconcileChildren, setAttr, setClass, setHidden, setText } from "../dom";
import type { ProgressEntry } from "../state";

const STAGE_LABEL: Record<string, string> = {
  fetching: "Fetching",
  checkout: "Checking out",
  ready: "Ready",
  error: "Failed",
};

class ProgressRow {
  readonly el: HTMLDivElement;
  private readonly label: HTMLSpanElement;
  private readonly bar: HTMLDivElement;
  private readonly fill: HTMLDivElement;
  private readonly message: HTMLSpanElement;

  constructor() {
    this.label = h("span", { class: "progress-label" });
    this.fill = h("div", { class: "progress-fill" });
    this.bar = h("div", { class: "progress-bar", attrs: { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 } }, this.fill);
    this.message = h("span", { class: "progress-message" });
    this.el = h("div", { class: "progress", testid: "progress-item" }, this.label, this.bar, this.message);
  }

  update(p: ProgressEntry): void {
    const stage = STAGE_LABEL[p.stage] ?? p.stage;
    const where = p.workspace_id ? `${p.workspace_id} (${p.repo} @ ${p.branch})` : `${p.repo} @ ${p.branch}`;
    const pct = p.stage === "ready" ? 100 : p.percent;
    setText(this.label, `${stage} ${where}${pct !== null ? ` — ${Math.round(pct)}%` : ""}`);
    setText(this.message, p.message);
    this.el.dataset.stage = p.stage;
    this.el.dataset.requestId = p.request_id ?? "";
    setClass(this.bar, "is-indeterminate", pct === null && p.stage !== "error");
    this.fill.style.width = pct === null ? "" : `${pct}%`;
    setAttr(this.bar, "aria-valuenow", pct === null ? null : String(Math.round(pct)));
    setAttr(this.bar, "aria-label", `${stage} ${where}`);
  }
}

export class ProgressList {
  readonly el: HTMLDivElement;
  private readonly rows = new Map<string, ProgressRow>();

  constructor() {
    this.el = h("div", { class: "progress-list", testid: "progress-list", attrs: { "aria-live": "polite" } });
    this.el.hidden = true;
  }

  update(progress: Record<string, ProgressEntry>): void {
    const entries = Object.values(progress).sort((a, b) => a.key.localeCompare(b.key));
    const wanted: Element[] = [];
    const seen = new Set<string>();
    for (const p of entries) {
      seen.add(p.key);
      let row = this.rows.get(p.key);
      if (!row) {
        row = new ProgressRow();
        this.rows.set(p.key, row);
      }
      row.update(p);
      wanted.push(row.el);
    }
    for (const k of [...this.rows.keys()]) if (!seen.has(k)) this.rows.delete(k);
    reconcileChildren(this.el, wanted);
    setHidden(this.el, entries.length === 0);
  }
}
