// ZX_VMO_OP_ZERO on pager VMOs and the races of zero ranges with outstanding requests
// (docs/conformance/writeback-tests.md §2.7, §2.13): whole pages become dirty zero ranges with no READ or
// DIRTY request (committed pages are decommitted), partial pages are writes, zeroing clean markers
// or an existing zero tail is a no-op, zeroing resolves pending READs; a DIRTY request whose zero
// range was written back makes OP_DIRTY fail with ZX_ERR_NOT_FOUND and the writer retry with READ.

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_OUT_OF_RANGE, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { ensure } from '../helpers/check.js';
import {
  checkContent,
  committedPages,
  dirtyPages,
  ensureOk,
  ensureStatus,
  filled,
  isTrap,
  noLeftovers,
  pagerTest,
  pages,
  resizeVmo,
  runOp,
  startWriteByte,
  startZero,
  supplied,
  supplyPages,
  supplyZeroPages,
  trapDirtyTest,
  verifyDirtyRanges,
  waitForPageDirty,
  waitForPageRead,
  writebackBeginZeroPages,
  writebackEndPages,
  writeWithTrap,
  zeroPages,
} from '../helpers/writeback.js';

const P = PAGE_SIZE;
const WORD = 8;

// Tests that OP_ZERO over a supplied and an absent page needs no READ, decommits the page and makes
// one dirty zero range; zeroing the new tail is a no-op.
pagerTest(t, 'OpZero', async (t, pager) => {
  const vmo = pager.createVmo(3, ZX_VMO_RESIZABLE);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0');
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, await zeroPages(pager, vmo, 0, 2), 'OP_ZERO(0,2) with no READ');
  await checkContent(t, pager, vmo, 0, filled(2), 'pages 0-1 zero');
  verifyDirtyRanges(t, pager, vmo, [[0, 2, true]]);
  ensureOk(t, resizeVmo(pager, vmo, 4), 'resize to 4');
  ensureOk(t, await zeroPages(pager, vmo, 3, 1), 'OP_ZERO(3,1) on the new tail');
  t.equal(committedPages(pager, vmo), 0, 'nothing committed: page 0 became a zero interval');
  verifyDirtyRanges(t, pager, vmo, [[0, 2, true], [3, 1, true]], 'page 2 is in neither range');
  await checkContent(t, pager, vmo, 0, filled(2), 'pages 0-1 zero');
  await checkContent(t, pager, vmo, 3, filled(1), 'page 3 zero');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO of a clean page on a TRAP_DIRTY VMO needs no DIRTY request.
pagerTest(t, 'OpZeroTrapDirty', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 2), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, await zeroPages(pager, vmo, 0, 1), 'OP_ZERO(0,1) with no DIRTY request');
  await checkContent(t, pager, vmo, 0, pages(filled(1), supplied(vmo, 1, 1)), 'page 0 zero, page 1 intact');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, true]]);
  ensureOk(t, resizeVmo(pager, vmo, 4), 'resize to 4');
  ensureOk(t, await zeroPages(pager, vmo, 2, 2), 'OP_ZERO(2,2) on the new tail');
  t.equal(committedPages(pager, vmo), 1, 'only page 1 committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, true], [2, 2, true]]);
  await checkContent(t, pager, vmo, 0, pages(filled(1), supplied(vmo, 1, 1), filled(2)), 'content');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO over a zero tail that was never written back changes nothing.
trapDirtyTest(t, 'OpZeroTail', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  const expected = pages(supplied(vmo, 0, 1), filled(2));
  await checkContent(t, pager, vmo, 0, expected, 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]]);
  t.equal(committedPages(pager, vmo), 1, 'one page committed');
  ensureOk(t, await zeroPages(pager, vmo, 1, 2), 'OP_ZERO(1,2)');
  await checkContent(t, pager, vmo, 0, expected, 'content unchanged');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]], 'ranges unchanged');
  t.equal(committedPages(pager, vmo), 1, 'still one page committed');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO over the whole VMO decommits every page, dirty or clean, with no DIRTY request,
// leaving one zero range.
trapDirtyTest(t, 'OpZeroDecommit', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(2)), 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]]);
  await writeWithTrap(t, pager, vmo, isTrap(options), startWriteByte(pager, vmo, 2, 0xaa), [[2, 1]]);
  const expected = pages(supplied(vmo, 0, 1), filled(2));
  expected[2 * P] = 0xaa;
  await checkContent(t, pager, vmo, 0, expected, 'content after the write');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false]]);
  t.equal(committedPages(pager, vmo), 2, 'two pages committed');
  ensureOk(t, await zeroPages(pager, vmo, 0, 3), 'OP_ZERO(0,3) with no DIRTY request');
  await checkContent(t, pager, vmo, 0, filled(3), 'all zero');
  t.equal(committedPages(pager, vmo), 0, 'everything decommitted');
  verifyDirtyRanges(t, pager, vmo, [[0, 3, true]]);
  noLeftovers(t, pager, vmo);
});

