// @vitest-environment jsdom
import { describe, expect, it, vi } from "vitest";
import type { Api, HostEntry } from "../api";
import { normalizeHosts } from "../hosts";
import type { Config } from "../types";
import { configuredHosts, describeTest, hostEntryProblem, HostsPanel } from "./hostsPanel";

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("host entries", () => {
  const existing: HostEntry[] = [{ name: "gpu-box", url: "https://gpu:8765", token: "" }];
  it("says what is wrong in words", () => {
    expect(hostEntryProblem({ name: "lab", url: "https://lab:8765", token: "t" }, existing)).toBe("");
    expect(hostEntryProblem({ name: "gpu-box", url: "https://x", token: "" }, existing)).toContain("already configured");
    expect(hostEntryProblem({ name: "bad name", url: "https://x", token: "" }, existing)).toContain("Name the machine");
    expect(hostEntryProblem({ name: "x", url: "ftp://x", token: "" }, existing)).toContain("http://");
    expect(hostEntryProblem({ name: "x", ssh: "-oProxyCommand=evil", remote_port: 8765 }, existing)).toContain("ssh destination");
    expect(hostEntryProblem({ name: "x", ssh: "me@lab", remote_port: 0 }, existing)).toContain("remote port");
    expect(hostEntryProblem({ name: "x", ssh: "me@lab", remote_port: 8765 }, existing)).toBe("");
  });
  it("reads the config's hosts and describes a test", () => {
    expect(configuredHosts({ repos: [], run_targets: [], hosts: [{ name: "a", url: "http://a", token: "" }, 3, null] } as Config)).toHaveLength(1);
    expect(configuredHosts(null)).toEqual([]);
    expect(describeTest({ ok: true, error: "", version: "0.9.0", latency_ms: 12.2 })).toBe("Connected (schmux-desktop 0.9.0) in 12 ms.");
    expect(describeTest({ ok: false, error: "401: wrong token" })).toBe("Not reachable: 401: wrong token.");
  });
});

describe("HostsPanel", () => {
  it("lists machines with their state, tests and adds one, keeping the others as the server gave them", async () => {
    const updateConfig = vi.fn(async () => ({ ok: true as const, status: 200, data: {} }));
    const testHost = vi.fn(async () => ({ ok: true as const, status: 200, data: { ok: true, error: "", version: "1.2.3", latency_ms: 4 } }));
    const toast = vi.fn();
    const panel = new HostsPanel({ updateConfig, testHost } as unknown as Api, { toast, confirm: vi.fn() });
    document.body.replaceChildren(panel.el);
    panel.setConfig({ repos: [], run_targets: [], hosts: [{ name: "gpu-box", url: "https://gpu:8765", token: "", has_token: true }] } as Config);
    panel.setStates(normalizeHosts([{ name: "gpu-box", state: "offline", error: "connection refused" }]));
    const item = panel.el.querySelector<HTMLElement>('[data-testid="host-item"]')!;
    expect(item.dataset.state).toBe("offline");
    expect(item.textContent).toContain("connection refused");

    const set = (id: string, v: string) => {
      panel.el.querySelector<HTMLInputElement>(`[data-testid="${id}"]`)!.value = v;
    };
    set("host-name", "lab");
    set("host-url", "http://127.0.0.1:9000/");
    set("host-token", "secret-token-123456");
    panel.el.querySelector<HTMLButtonElement>('[data-testid="host-test"]')!.click();
    await settle();
    expect(testHost).toHaveBeenCalledWith({ name: "lab", url: "http://127.0.0.1:9000", token: "secret-token-123456" });
    expect(panel.el.querySelector('[data-testid="host-result"]')!.textContent).toBe("Connected (schmux-desktop 1.2.3) in 4 ms.");

    panel.el.querySelector<HTMLFormElement>('[data-testid="host-form"]')!.dispatchEvent(new Event("submit"));
    await settle();
    expect(updateConfig).toHaveBeenCalledWith({
      hosts: [
        { name: "gpu-box", url: "https://gpu:8765", token: "", has_token: true },
        { name: "lab", url: "http://127.0.0.1:9000", token: "secret-token-123456" },
      ],
    });
    expect(panel.el.querySelector<HTMLInputElement>('[data-testid="host-token"]')!.value).toBe("");
    expect(toast).toHaveBeenCalled();
  });

  it("refuses a duplicate name without asking the server", async () => {
    const updateConfig = vi.fn();
    const panel = new HostsPanel({ updateConfig } as unknown as Api, { toast: vi.fn(), confirm: vi.fn() });
    panel.setConfig({ repos: [], run_targets: [], hosts: [{ name: "gpu-box", url: "https://gpu:8765", token: "" }] } as Config);
    panel.el.querySelector<HTMLInputElement>('[data-testid="host-name"]')!.value = "gpu-box";
    panel.el.querySelector<HTMLInputElement>('[data-testid="host-url"]')!.value = "https://other:1";
    panel.el.querySelector<HTMLFormElement>('[data-testid="host-form"]')!.dispatchEvent(new Event("submit"));
    await settle();
    expect(updateConfig).not.toHaveBeenCalled();
    expect(panel.el.querySelector('[data-testid="host-result"]')!.textContent).toContain("already configured");
  });
});
