// The keyed list of workspace cards. Only cards whose data changed are touched; the container
// itself is never replaced, so scroll position, focus and open forms survive every push.
// With hosts configured (docs/API.md#hosts) the cards come in sections: this machine's first,
// then each host's, under a heading with its connection state (a host not connected: its
// cards are its last known ones, marked stale).

import { reconcileChildren, setClass, setText } from "../dom";
import type { HostStatus } from "../types";
import type { VisibleWorkspace } from "../view";
import { type WorkspaceActions, WorkspaceRow } from "./workspaceRow";

const STATE_TEXT: Record<HostStatus["state"], string> = {
  connected: "connected",
  reconnecting: "reconnecting…",
  offline: "offline",
};

class HostHeading {
  readonly el: HTMLElement;
  private readonly state: HTMLElement;

  constructor(private readonly name: string) {
    this.el = document.createElement("h3");
    this.el.className = "host-heading";
    this.el.dataset.testid = "host-heading";
    this.el.dataset.host = name;
    const title = document.createElement("span");
    title.className = "host-name";
    title.textContent = name || "This machine";
    this.state = document.createElement("span");
    this.state.className = "host-state";
    this.state.dataset.testid = "host-state";
    this.el.append(title, this.state);
  }

  update(status: HostStatus | undefined, count: number): void {
    const n = `${count} workspace${count === 1 ? "" : "s"}`;
    if (!this.name) {
      setText(this.state, n);
      return;
    }
    const state = status?.state ?? "offline";
    this.el.dataset.state = state;
    setClass(this.el, "is-stale", state !== "connected");
    setText(this.state, `${STATE_TEXT[state]} · ${n}${state === "connected" ? "" : " (last known)"}`);
    this.state.title = status
      ? `${state} since ${status.since}${status.error ? `: ${status.error}` : ""}`
      : "no longer configured";
  }
}

export class WorkspaceList {
  readonly el: HTMLElement;
  private readonly rows = new Map<string, WorkspaceRow>();
  private readonly headings = new Map<string, HostHeading>();

  constructor(private readonly actions: WorkspaceActions) {
    this.el = document.createElement("div");
    this.el.className = "ws-list";
    this.el.dataset.testid = "ws-list";
  }

  update(visible: readonly VisibleWorkspace[], now: number, hosts: readonly HostStatus[] = []): void {
    const wanted: Element[] = [];
    const seen = new Set<string>();
    const sections = new Map<string, VisibleWorkspace[]>([["", []], ...hosts.map((h) => [h.name, []] as [string, VisibleWorkspace[]])]);
    for (const v of visible) {
      const host = v.workspace.host ?? "";
      if (!sections.has(host)) sections.set(host, []);
      sections.get(host)!.push(v);
    }
    const sectioned = sections.size > 1;
    const status = new Map(hosts.map((h) => [h.name, h]));
    for (const [host, items] of sections) {
      if (sectioned) {
        let heading = this.headings.get(host);
        if (!heading) this.headings.set(host, (heading = new HostHeading(host)));
        heading.update(status.get(host), items.length);
        wanted.push(heading.el);
      }
      for (const { workspace, sessions } of items) {
        seen.add(workspace.id);
        let row = this.rows.get(workspace.id);
        if (row) row.update(workspace, sessions, now);
        else {
          row = new WorkspaceRow(workspace, sessions, this.actions, now);
          this.rows.set(workspace.id, row);
        }
        setClass(row.el, "is-stale", host !== "" && status.get(host)?.state !== "connected");
        wanted.push(row.el);
      }
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
    for (const host of [...this.headings.keys()]) if (!sectioned || !sections.has(host)) this.headings.delete(host);
    reconcileChildren(this.el, wanted);
  }

  tick(now: number): void {
    for (const r of this.rows.values()) r.tick(now);
  }
}
