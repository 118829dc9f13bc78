// The concurrent syscall fuzzer's main side (test/fuzz/syscall_fuzz.test.ts, `npm run explore:fuzz`).
// A plan is a list of rounds. In a round, several pool threads run random ops at once on pages that
// each owns for the round (so every page's last write is known), plus ill-typed calls on scratch
// objects; a pager worker (fixtures/fuzz_pager.ts) serves, fails and dirties-ahead meanwhile. Between
// rounds the main thread does one global op (writeback, resize, zero, memory squeeze, handle churn),
// parks the pager, checks kernel.checkInvariants(), then reads every page back and compares it with
// what it must hold. A failure is a list of violations; the test prints the replay command.
// Runs on the main thread; blocking syscalls here are served by the pager worker.

import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import {
  Kernel,
  PAGE_SIZE,
  ThreadPool,
  ZxError,
  ZX_RIGHT_SAME_RIGHTS,
  ZX_VMO_DIRTY_RANGE_IS_ZERO,
  ZX_VMO_OP_ALWAYS_NEED,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_OP_DECOMMIT,
  ZX_VMO_OP_DONT_NEED,
  ZX_VMO_OP_PREFETCH,
  ZX_VMO_OP_ZERO,
  ZX_VMO_RESIZABLE,
  ZX_VMO_TRAP_DIRTY,
  ZX_ERR_BAD_HANDLE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_IO,
  ZX_ERR_NO_MEMORY,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
} from '../../core/index.js';
import type { Process, SimThread, Sys } from '../../core/index.js';
import {
  BACKING,
  C_DIRTY_ACKED,
  C_DIRTY_AHEAD,
  C_FAIL_PERMILLE,
  C_FAILED,
  C_PAGER_ERRORS,
  C_PAUSE,
  C_PAUSED,
  C_READS,
  C_RNG,
  C_STOP,
  EXPECT,
  MAX_PAGES,
  VMO_COUNT,
  WORLD_WORDS,
  pageIndex,
} from '../fixtures/fuzz_protocol.js';
import type { FuzzHandles, FuzzOp, FuzzThreadArgs, FuzzThreadResult, HandleToken } from '../fixtures/fuzz_protocol.js';
import type { FuzzPagerConfig } from '../fixtures/fuzz_pager.js';
import { seededRandom } from './random.js';
import { futexWait, futexWake } from '../../shared/futex.js';

export const FUZZ_THREADS = 3;
const INITIAL_PAGES = 16;
/** Frames: fewer than the VMOs' pages, so reclaim runs all the time; the balloon squeezes further. */
const FRAMES = 40;
const ROUND_DEADLINE_MS = 20_000;
const PAUSE_DEADLINE_MS = 5_000;
const VERIFY_RETRIES = 5;
/** VMO 0: TRAP_DIRTY and resizable; VMO 1: plain; VMO 2: resizable. */
const VMO_OPTIONS = [ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE, 0, ZX_VMO_RESIZABLE];

const THREAD_OP = { module: new URL('../fixtures/fuzz_thread.js', import.meta.url).href, export: 'fuzzThread' };
const PAGER_URL = new URL('../fixtures/fuzz_pager.js', import.meta.url);

// ---- Plans ----

/** A thread op before the round assigns pages: `pick` chooses among the pages the thread owns. */
export type AbstractOp =
  | { k: 'write' | 'read' | 'zero' | 'mapWrite' | 'mapRead'; pick: number }
  | { k: 'readAny'; v: number; off: number; len: number }
  | { k: 'hint'; v: number; op: number; off: number; len: number }
  | { k: 'stale'; v: number }
  | { k: 'garbage'; call: string; args: unknown[] };

export type MainOp =
  | { k: 'none' }
  | { k: 'writeback' }
  | { k: 'resize'; v: number; pages: number }
  | { k: 'zero'; v: number; from: number; n: number }
  | { k: 'squeeze'; pages: number }
  | { k: 'unsqueeze' }
  | { k: 'dontNeed'; v: number }
  | { k: 'churn'; cycles: number };

export interface Round {
  ownerSeed: number;
  failPermille: number;
  threads: AbstractOp[][];
  main: MainOp;
  /** zx_task_kill of one of the round's threads, a few ms in (it stops at a syscall boundary). */
  kill: { thread: number; afterMs: number } | null;
}

