// The header of one host's part of the workspace list: its name, connection state and counts.

import { h, setAttr, setClass, setHidden, setText } from "../dom";
import { type HostGroup, hostCounts, hostLabel, hostStateText } from "../hosts";

export class HostHeader {
  readonly el: HTMLElement;
  private readonly state: HTMLSpanElement;
  private readonly counts: HTMLSpanElement;
  private readonly note: HTMLParagraphElement;
  private group: HostGroup | null = null;

  constructor(host: string) {
    this.state = h("span", { class: "host-state", testid: "host-state" });
    this.counts = h("span", { class: "host-counts", testid: "host-counts" });
    this.note = h("p", { class: "host-note", testid: "host-note" });
    this.el = h(
      "div",
      { class: "host-header", testid: "host-section", attrs: { role: "heading", "aria-level": 2 } },
      h("span", { class: "host-name", testid: "host-name", text: hostLabel(host) }),
      this.state,
      this.counts,
      this.note,
    );
    this.el.dataset.host = host;
  }

  update(group: HostGroup, now: number): void {
    this.group = group;
    const state = group.status?.state ?? "local";
    setAttr(this.el, "data-state", state);
    setClass(this.el, "is-stale", group.stale);
    setText(this.state, hostStateText(group.status, now));
    setHidden(this.state, group.status === null); // this machine: its name says it all
    this.state.title = group.status?.error ?? "";
    setText(this.counts, hostCounts(group.totals));
    const hiddenAll = group.items.length === 0;
    setText(
      this.note,
      group.totals.workspaces === 0
        ? group.status === null || group.status.state === "connected"
          ? "No workspaces on this machine yet."
          : "No workspaces known from this host yet."
        : hiddenAll
          ? "Nothing here matches the filter."
          : group.stale
            ? "Showing the last state this host sent."
            : "",
    );
    setHidden(this.note, this.note.textContent === "");
  }

  tick(now: number): void {
    if (this.group && this.group.status && this.group.status.state !== "connected") setText(this.state, hostStateText(this.group.status, now));
  }
}
