// Argument, rights and handle validation of the pager syscalls (docs/conformance/pager-tests.md §2.14 and
// Appendix A's InvalidPagerOpRange, with the DIRTY/WRITEBACK rows of docs/conformance/writeback-tests.md §2.14).
// Each row names its call; the expected statuses and their order come from the catalog tables.
// The rows that need the system resource (physical VMOs, BTI pinning) are not ported.

import t from 'tap';
import type { Test } from 'tap';
import {
  PAGE_SIZE,
  ZX_DEFAULT_PAGER_RIGHTS,
  ZX_DEFAULT_PORT_RIGHTS,
  ZX_DEFAULT_VMO_RIGHTS,
  ZX_ERR_ACCESS_DENIED,
  ZX_ERR_BAD_HANDLE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_INTERNAL,
  ZX_ERR_INVALID_ARGS,
  ZX_ERR_IO,
  ZX_ERR_NOT_SUPPORTED,
  ZX_ERR_OUT_OF_RANGE,
  ZX_ERR_WRONG_TYPE,
  ZX_HANDLE_INVALID,
  ZX_OK,
  ZX_PAGER_OP_DIRTY,
  ZX_PAGER_OP_FAIL,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
  ZX_RIGHT_ATTACH_VMO,
  ZX_RIGHT_MANAGE_VMO,
  ZX_RIGHT_READ,
  ZX_RIGHT_WRITE,
  ZX_VMO_TRAP_DIRTY,
} from '../../core/index.js';
import { statusName } from '../../shared/status.js';
import { expectNoRequest } from '../helpers/check.js';
import { UserPager, statusNameOf } from '../helpers/user_pager.js';
import { withPager } from '../helpers/vmo_vmar.js';
import { pagerTest } from '../helpers/writeback.js';

const P = PAGE_SIZE;

/** Asserts that `fn` ends with `status` (compared by name, so a diff reads 'ZX_ERR_…'). */
function expectStatus(t: Test, fn: () => unknown, status: number, row: string): void {
  t.equal(statusNameOf(fn), statusName(status), row);
}

/** A fresh pager owning a fresh 1-page VMO on `port`, with the pager handle's rights reduced by `drop`. */
function ownedWithoutRights(pager: UserPager, drop: number, vmoOptions = 0): { pager: number; vmo: number } {
  const { sys } = pager;
  const raw = sys.pagerCreate(0);
  const vmo = sys.pagerCreateVmo(raw, vmoOptions, pager.port, 0x1234n, P);
  return { pager: sys.handleReplace(raw, ZX_DEFAULT_PAGER_RIGHTS & ~drop), vmo };
}

// Tests that zx_pager_create rejects non-zero options.
pagerTest(t, 'InvalidPagerCreate', async (t, pager) => {
  expectStatus(t, () => pager.sys.pagerCreate(1), ZX_ERR_INVALID_ARGS, 'options = 1');
});

// Tests zx_pager_create_vmo's argument, handle and rights checks, in the catalog's order.
pagerTest(t, 'InvalidPagerCreateVmo', async (t, pager) => {
  const { sys } = pager;
  expectStatus(t, () => sys.pagerCreateVmo(pager.pager, ~0 >>> 0, pager.port, 0, P), ZX_ERR_INVALID_ARGS, 'options = ~0');
  expectStatus(t, () => sys.pagerCreateVmo(ZX_HANDLE_INVALID, 0, pager.port, 0, P), ZX_ERR_BAD_HANDLE, 'invalid pager handle');
  expectStatus(t, () => sys.pagerCreateVmo(pager.pager, 0, ZX_HANDLE_INVALID, 0, P), ZX_ERR_BAD_HANDLE, 'invalid port handle');
  const readOnlyPort = sys.handleDuplicate(pager.port, ZX_DEFAULT_PORT_RIGHTS & ~ZX_RIGHT_WRITE);
  expectStatus(t, () => sys.pagerCreateVmo(pager.pager, 0, readOnlyPort, 0, P), ZX_ERR_ACCESS_DENIED, 'port without ZX_RIGHT_WRITE');
  expectStatus(t, () => sys.pagerCreateVmo(pager.port, 0, pager.port, 0, P), ZX_ERR_WRONG_TYPE, 'a port handle as the pager');
  const anonymous = sys.vmoCreate(P, 0);
  expectStatus(t, () => sys.pagerCreateVmo(pager.pager, 0, anonymous, 0, P), ZX_ERR_WRONG_TYPE, 'a VMO handle (with WRITE) as the port');
  // round_down(UINT64_MAX, P) + 1; as a double this rounds to 2^64 - P, still far past any VMO size.
  expectStatus(t, () => sys.pagerCreateVmo(pager.pager, 0, pager.port, 0, 2 ** 64 - P + 1), ZX_ERR_OUT_OF_RANGE, 'size = round_down(UINT64_MAX, P) + 1');
  const noAttach = sys.handleReplace(sys.pagerCreate(0), ZX_DEFAULT_PAGER_RIGHTS & ~ZX_RIGHT_ATTACH_VMO);
  expectStatus(t, () => sys.pagerCreateVmo(noAttach, 0, pager.port, 0, P), ZX_ERR_ACCESS_DENIED, 'pager without ZX_RIGHT_ATTACH_VMO');
});

