// Detach and the modified flag (docs/conformance/writeback-tests.md §2.10-§2.11): after
// zx_pager_detach_vmo, clean pages are dropped while dirty pages and dirty zero ranges stay
// readable and can still be written back; writes that need a new dirty transition and pending DIRTY
// requests fail with ZX_ERR_BAD_STATE, and OP_DIRTY/OP_FAIL fail. zx_pager_query_vmo_stats reports
// writes, resizes and OP_ZERO, not reads or OP_DIRTY, and RESET clears it. VMO_VMAR tests are
// ported as their Vmo halves (the Vmar halves need mappings).

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_BAD_STATE, ZX_PAGER_VMO_DIRTY, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { ensure } from '../helpers/check.js';
import {
  checkContent,
  committedPages,
  dirtyPages,
  ensureOk,
  failPages,
  filled,
  getPageRequest,
  isTrap,
  noLeftovers,
  pagerTest,
  pages,
  patched,
  resizeVmo,
  startWriteByte,
  supplied,
  supplyPages,
  trapDirtyTest,
  verifyDirtyRanges,
  verifyModified,
  waitForPageComplete,
  waitForPageDirty,
  writebackBeginPages,
  writebackEndPages,
  writeWithTrap,
  zeroPages,
} from '../helpers/writeback.js';

const P = PAGE_SIZE;

// Tests that a dirty page survives detach (committed, reported, readable) and can be written back.
// (Vmo half: the content is read with zx_vmo_read only.)
trapDirtyTest(t, 'WritebackDirtyPagesAfterDetach', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await writeWithTrap(t, pager, vmo, isTrap(options), startWriteByte(pager, vmo, 0, 0xaa), [[0, 1]]);
  t.equal(committedPages(pager, vmo), 1, 'one page committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  pager.detachVmo(vmo);
  ensure(t, await waitForPageComplete(pager, vmo), 'COMPLETE');
  t.equal(committedPages(pager, vmo), 1, 'the dirty page is still committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'still dirty after detach');
  await checkContent(t, pager, vmo, 0, patched(supplied(vmo, 0, 1), [0, 0xaa]), 'readable with zx_vmo_read');
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1), 'BEGIN(0,1) after detach');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'END(0,1) after detach');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that a dirty zero range and a dirty page in a grown range survive detach and can be written
// back.
trapDirtyTest(t, 'WritebackResizedRangeAfterDetach', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  await writeWithTrap(t, pager, vmo, isTrap(options), startWriteByte(pager, vmo, 2, 0xbb), [[2, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false]]);
  t.equal(committedPages(pager, vmo), 1, 'only page 2 committed');
  pager.detachVmo(vmo);
  ensure(t, await waitForPageComplete(pager, vmo), 'COMPLETE');
  t.equal(committedPages(pager, vmo), 1, 'still one page committed');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false]], 'unchanged by the detach');
  await checkContent(t, pager, vmo, 1, patched(filled(2), [P, 0xbb]), 'pages 1-2 readable with zx_vmo_read');
  ensureOk(t, writebackBeginPages(pager, vmo, 1, 2), 'BEGIN(1,2)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 2), 'END(1,2)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that detach decommits clean pages.
trapDirtyTest(t, 'DecommitCleanOnDetach', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  t.equal(committedPages(pager, vmo), 1, 'one page committed');
  verifyDirtyRanges(t, pager, vmo, []);
  pager.detachVmo(vmo);
  ensure(t, await waitForPageComplete(pager, vmo), 'COMPLETE');
  verifyDirtyRanges(t, pager, vmo, []);
  t.equal(committedPages(pager, vmo), 0, 'the clean page was decommitted');
  noLeftovers(t, pager, vmo);
});

// Tests that after detach a write to a clean or an AwaitingClean page fails with BAD_STATE and
// raises no request, while END still cleans the AwaitingClean page.
pagerTest(t, 'NoDirtyRequestsAfterDetachVmo', async (t, pager) => {
  const vmo1 = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo1, 0, 1), 'vmo1: supply(0,1)');
  verifyDirtyRanges(t, pager, vmo1, [], 'vmo1: clean');
  pager.detachVmo(vmo1);
  ensure(t, await waitForPageComplete(pager, vmo1), 'vmo1: COMPLETE');
  await startWriteByte(pager, vmo1, 0, 0xaa).waitForFailure(ZX_ERR_BAD_STATE);
  t.pass('vmo1: the write failed with ZX_ERR_BAD_STATE');
  noLeftovers(t, pager, vmo1, 'vmo1: no requests');
  verifyDirtyRanges(t, pager, vmo1, [], 'vmo1: still clean');

  const vmo2 = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo2, 0, 1), 'vmo2: supply(0,1)');
  ensureOk(t, dirtyPages(pager, vmo2, 0, 1), 'vmo2: OP_DIRTY(0,1)');
  verifyDirtyRanges(t, pager, vmo2, [[0, 1, false]], 'vmo2: dirty');
  ensureOk(t, writebackBeginPages(pager, vmo2, 0, 1), 'vmo2: BEGIN(0,1)');
  pager.detachVmo(vmo2);
  ensure(t, await waitForPageComplete(pager, vmo2), 'vmo2: COMPLETE');
  await startWriteByte(pager, vmo2, 0, 0xaa).waitForFailure(ZX_ERR_BAD_STATE);
  t.pass('vmo2: the write failed with ZX_ERR_BAD_STATE');
  verifyDirtyRanges(t, pager, vmo2, [[0, 1, false]], 'vmo2: still reported until END');
  ensureOk(t, writebackEndPages(pager, vmo2, 0, 1), 'vmo2: END(0,1)');
  verifyDirtyRanges(t, pager, vmo2, [], 'vmo2: clean');
  noLeftovers(t, pager, vmo2, 'vmo2: no requests');
});

