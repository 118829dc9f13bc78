// Resize and dirty zero tails (docs/conformance/writeback-tests.md §2.4, §2.6): growing a VMO adds a dirty zero
// range that reads as zeros with no READ request and ignores supplies; writes into it trap per page;
// BEGIN/END bookkeeping on zero intervals (IS_ZERO, partial, repeated and stale writebacks);
// shrinking wakes blocked readers and writers with ZX_ERR_OUT_OF_RANGE and trims awaiting-clean
// zero ranges; commits over the tail. Zero ranges cleaned by END are absent afterwards, so content
// checks after such an END read only the pages still present.

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_OUT_OF_RANGE, ZX_PAGER_VMO_READ, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { ensure } from '../helpers/check.js';
import {
  checkContent,
  committedPages,
  dirtyPages,
  ensureOk,
  ensureStatus,
  filled,
  getPageRequest,
  isTrap,
  noLeftovers,
  pagerTest,
  pages,
  resizeVmo,
  startCommit,
  startFill,
  startWriteByte,
  startWrites,
  supplied,
  supplyPages,
  supplyZeroPages,
  trapDirtyTest,
  verifyDirtyRanges,
  verifyModified,
  waitForPageDirty,
  waitForPageRead,
  writebackBeginPages,
  writebackBeginZeroPages,
  writebackEndPages,
  writeWithTrap,
} from '../helpers/writeback.js';
import type { ExpectedRange } from '../helpers/writeback.js';

const P = PAGE_SIZE;

// Tests that one BEGIN/END over dirty pages and the dirty zero gap between them cleans all three.
trapDirtyTest(t, 'ResizeWriteback', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  const writer = startWrites(pager, vmo, [0, 2].map((page) => ({ offset: page * P, data: filled(1, 0xaa) })));
  await writeWithTrap(t, pager, vmo, isTrap(options), writer, [[0, 1], [2, 1]]);
  await checkContent(t, pager, vmo, 0, pages(filled(1, 0xaa), filled(1), filled(1, 0xaa)), 'content');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [1, 1, true], [2, 1, false]]);
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 3), 'BEGIN(0,3)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 3), 'END(0,3)');
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, filled(1, 0xaa), 'page 0 unchanged');
  await checkContent(t, pager, vmo, 2, filled(1, 0xaa), 'page 2 unchanged');
  noLeftovers(t, pager, vmo);
});

// Tests that after a zero gap is written back, a write to it needs READ (the pager must supply it)
// and then DIRTY, like any clean page.
pagerTest(t, 'ResizeWritebackNewDirtyRequests', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  await writeWithTrap(t, pager, vmo, true, startFill(pager, vmo, 2, 1, 0xaa), [[2, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false]]);
  const expected = pages(supplied(vmo, 0, 1), filled(1), filled(1, 0xaa));
  await checkContent(t, pager, vmo, 0, expected, 'content');
  ensureOk(t, writebackBeginPages(pager, vmo, 1, 2), 'BEGIN(1,2)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 2), 'END(1,2)');
  verifyDirtyRanges(t, pager, vmo, []);

  const w1 = startFill(pager, vmo, 1, 1, 0xbb);
  ensure(t, await waitForPageRead(pager, vmo, 1, 1), 'READ(1,1): the written-back gap is absent');
  ensureOk(t, supplyPages(pager, vmo, 1, 1), 'supply(1,1)');
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'DIRTY(1,1)');
  const w2 = startFill(pager, vmo, 2, 1, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 2, 1), 'DIRTY(2,1)');
  ensureOk(t, dirtyPages(pager, vmo, 1, 2), 'OP_DIRTY(1,2)');
  await w1.wait();
  await w2.wait();
  verifyDirtyRanges(t, pager, vmo, [[1, 2, false]]);
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(1, 0xbb), filled(1, 0xcc)), 'content');
  noLeftovers(t, pager, vmo);
});

