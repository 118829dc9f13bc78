// Request batching, splitting and coalescing (docs/conformance/pager-tests.md §2.2): zx_vmo_read and
// ZX_VMO_OP_COMMIT request the maximal run of missing pages, present pages split runs, overlapping
// requests coalesce, and supplies may cover requests piecewise or across request boundaries.

import t from 'tap';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { TestThread } from '../helpers/test_thread.js';
import { expectDone, expectReadDone, pagerTestWith, startCommitRead, vmoVmarTest } from '../helpers/vmo_vmar.js';
import { pagerTest } from '../helpers/writeback.js';

// Tests that one read of 32 missing pages sends a single R(0,32); through a mapping the read faults
// the pages one at a time instead: R(i,1) for i = 0..31 in order, nothing beyond page i before it is supplied.
vmoVmarTest(t, 'SequentialMultipageTest', async (t, pager, access) => {
  const PAGE_COUNT = 32;
  const vmo = pager.createVmo(PAGE_COUNT);
  const reader = access.startRead(vmo, 0, PAGE_COUNT);
  if (access.viaMapping) {
    for (let i = 0; i < PAGE_COUNT; i++) {
      await expectPageRead(t, pager, vmo, i, 1, `R(${i},1)`);
      ensure(t, pager.noRequest(vmo), `nothing beyond R(${i},1) is requested before it is supplied`);
      pager.supplyPages(vmo, i, 1);
    }
  } else {
    await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, 'R(0,32)');
    pager.supplyPages(vmo, 0, PAGE_COUNT);
  }
  await expectReadDone(t, pager, vmo, reader, 0, 'the reader sees all 32 pages');
});

// Tests that a COMMIT of 555 missing pages sends exactly one R(0,555).
pagerTest(t, 'SimpleCommitTest', async (t, pager) => {
  const PAGE_COUNT = 555;
  const vmo = pager.createVmo(PAGE_COUNT);
  const committer = await startCommitRead(t, pager, vmo, 0, PAGE_COUNT);
  pager.supplyPages(vmo, 0, PAGE_COUNT);
  await expectDone(t, pager, vmo, committer, 'COMMIT returned ZX_OK');
});

// Tests that a present page splits a COMMIT into two requests, sent one after the other.
pagerTest(t, 'SplitCommitTest', async (t, pager) => {
  const vmo = pager.createVmo(33);
  pager.supplyPages(vmo, 16, 1);
  const committer = pager.startCommit(vmo, 0, 33);
  await expectPageRead(t, pager, vmo, 0, 16, 'R(0,16)');
  pager.supplyPages(vmo, 0, 16);
  await expectPageRead(t, pager, vmo, 17, 16, 'R(17,16)');
  pager.supplyPages(vmo, 17, 16);
  await expectDone(t, pager, vmo, committer, 'COMMIT returned ZX_OK');
});

// Tests that a present page in the middle of a COMMIT splits the request into the runs around it.
pagerTest(t, 'PresentPageSplitsRange', async (t, pager) => {
  const vmo = pager.createVmo(5);
  pager.supplyPages(vmo, 2, 1);
  const committer = pager.startCommit(vmo, 0, 5);
  ensure(t, await committer.waitForBlocked(), 'committer blocked');
  await expectPageRead(t, pager, vmo, 0, 2, 'R(0,2)');
  pager.supplyPages(vmo, 0, 2);
  ensure(t, await committer.waitForBlocked(), 'committer blocked again');
  await expectPageRead(t, pager, vmo, 3, 2, 'R(3,2)');
  pager.supplyPages(vmo, 3, 2);
  await expectDone(t, pager, vmo, committer, 'COMMIT returned ZX_OK');
});

// Tests that a COMMIT overlapping an outstanding request asks only for the part before it, then the tail.
pagerTest(t, 'OverlapCommitTest', async (t, pager) => {
  const vmo = pager.createVmo(32);
  const t1 = await startCommitRead(t, pager, vmo, 8, 16);
  const t2 = pager.startCommit(vmo, 0, 32);
  await expectPageRead(t, pager, vmo, 0, 8, 'R(0,8)');
  pager.supplyPages(vmo, 0, 24);
  await expectPageRead(t, pager, vmo, 24, 8, 'R(24,8)');
  pager.supplyPages(vmo, 24, 8);
  await expectDone(t, pager, vmo, [t1, t2], 'both COMMITs returned ZX_OK');
});

