// @vitest-environment jsdom
import { describe, expect, it, vi } from "vitest";
import type { ConnectionStatus } from "../connection";
import { ConnectionIndicator } from "./connectionIndicator";

const WORDS = ["Connected", "Reconnecting", "Offline"];
const count = (text: string) => WORDS.filter((w) => text.includes(w)).length;

describe("ConnectionIndicator", () => {
  it("offers no retry before it knows of a failed try", () => {
    const ind = new ConnectionIndicator(vi.fn());
    const retry = ind.el.querySelector('[data-testid="connection-retry"]') as HTMLButtonElement;
    expect(retry.hidden).toBe(true);
    ind.update({ state: "connecting", failures: 0, everConnected: false, offline: false }, 0);
    expect(retry.hidden).toBe(true);
    ind.update({ state: "waiting", retryAt: 4_000, failures: 1, everConnected: true, offline: false }, 0);
    expect(retry.hidden).toBe(false);
  });

  it("is a role=status element holding exactly one of the three words, with a countdown", () => {
    const retry = vi.fn();
    const ind = new ConnectionIndicator(retry);
    document.body.replaceChildren(ind.el);
    expect(ind.el.getAttribute("role")).toBe("status");
    expect(ind.el.dataset.testid).toBe("connection-status");
    const states: ConnectionStatus[] = [
      { state: "connecting", failures: 0, everConnected: false, offline: false },
      { state: "connected", since: 0 },
      { state: "waiting", retryAt: 4_000, failures: 1, everConnected: true, offline: false },
      { state: "connecting", failures: 1, everConnected: true, offline: false },
      { state: "waiting", retryAt: 20_000, failures: 6, everConnected: true, offline: false },
      { state: "waiting", retryAt: 2_000, failures: 1, everConnected: true, offline: true },
    ];
    const seen: string[] = [];
    for (const s of states) {
      ind.update(s, 0);
      const text = ind.el.textContent ?? "";
      expect(count(text), text).toBe(1);
      seen.push(ind.el.dataset.state!);
    }
    expect(seen).toEqual(["offline", "connected", "reconnecting", "reconnecting", "offline", "offline"]);

    ind.update({ state: "waiting", retryAt: 4_000, failures: 1, everConnected: true, offline: false }, 0);
    expect(ind.el.textContent).toContain("retry in 4s");
    ind.tick(1_500);
    expect(ind.el.textContent).toContain("retry in 3s");
    ind.el.click();
    expect(retry).toHaveBeenCalledTimes(1);
    (ind.el.querySelector('[data-testid="connection-retry"]') as HTMLButtonElement).click();
    expect(retry).toHaveBeenCalledTimes(2);

    ind.update({ state: "connected", since: 0 }, 0);
    expect((ind.el.querySelector('[data-testid="connection-retry"]') as HTMLElement).hidden).toBe(true);
    ind.el.click();
    expect(retry).toHaveBeenCalledTimes(2); // nothing to retry while connected
  });
});
