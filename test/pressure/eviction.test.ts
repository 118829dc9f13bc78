// Eviction under a small frame pool (docs/api.md physicalMemory, docs/semantics.md §3.13): when the pool
// is full the allocating thread reclaims clean pager pages, DONT_NEED-hinted ones first and
// ALWAYS_NEED ones last; an evicted page is absent again, so its next access raises a READ request;
// Dirty and AwaitingClean pages are never evicted, so with only those left an allocation fails with
// ZX_ERR_NO_MEMORY until a writeback cleans them. Pressure comes from page-by-page anonymous writes
// on the main thread (they never wait on a pager); committed bytes show what reclaim took.

import t from 'tap';
import { PAGE_SIZE, ZX_INFO_VMO, ZX_VMO_OP_ALWAYS_NEED, ZX_VMO_OP_DONT_NEED } from '../../core/index.js';
import type { Sys } from '../../core/index.js';
import { ensure, expectNoRequest } from '../helpers/check.js';
import { UserPager, checkContent, statusNameOf } from '../helpers/user_pager.js';
import type { Vmo } from '../helpers/user_pager.js';
import {
  ensureOk,
  runOp,
  startFill,
  verifyDirtyRanges,
  writebackBeginPages,
  writebackEndPages,
} from '../helpers/writeback.js';

const P = PAGE_SIZE;
const V_PAGES = 16;

function committed(sys: Sys, handle: number): number {
  return sys.objectGetInfo(handle, ZX_INFO_VMO).committedBytes / P;
}

/** Page-by-page anonymous allocation: one byte into each next page of an anonymous VMO. */
class Filler {
  readonly handle: number;
  written = 0;
  readonly #sys: Sys;

  constructor(sys: Sys, pages: number) {
    this.#sys = sys;
    this.handle = sys.vmoCreate(pages * P, 0);
  }

