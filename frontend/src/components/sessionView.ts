// Placeholder for "#/session/<id>": the terminal view (xterm.js over /ws/terminal/<id>) comes later
// and replaces this component. The dashboard keeps running underneath.

import { h, setText } from "../dom";
import type { Session, Workspace } from "../types";
import { sessionLabel } from "../view";

export class SessionView {
  readonly el: HTMLElement;
  private readonly title: HTMLHeadingElement;
  private readonly info: HTMLParagraphElement;
  private readonly attach: HTMLElement;

  constructor() {
    this.title = h("h2");
    this.info = h("p");
    this.attach = h("code", { class: "attach" });
    this.el = h(
      "section",
      { class: "session-view panel", testid: "terminal-view", attrs: { "aria-live": "polite" } },
      h("a", { class: "btn", attrs: { href: "#/" }, testid: "back-to-dashboard", text: "← Dashboard" }),
      this.title,
      this.info,
      h("p", { text: "Until the terminal view lands, attach from a terminal:" }),
      this.attach,
    );
    this.el.hidden = true;
  }

  show(sessionId: string, found: { session: Session; workspace: Workspace } | null): void {
    this.el.dataset.sessionId = sessionId;
    setText(this.title, found ? `${sessionLabel(found.session)} — ${found.workspace.id}` : `Session ${sessionId}`);
    setText(
      this.info,
      found
        ? `${found.session.running ? "Running" : "Stopped"} · ${found.workspace.short_repo} @ ${found.workspace.branch}`
        : "This session is not in the current state (it may have been disposed).",
    );
    setText(this.attach, found?.session.attach_cmd ?? "");
  }
}
