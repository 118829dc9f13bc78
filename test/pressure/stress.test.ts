// The memory-pressure stress test: four threads read and write a 256-page pager VMO (no dirty
// trapping) in a kernel whose frame pool holds only 64 pages, while the main thread is the pager. It
// supplies every READ request from a backing store and writes dirty pages back (query → BEGIN →
// zx_vmo_read into the backing store → END) whenever a supply runs out of memory or a few ms passed,
// in an async loop (1 ms port waits, a yield to the event loop between steps). Each page has one
// owner thread, which stamps it (writer id + sequence number), records its last write in a shared
// shadow, and checks that every read of it returns exactly that last write. So eviction must never
// take a Dirty page, writeback must never miss a write, and a re-supplied page must come back as
// last written back. Half the threads use a mapping (memRead/memWrite), half zx_vmo_read/write.
// Bounded: every wait has a deadline, workers stop at a time limit. SEED=… replays the random ops.

import t from 'tap';
import type { Test } from 'tap';
import {
  PAGE_SIZE,
  ZX_ERR_NO_MEMORY,
  ZX_INFO_VMO,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
  ZX_PAGER_VMO_READ,
  ZX_PKT_TYPE_PAGE_REQUEST,
  ZxError,
  deadlineAfter,
} from '../../core/index.js';
import { waitPacket } from '../../workers/pager_loop.js';
import { INITIAL_WRITER, expectedPage, stampPage } from '../fixtures/vmar_threads.js';
import type { PressureWorkerArgs, PressureWorkerResult } from '../fixtures/vmar_threads.js';
import type { TestThread } from '../helpers/test_thread.js';
import { bytesEqual, yieldToEventLoop } from '../helpers/user_pager.js';
import type { Vmo } from '../helpers/user_pager.js';
import { RW, RawPager, mapVmo, vmarFixture } from '../helpers/vmar.js';
import { testSeed } from '../helpers/writeback.js';

const P = PAGE_SIZE;
const VMO_PAGES = 256;
const POOL_PAGES = 64;
const WORKERS = 4;
const PAGES_PER_WORKER = VMO_PAGES / WORKERS;
const OPS_PER_WORKER = 1000;
const MAX_RUN_PAGES = 4;
/** Workers stop starting operations after this long; the test's own deadline is later. */
const WORKER_TIME_LIMIT_MS = 18_000;
const TEST_DEADLINE_MS = 25_000;
/** A backstop: a fault left unanswered this long fails instead of hanging its thread. */
const REQUEST_TIMEOUT_MS = 10_000;
const WRITEBACK_INTERVAL_MS = 20;
const PACKETS_PER_STEP = 64;
const MAX_DIRTY_RANGES = VMO_PAGES;

interface PagerStats {
  requests: number;
  requestedPages: number;
  supplies: number;
  supplyNoMemory: number;
  writebacks: number;
  pagesWrittenBack: number;
  errors: string[];
}

/**
 * The main thread's pager: answers READ requests from `backing`, one page per supply so each needs
 * one free frame, and writes dirty pages back into `backing`. A supply that finds no memory (only
 * dirty pages left) stays pending until a writeback has made pages clean.
 */
class BackingStorePager {
  readonly backing = new Uint8Array(VMO_PAGES * P);
  readonly stats: PagerStats = { requests: 0, requestedPages: 0, supplies: 0, supplyNoMemory: 0, writebacks: 0, pagesWrittenBack: 0, errors: [] };
  readonly #raw: RawPager;
  readonly #vmo: Vmo;
  readonly #pending: number[] = [];
  #lastWriteback = 0;

  constructor(raw: RawPager, vmo: Vmo) {
    this.#raw = raw;
    this.#vmo = vmo;
    for (let page = 0; page < VMO_PAGES; page++) stampPage(this.backing, page * P, INITIAL_WRITER, 0, page);
  }

