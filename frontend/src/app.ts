// Wires the pieces: the connection feeds the reducer; components render from the last snapshot;
// actions go over REST. Nothing here polls the server.

import { Api, type SpawnItem } from "./api";
import { SIGNED_OUT_MESSAGE, socketAddress } from "./auth";
import { AddRepoForm } from "./components/addRepoForm";
import { ConfirmDialog } from "./components/confirmDialog";
import { ConnectionIndicator } from "./components/connectionIndicator";
import { DisposedList } from "./components/disposedList";
import { HostsPanel } from "./components/hostsPanel";
import { NotifyToggle } from "./components/notifyToggle";
import { ProgressList } from "./components/progressList";
import { OverlapMatrix } from "./components/overlapMatrix";
import { ReviewView } from "./components/reviewView";
import { SessionView } from "./components/sessionView";
import { SpawnForm } from "./components/spawnForm";
import { Toasts } from "./components/toasts";
import { Toolbar } from "./components/toolbar";
import { WorkspaceList } from "./components/workspaceList";
import type { WorkspaceActions } from "./components/workspaceRow";
import { type ConnectionStatus, DashboardConnection } from "./connection";
import { disposeWorkspaceLines, forceNote, keepDays } from "./disposal";
import { h, setClass, setHidden, setText } from "./dom";
import { groupByHost, hostLabel } from "./hosts";
import { needsInputSnapshot, newlyNeedingInput, Notifier } from "./notify";
import { loadPrefs, type Prefs, savePrefs } from "./prefs";
import { parseRoute, sessionHref } from "./router";
import { applyMessage, type DashboardState, initialState, parseMessage, pruneProgress } from "./state";
import type { Session, Workspace } from "./types";
import { FILTERS, sessionLabel, totals, visibleWorkspaces } from "./view";

const storage = (): Storage | undefined => {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
};

export class App {
  private state: DashboardState = initialState;
  /** A `sessions` message arrived since the socket last (re)opened. */
  private fresh = false;
  private prefs: Prefs;
  private readonly api = new Api();
  private readonly conn: DashboardConnection;

  private readonly indicator: ConnectionIndicator;
  private readonly list: WorkspaceList;
  private readonly spawn: SpawnForm;
  private readonly progress = new ProgressList();
  private readonly dialog = new ConfirmDialog();
  private readonly toasts = new Toasts();
  private readonly sessionView: SessionView;
  private readonly reviewView: ReviewView;
  private readonly overlaps = new OverlapMatrix();
  private readonly notifier: Notifier;
  private readonly notifyToggle: NotifyToggle;
  /** Which sessions needed input in the last snapshot; null before the first one (never notify for it). */
  private needsInput: Map<string, boolean> | null = null;
  private readonly firstRunForm: AddRepoForm;
  private readonly addRepoForm: AddRepoForm;
  private readonly disposed: DisposedList;
  private readonly hostsPanel: HostsPanel;
  /** Workspace ids of the last snapshot: one leaving means a dispose (maybe by another client). */
  private workspaceIds: Set<string> | null = null;

  private readonly staleBanner: HTMLDivElement;
  private readonly staleTime: HTMLSpanElement;
  private readonly authBanner: HTMLDivElement;
  private readonly totalsEl: HTMLParagraphElement;
  private readonly hostTotals: HTMLParagraphElement;
  private readonly loading: HTMLParagraphElement;
  private readonly empty: HTMLDivElement;
  private readonly emptyText: HTMLParagraphElement;
  private readonly showAll: HTMLButtonElement;
  private readonly firstRun: HTMLElement;
  private readonly main: HTMLElement;
  private readonly dashboard: HTMLDivElement;
  private readonly version: HTMLSpanElement;
  private readonly addRepoDetails: HTMLDetailsElement;

