// Resize of pager VMOs while threads wait (docs/conformance/pager-tests.md §2.10, §2.3) and the pager-identity
// check of the stats query (docs/conformance/pager-tests.md §2.6 ProxyUseAfterFree). Shrinking wakes waiters beyond the new size: a
// read fails with ZX_ERR_OUT_OF_RANGE, a commit just finishes over the shorter range, and a page that
// was supplied and then cut off is not progress. ReadResizeTest also runs through a mapping (vmoVmarTest),
// where the cut-off fault is a fatal page fault.

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_INVALID_ARGS, ZX_ERR_OUT_OF_RANGE, ZX_ERR_UNAVAILABLE, ZX_VMO_RESIZABLE } from '../../core/index.js';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { checkContent, sharedBytes, statusOf, waitForData, expectedContent } from '../helpers/user_pager.js';
import { expectDone, startCommitRead, vmoVmarTest } from '../helpers/vmo_vmar.js';
import { pagerTest } from '../helpers/writeback.js';

// Tests that shrinking a VMO under a blocked reader fails the access with ZX_ERR_OUT_OF_RANGE.
vmoVmarTest(t, 'ReadResizeTest', async (t, pager, access) => {
  const vmo = pager.createVmo(1, ZX_VMO_RESIZABLE);
  const reader = access.startRead(vmo, 0, 1);
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1)');
  pager.sys.vmoSetSize(vmo.handle, 0);
  await access.expectFailure(t, reader, vmo, 0, ZX_ERR_OUT_OF_RANGE);
  expectNoRequest(t, pager, vmo, 'no further READ');
});

// Tests that a page supplied and then cut off by a shrink does not count toward the commit's request.
pagerTest(t, 'ResizeCommitTest', async (t, pager) => {
  const vmo = pager.createVmo(3, ZX_VMO_RESIZABLE);
  const commit = await startCommitRead(t, pager, vmo, 0, 3);
  pager.supplyPages(vmo, 2, 1);
  pager.sys.vmoSetSize(vmo.handle, PAGE_SIZE);
  ensure(t, await commit.waitForBlocked(), 'the commit is still blocked after the shrink');
  pager.supplyPages(vmo, 0, 1);
  await expectDone(t, pager, vmo, commit, 'the commit returned ZX_OK over the shorter range');
});

// Tests that set_size on a pager VMO created without ZX_VMO_RESIZABLE is ZX_ERR_UNAVAILABLE.
pagerTest(t, 'ResizeNonresizableVmo', async (t, pager) => {
  const vmo = pager.createVmo(1);
  t.equal(statusOf(() => pager.sys.vmoSetSize(vmo.handle, 2 * PAGE_SIZE)), ZX_ERR_UNAVAILABLE);
});

// Tests that an early-woken reader whose range is cut by a shrink fails once its request resolves.
pagerTest(t, 'EarlyWakeWithResize', async (t, pager) => {
  const vmo = pager.createVmo(16, ZX_VMO_RESIZABLE);
  const buffer = sharedBytes(16 * PAGE_SIZE);
  const reader = pager.startReadInto(vmo, 0, buffer);
  await expectPageRead(t, pager, vmo, 0, 16, 'R(0,16)');
  pager.supplyPages(vmo, 0, 1);
  ensure(t, await waitForData(buffer, 0, expectedContent(vmo.key, 0, 1)), "page 0's data reached the reader");
  ensure(t, await reader.waitForBlocked(), 'the reader blocked again');
  pager.sys.vmoSetSize(vmo.handle, 8 * PAGE_SIZE);
  pager.supplyPages(vmo, 1, 7);
  await reader.waitForFailure(ZX_ERR_OUT_OF_RANGE);
  t.pass('the 16-page read failed: its range now reaches past the end');
  t.ok(checkContent(buffer.subarray(0, PAGE_SIZE), vmo.key, 0), 'page 0 was copied before the failure');
});

// Tests that a VMO of a closed pager is not taken for a new pager's (query_vmo_stats: INVALID_ARGS).
pagerTest(t, 'ProxyUseAfterFree', async (t, pager) => {
  const vmo = pager.createVmo(1);
  pager.closePagerHandle();
  const other = pager.sys.pagerCreate(0);
  t.equal(statusOf(() => pager.sys.pagerQueryVmoStats(other, vmo.handle, 0)), ZX_ERR_INVALID_ARGS);
  pager.sys.handleClose(other);
});
