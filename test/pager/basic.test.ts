// Read faults and supply (docs/conformance/pager-tests.md §2.1, §2.15, §2.17): the fault → READ → supply
// → wake cycle, presupply and retraction, concurrent and overlapping faults, bulk supplies, packet
// routing by key, and what supply does with the aux VMO. The VMO_VMAR_TESTs run twice (vmoVmarTest):
// through zx_vmo_read, and through a R/W mapping, where every access faults one page at a time and
// each absent page raises its own one-page READ.

import t from 'tap';
import type { Test } from 'tap';
import { PAGE_SIZE, ZX_INFO_VMO, ZX_INFO_VMO_PAGER_BACKED } from '../../core/index.js';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { TestThread } from '../helpers/test_thread.js';
import { UserPager, checkContent, expectedContent, isZero, bytesEqual } from '../helpers/user_pager.js';
import { expectReadDone, vmoVmarTest } from '../helpers/vmo_vmar.js';
import type { VmoAccess } from '../helpers/vmo_vmar.js';
import { pagerTest } from '../helpers/writeback.js';

// Tests that a read of an absent page sends exactly R(0,1) and that supplying it wakes the reader with the data.
vmoVmarTest(t, 'SinglePageTest', async (t, pager, access) => {
  const vmo = pager.createVmo(1);
  const reader = access.startRead(vmo, 0, 1);
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  pager.supplyPages(vmo, 0, 1);
  await expectReadDone(t, pager, vmo, reader, 0, 'the reader sees the supplied content');
});

// Tests that supplying from an uncommitted aux page inserts a zero page.
vmoVmarTest(t, 'UncommittedSinglePageTest', async (t, pager, access) => {
  const vmo = pager.createVmo(1);
  const reader = access.startRead(vmo, 0, 1);
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  const aux = pager.sys.vmoCreate(PAGE_SIZE, 0);
  pager.supplyPagesFrom(vmo, 0, 1, aux, 0);
  pager.sys.handleClose(aux);
  t.ok(isZero(await reader.wait<Uint8Array>()), 'the reader sees zeros');
  expectNoRequest(t, pager, vmo, 'no further READ');
});

// Tests that a page supplied before any access is read without a request.
vmoVmarTest(t, 'PresupplyTest', async (t, pager, access) => {
  const vmo = pager.createVmo(1);
  pager.supplyPages(vmo, 0, 1);
  const reader = access.startRead(vmo, 0, 1);
  t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'the reader sees the presupplied content');
  t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'no R(0,1) was ever queued');
});

// Tests that supplies between the request and reading the port cause the request to be retracted.
vmoVmarTest(t, 'EarlySupplyTest', async (t, pager, access) => {
  const vmo = pager.createVmo(2);
  const t1 = access.startRead(vmo, 0, 1);
  ensure(t, await t1.waitForBlocked(), 't1 blocked on page 0');
  pager.supplyPages(vmo, 0, 1);
  t.ok(checkContent(await t1.wait<Uint8Array>(), vmo.key, 0), 't1 sees page 0');

  const t2 = access.startRead(vmo, 1, 1);
  ensure(t, await t2.waitForBlocked(), 't2 blocked on page 1');
  await expectPageRead(t, pager, vmo, 1, 1, 'R(1,1)');
  pager.supplyPages(vmo, 1, 1);
  t.ok(checkContent(await t2.wait<Uint8Array>(), vmo.key, 1), 't2 sees page 1');

  t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'the retracted R(0,1) was never delivered');
});

// Tests that faults on two different pages produce two distinct requests and one supply satisfies both.
vmoVmarTest(t, 'ConcurrentMultipageAccessTest', async (t, pager, access) => {
  const vmo = pager.createVmo(2);
  const t1 = access.startRead(vmo, 0, 1);
  const t2 = access.startRead(vmo, 1, 1);
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  await expectPageRead(t, pager, vmo, 1, 1, 'R(1,1)');
  pager.supplyPages(vmo, 0, 2);
  t.ok(checkContent(await t1.wait<Uint8Array>(), vmo.key, 0), 't1 sees page 0');
  await expectReadDone(t, pager, vmo, t2, 1, 't2 sees page 1');
});

const OVERLAPPING_THREADS = 32;

