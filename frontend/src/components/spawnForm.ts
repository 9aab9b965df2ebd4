// The spawn form: new workspace (repo + branch) or an existing one, targets with counts,
// prompt (for promptable targets), nickname. Results are listed per session, errors as the server said.

import { type Api, newRequestId, type SpawnItem, type SpawnRequest } from "../api";
import { h, setHidden, setText } from "../dom";
import { type HostStatus, hostLabel, hostOf, LOCAL_HOST } from "../hosts";
import { sessionHref } from "../router";
import type { Config, QuickLaunch, RunTarget, Workspace } from "../types";
import { repoName, sessionLabel, sessionTag } from "../view";

export const MAX_COUNT = 20;

let uid = 0;
const nextId = (p: string) => `${p}-${++uid}`;

export interface SpawnFormHooks {
  onSpawned(items: SpawnItem[]): void;
}

export class SpawnForm {
  readonly el: HTMLFormElement;
  private readonly where: HTMLSelectElement;
  private readonly host: HTMLSelectElement;
  private readonly hostField: HTMLDivElement;
  private hosts: HostStatus[] = [];
  private hostSig = "";
  private readonly repo: HTMLSelectElement;
  private readonly branch: HTMLInputElement;
  private readonly branches: HTMLDataListElement;
  private readonly targetsBox: HTMLDivElement;
  private readonly prompt: HTMLTextAreaElement;
  private readonly promptHint: HTMLParagraphElement;
  private promptField!: HTMLDivElement;
  private readonly nickname: HTMLInputElement;
  private readonly submit: HTMLButtonElement;
  private readonly status: HTMLParagraphElement;
  private readonly error: HTMLParagraphElement;
  private readonly results: HTMLUListElement;
  private readonly newFields: HTMLDivElement;
  private targets: RunTarget[] = [];
  private readonly quick: HTMLSelectElement;
  private readonly quickField: HTMLDivElement;
  private presets: QuickLaunch[] = [];
  private builtinPresets: QuickLaunch[] = [];
  private detected: RunTarget[] = [];
  private config: Config | null = null;
  private quickSig = "";
  private readonly counts = new Map<string, HTMLInputElement>();
  private workspaces: Workspace[] = [];
  private repoSig = "";
  private targetSig = "";
  private wsSig: string | null = null;
  /** The last spawn's sessions, kept live: renamed, ended or disposed since. */
  private spawned: { item: Extract<SpawnItem, { session_id: string }>; li: HTMLLIElement; seen: boolean }[] = [];
  private busy = false;
  private hasRepos = true;
  private countsInitialised = false;

