// Zero intervals (core/vm/zero_intervals.ts) on an in-process kernel, calling the module directly under
// the VMO lock: insertion keeps the list sorted and merged, removal clips, splits and deletes at every
// boundary, WRITEBACK_BEGIN/END set and consume awaiting-clean lengths, and running out of records
// fails an operation with nothing changed (reserveIntervals keeps nothing when it cannot reserve all).
// A random run checks add/remove against a per-page model. The kernel's invariants hold after each case.

import t from 'tap';
import { Kernel, PAGE_SIZE } from '../../core/index.js';
import type { KernelState } from '../../core/kernel_state.js';
import { lookupHandle } from '../../core/object/handle_table.js';
import {
  addIntervalLocked,
  beginIntervalsLocked,
  endIntervalsLocked,
  firstInterval,
  intervalAtLocked,
  intervalAwaitingCleanPages,
  intervalEnd,
  intervalNext,
  intervalStart,
  nextIntervalStartLocked,
  releaseReservedIntervals,
  removeRangeLocked,
  removeRangeSplitsLocked,
  reserveIntervals,
  truncateIntervalsLocked,
} from '../../core/vm/zero_intervals.js';
import { ZX_OBJ_TYPE_VMO } from '../../shared/constants.js';
import { seededRandom } from '../helpers/random.js';

const VMO_PAGES = 1000;
const RECORDS = 6;

/** A pager VMO of VMO_PAGES pages with no content, on a kernel with RECORDS interval records. */
function fixture(): { kernel: Kernel; k: KernelState; vmo: number } {
  const kernel = Kernel.create({ physicalMemory: 16 * PAGE_SIZE, maxThreads: 4, maxHandles: 32, maxObjects: 16, maxPortPackets: 8, maxZeroIntervals: RECORDS, maxMappings: 4, maxPageListNodes: 16 });
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const h = sys.pagerCreateVmo(pager, 0, port, 1n, VMO_PAGES * PAGE_SIZE);
  const k = kernel.state;
  const vmo = lookupHandle(k, h, ZX_OBJ_TYPE_VMO, 0);
  k.release(vmo);
  return { kernel, k, vmo };
}

type Fixture = ReturnType<typeof fixture>;

/** The VMO's intervals as [start, end, awaitingClean] triples, in list order. */
function list(f: Fixture): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let z = firstInterval(f.k, f.vmo); z >= 0 && out.length <= RECORDS; z = intervalNext(f.k, z)) {
    out.push([intervalStart(f.k, z), intervalEnd(f.k, z), intervalAwaitingCleanPages(f.k, z)]);
  }
  return out;
}

/** Records on the heap's free list. */
function freeRecords(k: KernelState): number {
  let n = 0;
  for (let z = k.header.freeInterval(); z >= 0 && n <= RECORDS; z = k.intervals.nextFree(z)) n++;
  return n;
}

/** Runs body on a fresh fixture under its VMO lock, then checks the kernel's invariants and closes it. */
function withLockedVmo(body: (f: Fixture) => void): void {
  const f = fixture();
  locked(f, () => body(f));
  f.kernel.assertInvariants();
  f.kernel.close();
}

/** Runs fn under the VMO lock. */
function locked<T>(f: Fixture, fn: () => T): T {
  f.k.lockObject(f.vmo);
  try {
    return fn();
  } finally {
    f.k.unlockObject(f.vmo);
  }
}

t.test('insertion keeps the list sorted and merges what touches or overlaps', async (t) => {
  withLockedVmo((f) => {
    t.ok(addIntervalLocked(f.k, f.vmo, 50, 60));
    t.ok(addIntervalLocked(f.k, f.vmo, 10, 20));
    t.ok(addIntervalLocked(f.k, f.vmo, 30, 40));
    t.same(list(f), [[10, 20, 0], [30, 40, 0], [50, 60, 0]], 'sorted');
    t.ok(addIntervalLocked(f.k, f.vmo, 20, 25), 'touching the end of one');
    t.same(list(f), [[10, 25, 0], [30, 40, 0], [50, 60, 0]]);
    t.ok(addIntervalLocked(f.k, f.vmo, 28, 30), 'touching the start of one');
    t.same(list(f), [[10, 25, 0], [28, 40, 0], [50, 60, 0]]);
    t.ok(addIntervalLocked(f.k, f.vmo, 24, 55), 'overlapping three: one remains');
    t.same(list(f), [[10, 60, 0]]);
    t.equal(freeRecords(f.k), RECORDS - 1, 'merged records go back to the heap');
    t.equal(intervalAtLocked(f.k, f.vmo, 9), -1);
    t.equal(intervalAtLocked(f.k, f.vmo, 10), firstInterval(f.k, f.vmo));
    t.equal(intervalAtLocked(f.k, f.vmo, 59), firstInterval(f.k, f.vmo));
    t.equal(intervalAtLocked(f.k, f.vmo, 60), -1, 'the end is exclusive');
    t.equal(nextIntervalStartLocked(f.k, f.vmo, 0, 5), 5, 'none before the limit');
    t.equal(nextIntervalStartLocked(f.k, f.vmo, 0, 100), 10);
    t.equal(nextIntervalStartLocked(f.k, f.vmo, 30, 100), 30, 'inside one: the page itself');
  });
});

