// Dirty trapping and DIRTY-request generation (docs/conformance/writeback-tests.md §2.1-§2.3): TRAP_DIRTY
// writes raise DIRTY requests shaped as runs of not-yet-dirty pages, OP_DIRTY resolves them,
// OP_FAIL fails the writer and leaves the page as it was, zero-page markers trap like clean pages,
// and VMOs without TRAP_DIRTY are dirtied silently. VMO_VMAR tests are ported as their Vmo halves;
// the stores through mappings of the mixed tests are left out (mappings come later).

import t from 'tap';
import {
  PAGE_SIZE,
  ZX_VMO_RESIZABLE,
  ZX_VMO_TRAP_DIRTY,
} from '../../core/index.js';
import { ensure } from '../helpers/check.js';
import { statusNameOf } from '../helpers/user_pager.js';
import {
  checkContent,
  committedPages,
  dirtyPages,
  ensureOk,
  failPages,
  filled,
  noLeftovers,
  pagerTest,
  pages,
  patched,
  resizeVmo,
  seededRandom,
  startCommit,
  startFill,
  startWrite,
  startWriteByte,
  startWrites,
  supplied,
  supplyPages,
  supplyZeroPages,
  testSeed,
  trapDirtyTest,
  verifyDirtyRanges,
  verifyModified,
  waitForPageDirty,
  waitForPageRead,
  writebackBeginPages,
  writebackEndPages,
  writeWithTrap,
  isTrap,
} from '../helpers/writeback.js';

const P = PAGE_SIZE;

// Tests that a TRAP_DIRTY VMO can be supplied and raises DIRTY(0,1) when written, while a VMO
// without TRAP_DIRTY is written at once, and that a non-pager VMO cannot be created with TRAP_DIRTY.
pagerTest(t, 'SimpleTrapDirtyVmo', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  const reader = pager.startRead(vmo, 0, 1);
  ensure(t, await waitForPageRead(pager, vmo, 0, 1), 'READ(0,1)');
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  t.same(await reader.wait<Uint8Array>(), supplied(vmo, 0, 1), 'the reader sees the supplied page');

  const writer = startWriteByte(pager, vmo, 0, 0x77);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  await writer.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkContent(t, pager, vmo, 0, patched(supplied(vmo, 0, 1), [0, 0x77]), 'byte 0 is 0x77');
  noLeftovers(t, pager, vmo);

  const noTrap = pager.createVmo(1);
  ensureOk(t, supplyPages(pager, noTrap, 0, 1), 'supply the no-trap VMO');
  await startWriteByte(pager, noTrap, 0, 0xcc).wait();
  await checkContent(t, pager, noTrap, 0, patched(supplied(noTrap, 0, 1), [0, 0xcc]), 'the no-trap VMO holds 0xcc');

  t.equal(statusNameOf(() => pager.sys.vmoCreate(P, ZX_VMO_TRAP_DIRTY)), 'ZX_ERR_INVALID_ARGS', 'zx_vmo_create with TRAP_DIRTY');
  noLeftovers(t, pager, noTrap, 'no requests for the no-trap VMO');
});

// Tests that OP_DIRTY dirties a clean page with no write pending and leaves its content alone.
pagerTest(t, 'OpDirtyNoWrite', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content unchanged');
  noLeftovers(t, pager, vmo);
});

// pagersim's own (Zircon's DirtyPagesLocked: OnPagesDirtied per contiguous run of pages it moved to
// Dirty): OP_DIRTY over a page that is already Dirty resolves nothing for it, so a writer whose
// request counted that page once stays blocked until the rest is dirtied, with no new request.
pagerTest(t, 'OpDirtyResolvesOnlyTransitionedRuns', async (t, pager) => {
  const vmo = pager.createVmo(3, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 3), 'supply(0,3)');
  const writer = startFill(pager, vmo, 0, 3, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 3), 'DIRTY(0,3)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1): 2 pages still pending');
  ensureOk(t, dirtyPages(pager, vmo, 0, 2), 'OP_DIRTY(0,2): only page 1 transitions');
  t.notOk(await waitForPageDirty(pager, vmo, 2, 1, 300), 'no DIRTY(2,1): the writer was not woken');
  ensure(t, await writer.waitForBlocked(), 'the writer still waits on DIRTY(0,3)');
  ensureOk(t, dirtyPages(pager, vmo, 2, 1), 'OP_DIRTY(2,1) completes the request');
  await writer.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 3, false]]);
  await checkContent(t, pager, vmo, 0, filled(3, 0xaa), 'pages 0..2 hold 0xaa');
  noLeftovers(t, pager, vmo);
});

