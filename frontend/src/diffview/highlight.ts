// Syntax colouring with highlight.js (core + the languages registered here, bundled by Vite into
// this lazily loaded chunk: no CDN). One line at a time, only for the rows on screen, cached: a
// construct spanning lines (a block comment) is coloured line by line, the price of never
// highlighting a whole 5 MB diff.

import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import csharp from "highlight.js/lib/languages/csharp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import dockerfile from "highlight.js/lib/languages/dockerfile";
import go from "highlight.js/lib/languages/go";
import ini from "highlight.js/lib/languages/ini";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import kotlin from "highlight.js/lib/languages/kotlin";
import lua from "highlight.js/lib/languages/lua";
import makefile from "highlight.js/lib/languages/makefile";
import markdown from "highlight.js/lib/languages/markdown";
import php from "highlight.js/lib/languages/php";
import python from "highlight.js/lib/languages/python";
import ruby from "highlight.js/lib/languages/ruby";
import rust from "highlight.js/lib/languages/rust";
import scss from "highlight.js/lib/languages/scss";
import sql from "highlight.js/lib/languages/sql";
import swift from "highlight.js/lib/languages/swift";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import { languageFor } from "./languages";
import { parseHighlighted, type Segment } from "./segments";

const LANGUAGES = {
  bash, c, cpp, csharp, css, diff, dockerfile, go, ini, java, javascript, json, kotlin, lua, makefile,
  markdown, php, python, ruby, rust, scss, sql, swift, typescript, xml, yaml,
};
for (const [name, lang] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, lang);

const MAX_LINE = 4000; // a longer line (minified code) stays plain
const CACHE_MAX = 20_000;
const cache = new Map<string, Segment[]>();

/** The line's syntax segments for the file at `path`; null when the language is unknown. */
export function highlightLine(path: string, text: string): Segment[] | null {
  const lang = languageFor(path);
  if (!lang || !hljs.getLanguage(lang) || text.length > MAX_LINE) return null;
  const key = `${lang}\u0000${text}`;
  let segs = cache.get(key);
  if (!segs) {
    segs = parseHighlighted(hljs.highlight(text, { language: lang, ignoreIllegals: true }).value);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, segs);
  }
  return segs;
}
