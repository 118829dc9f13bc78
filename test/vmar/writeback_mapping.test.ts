// The writeback catalog's mapping tests (docs/conformance/writeback-tests.md §2.9 and the tests it lists, plus
// the Vmar halves of docs/conformance/writeback-tests.md §2.10's VMO_VMAR tests): a store through a mapping faults one page at a time and
// takes the dirty path for any page that is not Dirty (a one-page DIRTY request on a TRAP_DIRTY VMO),
// a store to a Dirty page needs nothing, WRITEBACK_BEGIN revokes write access so the next store traps
// again, MAP_RANGE and read faults never dirty, a failed dirty transition kills the storing thread
// with the pager's status, and after detach any store needing a dirty transition crashes with
// ZX_ERR_BAD_STATE. Packets are read only through helpers/writeback.ts (its own stash).

import t from 'tap';
import type { Test } from 'tap';
import {
  PAGE_SIZE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_IO,
  ZX_VM_ALLOW_FAULTS,
  ZX_VM_MAP_RANGE,
  ZX_VMO_RESIZABLE,
  ZX_VMO_TRAP_DIRTY,
} from '../../core/index.js';
import { ensure } from '../helpers/check.js';
import { bytesEqual } from '../helpers/user_pager.js';
import type { UserPager, Vmo } from '../helpers/user_pager.js';
import { RW, mapVmo, startMemReadPages, startStoreByte, startStores, vmarFixture } from '../helpers/vmar.js';
import {
  checkContent,
  committedPages,
  dirtyPages,
  ensureOk,
  failPages,
  isTrap,
  noLeftovers,
  pagerTest,
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
  waitForPageRead,
  writeWithTrap,
  writebackBeginPages,
  writebackBeginZeroPages,
  writebackEndPages,
} from '../helpers/writeback.js';

const P = PAGE_SIZE;

/** check_buffer_data through the mapping: pages [pageOffset, …) at `base` hold `expected`. */
async function checkVmar(t: Test, pager: UserPager, base: number, pageOffset: number, expected: Uint8Array, message: string): Promise<boolean> {
  const got = await startMemReadPages(pager, base, pageOffset, expected.length / P).wait<Uint8Array>();
  if (bytesEqual(got, expected)) return t.pass(message);
  const at = got.findIndex((byte, i) => byte !== expected[i]);
  return t.fail(message, { firstDifference: at, got: got[at], want: expected[at] });
}

/** A store of one byte at the first byte of page `pageOffset` of `base`, as an address/data pair. */
function storeAt(base: number, pageOffset: number, byte: number): { address: number; data: Uint8Array } {
  return { address: base + pageOffset * P, data: Uint8Array.of(byte) };
}

/**
 * A 1-page VMO with page 0 supplied, grown to `pageCount` pages (a dirty zero tail [1, pageCount)),
 * and mapped whole R/W with ZX_VM_ALLOW_FAULTS: the setup of the ResizeWriteback mapping tests.
 */
function mapGrownVmo(t: Test, pager: UserPager, options: number, pageCount: number): { vmo: Vmo; base: number } {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, pageCount), `resize to ${pageCount}`);
  verifyDirtyRanges(t, pager, vmo, [[1, pageCount - 1, true]]);
  return { vmo, base: mapVmo(pager, vmo, RW | ZX_VM_ALLOW_FAULTS, 0, pageCount) };
}