// Tests zx_pager_detach_vmo's handle, ownership and rights checks (it needs both ATTACH_VMO and MANAGE_VMO).
pagerTest(t, 'InvalidPagerDetachVmo', async (t, pager) => {
  const { sys } = pager;
  const vmo = pager.createVmo(1).handle;
  expectStatus(t, () => sys.pagerDetachVmo(ZX_HANDLE_INVALID, vmo), ZX_ERR_BAD_HANDLE, 'invalid pager');
  expectStatus(t, () => sys.pagerDetachVmo(pager.pager, ZX_HANDLE_INVALID), ZX_ERR_BAD_HANDLE, 'invalid VMO');
  expectStatus(t, () => sys.pagerDetachVmo(vmo, vmo), ZX_ERR_WRONG_TYPE, 'a VMO as the pager');
  expectStatus(t, () => sys.pagerDetachVmo(pager.pager, pager.pager), ZX_ERR_WRONG_TYPE, 'the pager as the VMO');
  const noWrite = sys.handleDuplicate(vmo, ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_WRITE);
  expectStatus(t, () => sys.pagerDetachVmo(pager.pager, noWrite), ZX_ERR_ACCESS_DENIED, 'VMO without ZX_RIGHT_WRITE');
  const anonymous = sys.vmoCreate(P, 0);
  expectStatus(t, () => sys.pagerDetachVmo(pager.pager, anonymous), ZX_ERR_INVALID_ARGS, 'a non-pager VMO');
  const otherPager = sys.pagerCreate(0);
  expectStatus(t, () => sys.pagerDetachVmo(otherPager, vmo), ZX_ERR_INVALID_ARGS, 'a VMO owned by another pager');
  const noAttach = ownedWithoutRights(pager, ZX_RIGHT_ATTACH_VMO);
  expectStatus(t, () => sys.pagerDetachVmo(noAttach.pager, noAttach.vmo), ZX_ERR_ACCESS_DENIED, 'pager without ZX_RIGHT_ATTACH_VMO');
  const noManage = ownedWithoutRights(pager, ZX_RIGHT_MANAGE_VMO);
  expectStatus(t, () => sys.pagerDetachVmo(noManage.pager, noManage.vmo), ZX_ERR_ACCESS_DENIED, 'owning pager with ATTACH_VMO but without ZX_RIGHT_MANAGE_VMO');
  expectStatus(t, () => sys.pagerDetachVmo(pager.pager, vmo), ZX_OK, 'the valid detach still succeeds');
});