// Tests that a page after a dirty zero gap can be written back on its own, leaving the gap dirty.
trapDirtyTest(t, 'ResizeWritebackAfterGap', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const trap = isTrap(options);
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]]);
  await writeWithTrap(t, pager, vmo, trap, startFill(pager, vmo, 2, 1, 0xaa), [[2, 1]]);
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(1), filled(1, 0xaa)), 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false]]);
  ensureOk(t, writebackBeginPages(pager, vmo, 2, 1), 'BEGIN(2,1)');
  ensureOk(t, writebackEndPages(pager, vmo, 2, 1), 'END(2,1)');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]], 'page 2 cleaned, the gap still dirty');
  await writeWithTrap(t, pager, vmo, trap, startFill(pager, vmo, 2, 1, 0xbb), [[2, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false]], 'page 2 dirty again');
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(1), filled(1, 0xbb)), 'content');
  noLeftovers(t, pager, vmo);
});

// Tests sequential writebacks of each dirty range, IS_ZERO for the zero gaps, plain for pages.
trapDirtyTest(t, 'ResizeWritebackSequential', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 6), 'resize to 6');
  verifyDirtyRanges(t, pager, vmo, [[1, 5, true]]);
  const writer = startWrites(pager, vmo, [2, 4].map((page) => ({ offset: page * P, data: filled(1, 0xaa) })));
  await writeWithTrap(t, pager, vmo, isTrap(options), writer, [[2, 1], [4, 1]]);
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(1), filled(1, 0xaa), filled(1), filled(1, 0xaa), filled(1)), 'content');
  const ranges: ExpectedRange[] = [[1, 1, true], [2, 1, false], [3, 1, true], [4, 1, false], [5, 1, true]];
  verifyDirtyRanges(t, pager, vmo, ranges);
  for (const [o, l, zero] of ranges) {
    ensureOk(t, zero ? writebackBeginZeroPages(pager, vmo, o, l) : writebackBeginPages(pager, vmo, o, l), `BEGIN${zero ? '-Z' : ''}(${o},${l})`);
  }
  for (const [o, l] of ranges) ensureOk(t, writebackEndPages(pager, vmo, o, l), `END(${o},${l})`);
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that zero writebacks of successive pieces of a zero tail clean exactly those pieces.
trapDirtyTest(t, 'ResizeWritebackPartialEnd', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 5), 'resize to 5');
  verifyDirtyRanges(t, pager, vmo, [[1, 4, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 1), 'BEGIN-Z(1,1)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 1), 'END(1,1)');
  verifyDirtyRanges(t, pager, vmo, [[2, 3, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 2, 1), 'BEGIN-Z(2,1)');
  ensureOk(t, writebackEndPages(pager, vmo, 2, 1), 'END(2,1)');
  verifyDirtyRanges(t, pager, vmo, [[3, 2, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 3, 2), 'BEGIN-Z(3,2)');
  ensureOk(t, writebackEndPages(pager, vmo, 3, 2), 'END(3,2)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests the zero-interval writeback bookkeeping: a shorter BEGIN does not shrink an earlier one,
// stale and unmatched ENDs are no-ops, redundant BEGINs are harmless, and a BEGIN that does not
// start at the interval's start has no effect.
trapDirtyTest(t, 'ResizeWritebackRepeated', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 5), 'resize to 5');
  verifyDirtyRanges(t, pager, vmo, [[1, 4, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 4), 'BEGIN-Z(1,4)');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 2), 'BEGIN-Z(1,2) (shorter)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 4), 'END(1,4)');
  verifyDirtyRanges(t, pager, vmo, [], 'the whole tail was cleaned');

  ensureOk(t, resizeVmo(pager, vmo, 10), 'resize to 10');
  verifyDirtyRanges(t, pager, vmo, [[5, 5, true]]);
  ensureOk(t, writebackEndPages(pager, vmo, 1, 2), 'stale END(1,2)');
  verifyDirtyRanges(t, pager, vmo, [[5, 5, true]], 'the stale END was a no-op');
  ensureOk(t, writebackEndPages(pager, vmo, 5, 2), 'END(5,2) with no BEGIN');
  verifyDirtyRanges(t, pager, vmo, [[5, 5, true]], 'the unmatched END was a no-op');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 5, 2), 'BEGIN-Z(5,2)');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 5, 2), 'redundant BEGIN-Z(5,2)');
  verifyDirtyRanges(t, pager, vmo, [[5, 5, true]], 'still dirty while awaiting clean');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 7, 3), 'BEGIN-Z(7,3) (not at the interval start)');
  ensureOk(t, writebackEndPages(pager, vmo, 5, 2), 'END(5,2)');
  ensureOk(t, writebackEndPages(pager, vmo, 7, 3), 'END(7,3)');
  verifyDirtyRanges(t, pager, vmo, [[7, 3, true]], 'only [5,7) was cleaned');
  ensureOk(t, writebackEndPages(pager, vmo, 5, 2), 'END(5,2) again');
  verifyDirtyRanges(t, pager, vmo, [[7, 3, true]], 'the repeated END was a no-op');
  ensureOk(t, writebackBeginPages(pager, vmo, 7, 3), 'BEGIN(7,3)');
  ensureOk(t, writebackEndPages(pager, vmo, 7, 3), 'END(7,3)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that a zero writeback (BEGIN with IS_ZERO) never cleans a page written after the query.
trapDirtyTest(t, 'ResizeWritebackDirtyAfterQuery', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 4), 'resize to 4');
  verifyDirtyRanges(t, pager, vmo, [[1, 3, true]]);
  await writeWithTrap(t, pager, vmo, isTrap(options), startWriteByte(pager, vmo, 2, 0xaa), [[2, 1]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 3), 'BEGIN-Z(1,3) (the pager still believes it is all zero)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 3), 'END(1,3)');
  verifyDirtyRanges(t, pager, vmo, [[2, 1, false]], 'the written page stays dirty');
  noLeftovers(t, pager, vmo);
});