export interface FuzzPlan {
  seed: number;
  rounds: Round[];
  /** The pager's process is killed this many ms into the last round (its handles close), or never. */
  pagerDeathAfterMs: number | null;
}

/** Values no syscall argument position accepts as valid input of its type. */
const INVALID_VALUES: unknown[] = [NaN, 2.5, -1, undefined, null, '4', {}, [], true, Infinity, -0.5, 2 ** 53 + 2, 2n ** 64n, 1n << 70n];
const PLAIN_VALUES: unknown[] = [0, 1, PAGE_SIZE, 16 * PAGE_SIZE, 2 ** 31];
const TOKENS: HandleToken[] = ['scratchVmo', 'scratchPagerVmo', 'scratchPort', 'scratchPager', 'stale'].map((h) => ({ $h: h }) as HandleToken);

/**
 * Every syscall but portWait (a valid deadline could wait forever) with its argument kinds: h any handle,
 * v a VMO, P a pager, o a port, n an option or op, N an offset or size, d optional data (undefined is
 * valid there), b a buffer, k a packet key, p a port packet.
 */
const GARBAGE_CALLS: [string, string][] = [
  ['pagerCreate', 'n'],
  ['pagerCreateVmo', 'PnokN'],
  ['pagerDetachVmo', 'Pv'],
  ['pagerSupplyPages', 'PvNNvN'],
  ['pagerOpRange', 'PnvNNd'],
  ['pagerQueryDirtyRanges', 'PvNNn'],
  ['pagerQueryVmoStats', 'Pvn'],
  ['portCreate', 'n'],
  ['portQueue', 'op'],
  ['vmoCreate', 'Nn'],
  ['vmoRead', 'vbN'],
  ['vmoWrite', 'vbN'],
  ['vmoGetSize', 'v'],
  ['vmoSetSize', 'vN'],
  ['vmoOpRange', 'vnNN'],
  ['vmarMap', 'nNvN'],
  ['vmarUnmap', 'NN'],
  ['memRead', 'Nb'],
  ['memWrite', 'Nb'],
  ['handleClose', 'h'],
  ['handleDuplicate', 'hn'],
  ['handleReplace', 'hn'],
  ['objectGetInfo', 'hn'],
];

/** A well-typed value for each argument kind, so the one bad argument is what the call must reject. */
const wellTypedArb: Record<string, fc.Arbitrary<unknown>> = {
  h: fc.constantFrom(...TOKENS),
  v: fc.constantFrom<HandleToken>({ $h: 'scratchVmo' }, { $h: 'scratchPagerVmo' }),
  P: fc.constant<HandleToken>({ $h: 'scratchPager' }),
  o: fc.constant<HandleToken>({ $h: 'scratchPort' }),
  n: fc.constantFrom(0, 1, 2, 3, 10, 12),
  N: fc.constantFrom(...PLAIN_VALUES),
  d: fc.constantFrom(0, 1, -5),
  b: fc.constant('buffer'),
  k: fc.constantFrom(0n, 7n, 1),
  p: fc.constantFrom({ key: 1n }, { key: 2n, status: 0 }, { key: 3n, user: 'buffer' }),
};

const garbageArb: fc.Arbitrary<AbstractOp> = fc
  .constantFrom(...GARBAGE_CALLS)
  .chain(([call, kinds]) =>
    fc
      .tuple(fc.tuple(...[...kinds].map((kind) => wellTypedArb[kind])), fc.nat({ max: kinds.length - 1 }), fc.constantFrom(...INVALID_VALUES))
      .map(([args, at, bad]) => {
        const out = [...args];
        out[at] = bad === undefined && kinds[at] === 'd' ? null : bad; // exactly one argument is ill-typed or out of range
        return { k: 'garbage' as const, call, args: out };
      }),
  );

const pageOpArb: fc.Arbitrary<AbstractOp> = fc.record({ k: fc.constantFrom('write', 'write', 'read', 'read', 'zero', 'mapWrite', 'mapRead'), pick: fc.nat() }) as fc.Arbitrary<AbstractOp>;

