// "#/session/<id>": one session's terminal (xterm.js over /ws/terminal/<id>) under a header kept
// live from the dashboard state (name, target, running state, attention, workspace git state).
// The dashboard connection keeps running underneath; this view never opens a second one.

import { socketAddress } from "../auth";
import { type ConnectionStatus, DashboardConnection } from "../connection";
import { h, setAttr, setClass, setHidden, setText } from "../dom";
import {
  applyTerminalMessage,
  DISPOSED_CODE,
  DISPOSED_REASON,
  inputFrames,
  parseTerminalMessage,
  resizeFrame,
  runStateLabel,
  terminalSocketPath,
} from "../terminal/protocol";
import type { XtermPane } from "../terminal/xtermPane";
import type { Session, Workspace } from "../types";
import { needsAttention, repoName, sessionLabel, sessionTag } from "../view";
import { ConnectionIndicator } from "./connectionIndicator";
import { GitStats } from "./gitStats";
import { humanizeNudge } from "./sessionRow";

declare global {
  interface Window {
    /** Read-only peek at the open terminal, for browser tests. */
    __schmuxTerminal?: { sessionId: string; text(): string; connected(): boolean; size(): [number, number] };
  }
}

type PaneModule = typeof import("../terminal/xtermPane");
let paneModule: Promise<PaneModule> | null = null;
const loadPane = (): Promise<PaneModule> => (paneModule ??= import("../terminal/xtermPane"));

export interface SessionViewDeps {
  /** Start this ended session again (the app moves the view to the new session). */
  restart(session: Session): void;
  copy(text: string): Promise<boolean>;
  /** Something worth a toast (a failed copy, say). */
  toast(message: string, kind: "success" | "error"): void;
}

export class SessionView {
  readonly el: HTMLElement;
  private sessionId: string | null = null;
  private generation = 0;
  private pane: XtermPane | null = null;
  private conn: DashboardConnection | null = null;
  /** The server said the session was disposed, or the dashboard no longer lists it. */
  private ended = false;
  private disposedByServer = false;
  private last: { session: Session; workspace: Workspace } | null = null;
  /** From the terminal's own `full` frames: used until the dashboard state has the session. */
  private termRunning: { running: boolean; exit_status: number | null } | null = null;
  /** The socket opened and its first `full` has not arrived yet: hold resize frames. */
  private awaitingFull = false;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;

  private readonly title: HTMLHeadingElement;
  private readonly target: HTMLSpanElement;
  private readonly runState: HTMLSpanElement;
  private readonly attention: HTMLDivElement;
  private readonly attentionState: HTMLSpanElement;
  private readonly attentionSummary: HTMLSpanElement;
  private readonly repo: HTMLSpanElement;
  private readonly branch: HTMLSpanElement;
  private readonly wsId: HTMLSpanElement;
  private readonly gitStats = new GitStats("term-git-");
  private readonly git: HTMLDivElement;
  private readonly indicator: ConnectionIndicator;
  private readonly notice: HTMLDivElement;
  private readonly inputNote: HTMLDivElement;
  private readonly box: HTMLDivElement;
  private readonly loading: HTMLParagraphElement;
  private readonly jump: HTMLButtonElement;
  private readonly copyAttach: HTMLButtonElement;
  private readonly restartBtn: HTMLButtonElement;
  private readonly tag: HTMLSpanElement;
  private screen: HTMLDivElement;

