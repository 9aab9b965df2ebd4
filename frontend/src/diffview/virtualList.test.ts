// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { VirtualList } from "./virtualList";

describe("virtual list", () => {
  it("puts a window of items in the DOM, not all of them", () => {
    let rendered = 0;
    const list = new VirtualList({
      className: "t",
      estimate: 20,
      overscan: 200,
      render: (i) => {
        rendered++;
        const el = document.createElement("div");
        el.textContent = `item ${i}`;
        return el;
      },
    });
    document.body.append(list.el);
    Object.defineProperty(list.el, "clientHeight", { value: 600 }); // jsdom has no layout
    list.reset(100_000);
    const drawn = list.drawnItems();
    expect(drawn.length).toBeGreaterThan(10);
    expect(drawn.length).toBeLessThan(100);
    expect(rendered).toBe(drawn.length);
    expect((list.el.firstElementChild as HTMLElement).style.height).toBe("2000000px");
    list.scrollToIndex(50_000);
    expect(list.drawnItems().some(([i]) => i === 50_000)).toBe(true);
    expect(list.drawnItems().length).toBeLessThan(100);
  });
});

