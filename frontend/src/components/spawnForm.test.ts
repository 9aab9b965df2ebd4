// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import type { Api } from "../api";
import { normalizeHosts } from "../hosts";
import { makeWorkspace } from "../testing";
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

describe("spawn form: other machines", () => {
  it("offers a machine choice with that machine's repos, targets and workspaces, and sends its name", async () => {
    const sent: unknown[] = [];
    const hostApi = {
      ...api,
      spawn: async (body: unknown) => {
        sent.push(body);
        return { ok: true as const, status: 200, data: [] };
      },
    } as unknown as Api;
    const form = new SpawnForm(hostApi, { onSpawned: () => {} });
    form.setConfig(config);
    await settle();
    const sel = <T extends Element>(id: string) => form.el.querySelector<T>(`[data-testid="${id}"]`)!;
    const host = sel<HTMLSelectElement>("spawn-host");
    expect(host.closest(".field")!.hasAttribute("hidden")).toBe(true);

    form.setWorkspaces([
      makeWorkspace("demo-001", [], { host: "" }),
      makeWorkspace("gpu-box:ml-001", [], { host: "gpu-box", short_repo: "ml", branch: "exp" }),
    ]);
    form.setHosts(
      normalizeHosts([
        { name: "gpu-box", state: "connected", repos: [{ name: "ml", url: "/srv/ml" }], run_targets: [{ name: "codex", type: "promptable" }] },
        { name: "lab", state: "offline" },
      ]),
    );
    expect(host.closest(".field")!.hasAttribute("hidden")).toBe(false);
    expect([...host.options].map((o) => o.text)).toEqual(["This machine", "gpu-box", "lab (offline)"]);
    const where = sel<HTMLSelectElement>("spawn-workspace");
    expect([...where.options].map((o) => o.value)).toEqual(["", "demo-001"]);

    host.value = "gpu-box";
    host.dispatchEvent(new Event("change"));
    expect([...sel<HTMLSelectElement>("spawn-repo").options].map((o) => o.value)).toEqual(["ml"]);
    expect(form.el.querySelector('[data-testid="spawn-target-codex"]')).not.toBeNull();
    expect(form.el.querySelector('[data-testid="spawn-target-shell"]')).toBeNull();
    expect([...where.options].map((o) => o.value)).toEqual(["", "gpu-box:ml-001"]);

    sel<HTMLInputElement>("spawn-target-codex").value = "1";
    sel<HTMLInputElement>("spawn-branch").value = "feature";
    form.el.dispatchEvent(new Event("submit"));
    await settle();
    expect(sent).toEqual([expect.objectContaining({ repo: "ml", branch: "feature", host: "gpu-box", targets: { codex: 1 } })]);
  });
});