const threadOpArb: fc.Arbitrary<AbstractOp> = fc.oneof(
  { weight: 8, arbitrary: pageOpArb },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('readAny' as const), v: fc.nat({ max: VMO_COUNT - 1 }), off: fc.nat({ max: MAX_PAGES * PAGE_SIZE }), len: fc.nat({ max: 3 * PAGE_SIZE }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('hint' as const),
      v: fc.nat({ max: VMO_COUNT - 1 }),
      op: fc.constantFrom(ZX_VMO_OP_COMMIT, ZX_VMO_OP_DONT_NEED, ZX_VMO_OP_ALWAYS_NEED, ZX_VMO_OP_PREFETCH),
      off: fc.nat({ max: INITIAL_PAGES }).map((p) => p * PAGE_SIZE),
      len: fc.nat({ max: 4 }).map((p) => p * PAGE_SIZE),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('stale' as const), v: fc.nat({ max: VMO_COUNT - 1 }) }) },
  { weight: 2, arbitrary: garbageArb },
);

const mainOpArb: fc.Arbitrary<MainOp> = fc.oneof(
  fc.constant({ k: 'none' as const }),
  fc.constant({ k: 'writeback' as const }),
  fc.constant({ k: 'writeback' as const }),
  fc.record({ k: fc.constant('resize' as const), v: fc.constantFrom(0, 2), pages: fc.nat({ max: MAX_PAGES }) }),
  fc.record({ k: fc.constant('zero' as const), v: fc.nat({ max: VMO_COUNT - 1 }), from: fc.nat({ max: INITIAL_PAGES - 1 }), n: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ k: fc.constant('squeeze' as const), pages: fc.integer({ min: 8, max: FRAMES - 2 }) }),
  fc.constant({ k: 'unsqueeze' as const }),
  fc.record({ k: fc.constant('dontNeed' as const), v: fc.nat({ max: VMO_COUNT - 1 }) }),
  fc.record({ k: fc.constant('churn' as const), cycles: fc.integer({ min: 100, max: 300 }) }),
);

/** Plans of at most `maxRounds` rounds; ops whose kind is in `exclude` are left out (to look past a known bug). */
export function fuzzPlanArb(maxRounds: number, exclude: ReadonlySet<string> = new Set()): fc.Arbitrary<FuzzPlan> {
  const round = fc.record({
    ownerSeed: fc.nat(),
    failPermille: fc.constantFrom(0, 0, 50, 200),
    threads: fc.array(fc.array(threadOpArb.filter((op) => !exclude.has(op.k)), { minLength: 1, maxLength: 12 }), { minLength: FUZZ_THREADS, maxLength: FUZZ_THREADS }),
    main: mainOpArb.map((op) => (exclude.has(op.k) ? { k: 'none' as const } : op)),
    kill: exclude.has('kill') ? fc.constant(null) : fc.option(fc.record({ thread: fc.nat({ max: FUZZ_THREADS - 1 }), afterMs: fc.nat({ max: 20 }) }), { freq: 4 }),
  });
  return fc.record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    rounds: fc.array(round, { minLength: 1, maxLength: maxRounds }),
    pagerDeathAfterMs: exclude.has('pagerDeath') ? fc.constant(null) : fc.option(fc.nat({ max: 30 }), { freq: 5 }),
  });
}

// ---- Running a plan ----

export interface FuzzOutcome {
  violations: string[];
  stats: { rounds: number; ops: number; reads: number; dirtyAcked: number; dirtyAhead: number; failed: number; noMemory: number; killed: number; pagerDeaths: number };
}

class FuzzRun {
  readonly kernel: Kernel;
  readonly sys: Sys;
  readonly worldBuf = new SharedArrayBuffer(WORLD_WORDS * 4);
  readonly world = new Int32Array(this.worldBuf);
  readonly handles: FuzzHandles;
  readonly port: number;
  readonly balloon: number;
  readonly sizes: number[] = [];
  readonly violations: string[] = [];
  readonly pool: ThreadPool;
  readonly pagerWorker: Worker;
  readonly pagerProcess: Process;
  pagerExited = false;
  pagerDead = false;
  /** Pages a killed thread may or may not have written: the values they may hold. */
  readonly uncertain = new Map<number, Set<number>>();
  ops = 0;
  noMemory = 0;
  killed = 0;

