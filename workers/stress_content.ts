// Stamped page content: every write of the stress run fills a whole page so that its last write is
// well defined, and every 32-bit word says which write it was (even words: the stamp) and which page
// it belongs to (odd words: the tag), so a reader can tell stale, torn and misplaced pages apart.
// Stamp 0 is the backing store's initial content. An all-zero page (OP_ZERO, a truncation, a zero
// marker, a sparse backing page) reads as ZEROED: a value many operations may have written.

import { PAGE_SIZE } from '../shared/constants.js';

export const WORDS = PAGE_SIZE / 4;

export function pageTag(vmoIndex: number, page: number): number {
  return ((vmoIndex + 1) * 0x100000 + page) >>> 0;
}

export function makeStamp(threadIndex: number, seq: number): number {
  return (((threadIndex + 1) << 24) | (seq & 0xffffff)) >>> 0;
}

export function fillPage(words: Uint32Array, stamp: number, tag: number): void {
  for (let i = 0; i < WORDS; i += 2) {
    words[i] = stamp;
    words[i + 1] = tag;
  }
}

export const TORN = -1;
export const MISPLACED = -2;
export const ZEROED = -3;

/** With zero-supply on, the backing store starts sparse: every fourth page is a hole (all zeros). */
export function initiallyZero(sparse: boolean, page: number): boolean {
  return sparse && page % 4 === 3;
}

/** The stamp a page holds, or TORN (words disagree) / MISPLACED (another page's content) / ZEROED. */
export function readStamp(words: Uint32Array, tag: number, offsetWords = 0): number {
  const stamp = words[offsetWords];
  if (stamp === 0 && words[offsetWords + 1] === 0) {
    for (let i = 0; i < WORDS; i++) if (words[offsetWords + i] !== 0) return TORN;
    return ZEROED;
  }
  for (let i = 0; i < WORDS; i += 2) {
    if (words[offsetWords + i + 1] !== tag) return MISPLACED;
    if (words[offsetWords + i] !== stamp) return TORN;
  }
  return stamp;
}
