// WRITEBACK_BEGIN/END and writes racing with writeback (docs/conformance/writeback-tests.md §2.4-§2.5): BEGIN
// leaves pages reported dirty until END; END cleans only what was begun and not re-dirtied since; a
// write during writeback needs a new dirty transition (a DIRTY request under TRAP_DIRTY), so it can
// never be lost behind a completed writeback; zero ranges split by writes clean around the written
// pages. Zero ranges that END cleaned become absent, so content checks after such an END read only
// the pages still present (Zircon's checks read them through a mapping that still holds the zero
// page; a zx_vmo_read would need a supply).

import t from 'tap';
import type { Test } from 'tap';
import { PAGE_SIZE, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { ensure } from '../helpers/check.js';
import type { UserPager, Vmo } from '../helpers/user_pager.js';
import {
  checkContent,
  dirtyPages,
  ensureOk,
  filled,
  isTrap,
  noLeftovers,
  pagerTest,
  pages,
  patched,
  resizeVmo,
  seededRandom,
  startFill,
  startWriteByte,
  startWrites,
  supplied,
  supplyPages,
  testSeed,
  trapDirtyTest,
  verifyDirtyRanges,
  waitForPageDirty,
  writebackBeginPages,
  writebackBeginZeroPages,
  writebackEndPages,
  writeWithTrap,
} from '../helpers/writeback.js';
import type { ExpectedRange } from '../helpers/writeback.js';

const P = PAGE_SIZE;
const MAX_WRITE_WAIT_PAGES = 16;

// Tests that BEGIN keeps a page reported dirty, END cleans it, and the next write dirties it again
// (under TRAP_DIRTY through a new DIRTY request).
trapDirtyTest(t, 'SimpleWriteback', 0, async (t, pager, options) => {
  const trap = isTrap(options);
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await writeWithTrap(t, pager, vmo, trap, startWriteByte(pager, vmo, 0, 0xaa), [[0, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  const expected = patched(supplied(vmo, 0, 1), [0, 0xaa]);
  await checkContent(t, pager, vmo, 0, expected, 'byte 0 is 0xaa');

  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1), 'BEGIN(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'still dirty while awaiting clean');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'END(0,1)');
  verifyDirtyRanges(t, pager, vmo, [], 'clean after END');
  await checkContent(t, pager, vmo, 0, expected, 'content unchanged by the writeback');

  await writeWithTrap(t, pager, vmo, trap, startWriteByte(pager, vmo, 0, 0x77), [[0, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'dirty again');
  await checkContent(t, pager, vmo, 0, patched(expected, [0, 0x77]), 'byte 0 is 0x77');
  noLeftovers(t, pager, vmo);
});

const FRAGMENTED: readonly ExpectedRange[] = [
  [1, 1, false],
  [2, 4, true],
  [6, 1, false],
  [7, 2, true],
  [9, 1, false],
];
/** The order of WritebackOutOfOrder*: indices {3, 0, 2, 1, 4} of FRAGMENTED. */
const OUT_OF_ORDER = [3, 0, 2, 1, 4].map((i) => FRAGMENTED[i]);

/**
 * The setup of WritebackCombined and WritebackOutOfOrder*: one supplied page, resized to 10, with
 * bytes written at pages 1, 6 and 9 so that the zero tail is fragmented.
 */
async function fragmentedVmo(t: Test, pager: UserPager, options: number): Promise<Vmo> {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 10), 'resize to 10');
  verifyDirtyRanges(t, pager, vmo, [[1, 9, true]], 'the new tail is a dirty zero range');
  const writer = startWrites(pager, vmo, [1, 6, 9].map((page) => ({ offset: page * P, data: Uint8Array.of(0xaa) })));
  await writeWithTrap(t, pager, vmo, isTrap(options), writer, [[1, 1], [6, 1], [9, 1]]);
  verifyDirtyRanges(t, pager, vmo, FRAGMENTED, 'fragmented zero range');
  return vmo;
}

// Tests that one BEGIN/END over zero and non-zero dirty ranges together cleans them all.
trapDirtyTest(t, 'WritebackCombined', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = await fragmentedVmo(t, pager, options);
  ensureOk(t, writebackBeginPages(pager, vmo, 1, 9), 'BEGIN(1,9)');
  ensureOk(t, writebackEndPages(pager, vmo, 1, 9), 'END(1,9)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that BEGIN on each dirty range out of order, then END on each in the same order, cleans all.
trapDirtyTest(t, 'WritebackOutOfOrder', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = await fragmentedVmo(t, pager, options);
  for (const [o, l] of OUT_OF_ORDER) ensureOk(t, writebackBeginPages(pager, vmo, o, l), `BEGIN(${o},${l})`);
  for (const [o, l] of OUT_OF_ORDER) ensureOk(t, writebackEndPages(pager, vmo, o, l), `END(${o},${l})`);
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that BEGIN on each dirty range out of order and one END over all of them cleans all.
trapDirtyTest(t, 'WritebackOutOfOrderCombinedEnd', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = await fragmentedVmo(t, pager, options);
  for (const [o, l] of OUT_OF_ORDER) ensureOk(t, writebackBeginPages(pager, vmo, o, l), `BEGIN(${o},${l})`);
  ensureOk(t, writebackEndPages(pager, vmo, 1, 9), 'END(1,9)');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that one BEGIN over everything and an END on each range out of order cleans all.
trapDirtyTest(t, 'WritebackOutOfOrderCombinedBegin', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = await fragmentedVmo(t, pager, options);
  ensureOk(t, writebackBeginPages(pager, vmo, 1, 9), 'BEGIN(1,9)');
  for (const [o, l] of OUT_OF_ORDER) ensureOk(t, writebackEndPages(pager, vmo, o, l), `END(${o},${l})`);
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests the lost-write race: a write to an AwaitingClean page traps; END while its DIRTY request
// is pending cleans the page and leaves the writer blocked until OP_DIRTY; OP_DIRTY during a
// writeback keeps the page dirty through END.
pagerTest(t, 'DirtyDuringWriteback', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1), 'BEGIN(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'still dirty while awaiting clean');
  const expected = supplied(vmo, 0, 1);
  await checkContent(t, pager, vmo, 0, expected, 'content');

  // Round 1: END while the writer's DIRTY request is pending.
  const w1 = startWriteByte(pager, vmo, 0, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'round 1: DIRTY(0,1) from the awaiting-clean page');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'round 1: END(0,1)');
  verifyDirtyRanges(t, pager, vmo, [], 'round 1: clean after END');
  ensure(t, await w1.waitForBlocked(), 'round 1: the writer is still blocked');
  t.notOk(await w1.hasEnded(100), 'round 1: END did not release the writer');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'round 1: OP_DIRTY(0,1)');
  await w1.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'round 1: dirty again');
  expected[0] = 0xcc;
  await checkContent(t, pager, vmo, 0, expected, 'round 1: byte 0 is 0xcc');

  // Round 2: OP_DIRTY while the writeback is in flight.
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1), 'round 2: BEGIN(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'round 2: awaiting clean');
  const w2 = startWriteByte(pager, vmo, 0, 0xdd);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'round 2: DIRTY(0,1)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'round 2: OP_DIRTY(0,1)');
  await w2.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'round 2: dirty');
  expected[0] = 0xdd;
  await checkContent(t, pager, vmo, 0, expected, 'round 2: byte 0 is 0xdd');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'round 2: END(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'round 2: END did not clean the re-dirtied page');
  noLeftovers(t, pager, vmo);
});

// Tests that writes to an awaiting-clean zero page and an awaiting-clean page during a writeback
// both trap, and that after OP_DIRTY the END is a no-op.
pagerTest(t, 'ResizeWritebackNewDirtyRequestsInterleaved', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 3), 'resize to 3');
  await writeWithTrap(t, pager, vmo, true, startFill(pager, vmo, 2, 1, 0xaa), [[2, 1]]);
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false]]);
  const expected = pages(supplied(vmo, 0, 1), filled(1), filled(1, 0xaa));
  await checkContent(t, pager, vmo, 0, expected, 'content');

  ensureOk(t, writebackBeginPages(pager, vmo, 1, 2), 'BEGIN(1,2)');
  const w1 = startFill(pager, vmo, 1, 1, 0xbb);
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'DIRTY(1,1) for the awaiting-clean zero page');
  const w2 = startFill(pager, vmo, 2, 1, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 2, 1), 'DIRTY(2,1) for the awaiting-clean page');
  ensureOk(t, dirtyPages(pager, vmo, 1, 2), 'OP_DIRTY(1,2)');
  await w1.wait();
  await w2.wait();
  verifyDirtyRanges(t, pager, vmo, [[1, 2, false]], 'page 1 is a real dirty page now');
  expected.fill(0xbb, P, 2 * P).fill(0xcc, 2 * P, 3 * P);
  await checkContent(t, pager, vmo, 0, expected, 'content after the writes');

  ensureOk(t, writebackEndPages(pager, vmo, 1, 2), 'END(1,2)');
  verifyDirtyRanges(t, pager, vmo, [[1, 2, false]], 'END was a no-op');
  await checkContent(t, pager, vmo, 0, expected, 'content unchanged');
  await startFill(pager, vmo, 1, 2, 0xdd).wait();
  verifyDirtyRanges(t, pager, vmo, [[1, 2, false]], 'still dirty after a non-blocking write');
  expected.fill(0xdd, P, 3 * P);
  await checkContent(t, pager, vmo, 0, expected, 'content after the 0xdd write');
  noLeftovers(t, pager, vmo);
});