// Tests that reads of a grown range get zeros with no READ request, and that a supply there is a
// no-op; without TRAP_DIRTY a write turns those pages into plain dirty pages.
trapDirtyTest(t, 'ResizeSupplyZero', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(2, options);
  ensureOk(t, resizeVmo(pager, vmo, 4), 'resize to 4');
  const reader = pager.startRead(vmo, 0, 4);
  ensure(t, await waitForPageRead(pager, vmo, 0, 2), 'READ(0,2)');
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  t.equal(await getPageRequest(pager, vmo, ZX_PAGER_VMO_READ), null, 'no READ for the grown range');
  await reader.wait();
  const expected = pages(supplied(vmo, 0, 2), filled(2));
  await checkContent(t, pager, vmo, 0, expected, 'pages 2-3 read zero');
  t.equal(committedPages(pager, vmo), 2, 'two pages committed');
  ensureOk(t, supplyPages(pager, vmo, 2, 2), 'supply(2,2) is ZX_OK');
  t.equal(committedPages(pager, vmo), 2, 'the supply was a no-op');
  await checkContent(t, pager, vmo, 0, expected, 'pages 2-3 still zero');
  if (isTrap(options)) {
    // Writes to the tail under TRAP_DIRTY are ResizeDirtyRequest's subject.
    noLeftovers(t, pager, vmo);
    return;
  }
  await startFill(pager, vmo, 2, 2, 0xaa).wait();
  t.equal(committedPages(pager, vmo), 4, 'four pages committed');
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 2), filled(2, 0xaa)), 'content after the write');
  verifyDirtyRanges(t, pager, vmo, [[2, 2, false]], 'written tail pages are plain dirty pages');
  noLeftovers(t, pager, vmo);
});