// Tests that BEGIN revokes write access: the next store traps, failing it crashes with ZX_ERR_IO and loses nothing.
pagerTest(t, 'WritebackWithMapping', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const base = mapVmo(pager, vmo);

  const first = startStoreByte(pager, base, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  await first.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);

  await startStoreByte(pager, base, 0, 0xbb).wait();
  noLeftovers(t, pager, vmo, 'the store to a Dirty page raised no request');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);

  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1), 'BEGIN(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'still dirty while awaiting clean');
  const withBb = patched(supplied(vmo, 0, 1), [0, 0xbb]);
  await checkVmar(t, pager, base, 0, withBb, 'byte 0 is 0xbb');

  const failed = startStoreByte(pager, base, 0, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1): BEGIN revoked write access');
  ensureOk(t, failPages(pager, vmo, 0, 1), 'OP_FAIL(0,1)');
  await failed.waitForCrash(base, ZX_ERR_IO);
  t.pass('the store crashed with ZX_ERR_IO');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'still dirty after the failed store');
  await checkVmar(t, pager, base, 0, withBb, 'byte 0 is still 0xbb');

  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'END(0,1)');
  verifyDirtyRanges(t, pager, vmo, [], 'clean after END');
  await checkVmar(t, pager, base, 0, withBb, 'byte 0 is 0xbb after END');

  const last = startStoreByte(pager, base, 0, 0xdd);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1) after END');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  await last.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkVmar(t, pager, base, 0, patched(supplied(vmo, 0, 1), [0, 0xdd]), 'byte 0 is 0xdd');
  noLeftovers(t, pager, vmo);
});

// Tests that mapped stores during a zero writeback survive its END, and a store to a cleaned gap needs READ (and DIRTY).
trapDirtyTest(t, 'ResizeWritebackInterleavedWriteWithMapping', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const trap = isTrap(options);
  const { vmo, base } = mapGrownVmo(t, pager, options, 6);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 5), 'BEGIN-Z(1,5)');

  await writeWithTrap(t, pager, vmo, trap, startStores(pager, [storeAt(base, 2, 0xaa), storeAt(base, 4, 0xaa)]), [[2, 1], [4, 1]]);
  const split = [[1, 1, true], [2, 1, false], [3, 1, true], [4, 1, false], [5, 1, true]] as const;
  verifyDirtyRanges(t, pager, vmo, split);

  await startStores(pager, [storeAt(base, 2, 0xbb), storeAt(base, 4, 0xbb)]).wait();
  noLeftovers(t, pager, vmo, 'stores to pages dirtied after the BEGIN raise no request');
  verifyDirtyRanges(t, pager, vmo, split, 'unchanged by the second stores');

  ensureOk(t, writebackEndPages(pager, vmo, 1, 5), 'END(1,5)');
  verifyDirtyRanges(t, pager, vmo, [[2, 1, false], [4, 1, false]], 'only the zero gaps were cleaned');

  const gap = startStoreByte(pager, base, 3, 0xdd);
  ensure(t, await waitForPageRead(pager, vmo, 3, 1), 'READ(3,1): the cleaned gap is absent');
  ensureOk(t, supplyPages(pager, vmo, 3, 1), 'supply(3,1)');
  await writeWithTrap(t, pager, vmo, trap, gap, [[3, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[2, 3, false]]);
  await checkVmar(t, pager, base, 3, patched(supplied(vmo, 3, 1), [0, 0xdd]), 'page 3 is the supplied content with byte 0 = 0xdd');

  ensureOk(t, writebackBeginPages(pager, vmo, 2, 3), 'BEGIN(2,3)');
  ensureOk(t, writebackEndPages(pager, vmo, 2, 3), 'END(2,3)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that a writeback revokes the write access a store into the zero tail got, so the next store traps again.
trapDirtyTest(t, 'ResizeWritebackWithMapping', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const trap = isTrap(options);
  const { vmo, base } = mapGrownVmo(t, pager, options, 2);

  await writeWithTrap(t, pager, vmo, trap, startStoreByte(pager, base, 1, 0xaa), [[1, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[1, 1, false]], 'a real dirty page now');
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 2), 'BEGIN(0,2)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 2), 'END(0,2)');
  verifyDirtyRanges(t, pager, vmo, []);

  await writeWithTrap(t, pager, vmo, trap, startStoreByte(pager, base, 1, 0xbb), [[1, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[1, 1, false]]);
  await checkVmar(t, pager, base, 1, patched(new Uint8Array(P), [0, 0xbb]), 'page 1 byte 0 is 0xbb');
  noLeftovers(t, pager, vmo);
});

// Tests that mapped stores raise one-page DIRTY requests, and pages OP_DIRTY'd beyond a request need none.
pagerTest(t, 'DirtyRequestsViaMapping', async (t, pager) => {
  const N = 20;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, N), 'supply(0,20)');
  const base = mapVmo(pager, vmo);
  const single = [0, 2, 4, 6, 8, 3];
  const tail = [11, 12, 13, 14, 15];
  const writer = startStores(pager, [...single, ...tail].map((page) => storeAt(base, page, 0xcc)));
  for (const page of single) {
    ensure(t, await waitForPageDirty(pager, vmo, page, 1), `DIRTY(${page},1)`);
    ensureOk(t, dirtyPages(pager, vmo, page, 1), `OP_DIRTY(${page},1)`);
  }
  ensure(t, await waitForPageDirty(pager, vmo, 11, 1), 'DIRTY(11,1): a store faults one page');
  ensureOk(t, dirtyPages(pager, vmo, 11, 5), 'OP_DIRTY(11,5)');
  t.equal(await writer.wait(), single.length + tail.length, 'every store completed');

  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [2, 3, false], [6, 1, false], [8, 1, false], [11, 5, false]]);
  const expected = patched(supplied(vmo, 0, N), ...[...single, ...tail].map((page): [number, number] => [page * P, 0xcc]));
  await checkVmar(t, pager, base, 0, expected, 'content');
  noLeftovers(t, pager, vmo);
});

