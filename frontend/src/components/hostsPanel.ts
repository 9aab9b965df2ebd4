// The "Machines" panel: the other hosts this dashboard aggregates (config `hosts`). Lists each with
// its live state, tests a connection before it is saved, adds and removes hosts. Remote tokens go
// to the server once and never come back: the config the page reads has them blanked.

import type { Api, ApiResult, HostEntry, HostTestResult } from "../api";
import { h, setHidden, setText } from "../dom";
import { type HostStatus, hostStateText } from "../hosts";
import type { Config } from "../types";

export const HOST_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

let uid = 0;

/** The `hosts` list of a config as the page knows it (tokens blanked by the server). */
export function configuredHosts(config: Config | null): HostEntry[] {
  const raw = config?.hosts;
  if (!Array.isArray(raw)) return [];
  return raw.filter((x): x is HostEntry => typeof x === "object" && x !== null && typeof (x as HostEntry).name === "string");
}

/** What is wrong with a new entry, or "" when it may be tested or saved. */
export function hostEntryProblem(entry: HostEntry, existing: readonly HostEntry[]): string {
  if (!HOST_NAME_RE.test(entry.name)) return "Name the machine with letters, digits, “.”, “_” or “-” (at most 64).";
  if (existing.some((x) => x.name === entry.name)) return `A machine named “${entry.name}” is already configured.`;
  if ("url" in entry) {
    if (!/^https?:\/\/[^/\s]+/.test(entry.url)) return "The address must start with http:// or https://, e.g. https://gpu-box:8765.";
    return "";
  }
  if (!entry.ssh || entry.ssh.startsWith("-")) return "Enter the ssh destination, e.g. me@lab.example or a Host alias from ~/.ssh/config.";
  if (!Number.isInteger(entry.remote_port) || entry.remote_port < 1 || entry.remote_port > 65535) return "The remote port is a number from 1 to 65535.";
  return "";
}

export class HostsPanel {
  readonly el: HTMLDetailsElement;
  private readonly list: HTMLUListElement;
  private readonly form: HTMLFormElement;
  private readonly kindUrl: HTMLInputElement;
  private readonly kindSsh: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly url: HTMLInputElement;
  private readonly ssh: HTMLInputElement;
  private readonly port: HTMLInputElement;
  private readonly token: HTMLInputElement;
  private readonly urlFields: HTMLDivElement;
  private readonly sshFields: HTMLDivElement;
  private readonly testBtn: HTMLButtonElement;
  private readonly addBtn: HTMLButtonElement;
  private readonly result: HTMLParagraphElement;
  private config: Config | null = null;
  private states: HostStatus[] = [];
  private sig = "";