  constructor(seed: number) {
    this.kernel = Kernel.create({ physicalMemory: FRAMES * PAGE_SIZE, maxThreads: 64 });
    const sys = (this.sys = this.kernel.sys);
    this.world[C_RNG] = seed | 1;
    const pager = sys.pagerCreate(0);
    this.port = sys.portCreate(0);
    const vmos = VMO_OPTIONS.map((options, key) => sys.pagerCreateVmo(pager, options, this.port, BigInt(key), INITIAL_PAGES * PAGE_SIZE));
    const random = seededRandom(seed);
    for (let v = 0; v < VMO_COUNT; v++) {
      this.sizes.push(INITIAL_PAGES);
      for (let p = 0; p < MAX_PAGES; p++) {
        // A quarter of the pages start as zeros (the pager supplies them as zero markers).
        const stamp = random() < 0.25 ? 0 : ((v + 1) << 24) | (p + 1);
        this.world[BACKING + pageIndex(v, p)] = stamp;
        this.world[EXPECT + pageIndex(v, p)] = p < INITIAL_PAGES ? stamp : 0;
      }
    }
    const scratchPager = sys.pagerCreate(0);
    const scratchPort = sys.portCreate(0);
    const scratchPagerVmo = sys.pagerCreateVmo(scratchPager, 0, scratchPort, 0n, 4 * PAGE_SIZE);
    sys.pagerDetachVmo(scratchPager, scratchPagerVmo); // never served: every access fails at once
    this.handles = { pager, vmos, scratchVmo: sys.vmoCreate(4 * PAGE_SIZE, 0), scratchPagerVmo, scratchPort, scratchPager };
    this.balloon = sys.vmoCreate(FRAMES * PAGE_SIZE, 0);
    // The pager runs in a process of its own that owns the pager handle: killing it closes the handle.
    this.pagerProcess = this.kernel.processCreate();
    this.pagerProcess.transferHandle(pager);
    const config: FuzzPagerConfig = { share: this.kernel.shareable(), process: this.pagerProcess.token, world: this.worldBuf, pager, port: this.port, vmos, pageSize: PAGE_SIZE };
    this.pagerWorker = new Worker(PAGER_URL, { workerData: { fuzzPager: config }, execArgv: [] });
    this.kernel.watchWorker(this.pagerWorker);
    this.pagerWorker.on('error', (e) => this.violations.push(`the pager worker crashed: ${String(e)}`));
    this.pagerWorker.on('exit', () => (this.pagerExited = true));
    this.pool = new ThreadPool(this.kernel, { maxThreads: FUZZ_THREADS });
  }

  /** Concrete ops for thread t: page picks become pages it owns; writes get unique stamps. */
  concretize(ops: AbstractOp[], owned: [number, number][], round: number, t: number): FuzzOp[] {
    const out: FuzzOp[] = [];
    ops.forEach((op, i) => {
      if ('pick' in op) {
        if (owned.length === 0) return;
        const [v, p] = owned[op.pick % owned.length];
        if (op.k === 'write' || op.k === 'mapWrite') out.push({ k: op.k, v, p, stamp: ((round + 1) << 12) | (t << 8) | (i + 1) | 0x4000_0000 });
        else out.push({ k: op.k, v, p });
      } else out.push(op);
    });
    return out;
  }

