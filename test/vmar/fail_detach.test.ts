// The Vmar halves of the failure, resize, detach and close VMO_VMAR_TESTs (zircon-pager-tests.md §1.3,
// §1.4, §2.4–§2.6, §2.10), and the mapping-only ClosePagerTest and ClosePortTest: a fault that the
// pager fails, that a resize cuts off, or that hits a detached or closed source is not a status but
// a fatal page fault (WaitForCrash) at the first byte the thread accessed, with that status.

import t from 'tap';
import { ZX_ERR_BAD_STATE, ZX_ERR_IO, ZX_ERR_OUT_OF_RANGE, ZX_VMO_RESIZABLE } from '../../core/index.js';
import { ensure, expectNoRequest } from '../helpers/check.js';
import { UserPager, checkContent } from '../helpers/user_pager.js';
import { mapVmo, startMemReadPages } from '../helpers/vmar.js';

// Tests that failing a mapped fault's page kills the thread with ZX_ERR_IO at the base address.
t.test('FailSinglePageVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    pager.failPages(vmo, 0, 1);
    await reader.waitForCrash(base, ZX_ERR_IO);
    t.pass('crash(base, ZX_ERR_IO)');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that shrinking the VMO under a blocked mapped fault wakes it into a crash with ZX_ERR_OUT_OF_RANGE.
t.test('ReadResizeTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1, ZX_VMO_RESIZABLE);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    pager.sys.vmoSetSize(vmo.handle, 0);
    await reader.waitForCrash(base, ZX_ERR_OUT_OF_RANGE);
    t.pass('crash(base, ZX_ERR_OUT_OF_RANGE)');
  } finally {
    await pager.close();
  }
});

// Tests that detaching a VMO whose request the pager already read crashes the faulter and queues COMPLETE.
t.test('ReadDetachInterruptLateTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    pager.detachVmo(vmo);
    await reader.waitForCrash(base, ZX_ERR_BAD_STATE);
    t.pass('crash(base, ZX_ERR_BAD_STATE)');
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that detaching a VMO before the fault's request is dequeued crashes the faulter and queues COMPLETE.
t.test('ReadDetachInterruptEarlyTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked');
    pager.detachVmo(vmo);
    await reader.waitForCrash(base, ZX_ERR_BAD_STATE);
    t.pass('crash(base, ZX_ERR_BAD_STATE)');
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
    expectNoRequest(t, pager, vmo, 'the undelivered READ was withdrawn');
  } finally {
    await pager.close();
  }
});

// Tests that closing the pager after the fault's request was read crashes the faulter with ZX_ERR_BAD_STATE.
t.test('ReadCloseInterruptLateTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    pager.closePagerHandle();
    await reader.waitForCrash(base, ZX_ERR_BAD_STATE);
    t.pass('crash(base, ZX_ERR_BAD_STATE)');
  } finally {
    await pager.close();
  }
});

// Tests that closing the pager before the fault's request is dequeued crashes the faulter with ZX_ERR_BAD_STATE.
t.test('ReadCloseInterruptEarlyTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked');
    pager.closePagerHandle();
    await reader.waitForCrash(base, ZX_ERR_BAD_STATE);
    t.pass('crash(base, ZX_ERR_BAD_STATE)');
  } finally {
    await pager.close();
  }
});

// Tests that closing the pager crashes a blocked mapped faulter while an already-supplied page stays readable.
t.test('ClosePagerTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    const base = mapVmo(pager, vmo);
    pager.supplyPages(vmo, 1, 1);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked on page 0');
    pager.closePagerHandle();
    await reader.waitForCrash(base, ZX_ERR_BAD_STATE);
    t.pass('crash(base, ZX_ERR_BAD_STATE)');
    // Zircon reads page 1 on the main thread; a thread with a deadline keeps a hang from stalling the test.
    const late = startMemReadPages(pager, base, 1, 1);
    t.ok(checkContent(await late.wait<Uint8Array>(), vmo.key, 1), 'page 1 still holds the supplied content');
  } finally {
    await pager.close();
  }
});

// Tests that closing the port loses requests but fails no faulter: supply works, and only detach crashes it.
t.test('ClosePortTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked on page 0');
    pager.closePortHandle();
    t.doesNotThrow(() => pager.supplyPages(vmo, 1, 1), 'supply(1,1) still succeeds');
    const late = startMemReadPages(pager, base, 1, 1);
    t.ok(checkContent(await late.wait<Uint8Array>(), vmo.key, 1), 'page 1 reads correctly through the mapping');
    t.ok(await reader.waitForBlocked(0), 'the first reader is still blocked');
    t.doesNotThrow(() => pager.detachVmo(vmo), 'detach still succeeds');
    await reader.waitForCrash(base, ZX_ERR_BAD_STATE);
    t.pass('crash(base, ZX_ERR_BAD_STATE)');
  } finally {
    await pager.close();
  }
});
