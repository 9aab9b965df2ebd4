// Desktop notifications when a session newly needs input.
//
// The decision is pure (`newlyNeedingInput`): only a transition into "Needs Input" between two
// `sessions` snapshots counts; the first snapshot after the page loaded never notifies. Delivery
// goes to the desktop app's hook `window.schmuxDesktop.notify(title, body, sessionId)` when it is
// there, otherwise to the browser's Notification API (permission is only ever asked on a click).

import type { Session, Workspace } from "./types";
import { sessionLabel } from "./view";

declare global {
  interface Window {
    /** Set by the schmux-desktop window; absent in a plain browser. */
    schmuxDesktop?: {
      notify?: (title: string, body: string, sessionId: string) => unknown;
    };
  }
}

export const NOTIFY_PREF_KEY = "schmux.notify";

/** "Needs Input", "needs_input", "needs-input" → true. */
export function isNeedsInput(state: string): boolean {
  return state.trim().toLowerCase().replace(/[\s_-]+/g, " ") === "needs input";
}

/** Session id → whether it needs input, for one snapshot. */
export function needsInputSnapshot(workspaces: readonly Workspace[]): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const w of workspaces) for (const s of w.sessions) m.set(s.id, isNeedsInput(s.nudge_state));
  return m;
}

export interface Found {
  session: Session;
  workspace: Workspace;
}

/**
 * Sessions that need input now and did not in `prev`. With `prev` null (no snapshot seen yet)
 * nothing counts: the initial state is not news. A session that is new since `prev` and already
 * needs input counts.
 */
export function newlyNeedingInput(prev: ReadonlyMap<string, boolean> | null, workspaces: readonly Workspace[]): Found[] {
  if (prev === null) return [];
  const out: Found[] = [];
  for (const workspace of workspaces) {
    for (const session of workspace.sessions) {
      if (isNeedsInput(session.nudge_state) && prev.get(session.id) !== true) out.push({ session, workspace });
    }
  }
  return out;
}

export function notificationText({ session, workspace }: Found): { title: string; body: string } {
  const where = [workspace.repo_name || workspace.short_repo || workspace.repo, workspace.branch].filter(Boolean).join(" @ ");
  const host = workspace.host ?? "";
  return {
    title: `${sessionLabel(session)} needs input${host ? ` on ${host}` : ""}`,
    body: `${session.nudge_summary || "Waiting for your answer."}${where ? `\n${where}` : ""}`,
  };
}

export type EnableResult = { enabled: true } | { enabled: false; reason: string };

interface NotificationLike {
  onclick: ((ev: Event) => unknown) | null;
  close(): void;
}

export interface NotifierEnv {
  storage?: Storage;
  desktop?: () => Window["schmuxDesktop"];
  /** The browser's Notification constructor, or undefined where there is none. */
  api?: {
    readonly permission: NotificationPermission;
    requestPermission(): Promise<NotificationPermission>;
    new (title: string, options?: NotificationOptions): NotificationLike;
  };
}

/** The "Notify me" setting and the delivery. */
export class Notifier {
  private on: boolean;

  constructor(
    private readonly env: NotifierEnv,
    private readonly openSession: (sessionId: string) => void,
  ) {
    const stored = safeGet(env.storage, NOTIFY_PREF_KEY);
    // In the desktop app notifications need no permission: on unless turned off.
    this.on = stored === "on" || (stored === null && this.hasDesktopHook());
  }

  /** Whether anything can deliver a notification here. */
  get supported(): boolean {
    return this.hasDesktopHook() || this.env.api !== undefined;
  }

  /** On, and (in a browser) still permitted. */
  get enabled(): boolean {
    if (!this.on) return false;
    if (this.hasDesktopHook()) return true;
    return this.env.api?.permission === "granted";
  }

  /** Turn on or off; call only from a user's click (turning on may ask the browser for permission). */
  async setEnabled(on: boolean): Promise<EnableResult> {
    if (!on) {
      this.on = false;
      safeSet(this.env.storage, NOTIFY_PREF_KEY, "off");
      return { enabled: false, reason: "" };
    }
    if (!this.hasDesktopHook()) {
      const api = this.env.api;
      if (!api) return { enabled: false, reason: "This browser cannot show notifications." };
      let permission = api.permission;
      if (permission === "default") {
        try {
          permission = await api.requestPermission();
        } catch {
          permission = "denied";
        }
      }
      if (permission !== "granted") {
        return { enabled: false, reason: "Notifications are blocked for this page; allow them in the browser's site settings." };
      }
    }
    this.on = true;
    safeSet(this.env.storage, NOTIFY_PREF_KEY, "on");
    return { enabled: true };
  }

  /** Tell the user; returns whether a notification went out. */
  notify(found: Found): boolean {
    if (!this.enabled) return false;
    const { title, body } = notificationText(found);
    const id = found.session.id;
    const hook = this.env.desktop?.()?.notify;
    if (typeof hook === "function") {
      try {
        hook(title, body, id);
        return true;
      } catch {
        return false;
      }
    }
    const api = this.env.api;
    if (!api) return false;
    try {
      const n = new api(title, { body, tag: `schmux-needs-input-${id}` });
      n.onclick = () => {
        try {
          if (typeof window !== "undefined") window.focus();
        } catch {
          /* not allowed */
        }
        this.openSession(id);
        n.close();
      };
      return true;
    } catch {
      return false; // e.g. Chrome on Android wants a service worker
    }
  }

  private hasDesktopHook(): boolean {
    return typeof this.env.desktop?.()?.notify === "function";
  }
}

function safeGet(storage: Storage | undefined, key: string): string | null {
  try {
    return storage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function safeSet(storage: Storage | undefined, key: string, value: string): void {
  try {
    storage?.setItem(key, value);
  } catch {
    /* private mode: the setting lasts for this page only */
  }
}
