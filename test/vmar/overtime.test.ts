// Page-request overtime (docs/semantics.md §4, docs/api.md option pageRequestTimeoutMs, Zircon's
// kernel.userpager.overtime_timeout_seconds): a fault that waited that long fails with
// ZX_ERR_TIMED_OUT (a failed zx_vmo_read, or a fatal page fault for a mapped access), while its
// request stays with the pager: the packet is still delivered and other waiters keep waiting on it.
// The second reader starts a while after the first only so that the first times out first; nothing
// here asserts how long anything took.

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_TIMED_OUT } from '../../core/index.js';
import { ensure, expectNoRequest } from '../helpers/check.js';
import { checkContent } from '../helpers/user_pager.js';
import { RawPager, mapVmo, startMemReadPages } from '../helpers/vmar.js';
import { harnessTest } from '../helpers/vmo_vmar.js';

const TIMEOUT_MS = 200;
/** How much later than the first the second reader starts, so it is still waiting when the first gives up. */
const STAGGER_MS = 100;

/** A RawPager whose page requests time out after TIMEOUT_MS. */
function overtimePager(): RawPager {
  return RawPager.create({ physicalMemory: 64 * PAGE_SIZE, pageRequestTimeoutMs: TIMEOUT_MS });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Tests that an unanswered zx_vmo_read times out while its R(0,1) stays delivered and another reader keeps waiting on it.
harnessTest(t, 'overtime: vmo_read times out, the request survives', overtimePager, async (t, pager) => {
  const vmo = pager.createVmo(1);
  const first = pager.startThread('vmoRead', { vmo: vmo.handle, offset: 0, length: PAGE_SIZE });
  ensure(t, await first.waitForBlocked(), 'the first reader is blocked');
  await sleep(STAGGER_MS);
  const second = pager.startThread('vmoRead', { vmo: vmo.handle, offset: 0, length: PAGE_SIZE });
  ensure(t, await second.waitForBlocked(), 'the second reader is blocked on the same page');

  await first.waitForFailure(ZX_ERR_TIMED_OUT);
  t.pass('the first read failed with ZX_ERR_TIMED_OUT');
  t.ok(await pager.waitForPageRead(vmo, 0, 1, 0), 'R(0,1) is still delivered to the pager');
  expectNoRequest(t, pager, vmo, 'only one R(0,1)');
  ensure(t, await second.waitForBlocked(0), 'the second reader is still waiting on the request');
  pager.supplyPages(vmo, 0, 1);
  t.ok(checkContent(await second.wait<Uint8Array>(), vmo.key, 0), 'the supply wakes the second reader with the data');
  expectNoRequest(t, pager, vmo, 'no further READ');
});

// Tests that an unanswered mapped read crashes with ZX_ERR_TIMED_OUT at the faulting address.
harnessTest(t, 'overtime: a mapped read crashes with ZX_ERR_TIMED_OUT', overtimePager, async (t, pager) => {
  const vmo = pager.createVmo(2);
  const base = mapVmo(pager, vmo);
  const reader = startMemReadPages(pager, base, 1, 1);
  ensure(t, await pager.waitForPageRead(vmo, 1, 1), 'R(1,1) is delivered');
  await reader.waitForCrash(base + PAGE_SIZE, ZX_ERR_TIMED_OUT);
  t.pass('crash(base + P, ZX_ERR_TIMED_OUT)');
  expectNoRequest(t, pager, vmo, 'no further READ');

  // The page is still absent, so the next access asks again, and a prompt supply satisfies it.
  const retry = startMemReadPages(pager, base, 1, 1);
  ensure(t, await pager.waitForPageRead(vmo, 1, 1), 'a new R(1,1) for the next access');
  pager.supplyPages(vmo, 1, 1);
  t.ok(checkContent(await retry.wait<Uint8Array>(), vmo.key, 1), 'the next access reads the supplied page');
});