t.test('removal clips, splits and deletes at each boundary', async (t) => {
  withLockedVmo((f) => {
    addIntervalLocked(f.k, f.vmo, 10, 20);
    addIntervalLocked(f.k, f.vmo, 30, 40);
    t.ok(removeRangeLocked(f.k, f.vmo, 0, 10), 'a range ending at a start touches nothing');
    t.ok(removeRangeLocked(f.k, f.vmo, 20, 30), 'nor one between two');
    t.same(list(f), [[10, 20, 0], [30, 40, 0]]);
    t.notOk(removeRangeSplitsLocked(f.k, f.vmo, 10, 12), 'a head clip needs no record');
    t.ok(removeRangeLocked(f.k, f.vmo, 10, 12));
    t.ok(removeRangeLocked(f.k, f.vmo, 19, 31), 'tail of one and head of the next');
    t.same(list(f), [[12, 19, 0], [31, 40, 0]]);
    t.ok(removeRangeSplitsLocked(f.k, f.vmo, 14, 16));
    t.ok(removeRangeLocked(f.k, f.vmo, 14, 16));
    t.same(list(f), [[12, 14, 0], [16, 19, 0], [31, 40, 0]], 'split in two');
    t.ok(removeRangeLocked(f.k, f.vmo, 16, 19), 'exactly one interval');
    t.same(list(f), [[12, 14, 0], [31, 40, 0]]);
    truncateIntervalsLocked(f.k, f.vmo, 35);
    t.same(list(f), [[12, 14, 0], [31, 35, 0]], 'truncate clips');
    truncateIntervalsLocked(f.k, f.vmo, 31);
    t.same(list(f), [[12, 14, 0]], 'and deletes');
    t.equal(freeRecords(f.k), RECORDS - 1);
  });
});

t.test('awaiting-clean lengths: BEGIN sets them, clips and merges adjust them, END consumes them', async (t) => {
  withLockedVmo((f) => {
    addIntervalLocked(f.k, f.vmo, 10, 20);
    addIntervalLocked(f.k, f.vmo, 30, 40);
    beginIntervalsLocked(f.k, f.vmo, 12, 35);
    t.same(list(f), [[10, 20, 0], [30, 40, 5]], 'only an interval whose start is in range, up to the range end');
    beginIntervalsLocked(f.k, f.vmo, 30, 32);
    t.same(list(f), [[10, 20, 0], [30, 40, 5]], 'never shortened');
    beginIntervalsLocked(f.k, f.vmo, 0, 100);
    t.same(list(f), [[10, 20, 10], [30, 40, 10]]);
    removeRangeLocked(f.k, f.vmo, 10, 13);
    t.same(list(f)[0], [13, 20, 7], 'a head clip keeps the rest of the length from the new start');
    removeRangeLocked(f.k, f.vmo, 38, 40);
    t.same(list(f)[1], [30, 38, 10], 'a tail clip keeps the length, even past the new end');
    removeRangeLocked(f.k, f.vmo, 32, 34);
    t.same(list(f), [[13, 20, 7], [30, 32, 10], [34, 38, 0]], 'the right piece of a split awaits nothing');
    addIntervalLocked(f.k, f.vmo, 28, 30);
    t.same(list(f)[1], [28, 32, 0], 'an interval reshaped at its start awaits nothing');
    // END over [0, 36): [13,20) is wholly awaited and goes; [28,32) awaits nothing and stays;
    // [34,38) awaits nothing either.
    endIntervalsLocked(f.k, f.vmo, 0, 36);
    t.same(list(f), [[28, 32, 0], [34, 38, 0]]);
    beginIntervalsLocked(f.k, f.vmo, 28, 40);
    endIntervalsLocked(f.k, f.vmo, 28, 30);
    t.same(list(f), [[30, 32, 2], [34, 38, 4]], 'END capped by its range end cleans only that head, and its length shrinks by it');
    endIntervalsLocked(f.k, f.vmo, 30, 40);
    t.same(list(f), [], 'the running awaiting end covers both');
    t.equal(freeRecords(f.k), RECORDS);
  });
});

