// The keyed list of workspace cards. Only cards whose data changed are touched; the container
// itself is never replaced, so scroll position, focus and open forms survive every push.

import { reconcileChildren } from "../dom";
import type { VisibleWorkspace } from "../view";
import { type WorkspaceActions, WorkspaceRow } from "./workspaceRow";

export class WorkspaceList {
  readonly el: HTMLElement;
  private readonly rows = new Map<string, WorkspaceRow>();

  constructor(private readonly actions: WorkspaceActions) {
    this.el = document.createElement("div");
    this.el.className = "ws-list";
    this.el.dataset.testid = "ws-list";
  }

  update(visible: readonly VisibleWorkspace[], now: number): void {
    const wanted: Element[] = [];
    const seen = new Set<string>();
    for (const { workspace, sessions } of visible) {
      seen.add(workspace.id);
      let row = this.rows.get(workspace.id);
      if (row) row.update(workspace, sessions, now);
      else {
        row = new WorkspaceRow(workspace, sessions, this.actions, now);
        this.rows.set(workspace.id, row);
      }
      wanted.push(row.el);
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
    reconcileChildren(this.el, wanted);
  }

  tick(now: number): void {
    for (const r of this.rows.values()) r.tick(now);
  }
}
