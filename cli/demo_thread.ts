// The body of one faulting thread of `pagersim demo`: reads random pages of a pager VMO with
// zx_vmo_read (each absent page blocks this thread on a READ request until the pager supplies it)
// and checks every word against the standard content. Runs in a ThreadPool worker.

import type { Sys } from '../core/sys_types.js';
import { PAGE_SIZE } from '../shared/constants.js';

export interface DemoThreadArgs {
  vmo: number;
  key: bigint;
  pages: number;
  reads: number;
  seed: number;
}

export function readRandomPages(sys: Sys, a: DemoThreadArgs): { reads: number; mismatches: number } {
  const buf = new Uint8Array(PAGE_SIZE);
  const words = new BigUint64Array(buf.buffer);
  let x = a.seed >>> 0 || 1;
  let mismatches = 0;
  for (let i = 0; i < a.reads; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const page = (x >>> 0) % a.pages;
    sys.vmoRead(a.vmo, buf, page * PAGE_SIZE);
    const first = a.key + BigInt((page * PAGE_SIZE) / 8);
    for (let w = 0; w < words.length; w++) if (words[w] !== first + BigInt(w)) mismatches++;
  }
  return { reads: a.reads, mismatches };
}
