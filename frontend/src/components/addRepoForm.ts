// Register a repository (local path or git URL) by POSTing the extended repos list to /api/config.

import type { Api } from "../api";
import { h, setHidden, setText } from "../dom";
import { shortRepoName } from "../state";
import type { Config } from "../types";

let uid = 0;

export class AddRepoForm {
  readonly el: HTMLFormElement;
  private readonly url: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly submit: HTMLButtonElement;
  private readonly error: HTMLParagraphElement;
  private config: Config | null = null;

  constructor(
    private readonly api: Api,
    prefix: string,
    private readonly onAdded: (name: string) => void,
  ) {
    const n = ++uid;
    const urlId = `${prefix}-url-${n}`;
    const nameId = `${prefix}-name-${n}`;
    this.url = h("input", {
      testid: `${prefix}-url`,
      attrs: { id: urlId, type: "text", required: true, placeholder: "/home/me/src/project or git@github.com:me/project.git", spellcheck: "false", autocomplete: "off" },
    });
    this.name = h("input", {
      testid: `${prefix}-name`,
      attrs: { id: nameId, type: "text", placeholder: "derived from the path", spellcheck: "false", autocomplete: "off" },
    });
    this.url.addEventListener("input", () => {
      this.name.placeholder = shortRepoName(this.url.value) || "derived from the path";
    });
    this.submit = h("button", { class: "btn btn-primary", testid: `${prefix}-submit`, text: "Add repository", attrs: { type: "submit" } });
    this.error = h("p", { class: "form-error", testid: `${prefix}-error`, attrs: { role: "alert" } });
    this.error.hidden = true;
    this.el = h(
      "form",
      { class: "add-repo", testid: `${prefix}-form`, attrs: { novalidate: true } },
      h("div", { class: "field" }, h("label", { attrs: { for: urlId }, text: "Path or git URL" }), this.url),
      h("div", { class: "field" }, h("label", { attrs: { for: nameId }, text: "Name" }), this.name),
      h("div", { class: "form-actions" }, this.submit),
      this.error,
    );
    this.el.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.send();
    });
  }

  setConfig(config: Config): void {
    this.config = config;
  }

  focus(): void {
    this.url.focus();
  }

  private fail(text: string): void {
    setText(this.error, text);
    setHidden(this.error, text === "");
  }

  private async send(): Promise<void> {
    const url = this.url.value.trim();
    const name = this.name.value.trim() || shortRepoName(url);
    this.fail("");
    if (!url) {
      this.fail("Enter a local path or a git URL.");
      this.url.focus();
      return;
    }
    if (!name) {
      this.fail("Give the repository a name.");
      this.name.focus();
      return;
    }
    const existing = this.config?.repos ?? [];
    if (existing.some((r) => r.name === name)) {
      this.fail(`A repository named “${name}” already exists; choose another name.`);
      this.name.focus();
      return;
    }
    this.submit.disabled = true;
    const res = await this.api.updateConfig({ repos: [...existing, { name, url }] });
    this.submit.disabled = false;
    if (!res.ok) {
      this.fail(res.error);
      return;
    }
    this.url.value = "";
    this.name.value = "";
    this.onAdded(name);
  }
}
