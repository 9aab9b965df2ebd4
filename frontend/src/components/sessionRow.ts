// One session inside a workspace card. Built once per session id, then patched in place.

import type { ApiResult } from "../api";
import { h, setAttr, setClass, setHidden, setText } from "../dom";
import { sessionHref } from "../router";
import { formatAbsolute, formatRelative } from "../timefmt";
import type { Session, Workspace } from "../types";
import { needsAttention, runState, sessionLabel, sessionTag } from "../view";

export interface SessionActions {
  rename(sessionId: string, nickname: string): Promise<ApiResult<unknown>>;
  disposeSession(session: Session, workspace: Workspace): void;
  /** Start an ended session again (same target, workspace and nickname). */
  restartSession(session: Session): void;
  copy(text: string, what: string): Promise<boolean>;
}

export class SessionRow {
  readonly el: HTMLLIElement;
  private session: Session;
  private workspace: Workspace;
  private readonly state: HTMLSpanElement;
  private readonly name: HTMLSpanElement;
  private readonly target: HTMLSpanElement;
  private readonly tag: HTMLSpanElement;
  private readonly attach: HTMLElement;
  private readonly restartBtn: HTMLButtonElement;
  private readonly created: HTMLTimeElement;
  private readonly lastOutput: HTMLTimeElement;
  private readonly attention: HTMLDivElement;
  private readonly attentionState: HTMLSpanElement;
  private readonly attentionSummary: HTMLSpanElement;
  private readonly nameLine: HTMLDivElement;
  private readonly open: HTMLAnchorElement;
  private readonly copyBtn: HTMLButtonElement;
  private readonly renameBtn: HTMLButtonElement;
  private readonly disposeBtn: HTMLButtonElement;
  private renameForm: HTMLFormElement | null = null;

  constructor(session: Session, workspace: Workspace, private readonly actions: SessionActions, now: number) {
    this.session = session;
    this.workspace = workspace;
    this.state = h("span", { class: "run-state", testid: "run-state" });
    this.name = h("span", { class: "session-name", testid: "name-label" });
    this.target = h("span", { class: "session-target", attrs: { title: "run target" } });
    this.tag = h("span", { class: "session-tag", testid: "session-tag", attrs: { title: "session id" } });
    this.nameLine = h("div", { class: "session-name-line" }, this.name, this.target, this.tag);
    this.attach = h("code", { class: "session-attach", testid: "attach-cmd" });
    this.created = h("time", { testid: "created-at" });
    this.lastOutput = h("time", { testid: "last-output-at" });
    this.attentionState = h("span", { class: "attention-state" });
    this.attentionSummary = h("span", { class: "attention-summary" });
    this.attention = h(
      "div",
      { class: "attention", testid: "attention" },
      h("span", { class: "attention-icon", attrs: { "aria-hidden": "true" }, text: "⚑" }),
      this.attentionState,
      this.attentionSummary,
    );
    this.open = h("a", { class: "btn btn-small", testid: "open-session", text: "Open" });
    this.copyBtn = h("button", {
      class: "btn btn-small",
      testid: "copy-attach",
      text: "Copy attach",
      attrs: { type: "button" },
      on: { click: () => void this.copyAttach() },
    });
    this.restartBtn = h("button", {
      class: "btn btn-small btn-primary",
      testid: "restart-session",
      text: "Restart",
      attrs: { type: "button" },
      on: { click: () => this.actions.restartSession(this.session) },
    });
    this.renameBtn = h("button", {
      class: "btn btn-small",
      testid: "rename-button",
      text: "Rename",
      attrs: { type: "button" },
      on: { click: () => this.startRename() },
    });
    this.disposeBtn = h("button", {
      class: "btn btn-small btn-danger-quiet",
      testid: "dispose-session",
      text: "Dispose…",
      attrs: { type: "button" },
      on: { click: () => this.actions.disposeSession(this.session, this.workspace) },
    });
    this.el = h(
      "li",
      { class: "session", testid: `session-${session.id}` },
      this.state,
      h(
        "div",
        { class: "session-main" },
        this.nameLine,
        h("div", { class: "session-times" }, "started ", this.created, h("span", { class: "sep", text: " · " }), "output ", this.lastOutput),
        this.attach,
        this.attention,
      ),
      h("div", { class: "session-actions" }, this.restartBtn, this.open, this.copyBtn, this.renameBtn, this.disposeBtn),
    );
    this.el.dataset.sessionId = session.id;
    this.render(now);
  }

  get id(): string {
    return this.session.id;
  }

  update(session: Session, workspace: Workspace, now: number): void {
    this.session = session;
    this.workspace = workspace;
    this.render(now);
  }

  /** Refresh only the relative times. */
  tick(now: number): void {
    setText(this.created, formatRelative(this.session.created_at, now));
    setText(this.lastOutput, this.session.last_output_at ? formatRelative(this.session.last_output_at, now) : "none yet");
  }

