// Argument validation of zx_pager_op_range and the two queries, and query pagination
// (docs/conformance/writeback-tests.md §2.14). The JS API has no user buffers: maxRanges stands for the buffer
// size, so the rows about NULL or kernel-pointer buffers and the stats buffer size do not apply
// (InvalidQuery's "buffer too small" and "invalid buffer" rows, QueryDirtyRangesInvalidBuffer). An
// 8-byte buffer, too small for one entry, is maxRanges 0.

import t from 'tap';
import {
  PAGE_SIZE,
  ZX_DEFAULT_PAGER_RIGHTS,
  ZX_DEFAULT_VMO_RIGHTS,
  ZX_ERR_BAD_STATE,
  ZX_ERR_INTERNAL,
  ZX_HANDLE_INVALID,
  ZX_PAGER_OP_DIRTY,
  ZX_PAGER_OP_FAIL,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
  ZX_RIGHT_MANAGE_VMO,
  ZX_RIGHT_READ,
  ZX_RIGHT_WRITE,
  ZX_VMO_TRAP_DIRTY,
} from '../../core/index.js';
import type { UserPager, Vmo } from '../helpers/user_pager.js';
import { statusNameOf } from '../helpers/user_pager.js';
import { ensureOk, noLeftovers, pagerTest, runOp, startWrite } from '../helpers/writeback.js';

const P = PAGE_SIZE;
const OPS: [string, number][] = [
  ['FAIL', ZX_PAGER_OP_FAIL],
  ['DIRTY', ZX_PAGER_OP_DIRTY],
  ['WRITEBACK_BEGIN', ZX_PAGER_OP_WRITEBACK_BEGIN],
  ['WRITEBACK_END', ZX_PAGER_OP_WRITEBACK_END],
];

/**
 * A one-page VMO of a separate pager `pagerHandle`, on the UserPager's port so that noLeftovers can
 * look for its packets, under a key no UserPager VMO uses.
 */
function rawVmo(pager: UserPager, pagerHandle: number, options: number, key: bigint, pageCount = 1): Vmo {
  const handle = pager.sys.pagerCreateVmo(pagerHandle, options, pager.port, key, pageCount * P);
  return { handle, key, size: pageCount * P, pageCount };
}