// Tests that commits overlapping outstanding requests send no packets and misaligned supplies wake them all.
pagerTestWith(t, 'OverlapCommitSupplyTest', { maxThreads: 48 }, async (t, pager) => {
  const A_PAGES = 7;
  const B_PAGES = 5;
  const SUPPLY_PAGES = 3;
  const PAGE_COUNT = A_PAGES * B_PAGES * SUPPLY_PAGES;
  const vmo = pager.createVmo(PAGE_COUNT);
  const threads: TestThread[] = [];
  for (let i = 0; i < PAGE_COUNT / A_PAGES; i++) {
    threads.push(pager.startCommit(vmo, i * A_PAGES, A_PAGES));
    await expectPageRead(t, pager, vmo, i * A_PAGES, A_PAGES, `R(${i * A_PAGES},${A_PAGES})`);
  }
  for (let i = 0; i < PAGE_COUNT / B_PAGES; i++) {
    const thread = pager.startCommit(vmo, i * B_PAGES, B_PAGES);
    threads.push(thread);
    ensure(t, await thread.waitForBlocked(), `B thread ${i} blocked`);
  }
  expectNoRequest(t, pager, vmo, 'the overlapping commits sent no packet');
  for (let i = 0; i < PAGE_COUNT / SUPPLY_PAGES; i++) pager.supplyPages(vmo, i * SUPPLY_PAGES, SUPPLY_PAGES);
  await expectDone(t, pager, vmo, threads, `all ${threads.length} COMMITs returned ZX_OK`);
});

// Tests that one request can be satisfied by many single-page supplies.
pagerTest(t, 'MultisupplyCommitTest', async (t, pager) => {
  const PAGE_COUNT = 32;
  const vmo = pager.createVmo(PAGE_COUNT);
  const committer = await startCommitRead(t, pager, vmo, 0, PAGE_COUNT);
  for (let i = 0; i < PAGE_COUNT; i++) pager.supplyPages(vmo, i, 1);
  await expectDone(t, pager, vmo, committer, 'COMMIT returned ZX_OK');
});

// Tests that supplies straddling several requests wake each one exactly when it is complete.
pagerTest(t, 'MulticommitSupplyTest', async (t, pager) => {
  const COMMIT_PAGES = 7;
  const SUPPLY_PAGES = 5;
  const PAGE_COUNT = COMMIT_PAGES * SUPPLY_PAGES;
  const vmo = pager.createVmo(PAGE_COUNT);
  const committers: TestThread[] = [];
  for (let i = 0; i < SUPPLY_PAGES; i++) {
    committers.push(pager.startCommit(vmo, i * COMMIT_PAGES, COMMIT_PAGES));
    await expectPageRead(t, pager, vmo, i * COMMIT_PAGES, COMMIT_PAGES, `R(${i * COMMIT_PAGES},${COMMIT_PAGES})`);
  }
  for (let j = 0; j < COMMIT_PAGES; j++) pager.supplyPages(vmo, j * SUPPLY_PAGES, SUPPLY_PAGES);
  await expectDone(t, pager, vmo, committers, 'all 5 COMMITs returned ZX_OK');
});

// Tests that supplying pages that are already present returns ZX_OK and skips them.
pagerTest(t, 'CommitRedundantSupplyTest', async (t, pager) => {
  const PAGE_COUNT = 8;
  const vmo = pager.createVmo(PAGE_COUNT);
  const committer = await startCommitRead(t, pager, vmo, 0, PAGE_COUNT);
  for (let i = 1; i <= PAGE_COUNT; i++) {
    t.doesNotThrow(() => pager.supplyPages(vmo, 0, i), `supply(0,${i}) returns ZX_OK`);
  }
  await expectDone(t, pager, vmo, committer, 'COMMIT returned ZX_OK');
});
