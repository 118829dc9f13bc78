// Eviction hints and the other zx_vmo_op_range ops on pager VMOs (docs/conformance/pager-tests.md §2.5, §2.11,
// docs/conformance/pager-tests.md §2.12), the cases that need no clones and no zx_vmar_op_range: ALWAYS_NEED commits (one batched
// request, widened to whole pages, errors ignored), DONT_NEED never commits, both range-check pager
// VMOs but succeed on anything else, DECOMMIT is not supported, and PREFETCH requests what is absent.
// Operations that may block on the pager run in threads with deadlines.

import t from 'tap';
import {
  PAGE_SIZE,
  ZX_VMO_OP_ALWAYS_NEED,
  ZX_VMO_OP_DECOMMIT,
  ZX_VMO_OP_DONT_NEED,
  ZX_VMO_OP_PREFETCH,
  ZX_VMO_RESIZABLE,
} from '../../core/index.js';
import { expectNoRequest, expectPageRead } from '../helpers/check.js';
import type { TestThread } from '../helpers/test_thread.js';
import { UserPager, statusNameOf } from '../helpers/user_pager.js';
import { expectDone } from '../helpers/vmo_vmar.js';
import { pagerTest, runOp } from '../helpers/writeback.js';

const P = PAGE_SIZE;
/** UINT64_MAX as the nearest double (2^64): past every VMO end either way. */
const UINT64_MAX = 2 ** 64 - 1;

/** A thread doing one zx_vmo_op_range with byte arguments. */
function startOp(pager: UserPager, vmo: number, op: number, offset: number, size: number): TestThread {
  return pager.startThread('vmoOpRange', { vmo, op, offset, size });
}

/** One zx_vmo_op_range in a thread, as a status name; a thread that blocks fails the test. */
async function opStatus(pager: UserPager, vmo: number, op: number, offset: number, size: number): Promise<string> {
  return runOp(startOp(pager, vmo, op, offset, size));
}

// Tests that ALWAYS_NEED commits its range with one batched request, R(10,5).
pagerTest(t, 'EvictionHintAlwaysNeed', async (t, pager) => {
  const vmo = pager.createVmo(30);
  const hinter = startOp(pager, vmo.handle, ZX_VMO_OP_ALWAYS_NEED, 10 * P, 5 * P);
  await expectPageRead(t, pager, vmo, 10, 5, 'R(10,5)');
  pager.supplyPages(vmo, 10, 5);
  await hinter.wait();
  t.pass('ALWAYS_NEED returned ZX_OK');
  expectNoRequest(t, pager, vmo, 'exactly one request');
});

