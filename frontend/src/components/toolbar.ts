// Filter (all / running / needs attention), sort order and the scan button above the list.

import { h } from "../dom";
import type { Prefs } from "../prefs";
import { FILTERS, type Filter, SORTS, type SortKey } from "../view";

export class Toolbar {
  readonly el: HTMLDivElement;
  readonly scanButton: HTMLButtonElement;
  private readonly radios = new Map<Filter, HTMLInputElement>();
  private readonly sort: HTMLSelectElement;

  constructor(prefs: Prefs, onChange: (p: Prefs) => void, onScan: () => void) {
    let current = { ...prefs };
    const group = h("fieldset", { class: "segmented", testid: "filter" }, h("legend", { class: "sr-only", text: "Show" }));
    for (const f of FILTERS) {
      const id = `filter-${f.value}`;
      const input = h("input", {
        testid: `filter-${f.value}`,
        attrs: { type: "radio", name: "filter", id, value: f.value, checked: f.value === prefs.filter },
      });
      input.addEventListener("change", () => {
        if (input.checked) {
          current = { ...current, filter: f.value };
          onChange(current);
        }
      });
      this.radios.set(f.value, input);
      group.append(input, h("label", { attrs: { for: id }, text: f.label }));
    }
    this.sort = h(
      "select",
      { testid: "sort-select", attrs: { id: "sort-select" } },
      ...SORTS.map((s) => h("option", { attrs: { value: s.value, selected: s.value === prefs.sort }, text: s.label })),
    );
    this.sort.value = prefs.sort;
    this.sort.addEventListener("change", () => {
      current = { ...current, sort: this.sort.value as SortKey };
      onChange(current);
    });
    this.scanButton = h("button", {
      class: "btn",
      testid: "scan-button",
      text: "Scan workspaces",
      attrs: { type: "button", title: "Look for workspaces added or removed on disk" },
      on: { click: onScan },
    });
    this.el = h(
      "div",
      { class: "toolbar" },
      group,
      h("div", { class: "sort" }, h("label", { attrs: { for: "sort-select" }, text: "Sort" }), this.sort),
      h("div", { class: "spacer" }),
      this.scanButton,
    );
  }
}
