// xterm.js in a box: fitted to the box (FitAddon + ResizeObserver), themed for light and dark,
// copy/paste keys, and "scrolled up?" for the jump-to-latest control. Loaded lazily by the
// session view, so the dashboard does not pay for xterm.js.

import { FitAddon } from "@xterm/addon-fit";
import { type ITheme, Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import type { TerminalSink } from "./protocol";

export interface PaneCallbacks {
  /** Keystrokes and pastes, to be sent to the pane literally. */
  onInput(data: string): void;
  /** The fitted size changed (or a report was forced): tell the server. */
  onResize(cols: number, rows: number): void;
  /** The viewport left or reached the bottom of the buffer. */
  onScrolledUp(up: boolean): void;
  /** Ctrl/Cmd-Shift-C: copy this text. */
  onCopy(text: string): void;
}

const LIGHT: ITheme = {
  background: "#fbfbfc",
  foreground: "#1b1f24",
  cursor: "#2f6fed",
  cursorAccent: "#ffffff",
  selectionBackground: "#b9d1ff",
  selectionInactiveBackground: "#d9e4fb",
  scrollbarSliderBackground: "rgba(27, 31, 36, 0.18)",
  scrollbarSliderHoverBackground: "rgba(27, 31, 36, 0.32)",
  scrollbarSliderActiveBackground: "rgba(27, 31, 36, 0.42)",
  black: "#1b1f24",
  red: "#c0362c",
  green: "#1f7a3d",
  yellow: "#8a5a00",
  blue: "#2f5fcf",
  magenta: "#8e3fb8",
  cyan: "#0f7685",
  white: "#8c959f",
  brightBlack: "#57606a",
  brightRed: "#d84a3f",
  brightGreen: "#2a9150",
  brightYellow: "#a06c00",
  brightBlue: "#3f74e8",
  brightMagenta: "#a452cf",
  brightCyan: "#138a9b",
  brightWhite: "#6e7781",
};

const DARK: ITheme = {
  background: "#0f1318",
  foreground: "#dfe4ea",
  cursor: "#8fb3ff",
  cursorAccent: "#0f1318",
  selectionBackground: "#2e4a7a",
  selectionInactiveBackground: "#263548",
  scrollbarSliderBackground: "rgba(223, 228, 234, 0.18)",
  scrollbarSliderHoverBackground: "rgba(223, 228, 234, 0.3)",
  scrollbarSliderActiveBackground: "rgba(223, 228, 234, 0.4)",
  black: "#1a1f25",
  red: "#ff7b72",
  green: "#5fd08a",
  yellow: "#f0c14b",
  blue: "#6b9bff",
  magenta: "#d2a8ff",
  cyan: "#56c7d6",
  white: "#c9d1d9",
  brightBlack: "#6e7681",
  brightRed: "#ffa198",
  brightGreen: "#7ee2a0",
  brightYellow: "#f5d47a",
  brightBlue: "#9cbcff",
  brightMagenta: "#e2c5ff",
  brightCyan: "#86dbe6",
  brightWhite: "#f0f3f6",
};

const FONT = 'ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace';

export class XtermPane implements TerminalSink {
  readonly term: Terminal;
  private readonly fitAddon = new FitAddon();
  private readonly observer: ResizeObserver | null;
  private readonly media: MediaQueryList | null;
  private readonly onScheme = () => this.applyTheme();
  private frame = 0;
  private reported: { cols: number; rows: number } | null = null;
  private scrolledUp = false;
  private disposed = false;

  constructor(
    private readonly host: HTMLElement,
    private readonly cb: PaneCallbacks,
  ) {
    this.media = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
    this.term = new Terminal({
      fontFamily: FONT,
      fontSize: 13.5,
      lineHeight: 1.15,
      scrollback: 10_000,
      cursorBlink: true,
      allowProposedApi: false,
      macOptionIsMeta: true,
      theme: this.theme(),
    });
    this.term.loadAddon(this.fitAddon);
    this.term.open(host);
    this.term.onData((d) => this.cb.onInput(d));
    this.term.onBinary((d) => this.cb.onInput(d));
    this.term.onScroll(() => this.checkScroll());
    this.term.onWriteParsed(() => this.checkScroll());
    this.term.attachCustomKeyEventHandler((ev) => this.onKey(ev));
    this.media?.addEventListener("change", this.onScheme);
    this.observer =
      typeof ResizeObserver === "function" ? new ResizeObserver(() => this.scheduleFit()) : null;
    this.observer?.observe(host);
    this.refit();
  }

  // -- TerminalSink --------------------------------------------------------------------

  get rows(): number {
    return this.term.rows;
  }

  reset(): void {
    this.term.reset();
    this.checkScroll();
  }

  setRows(rows: number): void {
    this.term.resize(this.term.cols, Math.max(1, Math.min(rows, 500)));
  }

  write(data: string, done?: () => void): void {
    if (this.disposed) return;
    this.term.write(data, done && (() => !this.disposed && done()));
  }

  /** Fit to the box; report the size when it differs from the last one reported. */
  refit(): void {
    if (this.disposed) return;
    if (this.host.clientWidth > 0 && this.host.clientHeight > 0) {
      try {
        this.fitAddon.fit();
      } catch {
        /* not measurable yet (fonts, hidden) */
      }
    }
    const { cols, rows } = this.term;
    if (!this.reported || this.reported.cols !== cols || this.reported.rows !== rows) this.report();
  }

  // -- the rest ------------------------------------------------------------------------

  /** Forget the size last reported: the next refit reports it again (a socket just opened). */
  invalidateSize(): void {
    this.reported = null;
  }

  /** Report the current size even if unchanged. */
  report(): void {
    if (this.disposed) return;
    const { cols, rows } = this.term;
    this.reported = { cols, rows };
    this.cb.onResize(cols, rows);
  }

  scrollToBottom(): void {
    this.term.scrollToBottom();
    this.checkScroll();
  }

  focus(): void {
    this.term.focus();
  }

  /** Everything in the buffer (scrollback and screen), trailing blanks trimmed: for tests. */
  text(): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n").replace(/\s+$/, "");
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.observer?.disconnect();
    this.media?.removeEventListener("change", this.onScheme);
    this.term.dispose();
  }

  private scheduleFit(): void {
    if (this.frame || this.disposed) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.refit();
    });
  }

  private checkScroll(): void {
    if (this.disposed) return;
    const b = this.term.buffer.active;
    const up = b.viewportY < b.baseY;
    if (up !== this.scrolledUp) {
      this.scrolledUp = up;
      this.cb.onScrolledUp(up);
    }
  }

  private onKey(ev: KeyboardEvent): boolean {
    const key = ev.key.toLowerCase();
    const mod = ev.ctrlKey || ev.metaKey;
    if (mod && ev.shiftKey && key === "c") {
      // Ctrl-Shift-C copies the selection (plain Ctrl-C stays an interrupt for the pane).
      if (ev.type === "keydown") {
        ev.preventDefault();
        if (this.term.hasSelection()) this.cb.onCopy(this.term.getSelection());
      }
      return false;
    }
    if (mod && ev.shiftKey && key === "v") {
      // Let the browser paste: xterm.js turns the paste event into input (bracketed if asked for).
      return false;
    }
    if (ev.metaKey && !ev.ctrlKey && (key === "c" || key === "v")) {
      return false; // Cmd-C / Cmd-V: the browser's own copy and paste
    }
    if (ev.shiftKey && !mod && key === "insert") return false; // Shift-Insert pastes
    return true;
  }

  private theme(): ITheme {
    return this.media?.matches ? DARK : LIGHT;
  }

  private applyTheme(): void {
    if (!this.disposed) this.term.options.theme = this.theme();
  }
}