// Tests hint ranges: unaligned ranges widen to pages, pager VMOs are range-checked, anonymous VMOs are not.
pagerTest(t, 'EvictionHintsOpRange', async (t, pager) => {
  const vmo = pager.createVmo(20);
  pager.supplyPages(vmo, 0, 10);
  t.equal(await opStatus(pager, vmo.handle, ZX_VMO_OP_ALWAYS_NEED, 0, 10 * P), 'ZX_OK', 'ALWAYS_NEED [0, 10P) of present pages');
  t.equal(statusNameOf(() => pager.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_DONT_NEED, 0, 20 * P)), 'ZX_OK', 'DONT_NEED [0, 20P)');
  expectNoRequest(t, pager, vmo, 'neither hint requested anything');

  const hinter = startOp(pager, vmo.handle, ZX_VMO_OP_ALWAYS_NEED, 15 * P - 8, 16);
  await expectPageRead(t, pager, vmo, 14, 2, 'ALWAYS_NEED [15P - 8, +16) widens to R(14,2)');
  pager.supplyPages(vmo, 14, 2);
  await hinter.wait();
  t.pass('the unaligned ALWAYS_NEED returned ZX_OK');

  t.equal(statusNameOf(() => pager.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_DONT_NEED, 32, 20 * P - 64)), 'ZX_OK', 'unaligned DONT_NEED');

  t.equal(await opStatus(pager, vmo.handle, ZX_VMO_OP_ALWAYS_NEED, 15 * P, 10 * P), 'ZX_ERR_OUT_OF_RANGE', 'ALWAYS_NEED [15P, +10P)');
  t.equal(statusNameOf(() => pager.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_DONT_NEED, 20 * P, 20 * P)), 'ZX_ERR_OUT_OF_RANGE', 'DONT_NEED [20P, +20P)');
  t.equal(await opStatus(pager, vmo.handle, ZX_VMO_OP_ALWAYS_NEED, P, UINT64_MAX), 'ZX_ERR_OUT_OF_RANGE', 'ALWAYS_NEED (P, UINT64_MAX)');
  t.equal(statusNameOf(() => pager.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_DONT_NEED, P, UINT64_MAX)), 'ZX_ERR_OUT_OF_RANGE', 'DONT_NEED (P, UINT64_MAX)');
  expectNoRequest(t, pager, vmo, 'no request from the rejected hints');

  // The quirk: a 20-byte anonymous VMO (one page) takes both hints over [0, 20P).
  const anonymous = pager.sys.vmoCreate(20, 0);
  t.equal(await opStatus(pager, anonymous, ZX_VMO_OP_ALWAYS_NEED, 0, 20 * P), 'ZX_OK', 'ALWAYS_NEED on an anonymous VMO, out of range');
  t.equal(statusNameOf(() => pager.sys.vmoOpRange(anonymous, ZX_VMO_OP_DONT_NEED, 0, 20 * P)), 'ZX_OK', 'DONT_NEED on an anonymous VMO, out of range');
  pager.sys.handleClose(anonymous);
});

// Tests that shrinking the VMO under a blocked ALWAYS_NEED trims its range, so it returns ZX_OK.
pagerTest(t, 'EvictionHintsWithResize', async (t, pager) => {
  const vmo = pager.createVmo(20, ZX_VMO_RESIZABLE);
  const hinter = startOp(pager, vmo.handle, ZX_VMO_OP_ALWAYS_NEED, 10 * P, 10 * P);
  await expectPageRead(t, pager, vmo, 10, 10, 'R(10,10)');
  pager.supplyPages(vmo, 10, 2);
  pager.sys.vmoSetSize(vmo.handle, 12 * P);
  await expectDone(t, pager, vmo, hinter, 'ALWAYS_NEED returned ZX_OK after the resize cut its range short');
});

// Tests that ALWAYS_NEED on a detached VMO returns ZX_OK instead of hanging or failing.
pagerTest(t, 'DetachAndAlwaysNeed', async (t, pager) => {
  const vmo = pager.sys.pagerCreateVmo(pager.pager, 0, pager.port, 1n, 2 * P);
  pager.sys.pagerDetachVmo(pager.pager, vmo);
  t.equal(await opStatus(pager, vmo, ZX_VMO_OP_ALWAYS_NEED, 0, 2 * P), 'ZX_OK', 'ALWAYS_NEED after detach');
  pager.sys.handleClose(vmo);
});

// Tests that DECOMMIT is not supported on a pager VMO (the pager half; the clone half needs clones).
pagerTest(t, 'DecommitTest', async (t, pager) => {
  const vmo = pager.createVmo(1);
  t.equal(statusNameOf(() => pager.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_DECOMMIT, 0, P)), 'ZX_ERR_NOT_SUPPORTED', 'DECOMMIT');
  expectNoRequest(t, pager, vmo, 'no READ');
});

// Tests that PREFETCH of an absent page requests it, R(0,1), and returns once it is supplied (sub-case 1).
pagerTest(t, 'Prefetch', async (t, pager) => {
  const vmo = pager.createVmo(1);
  const prefetcher = startOp(pager, vmo.handle, ZX_VMO_OP_PREFETCH, 0, P);
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  pager.supplyPages(vmo, 0, 1);
  await expectDone(t, pager, vmo, prefetcher, 'PREFETCH returned ZX_OK');
  pager.releaseVmo(vmo);
});
