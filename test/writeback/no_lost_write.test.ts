// The lost-write invariant under real concurrency (docs/conformance/writeback-tests.md §1.2 "Lost-write
// prevention", docs/semantics.md §3.12): writer threads keep writing stamped pages (and now and
// then zeroing whole pages with ZX_VMO_OP_ZERO) into a TRAP_DIRTY VMO while the main thread is the
// pager: it supplies READ requests from a backing store, acknowledges DIRTY requests, and runs the
// writeback protocol (query -> WRITEBACK_BEGIN, IS_ZERO for zero runs -> copy into the backing
// store -> WRITEBACK_END) against them. When the writers are done and a final writeback finds
// nothing dirty, the backing store must hold every page's last write. Each page belongs to one
// writer, so its last content is well defined; the writers record it in a shared shadow.
//
// Randomized: SEED=<n> replays the page ownership, the writers' operations and the writeback
// cadence (thread interleavings still vary). The seed is printed and is in every failure message.

import t from 'tap';
import { PAGE_SIZE, ZX_VMO_DIRTY_RANGE_IS_ZERO, ZX_VMO_TRAP_DIRTY, deadlineAfter } from '../../core/index.js';
import type { DirtyRange } from '../../core/index.js';
import { futexWake } from '../../shared/futex.js';
import { runPagerLoopAsync } from '../../workers/pager_loop.js';
import { stampPage } from '../fixtures/writeback_threads.js';
import type { StampedWriterArgs } from '../fixtures/writeback_threads.js';
import type { TestThread } from '../helpers/test_thread.js';
import { withTimeout } from '../helpers/test_thread.js';
import { UserPager, bytesEqual, describePacket, expectedContent } from '../helpers/user_pager.js';
import type { Vmo } from '../helpers/user_pager.js';
import {
  dirtyPages,
  seededRandom,
  testSeed,
  writebackBeginPages,
  writebackBeginZeroPages,
  writebackEndPages,
  writebackFixture,
} from '../helpers/writeback.js';

const P = PAGE_SIZE;
const PAGES = 64;
const WRITERS = 4;
const OPS_PER_WRITER = 500;
const MAX_RUN_PAGES = 4;
const ZERO_PERCENT = 10;
/** Each writer waits for the next writeback pass (at most PACE_TIMEOUT_MS) every OPS_PER_PACE ops. */
const OPS_PER_PACE = 2;
const PACE_TIMEOUT_MS = 20;
/** Writers start no new operation after this; the whole test stays well under 20 s. */
const WRITER_TIME_LIMIT_MS = 8_000;
const JOIN_TIMEOUT_MS = 12_000;
const FINAL_WRITEBACK_ROUNDS = 50;
const READ_TIMEOUT_MS = 5_000;
/** One blocking slice of the pager loop's port wait. */
const PORT_SLICE_NS = 1_000_000;

interface Stats {
  readsSupplied: number;
  pagesSupplied: number;
  dirtyAcked: number;
  dirtyNotFound: number;
  writebackRounds: number;
  rangesWrittenBack: number;
  zeroRangesWrittenBack: number;
}

/** The pager side: serves READ (from the backing store) and DIRTY requests until stopped. */
class PagerLoop {
  readonly stats: Stats = { readsSupplied: 0, pagesSupplied: 0, dirtyAcked: 0, dirtyNotFound: 0, writebackRounds: 0, rangesWrittenBack: 0, zeroRangesWrittenBack: 0 };
  readonly errors: string[] = [];
  readonly #pager: UserPager;
  readonly #vmo: Vmo;
  readonly #backing: Uint8Array;
  #running = true;
  readonly #done: Promise<void>;