// pagersim's own (Zircon's InvalidateDirtyRequestsLocked, found by the differential model test): an
// OP_DIRTY that fails with NOT_FOUND resolves DIRTY requests only over content that is not Dirty and
// over gaps, so a page it had already dirtied is not counted twice and the writer keeps waiting.
pagerTest(t, 'OpDirtyNotFoundSkipsDirtyPages', async (t, pager) => {
  const vmo = pager.createVmo(6, ZX_VMO_TRAP_DIRTY);
  const writer = startFill(pager, vmo, 3, 2, 0x5c);
  ensure(t, await waitForPageRead(pager, vmo, 3, 2), 'READ(3,2)');
  ensureOk(t, supplyPages(pager, vmo, 3, 2), 'supply(3,2)');
  ensure(t, await waitForPageDirty(pager, vmo, 3, 2), 'DIRTY(3,2)');
  ensureOk(t, dirtyPages(pager, vmo, 4, 1), 'OP_DIRTY(4,1): page 3 still pending');
  t.equal(dirtyPages(pager, vmo, 4, 2), 'ZX_ERR_NOT_FOUND', 'OP_DIRTY(4,2) over absent page 5');
  t.notOk(await waitForPageDirty(pager, vmo, 3, 1, 300), 'no DIRTY(3,1): the writer was not woken');
  ensure(t, await writer.waitForBlocked(), 'the writer still waits on DIRTY(3,2)');
  ensureOk(t, dirtyPages(pager, vmo, 3, 1), 'OP_DIRTY(3,1) completes the request');
  await writer.wait();
  verifyDirtyRanges(t, pager, vmo, [[3, 2, false]]);
  await checkContent(t, pager, vmo, 3, filled(2, 0x5c), 'pages 3..4 hold 0x5c');
  noLeftovers(t, pager, vmo);
});

// Tests that zx_vmo_write raises one DIRTY request per write, covering all its clean pages (11,5).
pagerTest(t, 'DirtyRequestsOnVmoWrite', async (t, pager) => {
  const N = 20;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, N), 'supply(0,20)');
  const single = [0, 2, 4, 6, 8, 3];
  const writer = startWrites(pager, vmo, [
    ...single.map((page) => ({ offset: page * P, data: Uint8Array.of(0x77) })),
    { offset: 11 * P, data: new Uint8Array(5 * P) },
  ]);
  for (const page of single) {
    ensure(t, await waitForPageDirty(pager, vmo, page, 1), `DIRTY(${page},1)`);
    ensureOk(t, dirtyPages(pager, vmo, page, 1), `OP_DIRTY(${page},1)`);
  }
  ensure(t, await waitForPageDirty(pager, vmo, 11, 5), 'DIRTY(11,5): one request for the 5-page write');
  ensureOk(t, dirtyPages(pager, vmo, 11, 5), 'OP_DIRTY(11,5)');
  t.equal(await writer.wait(), 7, 'all 7 writes completed');

  verifyDirtyRanges(t, pager, vmo, [[0, 1, false], [2, 3, false], [6, 1, false], [8, 1, false], [11, 5, false]]);
  const expected = patched(supplied(vmo, 0, N), ...single.map((page): [number, number] => [page * P, 0x77]));
  expected.fill(0, 11 * P, 16 * P);
  await checkContent(t, pager, vmo, 0, expected, 'content');
  noLeftovers(t, pager, vmo);
});

