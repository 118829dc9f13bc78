// ZX_PAGER_OP_FAIL wakeups (docs/conformance/pager-tests.md §2.4): a failed head page fails its waiters with
// exactly the pager's status, failing pages with nothing outstanding is a no-op, failure is not sticky,
// and a failure of a page that is not a waiter's head makes that waiter re-request instead of failing.
// FailSinglePage, a VMO_VMAR_TEST, runs twice (vmoVmarTest); through a mapping the failure is a crash.

import t from 'tap';
import type { Test } from 'tap';
import {
  PAGE_SIZE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_BUFFER_TOO_SMALL,
  ZX_ERR_IO,
  ZX_ERR_IO_DATA_INTEGRITY,
  ZX_ERR_NO_SPACE,
  ZX_OK,
} from '../../core/index.js';
import { statusName } from '../../shared/status.js';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { TestThread } from '../helpers/test_thread.js';
import { checkContent, expectedContent, sharedBytes, statusOf, waitForData } from '../helpers/user_pager.js';
import type { UserPager, Vmo } from '../helpers/user_pager.js';
import { expectDone, expectFailed, expectReadDone, startCommitRead, vmoVmarTest, withPager } from '../helpers/vmo_vmar.js';
import { pagerTest } from '../helpers/writeback.js';

// Tests that failing an access's only page fails it with ZX_ERR_IO.
vmoVmarTest(t, 'FailSinglePage', async (t, pager, access) => {
  const vmo = pager.createVmo(1);
  const reader = access.startRead(vmo, 0, 1);
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  pager.failPages(vmo, 0, 1);
  await access.expectFailure(t, reader, vmo, 0, ZX_ERR_IO);
  expectNoRequest(t, pager, vmo, 'no further READ');
});

// Tests that failing exactly the requested range fails the COMMIT.
pagerTest(t, 'FailExactRange', async (t, pager) => {
  const vmo = pager.createVmo(11);
  const committer = await startCommitRead(t, pager, vmo, 0, 11);
  pager.failPages(vmo, 0, 11);
  await expectFailed(t, pager, vmo, committer, ZX_ERR_IO, 'the COMMIT failed with ZX_ERR_IO');
});

// Tests that one FAIL fails many disjoint requests and all the coalesced waiters of one request.
pagerTest(t, 'FailMultipleCommits', async (t, pager) => {
  const PAGE_COUNT = 11;
  const vmo = pager.createVmo(PAGE_COUNT);

  const singles: TestThread[] = [];
  for (let i = 0; i < PAGE_COUNT; i++) {
    const committer = pager.startCommit(vmo, i, 1);
    singles.push(committer);
    ensure(t, await committer.waitForBlocked(), `single-page committer ${i} blocked`);
    await expectPageRead(t, pager, vmo, i, 1, `R(${i},1)`);
  }
  pager.failPages(vmo, 0, PAGE_COUNT);
  for (const committer of singles) await committer.waitForFailure(ZX_ERR_IO);
  t.pass('all 11 single-page COMMITs failed');
  expectNoRequest(t, pager, vmo, 'no READ after phase 1');

  const whole: TestThread[] = [];
  for (let i = 0; i < PAGE_COUNT; i++) {
    const committer = pager.startCommit(vmo, 0, PAGE_COUNT);
    whole.push(committer);
    ensure(t, await committer.waitForBlocked(), `whole-range committer ${i} blocked`);
  }
  await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, 'one R(0,11)');
  expectNoRequest(t, pager, vmo, 'the coalesced waiters sent no other READ');
  pager.failPages(vmo, 0, PAGE_COUNT);
  expectNoRequest(t, pager, vmo, 'no READ after the FAIL');
  await expectFailed(t, pager, vmo, whole, ZX_ERR_IO, 'all 11 whole-range COMMITs failed');
});