  constructor(private readonly deps: SessionViewDeps) {
    this.title = h("h2", { class: "term-title", testid: "term-title" });
    this.target = h("span", { class: "term-target", testid: "term-target", attrs: { title: "run target" } });
    this.runState = h("span", { class: "run-state", testid: "term-run-state" });
    this.attentionState = h("span", { class: "attention-state" });
    this.attentionSummary = h("span", { class: "attention-summary" });
    this.attention = h(
      "div",
      { class: "attention term-attention", testid: "term-attention" },
      h("span", { class: "attention-icon", attrs: { "aria-hidden": "true" }, text: "⚑" }),
      this.attentionState,
      this.attentionSummary,
    );
    this.repo = h("span", { class: "term-repo" });
    this.branch = h("span", { class: "ws-branch", testid: "term-git-branch", attrs: { title: "branch" } });
    this.wsId = h("span", { class: "ws-id" });
    this.git = h(
      "div",
      { class: "term-git", testid: "term-git", attrs: { "aria-label": "workspace git status" } },
      this.repo,
      h("span", { class: "branch-icon", attrs: { "aria-hidden": "true" }, text: "⎇" }),
      this.branch,
      ...this.gitStats.nodes,
      this.wsId,
      h("span", {
        class: "term-keys",
        text: "select + Ctrl-Shift-C copies · Ctrl-Shift-V pastes",
        attrs: { title: "Plain Ctrl-C goes to the program (interrupt). On macOS, Cmd-C / Cmd-V." },
      }),
    );
    this.indicator = new ConnectionIndicator(() => this.conn?.retryNow(), {
      testid: "term-connection-status",
      what: "Terminal stream",
      prefix: "Terminal",
    });
    this.copyAttach = h("button", {
      class: "btn btn-small",
      testid: "term-copy-attach",
      text: "Copy attach",
      attrs: { type: "button" },
      on: { click: () => void this.copyAttachCmd() },
    });
    this.restartBtn = h("button", {
      class: "btn btn-small btn-primary",
      testid: "term-restart",
      text: "Restart",
      attrs: { type: "button", title: "Start this target again in the same workspace, with the same name" },
      on: {
        click: () => {
          if (this.last && !this.ended) this.deps.restart(this.last.session);
        },
      },
    });
    this.restartBtn.hidden = true;
    this.tag = h("span", { class: "session-tag", testid: "term-session-tag" });
    this.notice = h("div", { class: "term-notice", testid: "term-notice", attrs: { role: "status" } });
    this.notice.hidden = true;
    this.inputNote = h("div", { class: "term-input-note", testid: "term-input-note", attrs: { role: "alert" } });
    this.inputNote.hidden = true;
    this.loading = h("p", { class: "term-loading", text: "Loading terminal…" });
    this.jump = h("button", {
      class: "btn term-jump",
      testid: "term-jump-latest",
      text: "↓ Jump to latest",
      attrs: { type: "button", title: "Scroll to the newest output" },
      on: {
        click: () => {
          this.pane?.scrollToBottom();
          this.pane?.focus();
        },
      },
    });
    this.jump.hidden = true;
    this.screen = this.newScreen();
    this.box = h("div", { class: "term-box" }, this.screen, this.loading, this.jump, this.inputNote);
    this.el = h(
      "section",
      { class: "session-view", testid: "terminal-view", attrs: { "aria-label": "session terminal" } },
      h(
        "header",
        { class: "term-head" },
        h(
          "div",
          { class: "term-head-main" },
          h("a", { class: "btn btn-small term-back", attrs: { href: "#/" }, testid: "back-to-dashboard", text: "← Dashboard" }),
          h("div", { class: "term-name" }, this.title, this.target, this.tag),
          this.runState,
          this.attention,
          h("div", { class: "term-head-end" }, this.restartBtn, this.copyAttach, this.indicator.el),
        ),
        this.git,
      ),
      this.notice,
      this.box,
    );
    this.el.hidden = true;
  }

  /** Show session `id` (idempotent for the id already shown). */
  open(sessionId: string): void {
    if (this.sessionId === sessionId) return;
    this.close();
    this.sessionId = sessionId;
    this.el.dataset.sessionId = sessionId;
    const gen = ++this.generation;
    this.screen = this.newScreen();
    this.box.replaceChild(this.screen, this.box.firstElementChild!);
    setHidden(this.loading, false);
    setText(this.loading, "Loading terminal…");
    loadPane().then(
      (mod) => {
        if (gen !== this.generation) return;
        setHidden(this.loading, true);
        this.pane = new mod.XtermPane(this.screen, {
          onInput: (d) => this.sendInput(d),
          onResize: (cols, rows) => this.sendResize(cols, rows),
          onScrolledUp: (up) => setHidden(this.jump, !up),
          onCopy: (text) => void this.copySelection(text),
        });
        window.__schmuxTerminal = {
          sessionId,
          text: () => (gen === this.generation && this.pane ? this.pane.text() : ""),
          connected: () => gen === this.generation && this.conn?.status.state === "connected",
          size: () => (this.pane ? [this.pane.term.rows, this.pane.term.cols] : [0, 0]),
        };
        this.maybeConnect();
        this.pane.focus();
      },
      () => {
        if (gen === this.generation) setText(this.loading, "The terminal could not be loaded. Reload the page to try again.");
      },
    );
  }