  /** Allocates one more page; returns the status name. */
  touch(): string {
    const status = statusNameOf(() => this.#sys.vmoWrite(this.handle, Uint8Array.of(1), this.written * P));
    if (status === 'ZX_OK') this.written++;
    return status;
  }

  /** Allocates `count` pages; returns the first failure's status name, or ZX_OK. */
  touchMany(count: number): string {
    for (let i = 0; i < count; i++) {
      const status = this.touch();
      if (status !== 'ZX_OK') return status;
    }
    return 'ZX_OK';
  }
}

/** A pager VMO of V_PAGES pages, fully supplied (clean pages). */
function suppliedVmo(pager: UserPager): Vmo {
  const vmo = pager.createVmo(V_PAGES);
  pager.supplyPages(vmo, 0, V_PAGES);
  return vmo;
}

// Tests that DONT_NEED-hinted clean pages are evicted first and an evicted page raises a READ request again.
t.test('pressure: DONT_NEED pages are evicted first and re-requested', async (t) => {
  const POOL_PAGES = 64;
  const pager = await UserPager.create({ physicalMemory: POOL_PAGES * P });
  try {
    const { sys } = pager;
    const hinted = suppliedVmo(pager);
    const other = suppliedVmo(pager);
    sys.vmoOpRange(hinted.handle, ZX_VMO_OP_DONT_NEED, 0, V_PAGES * P);
    const filler = new Filler(sys, POOL_PAGES);
    ensureOk(t, filler.touchMany(POOL_PAGES - 2 * V_PAGES), 'fill the free frames');
    t.equal(committed(sys, hinted.handle) + committed(sys, other.handle), 2 * V_PAGES, 'nothing evicted while frames were free');

    const EXTRA = 8;
    ensureOk(t, filler.touchMany(EXTRA), `${EXTRA} more pages, from reclaim`);
    t.equal(committed(sys, other.handle), V_PAGES, 'the unhinted VMO kept every page');
    t.ok(committed(sys, hinted.handle) <= V_PAGES - EXTRA, `the hinted VMO gave up at least ${EXTRA} pages`, { committed: committed(sys, hinted.handle) });

    const reader = pager.startRead(hinted, 0, 1);
    ensure(t, await pager.waitForPageRead(hinted, 0, 1), 'the evicted page 0 raises R(0,1) again');
    pager.supplyPages(hinted, 0, 1);
    t.ok(checkContent(await reader.wait<Uint8Array>(), hinted.key, 0), 'the re-supplied page reads the content');
    expectNoRequest(t, pager, hinted, 'no further READ');
    expectNoRequest(t, pager, other, 'no READ for the unhinted VMO');
  } finally {
    await pager.close();
  }
});

// Tests that Dirty and AwaitingClean pages are never evicted: allocation fails with ZX_ERR_NO_MEMORY until a writeback.
t.test('pressure: Dirty pages are never evicted', async (t) => {
  const POOL_PAGES = 32;
  const pager = await UserPager.create({ physicalMemory: POOL_PAGES * P });
  try {
    const { sys } = pager;
    const vmo = suppliedVmo(pager);
    await startFill(pager, vmo, 0, V_PAGES, 0x33).wait();
    verifyDirtyRanges(t, pager, vmo, [[0, V_PAGES, false]], 'every page is Dirty');

    const filler = new Filler(sys, POOL_PAGES);
    t.equal(filler.touchMany(POOL_PAGES), 'ZX_ERR_NO_MEMORY', 'allocation fails with only Dirty pages to reclaim');
    t.equal(filler.written, POOL_PAGES - V_PAGES, 'exactly the free frames were allocated');
    t.equal(committed(sys, vmo.handle), V_PAGES, 'no Dirty page was evicted');
    const content = await pager.startRead(vmo, 0, V_PAGES).wait<Uint8Array>();
    t.ok(content.every((b) => b === 0x33), 'the Dirty content is intact');
    expectNoRequest(t, pager, vmo, 'reading it raised no request');

    ensureOk(t, writebackBeginPages(pager, vmo, 0, V_PAGES), 'BEGIN(0,16)');
    t.equal(filler.touch(), 'ZX_ERR_NO_MEMORY', 'AwaitingClean pages are not evicted either');
    t.equal(committed(sys, vmo.handle), V_PAGES, 'still every page');
    ensureOk(t, writebackEndPages(pager, vmo, 0, V_PAGES), 'END(0,16)');
    verifyDirtyRanges(t, pager, vmo, [], 'clean after the writeback');
    t.equal(filler.touch(), 'ZX_OK', 'the next allocation succeeds');
    t.ok(committed(sys, vmo.handle) < V_PAGES, 'by evicting a now-clean page', { committed: committed(sys, vmo.handle) });
  } finally {
    await pager.close();
  }
});

// Tests that ALWAYS_NEED pages survive while other clean pages exist and are evicted last instead of failing.
t.test('pressure: ALWAYS_NEED pages are evicted last', async (t) => {
  const POOL_PAGES = 64;
  const pager = await UserPager.create({ physicalMemory: POOL_PAGES * P });
  try {
    const { sys } = pager;
    const protectedVmo = suppliedVmo(pager);
    t.equal(await runOp(pager.startThread('vmoOpRange', { vmo: protectedVmo.handle, op: ZX_VMO_OP_ALWAYS_NEED, offset: 0, size: V_PAGES * P })), 'ZX_OK', 'ALWAYS_NEED');
    expectNoRequest(t, pager, protectedVmo, 'the hint on present pages requested nothing');
    const other = suppliedVmo(pager);
    const filler = new Filler(sys, POOL_PAGES + 8);
    ensureOk(t, filler.touchMany(POOL_PAGES - 2 * V_PAGES + 8), 'fill the free frames and 8 more');
    t.equal(committed(sys, protectedVmo.handle), V_PAGES, 'the ALWAYS_NEED VMO kept every page');
    t.ok(committed(sys, other.handle) <= V_PAGES - 8, 'the other VMO gave up its pages', { committed: committed(sys, other.handle) });

    let otherAtFirstLoss = -1;
    let last = 'ZX_OK';
    while (filler.written < POOL_PAGES) {
      last = filler.touch();
      if (last !== 'ZX_OK') break;
      if (otherAtFirstLoss < 0 && committed(sys, protectedVmo.handle) < V_PAGES) otherAtFirstLoss = committed(sys, other.handle);
    }
    t.equal(last, 'ZX_OK', 'allocation never failed while ALWAYS_NEED pages could still be evicted');
    t.equal(otherAtFirstLoss, 0, 'the first ALWAYS_NEED page went only after every other clean page');
    t.equal(committed(sys, protectedVmo.handle), 0, 'in the end ALWAYS_NEED pages were evicted too');
    t.equal(filler.touch(), 'ZX_ERR_NO_MEMORY', 'and then nothing is left');
  } finally {
    await pager.close();
  }
});
