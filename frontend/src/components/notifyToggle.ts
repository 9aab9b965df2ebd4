// The "Notify me" toggle: desktop notifications when a session newly needs input. Turning it on
// is the only place the browser is asked for permission (a click, never on load).

import { h, setAttr, setClass, setHidden, setText } from "../dom";
import type { Notifier } from "../notify";

export class NotifyToggle {
  readonly el: HTMLButtonElement;
  private readonly icon: HTMLSpanElement;
  private readonly label: HTMLSpanElement;
  private busy = false;

  constructor(
    private readonly notifier: Notifier,
    private readonly onRefused: (reason: string) => void,
  ) {
    this.icon = h("span", { class: "notify-icon", attrs: { "aria-hidden": "true" } });
    // A bell drawn inline (no emoji font needed); a slash through it when off.
    this.icon.innerHTML =
      '<svg viewBox="0 0 16 16" width="14" height="14" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round">' +
      '<path d="M4 11V7a4 4 0 0 1 8 0v4l1.2 1.5H2.8z"/><path d="M6.5 14a1.6 1.6 0 0 0 3 0"/>' +
      '<path class="notify-slash" d="M2 2l12 12"/></svg>';
    this.label = h("span");
    this.el = h(
      "button",
      {
        class: "btn btn-small notify-toggle",
        testid: "notify-toggle",
        attrs: { type: "button" },
        on: { click: () => void this.toggle() },
      },
      this.icon,
      this.label,
    );
    this.render();
  }

  render(): void {
    const on = this.notifier.enabled;
    setHidden(this.el, !this.notifier.supported);
    setText(this.label, on ? "Notifications on" : "Notify me");
    setAttr(this.el, "aria-pressed", String(on));
    setClass(this.el, "is-on", on);
    setAttr(
      this.el,
      "title",
      on
        ? "A desktop notification appears when a session starts waiting for input. Click to turn off."
        : "Get a desktop notification when a session starts waiting for input.",
    );
  }

  private async toggle(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const res = await this.notifier.setEnabled(!this.notifier.enabled);
      if (!res.enabled && res.reason) this.onRefused(res.reason);
    } finally {
      this.busy = false;
      this.render();
    }
  }
}