// Tests that once a page is Dirty, a store from another thread raises no request.
pagerTest(t, 'DirtyRequestsRepeatedWrites', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const base = mapVmo(pager, vmo);
  await writeWithTrap(t, pager, vmo, true, startStoreByte(pager, base, 0, 0xcc), [[0, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);

  await startStoreByte(pager, base, 0, 0xdd).wait();
  noLeftovers(t, pager, vmo, 'the second store raised no DIRTY or READ');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkVmar(t, pager, base, 0, patched(supplied(vmo, 0, 1), [0, 0xdd]), 'byte 0 is 0xdd');
});

// Tests that a read fault maps a clean page without write access: a later store raises DIRTY(0,1).
pagerTest(t, 'DirtyRequestsOnWriteAfterRead', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const reader = pager.startThread(vmarFixture('mapAndRead'), { vmo: vmo.handle, options: RW, offset: 0, length: P, readLength: 1 });
  const { address, data } = await reader.wait<{ address: number; data: Uint8Array }>();
  t.equal(data[0], supplied(vmo, 0, 1)[0], 'the read byte matches');
  noLeftovers(t, pager, vmo, 'the read raised no request');

  await writeWithTrap(t, pager, vmo, true, startStoreByte(pager, address, 0, 0xdd), [[0, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  noLeftovers(t, pager, vmo);
});

// Tests that read faults through a R/W mapping raise READ requests only, never DIRTY ones, and that
// zx_vmo_read of the supplied pages raises nothing at all.
pagerTest(t, 'NoDirtyRequestsOnRead', async (t, pager) => {
  const N = 3;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  const base = mapVmo(pager, vmo, RW);
  const reader = startMemReadPages(pager, base, 0, N);
  ensure(t, await waitForPageRead(pager, vmo, 0, 1), 'R(0,1): the first fault');
  ensureOk(t, supplyPages(pager, vmo, 0, N), 'supply(0,3)');
  await reader.wait();
  noLeftovers(t, pager, vmo, 'no DIRTY request for reads through the mapping');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, N), "zx_vmo_read returns the supplied content");
  noLeftovers(t, pager, vmo, 'zx_vmo_read raised no READ or DIRTY request');
  verifyDirtyRanges(t, pager, vmo, []);
});

// Tests that a MAP_RANGE mapping and reads through it dirty nothing; each page's first store traps.
pagerTest(t, 'NoDirtyRequestsOnMapRange', async (t, pager) => {
  const N = 3;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, N), 'supply(0,3)');
  const base = mapVmo(pager, vmo, RW | ZX_VM_MAP_RANGE);
  noLeftovers(t, pager, vmo, 'MAP_RANGE raised no request');
  await checkVmar(t, pager, base, 0, supplied(vmo, 0, N), 'every page reads the supplied content');
  noLeftovers(t, pager, vmo, 'the reads raised no request');
  verifyDirtyRanges(t, pager, vmo, []);

  const writer = startStores(pager, [0, 1, 2].map((page) => storeAt(base, page, 0xcc)));
  await writeWithTrap(t, pager, vmo, true, writer, [[0, 1], [1, 1], [2, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[0, 3, false]]);
  noLeftovers(t, pager, vmo);
});