// Tests DIRTY requests over clean pages and zero-tail pages: no READ, runs stop at dirty pages, and
// zero pieces are reported with IS_ZERO.
pagerTest(t, 'ResizeDirtyRequest', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');

  const t1 = startFill(pager, vmo, 1, 2, 0xaa);
  ensure(t, await t1.waitForBlocked(), 't1 blocked');
  t.equal(await getPageRequest(pager, vmo, ZX_PAGER_VMO_READ), null, 't1: no READ');
  ensure(t, await waitForPageDirty(pager, vmo, 1, 2), 'DIRTY(1,2): a clean page plus a tail page');
  ensureOk(t, dirtyPages(pager, vmo, 1, 2), 'OP_DIRTY(1,2)');
  await t1.wait();
  const expected = pages(supplied(vmo, 0, 1), filled(2, 0xaa));
  await checkContent(t, pager, vmo, 0, expected, 'content after t1');
  t.equal(committedPages(pager, vmo), 3, 'three pages committed');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, false]]);

  ensureOk(t, resizeVmo(pager, vmo, 6), 'resize to 6');
  const t2 = startFill(pager, vmo, 4, 1, 0xbb);
  ensure(t, await t2.waitForBlocked(), 't2 blocked');
  t.equal(await getPageRequest(pager, vmo, ZX_PAGER_VMO_READ), null, 't2: no READ');
  ensure(t, await waitForPageDirty(pager, vmo, 4, 1), 'DIRTY(4,1) only');
  ensureOk(t, dirtyPages(pager, vmo, 4, 1), 'OP_DIRTY(4,1)');
  await t2.wait();
  await checkContent(t, pager, vmo, 0, pages(expected, filled(1), filled(1, 0xbb), filled(1)), 'content after t2');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, false], [3, 1, true], [4, 1, false], [5, 1, true]]);

  ensureOk(t, resizeVmo(pager, vmo, 8), 'resize to 8');
  const t3 = startFill(pager, vmo, 0, 8, 0xcc);
  ensure(t, await t3.waitForBlocked(), 't3 blocked');
  t.equal(await getPageRequest(pager, vmo, ZX_PAGER_VMO_READ), null, 't3: no READ');
  for (const [o, l] of [[0, 1], [3, 1], [5, 3]] as const) {
    ensure(t, await waitForPageDirty(pager, vmo, o, l), `DIRTY(${o},${l})`);
    ensureOk(t, dirtyPages(pager, vmo, o, l), `OP_DIRTY(${o},${l})`);
  }
  await t3.wait();
  await checkContent(t, pager, vmo, 0, filled(8, 0xcc), 'all 0xcc');
  verifyDirtyRanges(t, pager, vmo, [[0, 8, false]]);
  noLeftovers(t, pager, vmo);
});