  constructor(root: HTMLElement) {
    this.prefs = loadPrefs(storage());
    this.conn = new DashboardConnection({
      url: () => socketAddress("/ws/dashboard", location),
      onMessage: (d) => this.onMessage(d),
      onStatus: (s) => this.onStatus(s),
    });
    this.api.onSignedOut = () => this.conn.signOut(SIGNED_OUT_MESSAGE);
    this.indicator = new ConnectionIndicator(() => this.conn.retryNow());
    this.sessionView = new SessionView({
      restart: (s) => void this.restartSession(s),
      copy: (text) => copyText(text),
      toast: (message, kind) => this.toasts.show(message, kind),
    });
    this.reviewView = new ReviewView({
      api: this.api,
      toast: (message, kind) => this.toasts.show(message, kind),
      storage: storage() ?? null,
    });
    this.notifier = new Notifier(
      {
        storage: storage(),
        desktop: () => window.schmuxDesktop,
        api: typeof Notification === "function" ? Notification : undefined,
      },
      (id) => {
        location.hash = sessionHref(id);
      },
    );
    this.notifyToggle = new NotifyToggle(this.notifier, (reason) => this.toasts.show(reason, "error"));
    const actions: WorkspaceActions = {
      rename: (id, nickname) => this.api.rename(id, nickname),
      disposeSession: (s, w) => this.confirmDisposeSession(s, w),
      restartSession: (s) => void this.restartSession(s),
      disposeWorkspace: (w) => this.confirmDisposeWorkspace(w),
      spawnInto: (w) => this.spawn.selectWorkspace(w.id),
      copy: (text) => copyText(text),
    };
    this.list = new WorkspaceList(actions);
    this.spawn = new SpawnForm(this.api, { onSpawned: (items) => this.onSpawned(items) });
    this.firstRunForm = new AddRepoForm(this.api, "first-run", (n) => this.toasts.show(`Added repository “${n}”.`, "success"));
    this.addRepoForm = new AddRepoForm(this.api, "add-repo", (n) => this.toasts.show(`Added repository “${n}”.`, "success"));
    this.disposed = new DisposedList(this.api, {
      restored: (snap, res) =>
        this.toasts.show(
          `Restored ${snap.workspace_id}` +
            (res.workspace_id === snap.workspace_id ? "" : ` as ${res.workspace_id}`) +
            (res.message ? `: ${res.message}.` : ` on ${res.branch ?? snap.branch} with its files.`),
          "success",
          res.message ? 12_000 : 5_000,
        ),
      failed: (message) => this.toasts.show(message, "error"),
    });
    this.hostsPanel = new HostsPanel(this.api, {
      toast: (message, kind) => this.toasts.show(message, kind),
      confirm: (title, lines, run, done) =>
        this.dialog.open({ title, lines, confirmLabel: "Remove", run, onDone: done }),
    });
    const toolbar = new Toolbar(
      this.prefs,
      (p) => {
        this.prefs = p;
        savePrefs(storage(), p);
        this.render();
      },
      () => void this.scan(toolbar.scanButton),
    );

    this.staleTime = h("span");
    this.staleBanner = h(
      "div",
      { class: "stale-banner", testid: "stale-marker", attrs: { role: "note" } },
      h("strong", { text: "Stale: " }),
      "not receiving live updates. Showing the state last received ",
      this.staleTime,
      ".",
    );
    this.staleBanner.hidden = true;
    this.authBanner = h("div", { class: "auth-banner", testid: "auth-error", attrs: { role: "alert" } });
    this.authBanner.hidden = true;
    this.totalsEl = h("p", { class: "totals", testid: "totals" });
    this.hostTotals = h("p", { class: "host-totals", testid: "host-totals" });
    this.hostTotals.hidden = true;
    this.loading = h("p", { class: "loading", testid: "loading", text: "Waiting for the first update from the server…" });
    this.emptyText = h("p");
    this.showAll = h("button", {
      class: "btn",
      testid: "show-all",
      text: "Show all",
      attrs: { type: "button" },
      on: {
        click: () => {
          (document.getElementById("filter-all") as HTMLInputElement | null)?.click();
        },
      },
    });
    this.empty = h("div", { class: "empty", testid: "empty-state" }, this.emptyText, this.showAll);
    this.empty.hidden = true;
    this.firstRun = h(
      "section",
      { class: "first-run panel", testid: "first-run", attrs: { "aria-labelledby": "first-run-title" } },
      h("h2", { attrs: { id: "first-run-title" }, text: "Add your first repository" }),
      h("p", {
        text:
          "schmux-desktop runs each agent in its own workspace: a git worktree or clone of one of your repositories, " +
          "on a branch you choose. No repository is configured yet.",
      }),
      h("p", {
        text:
          "Add one by its path on this machine (e.g. /home/me/src/project) or by a git URL " +
          "(e.g. git@github.com:me/project.git or https://github.com/me/project.git). " +
          "You can also edit config.json in the data directory, or start with --demo to try a small sample repository.",
      }),
      this.firstRunForm.el,
    );
    this.firstRun.hidden = true;
    this.version = h("span", { testid: "footer-version", text: "schmux-desktop" });

    this.main = h(
      "main",
      { class: "main", attrs: { id: "main", tabindex: -1 } },
      toolbar.el,
      this.loading,
      this.firstRun,
      this.empty,
      this.list.el,
    );
    this.addRepoDetails = h(
      "details",
      { class: "panel add-repo-panel", testid: "add-repo-panel" },
      h("summary", { text: "Add a repository" }),
      this.addRepoForm.el,
    );
    this.dashboard = h(
      "div",
      { class: "layout" },
      this.main,
      h(
        "aside",
        { class: "side", attrs: { "aria-label": "actions" } },
        h("section", { class: "panel" }, this.spawn.el, this.progress.el),
        this.addRepoDetails,
        this.hostsPanel.el,
        this.disposed.el,
      ),
    );
    root.replaceChildren(
      h("a", { class: "skip-link", attrs: { href: "#main" }, text: "Skip to workspaces", on: { click: (e) => this.skipToMain(e) } }),
      h(
        "header",
        { class: "topbar" },
        h("h1", { class: "brand" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" }, text: "▦" }), "schmux-desktop"),
        this.totalsEl,
        this.hostTotals,
        h("a", { class: "btn btn-small topbar-link", testid: "open-overlaps", attrs: { href: "#/conflicts", title: "Which workspaces change the same files" }, text: "Overlaps" }),
        this.notifyToggle.el,
        this.indicator.el,
      ),
      this.authBanner,
      this.staleBanner,
      this.dashboard,
      this.sessionView.el,
      this.reviewView.el,
      this.overlaps.el,
      h("footer", { class: "footer", testid: "footer" }, this.version, h("span", { class: "footer-sep", text: " · " }), h("span", { text: "live over /ws/dashboard" })),
      this.toasts.el,
      this.dialog.el,
    );
  }

  start(): void {
    this.render();
    this.conn.start();
    void this.loadVersion();
    void this.disposed.refresh();
    const networkChanged = () => {
      this.conn.networkChanged();
      this.sessionView.networkChanged();
    };
    window.addEventListener("online", networkChanged);
    window.addEventListener("offline", networkChanged);
    window.addEventListener("hashchange", () => this.render());
    // The desktop app may install its notification hook after the page loaded.
    window.addEventListener("focus", () => this.notifyToggle.render());
    setInterval(() => this.tick(), 1000);
    this.renderRoute();
  }

  private skipToMain(e: Event): void {
    e.preventDefault();
    this.main.focus();
  }

  private async loadVersion(): Promise<void> {
    // Fetched exactly once; connectivity is the socket's job.
    const res = await this.api.healthz();
    setText(this.version, res.ok && res.data?.version ? `schmux-desktop ${res.data.version}` : "schmux-desktop (version unknown)");
  }

  private onStatus(status: ConnectionStatus): void {
    // Signed out is a state of its own: one message, no retry loop, the terminal view stops too.
    const signedOut = status.state === "signed-out";
    if (signedOut) {
      setText(this.authBanner, status.reason);
      this.sessionView.signOut(status.reason);
    }
    this.authBanner.hidden = !signedOut;
    if (status.state !== "connected") this.fresh = false;
    this.indicator.update(status, Date.now());
    this.renderStale();
  }

  private onMessage(data: string): void {
    const msg = parseMessage(data);
    const next = applyMessage(this.state, msg, Date.now());
    if (next === this.state) return;
    if (msg?.type === "sessions") this.fresh = true;
    this.state = next;
    if (msg?.type === "sessions" && next.workspaces) {
      this.notifyNeedsInput(next.workspaces);
      this.noticeDisposals(next.workspaces);
    }
    this.render();
  }

  private noticeDisposals(workspaces: Workspace[]): void {
    const ids = new Set(workspaces.map((w) => w.id));
    const before = this.workspaceIds;
    this.workspaceIds = ids;
    // A workspace gone (disposed, maybe by another client): a new snapshot to list. Only then, so
    // the page asks nothing of the server while workspaces merely come and change.
    if (before && [...before].some((id) => !ids.has(id))) void this.disposed.refresh();
  }

  private tick(): void {
    const now = Date.now();
    this.indicator.tick(now);
    this.disposed.tick(now);
    this.sessionView.tick(now);
    this.list.tick(now);
    const pruned = pruneProgress(this.state, now);
    if (pruned !== this.state) {
      this.state = pruned;
      this.progress.update(this.state.progress);
    }
  }

  private renderStale(): void {
    const stale = this.state.workspaces !== null && !this.fresh;
    setHidden(this.staleBanner, !stale);
    setClass(this.main, "is-stale", stale);
    if (stale && this.state.receivedAt) {
      const t = new Date(this.state.receivedAt);
      setText(this.staleTime, `at ${t.toLocaleTimeString()}`);
      this.staleTime.title = t.toISOString();
    }
  }

  private render(): void {
    const now = Date.now();
    const { workspaces, config } = this.state;
    this.spawn.setHosts(this.state.hosts);
    this.hostsPanel.setStates(this.state.hosts);
    if (config) {
      this.spawn.setConfig(config);
      this.firstRunForm.setConfig(config);
      this.addRepoForm.setConfig(config);
      this.hostsPanel.setConfig(config);
    }
    const firstRun = config !== null && config.repos.length === 0;
    setHidden(this.firstRun, !firstRun);
    setHidden(this.addRepoDetails, firstRun);
    setHidden(this.loading, workspaces !== null);
    if (workspaces !== null) {
      const visible = visibleWorkspaces(workspaces, this.prefs.filter, this.prefs.sort);
      this.list.update(visible, now, this.state.hosts, workspaces);
      this.spawn.setWorkspaces(workspaces);
      const t = totals(workspaces);
      setText(
        this.totalsEl,
        `${t.workspaces} workspace${t.workspaces === 1 ? "" : "s"} · ${t.sessions} session${t.sessions === 1 ? "" : "s"} · ` +
          `${t.running} running · ${t.done} done · ${t.attention} need${t.attention === 1 ? "s" : ""} attention · ` +
          `${t.dirty} uncommitted`,
      );
      setClass(this.totalsEl, "has-attention", t.attention > 0);
      this.renderHostTotals(visible, workspaces);
      const title = t.attention > 0 ? `schmux-desktop — ${t.attention} need${t.attention === 1 ? "s" : ""} attention` : "schmux-desktop";
      if (document.title !== title) document.title = title;
      const noneAtAll = workspaces.length === 0;
      const filteredAway = !noneAtAll && visible.length === 0;
      setHidden(this.empty, !(filteredAway || (noneAtAll && !firstRun)));
      setHidden(this.showAll, !filteredAway);
      const label = FILTERS.find((f) => f.value === this.prefs.filter)?.label ?? "";
      setText(
        this.emptyText,
        filteredAway
          ? `No session matches the filter “${label}”.`
          : "No workspaces yet. Spawn a session with the form: it prepares a workspace for the branch you name.",
      );
    }
    this.progress.update(this.state.progress);
    this.renderStale();
    this.renderRoute();
  }

  /** With other hosts: "This machine 2/3 · gpu-box 1/1 · lab offline" (running/sessions per host). */
  private renderHostTotals(visible: ReturnType<typeof visibleWorkspaces>, workspaces: Workspace[]): void {
    const hosts = this.state.hosts;
    const shown = hosts.length > 0 || workspaces.some((w) => (w.host ?? "") !== "");
    setHidden(this.hostTotals, !shown);
    if (!shown) return;
    const parts = groupByHost(visible, workspaces, hosts).map((g) => {
      const state = g.status && g.status.state !== "connected" ? ` (${g.status.state})` : "";
      return `${hostLabel(g.host)} ${g.totals.running}/${g.totals.sessions}${state}`;
    });
    setText(this.hostTotals, parts.join(" · "));
    this.hostTotals.title = "running / sessions, per machine";
  }

  private renderRoute(): void {
    const route = parseRoute(location.hash);
    const onSession = route.name === "session";
    const onReview = route.name === "review";
    const onOverlaps = route.name === "conflicts";
    setHidden(this.sessionView.el, !onSession);
    setHidden(this.reviewView.el, !onReview);
    setHidden(this.overlaps.el, !onOverlaps);
    setHidden(this.dashboard, onSession || onReview || onOverlaps);
    if (onOverlaps) this.overlaps.update(this.state.workspaces);
    setClass(document.body, "route-session", onSession);
    if (route.name === "review") {
      this.reviewView.open(route.workspaceId, route.file, this.state.workspaces?.find((w) => w.id === route.workspaceId) ?? null, route.view, route.line);
    } else {
      this.reviewView.close();
    }
    if (route.name === "session") {
      this.sessionView.open(route.sessionId);
      this.sessionView.update(this.findSession(route.sessionId), this.state.workspaces !== null);
    } else {
      this.sessionView.close();
    }
  }

  /** Notify about sessions that newly need input (never for the first snapshot after loading). */
  private notifyNeedsInput(workspaces: Workspace[]): void {
    const fresh = newlyNeedingInput(this.needsInput, workspaces);
    this.needsInput = needsInputSnapshot(workspaces);
    const route = parseRoute(location.hash);
    const looking = document.visibilityState === "visible" && document.hasFocus();
    for (const found of fresh) {
      // Someone already looking at that very terminal needs no notification.
      if (looking && route.name === "session" && route.sessionId === found.session.id) continue;
      this.notifier.notify(found);
    }
  }

  private findSession(id: string): { session: Session; workspace: Workspace } | null {
    for (const workspace of this.state.workspaces ?? []) {
      const session = workspace.sessions.find((s) => s.id === id);
      if (session) return { session, workspace };
    }
    return null;
  }

  private onSpawned(items: SpawnItem[]): void {
    const ok = items.filter((i) => !("error" in i)).length;
    const failed = items.length - ok;
    if (failed === 0) this.toasts.show(`Spawned ${ok} session${ok === 1 ? "" : "s"}.`, "success");
    else this.toasts.show(`${failed} of ${items.length} sessions failed to spawn.`, "error");
  }

  private async restartSession(s: Session): Promise<void> {
    const label = sessionLabel(s);
    const res = await this.api.restartSession(s.id);
    if (!res.ok || !res.data?.session_id) {
      this.toasts.show(res.ok ? `Could not restart “${label}”.` : `Could not restart “${label}”: ${res.error}`, "error");
      return;
    }
    const route = parseRoute(location.hash);
    if (route.name === "session" && route.sessionId === s.id) location.hash = sessionHref(res.data.session_id);
    this.toasts.show(`Restarted “${label}” (${s.target}) in ${res.data.workspace_id}.`, "success");
  }

  private confirmDisposeSession(s: Session, w: Workspace): void {
    const label = sessionLabel(s);
    this.dialog.open({
      title: `Dispose session “${label}”?`,
      lines: [
        `This ends the tmux session of ${label} (${s.target}) in workspace ${w.id}` +
          (s.running ? ", killing the agent that is still running there." : "."),
        "Every process it started is ended, and its terminal output and scrollback are deleted. The workspace and its files stay.",
      ],
      confirmLabel: "Dispose session",
      run: () => this.api.disposeSession(s.id),
      onDone: () => this.toasts.show(`Disposed session “${label}”.`, "success"),
    });
  }

  private confirmDisposeWorkspace(w: Workspace): void {
    const keep = keepDays(this.state.config);
    const done = () => {
      this.toasts.show(`Disposed workspace ${w.id}. A snapshot is kept for ${keep} day${keep === 1 ? "" : "s"} under “Recently disposed”.`, "success");
      void this.disposed.refresh();
    };
    this.dialog.open({
      title: `Dispose workspace ${w.id}?`,
      lines: disposeWorkspaceLines(w, keep),
      confirmLabel: "Dispose workspace",
      run: () => this.api.disposeWorkspace(w.id),
      onDone: done,
      // A workspace with sessions is refused with or without force: nothing to offer there.
      fallback:
        w.sessions.length > 0
          ? undefined
          : {
              label: "Dispose anyway (a snapshot is kept)",
              note: forceNote(keep),
              offered: (res) => !res.ok && res.status === 409,
              run: () => this.api.disposeWorkspace(w.id, true),
            },
    });
  }

  private async scan(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    const old = button.textContent ?? "";
    button.textContent = "Scanning…";
    const res = await this.api.scan();
    button.disabled = false;
    button.textContent = old;
    if (!res.ok) {
      this.toasts.show(res.error, "error");
      return;
    }
    const n = (k: "added" | "removed" | "updated") => (Array.isArray(res.data?.[k]) ? res.data[k].length : 0);
    this.toasts.show(`Scan finished: ${n("added")} added, ${n("removed")} removed, ${n("updated")} updated.`, "success");
  }
}

/** Copy to the clipboard; falls back to execCommand where the async API is unavailable (plain http). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  const ta = h("textarea", { attrs: { readonly: true, "aria-hidden": "true" } });
  ta.value = text;
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  const active = document.activeElement as HTMLElement | null;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  active?.focus();
  return ok;
}