  /** Leave the view: drop the socket and the terminal. */
  close(): void {
    this.generation++;
    this.conn?.stop();
    this.conn = null;
    this.pane?.dispose();
    this.pane = null;
    this.sessionId = null;
    this.ended = false;
    this.disposedByServer = false;
    this.last = null;
    this.termRunning = null;
    delete window.__schmuxTerminal;
    setHidden(this.jump, true);
    this.setNotice("");
    this.showInputNote("");
  }

  /** The dashboard state changed. `loaded`: a `sessions` snapshot has arrived at least once. */
  update(found: { session: Session; workspace: Workspace } | null, loaded: boolean): void {
    if (found) {
      this.last = found;
      if (!this.disposedByServer) {
        this.ended = false;
        this.setNotice("");
      }
    } else if (loaded && !this.ended) {
      this.endStream(
        this.last
          ? "This session was disposed. Its last output stays on screen."
          : "No such session: it may have been disposed. Go back to the dashboard to pick another.",
      );
    }
    this.renderHeader();
    this.maybeConnect();
  }

  /** No more stream for this session: say why, keep the last screen. */
  private endStream(notice: string): void {
    this.ended = true;
    this.conn?.stop();
    this.conn = null;
    setHidden(this.indicator.el, true);
    setClass(this.box, "is-disconnected", false);
    this.setNotice(notice);
    this.renderHeader();
  }

  tick(now: number): void {
    this.indicator.tick(now);
  }

  networkChanged(): void {
    this.conn?.networkChanged();
  }

  /** The dashboard learned we are signed out: this view's socket stops trying too. */
  signOut(reason: string): void {
    this.conn?.signOut(reason);
  }

  private newScreen(): HTMLDivElement {
    return h("div", { class: "term-screen", testid: "term-screen" });
  }

  private maybeConnect(): void {
    if (this.conn || this.ended || !this.pane || this.sessionId === null) return;
    const gen = this.generation;
    const path = terminalSocketPath(this.sessionId);
    const conn = new DashboardConnection({
      url: () => socketAddress(path, location),
      onMessage: (d) => gen === this.generation && this.onMessage(d),
      onStatus: (s) => gen === this.generation && this.onStatus(s),
      onOpen: () => {
        // Our size goes to the pane once the first `full` is on screen (the refit after it):
        // resizing the pane while the server captures it could mismatch capture and rows.
        if (gen !== this.generation) return;
        this.awaitingFull = true;
        this.pane?.invalidateSize();
      },
      onClose: (code, reason) => {
        if (gen !== this.generation || code !== DISPOSED_CODE || reason !== DISPOSED_REASON) return false;
        this.disposedByServer = true;
        this.conn = null; // the connection stops itself
        this.endStream("This session was disposed. Its last output stays on screen.");
        return true;
      },
    });
    this.conn = conn;
    setHidden(this.indicator.el, false);
    conn.start();
  }

  private onStatus(status: ConnectionStatus): void {
    this.indicator.update(status, Date.now());
    setClass(this.box, "is-disconnected", status.state !== "connected");
    if (status.state === "connected") this.showInputNote("");
  }

  private onMessage(data: string): void {
    const msg = parseTerminalMessage(data);
    if (!msg || !this.pane) return;
    if (msg.type === "error") {
      this.showInputNote(`The server refused a message: ${msg.error}`);
      return;
    }
    if (msg.type === "full") this.awaitingFull = false;
    if (msg.type === "full" && msg.running !== null) {
      this.termRunning = { running: msg.running, exit_status: msg.exit_status };
      this.renderHeader();
    }
    applyTerminalMessage(this.pane, msg);
  }

