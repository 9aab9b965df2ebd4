// The connection indicator, driven only by the socket. Its text holds exactly one of
// Connected / Reconnecting / Offline; while waiting it counts down to the next try.
// A click (or Enter/Space on its button) retries at once.

import { type ConnectionStatus, describeStatus } from "../connection";
import { h, setAttr, setHidden, setText } from "../dom";

export class ConnectionIndicator {
  readonly el: HTMLDivElement;
  private status: ConnectionStatus | null = null;
  private readonly word: HTMLSpanElement;
  private readonly detail: HTMLSpanElement;
  private readonly retry: HTMLButtonElement;

  /** `testid` and `what` (the title's subject) let the terminal view have its own indicator. */
  constructor(
    onRetry: () => void,
    private readonly opts: { testid?: string; what?: string; prefix?: string } = {},
  ) {
    this.word = h("span", { class: "conn-word" });
    // The countdown changes every second: keep it out of what screen readers announce.
    this.detail = h("span", { class: "conn-detail", attrs: { "aria-hidden": "true" } });
    this.retry = h("button", {
      class: "btn btn-small conn-retry",
      testid: "connection-retry",
      text: "Retry now",
      attrs: { type: "button" },
    });
    this.el = h(
      "div",
      { class: "conn", testid: opts.testid ?? "connection-status", attrs: { role: "status", "aria-live": "polite" } },
      h("span", { class: "conn-dot", attrs: { "aria-hidden": "true" } }),
      opts.prefix ? h("span", { class: "conn-prefix", text: opts.prefix }) : null,
      this.word,
      this.detail,
      this.retry,
    );
    setHidden(this.retry, true); // until there is a try to wait for
    this.el.addEventListener("click", () => {
      if (this.status && this.status.state !== "connected") onRetry();
    });
  }

  update(status: ConnectionStatus, now: number): void {
    this.status = status;
    this.render(now);
  }

  tick(now: number): void {
    if (this.status?.state === "waiting") this.render(now);
  }

  private render(now: number): void {
    if (!this.status) return;
    const { word, detail } = describeStatus(this.status, now);
    setText(this.word, word);
    setText(this.detail, word === "Connected" ? "" : ` · ${detail}`);
    this.el.dataset.state = word.toLowerCase();
    setHidden(this.retry, this.status.state !== "waiting");
    setAttr(
      this.el,
      "title",
      word === "Connected"
        ? `${this.opts.what ?? "Live updates from the server"}`
        : `${this.opts.what ? `${this.opts.what}: not connected` : "Not receiving live updates"}. Click to retry now.`,
    );
  }
}