// Tests that a shrink fails partial-page OP_ZEROs blocked on READ requests with OUT_OF_RANGE.
trapDirtyTest(t, 'OpZeroResize', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(4, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0');
  verifyDirtyRanges(t, pager, vmo, []);
  const t1 = startZero(pager, vmo, P + WORD, 2 * P);
  ensure(t, await waitForPageRead(pager, vmo, 1, 1), 't1: READ(1,1) for its partial first page');
  const t2 = startZero(pager, vmo, 2 * P, P - WORD);
  ensure(t, await waitForPageRead(pager, vmo, 2, 1), 't2: READ(2,1) for its partial page');
  ensureOk(t, resizeVmo(pager, vmo, 1), 'resize to 1');
  await t1.waitForFailure(ZX_ERR_OUT_OF_RANGE);
  await t2.waitForFailure(ZX_ERR_OUT_OF_RANGE);
  t.pass('both OP_ZEROs failed with ZX_ERR_OUT_OF_RANGE');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0 intact');
  noLeftovers(t, pager, vmo);
});

// Tests that zeroing part of a page is a write (DIRTY under TRAP_DIRTY), while a range that is zero
// from the partial page's end onwards needs no request.
trapDirtyTest(t, 'OpZeroPartialPage', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const expected = pages(supplied(vmo, 0, 1), filled(1));
  await checkContent(t, pager, vmo, 0, expected.subarray(0, P), 'page 0');
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  await checkContent(t, pager, vmo, 0, expected, 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]]);

  await writeWithTrap(t, pager, vmo, isTrap(options), startZero(pager, vmo, WORD, WORD), [[0, 1]]);
  expected.fill(0, WORD, 2 * WORD);
  await checkContent(t, pager, vmo, 0, expected, 'bytes 8..15 zero');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [1, 1, true]]);

  ensureOk(t, await runOp(startZero(pager, vmo, P - WORD, P)), 'OP_ZERO from the last word of page 0 into page 1, no request');
  expected.fill(0, P - WORD, P);
  await checkContent(t, pager, vmo, 0, expected, 'the last word of page 0 zero');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [1, 1, true]], 'ranges unchanged');
  noLeftovers(t, pager, vmo);
});

// Tests that zeroing the page just before a zero tail extends the tail with no request, and that a
// partial zero of an absent page needs READ, then DIRTY under TRAP_DIRTY.
trapDirtyTest(t, 'OpZeroExpandsTail', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(2, options);
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  await checkContent(t, pager, vmo, 2, filled(1), 'page 2 zero');
  verifyDirtyRanges(t, pager, vmo, [[2, 1, true]]);

  ensureOk(t, await runOp(startZero(pager, vmo, P, P)), 'OP_ZERO(1,1) completes');
  noLeftovers(t, pager, vmo, 'no request for zeroing page 1');
  await checkContent(t, pager, vmo, 1, filled(2), 'pages 1-2 zero');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, true]], 'the tail grew to page 1');

  const t2 = startZero(pager, vmo, P - WORD, WORD);
  ensure(t, await waitForPageRead(pager, vmo, 0, 1), 'READ(0,1)');
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  if (isTrap(options)) {
    ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
    ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  }
  await t2.wait();
  noLeftovers(t, pager, vmo, 'no more requests');
  const expected = pages(supplied(vmo, 0, 1), filled(2));
  expected.fill(0, P - WORD, P);
  await checkContent(t, pager, vmo, 0, expected, 'content');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [1, 2, true]]);
  noLeftovers(t, pager, vmo);
});

// Tests that an OP_ZERO reshaping an awaiting-clean zero interval makes the pending END a no-op.
trapDirtyTest(t, 'OpZeroWriteback', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0');
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(1)), 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 1), 'BEGIN-Z(1,1)');
  ensureOk(t, await zeroPages(pager, vmo, 0, 1), 'OP_ZERO(0,1) during the writeback');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 1), 'END(1,1)');
  await checkContent(t, pager, vmo, 0, filled(2), 'all zero');
  verifyDirtyRanges(t, pager, vmo, [[0, 2, true]], 'END was a no-op');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 0, 2), 'BEGIN-Z(0,2)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 2), 'END(0,2)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO over clean zero markers leaves them clean: no request, nothing dirty.