// Tests that a FAIL on one VMO fails only that VMO's waiters.
pagerTest(t, 'FailMultipleVmos', async (t, pager) => {
  const vmo1 = pager.createVmo(1);
  const vmo2 = pager.createVmo(1);
  const t1 = pager.startCommit(vmo1, 0, 1);
  await expectPageRead(t, pager, vmo1, 0, 1, 'vmo1: R(0,1)');
  t.notOk(await pager.waitForPageRead(vmo2, 0, 1, 0), 'vmo2: no request yet');
  const t2 = pager.startCommit(vmo2, 0, 1);
  await expectPageRead(t, pager, vmo2, 0, 1, 'vmo2: R(0,1)');

  pager.failPages(vmo1, 0, 1);
  await t1.waitForFailure(ZX_ERR_IO);
  t.pass('t1 failed');
  expectNoRequest(t, pager, vmo1, 'vmo1: no further READ');
  t.ok(await t2.waitForBlocked(), 't2 is still blocked');

  pager.failPages(vmo2, 0, 1);
  await t2.waitForFailure(ZX_ERR_IO);
  t.pass('t2 failed');
  expectNoRequest(t, pager, vmo1, 'vmo1: no further READ');
  expectNoRequest(t, pager, vmo2, 'vmo2: no further READ');
});

/**
 * The shared body of FailOverlappingRangeCommit and FailOverlappingRangeRead: three waiters on R(0,2),
 * R(9,2) and R(5,2); a FAIL of pages [1, 10) around supplies of pages 0 and 10 (before them when
 * `failFirst`) fails t2 and t3 by their head pages, while t1, woken by page 0, re-requests page 1 and
 * fails at the second FAIL.
 */
async function failOverlappingRange(t: Test, pager: UserPager, start: (vmo: Vmo, pageOffset: number, pageCount: number) => TestThread, failFirst: boolean): Promise<void> {
  const vmo = pager.createVmo(11);
  const waiters: TestThread[] = [];
  for (const first of [0, 9, 5]) {
    waiters.push(start(vmo, first, 2));
    await expectPageRead(t, pager, vmo, first, 2, `R(${first},2)`);
  }

  if (failFirst) pager.failPages(vmo, 1, 9);
  pager.supplyPages(vmo, 0, 1);
  if (!failFirst) pager.failPages(vmo, 1, 9);
  pager.supplyPages(vmo, 10, 1);
  await expectPageRead(t, pager, vmo, 1, 1, 'a new R(1,1) from t1');
  pager.failPages(vmo, 1, 9);

  await expectFailed(t, pager, vmo, waiters, ZX_ERR_IO, 't1, t2 and t3 failed');
}

// Tests that a FAIL over part of three commits fails those whose head it covers; the early-woken one re-requests.
pagerTest(t, 'FailOverlappingRangeCommit', (t, pager) => failOverlappingRange(t, pager, (vmo, offset, count) => pager.startCommit(vmo, offset, count), false));

// Tests the same with zx_vmo_read and the FAIL first: the read woken by its head page re-requests page 1.
pagerTest(t, 'FailOverlappingRangeRead', (t, pager) => failOverlappingRange(t, pager, (vmo, offset, count) => pager.startRead(vmo, offset, count), true));

// Tests that failing pages with no outstanding request returns ZX_OK and does nothing.
pagerTest(t, 'FailRedundant', async (t, pager) => {
  const PAGE_COUNT = 11;
  const vmo = pager.createVmo(PAGE_COUNT);
  const committer = await startCommitRead(t, pager, vmo, 0, PAGE_COUNT);
  for (let i = 0; i < PAGE_COUNT; i++) {
    t.equal(statusName(statusOf(() => pager.failPages(vmo, i, 1))), 'ZX_OK', `fail(${i},1) returns ZX_OK`);
  }
  await expectFailed(t, pager, vmo, committer, ZX_ERR_IO, 'the COMMIT failed');
});