// Tests that a write splitting an awaiting-clean zero range survives END, while the zero pieces on
// both sides of it are cleaned.
trapDirtyTest(t, 'ResizeWritebackIntersectingWrite', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 4), 'resize to 4');
  verifyDirtyRanges(t, pager, vmo, [[1, 3, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 3), 'BEGIN-Z(1,3)');
  await writeWithTrap(t, pager, vmo, isTrap(options), startFill(pager, vmo, 2, 1, 0xaa), [[2, 1]]);
  const expected = pages(supplied(vmo, 0, 1), filled(1), filled(1, 0xaa), filled(1));
  await checkContent(t, pager, vmo, 0, expected, 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false], [3, 1, true]]);
  ensureOk(t, writebackEndPages(pager, vmo, 1, 3), 'END(1,3)');
  verifyDirtyRanges(t, pager, vmo, [[2, 1, false]], 'only the written page is still dirty');
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 4), 'BEGIN(0,4)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 4), 'END(0,4)');
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0 still holds the supplied content');
  await checkContent(t, pager, vmo, 2, filled(1, 0xaa), 'page 2 still 0xaa');
  noLeftovers(t, pager, vmo);
});

// Tests that writes outside an awaiting-clean zero range leave it alone: END cleans exactly it.
trapDirtyTest(t, 'ResizeWritebackNonIntersectingWrite', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const trap = isTrap(options);
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 4), 'resize to 4');
  verifyDirtyRanges(t, pager, vmo, [[1, 3, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, 2), 'BEGIN-Z(1,2)');
  await writeWithTrap(t, pager, vmo, trap, startFill(pager, vmo, 3, 1, 0xaa), [[3, 1]]);
  await writeWithTrap(t, pager, vmo, trap, startFill(pager, vmo, 0, 1, 0xbb), [[0, 1]]);
  await checkContent(t, pager, vmo, 0, pages(filled(1, 0xbb), filled(2), filled(1, 0xaa)), 'content');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [1, 2, true], [3, 1, false]]);
  ensureOk(t, writebackEndPages(pager, vmo, 1, 2), 'END(1,2)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [3, 1, false]], 'the written-back zero range is clean');
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 4), 'BEGIN(0,4)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 4), 'END(0,4)');
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, filled(1, 0xbb), 'page 0 still 0xbb');
  await checkContent(t, pager, vmo, 3, filled(1, 0xaa), 'page 3 still 0xaa');
  noLeftovers(t, pager, vmo);
});

