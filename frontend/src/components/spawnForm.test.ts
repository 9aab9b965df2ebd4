// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import type { Api } from "../api";
import type { Config } from "../types";
import { SpawnForm } from "./spawnForm";

const api = {
  detectTools: async () => ({
    ok: true as const,
    status: 200,
    data: {
      tools: [
        { name: "shell", command: "bash", source: "config" },
        { name: "claude", command: "claude", source: "detected", version: "9.8.7" },
      ],
    },
  }),
  builtinQuickLaunch: async () => ({
    ok: true as const,
    status: 200,
    data: [{ name: "Explain this codebase", target: "", prompt: "Give me a tour." }],
  }),
} as unknown as Api;

const config: Config = {
  repos: [{ name: "demo", url: "/src/demo" }],
  run_targets: [{ name: "shell", type: "command", command: "bash" }],
  quick_launch: [{ name: "review", target: "claude", prompt: "Review the diff." }],
};

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("spawn form: detected agents and quick launch", () => {
  it("offers detected agents as promptable targets and presets that fill the form", async () => {
    const form = new SpawnForm(api, { onSpawned: () => {} });
    form.setConfig(config);
    await settle();
    const q = (id: string) => form.el.querySelector<HTMLInputElement>(`[data-testid="${id}"]`);
    expect(q("spawn-target-shell")).not.toBeNull();
    expect(q("spawn-target-claude")).not.toBeNull();
    const select = form.el.querySelector<HTMLSelectElement>('[data-testid="spawn-quick-launch"]')!;
    expect([...select.options].map((o) => o.text)).toEqual(["None: choose below", "review (claude)", "Explain this codebase"]);
    select.value = "0";
    select.dispatchEvent(new Event("change"));
    expect(q("spawn-target-claude")!.value).toBe("1");
    expect(q("spawn-target-shell")!.value).toBe("0");
    const prompt = form.el.querySelector<HTMLTextAreaElement>('[data-testid="spawn-prompt"]')!;
    expect(prompt.value).toBe("Review the diff.");
    expect(prompt.disabled).toBe(false);
  });
});

describe("spawn form: hosts", () => {
  it("offers a machine when hosts are configured, with that host's repos and targets, and sends host", async () => {
    const sent: unknown[] = [];
    const spawnApi = {
      ...api,
      spawn: async (body: unknown) => {
        sent.push(body);
        return { ok: true as const, status: 200, data: [] };
      },
    } as unknown as Api;
    const form = new SpawnForm(spawnApi, { onSpawned: () => {} });
    form.setConfig(config);
    await settle();
    const host = form.el.querySelector<HTMLSelectElement>('[data-testid="spawn-host"]')!;
    expect((host.parentElement as HTMLElement).hidden).toBe(true);
    form.setHosts([
      { name: "gpu-box", state: "connected", since: "", error: "", repos: [{ name: "big", url: "/srv/big" }], run_targets: [{ name: "train", type: "command" }] },
    ]);
    expect((host.parentElement as HTMLElement).hidden).toBe(false);
    expect([...host.options].map((o) => o.value)).toEqual(["", "gpu-box"]);
    host.value = "gpu-box";
    host.dispatchEvent(new Event("change"));
    const repo = form.el.querySelector<HTMLSelectElement>('[data-testid="spawn-repo"]')!;
    expect([...repo.options].map((o) => o.value)).toEqual(["big"]);
    expect(form.el.querySelector('[data-testid="spawn-target-train"]')).not.toBeNull();
    expect(form.el.querySelector('[data-testid="spawn-target-shell"]')).toBeNull();
    form.el.querySelector<HTMLInputElement>('[data-testid="spawn-target-train"]')!.value = "1";
    form.el.querySelector<HTMLInputElement>('[data-testid="spawn-branch"]')!.value = "exp";
    form.el.dispatchEvent(new Event("submit"));
    await settle();
    expect(sent).toEqual([expect.objectContaining({ host: "gpu-box", repo: "big", branch: "exp", targets: { train: 1 } })]);
  });
});
