// Coloured pieces of one line, pure: highlight.js's HTML read back into (text, classes) segments,
// then cut at the word-diff ranges so a changed word keeps its syntax colour and gets a mark too.

import type { Range } from "./worddiff";

export interface Segment {
  text: string;
  /** highlight.js scope classes ("hljs-keyword" ...), space-separated; "" for plain text. */
  cls: string;
  /** Inside a word-level change. */
  changed?: boolean;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#x27": "'", "#39": "'" };
const decode = (s: string): string => s.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (_, e: string) => ENTITIES[e]!);

/** highlight.js's output (only `<span class="...">`, `</span>` and escaped text) as flat segments. */
export function parseHighlighted(html: string): Segment[] {
  const out: Segment[] = [];
  const stack: string[] = [];
  const re = /<span class="([^"]*)">|<\/span>|([^<]+)/g;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    if (m[1] !== undefined) stack.push(m[1]);
    else if (m[2] !== undefined) {
      const text = decode(m[2]);
      const cls = stack.join(" ");
      const prev = out[out.length - 1];
      if (prev && prev.cls === cls) prev.text += text;
      else out.push({ text, cls });
    } else stack.pop();
  }
  return out;
}

/** Cut `segments` at the boundaries of `ranges` (sorted, not overlapping), marking the pieces inside. */
export function markRanges(segments: readonly Segment[], ranges: readonly Range[]): Segment[] {
  if (!ranges.length) return segments.map((s) => ({ ...s }));
  const out: Segment[] = [];
  let pos = 0;
  let r = 0;
  for (const seg of segments) {
    let at = 0;
    while (at < seg.text.length) {
      const abs = pos + at;
      while (r < ranges.length && ranges[r]![1] <= abs) r++;
      const range = ranges[r];
      let end: number;
      let changed: boolean;
      if (range && range[0] <= abs) {
        changed = true;
        end = Math.min(seg.text.length, range[1] - pos);
      } else {
        changed = false;
        end = range ? Math.min(seg.text.length, range[0] - pos) : seg.text.length;
      }
      const piece: Segment = { text: seg.text.slice(at, end), cls: seg.cls };
      if (changed) piece.changed = true;
      out.push(piece);
      at = end;
    }
    pos += seg.text.length;
  }
  return out;
}
