// Detach, ZX_PAGER_VMO_COMPLETE, and closing the pager or the port (docs/conformance/pager-tests.md §2.5, §2.6):
// detach and pager destruction wake waiters into ZX_ERR_BAD_STATE, detach and VMO destruction queue one
// COMPLETE, supplied pages outlive the pager, and losing the port loses requests but fails no one.
// The VMO_VMAR_TESTs run twice (vmoVmarTest): through zx_vmo_read, where the interrupted read fails,
// and through a mapping, where the thread dies with a fatal page fault.

import t from 'tap';
import type { Test } from 'tap';
import { PAGE_SIZE, ZX_ERR_BAD_STATE, ZX_OK } from '../../core/index.js';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { statusOf } from '../helpers/user_pager.js';
import type { UserPager } from '../helpers/user_pager.js';
import { closePagerScenario, closePortScenario, expectFailed, syscallAccess, vmoVmarTest } from '../helpers/vmo_vmar.js';
import type { VmoAccess } from '../helpers/vmo_vmar.js';
import { pagerTest } from '../helpers/writeback.js';

// Tests that detaching a VMO queues a COMPLETE packet with its key.
pagerTest(t, 'DetachPageCompleteTest', async (t, pager) => {
  const vmo = pager.createVmo(1);
  pager.detachVmo(vmo);
  t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
});

// Tests that destroying a VMO (closing its only handle) queues a COMPLETE packet with its key.
pagerTest(t, 'ClosePageCompleteTest', async (t, pager) => {
  const vmo = pager.createVmo(1);
  const key = vmo.key;
  pager.releaseVmo(vmo);
  t.ok(await pager.waitForPageComplete(key), 'COMPLETE');
});

// Tests that a read straddling two pages asks for both in one request, and detach fails it with ZX_ERR_BAD_STATE.
pagerTest(t, 'DetachNonMappingAccess', async (t, pager) => {
  const vmo = pager.createVmo(2);
  const reader = pager.startThread('vmoRead', { vmo: vmo.handle, offset: PAGE_SIZE - 4, length: 8 });
  await expectPageRead(t, pager, vmo, 0, 2, 'one R(0,2)');
  pager.supplyPages(vmo, 0, 1);
  pager.detachVmo(vmo);
  await expectFailed(t, pager, vmo, reader, ZX_ERR_BAD_STATE, 'the read failed with ZX_ERR_BAD_STATE');
});

// Tests that closing the pager after detaching a VMO goes smoothly.
pagerTest(t, 'DetachClosePagerTest', async (t, pager) => {
  const vmo = pager.createVmo(1);
  t.doesNotThrow(() => pager.detachVmo(vmo), 'detach returns ZX_OK');
  t.doesNotThrow(() => pager.closePagerHandle(), 'closing the pager returns ZX_OK');
});

// Tests that supplying pages to a detached VMO returns an error.
pagerTest(t, 'SupplyAfterDetach', async (t, pager) => {
  const PAGE_COUNT = 11;
  const vmo = pager.createVmo(PAGE_COUNT);
  pager.detachVmo(vmo);
  expectNoRequest(t, pager, vmo, 'no READ after detach');
  t.not(statusOf(() => pager.supplyPages(vmo, 0, PAGE_COUNT)), ZX_OK, 'supply to a detached VMO returns an error');
  expectNoRequest(t, pager, vmo, 'no further READ');
});

/**
 * The ReadDetachInterrupt and ReadCloseInterrupt tests: a reader blocked on page 0 is interrupted by
 * detaching the VMO or closing the pager, after the pager read its request (`late`) or before it was
 * dequeued. The access fails with ZX_ERR_BAD_STATE; a detach also queues COMPLETE and withdraws the READ.
 */
async function readInterrupted(t: Test, pager: UserPager, access: VmoAccess, interrupt: 'detach' | 'close', late: boolean): Promise<void> {
  const vmo = pager.createVmo(1);
  const reader = access.startRead(vmo, 0, 1);
  if (late) await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  else ensure(t, await reader.waitForBlocked(), 'reader blocked');
  if (interrupt === 'detach') pager.detachVmo(vmo);
  else pager.closePagerHandle();
  await access.expectFailure(t, reader, vmo, 0, ZX_ERR_BAD_STATE);
  if (interrupt === 'detach') {
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
    expectNoRequest(t, pager, vmo, late ? 'no further READ' : 'the undelivered READ was withdrawn');
  }
}

// Tests that detaching a VMO whose request the pager already read fails the reader and queues COMPLETE.
vmoVmarTest(t, 'ReadDetachInterruptLateTest', (t, pager, access) => readInterrupted(t, pager, access, 'detach', true));

// Tests that detaching a VMO before its request is dequeued fails the reader and queues COMPLETE.
vmoVmarTest(t, 'ReadDetachInterruptEarlyTest', (t, pager, access) => readInterrupted(t, pager, access, 'detach', false));

// Tests that closing the pager after its request was read fails the reader with ZX_ERR_BAD_STATE.
vmoVmarTest(t, 'ReadCloseInterruptLateTest', (t, pager, access) => readInterrupted(t, pager, access, 'close', true));

// Tests that closing the pager before the request is dequeued fails the reader with ZX_ERR_BAD_STATE.
vmoVmarTest(t, 'ReadCloseInterruptEarlyTest', (t, pager, access) => readInterrupted(t, pager, access, 'close', false));

// Tests that closing the pager fails blocked readers while already-supplied pages stay readable (the
// catalog's mapped scenario, test/vmar/fail_detach.test.ts, replayed with zx_vmo_read).
pagerTest(t, 'ClosePagerTest', (t, pager) => closePagerScenario(t, pager, syscallAccess(pager)));

// Tests that closing the port loses requests but not waiters: supply and detach still work (the
// catalog's mapped scenario, test/vmar/fail_detach.test.ts, replayed with zx_vmo_read).
pagerTest(t, 'ClosePortTest', (t, pager) => closePortScenario(t, pager, syscallAccess(pager)));