// Tests that shrinking a VMO fails blocked writers (marker, clean page, zero tail) and a blocked
// reader with ZX_ERR_OUT_OF_RANGE, and that their requests can no longer be resolved.
pagerTest(t, 'ResizeWithOutstandingDirtyRequests', async (t, pager) => {
  const vmo = pager.createVmo(5, ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyZeroPages(pager, vmo, 1, 1), 'marker at 1');
  ensureOk(t, supplyPages(pager, vmo, 3, 1), 'supply(3,1)');
  ensureOk(t, resizeVmo(pager, vmo, 6), 'resize to 6');
  verifyDirtyRanges(t, pager, vmo, [[5, 1, true]]);

  const t1 = startWriteByte(pager, vmo, 1, 0xaa);
  const t2 = startWriteByte(pager, vmo, 3, 0xbb);
  const t3 = startWriteByte(pager, vmo, 5, 0xcc);
  const t4 = pager.startThread('vmoRead', { vmo: vmo.handle, offset: 2 * P, length: 1 });
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'DIRTY(1,1) (marker)');
  ensure(t, await waitForPageDirty(pager, vmo, 3, 1), 'DIRTY(3,1) (clean page)');
  ensure(t, await waitForPageDirty(pager, vmo, 5, 1), 'DIRTY(5,1) (zero tail)');
  ensure(t, await waitForPageRead(pager, vmo, 2, 1), 'READ(2,1)');
  noLeftovers(t, pager, vmo, 'no other requests');

  ensureOk(t, resizeVmo(pager, vmo, 1), 'resize to 1');
  for (const [name, thread] of [['t1', t1], ['t2', t2], ['t3', t3], ['t4', t4]] as const) {
    await thread.waitForFailure(ZX_ERR_OUT_OF_RANGE);
    t.pass(`${name} failed with ZX_ERR_OUT_OF_RANGE`);
  }
  t.not(dirtyPages(pager, vmo, 1, 1), 'ZX_OK', 'OP_DIRTY(1,1) fails');
  t.not(dirtyPages(pager, vmo, 3, 1), 'ZX_OK', 'OP_DIRTY(3,1) fails');
  t.not(dirtyPages(pager, vmo, 5, 1), 'ZX_OK', 'OP_DIRTY(5,1) fails');
  t.not(supplyPages(pager, vmo, 2, 1), 'ZX_OK', 'supply(2,1) fails');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that a shrink fails writers blocked on awaiting-clean pages and zero ranges, and that an END
// past the new size fails.
pagerTest(t, 'ResizeWritebackWithOutstandingDirtyRequests', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  ensureOk(t, resizeVmo(pager, vmo, 5), 'resize to 5');
  await writeWithTrap(t, pager, vmo, true, startFill(pager, vmo, 4, 1, 0xaa), [[4, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[2, 2, true], [4, 1, false]]);
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 2), filled(2), filled(1, 0xaa)), 'content');

  ensureOk(t, writebackBeginPages(pager, vmo, 2, 3), 'BEGIN(2,3)');
  const t2 = startFill(pager, vmo, 1, 2, 0xbb);
  ensure(t, await waitForPageDirty(pager, vmo, 1, 2), 'DIRTY(1,2): a clean page plus an awaiting-clean zero page');
  const t3 = startFill(pager, vmo, 3, 2, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 3, 2), 'DIRTY(3,2): an awaiting-clean zero page plus an awaiting-clean page');
  ensureOk(t, writebackEndPages(pager, vmo, 2, 1), 'END(2,1)');
  ensureOk(t, resizeVmo(pager, vmo, 1), 'resize to 1');
  // Both writers are checked before stopping, so a failure names the one that stayed blocked.
  const [r2, r3] = await Promise.allSettled([t2.waitForFailure(ZX_ERR_OUT_OF_RANGE), t3.waitForFailure(ZX_ERR_OUT_OF_RANGE)]);
  const outcome = (r: PromiseSettledResult<unknown>): string => (r.status === 'fulfilled' ? 'ZX_ERR_OUT_OF_RANGE' : String((r.reason as Error).message));
  t.equal(outcome(r2), 'ZX_ERR_OUT_OF_RANGE', 't2 (DIRTY(1,2) over page 1 and the page END(2,1) cleaned) fails with OUT_OF_RANGE');
  t.equal(outcome(r3), 'ZX_ERR_OUT_OF_RANGE', 't3 (DIRTY(3,2)) fails with OUT_OF_RANGE');
  ensure(t, r2.status === 'fulfilled' && r3.status === 'fulfilled', 'both writers were released by the shrink');
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0 intact');
  ensureStatus(t, writebackEndPages(pager, vmo, 3, 2), 'ZX_ERR_OUT_OF_RANGE', 'END(3,2) past the end fails');
  verifyDirtyRanges(t, pager, vmo, [], 'still clean');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0 still intact');
  noLeftovers(t, pager, vmo);
});

// Tests that shrinking into an awaiting-clean zero range trims it (an END past the new size fails,
// an in-bounds END works) and that shrinking below it drops it.
trapDirtyTest(t, 'ResizeWritebackIntersectingResize', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]]);
  const expected = pages(supplied(vmo, 0, 1), filled(2));
  await checkContent(t, pager, vmo, 0, expected, 'content');

  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 2), 'BEGIN-Z(1,2)');
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]], 'page 1 still dirty');
  await checkContent(t, pager, vmo, 0, expected.subarray(0, 2 * P), 'content after the shrink');
  ensureStatus(t, writebackEndPages(pager, vmo, 1, 2), 'ZX_ERR_OUT_OF_RANGE', 'END(1,2) past the end fails');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]], 'page 1 still dirty');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 1), 'END(1,1)');
  verifyDirtyRanges(t, pager, vmo, [], 'clean');

  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  verifyDirtyRanges(t, pager, vmo, [[2, 1, true]], 'page 1 (written back, absent) is not reported');
  ensureOk(t, supplyPages(pager, vmo, 1, 1), 'supply(1,1)');
  expected.set(supplied(vmo, 1, 1), P);
  await checkContent(t, pager, vmo, 0, expected, 'content after the supply');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 2, 1), 'BEGIN-Z(2,1)');
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  verifyDirtyRanges(t, pager, vmo, [], 'the awaiting-clean range was cut off');
  ensureStatus(t, writebackEndPages(pager, vmo, 2, 1), 'ZX_ERR_OUT_OF_RANGE', 'END(2,1) past the end fails');
  verifyDirtyRanges(t, pager, vmo, [], 'still clean');
  await checkContent(t, pager, vmo, 0, expected.subarray(0, 2 * P), 'pages 0-1 intact');

  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  verifyDirtyRanges(t, pager, vmo, [[2, 1, true]]);
  await checkContent(t, pager, vmo, 0, expected, 'content');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 2, 1), 'BEGIN-Z(2,1)');
  ensureOk(t, resizeVmo(pager, vmo, 1), 'resize to 1');
  verifyDirtyRanges(t, pager, vmo, [], 'cut off again');
  ensureStatus(t, writebackEndPages(pager, vmo, 2, 1), 'ZX_ERR_OUT_OF_RANGE', 'END(2,1) past the end fails');
  verifyDirtyRanges(t, pager, vmo, [], 'still clean');
  await checkContent(t, pager, vmo, 0, expected.subarray(0, P), 'page 0 intact');
  noLeftovers(t, pager, vmo);
});

