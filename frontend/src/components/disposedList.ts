// "Recently disposed": the snapshots the server keeps of disposed workspaces, each with Restore.
// Loaded at start, after a dispose or restore, and when a workspace leaves the dashboard.

import type { Api, RestoreResult } from "../api";
import { keptSummary } from "../disposal";
import { h, setHidden, setText } from "../dom";
import { formatRelative } from "../timefmt";
import type { DisposedSnapshot } from "../types";

export interface DisposedListEvents {
  restored(snapshot: DisposedSnapshot, result: RestoreResult): void;
  failed(message: string): void;
}

export class DisposedList {
  readonly el: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLParagraphElement;
  private items: DisposedSnapshot[] = [];
  private loading = false;
  private again = false;

  constructor(
    private readonly api: Api,
    private readonly events: DisposedListEvents,
  ) {
    this.list = h("ul", { class: "disposed-list", testid: "disposed-list" });
    this.empty = h("p", { class: "muted", testid: "disposed-empty", text: "Nothing disposed recently." });
    this.el = h(
      "section",
      { class: "panel disposed-panel", testid: "disposed-panel", attrs: { "aria-labelledby": "disposed-title" } },
      h("h2", { attrs: { id: "disposed-title" }, text: "Recently disposed" }),
      this.empty,
      this.list,
    );
  }

  /** Ask the server again (coalesced: one request at a time, one more if asked meanwhile). */
  async refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      do {
        this.again = false;
        const res = await this.api.disposed();
        if (res.ok && Array.isArray(res.data)) this.items = res.data;
      } while (this.again);
    } finally {
      this.loading = false;
    }
    this.render(Date.now());
  }

  tick(now: number): void {
    for (const li of this.list.children) {
      const when = li.querySelector<HTMLElement>(".disposed-when");
      if (when?.dataset.at) setText(when, `disposed ${formatRelative(when.dataset.at, now)}`);
    }
  }

  private render(now: number): void {
    setHidden(this.empty, this.items.length > 0);
    this.list.replaceChildren(...this.items.map((s) => this.row(s, now)));
  }

  private row(s: DisposedSnapshot, now: number): HTMLLIElement {
    const when = h("span", { class: "disposed-when", text: `disposed ${formatRelative(s.disposed_at, now)}` });
    when.dataset.at = s.disposed_at;
    if (s.expires_at) when.title = `kept until ${new Date(s.expires_at).toLocaleString()}`;
    const button = h("button", {
      class: "btn btn-small",
      testid: "restore-button",
      text: "Restore",
      attrs: { type: "button", "aria-label": `Restore workspace ${s.workspace_id} (${s.branch})` },
    });
    button.addEventListener("click", () => void this.restore(s, button));
    return h(
      "li",
      { class: "disposed-item", testid: "disposed-item", attrs: { "data-snapshot-id": s.id } },
      h(
        "div",
        { class: "disposed-text" },
        h("span", { class: "disposed-name", text: `${s.repo_name ?? s.workspace_id} @ ${s.branch || "(detached)"}` }),
        h("span", { class: "disposed-meta" }, `${s.workspace_id} · ${keptSummary(s)} · `, when),
      ),
      button,
    );
  }

  private async restore(s: DisposedSnapshot, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    setText(button, "Restoring…");
    const res = await this.api.restore(s.id);
    if (res.ok && res.data) {
      this.events.restored(s, res.data);
    } else {
      button.disabled = false;
      setText(button, "Restore");
      this.events.failed(res.ok ? "The server sent no answer to the restore." : res.error);
    }
    await this.refresh();
  }
}