// Tests that a new mapping of an already Dirty page takes stores with no request.
pagerTest(t, 'NoDirtyRequestsMapExistingDirty', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await writeWithTrap(t, pager, vmo, true, startWriteByte(pager, vmo, 0, 0xcc), [[0, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);

  const mapper = pager.startThread(vmarFixture('mapAndWrite'), { vmo: vmo.handle, options: RW, offset: 0, length: P, data: Uint8Array.of(0xdd) });
  await mapper.wait();
  noLeftovers(t, pager, vmo, 'the store through the new mapping raised no request');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkContent(t, pager, vmo, 0, patched(supplied(vmo, 0, 1), [0, 0xdd]), 'byte 0 is 0xdd');
});

// Tests that failing a store's DIRTY request crashes it with ZX_ERR_IO and leaves the page clean and unchanged.
pagerTest(t, 'FailDirtyRequests: store half', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  const base = mapVmo(pager, vmo, RW, 0, 1);
  const writer = startStoreByte(pager, base, 0, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, failPages(pager, vmo, 0, 1), 'OP_FAIL(0,1)');
  await writer.waitForCrash(base, ZX_ERR_IO);
  t.pass('the store crashed with ZX_ERR_IO');
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 2), 'content unchanged');
  noLeftovers(t, pager, vmo);
});

// Tests that after detach a store to a Clean or AwaitingClean page crashes with ZX_ERR_BAD_STATE and raises nothing.
pagerTest(t, 'NoDirtyRequestsAfterDetachVmar', async (t, pager) => {
  const vmo1 = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo1, 0, 1), 'vmo1: supply(0,1)');
  const base1 = mapVmo(pager, vmo1);
  pager.detachVmo(vmo1);
  ensure(t, await waitForPageComplete(pager, vmo1), 'vmo1: COMPLETE');
  const store1 = startStoreByte(pager, base1, 0, 0xaa);
  await store1.waitForCrash(base1, ZX_ERR_BAD_STATE);
  t.pass('vmo1: the store crashed with ZX_ERR_BAD_STATE');
  noLeftovers(t, pager, vmo1, 'vmo1: no DIRTY or READ');
  verifyDirtyRanges(t, pager, vmo1, [], 'vmo1: dirty ranges');

  const vmo2 = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo2, 0, 1), 'vmo2: supply(0,1)');
  const base2 = mapVmo(pager, vmo2);
  ensureOk(t, dirtyPages(pager, vmo2, 0, 1), 'vmo2: OP_DIRTY(0,1)');
  verifyDirtyRanges(t, pager, vmo2, [[0, 1, false]], 'vmo2: dirty');
  ensureOk(t, writebackBeginPages(pager, vmo2, 0, 1), 'vmo2: BEGIN(0,1)');
  pager.detachVmo(vmo2);
  ensure(t, await waitForPageComplete(pager, vmo2), 'vmo2: COMPLETE');
  const store2 = startStoreByte(pager, base2, 0, 0xbb);
  await store2.waitForCrash(base2, ZX_ERR_BAD_STATE);
  t.pass('vmo2: the store crashed with ZX_ERR_BAD_STATE');
  verifyDirtyRanges(t, pager, vmo2, [[0, 1, false]], 'vmo2: still dirty after detach');
  ensureOk(t, writebackEndPages(pager, vmo2, 0, 1), 'vmo2: END(0,1)');
  verifyDirtyRanges(t, pager, vmo2, [], 'vmo2: clean after END');
  noLeftovers(t, pager, vmo2, 'vmo2: no DIRTY or READ');
});

