// Short messages about what an action did: success, or the server's error text as is.

import { h } from "../dom";

export type ToastKind = "info" | "success" | "error";

export class Toasts {
  readonly el: HTMLDivElement;

  constructor() {
    this.el = h("div", { class: "toasts", testid: "toasts", attrs: { role: "log", "aria-live": "polite" } });
  }

  show(text: string, kind: ToastKind = "info", ms = kind === "error" ? 12_000 : 5_000): void {
    const close = h("button", {
      class: "toast-close",
      text: "×",
      attrs: { type: "button", "aria-label": "Dismiss" },
    });
    const t = h("div", { class: `toast toast-${kind}`, testid: `toast-${kind}` }, h("span", { text }), close);
    const remove = () => t.remove();
    close.addEventListener("click", remove);
    this.el.append(t);
    setTimeout(remove, ms);
    while (this.el.children.length > 5) this.el.firstElementChild?.remove();
  }
}