// Tests that a writer overlapping an outstanding DIRTY request asks only for its uncovered leading
// pages, and that a writer whose first page is covered waits silently and re-requests the rest.
pagerTest(t, 'DirtyRequestsOverlap', async (t, pager) => {
  const N = 20;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, N), 'supply(0,20)');
  noLeftovers(t, pager, vmo, 'no requests yet');

  const t1 = startFill(pager, vmo, 4, 5, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 4, 5), 't1: DIRTY(4,5)');
  noLeftovers(t, pager, vmo, 'no other requests after t1');
  const t2 = startFill(pager, vmo, 2, 7, 0xbb);
  ensure(t, await waitForPageDirty(pager, vmo, 2, 2), 't2: DIRTY(2,2) only (the part t1 does not cover)');
  noLeftovers(t, pager, vmo, 'no other requests after t2');

  ensureOk(t, dirtyPages(pager, vmo, 4, 5), 'OP_DIRTY(4,5)');
  await t1.wait();
  ensureOk(t, dirtyPages(pager, vmo, 2, 2), 'OP_DIRTY(2,2)');
  await t2.wait();
  verifyDirtyRanges(t, pager, vmo, [[2, 7, false]]);
  const expected = supplied(vmo, 0, N);
  expected.fill(0xbb, 2 * P, 9 * P);
  await checkContent(t, pager, vmo, 0, expected, 'pages 2..8 hold 0xbb');

  const t3 = startFill(pager, vmo, 11, 5, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 11, 5), 't3: DIRTY(11,5)');
  expected.fill(0xcc, 11 * P, 16 * P);
  const t4 = startFill(pager, vmo, 15, 4, 0xdd);
  ensure(t, await t4.waitForBlocked(), 't4 blocks (its first page is covered by t3)');
  t.notOk(await waitForPageDirty(pager, vmo, 15, 4, 0), 'no DIRTY(15,4)');
  noLeftovers(t, pager, vmo, 't4 sent no request');

  ensureOk(t, dirtyPages(pager, vmo, 11, 5), 'OP_DIRTY(11,5)');
  await t3.wait();
  ensure(t, await t4.waitForBlocked(), 't4 blocks again');
  verifyDirtyRanges(t, pager, vmo, [[2, 7, false], [11, 5, false]]);
  ensure(t, await waitForPageDirty(pager, vmo, 16, 3), 't4: DIRTY(16,3)');
  ensureOk(t, dirtyPages(pager, vmo, 16, 3), 'OP_DIRTY(16,3)');
  await t4.wait();
  verifyDirtyRanges(t, pager, vmo, [[2, 7, false], [11, 8, false]]);

  // Page 15 was written by t3 and t4 racing; either value is right.
  expected.fill(0xdd, 15 * P, 19 * P);
  const withDd = expected.slice();
  expected.fill(0xcc, 15 * P, 16 * P);
  const got = await pager.startRead(vmo, 0, N).wait<Uint8Array>();
  t.ok(Buffer.compare(got, withDd) === 0 || Buffer.compare(got, expected) === 0, 'content, with page 15 from t3 or t4');
  noLeftovers(t, pager, vmo);
});

