import { describe, expect, it } from "vitest";
import { buildMatrices, matrixTotals, shared } from "./overlap";
import type { Workspace } from "./types";

const ws = (id: string, repo: string, conflicts: Workspace["conflicts"]): Workspace =>
  ({ id, repo: `/r/${repo}`, short_repo: repo, branch: id, conflicts }) as Workspace;

describe("overlap matrix", () => {
  it("groups by repo, makes cells symmetric and keeps base conflicts apart", () => {
    const ms = buildMatrices([
      ws("proj-002", "proj", [{ with: "proj-001", files: ["a.py", "b.py"] }]),
      ws("proj-001", "proj", [
        { with: "proj-002", files: ["a.py"] },
        { with: "base", files: ["README.md"] },
      ]),
      ws("proj-003", "proj", []),
      ws("lib-001", "lib", undefined),
    ]);
    expect(ms.map((m) => m.repo)).toEqual(["lib", "proj"]);
    const p = ms[1]!;
    expect(p.ids).toEqual(["proj-001", "proj-002", "proj-003"]);
    expect(shared(p, "proj-001", "proj-002")).toEqual(["a.py", "b.py"]);
    expect(shared(p, "proj-002", "proj-001")).toEqual(["a.py", "b.py"]);
    expect(shared(p, "proj-001", "proj-003")).toEqual([]);
    expect(shared(p, "proj-001", "proj-001")).toEqual([]);
    expect(p.base.get("proj-001")).toEqual(["README.md"]);
    expect(matrixTotals(p)).toEqual({ overlaps: 1, base: 1 });
    expect(matrixTotals(ms[0]!)).toEqual({ overlaps: 0, base: 0 });
  });
  it("ignores a workspace it does not know (another repo, or gone)", () => {
    const [m] = buildMatrices([ws("proj-001", "proj", [{ with: "proj-009", files: ["x"] }])]);
    expect(m!.cells.size).toBe(0);
  });
});
