// The keyed list of workspace cards. Only cards whose data changed are touched; the container
// itself is never replaced, so scroll position, focus and open forms survive every push.

import { reconcileChildren, setClass } from "../dom";
import { groupByHost, type HostGroup, type HostStatus, hostOf } from "../hosts";
import type { Workspace } from "../types";
import type { VisibleWorkspace } from "../view";
import { HostHeader } from "./hostHeader";
import { type WorkspaceActions, WorkspaceRow } from "./workspaceRow";

export class WorkspaceList {
  readonly el: HTMLElement;
  private readonly rows = new Map<string, WorkspaceRow>();
  private readonly headers = new Map<string, HostHeader>();

  constructor(private readonly actions: WorkspaceActions) {
    this.el = document.createElement("div");
    this.el.className = "ws-list";
    this.el.dataset.testid = "ws-list";
  }

  /**
   * Show these workspaces. With other hosts configured (or any workspace from one), each host gets
   * a header with its connection state and counts, followed by its cards; a host whose link is down
   * keeps its last cards, marked stale.
   */
  update(visible: readonly VisibleWorkspace[], now: number, hosts: readonly HostStatus[] = [], all?: readonly Workspace[]): void {
    const everything = all ?? visible.map((v) => v.workspace);
    const grouped = hosts.length > 0 || everything.some((w) => hostOf(w) !== "");
    const groups: HostGroup[] = grouped
      ? groupByHost(visible, everything, hosts)
      : [{ host: "", status: null, items: [...visible], totals: { workspaces: 0, sessions: 0, running: 0, done: 0, attention: 0, dirty: 0 }, stale: false }];
    const wanted: Element[] = [];
    const seen = new Set<string>();
    const seenHosts = new Set<string>();
    for (const group of groups) {
      if (grouped) {
        seenHosts.add(group.host);
        let header = this.headers.get(group.host);
        if (!header) {
          header = new HostHeader(group.host);
          this.headers.set(group.host, header);
        }
        header.update(group, now);
        wanted.push(header.el);
      }
      for (const { workspace, sessions } of group.items) {
        seen.add(workspace.id);
        let row = this.rows.get(workspace.id);
        if (row) row.update(workspace, sessions, now);
        else {
          row = new WorkspaceRow(workspace, sessions, this.actions, now);
          this.rows.set(workspace.id, row);
        }
        setClass(row.el, "is-host-stale", group.stale);
        wanted.push(row.el);
      }
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
    for (const host of [...this.headers.keys()]) if (!seenHosts.has(host)) this.headers.delete(host);
    reconcileChildren(this.el, wanted);
  }

  tick(now: number): void {
    for (const r of this.rows.values()) r.tick(now);
    for (const header of this.headers.values()) header.tick(now);
  }
}