// Tests the run-based READ/DIRTY batching of one write over random Absent/Clean/Dirty pages:
// absent runs get READ(run), clean runs (including just-supplied pages) get DIRTY(run).
pagerTest(t, 'DirtyRequestsRandomOffsets', async (t, pager) => {
  const seed = testSeed();
  t.comment(`SEED=${seed}`);
  const random = seededRandom(seed);
  const N = 10;
  const ROUNDS = 3;
  for (let round = 0; round < ROUNDS; round++) {
    const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
    const state: number[] = []; // 0 absent, 1 clean, 2 dirty
    for (let i = 0; i < N; i++) {
      state.push(Math.floor(random() * 3));
      if (state[i] >= 1) ensureOk(t, supplyPages(pager, vmo, i, 1), `supply(${i},1)`);
      if (state[i] === 2) ensureOk(t, dirtyPages(pager, vmo, i, 1), `OP_DIRTY(${i},1)`);
    }
    const tag = `SEED=${seed} round ${round} states ${state.join('')}`;
    const writer = startWrite(pager, vmo, 0, new Uint8Array(N * P));
    let cleanStart = 0;
    let cleanLen = 0;
    const resolveClean = async (): Promise<void> => {
      if (cleanLen === 0) return;
      ensure(t, await waitForPageDirty(pager, vmo, cleanStart, cleanLen), `${tag}: DIRTY(${cleanStart},${cleanLen})`);
      ensureOk(t, dirtyPages(pager, vmo, cleanStart, cleanLen), `${tag}: OP_DIRTY(${cleanStart},${cleanLen})`);
    };
    for (let i = 0; i < N; i++) {
      if (state[i] === 0) {
        await resolveClean();
        let run = 1;
        while (i + run < N && state[i + run] === 0) run++;
        ensure(t, await waitForPageRead(pager, vmo, i, run), `${tag}: READ(${i},${run})`);
        ensureOk(t, supplyPages(pager, vmo, i, run), `${tag}: supply(${i},${run})`);
        for (let j = i; j < i + run; j++) state[j] = 1;
        cleanStart = i;
        cleanLen = 0;
        i--; // visit the supplied pages again: they start the next clean run
      } else if (state[i] === 1) {
        cleanLen++;
      } else {
        await resolveClean();
        cleanStart = i + 1;
        cleanLen = 0;
      }
    }
    await resolveClean();
    await writer.wait();
    verifyDirtyRanges(t, pager, vmo, [[0, N, false]], `${tag}: all pages dirty`);
    noLeftovers(t, pager, vmo, `${tag}: no leftovers`);
  }
});

// Tests that COMMIT raises READ for the absent pages only and never a DIRTY request.
pagerTest(t, 'NoDirtyRequestsOnCommit', async (t, pager) => {
  const N = 5;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  const committer = startCommit(pager, vmo, 0, N);
  ensure(t, await waitForPageRead(pager, vmo, 2, N - 2), 'READ(2,3)');
  ensureOk(t, supplyPages(pager, vmo, 2, N - 2), 'supply(2,3)');
  await committer.wait();
  noLeftovers(t, pager, vmo, 'no DIRTY and no further READ');
  verifyDirtyRanges(t, pager, vmo, []);
});

// Tests that a VMO without TRAP_DIRTY is dirtied by a write with no request, stays dirty while
// awaiting clean, is cleaned by WRITEBACK_END, and is dirtied again by the next write.
// (Vmo half: the catalog's second write goes through a mapping; here it is a zx_vmo_write.)
pagerTest(t, 'SimpleDirtyNoTrap', async (t, pager) => {
  const vmo = pager.createVmo(1);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content');
  await startWriteByte(pager, vmo, 0, 0x77).wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'dirty after the write');
  await checkContent(t, pager, vmo, 0, patched(supplied(vmo, 0, 1), [0, 0x77]), 'byte 0 is 0x77');
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 1), 'BEGIN(0,1)');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'still dirty while awaiting clean');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 1), 'END(0,1)');
  verifyDirtyRanges(t, pager, vmo, [], 'clean after END');
  await startWriteByte(pager, vmo, 0, 0x55).wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]], 'dirty again');
  await checkContent(t, pager, vmo, 0, patched(supplied(vmo, 0, 1), [0, 0x55]), 'byte 0 is 0x55');
  noLeftovers(t, pager, vmo);
});