// Tests zx_pager_supply_pages's handle, ownership, rights, alignment, aux and range checks.
pagerTest(t, 'InvalidPagerSupplyPages', async (t, pager) => {
  const { sys } = pager;
  const vmo = pager.createVmo(1).handle;
  const aux = sys.vmoCreate(P, 0);
  const supply = (p: number, v: number, offset: number, length: number, a: number, auxOffset: number) => () =>
    sys.pagerSupplyPages(p, v, offset, length, a, auxOffset);

  expectStatus(t, supply(ZX_HANDLE_INVALID, vmo, 0, 0, aux, 0), ZX_ERR_BAD_HANDLE, 'invalid pager');
  expectStatus(t, supply(pager.pager, ZX_HANDLE_INVALID, 0, 0, aux, 0), ZX_ERR_BAD_HANDLE, 'invalid pager VMO');
  expectStatus(t, supply(pager.pager, vmo, 0, 0, ZX_HANDLE_INVALID, 0), ZX_ERR_BAD_HANDLE, 'invalid aux VMO');
  expectStatus(t, supply(vmo, vmo, 0, 0, aux, 0), ZX_ERR_WRONG_TYPE, 'a VMO as the pager');
  expectStatus(t, supply(pager.pager, pager.pager, 0, 0, aux, 0), ZX_ERR_WRONG_TYPE, 'the pager as the pager VMO');
  expectStatus(t, supply(pager.pager, vmo, 0, 0, pager.port, 0), ZX_ERR_WRONG_TYPE, 'a port as the aux VMO');
  expectStatus(t, supply(pager.pager, aux, 0, 0, aux, 0), ZX_ERR_INVALID_ARGS, 'a non-pager VMO as the pager VMO');
  const otherPager = sys.pagerCreate(0);
  expectStatus(t, supply(otherPager, vmo, 0, 0, ZX_HANDLE_INVALID, 0), ZX_ERR_INVALID_ARGS, 'a VMO owned by another pager (checked before aux)');
  const auxNoWrite = sys.handleDuplicate(aux, ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_WRITE);
  expectStatus(t, supply(pager.pager, vmo, 0, 0, auxNoWrite, 0), ZX_ERR_ACCESS_DENIED, 'aux without ZX_RIGHT_WRITE');
  const auxNoRead = sys.handleDuplicate(aux, ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_READ);
  expectStatus(t, supply(pager.pager, vmo, 0, 0, auxNoRead, 0), ZX_ERR_ACCESS_DENIED, 'aux without ZX_RIGHT_READ');
  const vmoNoWrite = sys.handleDuplicate(vmo, ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_WRITE);
  expectStatus(t, supply(pager.pager, vmoNoWrite, 0, 0, aux, 0), ZX_ERR_ACCESS_DENIED, 'pager VMO without ZX_RIGHT_WRITE');
  expectStatus(t, supply(pager.pager, vmo, 1, 0, aux, 0), ZX_ERR_INVALID_ARGS, 'offset = 1');
  expectStatus(t, supply(pager.pager, vmo, 0, 1, aux, 0), ZX_ERR_INVALID_ARGS, 'length = 1');
  expectStatus(t, supply(pager.pager, vmo, 0, 0, aux, 1), ZX_ERR_INVALID_ARGS, 'aux_offset = 1');

  const pagerAux = pager.createVmo(1);
  pager.supplyPages(pagerAux, 0, 1);
  expectStatus(t, supply(pager.pager, vmo, 0, P, pagerAux.handle, 0), ZX_ERR_NOT_SUPPORTED, 'aux is a pager-backed VMO');

  expectStatus(t, supply(pager.pager, vmo, P, P, aux, 0), ZX_ERR_OUT_OF_RANGE, 'pager VMO range out of range');
  expectStatus(t, supply(pager.pager, vmo, 0, P, aux, P), ZX_ERR_OUT_OF_RANGE, 'aux range out of range');
  const noManage = ownedWithoutRights(pager, ZX_RIGHT_MANAGE_VMO);
  expectStatus(t, supply(noManage.pager, noManage.vmo, 0, 0, aux, 0), ZX_ERR_ACCESS_DENIED, 'pager without ZX_RIGHT_MANAGE_VMO');
});

const OPS = [
  ['ZX_PAGER_OP_FAIL', ZX_PAGER_OP_FAIL],
  ['ZX_PAGER_OP_DIRTY', ZX_PAGER_OP_DIRTY],
  ['ZX_PAGER_OP_WRITEBACK_BEGIN', ZX_PAGER_OP_WRITEBACK_BEGIN],
  ['ZX_PAGER_OP_WRITEBACK_END', ZX_PAGER_OP_WRITEBACK_END],
] as const;