  async runRound(round: Round, index: number, pagerDeathAfterMs: number | null): Promise<void> {
    Atomics.store(this.world, C_FAIL_PERMILLE, round.failPermille);
    const random = seededRandom(round.ownerSeed);
    const owned: [number, number][][] = Array.from({ length: FUZZ_THREADS }, () => []);
    for (let v = 0; v < VMO_COUNT; v++) for (let p = 0; p < this.sizes[v]; p++) owned[Math.floor(random() * FUZZ_THREADS)].push([v, p]);
    const threads: SimThread[] = [];
    const opLists: FuzzOp[][] = [];
    for (let t = 0; t < FUZZ_THREADS; t++) {
      const ops = this.concretize(round.threads[t] ?? [], owned[t], index, t);
      opLists.push(ops);
      this.ops += ops.length;
      const args: FuzzThreadArgs = { world: this.worldBuf, handles: this.handles, ops, pageSize: PAGE_SIZE, pagerMayDie: pagerDeathAfterMs !== null };
      threads.push(this.pool.spawn(THREAD_OP, args));
    }
    const timers: NodeJS.Timeout[] = [];
    if (round.kill) {
      const victim = threads[round.kill.thread];
      timers.push(setTimeout(() => victim?.kill(), round.kill.afterMs));
    }
    if (pagerDeathAfterMs !== null) {
      timers.push(
        setTimeout(() => {
          this.pagerDead = true;
          this.pagerProcess.kill();
        }, pagerDeathAfterMs),
      );
    }
    const deadline = Date.now() + ROUND_DEADLINE_MS;
    for (const [t, thread] of threads.entries()) {
      while (!thread.finished && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      if (!thread.finished) {
        const req = this.kernel.debugThreadRequest(thread.tid);
        this.violations.push(`round ${index}: thread ${t} (tid ${thread.tid}) hung for ${ROUND_DEADLINE_MS} ms in ${JSON.stringify(opLists[t])}; state 0x${this.kernel.threadState(thread.tid).toString(16)}, request ${JSON.stringify(req)}`);
        continue;
      }
      try {
        const result = (await thread.join()) as FuzzThreadResult;
        for (const v of result.violations) this.violations.push(`round ${index} thread ${t}: ${v}`);
        this.noMemory += result.statuses.filter((s) => s === ZX_ERR_NO_MEMORY).length;
      } catch (e) {
        if (e instanceof Error && e.name === 'ThreadKilled' && round.kill?.thread === t) {
          this.killed++;
          this.noteKilled(opLists[t]);
        }
        else this.violations.push(`round ${index} thread ${t} died: ${String(e)}`);
      }
    }
    for (const timer of timers) clearTimeout(timer);
  }

  /**
   * What page `at` must hold, given that it was found holding `found`: a page a killed thread may have
   * written takes whichever of its possible values it holds, once; otherwise its last known value.
   */
  expected(at: number, found: number): number {
    const maybe = this.uncertain.get(at);
    if (maybe) {
      if (maybe.has(found)) this.world[EXPECT + at] = found; // what the killed thread left
      this.uncertain.delete(at);
    }
    return this.world[EXPECT + at];
  }

  /** A killed thread stopped somewhere in its ops: each page it wrote or zeroed may hold either value. */
  noteKilled(ops: FuzzOp[]): void {
    for (const op of ops) {
      if (op.k !== 'write' && op.k !== 'mapWrite' && op.k !== 'zero') continue;
      const at = pageIndex(op.v, op.p);
      const values = this.uncertain.get(at) ?? new Set([this.world[EXPECT + at]]);
      values.add(op.k === 'zero' ? 0 : op.stamp);
      this.uncertain.set(at, values);
    }
  }

  /** Runs `fn`; a ZxError with one of `allowed` statuses is an outcome, anything else a violation. */
  tolerate(what: string, allowed: number[], fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      if (!(e instanceof ZxError) || !allowed.includes(e.status)) this.violations.push(`${what}: ${String(e)}`);
      return false;
    }
  }

  runMainOp(op: MainOp): void {
    const { sys, handles } = this;
    switch (op.k) {
      case 'writeback':
        for (let v = 0; v < VMO_COUNT; v++) this.writeback(v);
        return;
      case 'resize': {
        const old = this.sizes[op.v];
        if (this.tolerate(`resize VMO ${op.v} to ${op.pages} pages`, [ZX_ERR_NO_MEMORY, ZX_ERR_IO], () => sys.vmoSetSize(handles.vmos[op.v], op.pages * PAGE_SIZE))) {
          for (let p = Math.min(old, op.pages); p < MAX_PAGES; p++) this.world[EXPECT + pageIndex(op.v, p)] = 0;
          this.sizes[op.v] = op.pages;
        }
        return;
      }
      case 'zero': {
        const end = Math.min(op.from + op.n, this.sizes[op.v]);
        if (end <= op.from) return;
        if (this.tolerate(`OP_ZERO VMO ${op.v} [${op.from}, ${end})`, [ZX_ERR_NO_MEMORY, ZX_ERR_IO], () => sys.vmoOpRange(handles.vmos[op.v], ZX_VMO_OP_ZERO, op.from * PAGE_SIZE, (end - op.from) * PAGE_SIZE))) {
          for (let p = op.from; p < end; p++) this.world[EXPECT + pageIndex(op.v, p)] = 0;
        }
        return;
      }
      case 'squeeze':
        this.tolerate('squeeze', [ZX_ERR_NO_MEMORY], () => sys.vmoOpRange(this.balloon, ZX_VMO_OP_COMMIT, 0, op.pages * PAGE_SIZE));
        return;
      case 'unsqueeze':
        sys.vmoOpRange(this.balloon, ZX_VMO_OP_DECOMMIT, 0, FRAMES * PAGE_SIZE);
        return;
      case 'dontNeed':
        sys.vmoOpRange(handles.vmos[op.v], ZX_VMO_OP_DONT_NEED, 0, this.sizes[op.v] * PAGE_SIZE);
        return;
      case 'churn': {
        // A closed handle value must stay dead however many handles come and go after it.
        const closed: number[] = [];
        for (let i = 0; i < op.cycles; i++) {
          const h = sys.handleDuplicate(handles.scratchVmo, ZX_RIGHT_SAME_RIGHTS);
          sys.handleClose(h);
          closed.push(h);
        }
        const live = sys.handleDuplicate(handles.scratchVmo, ZX_RIGHT_SAME_RIGHTS);
        for (const h of closed) {
          let status = 0;
          try {
            sys.vmoGetSize(h);
          } catch (e) {
            status = e instanceof ZxError ? e.status : 1;
          }
          if (status !== ZX_ERR_BAD_HANDLE) {
            this.violations.push(`handle churn: the closed value 0x${h.toString(16)} works again after ${op.cycles} cycles (status ${status}; live handle 0x${live.toString(16)})`);
            break;
          }
        }
        sys.handleClose(live);
        return;
      }
      case 'none':
        return;
    }
  }