// Tests that on a VMO without TRAP_DIRTY one write over random real pages and zero markers commits
// every page and dirties the whole range, with no request.
pagerTest(t, 'DirtyNoTrapRandomOffsets', async (t, pager) => {
  const seed = testSeed();
  t.comment(`SEED=${seed}`);
  const random = seededRandom(seed);
  const N = 10;
  const vmo = pager.createVmo(N);
  const expected = new Uint8Array(N * P);
  let real = 0;
  for (let i = 0; i < N; i++) {
    if (random() < 0.5) {
      real++;
      ensureOk(t, supplyPages(pager, vmo, i, 1), `supply(${i},1)`);
      expected.set(supplied(vmo, i, 1), i * P);
    } else {
      ensureOk(t, supplyZeroPages(pager, vmo, i, 1), `marker at ${i}`);
    }
  }
  t.equal(committedPages(pager, vmo), real, `SEED=${seed}: only the ${real} real pages are committed`);
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, expected, `SEED=${seed}: content before the write`);
  for (let i = 0; i < N; i++) expected[i * P] = 0x77 + i;
  await startWrite(pager, vmo, 0, expected).wait();
  t.equal(committedPages(pager, vmo), N, 'all 10 pages committed');
  verifyDirtyRanges(t, pager, vmo, [[0, N, false]]);
  await checkContent(t, pager, vmo, 0, expected, `SEED=${seed}: content after the write`);
  noLeftovers(t, pager, vmo);
});

// Tests that COMMIT over a real page and a zero marker commits both without dirtying anything or
// marking the VMO modified.
trapDirtyTest(t, 'NoDirtyOnCommit', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(2, options);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  ensureOk(t, supplyZeroPages(pager, vmo, 1, 1), 'marker at 1');
  await startCommit(pager, vmo, 0, 2).wait();
  t.equal(committedPages(pager, vmo), 2, 'both pages committed');
  verifyDirtyRanges(t, pager, vmo, []);
  t.notOk(verifyModified(pager, vmo), 'not modified');
  noLeftovers(t, pager, vmo);
});