  /** One step of the loop: take queued requests, supply what memory allows, write back if due. */
  step(): void {
    this.#drainPort();
    const starved = !this.#supplyPending();
    if (starved || performance.now() - this.#lastWriteback >= WRITEBACK_INTERVAL_MS) this.writeback();
  }

  /** Writes every dirty range back into the backing store; returns the pages written back. */
  writeback(): number {
    const { sys, pager } = this.#raw;
    const vmo = this.#vmo.handle;
    this.#lastWriteback = performance.now();
    const query = sys.pagerQueryDirtyRanges(pager, vmo, 0, VMO_PAGES * P, MAX_DIRTY_RANGES);
    let pages = 0;
    for (const range of query.ranges) {
      if (range.options !== 0) this.stats.errors.push(`unexpected dirty range options ${range.options}`);
      sys.pagerOpRange(pager, ZX_PAGER_OP_WRITEBACK_BEGIN, vmo, range.offset, range.length);
      sys.vmoRead(vmo, this.backing.subarray(range.offset, range.offset + range.length), range.offset);
      sys.pagerOpRange(pager, ZX_PAGER_OP_WRITEBACK_END, vmo, range.offset, range.length);
      pages += range.length / P;
    }
    this.stats.writebacks++;
    this.stats.pagesWrittenBack += pages;
    return pages;
  }

  /** Dirty ranges left, as a count (for the final check). */
  dirtyRangeCount(): number {
    const { sys, pager } = this.#raw;
    return sys.pagerQueryDirtyRanges(pager, this.#vmo.handle, 0, VMO_PAGES * P, 0).avail;
  }

  #drainPort(): void {
    const { sys, port } = this.#raw;
    for (let i = 0; i < PACKETS_PER_STEP; i++) {
      const packet = waitPacket(sys, port, i === 0 ? deadlineAfter(1_000_000) : 0n);
      if (packet === null) return;
      const request = packet.pageRequest;
      if (packet.type !== ZX_PKT_TYPE_PAGE_REQUEST || request === undefined || packet.key !== this.#vmo.key) continue;
      if (request.command !== ZX_PAGER_VMO_READ) {
        this.stats.errors.push(`unexpected page request command ${request.command}`);
        continue;
      }
      this.stats.requests++;
      for (let page = request.offset / P; page < (request.offset + request.length) / P; page++) {
        this.#pending.push(page);
        this.stats.requestedPages++;
      }
    }
  }

  /** Supplies pending pages in order; false if it stopped for lack of memory. */
  #supplyPending(): boolean {
    const { sys, pager } = this.#raw;
    while (this.#pending.length > 0) {
      const page = this.#pending[0];
      const aux = sys.vmoCreate(P, 0);
      try {
        sys.vmoWrite(aux, this.backing.subarray(page * P, (page + 1) * P), 0);
        sys.pagerSupplyPages(pager, this.#vmo.handle, page * P, P, aux, 0);
        this.stats.supplies++;
      } catch (error) {
        if (!(error instanceof ZxError)) throw error;
        if (error.status === ZX_ERR_NO_MEMORY) {
          this.stats.supplyNoMemory++;
          return false;
        }
        this.stats.errors.push(`supply of page ${page}: ${error.message}`);
      } finally {
        sys.handleClose(aux);
      }
      this.#pending.shift();
    }
    return true;
  }
}

type Outcome = { ok: true; value: PressureWorkerResult } | { ok: false; error: string };

function settle(thread: TestThread): Promise<Outcome> {
  return thread.wait<PressureWorkerResult>(TEST_DEADLINE_MS).then(
    (value): Outcome => ({ ok: true, value }),
    (error: unknown): Outcome => ({ ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
}

/** Pages whose backing-store content is not their owner's last write, as short descriptions. */
function backingMismatches(backing: Uint8Array, shadow: Int32Array): string[] {
  const bad: string[] = [];
  for (let page = 0; page < VMO_PAGES; page++) {
    const owner = Math.floor(page / PAGES_PER_WORKER);
    const want = expectedPage(owner, Atomics.load(shadow, page), page);
    if (!bytesEqual(backing.subarray(page * P, (page + 1) * P), want)) bad.push(`page ${page} (want seq ${Atomics.load(shadow, page)})`);
  }
  return bad;
}

function reportWorkers(t: Test, outcomes: Outcome[]): PressureWorkerResult[] {
  const results: PressureWorkerResult[] = [];
  outcomes.forEach((outcome, id) => {
    if (!outcome.ok) {
      t.fail(`worker ${id} failed`, { error: outcome.error });
      return;
    }
    results.push(outcome.value);
    t.same(outcome.value.mismatches, [], `worker ${id}: every read returned the page's last write`, {
      writes: outcome.value.writes,
      reads: outcome.value.reads,
      pagesChecked: outcome.value.pagesChecked,
    });
  });
  return results;
}

// Tests that with eviction and writeback racing four readers/writers on a VMO 4x memory, no write is lost and nothing hangs.
t.test('pressure: four threads on a VMO four times larger than memory', async (t) => {
  const seed = testSeed();
  t.comment(`SEED=${seed}`);
  const raw = RawPager.create({ physicalMemory: POOL_PAGES * P, pageRequestTimeoutMs: REQUEST_TIMEOUT_MS }, WORKERS + 2);
  try {
    const vmo = raw.createVmo(VMO_PAGES);
    const base = mapVmo(raw, vmo, RW);
    const store = new BackingStorePager(raw, vmo);
    const shadow = new Int32Array(new SharedArrayBuffer(VMO_PAGES * 4));
    const progress = new Int32Array(new SharedArrayBuffer(WORKERS * 4));

    const workers: TestThread[] = [];
    for (let id = 0; id < WORKERS; id++) {
      const args: PressureWorkerArgs = {
        vmo: vmo.handle,
        address: base,
        id,
        firstPage: id * PAGES_PER_WORKER,
        pageCount: PAGES_PER_WORKER,
        useMapping: id % 2 === 0,
        shadow,
        progress,
        seed: (seed + Math.imul(id + 1, 0x9e3779b1)) >>> 0,
        ops: OPS_PER_WORKER,
        maxRunPages: MAX_RUN_PAGES,
        timeLimitMs: WORKER_TIME_LIMIT_MS,
      };
      workers.push(raw.startThread(vmarFixture('pressureWorker'), args));
    }

    let settled = 0;
    const outcomes = Promise.all(workers.map((w) => settle(w).finally(() => settled++)));
    const end = performance.now() + TEST_DEADLINE_MS;
    while (settled < WORKERS && performance.now() < end) {
      store.step();
      await yieldToEventLoop();
    }
    t.equal(settled, WORKERS, 'every worker finished before the deadline', { progress: Array.from(progress) });
    const results = reportWorkers(t, await outcomes);
    t.same(store.stats.errors, [], 'the pager saw no unexpected packet or supply failure');
    const { errors, ...counts } = store.stats;
    t.comment(`pager: ${JSON.stringify(counts)}; workers: ${JSON.stringify(results.map(({ mismatches, ...r }) => r))}`);

    // Final writeback: everything dirty goes to the backing store.
    for (let round = 0; round < 8 && store.dirtyRangeCount() > 0; round++) store.writeback();
    t.equal(store.dirtyRangeCount(), 0, 'nothing is dirty after the final writeback');
    t.same(backingMismatches(store.backing, shadow), [], 'the backing store holds every page\'s last write');

    const info = raw.sys.objectGetInfo(vmo.handle, ZX_INFO_VMO);
    t.ok(info.committedBytes <= POOL_PAGES * P, 'the VMO never holds more than the pool', { committedPages: info.committedBytes / P });
    t.ok(store.stats.requestedPages > VMO_PAGES, 'pages were evicted and requested again', counts);
    t.ok(store.stats.pagesWrittenBack > 0, 'writeback ran under pressure');
    t.ok(results.every((r) => !r.timedOut), 'every worker completed all its operations', {
      timedOut: results.map((r) => r.timedOut),
      noMemoryRetries: results.map((r) => r.noMemoryRetries),
    });
  } finally {
    await raw.close();
  }
});
