// A small kernel driven from the main thread for the memory-pressure regression tests: one pager, one
// port, pager VMOs supplied from anonymous aux VMOs, and counters of the kernel's free pools read
// straight from the shared state (frames, radix nodes, zero-interval records) to prove that a failed
// operation leaks nothing. Main thread only; nothing here waits on a page request (a read of an
// absent page would, so the kernel is created with a request timeout as a safety net).

import { Kernel, PAGE_SIZE, ZX_INFO_VMO, ZX_PAGER_OP_DIRTY } from '../../core/index.js';
import { statusNameOf } from './user_pager.js';
import type { KernelOptions, Sys } from '../../core/index.js';

export const P = PAGE_SIZE;
export { statusNameOf };
export { bytesEqual, isZero } from './content.js';

/** Byte `i` of page `page` of the content a test supplies for a VMO keyed `key`: never all zero. */
export function pageByte(key: number, page: number, i: number): number {
  return (key * 31 + page * 7 + (i % 251) + 1) & 0xff || 1;
}

export function pageContent(key: number, page: number): Uint8Array {
  const out = new Uint8Array(P);
  for (let i = 0; i < P; i++) out[i] = pageByte(key, page, i);
  return out;
}

export class KernelEnv {
  readonly kernel: Kernel;
  readonly sys: Sys;
  readonly pager: number;
  readonly port: number;
  #nextKey = 1;

  constructor(options: KernelOptions) {
    this.kernel = Kernel.create({ pageRequestTimeoutMs: 5000, ...options });
    this.sys = this.kernel.sys;
    this.pager = this.sys.pagerCreate(0);
    this.port = this.sys.portCreate(0);
  }

  /** A pager VMO; its key is also the seed of its supplied content. */
  createVmo(pages: number, options = 0): { handle: number; key: number } {
    const key = this.#nextKey++;
    return { handle: this.sys.pagerCreateVmo(this.pager, options, this.port, key, pages * P), key };
  }

  /**
   * Supplies [page, page + count) from a fresh aux VMO: pages[i] true = the standard content of the
   * VMO's key (a Clean page), false = left uncommitted in aux (a zero marker).
   */
  supply(vmo: { handle: number; key: number }, page: number, count: number, withContent: (p: number) => boolean = () => true): string {
    const aux = this.sys.vmoCreate(count * P, 0);
    try {
      for (let i = 0; i < count; i++) {
        if (withContent(page + i)) this.sys.vmoWrite(aux, pageContent(vmo.key, page + i), i * P);
      }
      return statusNameOf(() => this.sys.pagerSupplyPages(this.pager, vmo.handle, page * P, count * P, aux, 0));
    } finally {
      this.sys.handleClose(aux);
    }
  }

  opDirty(handle: number, page: number, count: number): string {
    return statusNameOf(() => this.sys.pagerOpRange(this.pager, ZX_PAGER_OP_DIRTY, handle, page * P, count * P));
  }

  /** Dirty ranges in pages: [start, end, isZero]. */
  dirtyRanges(handle: number, pages: number): [number, number, boolean][] {
    const r = this.sys.pagerQueryDirtyRanges(this.pager, handle, 0, pages * P, 64);
    return r.ranges.map((x) => [x.offset / P, (x.offset + x.length) / P, x.options !== 0]);
  }

  committed(handle: number): number {
    return this.sys.objectGetInfo(handle, ZX_INFO_VMO).committedBytes / P;
  }

  readPage(handle: number, page: number): Uint8Array {
    const out = new Uint8Array(P);
    this.sys.vmoRead(handle, out, page * P);
    return out;
  }

  /** Free frames, radix nodes and interval records right now (nothing may be in flight). */
  pools(): { frames: number; nodes: number; intervals: number } {
    const k = this.kernel.state;
    const count = (head: number, next: (x: number) => number): number => {
      let n = 0;
      for (let x = head; x >= 0; x = next(x)) n++;
      return n;
    };
    return {
      frames: k.header.freeFrames(),
      nodes: count(k.header.freeNode(), (x) => k.nodes.nextFree(x)),
      intervals: count(k.header.freeInterval(), (x) => k.intervals.nextFree(x)),
    };
  }
}
