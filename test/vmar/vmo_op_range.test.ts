// zx_vmo_op_range's argument, rights and state checks for every op, as its reference page lists them
// (docs/api.md, docs/semantics.md §2.10): the right each op needs (ACCESS_DENIED with a reduced
// handle), OUT_OF_RANGE ranges, INVALID_ARGS for unknown ops, zero-sized cache ops and unaligned
// DECOMMIT, NOT_SUPPORTED for lock ops on non-discardable VMOs, DECOMMIT on pager VMOs and
// CACHE_INVALIDATE without kernel.enable-debugging-syscalls, UNAVAILABLE for TRY_LOCK after a
// discard and BAD_STATE for UNLOCK of an unlocked VMO; and that valid calls succeed. Ops that could
// block on a pager VMO run in threads with deadlines.

import t from 'tap';
import {
  PAGE_SIZE,
  ZX_INFO_VMO,
  ZX_RIGHTS_BASIC,
  ZX_RIGHT_MAP,
  ZX_RIGHT_READ,
  ZX_RIGHT_WRITE,
  ZX_VMO_DISCARDABLE,
  ZX_VMO_OP_ALWAYS_NEED,
  ZX_VMO_OP_CACHE_CLEAN,
  ZX_VMO_OP_CACHE_CLEAN_INVALIDATE,
  ZX_VMO_OP_CACHE_INVALIDATE,
  ZX_VMO_OP_CACHE_SYNC,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_OP_DECOMMIT,
  ZX_VMO_OP_DONT_NEED,
  ZX_VMO_OP_LOCK,
  ZX_VMO_OP_PREFETCH,
  ZX_VMO_OP_TRY_LOCK,
  ZX_VMO_OP_UNLOCK,
  ZX_VMO_OP_ZERO,
} from '../../core/index.js';
import type { LockState, Sys } from '../../core/index.js';
import { statusNameOf } from '../helpers/user_pager.js';
import { RawPager } from '../helpers/vmar.js';
import { harnessTest } from '../helpers/vmo_vmar.js';
import { runOp } from '../helpers/writeback.js';

const P = PAGE_SIZE;
const UINT64_MAX = 2 ** 64 - 1;
const CACHE_OPS = [
  ['CACHE_SYNC', ZX_VMO_OP_CACHE_SYNC],
  ['CACHE_CLEAN', ZX_VMO_OP_CACHE_CLEAN],
  ['CACHE_CLEAN_INVALIDATE', ZX_VMO_OP_CACHE_CLEAN_INVALIDATE],
] as const;
const LOCK_OPS = [
  ['LOCK', ZX_VMO_OP_LOCK],
  ['TRY_LOCK', ZX_VMO_OP_TRY_LOCK],
  ['UNLOCK', ZX_VMO_OP_UNLOCK],
] as const;

/** zx_vmo_op_range on this thread, as a status name (for ops that cannot block). */
function opStatus(sys: Sys, vmo: number, op: number, offset: number, size: number): string {
  return statusNameOf(() => sys.vmoOpRange(vmo, op, offset, size));
}

/** zx_vmo_op_range in a thread with a deadline, as a status name (for ops that may block). */
async function threadOpStatus(pager: RawPager, vmo: number, op: number, offset: number, size: number): Promise<string> {
  return runOp(pager.startThread('vmoOpRange', { vmo, op, offset, size }));
}

function committedBytes(sys: Sys, vmo: number): number {
  return sys.objectGetInfo(vmo, ZX_INFO_VMO).committedBytes;
}