// Tests the error matrix of zx_pager_op_range: handles, types, rights, relations, alignment, range,
// opcodes and each op's data.
pagerTest(t, 'InvalidPagerOpRange', async (t, pager) => {
  const sys = pager.sys;
  const pagerHandle = sys.pagerCreate(0);
  const vmos: Vmo[] = [];
  let key = 1n << 40n;
  const op = (p: number, o: number, v: number, offset: number, length: number, data: number | bigint = 0): string =>
    statusNameOf(() => sys.pagerOpRange(p, o, v, offset, length, data));

  for (const [name, code] of OPS) {
    const vmo = rawVmo(pager, pagerHandle, ZX_VMO_TRAP_DIRTY, key++);
    vmos.push(vmo);
    t.equal(op(ZX_HANDLE_INVALID, code, vmo.handle, 0, 0), 'ZX_ERR_BAD_HANDLE', `${name}: invalid pager handle`);
    t.equal(op(pagerHandle, code, ZX_HANDLE_INVALID, 0, 0), 'ZX_ERR_BAD_HANDLE', `${name}: invalid VMO handle`);
    t.equal(op(vmo.handle, code, vmo.handle, 0, 0), 'ZX_ERR_WRONG_TYPE', `${name}: a VMO as the pager`);
    t.equal(op(pagerHandle, code, pagerHandle, 0, 0), 'ZX_ERR_WRONG_TYPE', `${name}: a pager as the VMO`);
    const readOnly = sys.handleDuplicate(vmo.handle, ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_WRITE);
    t.equal(op(pagerHandle, code, readOnly, 0, 0), 'ZX_ERR_ACCESS_DENIED', `${name}: a VMO without ZX_RIGHT_WRITE`);
    const anonymous = sys.vmoCreate(P, 0);
    t.equal(op(pagerHandle, code, anonymous, 0, 0), 'ZX_ERR_INVALID_ARGS', `${name}: a non-pager VMO`);
    const otherPager = sys.pagerCreate(0);
    t.equal(op(otherPager, code, vmo.handle, 0, 0), 'ZX_ERR_INVALID_ARGS', `${name}: a VMO of another pager`);
    t.equal(op(pagerHandle, code, vmo.handle, 1, 0), 'ZX_ERR_INVALID_ARGS', `${name}: misaligned offset`);
    t.equal(op(pagerHandle, code, vmo.handle, 0, 1), 'ZX_ERR_INVALID_ARGS', `${name}: misaligned length`);
    const data = code === ZX_PAGER_OP_FAIL ? ZX_ERR_BAD_STATE : 0;
    t.equal(op(pagerHandle, code, vmo.handle, P, P, data), 'ZX_ERR_OUT_OF_RANGE', `${name}: [1 page, 2 pages) out of range`);
    for (const h of [readOnly, anonymous, otherPager]) sys.handleClose(h);
  }

  const noTrap = rawVmo(pager, pagerHandle, 0, key++);
  vmos.push(noTrap);
  t.equal(op(pagerHandle, 0, noTrap.handle, 0, 0), 'ZX_ERR_NOT_SUPPORTED', 'opcode 0');
  t.equal(op(pagerHandle, ZX_PAGER_OP_FAIL, noTrap.handle, 0, 0, 0x11ffffffff), 'ZX_ERR_INVALID_ARGS', 'FAIL with data 0x11ffffffff');
  t.equal(op(pagerHandle, ZX_PAGER_OP_FAIL, noTrap.handle, 0, 0, ZX_ERR_INTERNAL), 'ZX_ERR_INVALID_ARGS', 'FAIL with ZX_ERR_INTERNAL');
  t.equal(op(pagerHandle, ZX_PAGER_OP_FAIL, noTrap.handle, 0, 0, 100), 'ZX_ERR_INVALID_ARGS', 'FAIL with 100');
  t.equal(op(pagerHandle, ZX_PAGER_OP_DIRTY, noTrap.handle, 0, 0), 'ZX_ERR_NOT_SUPPORTED', 'DIRTY on a VMO without TRAP_DIRTY');

  const trap = rawVmo(pager, pagerHandle, ZX_VMO_TRAP_DIRTY, key++);
  vmos.push(trap);
  t.equal(op(pagerHandle, ZX_PAGER_OP_DIRTY, trap.handle, 0, P), 'ZX_ERR_NOT_FOUND', 'DIRTY over an unsupplied page');
  t.equal(op(pagerHandle, ZX_PAGER_OP_DIRTY, trap.handle, 0, 0, 100), 'ZX_ERR_INVALID_ARGS', 'DIRTY with data 100');
  t.equal(op(pagerHandle, ZX_PAGER_OP_WRITEBACK_BEGIN, trap.handle, 0, 0, 100), 'ZX_ERR_INVALID_ARGS', 'WRITEBACK_BEGIN with data 100');
  t.equal(op(pagerHandle, ZX_PAGER_OP_WRITEBACK_END, trap.handle, 0, 0, 100), 'ZX_ERR_INVALID_ARGS', 'WRITEBACK_END with data 100');

  const weakPager = sys.handleReplace(pagerHandle, ZX_DEFAULT_PAGER_RIGHTS & ~ZX_RIGHT_MANAGE_VMO);
  for (const [name, code] of OPS) {
    t.equal(op(weakPager, code, trap.handle, 0, 0), 'ZX_ERR_ACCESS_DENIED', `${name}: a pager without ZX_RIGHT_MANAGE_VMO`);
  }
  for (const vmo of vmos) noLeftovers(t, pager, vmo, `no requests for VMO key ${vmo.key}`);
});