// Tests that detach fails a blocked COMMIT and that a FAIL on the detached VMO returns an error.
pagerTest(t, 'FailAfterDetach', async (t, pager) => {
  const PAGE_COUNT = 11;
  const vmo = pager.createVmo(PAGE_COUNT);
  const committer = await startCommitRead(t, pager, vmo, 0, PAGE_COUNT);
  pager.detachVmo(vmo);
  await committer.waitForFailure(ZX_ERR_BAD_STATE);
  t.pass('the COMMIT failed with ZX_ERR_BAD_STATE');
  expectNoRequest(t, pager, vmo, 'no READ after detach');
  t.not(statusOf(() => pager.failPages(vmo, 0, PAGE_COUNT)), ZX_OK, 'FAIL on a detached VMO returns an error');
  expectNoRequest(t, pager, vmo, 'no further READ');
});

// Tests that a FAIL of the page an early-woken read waits on fails the read, though later pages were never resolved.
pagerTest(t, 'FailEarlyWake', async (t, pager) => {
  const vmo = pager.createVmo(3);
  pager.setPageFaultSupplyLimit(vmo, 0);
  pager.startTaggedPageFaultHandler();
  // Zircon's CheckVmo(0, 3); the buffer is shared so the test can see page 0 arrive.
  const buffer = sharedBytes(3 * PAGE_SIZE);
  const reader = pager.startReadInto(vmo, 0, buffer);
  ensure(t, await reader.waitForBlocked(), 'reader blocked');

  pager.setPageFaultSupplyLimit(vmo, 1);
  pager.supplyPages(vmo, 0, 1);
  ensure(t, await waitForData(buffer, 0, expectedContent(vmo.key, 0, 1)), 'page 0 reached the buffer');
  ensure(t, await reader.waitForBlocked(), 'reader blocked again, on page 1');

  pager.failPages(vmo, 1, 1, ZX_ERR_IO);
  await reader.waitForFailure(ZX_ERR_IO);
  t.pass('the read failed with ZX_ERR_IO');
  t.same(pager.handlerErrors, [], 'the handler supplied without errors');
});


/** A read of pages [0, n) whose page 0 was supplied: it woke early and now waits on page 1. */
async function readerWokenPastPage0(t: Test, pager: UserPager, n: number): Promise<{ reader: TestThread; vmo: Vmo; buffer: Uint8Array }> {
  const vmo = pager.createVmo(n);
  const buffer = sharedBytes(n * PAGE_SIZE);
  const reader = pager.startReadInto(vmo, 0, buffer);
  await expectPageRead(t, pager, vmo, 0, n, `R(0,${n})`);
  pager.supplyPages(vmo, 0, 1);
  ensure(t, await waitForData(buffer, 0, expectedContent(vmo.key, 0, 1)), 'page 0 reached the buffer');
  ensure(t, await reader.waitForBlocked(), 'reader blocked again, on page 1');
  return { reader, vmo, buffer };
}

// pagersim's own (found by the differential model test): a zero-length FAIL is not short-cut. Zircon's
// ResolveRequestsLocked still meets a request that strictly contains the offset, and when the offset
// is the early-wake reader's wake point the reader takes the error (fulfill 0 < pending).
pagerTest(t, 'FailZeroLengthAtWakePoint', async (t, pager) => {
  const { reader, vmo } = await readerWokenPastPage0(t, pager, 3);
  t.equal(statusName(statusOf(() => pager.failPages(vmo, 1, 0))), 'ZX_OK', 'fail(1,0) returns ZX_OK');
  await reader.waitForFailure(ZX_ERR_IO);
  t.pass('the read failed with ZX_ERR_IO');
});