// Tests that detach crashes a store blocked on DIRTY with ZX_ERR_BAD_STATE and decommits the clean page.
pagerTest(t, 'DetachWithPendingDirtyRequestVmar', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  t.equal(committedPages(pager, vmo), 1, 'committed 1 page');
  const base = mapVmo(pager, vmo);
  const writer = startStoreByte(pager, base, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1), left pending');
  pager.detachVmo(vmo);
  ensure(t, await waitForPageComplete(pager, vmo), 'COMPLETE');
  await writer.waitForCrash(base, ZX_ERR_BAD_STATE);
  t.pass('the store crashed with ZX_ERR_BAD_STATE');
  verifyDirtyRanges(t, pager, vmo, []);
  t.equal(committedPages(pager, vmo), 0, 'committed 0: the clean page was decommitted');
  noLeftovers(t, pager, vmo);
});

// Tests that a mapped store sets "modified" (creating the mapping does not) and a RESET query clears it.
trapDirtyTest(t, 'ModifiedOnMappingWrite', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  verifyDirtyRanges(t, pager, vmo, []);
  if (isTrap(options)) ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  const base = mapVmo(pager, vmo);
  t.notOk(verifyModified(pager, vmo), 'not modified by OP_DIRTY or the mapping');
  await startStoreByte(pager, base, 0, 0xbb).wait();
  t.ok(verifyModified(pager, vmo), 'modified by the store');
  t.notOk(verifyModified(pager, vmo), 'the RESET cleared it');
  await checkVmar(t, pager, base, 0, patched(supplied(vmo, 0, 1), [0, 0xbb]), 'byte 0 is 0xbb');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  noLeftovers(t, pager, vmo);
});

// Tests that a read through a mapping neither sets "modified" nor dirties the page.
trapDirtyTest(t, 'NotModifiedOnMappingRead', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const base = mapVmo(pager, vmo);
  const byte = await startMemReadPages(pager, base, 0, 1).wait<Uint8Array>();
  t.notOk(verifyModified(pager, vmo), 'not modified');
  verifyDirtyRanges(t, pager, vmo, []);
  t.equal(byte[0], supplied(vmo, 0, 1)[0], 'byte 0 matches the supplied content');
  t.ok(bytesEqual(byte, supplied(vmo, 0, 1)), 'the whole page matches the supplied content');
  noLeftovers(t, pager, vmo);
});

// ---- Mapping halves of tests whose zx_vmo_write halves are in test/writeback ----

