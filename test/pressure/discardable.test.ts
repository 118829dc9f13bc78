// Discardable VMOs under real memory pressure (docs/api.md physicalMemory, docs/semantics.md §3.13,
// zx_vmo_op_range LOCK/TRY_LOCK/UNLOCK in docs/api.md): a kernel with a 64-page frame pool is filled by pager
// supplies and anonymous writes. When the pool is full the allocating thread reclaims: an unlocked
// discardable VMO is discarded whole (before any clean pager page is evicted), after which TRY_LOCK
// fails with ZX_ERR_UNAVAILABLE, LOCK reports the whole VMO discarded and it reads zeros; a locked
// one is never discarded, and allocation fails with ZX_ERR_NO_MEMORY once nothing is reclaimable.
// Everything here runs on the main thread: anonymous writes and supplies never wait on a pager.

import t from 'tap';
import { PAGE_SIZE, ZX_INFO_VMO, ZX_VMO_DISCARDABLE, ZX_VMO_OP_LOCK, ZX_VMO_OP_TRY_LOCK, ZX_VMO_OP_UNLOCK } from '../../core/index.js';
import type { LockState, Sys } from '../../core/index.js';
import { isZero, statusNameOf } from '../helpers/user_pager.js';
import { RawPager } from '../helpers/vmar.js';

const P = PAGE_SIZE;
const POOL_PAGES = 64;
const D_PAGES = 8;

function committedPages(sys: Sys, vmo: number): number {
  return sys.objectGetInfo(vmo, ZX_INFO_VMO).committedBytes / P;
}

/** A discardable VMO, locked, filled with `byte`, and left locked or unlocked. */
function makeDiscardable(sys: Sys, byte: number, unlock: boolean): number {
  const d = sys.vmoCreate(D_PAGES * P, ZX_VMO_DISCARDABLE);
  sys.vmoOpRange(d, ZX_VMO_OP_LOCK, 0, D_PAGES * P);
  sys.vmoWrite(d, new Uint8Array(D_PAGES * P).fill(byte), 0);
  if (unlock) sys.vmoOpRange(d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P);
  return d;
}

/** Writes one byte into page `page` of the anonymous VMO (one frame), as a status name. */
function touchPage(sys: Sys, vmo: number, page: number): string {
  return statusNameOf(() => sys.vmoWrite(vmo, Uint8Array.of(page & 0xff), page * P));
}

// Tests that an unlocked discardable VMO is discarded (before any clean pager page) when the pool runs out.
t.test('pressure: an unlocked discardable VMO is discarded', async (t) => {
  const pager = RawPager.create({ physicalMemory: POOL_PAGES * P });
  try {
    const { sys } = pager;
    const d = makeDiscardable(sys, 0x5a, true);
    t.equal(committedPages(sys, d), D_PAGES, 'the unlocked VMO still holds its pages');

    const V_PAGES = 32;
    const vmo = pager.createVmo(V_PAGES);
    pager.supplyPages(vmo, 0, V_PAGES);
    t.equal(committedPages(sys, vmo.handle), V_PAGES, 'the pager VMO holds its clean pages');

    // Anonymous pages until allocation fails: first the free frames, then what reclaim frees.
    const filler = sys.vmoCreate((POOL_PAGES + 16) * P, 0);
    let written = 0;
    let pagerPagesAtDiscard = -1;
    let last = 'ZX_OK';
    for (; written < POOL_PAGES + 16; written++) {
      last = touchPage(sys, filler, written);
      if (last !== 'ZX_OK') break;
      if (pagerPagesAtDiscard < 0 && committedPages(sys, d) === 0) pagerPagesAtDiscard = committedPages(sys, vmo.handle);
    }
    t.equal(pagerPagesAtDiscard, V_PAGES, 'the discardable VMO went first: no clean pager page was evicted before it');
    t.equal(last, 'ZX_ERR_NO_MEMORY', 'allocation fails once nothing is reclaimable');
    t.equal(written, POOL_PAGES, 'the anonymous VMO got the whole pool: everything reclaimable was reclaimed');
    t.equal(committedPages(sys, d), 0, 'the discarded VMO holds nothing');
    t.equal(committedPages(sys, vmo.handle), 0, 'the clean pager pages were evicted too');

    t.equal(statusNameOf(() => sys.vmoOpRange(d, ZX_VMO_OP_TRY_LOCK, 0, D_PAGES * P)), 'ZX_ERR_UNAVAILABLE', 'TRY_LOCK after the discard');
    const state = sys.vmoOpRange(d, ZX_VMO_OP_LOCK, 0, D_PAGES * P) as LockState;
    t.same(state, { offset: 0, size: D_PAGES * P, discardedOffset: 0, discardedSize: D_PAGES * P }, 'LOCK: discardedSize is the whole VMO');
    const content = new Uint8Array(D_PAGES * P);
    sys.vmoRead(d, content, 0);
    t.ok(isZero(content), 'the discarded VMO reads zeros');
    t.ok(pager.noRequest(vmo), 'eviction itself raised no request');
    sys.handleClose(filler);
    sys.handleClose(d);
  } finally {
    await pager.close();
  }
});

// Tests that a locked discardable VMO survives a full pool (allocation fails instead) until it is unlocked.
t.test('pressure: a locked discardable VMO is never discarded', async (t) => {
  const pager = RawPager.create({ physicalMemory: POOL_PAGES * P });
  try {
    const { sys } = pager;
    const d = makeDiscardable(sys, 0xa5, false);
    const filler = sys.vmoCreate(POOL_PAGES * P, 0);
    let written = 0;
    let last = 'ZX_OK';
    for (; written < POOL_PAGES; written++) {
      last = touchPage(sys, filler, written);
      if (last !== 'ZX_OK') break;
    }
    t.equal(last, 'ZX_ERR_NO_MEMORY', 'allocation fails when only the locked VMO could be reclaimed');
    t.equal(written, POOL_PAGES - D_PAGES, 'exactly the free frames were allocated');
    t.equal(committedPages(sys, d), D_PAGES, 'the locked VMO keeps every page');
    const content = new Uint8Array(D_PAGES * P);
    sys.vmoRead(d, content, 0);
    t.ok(content.every((b) => b === 0xa5), 'and its content');
    t.equal(statusNameOf(() => sys.vmoOpRange(d, ZX_VMO_OP_TRY_LOCK, 0, D_PAGES * P)), 'ZX_OK', 'TRY_LOCK of the undiscarded VMO (nested)');
    sys.vmoOpRange(d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P);
    t.equal(committedPages(sys, d), D_PAGES, 'still there while one lock remains');
    t.equal(touchPage(sys, filler, written), 'ZX_ERR_NO_MEMORY', 'still no memory while one lock remains');

    sys.vmoOpRange(d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P);
    t.equal(touchPage(sys, filler, written), 'ZX_OK', 'once unlocked, the next allocation succeeds');
    t.equal(committedPages(sys, d), 0, 'by discarding the VMO');
    t.equal(statusNameOf(() => sys.vmoOpRange(d, ZX_VMO_OP_TRY_LOCK, 0, D_PAGES * P)), 'ZX_ERR_UNAVAILABLE', 'TRY_LOCK after the discard');
    sys.handleClose(filler);
    sys.handleClose(d);
  } finally {
    await pager.close();
  }
});
