import { describe, expect, it } from "vitest";
import { conflictBadges } from "./conflicts";
import { makeWorkspace } from "./testing";

describe("conflictBadges", () => {
  it("names the other workspace, then the default branch, with the files in the title", () => {
    const w = makeWorkspace("proj-001", [], {
      branch: "fix",
      conflicts: [
        { with: "proj-002", files: ["README.md"] },
        { with: "base", files: ["a.py", "b.py"] },
      ],
    });
    expect(conflictBadges(w)).toEqual([
      { kind: "overlap", text: "⚠ overlaps proj-002 (1 file)", title: "proj-002 changes the same files:\nREADME.md" },
      {
        kind: "base",
        text: "⚠ conflicts with the default branch (2 files)",
        title: "Merging fix into the default branch would conflict on:\na.py\nb.py",
      },
    ]);
  });

  it("shows nothing without conflicts, or from an older server without the key", () => {
    expect(conflictBadges(makeWorkspace("proj-001", [], { conflicts: [] }))).toEqual([]);
    expect(conflictBadges(makeWorkspace("proj-001"))).toEqual([]);
  });
});

describe("normalizeWorkspace keeps the forecast", () => {
  it("carries well-formed conflicts and drops malformed ones", async () => {
    const { normalizeWorkspace } = await import("./state");
    const w = normalizeWorkspace({
      id: "proj-001",
      conflicts: [{ with: "proj-002", files: ["a", 3] }, { with: 7, files: [] }, "x", { with: "base" }],
      review_rounds: 2,
    });
    expect(w?.conflicts).toEqual([{ with: "proj-002", files: ["a"] }]);
    expect(w?.review_rounds).toBe(2);
    expect(normalizeWorkspace({ id: "proj-001" })?.conflicts).toEqual([]);
  });
});
