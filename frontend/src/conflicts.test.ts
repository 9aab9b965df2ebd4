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