// Tests that one OP_DIRTY over 100 zero markers plus a 100-page zero tail commits all 200 pages as
// plain (non-zero) dirty pages.
pagerTest(t, 'DirtyLargeRange', async (t, pager) => {
  const vmo = pager.createVmo(100, ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE);
  ensureOk(t, supplyZeroPages(pager, vmo, 0, 100), '100 markers');
  ensureOk(t, resizeVmo(pager, vmo, 200), 'resize to 200');
  t.equal(committedPages(pager, vmo), 0, 'nothing committed');
  ensureOk(t, dirtyPages(pager, vmo, 0, 200), 'OP_DIRTY(0,200)');
  t.equal(committedPages(pager, vmo), 200, '200 pages committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 200, false]]);
  noLeftovers(t, pager, vmo);
});

// Tests that a 128-page write over absent pages is batched 16 pages at a time: READ(16) (supplied
// in two halves), then DIRTY(16) (dirtied in two halves), batch after batch.
pagerTest(t, 'LargeWriteBatched', async (t, pager) => {
  const N = 128;
  const START = 2;
  const BATCH = 16;
  const STEP = 8;
  const vmo = pager.createVmo(N + START, ZX_VMO_TRAP_DIRTY);
  const data = supplied(vmo, START, N);
  data.reverse(); // not the pager's content, so the check below sees the writer's bytes
  const writer = startWrite(pager, vmo, START * P, data);
  for (let i = 0; i < N; i += BATCH) {
    ensure(t, await waitForPageRead(pager, vmo, START + i, BATCH), `READ(${START + i},${BATCH})`);
    for (let j = 0; j < BATCH; j += STEP) ensureOk(t, supplyPages(pager, vmo, START + i + j, STEP), `supply(${START + i + j},${STEP})`);
    ensure(t, await waitForPageDirty(pager, vmo, START + i, BATCH), `DIRTY(${START + i},${BATCH})`);
    for (let j = 0; j < BATCH; j += STEP) ensureOk(t, dirtyPages(pager, vmo, START + i + j, STEP), `OP_DIRTY(${START + i + j},${STEP})`);
  }
  await writer.wait();
  await checkContent(t, pager, vmo, START, data, 'pages [2,130) hold the written data');
  // Like the catalog, no leftover check: a partly dirtied batch may wake the writer, which may
  // then ask again for the rest before the second half arrives.
});

// Tests that writing a zero marker raises DIRTY like a clean page and commits it once dirtied.
// (vmo_write half: the catalog's mapping store to page 1 is a zx_vmo_write here.)
pagerTest(t, 'DirtyRequestsForZeroPages', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyZeroPages(pager, vmo, 0, 2), 'markers at 0 and 1');
  t.equal(committedPages(pager, vmo), 0, 'only markers');
  verifyDirtyRanges(t, pager, vmo, []);

  const w1 = startWriteByte(pager, vmo, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  await w1.wait();
  t.equal(committedPages(pager, vmo), 1, 'one page committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkContent(t, pager, vmo, 0, patched(filled(2), [0, 0xaa]), 'content after the first write');

  const w2 = startWriteByte(pager, vmo, 1, 0xbb);
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'DIRTY(1,1)');
  ensureOk(t, dirtyPages(pager, vmo, 1, 1), 'OP_DIRTY(1,1)');
  await w2.wait();
  t.equal(committedPages(pager, vmo), 2, 'both pages committed');
  verifyDirtyRanges(t, pager, vmo, [[0, 2, false]]);
  await checkContent(t, pager, vmo, 0, patched(filled(2), [0, 0xaa], [P, 0xbb]), 'content after both writes');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_DIRTY over a random mix of real pages and markers commits every marker as a zero
// page and reports one plain dirty range, content unchanged.
pagerTest(t, 'DirtyZeroAndNonZeroPages', async (t, pager) => {
  const seed = testSeed();
  t.comment(`SEED=${seed}`);
  const random = seededRandom(seed);
  const N = 10;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  const expected = new Uint8Array(N * P);
  let real = 0;
  for (let i = 0; i < N; i++) {
    if (random() < 0.5) {
      real++;
      ensureOk(t, supplyPages(pager, vmo, i, 1), `supply(${i},1)`);
      expected.set(supplied(vmo, i, 1), i * P);
    } else {
      ensureOk(t, supplyZeroPages(pager, vmo, i, 1), `marker at ${i}`);
    }
  }
  await checkContent(t, pager, vmo, 0, expected, `SEED=${seed}: content`);
  t.equal(committedPages(pager, vmo), real, `SEED=${seed}: ${real} real pages committed`);
  verifyDirtyRanges(t, pager, vmo, []);
  ensureOk(t, dirtyPages(pager, vmo, 0, N), 'OP_DIRTY(0,10)');
  t.equal(committedPages(pager, vmo), N, 'all 10 pages committed');
  verifyDirtyRanges(t, pager, vmo, [[0, N, false]]);
  await checkContent(t, pager, vmo, 0, expected, `SEED=${seed}: content unchanged`);
  noLeftovers(t, pager, vmo);
});

// Tests that DIRTY requests run across markers and clean pages, stop before a gap, and that the gap
// then gets READ followed by DIRTY.
pagerTest(t, 'DirtyRequestsForZeroRanges', async (t, pager) => {
  const seed = testSeed();
  t.comment(`SEED=${seed}`);
  const random = seededRandom(seed);
  const N = 10;
  const vmo = pager.createVmo(N, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyZeroPages(pager, vmo, 0, 1), 'marker at 0');
  ensureOk(t, supplyZeroPages(pager, vmo, 1, 1), 'marker at 1');

  const w1 = startFill(pager, vmo, 0, 2, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 2), 'DIRTY(0,2) across both markers');
  ensureOk(t, dirtyPages(pager, vmo, 0, 2), 'OP_DIRTY(0,2)');
  await w1.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 2, false]]);
  await checkContent(t, pager, vmo, 0, filled(2, 0xaa), 'pages 0-1 hold 0xaa');

  ensureOk(t, supplyZeroPages(pager, vmo, 2, 1), 'marker at 2');
  ensureOk(t, supplyPages(pager, vmo, 3, 1), 'supply(3,1)');
  const w2 = startFill(pager, vmo, 2, 2, 0xbb);
  ensure(t, await waitForPageDirty(pager, vmo, 2, 2), 'DIRTY(2,2): a marker plus a clean page');
  ensureOk(t, dirtyPages(pager, vmo, 2, 2), 'OP_DIRTY(2,2)');
  await w2.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, 4, false]]);
  await checkContent(t, pager, vmo, 0, pages(filled(2, 0xaa), filled(2, 0xbb)), 'pages 0-3');

  const kinds: string[] = [];
  for (let i = 4; i < N - 1; i++) {
    if (random() < 0.5) {
      kinds.push('real');
      ensureOk(t, supplyPages(pager, vmo, i, 1), `supply(${i},1)`);
    } else {
      kinds.push('marker');
      ensureOk(t, supplyZeroPages(pager, vmo, i, 1), `marker at ${i}`);
    }
  }
  const tag = `SEED=${seed} pages 4..8: ${kinds.join(',')}`;
  const w3 = startFill(pager, vmo, 4, N - 4, 0xcc);
  ensure(t, await waitForPageDirty(pager, vmo, 4, 5), `${tag}: DIRTY(4,5) stops before the gap`);
  ensureOk(t, dirtyPages(pager, vmo, 4, 5), 'OP_DIRTY(4,5)');
  ensure(t, await waitForPageRead(pager, vmo, 9, 1), 'READ(9,1) for the gap');
  ensureOk(t, supplyPages(pager, vmo, 9, 1), 'supply(9,1)');
  ensure(t, await waitForPageDirty(pager, vmo, 9, 1), 'DIRTY(9,1)');
  ensureOk(t, dirtyPages(pager, vmo, 9, 1), 'OP_DIRTY(9,1)');
  await w3.wait();
  verifyDirtyRanges(t, pager, vmo, [[0, N, false]]);
  await checkContent(t, pager, vmo, 0, pages(filled(2, 0xaa), filled(2, 0xbb), filled(6, 0xcc)), 'content');
  noLeftovers(t, pager, vmo);
});

