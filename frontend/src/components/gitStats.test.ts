// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { makeWorkspace } from "../testing";
import type { Workspace } from "../types";
import { GitStats } from "./gitStats";

const ws = (extra: Partial<Workspace>): Workspace => makeWorkspace("repo-001", [], extra);

function mount(prefix: string): { stats: GitStats; q: (id: string) => HTMLElement } {
  const stats = new GitStats(prefix);
  const box = document.createElement("div");
  box.append(...stats.nodes);
  return { stats, q: (id) => box.querySelector(`[data-testid="${prefix}${id}"]`) as HTMLElement };
}

describe("GitStats", () => {
  it("shows every figure under the caller's test ids", () => {
    const { stats, q } = mount("term-git-");
    stats.update(ws({ git_ahead: 1, git_behind: 4, git_lines_added: 12, git_lines_removed: 3, git_files_changed: 1, git_dirty: true }));
    expect(q("ahead").textContent).toBe("1");
    expect(q("behind").textContent).toBe("4");
    expect(q("lines-added").textContent).toBe("12");
    expect(q("lines-removed").textContent).toBe("3");
    expect(q("files-changed").textContent).toBe("1 file");
    expect(q("dirty").dataset.dirty).toBe("true");
    expect(q("ahead").parentElement!.title).toBe("1 commit ahead of upstream");
    expect(q("behind").parentElement!.title).toBe("4 commits behind upstream");
  });

  it("dims zeros and says clean when nothing changed", () => {
    const { stats, q } = mount("git-");
    stats.update(ws({ git_ahead: 2 }));
    stats.update(ws({}));
    expect(q("ahead").parentElement!.classList.contains("is-zero")).toBe(true);
    expect(q("files-changed").textContent).toBe("0 files");
    expect(q("dirty").textContent).toBe("clean");
    expect(q("dirty").dataset.dirty).toBe("false");
  });
});
