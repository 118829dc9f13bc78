// The Vmar halves of the read-fault VMO_VMAR_TESTs (zircon-pager-tests.md §1.4, §2.1, §2.2): the data
// is read through a R/W mapping of the whole VMO, so every access faults one page at a time and each
// absent page raises its own one-page READ request. The Vmo halves live in test/pager/.

import t from 'tap';
import type { Test } from 'tap';
import { PAGE_SIZE } from '../../core/index.js';
import { ensure, expectNoRequest } from '../helpers/check.js';
import { TestThread } from '../helpers/test_thread.js';
import { UserPager, bytesEqual, checkContent, expectedContent, isZero } from '../helpers/user_pager.js';
import { mapVmo, startMemReadPages } from '../helpers/vmar.js';

// Tests that a mapped read of an absent page sends exactly R(0,1) and the supply wakes it with the data.
t.test('SinglePageTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    pager.supplyPages(vmo, 0, 1);
    t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'the reader sees the supplied content');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that supplying from an uncommitted aux page gives the mapped reader a zero page.
t.test('UncommittedSinglePageTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    const aux = pager.sys.vmoCreate(PAGE_SIZE, 0);
    pager.supplyPagesFrom(vmo, 0, 1, aux, 0);
    pager.sys.handleClose(aux);
    t.ok(isZero(await reader.wait<Uint8Array>()), 'the reader sees zeros');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that a page supplied before any access is read through the mapping without a request.
t.test('PresupplyTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    pager.supplyPages(vmo, 0, 1);
    const reader = startMemReadPages(pager, base, 0, 1);
    t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'the reader sees the presupplied content');
    t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'no R(0,1) was ever queued');
  } finally {
    await pager.close();
  }
});

// Tests that a fault's queued request is retracted when its page is supplied before the pager reads it.
t.test('EarlySupplyTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    const base = mapVmo(pager, vmo);
    const t1 = startMemReadPages(pager, base, 0, 1);
    ensure(t, await t1.waitForBlocked(), 't1 blocked on page 0');
    pager.supplyPages(vmo, 0, 1);
    t.ok(checkContent(await t1.wait<Uint8Array>(), vmo.key, 0), 't1 sees page 0');

    const t2 = startMemReadPages(pager, base, 1, 1);
    ensure(t, await t2.waitForBlocked(), 't2 blocked on page 1');
    ensure(t, await pager.waitForPageRead(vmo, 1, 1), 'R(1,1)');
    pager.supplyPages(vmo, 1, 1);
    t.ok(checkContent(await t2.wait<Uint8Array>(), vmo.key, 1), 't2 sees page 1');

    t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'the retracted R(0,1) was never delivered');
  } finally {
    await pager.close();
  }
});

// Tests that mapped faults on two pages produce two distinct requests and one supply satisfies both.
t.test('ConcurrentMultipageAccessTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    const base = mapVmo(pager, vmo);
    const t1 = startMemReadPages(pager, base, 0, 1);
    const t2 = startMemReadPages(pager, base, 1, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    ensure(t, await pager.waitForPageRead(vmo, 1, 1), 'R(1,1)');
    pager.supplyPages(vmo, 0, 2);
    t.ok(checkContent(await t1.wait<Uint8Array>(), vmo.key, 0), 't1 sees page 0');
    t.ok(checkContent(await t2.wait<Uint8Array>(), vmo.key, 1), 't2 sees page 1');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that 32 mapped faults on one page produce exactly one request and one supply wakes them all.
t.test('ConcurrentOverlappingAccessTestVmar', async (t) => {
  const THREAD_COUNT = 32;
  const pager = await UserPager.create({ maxThreads: THREAD_COUNT + 4 });
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const readers: TestThread[] = [];
    for (let i = 0; i < THREAD_COUNT; i++) {
      const reader = startMemReadPages(pager, base, 0, 1);
      readers.push(reader);
      ensure(t, await reader.waitForBlocked(), `reader ${i} blocked`);
    }
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    pager.supplyPages(vmo, 0, 1);
    let good = 0;
    for (const reader of readers) if (checkContent(await reader.wait<Uint8Array>(), vmo.key, 0)) good++;
    t.equal(good, THREAD_COUNT, 'every reader sees the supplied content');
    t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'no second R(0,1)');
  } finally {
    await pager.close();
  }
});