  /** query → BEGIN → copy to the backing store (each page must be whole and current) → END. */
  writeback(v: number): void {
    const { sys, handles } = this;
    const vmo = handles.vmos[v];
    const size = this.sizes[v];
    if (size === 0) return;
    const { ranges } = sys.pagerQueryDirtyRanges(handles.pager, vmo, 0, size * PAGE_SIZE, 64);
    for (const r of ranges) {
      const zero = (r.options & ZX_VMO_DIRTY_RANGE_IS_ZERO) !== 0;
      sys.pagerOpRange(handles.pager, ZX_PAGER_OP_WRITEBACK_BEGIN, vmo, r.offset, r.length, zero ? ZX_VMO_DIRTY_RANGE_IS_ZERO : 0);
      const buf = new Uint8Array(r.length);
      if (!this.tolerate(`writeback read of VMO ${v} [${r.offset}, +${r.length})`, [], () => sys.vmoRead(vmo, buf, r.offset))) continue;
      const words = new Int32Array(buf.buffer);
      for (let i = 0; i < r.length / PAGE_SIZE; i++) {
        const p = r.offset / PAGE_SIZE + i;
        const stamp = words[i * (PAGE_SIZE / 4)];
        const want = this.expected(pageIndex(v, p), stamp);
        if (stamp !== want) this.violations.push(`writeback of VMO ${v} page ${p} found stamp ${stamp}, expected ${want}`);
        for (let j = 0; j < PAGE_SIZE / 4; j++) {
          if (words[i * (PAGE_SIZE / 4) + j] !== stamp) {
            this.violations.push(`writeback of VMO ${v} page ${p}: torn page (word ${j})`);
            break;
          }
        }
        this.world[BACKING + pageIndex(v, p)] = stamp;
      }
      sys.pagerOpRange(handles.pager, ZX_PAGER_OP_WRITEBACK_END, vmo, r.offset, r.length);
    }
  }

  /** Parks the pager outside the kernel; false if it did not park in time. */
  pausePager(): boolean {
    Atomics.store(this.world, C_PAUSE, 1);
    const deadline = Date.now() + PAUSE_DEADLINE_MS;
    while (Atomics.load(this.world, C_PAUSED) !== 1) {
      if (Date.now() > deadline || this.pagerExited) return false;
      futexWait(this.world, C_PAUSED, 0, 50);
    }
    return true;
  }

  resumePager(): void {
    Atomics.store(this.world, C_PAUSE, 0);
    futexWake(this.world, C_PAUSE);
  }