  constructor(
    private readonly api: Api,
    private readonly hooks: { toast(message: string, kind: "success" | "error"): void; confirm(title: string, lines: string[], run: () => Promise<ApiResult<unknown>>, done: () => void): void },
  ) {
    const n = ++uid;
    const id = (p: string) => `host-${p}-${n}`;
    const input = (testid: string, attrs: Record<string, string | number | boolean>) =>
      h("input", { testid, attrs: { id: id(testid), type: "text", spellcheck: "false", autocomplete: "off", ...attrs } });
    const field = (el: HTMLInputElement, label: string, hint?: string) =>
      h("div", { class: "field" }, h("label", { attrs: { for: el.id }, text: label }), el, ...(hint ? [h("p", { class: "hint", text: hint })] : []));
    this.list = h("ul", { class: "hosts-list", testid: "hosts-list" });
    this.name = input("host-name", { placeholder: "gpu-box", maxlength: 64 });
    this.kindUrl = h("input", { testid: "host-kind-url", attrs: { type: "radio", name: id("kind"), id: id("kind-url"), checked: true } });
    this.kindSsh = h("input", { testid: "host-kind-ssh", attrs: { type: "radio", name: id("kind"), id: id("kind-ssh") } });
    this.url = input("host-url", { placeholder: "https://gpu-box:8765" });
    this.ssh = input("host-ssh", { placeholder: "me@lab.example" });
    this.port = input("host-remote-port", { type: "number", min: 1, max: 65535, placeholder: "8765", inputmode: "numeric" });
    this.token = input("host-token", { type: "password", placeholder: "that machine's token" });
    this.urlFields = h("div", {}, field(this.url, "Address"));
    this.sshFields = h(
      "div",
      {},
      field(this.ssh, "ssh destination", "Your ssh config, keys and agent are used; the app never asks for a password."),
      field(this.port, "Port of schmux-desktop --serve there"),
    );
    this.testBtn = h("button", { class: "btn", testid: "host-test", text: "Test connection", attrs: { type: "button" }, on: { click: () => void this.test() } });
    this.addBtn = h("button", { class: "btn btn-primary", testid: "host-add", text: "Add machine", attrs: { type: "submit" } });
    this.result = h("p", { class: "form-status", testid: "host-result", attrs: { role: "status" } });
    this.form = h(
      "form",
      { class: "host-form", testid: "host-form", attrs: { novalidate: true } },
      field(this.name, "Name"),
      h(
        "fieldset",
        { class: "field segmented-inline" },
        h("legend", { text: "Reached by" }),
        h("label", {}, this.kindUrl, " address"),
        h("label", {}, this.kindSsh, " ssh tunnel"),
      ),
      this.urlFields,
      this.sshFields,
      field(this.token, "Token", "Kept by this app's server only; pages never see it again."),
      h("div", { class: "form-actions" }, this.testBtn, this.addBtn),
      this.result,
    );
    for (const r of [this.kindUrl, this.kindSsh]) r.addEventListener("change", () => this.syncKind());
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.add();
    });
    this.el = h(
      "details",
      { class: "panel hosts-panel", testid: "hosts-panel" },
      h("summary", { text: "Machines" }),
      h("p", { class: "hint", text: "Agents on other machines running schmux-desktop --serve, shown here beside this machine's." }),
      this.list,
      h("h3", { class: "panel-sub", text: "Add a machine" }),
      this.form,
    );
    this.syncKind();
    this.render();
  }

  setConfig(config: Config): void {
    this.config = config;
    this.render();
  }

  setStates(states: HostStatus[]): void {
    this.states = states;
    this.render();
  }

  private syncKind(): void {
    const ssh = this.kindSsh.checked;
    setHidden(this.urlFields, ssh);
    setHidden(this.sshFields, !ssh);
  }

  private entry(): HostEntry {
    const name = this.name.value.trim();
    const token = this.token.value;
    if (this.kindSsh.checked) {
      const e: HostEntry = { name, ssh: this.ssh.value.trim(), remote_port: Number(this.port.value) };
      return token ? { ...e, token } : e;
    }
    return { name, url: this.url.value.trim().replace(/\/+$/, ""), token };
  }

  private render(): void {
    const hosts = configuredHosts(this.config);
    const now = Date.now();
    const sig = JSON.stringify([hosts, this.states.map((s) => [s.name, s.state, s.error, s.latency_ms === null ? null : Math.round(s.latency_ms / 10)])]);
    if (sig === this.sig) return;
    this.sig = sig;
    if (hosts.length === 0) {
      this.list.replaceChildren(h("li", { class: "hint", text: "None yet: only this machine's agents are shown." }));
      return;
    }
    this.list.replaceChildren(
      ...hosts.map((entry) => {
        const state = this.states.find((s) => s.name === entry.name) ?? null;
        const where = "url" in entry ? entry.url : `ssh ${entry.ssh} → port ${entry.remote_port}`;
        const li = h(
          "li",
          { class: "host-item", testid: "host-item" },
          h("span", { class: "host-name", text: entry.name }),
          h("span", { class: "host-state", testid: "host-item-state", text: state ? hostStateText(state, now) : "starting…" }),
          h("span", { class: "host-where", text: where }),
          h("button", {
            class: "btn btn-small btn-danger-quiet",
            testid: "host-remove",
            text: "Remove",
            attrs: { type: "button" },
            on: { click: () => this.remove(entry.name) },
          }),
        );
        li.dataset.host = entry.name;
        li.dataset.state = state?.state ?? "reconnecting";
        return li;
      }),
    );
  }

  private say(text: string, ok: boolean | null): void {
    setText(this.result, text);
    this.result.dataset.ok = ok === null ? "" : String(ok);
  }

  private async test(): Promise<void> {
    const entry = this.entry();
    const problem = hostEntryProblem(entry, []);
    if (problem) return this.say(problem, false);
    this.testBtn.disabled = true;
    this.say("Testing…", null);
    const res = await this.api.testHost(entry);
    this.testBtn.disabled = false;
    if (!res.ok) return this.say(res.error, false);
    this.say(describeTest(res.data), res.data.ok);
  }

  private async add(): Promise<void> {
    const existing = configuredHosts(this.config);
    const entry = this.entry();
    const problem = hostEntryProblem(entry, existing);
    if (problem) return this.say(problem, false);
    this.addBtn.disabled = true;
    const res = await this.api.updateConfig({ hosts: [...existing, entry] });
    this.addBtn.disabled = false;
    if (!res.ok) return this.say(res.error, false);
    this.say("", null);
    for (const el of [this.name, this.url, this.ssh, this.port, this.token]) el.value = "";
    this.hooks.toast(`Added machine “${entry.name}”. Its agents appear as soon as it connects.`, "success");
  }

  private remove(name: string): void {
    this.hooks.confirm(
      `Remove machine “${name}”?`,
      [`Its agents disappear from this dashboard. Nothing on ${name} is stopped or deleted; add it again to see them.`],
      () => this.api.updateConfig({ hosts: configuredHosts(this.config).filter((x) => x.name !== name) }),
      () => this.hooks.toast(`Removed machine “${name}”.`, "success"),
    );
  }
}

export function describeTest(r: HostTestResult): string {
  if (!r.ok) return `Not reachable: ${r.error || "no answer"}.`;
  const version = r.version ? ` (schmux-desktop ${r.version})` : "";
  const latency = typeof r.latency_ms === "number" ? ` in ${Math.round(r.latency_ms)} ms` : "";
  return `Connected${version}${latency}.`;
}