// Tests that many faults on one page produce exactly one request and one supply wakes them all.
vmoVmarTest(
  t,
  'ConcurrentOverlappingAccessTest',
  async (t, pager, access) => {
    const vmo = pager.createVmo(1);
    const readers: TestThread[] = [];
    for (let i = 0; i < OVERLAPPING_THREADS; i++) {
      const reader = access.startRead(vmo, 0, 1);
      readers.push(reader);
      ensure(t, await reader.waitForBlocked(), `reader ${i} blocked`);
    }
    await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
    pager.supplyPages(vmo, 0, 1);
    let good = 0;
    for (const reader of readers) if (checkContent(await reader.wait<Uint8Array>(), vmo.key, 0)) good++;
    t.equal(good, OVERLAPPING_THREADS, 'every reader sees the supplied content');
    t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'no second R(0,1)');
  },
  { maxThreads: OVERLAPPING_THREADS + 4 },
);

// Tests that one supply resolves eight independent outstanding requests.
vmoVmarTest(t, 'BulkSingleSupplyTest', async (t, pager, access) => {
  const PAGE_COUNT = 8;
  const vmo = pager.createVmo(PAGE_COUNT);
  const readers: TestThread[] = [];
  for (let i = 0; i < PAGE_COUNT; i++) {
    readers.push(access.startRead(vmo, i, 1));
    await expectPageRead(t, pager, vmo, i, 1, `R(${i},1)`);
  }
  pager.supplyPages(vmo, 0, PAGE_COUNT);
  for (let i = 0; i < PAGE_COUNT; i++) {
    t.ok(checkContent(await readers[i].wait<Uint8Array>(), vmo.key, i), `reader ${i} sees page ${i}`);
  }
  expectNoRequest(t, pager, vmo, 'no further READ');
});

const BULK_CHUNKS = [2, 3, 5, 7, 37, 5, 13, 23];

/**
 * The shared body of BulkOddLengthSupplyTest and BulkOddOffsetSupplyTest: per chunk, one reader per
 * page (each request awaited), then a single supply of the chunk, from aux page `chunk start` when
 * `oddOffset` (supply_pages must honour aux_offset) or from aux page 0.
 */
async function bulkOddSupply(t: Test, pager: UserPager, access: VmoAccess, oddOffset: boolean): Promise<void> {
  const pageCount = BULK_CHUNKS.reduce((sum, length) => sum + length, 0);
  const vmo = pager.createVmo(pageCount);
  let start = 0;
  for (const length of BULK_CHUNKS) {
    const readers: TestThread[] = [];
    for (let page = start; page < start + length; page++) {
      readers.push(access.startRead(vmo, page, 1));
      await expectPageRead(t, pager, vmo, page, 1, `R(${page},1)`);
    }
    pager.supplyPages(vmo, start, length, oddOffset ? start : 0);
    let good = 0;
    for (let i = 0; i < length; i++) if (checkContent(await readers[i].wait<Uint8Array>(), vmo.key, start + i)) good++;
    t.equal(good, length, `all ${length} readers of chunk [${start}, ${start + length}) see their pages`);
    start += length;
  }
  expectNoRequest(t, pager, vmo, 'no further READ');
}

// Tests that supplies of odd lengths resolve exactly the single-page requests they cover.
vmoVmarTest(t, 'BulkOddLengthSupplyTest', (t, pager, access) => bulkOddSupply(t, pager, access, false));

// Tests that supplies taking their pages from odd aux offsets deliver the right data.
vmoVmarTest(t, 'BulkOddOffsetSupplyTest', (t, pager, access) => bulkOddSupply(t, pager, access, true));

// Tests that supplied bytes come from the aux VMO: page 0 carries distinguishable data.
vmoVmarTest(t, 'OverlapSupplyTest', async (t, pager, access) => {
  const vmo = pager.createVmo(2);
  const altData = expectedContent(vmo.key, 2, 1);
  const aux = pager.sys.vmoCreate(PAGE_SIZE, 0);
  pager.sys.vmoWrite(aux, altData, 0);
  pager.supplyPagesFrom(vmo, 0, 1, aux, 0);
  pager.sys.handleClose(aux);
  pager.supplyPages(vmo, 1, 1);

  const data = await access.startRead(vmo, 0, 2).wait<Uint8Array>();
  t.ok(bytesEqual(data.subarray(0, PAGE_SIZE), altData), 'page 0 holds the aux data');
  t.ok(checkContent(data.subarray(PAGE_SIZE), vmo.key, 1), 'page 1 holds the standard content');
  t.notOk(await pager.waitForPageRead(vmo, 0, 1, 0), 'no R(0,1)');
});