// Tests zx_pager_op_range's handle, ownership, alignment and range checks for every op, and FAIL's opcode/data checks.
t.test('InvalidPagerOpRange', async (t) => {
  for (const [name, op] of OPS) {
    await withPager(async (pager) => {
      const { sys } = pager;
      // A TRAP_DIRTY VMO, so DIRTY reaches its range check; FAIL rows pass a valid failure code.
      const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY).handle;
      const data = op === ZX_PAGER_OP_FAIL ? ZX_ERR_IO : 0;
      const opRange = (p: number, v: number, offset: number, length: number, d: number | bigint = data) => () =>
        sys.pagerOpRange(p, op, v, offset, length, d);

      expectStatus(t, opRange(ZX_HANDLE_INVALID, vmo, 0, P), ZX_ERR_BAD_HANDLE, `${name}: invalid pager`);
      expectStatus(t, opRange(pager.pager, ZX_HANDLE_INVALID, 0, P), ZX_ERR_BAD_HANDLE, `${name}: invalid VMO`);
      expectStatus(t, opRange(vmo, vmo, 0, P), ZX_ERR_WRONG_TYPE, `${name}: a VMO as the pager`);
      expectStatus(t, opRange(pager.pager, pager.pager, 0, P), ZX_ERR_WRONG_TYPE, `${name}: the pager as the VMO`);
      const noWrite = sys.handleDuplicate(vmo, ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_WRITE);
      expectStatus(t, opRange(pager.pager, noWrite, 0, P), ZX_ERR_ACCESS_DENIED, `${name}: VMO without ZX_RIGHT_WRITE`);
      const anonymous = sys.vmoCreate(P, 0);
      expectStatus(t, opRange(pager.pager, anonymous, 0, P), ZX_ERR_INVALID_ARGS, `${name}: a non-pager VMO`);
      const otherPager = sys.pagerCreate(0);
      expectStatus(t, opRange(otherPager, vmo, 0, P), ZX_ERR_INVALID_ARGS, `${name}: a VMO of another pager`);
      expectStatus(t, opRange(pager.pager, vmo, 1, P), ZX_ERR_INVALID_ARGS, `${name}: offset = 1`);
      expectStatus(t, opRange(pager.pager, vmo, 0, 1), ZX_ERR_INVALID_ARGS, `${name}: length = 1`);
      const rangeData = op === ZX_PAGER_OP_FAIL ? ZX_ERR_BAD_STATE : 0;
      expectStatus(t, opRange(pager.pager, vmo, P, P, rangeData), ZX_ERR_OUT_OF_RANGE, `${name}: offset P, length P on a 1-page VMO`);
      const noManage = ownedWithoutRights(pager, ZX_RIGHT_MANAGE_VMO, ZX_VMO_TRAP_DIRTY);
      expectStatus(t, opRange(noManage.pager, noManage.vmo, 0, P), ZX_ERR_ACCESS_DENIED, `${name}: pager without ZX_RIGHT_MANAGE_VMO`);
    });
  }

  await withPager(async (pager) => {
    const { sys } = pager;
    const vmo = pager.createVmo(1);
    const fail = (data: number | bigint) => () => sys.pagerOpRange(pager.pager, ZX_PAGER_OP_FAIL, vmo.handle, 0, P, data);
    expectStatus(t, () => sys.pagerOpRange(pager.pager, 0, vmo.handle, 0, P, 0), ZX_ERR_NOT_SUPPORTED, 'op = 0');
    expectStatus(t, fail(0x11ffffffffn), ZX_ERR_INVALID_ARGS, 'FAIL with data = 0x11ffffffff (not a sign-extended status)');
    expectStatus(t, fail(ZX_ERR_INTERNAL), ZX_ERR_INVALID_ARGS, 'FAIL with data = ZX_ERR_INTERNAL');
    expectStatus(t, fail(10), ZX_ERR_INVALID_ARGS, 'FAIL with data = 10');
    expectStatus(t, fail(100), ZX_ERR_INVALID_ARGS, 'FAIL with data = 100');
    expectNoRequest(t, pager, vmo, 'no READ');
  });
});
