// Request batching, splitting and coalescing (zircon-pager-tests.md §2.2): zx_vmo_read and
// ZX_VMO_OP_COMMIT request the maximal run of missing pages, present pages split runs, overlapping
// requests coalesce, and supplies may cover requests piecewise or across request boundaries.

import t from 'tap';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { TestThread } from '../helpers/test_thread.js';
import { UserPager, checkContent } from '../helpers/user_pager.js';

// Tests that one zx_vmo_read of 32 missing pages sends a single R(0,32) (the Vmo half of the test).
t.test('SequentialMultipageTest', async (t) => {
  const PAGE_COUNT = 32;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const reader = pager.startRead(vmo, 0, PAGE_COUNT);
    await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, 'R(0,32)');
    pager.supplyPages(vmo, 0, PAGE_COUNT);
    t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'the reader sees all 32 pages');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that a COMMIT of 555 missing pages sends exactly one R(0,555).
t.test('SimpleCommitTest', async (t) => {
  const PAGE_COUNT = 555;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const committer = pager.startCommit(vmo, 0, PAGE_COUNT);
    await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, 'R(0,555)');
    pager.supplyPages(vmo, 0, PAGE_COUNT);
    await committer.wait();
    t.pass('COMMIT returned ZX_OK');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that a present page splits a COMMIT into two requests, sent one after the other.
t.test('SplitCommitTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(33);
    pager.supplyPages(vmo, 16, 1);
    const committer = pager.startCommit(vmo, 0, 33);
    await expectPageRead(t, pager, vmo, 0, 16, 'R(0,16)');
    pager.supplyPages(vmo, 0, 16);
    await expectPageRead(t, pager, vmo, 17, 16, 'R(17,16)');
    pager.supplyPages(vmo, 17, 16);
    await committer.wait();
    t.pass('COMMIT returned ZX_OK');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that a present page in the middle of a COMMIT splits the request into the runs around it.
t.test('PresentPageSplitsRange', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(5);
    pager.supplyPages(vmo, 2, 1);
    const committer = pager.startCommit(vmo, 0, 5);
    ensure(t, await committer.waitForBlocked(), 'committer blocked');
    await expectPageRead(t, pager, vmo, 0, 2, 'R(0,2)');
    pager.supplyPages(vmo, 0, 2);
    ensure(t, await committer.waitForBlocked(), 'committer blocked again');
    await expectPageRead(t, pager, vmo, 3, 2, 'R(3,2)');
    pager.supplyPages(vmo, 3, 2);
    await committer.wait();
    t.pass('COMMIT returned ZX_OK');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that a COMMIT overlapping an outstanding request asks only for the part before it, then the tail.
t.test('OverlapCommitTest', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(32);
    const t1 = pager.startCommit(vmo, 8, 16);
    await expectPageRead(t, pager, vmo, 8, 16, 'R(8,16)');
    const t2 = pager.startCommit(vmo, 0, 32);
    await expectPageRead(t, pager, vmo, 0, 8, 'R(0,8)');
    pager.supplyPages(vmo, 0, 24);
    await expectPageRead(t, pager, vmo, 24, 8, 'R(24,8)');
    pager.supplyPages(vmo, 24, 8);
    await t1.wait();
    await t2.wait();
    t.pass('both COMMITs returned ZX_OK');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that commits overlapping outstanding requests send no packets and misaligned supplies wake them all.
t.test('OverlapCommitSupplyTest', async (t) => {
  const A_PAGES = 7;
  const B_PAGES = 5;
  const SUPPLY_PAGES = 3;
  const PAGE_COUNT = A_PAGES * B_PAGES * SUPPLY_PAGES;
  const pager = await UserPager.create({ maxThreads: 48 });
  try {
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
    for (const thread of threads) await thread.wait();
    t.pass(`all ${threads.length} COMMITs returned ZX_OK`);
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that one request can be satisfied by many single-page supplies.
t.test('MultisupplyCommitTest', async (t) => {
  const PAGE_COUNT = 32;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const committer = pager.startCommit(vmo, 0, PAGE_COUNT);
    await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, 'R(0,32)');
    for (let i = 0; i < PAGE_COUNT; i++) pager.supplyPages(vmo, i, 1);
    await committer.wait();
    t.pass('COMMIT returned ZX_OK');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that supplies straddling several requests wake each one exactly when it is complete.
t.test('MulticommitSupplyTest', async (t) => {
  const COMMIT_PAGES = 7;
  const SUPPLY_PAGES = 5;
  const PAGE_COUNT = COMMIT_PAGES * SUPPLY_PAGES;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const committers: TestThread[] = [];
    for (let i = 0; i < SUPPLY_PAGES; i++) {
      committers.push(pager.startCommit(vmo, i * COMMIT_PAGES, COMMIT_PAGES));
      await expectPageRead(t, pager, vmo, i * COMMIT_PAGES, COMMIT_PAGES, `R(${i * COMMIT_PAGES},${COMMIT_PAGES})`);
    }
    for (let j = 0; j < COMMIT_PAGES; j++) pager.supplyPages(vmo, j * SUPPLY_PAGES, SUPPLY_PAGES);
    for (const committer of committers) await committer.wait();
    t.pass('all 5 COMMITs returned ZX_OK');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that supplying pages that are already present returns ZX_OK and skips them.
t.test('CommitRedundantSupplyTest', async (t) => {
  const PAGE_COUNT = 8;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const committer = pager.startCommit(vmo, 0, PAGE_COUNT);
    await expectPageRead(t, pager, vmo, 0, PAGE_COUNT, 'R(0,8)');
    for (let i = 1; i <= PAGE_COUNT; i++) {
      t.doesNotThrow(() => pager.supplyPages(vmo, 0, i), `supply(0,${i}) returns ZX_OK`);
    }
    await committer.wait();
    t.pass('COMMIT returned ZX_OK');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});