// Tests that detach fails a writer blocked on a DIRTY request with BAD_STATE and decommits the clean
// page.
pagerTest(t, 'DetachWithPendingDirtyRequestVmo', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  t.equal(committedPages(pager, vmo), 1, 'one page committed');
  const writer = startWriteByte(pager, vmo, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  pager.detachVmo(vmo);
  ensure(t, await waitForPageComplete(pager, vmo), 'COMPLETE');
  await writer.waitForFailure(ZX_ERR_BAD_STATE);
  t.pass('the writer failed with ZX_ERR_BAD_STATE');
  verifyDirtyRanges(t, pager, vmo, []);
  t.equal(committedPages(pager, vmo), 0, 'nothing committed');
  noLeftovers(t, pager, vmo);
});

// Tests that after detach a pending DIRTY request can be neither failed nor resolved.
pagerTest(t, 'ResolveDirtyRequestAfterDetach', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const writer = startWriteByte(pager, vmo, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  pager.detachVmo(vmo);
  ensure(t, await waitForPageComplete(pager, vmo), 'COMPLETE');
  await writer.waitForFailure(ZX_ERR_BAD_STATE);
  t.pass('the write failed with ZX_ERR_BAD_STATE');
  t.equal(await getPageRequest(pager, vmo, ZX_PAGER_VMO_DIRTY), null, 'no more DIRTY requests');
  t.not(failPages(pager, vmo, 0, 1), 'ZX_OK', 'OP_FAIL(0,1) fails');
  t.equal(await getPageRequest(pager, vmo, ZX_PAGER_VMO_DIRTY), null, 'still no DIRTY request');
  t.not(dirtyPages(pager, vmo, 0, 1), 'ZX_OK', 'OP_DIRTY(0,1) fails');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that a zx_vmo_write marks the VMO modified (OP_DIRTY alone does not) and RESET clears it.
trapDirtyTest(t, 'ModifiedOnVmoWrite', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  if (isTrap(options)) ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1) so the write does not trap');
  t.notOk(verifyModified(pager, vmo), 'not modified before the write');
  await startWriteByte(pager, vmo, 0, 0xaa).wait();
  t.ok(verifyModified(pager, vmo), 'modified by the write');
  t.notOk(verifyModified(pager, vmo), 'the RESET query cleared it');
  await checkContent(t, pager, vmo, 0, patched(supplied(vmo, 0, 1), [0, 0xaa]), 'byte 0 is 0xaa');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  noLeftovers(t, pager, vmo);
});

// Tests that resizing down and up each marks the VMO modified, and a VMO grown from 0 is one zero
// range.
trapDirtyTest(t, 'ModifiedOnResize', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  t.notOk(verifyModified(pager, vmo), 'not modified');
  ensureOk(t, resizeVmo(pager, vmo, 0), 'resize to 0');
  t.ok(verifyModified(pager, vmo), 'modified by the shrink');
  t.notOk(verifyModified(pager, vmo), 'reset');
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, resizeVmo(pager, vmo, 2), 'resize to 2');
  t.ok(verifyModified(pager, vmo), 'modified by the growth');
  t.notOk(verifyModified(pager, vmo), 'reset');
  await checkContent(t, pager, vmo, 0, filled(2), 'two zero pages');
  verifyDirtyRanges(t, pager, vmo, [[0, 2, true]], 'the whole VMO is a zero tail');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_ZERO marks the VMO modified and turns a dirty page into a dirty zero range.
trapDirtyTest(t, 'ModifiedOnOpZero', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(2, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 2), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  if (isTrap(options)) ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  t.notOk(verifyModified(pager, vmo), 'not modified');
  ensureOk(t, await zeroPages(pager, vmo, 0, 1), 'OP_ZERO(0,1)');
  t.ok(verifyModified(pager, vmo), 'modified by OP_ZERO');
  t.notOk(verifyModified(pager, vmo), 'reset');
  await checkContent(t, pager, vmo, 0, pages(filled(1), supplied(vmo, 1, 1)), 'page 0 zero, page 1 intact');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, true]]);
  noLeftovers(t, pager, vmo);
});

// Tests that a zx_vmo_read does not mark the VMO modified.
trapDirtyTest(t, 'NotModifiedOnVmoRead', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  t.notOk(verifyModified(pager, vmo), 'not modified');
  await pager.startThread('vmoRead', { vmo: vmo.handle, offset: 0, length: 1 }).wait();
  t.notOk(verifyModified(pager, vmo), 'still not modified after the read');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that a stats query without RESET reports modified and leaves it set.
trapDirtyTest(t, 'ModifiedNoReset', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  if (isTrap(options)) ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  t.notOk(verifyModified(pager, vmo), 'not modified');
  await startWriteByte(pager, vmo, 0, 0xaa).wait();
  t.equal(pager.sys.pagerQueryVmoStats(pager.pager, vmo.handle, 0).modified, true, 'options 0: modified');
  await checkContent(t, pager, vmo, 0, patched(supplied(vmo, 0, 1), [0, 0xaa]), 'byte 0 is 0xaa');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  t.ok(verifyModified(pager, vmo), 'still modified: options 0 did not reset it');
  t.notOk(verifyModified(pager, vmo), 'the RESET query cleared it');
  noLeftovers(t, pager, vmo);
});

