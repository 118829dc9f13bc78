// Worker side of the cross-thread benchmarks (bench/fault.ts). One entry, four roles:
//   ping / pong - the baseline: an Atomics.wait/notify ping-pong on one word, timed per round trip
//                 by `ping`, with the same spin-then-wait as the kernel's futexWait (poll `spin`
//                 times, then park).
//   faulter     - a simulated thread: reads one absent page of a pager VMO per fault (vmoRead), timed
//                 per fault; when its VMO is used up it closes it and creates a fresh one (untimed).
//   pager       - a pager service with its own minimal loop, not workers/pager_loop.ts: it is part of
//                 the measuring instrument, and the shared loop's per-packet handler showed in the
//                 figures. It takes packets from the port (optionally spinning first: `spin` polls
//                 of the port's queue head, or portWait polls with a 0 deadline), supplies
//                 READ requests from an aux VMO committed with content in bulk before the start
//                 (one vmoWrite, again each time it is used up), so that a fault does not wait for a write.
// Every role waits at a start barrier (C_GO) after posting 'ready', posts one 'result' message and
// returns, releasing its kernel thread first: the worker then exits by itself.

import { parentPort, workerData } from 'node:worker_threads';
import { Kernel, type KernelShare } from '../core/kernel.js';
import { ZxError } from '../core/errors.js';
import { PAGE_SIZE, ZX_OBJ_TYPE_PORT, ZX_PAGER_VMO_READ, ZX_PKT_TYPE_USER, ZX_TIME_INFINITE } from '../shared/constants.js';
import { lookupHandle } from '../core/object/handle_table.js';
import { PT_HEAD } from '../shared/layout.js';
import { ZX_ERR_TIMED_OUT } from '../shared/status.js';
import { profileTop, type ProfileLine } from './harness.js';

// Control words (Int32Array over the `ctl` SharedArrayBuffer).
export const C_GO = 0; // start barrier: 0 until the main thread releases every worker
export const C_STOP = 1; // faulters in timed mode stop when this becomes 1
export const C_PING = 2; // the ping-pong word
export const C_TABLE = 16; // C_TABLE + faulter index: the faulter's current VMO handle (its packet key is its index)
export const CTL_WORDS = C_TABLE + 64;

export const STOP_KEY = 0xffff_fffen;
export const FILL = 0xa5;

export interface PingPongJob {
  role: 'ping' | 'pong';
  ctl: SharedArrayBuffer;
  spin: number;
  warmup: number;
  count: number;
}

export interface FaulterJob {
  role: 'faulter';
  ctl: SharedArrayBuffer;
  /** Record the clock (ns) before and after every fault, warm-up included, for the phase split. */
  phases: boolean;
  share: KernelShare;
  pager: number;
  port: number;
  index: number;
  pagesPerVmo: number;
  warmup: number;
  /** Take a CPU profile of the timed faults (a diagnostic run; slows the faults a little). */
  profile?: boolean;
  /** Faults to time after the warm-up; in timed mode (until C_STOP) the most samples kept. */
  count: number;
  untilStop: boolean;
}

export interface PagerJob {
  role: 'pager';
  ctl: SharedArrayBuffer;
  /** Record the clock (ns) when each READ packet arrived and when its supply returned. */
  phases: boolean;
  share: KernelShare;
  pager: number;
  port: number;
  /**
   * How the pager spins before a blocking portWait: 'peek' polls the port's queue-head word
   * `spin` times (what the kernel's own futexWait spin does on a request event, and what a port
   * honouring waitSpin would do); 'syscall' polls portWait with a 0 deadline for `spinNs` (API
   * only, but an empty poll throws ZX_ERR_TIMED_OUT and costs about 2 µs).
   */
  spinMode: 'peek' | 'syscall';
  spin: number;
  spinNs: number;
  /** Pages of content the aux VMO holds: committed before the start barrier, then again each time used up. */
  auxPages: number;
  /** Take a CPU profile of the packet loop (time parked in portWait included). */
  profile?: boolean;
}

