// Detach, ZX_PAGER_VMO_COMPLETE, and closing the pager or the port (zircon-pager-tests.md §2.5, §2.6):
// detach and pager destruction wake waiters into ZX_ERR_BAD_STATE, detach and VMO destruction queue one
// COMPLETE, supplied pages outlive the pager, and losing the port loses requests but fails no one.
// VV tests are ported as their Vmo variants: a crash through a mapping becomes a failed syscall.

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_BAD_STATE, ZX_OK } from '../../core/index.js';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { UserPager, checkContent, statusOf } from '../helpers/user_pager.js';

// Tests that detaching a VMO queues a COMPLETE packet with its key.
t.test('DetachPageCompleteTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    pager.detachVmo(vmo);
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
  } finally {
    await pager.close();
  }
});

// Tests that destroying a VMO (closing its only handle) queues a COMPLETE packet with its key.
t.test('ClosePageCompleteTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const key = vmo.key;
    pager.releaseVmo(vmo);
    t.ok(await pager.waitForPageComplete(key), 'COMPLETE');
  } finally {
    await pager.close();
  }
});

// Tests that a read straddling two pages asks for both in one request, and detach fails it with ZX_ERR_BAD_STATE.
t.test('DetachNonMappingAccess', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    const reader = pager.startThread('vmoRead', { vmo: vmo.handle, offset: PAGE_SIZE - 4, length: 8 });
    await expectPageRead(t, pager, vmo, 0, 2, 'one R(0,2)');
    pager.supplyPages(vmo, 0, 1);
    pager.detachVmo(vmo);
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the read failed with ZX_ERR_BAD_STATE');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that detaching a VMO whose request the pager already read fails the reader and queues COMPLETE.
t.test('ReadDetachInterruptLateTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const reader = pager.startRead(vmo, 0, 1);
    await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
    pager.detachVmo(vmo);
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the read failed with ZX_ERR_BAD_STATE');
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that detaching a VMO before its request is dequeued fails the reader and queues COMPLETE.
t.test('ReadDetachInterruptEarlyTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const reader = pager.startRead(vmo, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked');
    pager.detachVmo(vmo);
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the read failed with ZX_ERR_BAD_STATE');
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
    expectNoRequest(t, pager, vmo, 'the undelivered READ was withdrawn');
  } finally {
    await pager.close();
  }
});

// Tests that closing the pager after detaching a VMO goes smoothly.
t.test('DetachClosePagerTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    t.doesNotThrow(() => pager.detachVmo(vmo), 'detach returns ZX_OK');
    t.doesNotThrow(() => pager.closePagerHandle(), 'closing the pager returns ZX_OK');
  } finally {
    await pager.close();
  }
});

// Tests that supplying pages to a detached VMO returns an error.
t.test('SupplyAfterDetach', async (t) => {
  const PAGE_COUNT = 11;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    pager.detachVmo(vmo);
    expectNoRequest(t, pager, vmo, 'no READ after detach');
    t.not(statusOf(() => pager.supplyPages(vmo, 0, PAGE_COUNT)), ZX_OK, 'supply to a detached VMO returns an error');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that closing the pager after its request was read fails the reader with ZX_ERR_BAD_STATE.
t.test('ReadCloseInterruptLateTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const reader = pager.startRead(vmo, 0, 1);
    await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
    pager.closePagerHandle();
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the read failed with ZX_ERR_BAD_STATE');
  } finally {
    await pager.close();
  }
});

// Tests that closing the pager before the request is dequeued fails the reader with ZX_ERR_BAD_STATE.
t.test('ReadCloseInterruptEarlyTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const reader = pager.startRead(vmo, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked');
    pager.closePagerHandle();
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the read failed with ZX_ERR_BAD_STATE');
  } finally {
    await pager.close();
  }
});

// Tests that closing the pager fails blocked readers while already-supplied pages stay readable.
t.test('ClosePagerTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    pager.supplyPages(vmo, 1, 1);
    const reader = pager.startRead(vmo, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked on page 0');
    pager.closePagerHandle();
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the read of page 0 failed with ZX_ERR_BAD_STATE');
    const late = pager.startRead(vmo, 1, 1);
    t.ok(checkContent(await late.wait<Uint8Array>(), vmo.key, 1), 'page 1 still holds the supplied content');
  } finally {
    await pager.close();
  }
});

// Tests that closing the port loses requests but not waiters: supply and detach still work.
t.test('ClosePortTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    const reader = pager.startRead(vmo, 0, 1);
    ensure(t, await reader.waitForBlocked(), 'reader blocked on page 0');
    pager.closePortHandle();
    t.doesNotThrow(() => pager.supplyPages(vmo, 1, 1), 'supply(1,1) still succeeds');
    const late = pager.startRead(vmo, 1, 1);
    t.ok(checkContent(await late.wait<Uint8Array>(), vmo.key, 1), 'page 1 reads correctly');
    t.ok(await reader.waitForBlocked(), 'the first reader is still blocked');
    t.doesNotThrow(() => pager.detachVmo(vmo), 'detach still succeeds');
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the blocked read failed with ZX_ERR_BAD_STATE');
  } finally {
    await pager.close();
  }
});
