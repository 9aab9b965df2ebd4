import { describe, expect, it } from "vitest";
import { markRanges, parseHighlighted } from "./segments";
import { wordRanges } from "./worddiff";

describe("word diff", () => {
  it("marks the changed words of both lines, whitespace kept", () => {
    const r = wordRanges("const total = price * count;", "const total = price * amount;");
    expect(r).not.toBeNull();
    const o = "const total = price * count;";
    const n = "const total = price * amount;";
    expect(r!.old.map(([a, b]) => o.slice(a, b))).toEqual(["count"]);
    expect(r!.new.map(([a, b]) => n.slice(a, b))).toEqual(["amount"]);
  });
  it("gives up on lines that share almost nothing, identical lines and huge lines", () => {
    expect(wordRanges("alpha beta", "gamma delta")).toBeNull();
    expect(wordRanges("same", "same")).toBeNull();
    expect(wordRanges("x ".repeat(1500), "y ".repeat(1500))).toBeNull();
  });
});

describe("segments", () => {
  it("reads highlight.js HTML back, nested scopes and entities included", () => {
    const segs = parseHighlighted('<span class="hljs-keyword">if</span> (a &lt; b &amp;&amp; <span class="hljs-string">&quot;x&#x27;<span class="hljs-subst">y</span>&quot;</span>)');
    expect(segs.map((s) => s.text).join("")).toBe(`if (a < b && "x'y")`);
    expect(segs[0]).toEqual({ text: "if", cls: "hljs-keyword" });
    expect(segs.find((s) => s.text === "y")).toEqual({ text: "y", cls: "hljs-string hljs-subst" });
  });
  it("cuts segments at word ranges, keeping each piece's colour", () => {
    const segs = [
      { text: "let ", cls: "hljs-keyword" },
      { text: "count = 10", cls: "" },
    ];
    // "let count = 10": change "count" (4..9) and "10" (12..14)
    const out = markRanges(segs, [
      [2, 9],
      [12, 14],
    ]);
    expect(out).toEqual([
      { text: "le", cls: "hljs-keyword" },
      { text: "t ", cls: "hljs-keyword", changed: true },
      { text: "count", cls: "", changed: true },
      { text: " = ", cls: "" },
      { text: "10", cls: "", changed: true },
    ]);
  });
});