export type BenchJob = PingPongJob | FaulterJob | PagerJob;

export interface PingPongResult {
  role: 'ping' | 'pong';
  samplesNs: Float64Array | null;
}

export interface FaulterResult {
  role: 'faulter';
  samplesNs: Float64Array;
  faults: number;
  startNs: bigint;
  stopNs: bigint;
  /** phases: clock readings around every fault, warm-up included (one faulter: the i-th READ). */
  beginNs: Float64Array | null;
  endNs: Float64Array | null;
  badContent: number;
  profile?: ProfileLine[];
  /** phases: Atomics.wait calls on kernel words, by `wordIndex:outcome`. */
  waits?: Record<string, number>;
}

export interface PagerResult {
  role: 'pager';
  reads: number;
  pages: number;
  polls: number;
  parks: number;
  /** phases: clock readings when each READ packet was in hand and when its supply returned. */
  dequeuedNs: Float64Array | null;
  suppliedNs: Float64Array | null;
  profile?: ProfileLine[];
  /** phases: Atomics.wait calls on kernel words, by `wordIndex:outcome`. */
  waits?: Record<string, number>;
}

export type BenchResult = PingPongResult | FaulterResult | PagerResult;

function startBarrier(ctl: Int32Array): void {
  parentPort!.postMessage({ type: 'ready' });
  while (Atomics.load(ctl, C_GO) === 0) Atomics.wait(ctl, C_GO, 0);
}

/** Waits until a[i] === want: the kernel's futexWait shape (poll `spin` times, then park). */
function waitFor(a: Int32Array, i: number, want: number, spin: number): void {
  for (;;) {
    const v = Atomics.load(a, i);
    if (v === want) return;
    let s = 0;
    while (s < spin && Atomics.load(a, i) === v) s++;
    if (s === spin) Atomics.wait(a, i, v);
  }
}

function runPingPong(job: PingPongJob): PingPongResult {
  const ctl = new Int32Array(job.ctl);
  const total = job.warmup + job.count;
  const spin = job.spin;
  startBarrier(ctl);
  if (job.role === 'pong') {
    for (let i = 0; i < total; i++) {
      waitFor(ctl, C_PING, 2 * i + 1, spin);
      Atomics.store(ctl, C_PING, 2 * i + 2);
      Atomics.notify(ctl, C_PING, 1);
    }
    return { role: 'pong', samplesNs: null };
  }
  const samples = new Float64Array(job.count);
  for (let i = 0; i < total; i++) {
    const t0 = process.hrtime.bigint();
    Atomics.store(ctl, C_PING, 2 * i + 1);
    Atomics.notify(ctl, C_PING, 1);
    waitFor(ctl, C_PING, 2 * i + 2, spin);
    const t1 = process.hrtime.bigint();
    if (i >= job.warmup) samples[i - job.warmup] = Number(t1 - t0);
  }
  return { role: 'ping', samplesNs: samples };
}

