// The tray-style status page (status.html): counts and the sessions that need the user, live over
// /ws/dashboard. It shares the sign-in (auth.ts) and the connection (connection.ts) with the
// dashboard and nothing else, so it stays small whatever the dashboard bundle becomes.

import { captureToken, socketAddress } from "../auth";
import { type ConnectionStatus, DashboardConnection, describeStatus } from "../connection";
import { groupByHost, type HostStatus, hostLabel, hostStateText, normalizeHosts } from "../hosts";
import type { Workspace } from "../types";

interface Need {
  id: string;
  label: string;
  where: string;
  state: string;
  summary: string;
}

interface StatusApi {
  open_session?(id: string): unknown;
  open_dashboard?(): unknown;
  open_in_browser?(): unknown;
}

declare global {
  interface Window {
    pywebview?: { api?: StatusApi };
  }
}

captureToken();

const byId = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`status.html lacks #${id}`);
  return el;
};
const byTestId = (id: string): HTMLElement => {
  const el = document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`status.html lacks [data-testid=${id}]`);
  return el;
};

const desktopApi = (): StatusApi | null => window.pywebview?.api ?? null;
let known: Set<string> | null = null; // ids needing attention in the last snapshot (null: none yet)

function openSession(id: string): void {
  const api = desktopApi();
  if (api?.open_session) void api.open_session(id);
  else window.open(`/#/session/${encodeURIComponent(id)}`, "schmux-dashboard");
}

function openDashboard(): void {
  const api = desktopApi();
  if (api?.open_dashboard) void api.open_dashboard();
  else window.open("/", "schmux-dashboard");
}

function notify(fresh: Need[]): void {
  if (!fresh.length) return;
  // In the desktop app the dashboard window notifies; a browser tab notifies itself.
  if (desktopApi()) return;
  if (typeof Notification !== "function" || Notification.permission !== "granted") return;
  const title = fresh.length === 1 ? "A session needs you" : `${fresh.length} sessions need you`;
  new Notification(title, { body: fresh.map((s) => s.label + (s.summary ? `: ${s.summary}` : "")).join("\n") });
}

function render(workspaces: Workspace[]): void {
  let running = 0;
  let dirty = 0;
  const needs: Need[] = [];
  for (const w of workspaces) {
    if (w.git_dirty) dirty += 1;
    for (const s of w.sessions) {
      if (s.running) running += 1;
      if (s.nudge_state) {
        needs.push({
          id: s.id,
          label: s.nickname || `${s.target} in ${w.id}`,
          where: `${w.id} · ${w.branch}`,
          state: s.nudge_state,
          summary: s.nudge_summary || "",
        });
      }
    }
  }
  byTestId("running").textContent = String(running);
  byTestId("attention").textContent = String(needs.length);
  byTestId("dirty").textContent = String(dirty);
  byId("c-attention").classList.toggle("hot", needs.length > 0);
  document.title = needs.length ? `(${needs.length}) schmux-desktop status` : "schmux-desktop status";

  const list = byId("attention-list");
  list.textContent = "";
  for (const s of needs) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.title = `Open ${s.label} in the dashboard`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = s.label;
    const meta = document.createElement("span");
    meta.className = "meta";
    const st = document.createElement("span");
    st.className = "state";
    st.textContent = s.state.replace(/_/g, " ");
    meta.append(st, document.createTextNode(` · ${s.summary || s.where}`));
    b.append(name, meta);
    b.addEventListener("click", () => openSession(s.id));
    li.append(b);
    list.append(li);
  }
  byId("empty").hidden = needs.length > 0;

  if (known !== null) {
    const before = known;
    notify(needs.filter((s) => !before.has(s.id)));
  }
  known = new Set(needs.map((s) => s.id));
}

let hosts: HostStatus[] = [];
let lastWorkspaces: Workspace[] = [];

/** One line per machine when other hosts are configured: its state and running/sessions. */
function renderHosts(): void {
  const list = byId("hosts");
  const shown = hosts.length > 0 || lastWorkspaces.some((w) => (w.host ?? "") !== "");
  list.hidden = !shown;
  list.textContent = "";
  if (!shown) return;
  for (const g of groupByHost([], lastWorkspaces, hosts)) {
    const li = document.createElement("li");
    li.dataset.state = g.status?.state ?? "local";
    li.dataset.host = g.host;
    const dot = document.createElement("span");
    dot.className = "dot";
    const state = g.status && g.status.state !== "connected" ? ` · ${g.status.state}` : "";
    li.append(dot, document.createTextNode(`${hostLabel(g.host)} ${g.totals.running}/${g.totals.sessions}${state}`));
    li.title = hostStateText(g.status, Date.now());
    list.append(li);
  }
}

function onStatus(status: ConnectionStatus): void {
  const { word, detail } = describeStatus(status, Date.now());
  const conn = byId("conn");
  conn.dataset.state = status.state === "signed-out" ? "signed-out" : word.toLowerCase();
  byId("conn-text").textContent = word === "Connected" ? "Live" : `${word} · ${detail}`;
  const signedOut = byId("signed-out");
  signedOut.hidden = status.state !== "signed-out";
  if (status.state === "signed-out") signedOut.textContent = status.reason;
}

const conn = new DashboardConnection({
  url: () => socketAddress("/ws/dashboard", location),
  onStatus,
  onMessage: (data) => {
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    const m = msg as { type?: unknown; workspaces?: unknown; hosts?: unknown };
    if (m && m.type === "sessions" && Array.isArray(m.workspaces)) {
      lastWorkspaces = m.workspaces as Workspace[];
      render(lastWorkspaces);
      renderHosts();
    }
    if (m && m.type === "hosts") {
      hosts = normalizeHosts(m.hosts);
      renderHosts();
    }
  },
});
byId("open-dashboard").addEventListener("click", openDashboard);
// Only the desktop app has a browser to open the dashboard in; pywebview's API may come late.
const browserButton = byId("open-browser");
const offerBrowser = () => {
  browserButton.hidden = typeof desktopApi()?.open_in_browser !== "function";
};
browserButton.addEventListener("click", () => void desktopApi()?.open_in_browser?.());
window.addEventListener("pywebviewready", offerBrowser);
offerBrowser();
byId("conn").addEventListener("click", () => conn.retryNow());
window.addEventListener("online", () => conn.networkChanged());
window.addEventListener("offline", () => conn.networkChanged());
setInterval(() => {
  if (conn.status.state === "waiting") onStatus(conn.status); // the countdown
}, 1000);
conn.start();
