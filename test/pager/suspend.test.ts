// Suspending a thread blocked on a page request (docs/conformance/pager-tests.md §2.13, docs/conformance/writeback-tests.md
// SuspendDirtyTest): suspension pulls the syscall or user-mode fault out of its wait, and on resume it
// retries and sends the same request again. (A fault taken inside kernel usercopy is not interrupted in
// Zircon; the simulator has no usercopy faults, so SuspendInKernel* are not ported.)

import t from 'tap';
import type { Test } from 'tap';
import { ZX_THREAD_STATE_SUSPENDED, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { ensure, expectPageRead } from '../helpers/check.js';
import type { TestThread } from '../helpers/test_thread.js';
import type { UserPager, Vmo } from '../helpers/user_pager.js';
import { expectDone, expectReadDone, mappingAccess, syscallAccess, vmoVmarTest } from '../helpers/vmo_vmar.js';
import type { VmoAccess } from '../helpers/vmo_vmar.js';
import { dirtyPages, ensureOk, noLeftovers, pagerTest, supplyPages, waitForPageDirty } from '../helpers/writeback.js';

/** SuspendSync then Resume, as Zircon's TestThread does. */
async function suspendAndResume(t: Test, pager: UserPager, thread: TestThread): Promise<void> {
  pager.kernel.threadSuspend(thread.tid);
  const deadline = Date.now() + 10_000;
  while (pager.kernel.threadState(thread.tid) !== ZX_THREAD_STATE_SUSPENDED && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  ensure(t, pager.kernel.threadState(thread.tid) === ZX_THREAD_STATE_SUSPENDED, 'the thread is suspended');
  pager.kernel.threadResume(thread.tid);
  ensure(t, await thread.waitForBlocked(), 'the thread is blocked again after resume');
}

/** A waiter on R(0,1) of `vmo` is suspended and resumed: it re-sends R(0,1), which is then supplied. */
async function suspendReadWaiter(t: Test, pager: UserPager, vmo: Vmo, waiter: TestThread): Promise<void> {
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  ensure(t, await waiter.waitForBlocked(), 'blocked');
  await suspendAndResume(t, pager, waiter);
  await expectPageRead(t, pager, vmo, 0, 1, 'a second R(0,1) after resume');
  pager.supplyPages(vmo, 0, 1);
}

// Tests that a suspended and resumed read (zx_vmo_read, or a fault through a mapping) re-sends its READ request.
vmoVmarTest(t, 'SuspendReadTest', async (t, pager, access) => {
  const vmo = pager.createVmo(1);
  const reader = access.startRead(vmo, 0, 1);
  await suspendReadWaiter(t, pager, vmo, reader);
  await expectReadDone(t, pager, vmo, reader, 0, 'the read completes with the content');
});

// Tests that a suspended and resumed COMMIT re-sends its READ request.
pagerTest(t, 'SuspendCommitTest', async (t, pager) => {
  const vmo = pager.createVmo(1);
  const commit = pager.startCommit(vmo, 0, 1);
  await suspendReadWaiter(t, pager, vmo, commit);
  await expectDone(t, pager, vmo, commit, 'the commit completes');
});

/** A writer blocked on DIRTY(0,1) is suspended and resumed: it re-sends DIRTY(0,1), then completes. */
async function suspendDirty(t: Test, pager: UserPager, access: VmoAccess): Promise<void> {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const writer = access.startWrite(vmo, 0, Uint8Array.of(0xaa));
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensure(t, await writer.waitForBlocked(), 'blocked');
  await suspendAndResume(t, pager, writer);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'a second DIRTY(0,1) after resume');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  await writer.wait();
  t.pass('the write completes');
  noLeftovers(t, pager, vmo);
}

// Tests that a suspended and resumed zx_vmo_write re-sends its DIRTY request.
pagerTest(t, 'SuspendDirtyTestVmo', (t, pager) => suspendDirty(t, pager, syscallAccess(pager)));

// Tests that a suspended and resumed store through a mapping re-sends its DIRTY request.
pagerTest(t, 'SuspendDirtyTestVmar', (t, pager) => suspendDirty(t, pager, mappingAccess(pager)));