// The contrast: zero-length FAILs at a request's first page, at its end, and strictly inside it but
// not at the wake point fail nobody; the read completes once the pages arrive.
pagerTest(t, 'FailZeroLengthElsewhere', async (t, pager) => {
  const { reader, vmo, buffer } = await readerWokenPastPage0(t, pager, 4);
  for (const page of [0, 2, 3, 4]) {
    t.equal(statusName(statusOf(() => pager.failPages(vmo, page, 0))), 'ZX_OK', `fail(${page},0) returns ZX_OK`);
  }
  pager.supplyPages(vmo, 1, 3);
  await reader.wait();
  t.ok(checkContent(buffer, vmo.key, 0), 'the read completed with every page');
  expectNoRequest(t, pager, vmo, 'no further READ');
});
// Tests that a FAIL of a follower's page fails the follower when the leader completes, and the leader re-requests it.
pagerTest(t, 'FailOverlapRequest', async (t, pager) => {
  const vmo = pager.createVmo(4);
  const t1 = pager.startRead(vmo, 0, 4);
  await expectPageRead(t, pager, vmo, 0, 4, 'R(0,4)');
  const t2 = pager.startRead(vmo, 1, 1);
  ensure(t, await t2.waitForBlocked(), 't2 blocked');
  expectNoRequest(t, pager, vmo, 't2 sent no packet');

  pager.failPages(vmo, 1, 1, ZX_ERR_IO);
  pager.supplyPages(vmo, 0, 1);
  ensure(t, await t1.waitForBlocked(), 't1 blocked again');
  ensure(t, await t2.waitForBlocked(), 't2 still blocked');

  pager.supplyPages(vmo, 2, 2, 2);
  await t2.waitForFailure(ZX_ERR_IO);
  t.pass('t2 failed with ZX_ERR_IO');

  const request = await pager.getPageReadRequest(vmo);
  ensure(t, request !== null, 't1 sent a new READ');
  t.equal(request!.offset, 1, 'the new READ starts at page 1');
  t.ok(request!.length >= 1, 'the new READ has at least one page');
  pager.supplyPages(vmo, 1, 3, 1);
  await expectReadDone(t, pager, vmo, t1, 0, 't1 reads all four pages');
});

// Tests that failure is not sticky: a new access to failed pages requests them again.
pagerTest(t, 'SupplyAfterFail', async (t, pager) => {
  const PAGE_COUNT = 11;
  const vmo = pager.createVmo(PAGE_COUNT);
  const first = await startCommitRead(t, pager, vmo, 0, PAGE_COUNT);
  pager.failPages(vmo, 0, PAGE_COUNT);
  await first.waitForFailure(ZX_ERR_IO);
  t.pass('the first COMMIT failed');
  expectNoRequest(t, pager, vmo, 'no READ after the FAIL');

  const second = pager.startCommit(vmo, 0, PAGE_COUNT);
  await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, 'a new R(0,11)');
  pager.supplyPages(vmo, 0, PAGE_COUNT);
  await expectDone(t, pager, vmo, second, 'the second COMMIT returned ZX_OK');
});

// Tests that COMMIT and zx_vmo_read waiters of one request both get exactly the status the pager failed it with.
t.test('FailErrorCode', async (t) => {
  const PAGE_COUNT = 11;
  for (const status of [ZX_ERR_IO, ZX_ERR_IO_DATA_INTEGRITY, ZX_ERR_BAD_STATE, ZX_ERR_NO_SPACE, ZX_ERR_BUFFER_TOO_SMALL]) {
    await withPager(async (pager) => {
      const vmo = pager.createVmo(PAGE_COUNT);
      const committer = pager.startCommit(vmo, 0, PAGE_COUNT);
      ensure(t, await committer.waitForBlocked(), `${statusName(status)}: committer blocked`);
      const reader = pager.startRead(vmo, 0, PAGE_COUNT);
      ensure(t, await reader.waitForBlocked(), `${statusName(status)}: reader blocked`);
      await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, `${statusName(status)}: R(0,11)`);
      expectNoRequest(t, pager, vmo, `${statusName(status)}: a single READ`);
      pager.failPages(vmo, 0, PAGE_COUNT, status);
      await committer.waitForFailure(status);
      await reader.waitForFailure(status);
      t.pass(`${statusName(status)}: COMMIT and read both returned it`);
      expectNoRequest(t, pager, vmo, `${statusName(status)}: no further READ`);
    });
  }
});