// Tests that every op checks its right (WRITE, READ, READ or WRITE for locks, none for hints): ACCESS_DENIED.
harnessTest(t, 'vmo_op_range: rights', () => RawPager.create({ physicalMemory: 256 * P, enableDebuggingSyscalls: true }), async (t, pager) => {
  const { sys } = pager;
  const vmo = sys.vmoCreate(4 * P, 0);
  const readOnly = sys.handleDuplicate(vmo, ZX_RIGHTS_BASIC | ZX_RIGHT_READ | ZX_RIGHT_MAP);
  const writeOnly = sys.handleDuplicate(vmo, ZX_RIGHTS_BASIC | ZX_RIGHT_WRITE | ZX_RIGHT_MAP);
  const noIo = sys.handleDuplicate(vmo, ZX_RIGHTS_BASIC);
  for (const [name, op] of [['COMMIT', ZX_VMO_OP_COMMIT], ['DECOMMIT', ZX_VMO_OP_DECOMMIT], ['ZERO', ZX_VMO_OP_ZERO], ['CACHE_INVALIDATE', ZX_VMO_OP_CACHE_INVALIDATE]] as const) {
    t.equal(opStatus(sys, readOnly, op, 0, P), 'ZX_ERR_ACCESS_DENIED', `${name} without ZX_RIGHT_WRITE`);
    t.equal(opStatus(sys, writeOnly, op, 0, P), 'ZX_OK', `${name} with ZX_RIGHT_WRITE`);
  }
  for (const [name, op] of [...CACHE_OPS, ['PREFETCH', ZX_VMO_OP_PREFETCH]] as const) {
    t.equal(opStatus(sys, writeOnly, op, 0, P), 'ZX_ERR_ACCESS_DENIED', `${name} without ZX_RIGHT_READ`);
    t.equal(opStatus(sys, readOnly, op, 0, P), 'ZX_OK', `${name} with ZX_RIGHT_READ`);
  }
  for (const [name, op] of [['DONT_NEED', ZX_VMO_OP_DONT_NEED], ['ALWAYS_NEED', ZX_VMO_OP_ALWAYS_NEED]] as const) {
    t.equal(opStatus(sys, noIo, op, 0, P), 'ZX_OK', `${name} needs no right`);
  }

  const discardable = sys.vmoCreate(2 * P, ZX_VMO_DISCARDABLE);
  const dRead = sys.handleDuplicate(discardable, ZX_RIGHTS_BASIC | ZX_RIGHT_READ);
  const dWrite = sys.handleDuplicate(discardable, ZX_RIGHTS_BASIC | ZX_RIGHT_WRITE);
  const dNone = sys.handleDuplicate(discardable, ZX_RIGHTS_BASIC);
  for (const [name, op] of LOCK_OPS) {
    t.equal(opStatus(sys, dNone, op, 0, 2 * P), 'ZX_ERR_ACCESS_DENIED', `${name} without READ or WRITE`);
  }
  t.equal(opStatus(sys, dRead, ZX_VMO_OP_LOCK, 0, 2 * P), 'ZX_OK', 'LOCK with READ only');
  t.equal(opStatus(sys, dRead, ZX_VMO_OP_UNLOCK, 0, 2 * P), 'ZX_OK', 'UNLOCK with READ only');
  t.equal(opStatus(sys, dWrite, ZX_VMO_OP_TRY_LOCK, 0, 2 * P), 'ZX_OK', 'TRY_LOCK with WRITE only');
  t.equal(opStatus(sys, dWrite, ZX_VMO_OP_UNLOCK, 0, 2 * P), 'ZX_OK', 'UNLOCK with WRITE only');
  for (const h of [readOnly, writeOnly, noIo, vmo, dRead, dWrite, dNone, discardable]) sys.handleClose(h);
});

// Tests the handle checks every op shares: a bad handle and a handle that is not a VMO.
harnessTest(t, 'vmo_op_range: handles', () => RawPager.create({ physicalMemory: 64 * P }), async (t, pager) => {
  const { sys } = pager;
  const vmo = sys.vmoCreate(P, 0);
  sys.handleClose(vmo);
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_COMMIT, 0, P), 'ZX_ERR_BAD_HANDLE', 'a closed handle');
  t.equal(opStatus(sys, pager.port, ZX_VMO_OP_COMMIT, 0, P), 'ZX_ERR_WRONG_TYPE', 'a port handle');
  t.equal(opStatus(sys, pager.port, ZX_VMO_OP_DONT_NEED, 0, P), 'ZX_ERR_WRONG_TYPE', 'a hint on a port handle');
});