/**
 * Random runs of pages in [1, 1 + extended): each page is written with probability 1/2 and the
 * written pages are grouped into maximal runs (the catalog's rand() % 2 per page).
 */
function randomRuns(random: () => number, extended: number): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let page = 1; page <= extended; page++) {
    if (random() < 0.5) {
      if (start < 0) start = page;
    } else if (start >= 0) {
      runs.push([start, page - start]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, extended + 1 - start]);
  return runs;
}

/** DIRTY requests of one write per run: a run longer than 16 pages asks 16 pages at a time. */
function requestsFor(runs: [number, number][]): [number, number][] {
  const requests: [number, number][] = [];
  for (const [o, l] of runs) {
    for (let at = o; at < o + l; at += MAX_WRITE_WAIT_PAGES) requests.push([at, Math.min(MAX_WRITE_WAIT_PAGES, o + l - at)]);
  }
  return requests;
}

/**
 * ResizeWritebackIntersectingRandomWrites and its partial variant: BEGIN-Z over [1, 1 + begun) of a
 * 40-page zero tail, random runs written (one write per run), then END(1, begun) must leave the
 * written runs dirty, the zero pages beyond the begun part dirty-zero, and nothing else.
 */
async function randomWritesDuringZeroWriteback(t: Test, pager: UserPager, options: number, begun: number): Promise<void> {
  const EXTENDED = 40;
  const seed = testSeed();
  t.comment(`SEED=${seed}`);
  const runs = randomRuns(seededRandom(seed), EXTENDED);
  const tag = `SEED=${seed} runs ${runs.map(([o, l]) => `${o}+${l}`).join(' ')}`;
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 1 + EXTENDED), 'resize to 41');
  verifyDirtyRanges(t, pager, vmo, [[1, EXTENDED, true]]);
  ensureOk(t, writebackBeginZeroPages(pager, vmo, 1, begun), `BEGIN-Z(1,${begun})`);

  const writer = startWrites(pager, vmo, runs.map(([o, l]) => ({ offset: o * P, data: filled(l, 0xaa) })));
  await writeWithTrap(t, pager, vmo, isTrap(options), writer, requestsFor(runs));
  ensureOk(t, writebackEndPages(pager, vmo, 1, begun), `END(1,${begun})`);

  // Per page: 'd' written, 'z' unwritten beyond the begun part (still dirty zero), '.' clean.
  const state: string[] = ['.'];
  for (let page = 1; page <= EXTENDED; page++) state.push(page > begun ? 'z' : '.');
  for (const [o, l] of runs) for (let page = o; page < o + l; page++) state[page] = 'd';
  const expected: ExpectedRange[] = [];
  for (let page = 0; page < state.length; ) {
    let end = page + 1;
    while (end < state.length && state[end] === state[page]) end++;
    if (state[page] !== '.') expected.push([page, end - page, state[page] === 'z']);
    page = end;
  }
  verifyDirtyRanges(t, pager, vmo, expected, tag);

  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1 + EXTENDED), 'BEGIN(0,41)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1 + EXTENDED), 'END(0,41)');
  verifyDirtyRanges(t, pager, vmo, [], `${tag}: all clean`);
  noLeftovers(t, pager, vmo, `${tag}: no leftovers`);
}

