import { describe, expect, it } from "vitest";
import { highlightLine } from "./highlight";
import { languageFor } from "./languages";

describe("syntax colour", () => {
  it("picks the language from the file name", () => {
    expect(languageFor("src/app.py")).toBe("python");
    expect(languageFor("web/Main.TSX")).toBe("typescript");
    expect(languageFor("Makefile")).toBe("makefile");
    expect(languageFor("docs/Dockerfile")).toBe("dockerfile");
    expect(languageFor("LICENSE")).toBeNull();
    expect(languageFor(".gitignore")).toBeNull();
  });
  it("colours one line with the bundled highlight.js, text unchanged", () => {
    const segs = highlightLine("a.py", "def f(x): return 'x' # done")!;
    expect(segs.map((s) => s.text).join("")).toBe("def f(x): return 'x' # done");
    expect(segs).toContainEqual({ text: "def", cls: "hljs-keyword" });
    expect(segs.some((s) => s.cls.includes("hljs-string") && s.text === "'x'")).toBe(true);
    expect(segs.some((s) => s.cls.includes("hljs-comment"))).toBe(true);
    expect(highlightLine("notes.unknown", "def f")).toBeNull();
    expect(highlightLine("a.py", "x".repeat(5000))).toBeNull();
  });
});