  constructor(private readonly api: Api, private readonly hooks: SpawnFormHooks) {
    const hostId = nextId("spawn-host");
    this.host = h("select", { testid: "spawn-host", attrs: { id: hostId } });
    this.host.addEventListener("change", () => this.onHostChanged());
    this.hostField = h("div", { class: "field" }, h("label", { attrs: { for: hostId }, text: "Machine" }), this.host);
    this.hostField.hidden = true;
    const ids = { where: nextId("spawn-where"), repo: nextId("spawn-repo"), branch: nextId("spawn-branch"), prompt: nextId("spawn-prompt"), nick: nextId("spawn-nick"), hint: nextId("spawn-hint"), dl: nextId("spawn-branches") };
    this.where = h("select", { testid: "spawn-workspace", attrs: { id: ids.where } });
    this.where.addEventListener("change", () => this.syncMode());
    this.repo = h("select", { testid: "spawn-repo", attrs: { id: ids.repo } });
    this.repo.addEventListener("change", () => this.syncBranches());
    this.branches = h("datalist", { attrs: { id: ids.dl } });
    this.branch = h("input", {
      testid: "spawn-branch",
      attrs: { id: ids.branch, type: "text", list: ids.dl, placeholder: "e.g. feature/login", autocomplete: "off", spellcheck: "false" },
    });
    this.newFields = h(
      "div",
      { class: "field-row" },
      h("div", { class: "field" }, h("label", { attrs: { for: ids.repo }, text: "Repository" }), this.repo),
      h("div", { class: "field" }, h("label", { attrs: { for: ids.branch }, text: "Branch" }), this.branch, this.branches),
    );
    this.targetsBox = h("div", { class: "targets", testid: "spawn-targets" });
    const quickId = nextId("spawn-quick");
    this.quick = h("select", { testid: "spawn-quick-launch", attrs: { id: quickId } });
    this.quick.addEventListener("change", () => this.applyPreset());
    this.quickField = h("div", { class: "field" }, h("label", { attrs: { for: quickId }, text: "Quick launch" }), this.quick);
    this.quickField.hidden = true;
    this.prompt = h("textarea", {
      testid: "spawn-prompt",
      attrs: { id: ids.prompt, rows: 3, placeholder: "What should the agent do?", "aria-describedby": ids.hint },
    });
    this.promptHint = h("p", { class: "hint", attrs: { id: ids.hint } });
    this.nickname = h("input", {
      testid: "spawn-nickname",
      attrs: { id: ids.nick, type: "text", placeholder: "optional", autocomplete: "off", maxlength: 200 },
    });
    this.submit = h("button", { class: "btn btn-primary", testid: "spawn-submit", text: "Spawn", attrs: { type: "submit" } });
    this.status = h("p", { class: "form-status", testid: "spawn-status", attrs: { role: "status" } });
    this.error = h("p", { class: "form-error", testid: "spawn-error", attrs: { role: "alert" } });
    this.error.hidden = true;
    this.results = h("ul", { class: "spawn-results", testid: "spawn-results" });
    this.results.hidden = true;
    this.prompt.addEventListener("input", () => this.syncPrompt());

    this.el = h(
      "form",
      { class: "spawn-form", testid: "spawn-form", attrs: { "aria-labelledby": "spawn-heading", novalidate: true } },
      h("h2", { attrs: { id: "spawn-heading" }, text: "Spawn sessions" }),
      this.hostField,
      h("div", { class: "field" }, h("label", { attrs: { for: ids.where }, text: "Where" }), this.where),
      this.newFields,
      this.quickField,
      h("fieldset", { class: "field" }, h("legend", { text: "Targets and how many of each" }), this.targetsBox),
      (this.promptField = h("div", { class: "field" }, h("label", { attrs: { for: ids.prompt }, text: "Prompt" }), this.prompt, this.promptHint)),
      h("div", { class: "field" }, h("label", { attrs: { for: ids.nick }, text: "Nickname" }), this.nickname),
      h("div", { class: "form-actions" }, this.submit, this.status),
      this.error,
      this.results,
    );
    this.el.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.send();
    });
    this.syncMode();
    this.syncPrompt();
    void this.loadCatalogue();
  }

  /** Agents found on the server's PATH and the built-in presets: asked once, offered beside the config's. */
  private async loadCatalogue(): Promise<void> {
    try {
      const [tools, builtin] = await Promise.all([this.api.detectTools(), this.api.builtinQuickLaunch()]);
      if (tools.ok) {
        this.detected = tools.data.tools
          .filter((t) => t.source === "detected")
          .map((t) => ({ name: t.name, type: "promptable", command: t.version ? `${t.command} (${t.version})` : t.command, source: "detected" }));
      }
      if (builtin.ok && Array.isArray(builtin.data)) this.builtinPresets = builtin.data;
    } catch {
      return; // an older server without these routes: the config's targets and presets only
    }
    if (this.config) this.setConfig(this.config);
  }

  setConfig(config: Config): void {
    this.config = config;
    const remote = this.hosts.find((x) => x.name === this.host.value) ?? null;
    // On another machine the choices are that machine's own repositories and targets.
    const repos = remote ? remote.repos : config.repos;
    const repoSig = JSON.stringify(repos);
    if (repoSig !== this.repoSig) {
      this.repoSig = repoSig;
      const keep = this.repo.value;
      this.repo.replaceChildren(...repos.map((r) => h("option", { attrs: { value: r.name || r.url, title: r.url }, text: r.name || r.url })));
      if (repos.length === 0) this.repo.append(h("option", { attrs: { value: "", selected: true }, text: remote ? "No repositories on that machine" : "No repositories yet" }));
      this.hasRepos = repos.length > 0;
      this.syncMode();
      if (keep && [...this.repo.options].some((o) => o.value === keep)) this.repo.value = keep;
      this.syncBranches();
    }
    const ownTargets = remote ? remote.run_targets : config.run_targets;
    const configured = new Set(ownTargets.map((t) => t.name));
    const targets = remote ? ownTargets : [...ownTargets, ...this.detected.filter((t) => !configured.has(t.name))];
    const targetSig = JSON.stringify(targets.map((t) => [t.name, t.type]));
    if (targetSig !== this.targetSig) {
      this.targetSig = targetSig;
      this.targets = targets;
      this.renderTargets();
    }
    const own = (Array.isArray(config.quick_launch) ? config.quick_launch : []).filter((p) => p.target || !p.command);
    const presets = [...own, ...this.builtinPresets];
    const quickSig = JSON.stringify(presets);
    if (quickSig !== this.quickSig) {
      this.quickSig = quickSig;
      this.presets = presets;
      this.quick.replaceChildren(
        h("option", { attrs: { value: "" }, text: "None: choose below" }),
        ...presets.map((p, i) => h("option", { attrs: { value: String(i), title: p.prompt }, text: p.target ? `${p.name} (${p.target})` : p.name })),
      );
      this.quickField.hidden = presets.length === 0;
    }
  }

  /** The other machines (the `hosts` message): a "Machine" choice appears when there are any. */
  setHosts(hosts: HostStatus[]): void {
    this.hosts = hosts;
    const sig = JSON.stringify(hosts.map((x) => [x.name, x.state]));
    if (sig !== this.hostSig) {
      this.hostSig = sig;
      const keep = this.host.value;
      this.host.replaceChildren(
        h("option", { attrs: { value: LOCAL_HOST }, text: hostLabel(LOCAL_HOST) }),
        ...hosts.map((x) => h("option", { attrs: { value: x.name }, text: x.state === "connected" ? x.name : `${x.name} (${x.state})` })),
      );
      if ([...this.host.options].some((o) => o.value === keep)) this.host.value = keep;
      this.hostField.hidden = hosts.length === 0;
    }
    if (this.config) this.setConfig(this.config);
  }

  private onHostChanged(): void {
    this.wsSig = null;
    this.setWorkspaces(this.workspaces);
    if (this.config) this.setConfig(this.config);
  }

  /** A preset fills the prompt, and picks its target (one session) when it names one. */
  private applyPreset(): void {
    const p = this.presets[Number(this.quick.value)];
    if (!this.quick.value || !p) return;
    if (p.target && this.counts.has(p.target)) {
      for (const [name, input] of this.counts) input.value = name === p.target ? "1" : "0";
    }
    this.prompt.value = p.prompt;
    this.syncPrompt();
  }

  setWorkspaces(workspaces: Workspace[]): void {
    this.workspaces = workspaces;
    this.renderSpawned();
    const here = workspaces.filter((w) => hostOf(w) === this.host.value);
    const sig = here.map((w) => `${w.id}\u0000${repoName(w)}\u0000${w.branch}`).join("\u0001");
    if (sig === this.wsSig) return;
    const hostChanged = this.wsSig === null;
    this.wsSig = sig;
    const keep = this.where.value;
    // Rebuilding an open <select> would close it: only done when the set of workspaces changed.
    this.where.replaceChildren(
      h("option", { attrs: { value: "" }, text: "New workspace (repository + branch)" }),
      ...here.map((w) => h("option", { attrs: { value: w.id }, text: `${w.id} — ${repoName(w)} @ ${w.branch}` })),
    );
    if (keep && here.some((w) => w.id === keep)) this.where.value = keep;
    else if (keep && hostChanged) this.where.value = "";
    else if (keep) this.showStatus(`Workspace ${keep} was disposed. “Where” is back to a new workspace.`);
    this.syncMode();
    this.syncBranches();
  }

  /** Preselect an existing workspace (the "+ Session" button of a card) and focus the form. */
  selectWorkspace(id: string): void {
    const w = this.workspaces.find((x) => x.id === id);
    if (w && hostOf(w) !== this.host.value && [...this.host.options].some((o) => o.value === hostOf(w))) {
      this.host.value = hostOf(w);
      this.onHostChanged();
    }
    this.where.value = id;
    this.syncMode();
    this.el.scrollIntoView({ block: "nearest", behavior: "smooth" });
    const first = this.counts.values().next().value as HTMLInputElement | undefined;
    (first ?? this.where).focus();
  }

  private renderTargets(): void {
    const old = new Map([...this.counts].map(([k, v]) => [k, v.value]));
    this.counts.clear();
    if (this.targets.length === 0) {
      this.targetsBox.replaceChildren(h("p", { class: "hint", text: "No run targets configured (config.json → run_targets)." }));
      this.syncPrompt();
      return;
    }
    const rows = this.targets.map((t, i) => {
      const id = nextId("spawn-target");
      const input = h("input", {
        class: "count",
        testid: `spawn-target-${t.name}`,
        attrs: { id, type: "number", min: 0, max: MAX_COUNT, step: 1, inputmode: "numeric" },
      });
      input.value = old.get(t.name) ?? (!this.countsInitialised && i === 0 ? "1" : "0");
      input.addEventListener("input", () => this.syncPrompt());
      this.counts.set(t.name, input);
      return h(
        "div",
        { class: "target" },
        input,
        h(
          "label",
          { attrs: { for: id, title: t.command } },
          h("span", { class: "target-name", text: t.name }),
          h("span", { class: `tag tag-${t.type === "promptable" ? "promptable" : "command"}`, text: t.type === "promptable" ? "promptable" : "command" }),
        ),
      );
    });
    this.countsInitialised = true;
    this.targetsBox.replaceChildren(...rows);
    this.syncPrompt();
  }

  private selectedCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, input] of this.counts) {
      const n = Math.floor(Number(input.value));
      if (Number.isFinite(n) && n > 0) out[name] = Math.min(n, MAX_COUNT);
    }
    return out;
  }

  private promptableChosen(): boolean {
    const counts = this.selectedCounts();
    return this.targets.some((t) => t.type === "promptable" && (counts[t.name] ?? 0) > 0);
  }

  private syncPrompt(): void {
    const promptable = this.targets.filter((t) => t.type === "promptable").map((t) => t.name);
    const chosen = this.promptableChosen();
    this.prompt.disabled = !chosen;
    // Without any promptable target in the config the field means nothing: leave it out.
    setHidden(this.promptField, promptable.length === 0);
    setText(
      this.promptHint,
      promptable.length === 0
        ? "Only promptable targets take a prompt, and none is configured."
        : chosen
          ? `Passed as one argument to: ${promptable.filter((n) => (this.selectedCounts()[n] ?? 0) > 0).join(", ")}. Command targets ignore it.`
          : `Choose a promptable target (${promptable.join(", ")}) to give it a prompt.`,
    );
  }

  private syncMode(): void {
    const existing = this.where.value !== "";
    this.repo.disabled = existing || !this.hasRepos;
    // Nothing to spawn from until a repository exists (or an existing workspace is chosen).
    this.submit.disabled = this.busy || (!existing && !this.hasRepos);
    this.branch.disabled = existing;
    setHidden(this.newFields, existing);
    setText(this.submit, existing ? "Spawn into workspace" : "Spawn");
  }

  private syncBranches(): void {
    const repo = this.repo.value;
    const branches = new Set(
      this.workspaces.filter((w) => hostOf(w) === this.host.value).filter((w) => w.repo_name === repo || w.short_repo === repo || w.repo === repo || w.repo.endsWith(`/${repo}`)).map((w) => w.branch),
    );
    const sig = [...branches].sort().join("\u0000");
    if (this.branches.dataset.sig === sig) return;
    this.branches.dataset.sig = sig;
    this.branches.replaceChildren(...[...branches].sort().map((b) => h("option", { attrs: { value: b } })));
  }

  private showStatus(text: string): void {
    setText(this.status, text);
  }

  private showError(text: string): void {
    setText(this.error, text);
    setHidden(this.error, text === "");
  }

  private async send(): Promise<void> {
    if (this.busy) return;
    this.showError("");
    const targets = this.selectedCounts();
    if (Object.keys(targets).length === 0) {
      this.showError("Choose at least one target (set its count to 1 or more).");
      (this.counts.values().next().value as HTMLInputElement | undefined)?.focus();
      return;
    }
    const body: SpawnRequest = { repo: "", branch: "", targets, request_id: newRequestId() };
    const wsId = this.where.value;
    if (wsId) {
      const w = this.workspaces.find((x) => x.id === wsId);
      if (!w) {
        this.showError(`Workspace ${wsId} no longer exists.`);
        return;
      }
      body.repo = w.repo;
      body.branch = w.branch;
      body.workspace_id = w.id;
    } else {
      body.repo = this.repo.value;
      body.branch = this.branch.value.trim();
      if (!body.repo) {
        this.showError("Add a repository first.");
        return;
      }
      if (!body.branch) {
        this.showError("Enter a branch name (an existing branch, or a new one to create).");
        this.branch.focus();
        return;
      }
    }
    if (this.host.value !== LOCAL_HOST) body.host = this.host.value;
    const prompt = this.prompt.value.trim();
    if (prompt && this.promptableChosen()) body.prompt = this.prompt.value;
    const nickname = this.nickname.value.trim();
    if (nickname) body.nickname = nickname;

    this.busy = true;
    this.submit.disabled = true;
    this.el.setAttribute("aria-busy", "true");
    this.el.dataset.requestId = body.request_id!;
    this.showStatus(wsId ? "Spawning…" : "Preparing the workspace and spawning…");
    const res = await this.api.spawn(body);
    this.busy = false;
    this.syncMode();
    this.el.removeAttribute("aria-busy");
    if (!res.ok) {
      this.showStatus("");
      this.showError(res.error);
      return;
    }
    const items = Array.isArray(res.data) ? res.data : [];
    this.renderResults(items);
    const failed = items.filter((i) => "error" in i).length;
    const ok = items.length - failed;
    this.showStatus(
      failed === 0 ? `Started ${ok} session${ok === 1 ? "" : "s"}.` : `Started ${ok}, ${failed} failed (see below).`,
    );
    if (failed === 0) {
      this.prompt.value = "";
      this.nickname.value = "";
    }
    this.hooks.onSpawned(items);
  }

  private renderResults(items: SpawnItem[]): void {
    this.spawned = [];
    this.results.replaceChildren(
      ...items.map((item) => {
        if ("error" in item) {
          return h("li", { class: "result-error", testid: "spawn-result-error" }, h("strong", { text: `${item.target}: ` }), item.error);
        }
        const li = h("li", { class: "result-ok", testid: "spawn-result-ok" });
        li.dataset.spawnedSessionId = item.session_id; // not data-session-id: that marks the rows
        this.spawned.push({ item, li, seen: false });
        return li;
      }),
    );
    this.renderSpawned();
    setHidden(this.results, items.length === 0);
  }

  /** Each spawned session as it is now: its current name, and "Open" only while it exists. */
  private renderSpawned(): void {
    for (const entry of this.spawned) {
      const { item, li } = entry;
      const ws = this.workspaces.find((w) => w.sessions.some((s) => s.id === item.session_id));
      const s = ws?.sessions.find((x) => x.id === item.session_id);
      if (s) entry.seen = true;
      // Not listed yet (the push may come after the answer) is not gone.
      const gone = !s && entry.seen;
      const name = s ? sessionLabel(s) : item.nickname || item.target;
      const tag = `#${sessionTag({ id: item.session_id })}`;
      const sig = gone ? "gone" : `live\u0000${name}`;
      if (li.dataset.sig === sig) continue;
      li.dataset.sig = sig;
      if (!gone) {
        li.className = "result-ok";
        li.replaceChildren(
          `✓ ${name} `,
          h("span", { class: "session-tag", text: tag }),
          ` in ${item.workspace_id} `,
          h("a", { attrs: { href: sessionHref(item.session_id) }, testid: "spawn-result-open", text: "Open" }),
        );
      } else {
        li.className = "result-gone";
        li.replaceChildren(`${name} `, h("span", { class: "session-tag", text: tag }), ` in ${item.workspace_id}: disposed since`);
      }
    }
  }
}
