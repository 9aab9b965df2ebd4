// A modal confirmation that says what will be lost, runs the action, and shows the server's
// refusal (e.g. a 409 reason) as is, staying open so the user can read it. A request may carry a
// stronger second action (e.g. "Dispose anyway"), offered only once the first was refused.

import type { ApiResult } from "../api";
import { h, setHidden, setText } from "../dom";

export interface ConfirmRequest {
  title: string;
  /** Paragraphs describing what will be lost. */
  lines: string[];
  confirmLabel: string;
  run: () => Promise<ApiResult<unknown>>;
  onDone?: () => void;
  fallback?: FallbackAction;
}

export interface FallbackAction {
  label: string;
  /** Shown under the refusal: what the stronger action does. */
  note: string;
  /** Whether this refusal can be overridden (e.g. a 409 about uncommitted work). */
  offered: (refusal: ApiResult<unknown>) => boolean;
  run: () => Promise<ApiResult<unknown>>;
}

export class ConfirmDialog {
  readonly el: HTMLDialogElement;
  private readonly title: HTMLHeadingElement;
  private readonly body: HTMLDivElement;
  private readonly error: HTMLParagraphElement;
  private readonly confirm: HTMLButtonElement;
  private readonly anyway: HTMLButtonElement;
  private readonly note: HTMLParagraphElement;
  private readonly cancel: HTMLButtonElement;
  private request: ConfirmRequest | null = null;
  private opener: HTMLElement | null = null;
  private busy = false;

  constructor() {
    this.title = h("h2", { class: "dialog-title", attrs: { id: "confirm-title" } });
    this.body = h("div", { class: "dialog-body", attrs: { id: "confirm-body" } });
    this.error = h("p", { class: "dialog-error", testid: "confirm-error", attrs: { role: "alert" } });
    this.confirm = h("button", {
      class: "btn btn-danger",
      testid: "confirm-button",
      attrs: { type: "button" },
      on: { click: () => void this.run() },
    });
    this.anyway = h("button", {
      class: "btn btn-danger",
      testid: "confirm-anyway",
      attrs: { type: "button" },
      on: { click: () => void this.run(true) },
    });
    this.note = h("p", { class: "dialog-note", testid: "confirm-note" });
    this.cancel = h("button", {
      class: "btn",
      testid: "confirm-cancel",
      text: "Cancel",
      attrs: { type: "button" },
      on: { click: () => this.close() },
    });
    this.el = h(
      "dialog",
      {
        class: "dialog",
        testid: "confirm-dialog",
        attrs: { "aria-labelledby": "confirm-title", "aria-describedby": "confirm-body" },
      },
      this.title,
      this.body,
      this.error,
      this.note,
      h("div", { class: "dialog-actions" }, this.cancel, this.confirm, this.anyway),
    );
    this.el.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      if (!this.busy) this.close();
    });
  }

  open(req: ConfirmRequest): void {
    this.request = req;
    this.opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setText(this.title, req.title);
    this.body.replaceChildren(...req.lines.map((l) => h("p", { text: l })));
    setText(this.error, "");
    setHidden(this.error, true);
    setText(this.confirm, req.confirmLabel);
    this.confirm.disabled = false;
    setHidden(this.confirm, false);
    setHidden(this.anyway, true);
    setHidden(this.note, true);
    if (!this.el.open) {
      if (typeof this.el.showModal === "function") this.el.showModal();
      else this.el.setAttribute("open", "");
    }
    this.cancel.focus();
  }

  close(): void {
    this.request = null;
    this.busy = false;
    if (this.el.open) {
      if (typeof this.el.close === "function") this.el.close();
      else this.el.removeAttribute("open");
    }
    // The button that opened the dialog may be gone with what was disposed: fall back to the list.
    if (this.opener?.isConnected) this.opener.focus();
    else document.getElementById("main")?.focus({ preventScroll: true });
    this.opener = null;
  }

  private async run(forced = false): Promise<void> {
    const req = this.request;
    const fallback = req?.fallback;
    if (!req || this.busy || (forced && !fallback)) return;
    const button = forced ? this.anyway : this.confirm;
    this.busy = true;
    button.disabled = true;
    const label = button.textContent ?? "";
    setText(button, "Working…");
    setHidden(this.error, true);
    const res = await (forced && fallback ? fallback.run() : req.run());
    this.busy = false;
    if (this.request !== req) return;
    if (res.ok) {
      this.close();
      req.onDone?.();
      return;
    }
    setText(this.error, res.error);
    setHidden(this.error, false);
    setText(button, label);
    button.disabled = false;
    if (!forced && fallback?.offered(res)) {
      setText(this.note, fallback.note);
      setHidden(this.note, false);
      setText(this.anyway, fallback.label);
      this.anyway.disabled = false;
      setHidden(this.anyway, false);
      setHidden(this.confirm, true);
    }
    this.cancel.focus();
  }
}