function runFaulter(job: FaulterJob): FaulterResult {
  const ctl = new Int32Array(job.ctl);
  const kernel = Kernel.attach(job.share);
  try {
    const sys = kernel.sys;
    const buf = new Uint8Array(8);
    const size = job.pagesPerVmo * PAGE_SIZE;
    let vmo = -1;
    let page = job.pagesPerVmo;
    const samples = new Float64Array(job.count);
    const begins = job.phases ? new Float64Array(job.warmup + job.count) : null;
    const ends = job.phases ? new Float64Array(job.warmup + job.count) : null;
    let kept = 0;
    let faults = 0;
    let bad = 0;
    let n = 0;
    const fault = (): number => {
      if (page === job.pagesPerVmo) {
        if (vmo >= 0) sys.handleClose(vmo);
        vmo = sys.pagerCreateVmo(job.pager, 0, job.port, BigInt(job.index), size);
        Atomics.store(ctl, C_TABLE + job.index, vmo);
        page = 0;
      }
      buf[0] = 0;
      const t0 = process.hrtime.bigint();
      sys.vmoRead(vmo, buf, page * PAGE_SIZE);
      const t1 = process.hrtime.bigint();
      if (buf[0] !== FILL) bad++;
      page++;
      if (begins && ends && n < begins.length) {
        begins[n] = Number(t0);
        ends[n++] = Number(t1);
      }
      return Number(t1 - t0);
    };
    startBarrier(ctl);
    for (let i = 0; i < job.warmup; i++) fault();
    const startNs = process.hrtime.bigint();
    const timed = (): void => {
      if (job.untilStop) {
        while (Atomics.load(ctl, C_STOP) === 0) {
          const ns = fault();
          faults++;
          if (kept < samples.length) samples[kept++] = ns;
        }
      } else {
        for (; kept < job.count; kept++, faults++) samples[kept] = fault();
      }
    };
    const profile = job.profile ? profileTop(timed, 10) : (timed(), undefined);
    const stopNs = process.hrtime.bigint();
    if (vmo >= 0) sys.handleClose(vmo);
    return {
      role: 'faulter',
      samplesNs: samples.subarray(0, kept),
      faults,
      startNs,
      stopNs,
      beginNs: begins ? begins.subarray(0, n) : null,
      endNs: ends ? ends.subarray(0, n) : null,
      badContent: bad,
      ...(profile ? { profile } : {}),
    };
  } finally {
    kernel.close();
  }
}

function runPager(job: PagerJob): PagerResult {
  const ctl = new Int32Array(job.ctl);
  const kernel = Kernel.attach(job.share);
  // In 'syscall' spin mode a poll that finds the port empty throws ZxError(ZX_ERR_TIMED_OUT); without
  // a stack to capture, a poll costs about 2 µs instead of 6-8 (this worker only).
  Error.stackTraceLimit = 0;
  const dequeued: number[] = [];
  const supplied: number[] = [];
  let reads = 0;
  let pages = 0;
  let polls = 0;
  let parks = 0;
  let profile: ProfileLine[] | undefined;
  try {
    const sys = kernel.sys;
    // The aux holds content for the next auxPages pages' worth of requests: it is re-committed in
    // bulk (one vmoWrite) when used up, so that a fault does not wait for a per-page write.
    let auxPages = Math.max(1, job.auxPages);
    let aux = sys.vmoCreate(auxPages * PAGE_SIZE, 0);
    let content = new Uint8Array(auxPages * PAGE_SIZE).fill(FILL);
    let cursor = auxPages; // next aux page with content; == auxPages when used up
    /** Aux page offset holding `pages` pages of content. */
    const take = (pages: number): number => {
      if (pages > auxPages) {
        sys.handleClose(aux);
        auxPages = pages;
        aux = sys.vmoCreate(pages * PAGE_SIZE, 0);
        content = new Uint8Array(pages * PAGE_SIZE).fill(FILL);
        cursor = auxPages;
      }
      if (cursor + pages > auxPages) {
        sys.vmoWrite(aux, content.subarray(0, cursor * PAGE_SIZE), 0); // the supplied part only
        cursor = 0;
      }
      const at = cursor;
      cursor += pages;
      return at;
    };
    sys.vmoWrite(aux, content, 0);
    cursor = 0;
    const spinNs = BigInt(Math.round(job.spinNs));
    // The port's queue-head word (-1 while empty), read-only: the peek spin never takes a lock.
    let head = -1;
    if (job.spinMode === 'peek' && job.spin > 0) {
      const obj = lookupHandle(kernel.state, job.port, ZX_OBJ_TYPE_PORT, 0);
      if (obj < 0) throw new Error(`pager: bad port handle (${obj})`);
      kernel.state.releaseNotLast(obj); // the port handle stays open for the whole run
      head = kernel.state.obj(obj) + PT_HEAD;
    }
    const w = kernel.state.w;
    const next = (): ReturnType<typeof sys.portWait> => {
      if (head >= 0) {
        let i = 0;
        while (i < job.spin && Atomics.load(w, head) < 0) i++;
        polls += i;
        if (i === job.spin) parks++;
        return sys.portWait(job.port, ZX_TIME_INFINITE); // returns at once when a packet is queued
      }
      if (job.spinMode === 'syscall' && spinNs > 0n) {
        const t0 = process.hrtime.bigint();
        do {
          polls++;
          try {
            return sys.portWait(job.port, 0n);
          } catch (e) {
            if (!(e instanceof ZxError) || e.status !== ZX_ERR_TIMED_OUT) throw e;
          }
        } while (process.hrtime.bigint() - t0 < spinNs);
      }
      parks++;
      return sys.portWait(job.port, ZX_TIME_INFINITE);
    };
    startBarrier(ctl);
    const serve = (): void => {
      for (;;) {
        const packet = next();
        if (packet.type === ZX_PKT_TYPE_USER) {
          if (packet.key === STOP_KEY) break;
          continue;
        }
        const req = packet.pageRequest!;
        if (req.command !== ZX_PAGER_VMO_READ) continue; // COMPLETE of a closed VMO
        if (job.phases) dequeued.push(Number(process.hrtime.bigint()));
        const vmo = Atomics.load(ctl, C_TABLE + Number(packet.key));
        const at = take(req.length / PAGE_SIZE);
        sys.pagerSupplyPages(job.pager, vmo, req.offset, req.length, aux, at * PAGE_SIZE);
        if (job.phases) supplied.push(Number(process.hrtime.bigint()));
        reads++;
        pages += req.length / PAGE_SIZE;
      }
    };
    if (job.profile) profile = profileTop(serve, 10);
    else serve();
    sys.handleClose(aux);
  } finally {
    kernel.close();
  }
  return {
    role: 'pager',
    reads,
    pages,
    polls,
    parks,
    dequeuedNs: job.phases ? Float64Array.from(dequeued) : null,
    suppliedNs: job.phases ? Float64Array.from(supplied) : null,
    ...(profile ? { profile } : {}),
  };
}

