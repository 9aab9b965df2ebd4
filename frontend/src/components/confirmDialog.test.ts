// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import type { ApiResult } from "../api";
import { ConfirmDialog } from "./confirmDialog";

const refused: ApiResult<unknown> = { ok: false, status: 409, error: "workspace demo-001 has uncommitted changes" };
const byTestId = (root: Element, id: string) => root.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
const flush = () => new Promise((r) => setTimeout(r, 0));

describe("ConfirmDialog", () => {
  it("offers the stronger action only after a refusal it can override, and runs it", async () => {
    const dialog = new ConfirmDialog();
    document.body.append(dialog.el);
    const calls: string[] = [];
    let done = 0;
    dialog.open({
      title: "Dispose workspace demo-001?",
      lines: ["kept in a snapshot"],
      confirmLabel: "Dispose workspace",
      run: async () => (calls.push("plain"), refused),
      onDone: () => done++,
      fallback: {
        label: "Dispose anyway",
        note: "keeps everything in a snapshot",
        offered: (res) => !res.ok && res.status === 409,
        run: async () => (calls.push("force"), { ok: true, status: 200, data: {} }),
      },
    });
    expect(byTestId(dialog.el, "confirm-anyway").hidden).toBe(true);
    byTestId(dialog.el, "confirm-button").click();
    await flush();
    expect(byTestId(dialog.el, "confirm-error").textContent).toContain("uncommitted");
    expect(byTestId(dialog.el, "confirm-anyway").hidden).toBe(false);
    expect(byTestId(dialog.el, "confirm-anyway").textContent).toBe("Dispose anyway");
    expect(byTestId(dialog.el, "confirm-button").hidden).toBe(true);
    byTestId(dialog.el, "confirm-anyway").click();
    await flush();
    expect(calls).toEqual(["plain", "force"]);
    expect(done).toBe(1);
  });

  it("keeps a refusal without a fallback as it was", async () => {
    const dialog = new ConfirmDialog();
    dialog.open({ title: "t", lines: [], confirmLabel: "Go", run: async () => refused });
    byTestId(dialog.el, "confirm-button").click();
    await flush();
    expect(byTestId(dialog.el, "confirm-anyway").hidden).toBe(true);
    expect(byTestId(dialog.el, "confirm-button").hidden).toBe(false);
  });
});