// Tests that a shrink beyond an awaiting-clean zero range leaves its writeback intact.
trapDirtyTest(t, 'ResizeWritebackNonIntersectingResize', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 1), 'BEGIN-Z(1,1)');
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]]);
  ensureOk(t, writebackEndPages(pager, vmo, 1, 1), 'END(1,1)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// pagersim's own (found by the differential model test; Zircon's ClipIntervalEnd keeps the
// awaiting-clean length, and WritebackEndLocked applies it to intervals added later): a shrink that
// truncates an awaiting-clean zero range keeps its length, so after growing again the merged range's
// new tail is cleaned by the same END too, and reads of it ask the pager again.
trapDirtyTest(t, 'ResizeWritebackRegrownTail', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  ensureOk(t, writebackBeginPages(pager, vmo, 1, 2), 'BEGIN(1,2)');
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]]);
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3 again');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]], 'one zero range [1,3)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 2), 'END(1,2)');
  verifyDirtyRanges(t, pager, vmo, [], 'the regrown tail was cleaned with the rest');
  const reader = pager.startRead(vmo, 2, 1);
  ensure(t, await waitForPageRead(pager, vmo, 2, 1), 'READ(2,1): page 2 is absent again');
  ensureOk(t, supplyPages(pager, vmo, 2, 1), 'supply(2,1)');
  await reader.wait();
  noLeftovers(t, pager, vmo);
});

// Tests that COMMIT over a dirty zero tail page turns it into a real dirty page (DIRTY under
// TRAP_DIRTY) that is no longer reported IS_ZERO.
trapDirtyTest(t, 'CommitExtendedTail', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  verifyDirtyRanges(t, pager, vmo, []);
  resizeVmo(pager, vmo, 2); // the catalog does not check this resize
  await checkContent(t, pager, vmo, 1, filled(1), 'page 1 reads zero');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]]);
  const committer = startCommit(pager, vmo, 0, 2);
  ensure(t, await waitForPageRead(pager, vmo, 0, 1), 'READ(0,1)');
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await writeWithTrap(t, pager, vmo, isTrap(options), committer, [[1, 1]]);
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(1)), 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, false]], 'page 1 is dirty but no longer IS_ZERO');
  noLeftovers(t, pager, vmo);
});

// Tests that a shrink under a blocked COMMIT lets it succeed (what remains is present) and marks the
// VMO modified.
trapDirtyTest(t, 'CommitResizeRace', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(2, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  t.notOk(verifyModified(pager, vmo), 'not modified');
  const committer = startCommit(pager, vmo, 0, 2);
  ensure(t, await waitForPageRead(pager, vmo, 1, 1), 'READ(1,1)');
  ensureOk(t, resizeVmo(pager, vmo, 1), 'resize to 1');
  await committer.wait();
  t.pass('the commit succeeded');
  t.ok(verifyModified(pager, vmo), 'modified by the resize');
  t.notOk(verifyModified(pager, vmo), 'the query reset it');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