  async checkQuiescent(where: string): Promise<void> {
    if (this.pagerDead) {
      // The killed pager must end (its wait is interrupted); its process's handles are closed by then.
      const deadline = Date.now() + PAUSE_DEADLINE_MS;
      while (!this.pagerExited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      if (!this.pagerExited) this.violations.push(`${where}: the killed pager did not end within ${PAUSE_DEADLINE_MS} ms`);
      else if (!this.pagerProcess.exited) this.violations.push(`${where}: the pager's worker ended but its process did not exit`);
      else for (const p of this.kernel.checkInvariants()) this.violations.push(`${where}: invariant: ${p}`);
      return;
    }
    if (!this.pausePager()) {
      this.violations.push(`${where}: the pager did not park within ${PAUSE_DEADLINE_MS} ms`);
      return;
    }
    try {
      for (const p of this.kernel.checkInvariants()) this.violations.push(`${where}: invariant: ${p}`);
    } finally {
      this.resumePager();
    }
  }

  /** Reads every page of every VMO from the main thread (no failures injected) and compares. */
  verifyContent(where: string): void {
    Atomics.store(this.world, C_FAIL_PERMILLE, 0);
    const page = new Uint8Array(PAGE_SIZE);
    const words = new Int32Array(page.buffer);
    for (let v = 0; v < VMO_COUNT; v++) {
      for (let p = 0; p < this.sizes[v]; p++) {
        let ok = false;
        for (let attempt = 0; attempt < VERIFY_RETRIES && !ok; attempt++) {
          let deadPagerRefused = false;
          ok = this.tolerate(`${where}: read of VMO ${v} page ${p}`, attempt < VERIFY_RETRIES - 1 ? [ZX_ERR_IO] : [], () => {
            try {
              this.sys.vmoRead(this.handles.vmos[v], page, p * PAGE_SIZE);
            } catch (e) {
              // With its pager dead, a page that is not present can only fail.
              if (this.pagerDead && e instanceof ZxError && e.status === ZX_ERR_BAD_STATE) deadPagerRefused = true;
              else throw e;
            }
          });
          if (deadPagerRefused) {
            ok = false;
            break;
          }
          // The pager fails a supply it has no memory for: free what can be freed and try again.
          if (!ok && attempt === 0) this.runMainOp({ k: 'unsqueeze' });
          if (!ok && attempt === 1 && !this.pagerDead) this.runMainOp({ k: 'writeback' });
        }
        if (!ok) continue;
        const want = this.expected(pageIndex(v, p), words[0]);
        const bad = words.findIndex((x) => x !== want);
        if (bad >= 0) this.violations.push(`${where}: VMO ${v} page ${p} word ${bad} reads ${words[bad]}, its last write or supply was stamp ${want}`);
      }
    }
  }

  async close(): Promise<void> {
    Atomics.store(this.world, C_STOP, 1);
    this.resumePager();
    const exited = new Promise<void>((resolve) => (this.pagerExited ? resolve() : this.pagerWorker.once('exit', () => resolve())));
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), PAUSE_DEADLINE_MS).unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      this.violations.push('the pager worker did not stop');
      await this.pagerWorker.terminate();
    }
    if (Atomics.load(this.world, C_PAGER_ERRORS) > 0) this.violations.push(`the pager saw ${this.world[C_PAGER_ERRORS]} non-Zircon errors`);
    await Promise.race([this.pool.close(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    this.kernel.close();
  }
}

/** Runs a plan on a fresh kernel; never throws for a kernel bug (they are violations). */
export async function runFuzzPlan(plan: FuzzPlan): Promise<FuzzOutcome> {
  const run = new FuzzRun(plan.seed);
  let rounds = 0;
  try {
    // The pager must have joined its process before anything may kill it.
    const deadline = Date.now() + ROUND_DEADLINE_MS;
    while (!run.pagerProcess.started && !run.pagerExited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    if (!run.pagerProcess.started) run.violations.push('the pager worker never started');
    for (const [i, round] of plan.rounds.entries()) {
      rounds++;
      const last = i === plan.rounds.length - 1;
      const death = last ? plan.pagerDeathAfterMs : null;
      await run.runRound(round, i, death);
      if (run.violations.length > 0) break; // a hung thread leaves nothing to check
      const where = `after round ${i} (${death !== null ? 'pager killed' : round.main.k})`;
      if (death === null) run.runMainOp(round.main);
      await run.checkQuiescent(where);
      run.verifyContent(where);
      if (run.violations.length > 0) break;
    }
  } finally {
    await run.close();
  }
  const w = run.world;
  return {
    violations: run.violations,
    stats: { rounds, ops: run.ops, reads: w[C_READS], dirtyAcked: w[C_DIRTY_ACKED], dirtyAhead: w[C_DIRTY_AHEAD], failed: w[C_FAILED], noMemory: run.noMemory, killed: run.killed, pagerDeaths: run.pagerDead ? 1 : 0 },
  };
}