  constructor(pager: UserPager, vmo: Vmo, backing: Uint8Array) {
    this.#pager = pager;
    this.#vmo = vmo;
    this.#backing = backing;
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  async #run(): Promise<void> {
    const { sys, port } = this.#pager;
    await runPagerLoopAsync(
      { sys, port, shouldStop: () => !this.#running, nextDeadline: () => deadlineAfter(PORT_SLICE_NS) },
      {
        onRead: (key, offsetBytes, lengthBytes) => this.#supply(key, offsetBytes / P, lengthBytes / P),
        onDirty: (key, offsetBytes, lengthBytes) => this.#acknowledge(key, offsetBytes / P, lengthBytes / P),
        onComplete: (key) => void this.errors.push(`unexpected COMPLETE key=${key}`),
        onUser: (key) => (this.errors.push(`unexpected user packet key=${key}`), false),
      },
    );
  }

  #expectKey(key: bigint, what: string, first: number, count: number): boolean {
    if (key === this.#vmo.key) return true;
    this.errors.push(`unexpected ${what} key=${key} (${first},${count})`);
    return false;
  }

  #supply(key: bigint, first: number, count: number): boolean {
    if (!this.#expectKey(key, 'READ', first, count)) return false;
    // Absent pages are never mid-writeback, so the backing store holds their content.
    const sys = this.#pager.sys;
    const aux = sys.vmoCreate(count * P, 0);
    try {
      sys.vmoWrite(aux, this.#backing.subarray(first * P, (first + count) * P), 0);
      this.#pager.supplyPagesFrom(this.#vmo, first, count, aux, 0);
      this.stats.readsSupplied++;
      this.stats.pagesSupplied += count;
    } catch (error) {
      this.errors.push(`supply(${first},${count}) failed: ${String(error)}`);
    } finally {
      sys.handleClose(aux);
    }
    return true;
  }

  #acknowledge(key: bigint, first: number, count: number): boolean {
    if (!this.#expectKey(key, 'DIRTY', first, count)) return false;
    const status = dirtyPages(this.#pager, this.#vmo, first, count);
    if (status === 'ZX_OK') this.stats.dirtyAcked++;
    // NOT_FOUND: a zero range under the request was written back; the writer retries with READ.
    else if (status === 'ZX_ERR_NOT_FOUND') this.stats.dirtyNotFound++;
    else this.errors.push(`OP_DIRTY(${first},${count}) failed with ${status}`);
    return true;
  }
}

/** Every dirty range of the VMO, paging with a small buffer from the end of the last range. */
function queryAll(pager: UserPager, vmo: Vmo, maxRanges: number): DirtyRange[] {
  const out: DirtyRange[] = [];
  let start = 0;
  for (;;) {
    const q = pager.sys.pagerQueryDirtyRanges(pager.pager, vmo.handle, start, vmo.size - start, maxRanges);
    out.push(...q.ranges);
    if (q.actual === 0 || q.actual >= q.avail) return out;
    const last = q.ranges[q.ranges.length - 1];
    start = last.offset + last.length;
    if (start >= vmo.size) return out;
  }
}

/**
 * One writeback pass: query, then per range BEGIN (IS_ZERO for zero runs), copy the range into the
 * backing store with a zx_vmo_read (in a pool thread), END. Returns how many ranges it wrote back.
 */
async function writebackPass(pager: UserPager, vmo: Vmo, backing: Uint8Array, loop: PagerLoop, maxRanges: number): Promise<number> {
  const ranges = queryAll(pager, vmo, maxRanges);
  for (const range of ranges) {
    const first = range.offset / P;
    const count = range.length / P;
    const zero = range.options === ZX_VMO_DIRTY_RANGE_IS_ZERO;
    const begin = zero ? writebackBeginZeroPages(pager, vmo, first, count) : writebackBeginPages(pager, vmo, first, count);
    if (begin !== 'ZX_OK') loop.errors.push(`BEGIN(${first},${count}) failed with ${begin}`);
    const data = await pager.startRead(vmo, first, count).wait<Uint8Array>(READ_TIMEOUT_MS);
    backing.set(data, range.offset);
    const end = writebackEndPages(pager, vmo, first, count);
    if (end !== 'ZX_OK') loop.errors.push(`END(${first},${count}) failed with ${end}`);
    loop.stats.rangesWrittenBack++;
    if (zero) loop.stats.zeroRangesWrittenBack++;
  }
  loop.stats.writebackRounds++;
  return ranges.length;
}

/** Pages in runs of 1..6 handed to random writers: adjacent pages often belong to different writers. */
function assignOwners(random: () => number): Int32Array {
  const owner = new Int32Array(new SharedArrayBuffer(PAGES * 4));
  for (let page = 0; page < PAGES; ) {
    const run = 1 + Math.floor(random() * 6);
    const writer = Math.floor(random() * WRITERS);
    for (let i = 0; i < run && page < PAGES; i++) owner[page++] = writer;
  }
  return owner;
}

/** Reads the stamp header of a page (for failure messages). */
function header(buffer: Uint8Array, page: number): string {
  const view = new DataView(buffer.buffer, buffer.byteOffset + page * P, 16);
  return `magic=0x${view.getUint32(0, true).toString(16)} writer=${view.getUint32(4, true)} seq=${view.getUint32(8, true)} page=${view.getUint32(12, true)}`;
}

// Tests that no write is lost: with writers racing a pager that supplies, acknowledges DIRTY
// requests and writes back continuously, the backing store ends up with every page's last write.
t.test('NoLostWrite', async (t) => {
  const seed = testSeed();
  t.comment(`SEED=${seed}`);
  const random = seededRandom(seed);
  const pager = await UserPager.create({ maxThreads: WRITERS + 8 });
  let loop: PagerLoop | null = null;
  try {
    const vmo = pager.createVmo(PAGES, ZX_VMO_TRAP_DIRTY);
    const owner = assignOwners(random);
    const shadow = new Int32Array(new SharedArrayBuffer(PAGES * 4));
    const progress = new Int32Array(new SharedArrayBuffer(WRITERS * 4));
    const pace = new Int32Array(new SharedArrayBuffer(4));
    const initial = expectedContent(vmo.key, 0, PAGES);
    const backing = initial.slice();
    loop = new PagerLoop(pager, vmo, backing);

    const writers: TestThread[] = [];
    for (let id = 0; id < WRITERS; id++) {
      const args: StampedWriterArgs = {
        vmo: vmo.handle,
        id,
        owner,
        shadow,
        progress,
        seed: (seed ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0,
        ops: OPS_PER_WRITER,
        maxRunPages: MAX_RUN_PAGES,
        zeroPercent: ZERO_PERCENT,
        timeLimitMs: WRITER_TIME_LIMIT_MS,
        pace,
        opsPerPace: OPS_PER_PACE,
        paceTimeoutMs: PACE_TIMEOUT_MS,
      };
      writers.push(pager.startThread(writebackFixture('stampedWriter'), args));
    }

    // Write back continuously, at a seeded cadence, until every writer has finished.
    const joined = Promise.allSettled(writers.map((w) => w.wait<number>(JOIN_TIMEOUT_MS)));
    let writersDone = false;
    void joined.then(() => {
      writersDone = true;
    });
    while (!writersDone && loop.errors.length === 0) {
      await writebackPass(pager, vmo, backing, loop, 1 + Math.floor(random() * 4));
      Atomics.add(pace, 0, 1);
      futexWake(pace, 0);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)));
    }
    const outcomes = await joined;
    const failed = outcomes.flatMap((o, id) => (o.status === 'rejected' ? [`writer ${id}: ${(o.reason as Error).message}`] : []));
    t.same(failed, [], `SEED=${seed}: every writer finished without error (progress ${Array.from(progress).join('/')})`);
    t.same(loop.errors, [], `SEED=${seed}: the pager loop hit no error`);
    if (failed.length > 0 || loop.errors.length > 0) return;

    // The final writeback: repeat until a query finds nothing dirty.
    let rounds = 0;
    let left = -1;
    while (rounds < FINAL_WRITEBACK_ROUNDS && left !== 0) {
      left = await writebackPass(pager, vmo, backing, loop, 2);
      rounds++;
    }
    t.equal(queryAll(pager, vmo, 4).length, 0, `SEED=${seed}: nothing dirty after the final writeback (${rounds} rounds)`);

    const expected = new Uint8Array(PAGES * P);
    for (let page = 0; page < PAGES; page++) {
      const s = shadow[page];
      if (s === 0) expected.set(initial.subarray(page * P, (page + 1) * P), page * P);
      else if (s % 2 === 0) stampPage(expected, page * P, owner[page], s / 2, page);
      // Odd: the page was last zeroed, and `expected` is already zero there.
    }
    const describe = (buffer: Uint8Array): string[] => {
      const bad: string[] = [];
      for (let page = 0; page < PAGES && bad.length < 8; page++) {
        if (bytesEqual(buffer.subarray(page * P, (page + 1) * P), expected.subarray(page * P, (page + 1) * P))) continue;
        const s = shadow[page];
        const last = s === 0 ? 'never written' : s % 2 === 0 ? `write seq ${s / 2}` : `zeroed at seq ${(s - 1) / 2}`;
        bad.push(`page ${page} (owner ${owner[page]}, last op: ${last}) holds ${header(buffer, page)}`);
      }
      return bad;
    };
    t.same(describe(backing), [], `SEED=${seed}: the backing store holds every page's last write`);
    // The VMO itself must agree (absent pages are supplied from the backing store meanwhile).
    const content = await pager.startRead(vmo, 0, PAGES).wait<Uint8Array>(READ_TIMEOUT_MS);
    t.same(describe(content), [], `SEED=${seed}: the VMO holds every page's last write`);

    const stopped = loop;
    loop = null;
    await stopped.stop();
    const leftovers = pager.stash.pending(() => true).map(describePacket);
    t.same(leftovers, [], `SEED=${seed}: no leftover requests`);
    t.same(stopped.errors, [], `SEED=${seed}: no pager loop errors`);
    t.comment(
      `SEED=${seed}: writer ops ${Array.from(progress).join('/')}; ` +
        `supplies ${stopped.stats.readsSupplied} (${stopped.stats.pagesSupplied} pages), OP_DIRTY ${stopped.stats.dirtyAcked}, ` +
        `NOT_FOUND ${stopped.stats.dirtyNotFound}, writeback passes ${stopped.stats.writebackRounds}, ` +
        `ranges written back ${stopped.stats.rangesWrittenBack} (${stopped.stats.zeroRangesWrittenBack} zero)`,
    );
  } finally {
    if (loop !== null) await withTimeout(loop.stop(), 2_000, undefined);
    await pager.close();
  }
});