// Tests that a supply never replaces a zero marker, and that a write forks the marker into a page.
trapDirtyTest(t, 'CannotOverwriteZeroPage', 0, async (t, pager, options) => {
  const vmo = pager.createVmo(1, options);
  const aux = pager.sys.vmoCreate(P, 0);
  try {
    pager.supplyPagesFrom(vmo, 0, 1, aux, 0);
    t.equal(committedPages(pager, vmo), 0, 'a marker, nothing committed');
    verifyDirtyRanges(t, pager, vmo, []);
    await checkContent(t, pager, vmo, 0, filled(1), 'reads zero');
    pager.sys.vmoWrite(aux, Uint8Array.of(0xaa), 0);
    t.equal(statusNameOf(() => pager.supplyPagesFrom(vmo, 0, 1, aux, 0)), 'ZX_OK', 'a second supply over the marker is ZX_OK');
  } finally {
    pager.sys.handleClose(aux);
  }
  t.equal(committedPages(pager, vmo), 0, 'still nothing committed');
  await checkContent(t, pager, vmo, 0, filled(1), 'still reads zero');

  await writeWithTrap(t, pager, vmo, isTrap(options), startWriteByte(pager, vmo, 0, 0xbb), [[0, 1]]);
  t.equal(committedPages(pager, vmo), 1, 'the write forked the marker');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  await checkContent(t, pager, vmo, 0, patched(filled(1), [0, 0xbb]), 'byte 0 is 0xbb');
  noLeftovers(t, pager, vmo);
});

// Tests that OP_FAIL on a DIRTY request fails the zx_vmo_write and leaves the page clean and
// unchanged. (vmo_write half: the catalog's first writer stores through a mapping.)
pagerTest(t, 'FailDirtyRequests', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  const writer = startWriteByte(pager, vmo, 1, 0xdd);
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'DIRTY(1,1)');
  ensureOk(t, failPages(pager, vmo, 1, 1), 'OP_FAIL(1,1)');
  const error = await writer.waitForFailure();
  t.pass(`the write failed (${error.code})`);
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 2), 'content unchanged');
  noLeftovers(t, pager, vmo);
});