function run(job: BenchJob): BenchResult {
  switch (job.role) {
    case 'ping':
    case 'pong':
      return runPingPong(job);
    case 'faulter':
      return runFaulter(job);
    case 'pager':
      return runPager(job);
  }
}

/**
 * Counts this thread's Atomics.wait calls by the word's index and the outcome: with `phases`, shows
 * whether a fault parked once (on its request) or also on a contended kernel lock.
 */
function countWaits(): Map<string, number> {
  const counts = new Map<string, number>();
  const original = Atomics.wait;
  Atomics.wait = ((a: Int32Array, i: number, v: number, t?: number) => {
    const r = original(a, i, v, t);
    if (a.length > CTL_WORDS) {
      // Kernel words only (the control words are a few dozen): the start barrier is not counted.
      const key = `${i}:${r}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return r;
  }) as typeof Atomics.wait;
  return counts;
}

if (parentPort && workerData && (workerData as { benchJob?: BenchJob }).benchJob) {
  const job = (workerData as { benchJob: BenchJob }).benchJob;
  // Counted in diagnostic runs; in profiled runs the wrapper also names the parked time.
  const waits = ('phases' in job && job.phases) || ('profile' in job && job.profile) ? countWaits() : null;
  const result = run(job);
  if (waits && (result.role === 'faulter' || result.role === 'pager')) result.waits = Object.fromEntries(waits);
  const transfer: ArrayBuffer[] = [];
  for (const v of Object.values(result)) if (v instanceof Float64Array) transfer.push(v.buffer as ArrayBuffer);
  parentPort.postMessage({ type: 'result', result }, transfer);
}