// Tests that one supply resolves eight outstanding one-page fault requests.
t.test('BulkSingleSupplyTestVmar', async (t) => {
  const PAGE_COUNT = 8;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const base = mapVmo(pager, vmo);
    const readers: TestThread[] = [];
    for (let i = 0; i < PAGE_COUNT; i++) {
      readers.push(startMemReadPages(pager, base, i, 1));
      ensure(t, await pager.waitForPageRead(vmo, i, 1), `R(${i},1)`);
    }
    pager.supplyPages(vmo, 0, PAGE_COUNT);
    for (let i = 0; i < PAGE_COUNT; i++) {
      t.ok(checkContent(await readers[i]!.wait<Uint8Array>(), vmo.key, i), `reader ${i} sees page ${i}`);
    }
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

// Tests that mapped reads see the bytes of the aux VMO: page 0 carries distinguishable data.
t.test('OverlapSupplyTestVmar', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(2);
    const base = mapVmo(pager, vmo);
    const altData = expectedContent(vmo.key, 2, 1);
    const aux = pager.sys.vmoCreate(PAGE_SIZE, 0);
    pager.sys.vmoWrite(aux, altData, 0);
    pager.supplyPagesFrom(vmo, 0, 1, aux, 0);
    pager.sys.handleClose(aux);
    pager.supplyPages(vmo, 1, 1);

    const data = await startMemReadPages(pager, base, 0, 2).wait<Uint8Array>();
    t.ok(bytesEqual(data.subarray(0, PAGE_SIZE), altData), 'page 0 holds the aux data');
    t.ok(checkContent(data.subarray(PAGE_SIZE), vmo.key, 1), 'page 1 holds the standard content');
    t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'no R(0,1)');
  } finally {
    await pager.close();
  }
});

// Tests that one mapped read of 32 absent pages faults them one at a time: R(i,1) for i = 0..31 in order.
t.test('SequentialMultipageTestVmar', async (t) => {
  const PAGE_COUNT = 32;
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, PAGE_COUNT);
    for (let i = 0; i < PAGE_COUNT; i++) {
      ensure(t, await pager.waitForPageRead(vmo, i, 1), `R(${i},1)`);
      ensure(t, pager.noRequest(vmo), `nothing beyond R(${i},1) is requested before it is supplied`);
      pager.supplyPages(vmo, i, 1);
    }
    t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'the reader sees all 32 pages');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});

const BULK_CHUNKS = [2, 3, 5, 7, 37, 5, 13, 23];

/**
 * The shared body of BulkOddLengthSupplyTestVmar and BulkOddOffsetSupplyTestVmar: per chunk, one
 * mapped reader per page (each R(page,1) awaited), then a single supply of the chunk, from aux page
 * `chunk start` when `oddOffset` (supply_pages must honour aux_offset) or from aux page 0.
 */
async function bulkOddSupply(t: Test, oddOffset: boolean): Promise<void> {
  const pageCount = BULK_CHUNKS.reduce((sum, length) => sum + length, 0);
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(pageCount);
    const base = mapVmo(pager, vmo);
    let start = 0;
    for (const length of BULK_CHUNKS) {
      const readers: TestThread[] = [];
      for (let page = start; page < start + length; page++) {
        readers.push(startMemReadPages(pager, base, page, 1));
        ensure(t, await pager.waitForPageRead(vmo, page, 1), `R(${page},1)`);
      }
      pager.supplyPages(vmo, start, length, oddOffset ? start : 0);
      let good = 0;
      for (let i = 0; i < length; i++) if (checkContent(await readers[i]!.wait<Uint8Array>(), vmo.key, start + i)) good++;
      t.equal(good, length, `all ${length} readers of chunk [${start}, ${start + length}) see their pages`);
      start += length;
    }
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
}

// Tests that supplies of odd lengths resolve exactly the one-page fault requests they cover.
t.test('BulkOddLengthSupplyTestVmar', async (t) => {
  await bulkOddSupply(t, false);
});

// Tests that supplies taking their pages from odd aux offsets deliver the right data to mapped readers.
t.test('BulkOddOffsetSupplyTestVmar', async (t) => {
  await bulkOddSupply(t, true);
});
