// Hash routes: "#/" is the dashboard, "#/session/<id>" opens one session's terminal (a later view).

export type Route = { name: "dashboard" } | { name: "session"; sessionId: string };

export function parseRoute(hash: string): Route {
  const m = /^#\/session\/([^/?#]+)\/?$/.exec(hash);
  if (m) {
    try {
      return { name: "session", sessionId: decodeURIComponent(m[1]!) };
    } catch {
      return { name: "dashboard" };
    }
  }
  return { name: "dashboard" };
}

export const sessionHref = (sessionId: string): string => `#/session/${encodeURIComponent(sessionId)}`;