// Tests that a thread per VMO routes its request by key, and each supply wakes only its own reader.
pagerTest(t, 'SuccessiveVmoTest', async (t, pager) => {
  const ITERATIONS = 64;
  let good = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const vmo = pager.createVmo(1);
    const reader = pager.startRead(vmo, 0, 1);
    await expectPageRead(t, pager, vmo, 0, 1, `iteration ${i}: R(0,1)`);
    pager.supplyPages(vmo, 0, 1);
    if (checkContent(await reader.wait<Uint8Array>(), vmo.key, 0)) good++;
    pager.releaseVmo(vmo);
  }
  t.equal(good, ITERATIONS, 'every reader saw its VMO content');
});

// Tests that requests of several VMOs on one port carry each VMO's key.
pagerTest(t, 'MultipleConcurrentVmoTest', async (t, pager) => {
  const VMO_COUNT = 8;
  const vmos = [];
  const readers: TestThread[] = [];
  for (let i = 0; i < VMO_COUNT; i++) {
    const vmo = pager.createVmo(1);
    vmos.push(vmo);
    readers.push(pager.startRead(vmo, 0, 1));
    await expectPageRead(t, pager, vmo, 0, 1, `VMO ${i}: R(0,1)`);
  }
  for (let i = 0; i < VMO_COUNT; i++) {
    const vmo = vmos[i];
    pager.supplyPages(vmo, 0, 1);
    t.ok(checkContent(await readers[i].wait<Uint8Array>(), vmo.key, 0), `VMO ${i}: reader sees its content`);
  }
  for (const vmo of vmos) expectNoRequest(t, pager, vmo, `VMO key ${vmo.key}: no further READ`);
});

// Tests that supplying from an uncommitted aux VMO makes the page readable as zeros without any request.
pagerTest(t, 'UncommittedSupply', async (t, pager) => {
  const vmo = pager.createVmo(1);
  const aux = pager.sys.vmoCreate(PAGE_SIZE, 0);
  pager.supplyPagesFrom(vmo, 0, 1, aux, 0);
  pager.sys.handleClose(aux);
  const reader = pager.startThread('vmoRead', { vmo: vmo.handle, offset: 0, length: 4 });
  t.ok(isZero(await reader.wait<Uint8Array>()), 'the 4-byte read returns 0');
  expectNoRequest(t, pager, vmo, 'no READ');
});

// Tests that supply moves pages out of the aux VMO: the pager VMO gets the data and aux reads zero.
// (The aux-VMO half of MappedSupplyPages; the aux is written with vmo_write instead of a mapping.)
pagerTest(t, 'MappedSupplyPages', async (t, pager) => {
  const vmo = pager.createVmo(1);
  const aux = pager.sys.vmoCreate(PAGE_SIZE, 0);
  pager.sys.vmoWrite(aux, Uint8Array.of(0xcc), 0);
  pager.supplyPagesFrom(vmo, 0, 1, aux, 0);

  const reader = pager.startThread('vmoRead', { vmo: vmo.handle, offset: 0, length: 1 });
  t.equal((await reader.wait<Uint8Array>())[0], 0xcc, 'the pager VMO holds 0xcc');
  const auxByte = new Uint8Array(1);
  pager.sys.vmoRead(aux, auxByte, 0);
  t.equal(auxByte[0], 0, 'the aux VMO reads zero after the supply');
  pager.sys.handleClose(aux);
  expectNoRequest(t, pager, vmo, 'no READ');
});

// Tests that ZX_INFO_VMO flags pager VMOs as pager-backed and anonymous VMOs as not.
pagerTest(t, 'VmoInfoPagerTest', async (t, pager) => {
  // Zircon's CreateVmo(zx_system_get_page_size()) takes pages, so this VMO has 4096 pages.
  const vmo = pager.createVmo(PAGE_SIZE);
  const info = pager.sys.objectGetInfo(vmo.handle, ZX_INFO_VMO);
  t.ok((info.flags & ZX_INFO_VMO_PAGER_BACKED) !== 0, 'the pager VMO is ZX_INFO_VMO_PAGER_BACKED');
  const anonymous = pager.sys.vmoCreate(PAGE_SIZE, 0);
  const anonymousInfo = pager.sys.objectGetInfo(anonymous, ZX_INFO_VMO);
  t.equal(anonymousInfo.flags & ZX_INFO_VMO_PAGER_BACKED, 0, 'an anonymous VMO is not pager-backed');
  pager.sys.handleClose(anonymous);
});