t.test('out of records: add and split fail with nothing changed; reserveIntervals is all or nothing', async (t) => {
  const f = fixture();
  locked(f, () => {
    for (let i = 0; i < RECORDS; i++) t.ok(addIntervalLocked(f.k, f.vmo, 100 * i, 100 * i + 10));
    t.equal(freeRecords(f.k), 0);
    const before = list(f);
    t.notOk(addIntervalLocked(f.k, f.vmo, 50, 60), 'no record for a new interval');
    t.ok(addIntervalLocked(f.k, f.vmo, 10, 20), 'a merge needs none');
    t.notOk(removeRangeLocked(f.k, f.vmo, 103, 105), 'no record for a split');
    t.same(list(f), [[0, 20, 0], ...before.slice(1)], 'the failed split changed nothing');
    t.ok(removeRangeLocked(f.k, f.vmo, 500, 510), 'deleting one frees its record');
    t.equal(freeRecords(f.k), 1);
    t.notOk(reserveIntervals(f.k, 2), 'two are not there');
    t.equal(freeRecords(f.k), 1, 'the failed reservation kept nothing');
    t.ok(reserveIntervals(f.k, 1));
    t.equal(freeRecords(f.k), 0, 'reserved records leave the heap');
    t.ok(removeRangeLocked(f.k, f.vmo, 103, 105), 'a split takes the reserved record');
    t.same(list(f)[1], [100, 103, 0]);
    t.same(list(f)[2], [105, 110, 0]);
    t.ok(reserveIntervals(f.k, 0), 'reserving none always works');
    releaseReservedIntervals(f.k);
    t.equal(freeRecords(f.k), 0, 'nothing left over to release');
  });
  f.kernel.assertInvariants();
  locked(f, () => {
    removeRangeLocked(f.k, f.vmo, 300, 310);
    t.ok(reserveIntervals(f.k, 1));
    releaseReservedIntervals(f.k);
    t.equal(freeRecords(f.k), 1, 'an unused reservation goes back');
  });
  f.kernel.assertInvariants();
  f.kernel.close();
});

t.test('random adds and removes agree with a per-page model', async (t) => {
  const f = fixture();
  const rand = seededRandom(0x2545f491);
  const model = new Uint8Array(120);
  let bad = '';
  for (let step = 0; step < 2000 && bad === ''; step++) {
    const a = Math.floor(rand() * model.length);
    const b = Math.min(model.length, a + 1 + Math.floor(rand() * 12));
    const add = rand() < 0.5;
    const ok = locked(f, () => (add ? addIntervalLocked(f.k, f.vmo, a, b) : removeRangeLocked(f.k, f.vmo, a, b)));
    if (ok) model.fill(add ? 1 : 0, a, b);
    // The maximal runs of the model are what the list must hold, merged and sorted.
    const want: Array<[number, number]> = [];
    for (let p = 0; p < model.length; p++) {
      if (model[p] === 0) continue;
      const last = want[want.length - 1];
      if (last && last[1] === p) last[1] = p + 1;
      else want.push([p, p + 1]);
    }
    const got = list(f).map(([s, e]) => [s, e] as [number, number]);
    if (JSON.stringify(got) !== JSON.stringify(want)) bad = `step ${step} (${add ? 'add' : 'remove'} ${a}-${b}): ${JSON.stringify(got)} != ${JSON.stringify(want)}`;
    if (!ok && want.length < RECORDS) bad = `step ${step}: failed with ${want.length} intervals, fewer than the ${RECORDS} records`;
    if (RECORDS - want.length !== freeRecords(f.k)) bad = `step ${step}: ${freeRecords(f.k)} free records for ${want.length} intervals`;
  }
  t.equal(bad, '');
  f.kernel.assertInvariants();
  f.kernel.close();
});