// Tests OUT_OF_RANGE for every op that checks its range, and that hints on anonymous VMOs check none.
harnessTest(t, 'vmo_op_range: ranges', () => RawPager.create({ physicalMemory: 256 * P, enableDebuggingSyscalls: true }), async (t, pager) => {
  const { sys } = pager;
  const vmo = sys.vmoCreate(4 * P, 0);
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_COMMIT, 3 * P, 2 * P), 'ZX_ERR_OUT_OF_RANGE', 'COMMIT [3P, +2P) of 4 pages');
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_COMMIT, P, UINT64_MAX), 'ZX_ERR_OUT_OF_RANGE', 'COMMIT (P, UINT64_MAX)');
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_DECOMMIT, 4 * P, P), 'ZX_ERR_OUT_OF_RANGE', 'DECOMMIT [4P, +P)');
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_ZERO, 3 * P, 2 * P), 'ZX_ERR_OUT_OF_RANGE', 'ZERO [3P, +2P)');
  for (const [name, op] of [...CACHE_OPS, ['CACHE_INVALIDATE', ZX_VMO_OP_CACHE_INVALIDATE]] as const) {
    t.equal(opStatus(sys, vmo, op, 0, 5 * P), 'ZX_ERR_OUT_OF_RANGE', `${name} [0, 5P)`);
  }
  for (const [name, op] of [['DONT_NEED', ZX_VMO_OP_DONT_NEED], ['ALWAYS_NEED', ZX_VMO_OP_ALWAYS_NEED]] as const) {
    t.equal(opStatus(sys, vmo, op, 0, 20 * P), 'ZX_OK', `${name} on an anonymous VMO succeeds out of range`);
  }
  t.equal(committedBytes(sys, vmo), 0, 'no op above committed anything');

  const discardable = sys.vmoCreate(2 * P, ZX_VMO_DISCARDABLE);
  for (const [name, op] of [['LOCK', ZX_VMO_OP_LOCK], ['TRY_LOCK', ZX_VMO_OP_TRY_LOCK]] as const) {
    t.equal(opStatus(sys, discardable, op, 0, P), 'ZX_ERR_OUT_OF_RANGE', `${name} of part of the VMO`);
    t.equal(opStatus(sys, discardable, op, 0, 3 * P), 'ZX_ERR_OUT_OF_RANGE', `${name} past the end`);
  }

  const pagerVmo = pager.createVmo(4);
  t.equal(opStatus(sys, pagerVmo.handle, ZX_VMO_OP_DONT_NEED, 4 * P, P), 'ZX_ERR_OUT_OF_RANGE', 'DONT_NEED past a pager VMO');
  t.equal(await threadOpStatus(pager, pagerVmo.handle, ZX_VMO_OP_ALWAYS_NEED, 2 * P, 3 * P), 'ZX_ERR_OUT_OF_RANGE', 'ALWAYS_NEED past a pager VMO');
  t.equal(await threadOpStatus(pager, pagerVmo.handle, ZX_VMO_OP_PREFETCH, 0, 5 * P), 'ZX_ERR_OUT_OF_RANGE', 'PREFETCH past a pager VMO');
  t.equal(await threadOpStatus(pager, pagerVmo.handle, ZX_VMO_OP_COMMIT, 3 * P, 2 * P), 'ZX_ERR_OUT_OF_RANGE', 'COMMIT past a pager VMO');
  t.ok(pager.noRequest(pagerVmo), 'no rejected op requested a page');
  sys.handleClose(vmo);
  sys.handleClose(discardable);
});

