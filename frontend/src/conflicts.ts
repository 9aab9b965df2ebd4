// The conflict forecast as badges on a workspace card (docs/API.md#the-conflict-forecast).

import type { Workspace } from "./types";

export interface Badge {
  text: string;
  title: string;
  kind: "overlap" | "base";
}

const files = (n: number): string => `${n} file${n === 1 ? "" : "s"}`;

function listed(paths: string[]): string {
  const shown = paths.slice(0, 12).join("\n");
  return paths.length > 12 ? `${shown}\n… and ${paths.length - 12} more` : shown;
}

export function conflictBadges(w: Workspace): Badge[] {
  return (w.conflicts ?? []).map((c) =>
    c.with === "base"
      ? {
          kind: "base",
          text: `⚠ conflicts with the default branch (${files(c.files.length)})`,
          title: `Merging ${w.branch} into the default branch would conflict on:\n${listed(c.files)}`,
        }
      : {
          kind: "overlap",
          text: `⚠ overlaps ${c.with} (${files(c.files.length)})`,
          title: `${c.with} changes the same files:\n${listed(c.files)}`,
        },
  );
}