// Tests that failing the DIRTY request of a write to a zero marker fails the write and commits
// nothing.
pagerTest(t, 'FailDirtyRequestsForZeroPages', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyZeroPages(pager, vmo, 0, 1), 'marker at 0');
  t.equal(committedPages(pager, vmo), 0, 'nothing committed');
  verifyDirtyRanges(t, pager, vmo, []);
  const writer = startWriteByte(pager, vmo, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, failPages(pager, vmo, 0, 1), 'OP_FAIL(0,1)');
  await writer.waitForFailure();
  t.equal(committedPages(pager, vmo), 0, 'still nothing committed');
  verifyDirtyRanges(t, pager, vmo, []);
  await checkContent(t, pager, vmo, 0, filled(1), 'reads zero');
  noLeftovers(t, pager, vmo);
});

// Tests that a write failed through its only DIRTY request does not mark the VMO modified.
// (Vmo half: the catalog's second attempt stores through a mapping.)
pagerTest(t, 'NotModifiedOnFailedDirtyRequest', async (t, pager) => {
  const vmo = pager.createVmo(1, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 1), 'supply(0,1)');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content');
  verifyDirtyRanges(t, pager, vmo, []);
  t.notOk(verifyModified(pager, vmo), 'not modified before the write');
  const writer = startWriteByte(pager, vmo, 0, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 0, 1), 'DIRTY(0,1)');
  ensureOk(t, failPages(pager, vmo, 0, 1), 'OP_FAIL(0,1)');
  await writer.waitForFailure();
  t.notOk(verifyModified(pager, vmo), 'not modified after the failed write');
  await checkContent(t, pager, vmo, 0, supplied(vmo, 0, 1), 'content unchanged');
  verifyDirtyRanges(t, pager, vmo, []);
  noLeftovers(t, pager, vmo);
});

// Tests that a write whose second page's DIRTY request is failed still writes the first (dirty)
// page and marks the VMO modified. (TrapDirty second half only: the first half needs a faulting
// source buffer.)
pagerTest(t, 'ModifiedOnPartialVmoWriteTrapDirty', async (t, pager) => {
  const vmo = pager.createVmo(2, ZX_VMO_TRAP_DIRTY);
  ensureOk(t, supplyPages(pager, vmo, 0, 2), 'supply(0,2)');
  verifyDirtyRanges(t, pager, vmo, []);
  t.notOk(verifyModified(pager, vmo), 'not modified at first');
  ensureOk(t, dirtyPages(pager, vmo, 0, 2), 'OP_DIRTY(0,2)');
  ensureOk(t, writebackBeginPages(pager, vmo, 0, 2), 'BEGIN(0,2)');
  ensureOk(t, writebackEndPages(pager, vmo, 0, 2), 'END(0,2)');
  verifyDirtyRanges(t, pager, vmo, [], 'clean again');
  ensureOk(t, dirtyPages(pager, vmo, 0, 1), 'OP_DIRTY(0,1)');
  t.notOk(verifyModified(pager, vmo), 'OP_DIRTY and writeback do not mark modified');

  const writer = startFill(pager, vmo, 0, 2, 0xaa);
  ensure(t, await waitForPageDirty(pager, vmo, 1, 1), 'DIRTY(1,1)');
  ensureOk(t, failPages(pager, vmo, 1, 1), 'OP_FAIL(1,1)');
  await writer.waitForFailure();
  t.ok(verifyModified(pager, vmo), 'modified: page 0 was written');
  await checkContent(t, pager, vmo, 0, pages(filled(1, 0xaa), supplied(vmo, 1, 1)), 'page 0 is 0xaa, page 1 unchanged');
  verifyDirtyRanges(t, pager, vmo, [[0, 1, false]]);
  noLeftovers(t, pager, vmo);
});