// Tests INVALID_ARGS for an unknown op, for a cache op of size 0, and for an unaligned DECOMMIT.
harnessTest(t, 'vmo_op_range: invalid args', () => RawPager.create({ physicalMemory: 64 * P, enableDebuggingSyscalls: true }), async (t, pager) => {
  const { sys } = pager;
  const vmo = sys.vmoCreate(4 * P, 0);
  for (const op of [0, 5, 15, 999]) t.equal(opStatus(sys, vmo, op, 0, P), 'ZX_ERR_INVALID_ARGS', `unknown op ${op}`);
  for (const [name, op] of [...CACHE_OPS, ['CACHE_INVALIDATE', ZX_VMO_OP_CACHE_INVALIDATE]] as const) {
    t.equal(opStatus(sys, vmo, op, 0, 0), 'ZX_ERR_INVALID_ARGS', `${name} of size 0`);
  }
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_DECOMMIT, 8, P), 'ZX_ERR_INVALID_ARGS', 'DECOMMIT at an unaligned offset');
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_DECOMMIT, 0, P + 8), 'ZX_ERR_INVALID_ARGS', 'DECOMMIT of an unaligned size');
  sys.handleClose(vmo);
});

// Tests NOT_SUPPORTED: lock ops on non-discardable VMOs, DECOMMIT on pager VMOs, CACHE_INVALIDATE without debugging.
harnessTest(t, 'vmo_op_range: not supported', () => RawPager.create({ physicalMemory: 64 * P }), async (t, pager) => {
  const { sys } = pager;
  const vmo = sys.vmoCreate(2 * P, 0);
  const pagerVmo = pager.createVmo(2);
  for (const [name, op] of LOCK_OPS) {
    t.equal(opStatus(sys, vmo, op, 0, 2 * P), 'ZX_ERR_NOT_SUPPORTED', `${name} on an anonymous VMO`);
    t.equal(opStatus(sys, pagerVmo.handle, op, 0, 2 * P), 'ZX_ERR_NOT_SUPPORTED', `${name} on a pager VMO`);
  }
  t.equal(opStatus(sys, pagerVmo.handle, ZX_VMO_OP_DECOMMIT, 0, P), 'ZX_ERR_NOT_SUPPORTED', 'DECOMMIT on a pager VMO');
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_CACHE_INVALIDATE, 0, P), 'ZX_ERR_NOT_SUPPORTED', 'CACHE_INVALIDATE without debugging syscalls');
  t.ok(pager.noRequest(pagerVmo), 'nothing requested');
  sys.handleClose(vmo);
});

/** The lock-states test's whole pool, in pages: small, so filling it forces a discard. */
const LOCK_POOL_PAGES = 16;

