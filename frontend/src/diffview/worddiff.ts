// Word-level highlights inside a pair of changed lines (jsdiff's diffWordsWithSpace): the ranges of
// the old line that were removed and of the new line that were added. Pure.

import { diffWordsWithSpace } from "diff";

export type Range = [start: number, end: number];

export interface WordRanges {
  old: Range[];
  new: Range[];
}

/** Past this many characters a pair is not word-diffed (minified code: the whole line is the change). */
export const MAX_WORD_DIFF_CHARS = 2000;

/**
 * The changed ranges of both lines, or null when highlighting words would not help: too long, or so
 * different that more than `maxChangedShare` of the text changed (then the line colour says it all).
 */
export function wordRanges(oldText: string, newText: string, maxChangedShare = 0.7): WordRanges | null {
  if (oldText.length + newText.length > MAX_WORD_DIFF_CHARS || oldText === newText) return null;
  const out: WordRanges = { old: [], new: [] };
  let a = 0;
  let b = 0;
  let changedChars = 0;
  for (const part of diffWordsWithSpace(oldText, newText)) {
    const n = part.value.length;
    if (part.removed) {
      out.old.push([a, a + n]);
      a += n;
      changedChars += n;
    } else if (part.added) {
      out.new.push([b, b + n]);
      b += n;
      changedChars += n;
    } else {
      a += n;
      b += n;
    }
  }
  if (changedChars > maxChangedShare * (oldText.length + newText.length)) return null;
  return out;
}