// Tests SimpleTrapDirty with its content checked through mappings (the Vmar variant).
pagerTest(t, 'SimpleTrapDirtyVmar', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  const base = mapVmo(pager, vmo);
  const reader = startMemReadPages(pager, base, 0, 1);
  ensure(t, await waitForPageRead(pager, vmo, 0, 1), 'READ(0,1)');
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  t.ok(bytesEqual(await reader.wait<Uint8Array>(), supplied(vmo, 0, 1)), 'the mapped reader sees the supplied page');

  await writeWithTrap(t, pager, vmo, true, startWriteByte(pager, vmo, 0, 0x77), [[0, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkVmar(t, pager, base, 0, patched(supplied(vmo, 0, 1), [0, 0x77]), 'byte 0 is 0x77 through the mapping');
  noLeftovers(t, pager, vmo);

  const noTrap = pager.createVmo(1);
  const noTrapBase = mapVmo(pager, noTrap);
  ensureOk(t, supplyPages(pager, noTrap, 0, 1), 'supply the no-trap VMO');
  await startWriteByte(pager, noTrap, 0, 0xcc).wait();
  await checkVmar(t, pager, noTrapBase, 0, patched(supplied(noTrap, 0, 1), [0, 0xcc]), 'the no-trap VMO holds 0xcc through the mapping');
  t.throws(() => pager.sys.vmoCreate(P, ZX_VMO_TRAP_DIRTY), { code: 'ZX_ERR_INVALID_ARGS' }, 'zx_vmo_create with TRAP_DIRTY');
  noLeftovers(t, pager, noTrap, 'no requests for the no-trap VMO');
});

// Tests that without TRAP_DIRTY a mapped store re-dirties a cleaned page with no request (SimpleDirtyNoTrap's mapping half).
pagerTest(t, 'SimpleDirtyNoTrap: mapping half', async (t, pager) => {
  const vmo = pager.createVmo(1);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  verifyDirtyRanges(t, pager, vmo, []);
  await startWriteByte(pager, vmo, 0, 0x77).wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'dirty after the write');
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1), 'BEGIN(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'still dirty while awaiting clean');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'END(0,1)');
  verifyDirtyRanges(t, pager, vmo, [], 'clean after END');

  const base = mapVmo(pager, vmo);
  await startStoreByte(pager, base, 0, 0x55).wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'the store dirtied it again');
  await checkVmar(t, pager, base, 0, patched(supplied(vmo, 0, 1), [0, 0x55]), 'byte 0 is 0x55');
  noLeftovers(t, pager, vmo, 'no requests ever');
});

// Tests that a mapped store to a zero marker raises DIRTY(1,1) and commits the page (DirtyRequestsForZeroPages' mapping half).
pagerTest(t, 'DirtyRequestsForZeroPages: mapping half', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_TRAP_DIRTY);
  const aux = pager.sys.vmoCreate(2 * P, 0);
  pager.supplyPagesFrom(vmo, 0, 2, aux, 0);
  pager.sys.handleClose(aux);
  t.equal(committedPages(pager, vmo), 0, 'only markers');
  await writeWithTrap(t, pager, vmo, true, startWriteByte(pager, vmo, 0, 0xaa), [[0, 1]]);
  t.equal(committedPages(pager, vmo), 1, 'one page committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);

  const base = mapVmo(pager, vmo, RW, 1, 1);
  await writeWithTrap(t, pager, vmo, true, startStoreByte(pager, base, 0, 0xbb), [[1, 1]]);
  t.equal(committedPages(pager, vmo), 2, 'both pages committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 2, false]]);
  await checkContent(t, pager, vmo, 0, patched(new Uint8Array(2 * P), [0, 0xaa], [P, 0xbb]), 'content [0xaa, zeros][0xbb, zeros]');
  noLeftovers(t, pager, vmo);
});

// Tests that a failed mapped store crashes with ZX_ERR_IO and leaves the VMO unmodified and clean (mapping half).
pagerTest(t, 'NotModifiedOnFailedDirtyRequest: mapping half', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  const base = mapVmo(pager, vmo);
  t.notOk(verifyModified(pager, vmo), 'not modified before the store');
  const writer = startStoreByte(pager, base, 0, 0xbb);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, failPages(pager, vmo, 0, 1), 'OP_FAIL(0,1)');
  await writer.waitForCrash(base, ZX_ERR_IO);
  t.pass('the store crashed with ZX_ERR_IO');
  t.notOk(verifyModified(pager, vmo), 'not modified after the failed store');
  await checkVmar(t, pager, base, 0, supplied(vmo, 0, 1), 'content unchanged');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});