// Tests the lock states: locks nest, UNLOCK unlocked is BAD_STATE, after a discard TRY_LOCK is UNAVAILABLE and LOCK reports it.
harnessTest(t, 'vmo_op_range: lock states', () => RawPager.create({ physicalMemory: LOCK_POOL_PAGES * P }), async (t, pager) => {
  const POOL_PAGES = LOCK_POOL_PAGES;
  const D_PAGES = 4;
  const { sys } = pager;
  const d = sys.vmoCreate(D_PAGES * P, ZX_VMO_DISCARDABLE);
  t.equal(opStatus(sys, d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P), 'ZX_ERR_BAD_STATE', 'UNLOCK of a fresh (unlocked) VMO');
  const first = sys.vmoOpRange(d, ZX_VMO_OP_LOCK, 0, D_PAGES * P) as LockState;
  t.same(first, { offset: 0, size: D_PAGES * P, discardedOffset: 0, discardedSize: 0 }, 'LOCK: the locked range, nothing discarded');
  t.equal(opStatus(sys, d, ZX_VMO_OP_TRY_LOCK, 0, D_PAGES * P), 'ZX_OK', 'TRY_LOCK of a locked VMO nests');
  t.equal(opStatus(sys, d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P), 'ZX_OK', 'first UNLOCK');
  t.equal(opStatus(sys, d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P), 'ZX_OK', 'second UNLOCK');
  t.equal(opStatus(sys, d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P), 'ZX_ERR_BAD_STATE', 'a third UNLOCK');

  sys.vmoOpRange(d, ZX_VMO_OP_LOCK, 0, D_PAGES * P);
  sys.vmoWrite(d, new Uint8Array(D_PAGES * P).fill(0x5a), 0);
  sys.vmoOpRange(d, ZX_VMO_OP_UNLOCK, 0, D_PAGES * P);
  t.equal(committedBytes(sys, d), D_PAGES * P, 'unlocked pages still count as committed');

  // Fill the pool with anonymous pages: reclaim has nothing but the unlocked VMO to take.
  const filler = sys.vmoCreate(POOL_PAGES * P, 0);
  let written = 0;
  for (; written < POOL_PAGES; written++) {
    if (statusNameOf(() => sys.vmoWrite(filler, Uint8Array.of(1), written * P)) !== 'ZX_OK') break;
  }
  t.equal(written, POOL_PAGES, 'the whole pool could be allocated: the unlocked VMO was discarded');
  t.equal(committedBytes(sys, d), 0, 'the discarded VMO holds nothing');
  t.equal(opStatus(sys, d, ZX_VMO_OP_TRY_LOCK, 0, D_PAGES * P), 'ZX_ERR_UNAVAILABLE', 'TRY_LOCK after the discard');
  const relocked = sys.vmoOpRange(d, ZX_VMO_OP_LOCK, 0, D_PAGES * P) as LockState;
  t.same(relocked, { offset: 0, size: D_PAGES * P, discardedOffset: 0, discardedSize: D_PAGES * P }, 'LOCK reports the discarded range');
  t.equal(opStatus(sys, d, ZX_VMO_OP_TRY_LOCK, 0, D_PAGES * P), 'ZX_OK', 'TRY_LOCK succeeds once LOCK cleared the discard');
  sys.handleClose(filler);
  sys.handleClose(d);
});

// Tests that valid calls succeed and do what the reference page says (COMMIT, ZERO, DECOMMIT, cache ops, hints).
harnessTest(t, 'vmo_op_range: valid calls', () => RawPager.create({ physicalMemory: 64 * P, enableDebuggingSyscalls: true }), async (t, pager) => {
  const { sys } = pager;
  const vmo = sys.vmoCreate(4 * P, 0);
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_COMMIT, 0, 4 * P), 'ZX_OK', 'COMMIT [0, 4P)');
  t.equal(committedBytes(sys, vmo), 4 * P, 'four pages committed');
  sys.vmoWrite(vmo, new Uint8Array(4 * P).fill(0x77), 0);
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_ZERO, P + 100, 200), 'ZX_OK', 'ZERO of part of page 1');
  const page1 = new Uint8Array(P);
  sys.vmoRead(vmo, page1, P);
  t.ok(page1.subarray(100, 300).every((b) => b === 0) && page1[99] === 0x77 && page1[300] === 0x77, 'exactly the range was zeroed');
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_DECOMMIT, 2 * P, 2 * P), 'ZX_OK', 'DECOMMIT [2P, 4P)');
  t.equal(committedBytes(sys, vmo), 2 * P, 'two pages left');
  const tail = new Uint8Array(2 * P);
  sys.vmoRead(vmo, tail, 2 * P);
  t.ok(tail.every((b) => b === 0), 'decommitted pages read as zero');
  for (const [name, op] of [...CACHE_OPS, ['CACHE_INVALIDATE', ZX_VMO_OP_CACHE_INVALIDATE]] as const) {
    t.equal(opStatus(sys, vmo, op, 8, P), 'ZX_OK', `${name} of an unaligned range`);
  }
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_DONT_NEED, 0, 4 * P), 'ZX_OK', 'DONT_NEED');
  t.equal(opStatus(sys, vmo, ZX_VMO_OP_ALWAYS_NEED, 0, 4 * P), 'ZX_OK', 'ALWAYS_NEED');
  t.equal(committedBytes(sys, vmo), 2 * P, 'hints on an anonymous VMO change nothing');
  sys.handleClose(vmo);
});