// Tests the error matrix of zx_pager_query_dirty_ranges and zx_pager_query_vmo_stats (the rows the
// JS API can express).
pagerTest(t, 'InvalidQuery', async (t, pager) => {
  const sys = pager.sys;
  const pagerHandle = sys.pagerCreate(0);
  const vmo = rawVmo(pager, pagerHandle, 0, 1n << 41n);
  const query = (p: number, v: number, offset = 0, length = 0): string => statusNameOf(() => sys.pagerQueryDirtyRanges(p, v, offset, length, 0));
  const stats = (p: number, v: number, options = 0): string => statusNameOf(() => sys.pagerQueryVmoStats(p, v, options));

  t.equal(query(ZX_HANDLE_INVALID, vmo.handle), 'ZX_ERR_BAD_HANDLE', 'query: invalid pager handle');
  t.equal(query(pagerHandle, ZX_HANDLE_INVALID), 'ZX_ERR_BAD_HANDLE', 'query: invalid VMO handle');
  t.equal(stats(ZX_HANDLE_INVALID, vmo.handle), 'ZX_ERR_BAD_HANDLE', 'stats: invalid pager handle');
  t.equal(stats(pagerHandle, ZX_HANDLE_INVALID), 'ZX_ERR_BAD_HANDLE', 'stats: invalid VMO handle');

  t.equal(query(vmo.handle, vmo.handle), 'ZX_ERR_WRONG_TYPE', 'query: a VMO as the pager');
  t.equal(query(pagerHandle, pagerHandle), 'ZX_ERR_WRONG_TYPE', 'query: a pager as the VMO');
  t.equal(stats(vmo.handle, vmo.handle), 'ZX_ERR_WRONG_TYPE', 'stats: a VMO as the pager');
  t.equal(stats(pagerHandle, pagerHandle), 'ZX_ERR_WRONG_TYPE', 'stats: a pager as the VMO');

  const noRead = sys.handleDuplicate(vmo.handle, ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_READ);
  t.equal(query(pagerHandle, noRead), 'ZX_ERR_ACCESS_DENIED', 'query: a VMO without ZX_RIGHT_READ');
  t.equal(stats(pagerHandle, noRead), 'ZX_ERR_ACCESS_DENIED', 'stats: a VMO without ZX_RIGHT_READ');

  const anonymous = sys.vmoCreate(P, 0);
  t.equal(query(pagerHandle, anonymous), 'ZX_ERR_INVALID_ARGS', 'query: a non-pager VMO');
  t.equal(stats(pagerHandle, anonymous), 'ZX_ERR_INVALID_ARGS', 'stats: a non-pager VMO');

  const otherPager = sys.pagerCreate(0);
  t.equal(query(otherPager, vmo.handle), 'ZX_ERR_INVALID_ARGS', 'query: a VMO of another pager');
  t.equal(stats(otherPager, vmo.handle), 'ZX_ERR_INVALID_ARGS', 'stats: a VMO of another pager');

  t.equal(query(pagerHandle, vmo.handle, P, P), 'ZX_ERR_OUT_OF_RANGE', 'query: [1 page, 2 pages) out of range');
  t.equal(stats(pagerHandle, vmo.handle, 100), 'ZX_ERR_INVALID_ARGS', 'stats: options 100');

  const weakPager = sys.handleReplace(pagerHandle, ZX_DEFAULT_PAGER_RIGHTS & ~ZX_RIGHT_MANAGE_VMO);
  t.equal(query(weakPager, vmo.handle), 'ZX_ERR_ACCESS_DENIED', 'query: a pager without ZX_RIGHT_MANAGE_VMO');
  t.equal(stats(weakPager, vmo.handle), 'ZX_ERR_ACCESS_DENIED', 'stats: a pager without ZX_RIGHT_MANAGE_VMO');
  for (const h of [noRead, anonymous, otherPager]) sys.handleClose(h);
  noLeftovers(t, pager, vmo);
});

// Tests that a query stops at a full buffer: no room gives actual 0, one entry gives the first range
// with avail 2, two entries give both.
pagerTest(t, 'QueryEarlyTermination', async (t, pager) => {
  const sys = pager.sys;
  const pagerHandle = sys.pagerCreate(0);
  const vmo = rawVmo(pager, pagerHandle, 0, 1n << 42n, 3);
  const aux = sys.vmoCreate(P, 0);
  sys.pagerSupplyPages(pagerHandle, vmo.handle, 0, P, aux, 0);
  sys.pagerSupplyPages(pagerHandle, vmo.handle, 2 * P, P, aux, 0);
  sys.handleClose(aux);
  const word = new Uint8Array(8);
  new DataView(word.buffer).setBigUint64(0, 42n, true);
  ensureOk(t, await runOp(startWrite(pager, vmo, 0, word)), 'write 8 bytes at page 0');
  ensureOk(t, await runOp(startWrite(pager, vmo, 2 * P, word)), 'write 8 bytes at page 2');

  const none = sys.pagerQueryDirtyRanges(pagerHandle, vmo.handle, 0, P, 0);
  t.equal(none.actual, 0, 'a buffer too small for one entry: actual 0');
  const one = sys.pagerQueryDirtyRanges(pagerHandle, vmo.handle, 0, 3 * P, 1);
  t.equal(one.actual, 1, 'a 1-entry buffer: actual 1');
  t.same(one.ranges, [{ offset: 0, length: P, options: 0 }], 'the first range');
  t.equal(one.avail, 2, 'avail 2');
  const two = sys.pagerQueryDirtyRanges(pagerHandle, vmo.handle, 0, 3 * P, 2);
  t.equal(two.actual, 2, 'a 2-entry buffer: actual 2');
  t.same(two.ranges, [{ offset: 0, length: P, options: 0 }, { offset: 2 * P, length: P, options: 0 }], 'both ranges');
  noLeftovers(t, pager, vmo);
});