  private sendResize(cols: number, rows: number): void {
    if (!this.conn || this.awaitingFull) {
      this.pane?.invalidateSize(); // report it after the first full
      return;
    }
    if (!this.conn.send(resizeFrame(cols, rows))) this.pane?.invalidateSize();
  }

  private sendInput(data: string): void {
    const conn = this.conn;
    if (!conn || conn.status.state !== "connected") {
      if (this.ended) this.showInputNote("This session is gone: what you type is not sent anywhere.", true);
      else this.showInputNote("Not connected: that input was not sent.");
      return;
    }
    for (const frame of inputFrames(data)) {
      if (!conn.send(frame)) {
        this.showInputNote("Not connected: that input was not sent.");
        return;
      }
    }
  }

  private renderHeader(): void {
    const s = this.last?.session ?? null;
    const w = this.last?.workspace ?? null;
    const id = this.sessionId ?? "";
    setText(this.title, s ? sessionLabel(s) : id);
    setText(this.target, s?.nickname ? s.target : "");
    setHidden(this.target, !s?.nickname);
    setText(this.tag, s || id ? `#${sessionTag({ id: s?.id ?? id })}` : "");
    const run = s ? { running: s.running, exit_status: s.exit_status } : this.termRunning;
    setHidden(this.runState, run === null && !this.ended);
    if (this.ended) {
      // Gone: whatever the last state said, nothing runs there any more.
      setText(this.runState, "Disposed");
      this.runState.dataset.running = "false";
      this.runState.dataset.state = "disposed";
    } else if (run) {
      setText(this.runState, runStateLabel(run.running, run.exit_status));
      this.runState.dataset.running = String(run.running);
      this.runState.dataset.state = run.running ? "running" : run.exit_status === 0 ? "done" : "exited";
    }
    setHidden(this.restartBtn, this.ended || !s || s.running);
    const attn = s !== null && needsAttention(s);
    setHidden(this.attention, !attn);
    setText(this.attentionState, s ? humanizeNudge(s.nudge_state) : "");
    setText(this.attentionSummary, s?.nudge_summary ?? "");
    setAttr(this.attention, "title", s?.nudge_source ? `reported by the ${s.nudge_source}` : null);
    setClass(this.el, "needs-attention", attn);
    setHidden(this.git, w === null);
    if (w) {
      setText(this.repo, repoName(w));
      setAttr(this.repo, "title", w.repo);
      setText(this.branch, w.branch);
      setText(this.wsId, w.id);
      setAttr(this.wsId, "title", w.path);
      this.gitStats.update(w);
    }
    setHidden(this.copyAttach, !s?.attach_cmd);
    setAttr(this.copyAttach, "title", s?.attach_cmd ?? null);
    const title = s ? `${sessionLabel(s)} — schmux-desktop` : "schmux-desktop";
    if (!this.el.hidden && document.title !== title) document.title = title;
  }

  private setNotice(text: string): void {
    setText(this.notice, text);
    setHidden(this.notice, text === "");
  }

  private showInputNote(text: string, sticky = false): void {
    if (this.noticeTimer !== null) clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
    setText(this.inputNote, text);
    setHidden(this.inputNote, text === "");
    if (text && !sticky) this.noticeTimer = setTimeout(() => this.showInputNote(""), 4000);
  }

  private async copySelection(text: string): Promise<void> {
    const ok = await this.deps.copy(text);
    if (!ok) this.deps.toast("Could not copy the selection.", "error");
    this.pane?.focus();
  }

  private async copyAttachCmd(): Promise<void> {
    const cmd = this.last?.session.attach_cmd;
    if (!cmd) return;
    const ok = await this.deps.copy(cmd);
    setText(this.copyAttach, ok ? "Copied ✓" : "Copy failed");
    setTimeout(() => setText(this.copyAttach, "Copy attach"), 1500);
  }
}