trapDirtyTest(t, 'OpZeroWithMarkers', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(5, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, supplyZeroPages(pager, vmo, 1, 1), 'marker at 1');
  ensureOk(t, supplyPages(pager, vmo, 2, 1), 'supply(2,1)');
  ensureOk(t, supplyZeroPages(pager, vmo, 3, 2), 'markers at 3-4');
  const expected = pages(supplied(vmo, 0, 1), filled(1), supplied(vmo, 2, 1), filled(2));
  await checkContent(t, pager, vmo, 0, expected, 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, await zeroPages(pager, vmo, 1, 1), 'OP_ZERO(1,1)');
  noLeftovers(t, pager, vmo, 'no requests after zeroing the middle marker');
  await checkContent(t, pager, vmo, 0, expected, 'content unchanged');
  verifyDirtyRanges(t, pager, vmo, [], 'nothing dirty');
  ensureOk(t, await zeroPages(pager, vmo, 3, 2), 'OP_ZERO(3,2)');
  noLeftovers(t, pager, vmo, 'no requests after zeroing the tail markers');
  await checkContent(t, pager, vmo, 0, expected, 'content unchanged');
  verifyDirtyRanges(t, pager, vmo, [], 'still nothing dirty');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO of a page with a pending READ retires the request: the reader gets zeros.
trapDirtyTest(t, 'OpZeroUnblocksReadRequest', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(2, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  verifyDirtyRanges(t, pager, vmo, []);
  const reader = pager.startRead(vmo, 1, 1);
  ensure(t, await waitForPageRead(pager, vmo, 1, 1), 'READ(1,1)');
  ensureOk(t, await zeroPages(pager, vmo, 1, 1), 'OP_ZERO(1,1)');
  const data = await reader.wait<Uint8Array>();
  await checkContent(t, pager, vmo, 0, pages(supplied(vmo, 0, 1), filled(1)), 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]]);
  t.same(data, filled(1), 'the blocked reader got zeros');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_DIRTY of a request whose zero range was written back fails with NOT_FOUND and
// makes the writer retry: READ, then DIRTY.
pagerTest(t, 'DelayedDirtyNotFound', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true]]);
  const writer = startWriteByte(pager, vmo, 1, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'DIRTY(1,1)');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 1), 'BEGIN-Z(1,1)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 1), 'END(1,1)');
  verifyDirtyRanges(t, pager, vmo, [], 'the zero range was written back');
  noLeftovers(t, pager, vmo, 'no new requests yet');
  ensureStatus(t, dirtyPages(pager, vmo, 1, 1), 'ZX_ERR_NOT_FOUND', 'OP_DIRTY(1,1): no page to dirty');
  ensure(t, await waitForPageRead(pager, vmo, 1, 1), 'the writer retries: READ(1,1)');
  ensureOk(t, supplyPages(pager, vmo, 1, 1), 'supply(1,1)');
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'then DIRTY(1,1)');
  ensureOk(t, dirtyPages(pager, vmo, 1, 1), 'OP_DIRTY(1,1)');
  await writer.wait();
  verifyDirtyRanges(t, pager, vmo, [[1, 1, false]], 'page 1 is dirty and no longer IS_ZERO');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO satisfies a pending READ with zeros, and that writing the zero range back
// leaves nothing committed and raises no request.
pagerTest(t, 'DelayedReadZeroRange', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE);
  const reader = pager.startThread('vmoRead', { vmo: vmo.handle, offset: 0, length: 1 });
  ensure(t, await waitForPageRead(pager, vmo, 0, 1), 'READ(0,1)');
  ensureOk(t, await zeroPages(pager, vmo, 0, 1), 'OP_ZERO(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, true]]);
  t.equal((await reader.wait<Uint8Array>())[0], 0, 'the reader got 0');
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 0, 1), 'BEGIN-Z(0,1)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'END(0,1)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo, 'no new requests');
  t.equal(committedPages(pager, vmo), 0, 'nothing committed');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO while a DIRTY request is pending, then a zero writeback, makes OP_DIRTY fail
// with NOT_FOUND and the writer retry: READ (answered with a zero marker), then DIRTY.
pagerTest(t, 'DelayedDirtyZeroRange', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const writer = startWriteByte(pager, vmo, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, await zeroPages(pager, vmo, 0, 1), 'OP_ZERO(0,1) while the DIRTY request is pending');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 0, 1), 'BEGIN-Z(0,1)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'END(0,1)');
  verifyDirtyRanges(t, pager, vmo, []);
  ensureStatus(t, dirtyPages(pager, vmo, 0, 1), 'ZX_ERR_NOT_FOUND', 'OP_DIRTY(0,1): no page to dirty');
  ensure(t, await waitForPageRead(pager, vmo, 0, 1), 'the writer retries: READ(0,1)');
  ensureOk(t, supplyZeroPages(pager, vmo, 0, 1), 'supply a zero marker');
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'then DIRTY(0,1)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  await writer.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  noLeftovers(t, pager, vmo);
});