  private render(now: number): void {
    const s = this.session;
    const label = sessionLabel(s);
    const state = runState(s);
    setText(this.state, state === "running" ? "Running" : state === "done" ? "Done" : "Stopped");
    setAttr(this.state, "title", state === "running" ? null : s.exit_status === null ? "ended" : `exit status ${s.exit_status}`);
    this.state.dataset.running = String(s.running);
    this.state.dataset.state = state;
    setClass(this.el, "is-stopped", !s.running);
    setHidden(this.restartBtn, state === "running");
    setAttr(this.restartBtn, "aria-label", `Restart ${label} (${s.target}) in this workspace`);
    setText(this.name, label);
    setText(this.tag, `#${sessionTag(s)}`);
    setAttr(this.tag, "title", `session id ${s.id}`);
    setText(this.attach, s.attach_cmd);
    setHidden(this.attach, !s.attach_cmd);
    setText(this.target, s.nickname ? s.target : "");
    setHidden(this.target, !s.nickname);
    setAttr(this.created, "datetime", s.created_at || null);
    setAttr(this.created, "title", `Started ${formatAbsolute(s.created_at)}`);
    setAttr(this.lastOutput, "datetime", s.last_output_at);
    setAttr(this.lastOutput, "title", s.last_output_at ? `Last output ${formatAbsolute(s.last_output_at)}` : "No output yet");
    this.tick(now);
    const attn = needsAttention(s);
    setClass(this.el, "needs-attention", attn);
    setHidden(this.attention, !attn);
    setText(this.attentionState, humanizeNudge(s.nudge_state));
    setText(this.attentionSummary, s.nudge_summary);
    setAttr(this.open, "href", sessionHref(s.id));
    setAttr(this.open, "aria-label", `Open terminal of ${label}`);
    setAttr(this.copyBtn, "title", s.attach_cmd || "no attach command");
    setAttr(this.copyBtn, "aria-label", `Copy the tmux attach command of ${label}`);
    this.copyBtn.disabled = !s.attach_cmd;
    setAttr(this.renameBtn, "aria-label", `Rename ${label}`);
    setAttr(this.disposeBtn, "aria-label", `Dispose session ${label}`);
  }

  private async copyAttach(): Promise<void> {
    const ok = await this.actions.copy(this.session.attach_cmd, "attach command");
    const old = "Copy attach";
    setText(this.copyBtn, ok ? "Copied ✓" : "Copy failed");
    setTimeout(() => setText(this.copyBtn, old), 1500);
  }

  private startRename(): void {
    if (this.renameForm) {
      this.renameForm.querySelector("input")?.focus();
      return;
    }
    const input = h("input", {
      class: "rename-input",
      testid: "rename-input",
      attrs: {
        type: "text",
        value: this.session.nickname,
        placeholder: this.session.target,
        "aria-label": `New name for ${sessionLabel(this.session)}`,
        maxlength: 200,
        autocomplete: "off",
      },
    });
    const error = h("span", { class: "field-error", testid: "rename-error", attrs: { role: "alert" } });
    const save = h("button", { class: "btn btn-small btn-primary", testid: "rename-save", text: "Save", attrs: { type: "submit" } });
    const cancel = h("button", {
      class: "btn btn-small",
      testid: "rename-cancel",
      text: "Cancel",
      attrs: { type: "button" },
      on: { click: () => this.endRename(true) },
    });
    const form = h("form", { class: "rename-form", testid: "rename-form" }, input, save, cancel, error);
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.preventDefault();
        this.endRename(true);
      }
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const nickname = input.value.trim();
      save.disabled = true;
      input.setAttribute("aria-busy", "true");
      setText(error, "");
      const res = await this.actions.rename(this.session.id, nickname);
      save.disabled = false;
      input.removeAttribute("aria-busy");
      if (res.ok) {
        // Show the new name at once; the next sessions push confirms it.
        this.session = { ...this.session, nickname };
        this.endRename(false);
        this.render(Date.now());
      } else {
        setText(error, res.error);
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    });
    this.renameForm = form;
    this.nameLine.hidden = true;
    this.nameLine.after(form);
    this.renameBtn.hidden = true;
    input.focus();
    input.select();
  }

  private endRename(restoreFocus: boolean): void {
    if (!this.renameForm) return;
    this.renameForm.remove();
    this.renameForm = null;
    this.nameLine.hidden = false;
    this.renameBtn.hidden = false;
    if (restoreFocus) this.renameBtn.focus();
  }
}

/** "needs_input" → "Needs input". */
export function humanizeNudge(state: string): string {
  const t = state.replace(/[_-]+/g, " ").trim();
  return t ? t[0]!.toUpperCase() + t.slice(1) : "";
}