// Tests that random writes during a zero writeback of the whole tail survive END as exactly the
// written runs, while every unwritten zero page is cleaned.
trapDirtyTest(t, 'ResizeWritebackIntersectingRandomWrites', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  await randomWritesDuringZeroWriteback(t, pager, options, 40);
});

// Tests that with a zero writeback of only the first half of the tail, END leaves the written runs
// dirty, the unwritten pages of the second half dirty-zero, and the rest clean.
trapDirtyTest(t, 'ResizePartialWritebackIntersectingRandomWrites', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  await randomWritesDuringZeroWriteback(t, pager, options, 20);
});

// Tests that one DIRTY request spans an awaiting-clean zero page and an awaiting-clean page, and
// that END then cleans everything but those two re-dirtied pages.
trapDirtyTest(t, 'ResizeWritebackMulipleGaps', ZX_VMO_RESIZABLE, async (t, pager, options) => {
  const trap = isTrap(options);
  const vmo = pager.createVmo(1, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, resizeVmo(pager, vmo, 6), 'resize to 6');
  verifyDirtyRanges(t, pager, vmo, [[1, 5, true]]);
  const writer = startWrites(pager, vmo, [2, 4].map((page) => ({ offset: page * P, data: filled(1, 0xaa) })));
  await writeWithTrap(t, pager, vmo, trap, writer, [[2, 1], [4, 1]]);
  const expected = pages(supplied(vmo, 0, 1), filled(1), filled(1, 0xaa), filled(1), filled(1, 0xaa), filled(1));
  await checkContent(t, pager, vmo, 0, expected, 'content');
  verifyDirtyRanges(t, pager, vmo, [[1, 1, true], [2, 1, false], [3, 1, true], [4, 1, false], [5, 1, true]]);

  ensureOk(t, writebackBeginPages(pager, vmo, 1, 5), 'BEGIN(1,5)');
  await writeWithTrap(t, pager, vmo, trap, startFill(pager, vmo, 3, 2, 0xbb), [[3, 2]]);
  ensureOk(t, writebackEndPages(pager, vmo, 1, 5), 'END(1,5)');
  verifyDirtyRanges(t, pager, vmo, [[3, 2, false]], 'only the re-dirtied pages 3-4 stay dirty');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'page 0 unchanged');
  await checkContent(t, pager, vmo, 2, pages(filled(1, 0xaa), filled(2, 0xbb)), 'pages 2-4');
  noLeftovers(t, pager, vmo);
});
