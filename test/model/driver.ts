// Kernel side of the differential test: runs an op sequence on a real pagersim kernel (public API
// only) in lockstep with the reference model (./model.ts), and reports the first step where the two
// disagree. Runs on the main thread; operations that may block (vmo read/write/op_range) run in
// ThreadPool threads, at most MAX_BLOCKED_THREADS blocked at a time.
//
// After each step the driver waits until every live thread has either returned or is parked on a
// page request. "Parked" is read from the kernel trace (a public API): the thread's last
// WaitBegin/Signal event is a WaitBegin and its state is ZX_THREAD_STATE_BLOCKED_PAGER. The thread
// state alone is not enough: a signalled thread still shows BLOCKED_PAGER until it runs again, and an
// early-woken reader goes back to BLOCKED_PAGER without a new packet. Once every thread is settled
// the port, the dirty ranges and the stats are determined, and are compared with the model's.
//
// A KernelEnv (kernel + thread pool) is reused for several sequences, each with its own pager,
// ports and VMOs; the test rebuilds it after a failure and re-checks the failing sequence on a fresh one.

import {
  Kernel,
  PAGE_SIZE,
  ThreadPool,
  TraceEvent,
  ZxError,
  ZX_INFO_VMO,
  ZX_OK,
  ZX_PAGER_OP_DIRTY,
  ZX_PAGER_OP_FAIL,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
  ZX_PKT_TYPE_PAGE_REQUEST,
  ZX_RIGHTS_BASIC,
  ZX_RIGHTS_PROPERTY,
  ZX_RIGHT_MAP,
  ZX_RIGHT_READ,
  ZX_RIGHT_WRITE,
  ZX_THREAD_STATE_BLOCKED_PAGER,
  ZX_VMO_DISCARDABLE,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_OP_DECOMMIT,
  ZX_VMO_OP_ZERO,
  ZX_VMO_RESIZABLE,
  ZX_VMO_TRAP_DIRTY,
  statusName,
} from '../../core/index.js';
import type { SimThread, Sys } from '../../core/index.js';
import { PAGE, PagerModel, supplyPageData, writeByte } from './model.js';
import type { Exclusion, Op, PacketView, PagerSel, StepExpect, ThreadResult, VmoSel, VmoView } from './model.js';
import { waitPacket } from '../../workers/pager_loop.js';

/** Simulated memory: far more than a sequence can touch, so nothing is ever evicted. */
const PHYSICAL_MEMORY = 8 * 2 ** 20; // no eviction: the model has none
const MAX_POOL_THREADS = 6;
const TRACE_EVENTS = 1 << 18;
/** How long a step may take to settle (a worker's first start can take a few hundred ms). */
const SETTLE_TIMEOUT_MS = 10_000;
const SEQUENCES_PER_ENV = 200;
const CLOSE_TIMEOUT_MS = 15_000;
const INVALID_HANDLE = 0;
/** PAGERSIM_MODEL_TRACE=1 logs every step to stderr. */
const TRACE_STEPS = !!process.env.PAGERSIM_MODEL_TRACE;

/** A kernel and a thread pool, shared by a few consecutive sequences. */
export class KernelEnv {
  readonly kernel: Kernel;
  readonly pool: ThreadPool;
  sequences = 0;
  /** Trace events already consumed. */
  traceSeen = 0;

  private constructor(kernel: Kernel, pool: ThreadPool) {
    this.kernel = kernel;
    this.pool = pool;
  }

  /** injectBugs: a core/bugs.ts mask, to check that this test notices a broken kernel. */
  static create(injectBugs = 0): KernelEnv {
    const kernel = Kernel.create({
      physicalMemory: PHYSICAL_MEMORY,
      // Small tables: checkInvariants walks every table after every step, so its cost is their size.
      maxHandles: 512,
      maxObjects: 256,
      maxThreads: 64,
      maxPortPackets: 512,
      maxZeroIntervals: 512,
      maxMappings: 64,
      maxPageListNodes: 1024,
      traceEvents: TRACE_EVENTS,
      traceTypes: [TraceEvent.WaitBegin, TraceEvent.Signal], // all that settling needs
      injectBugs,
    });
    return new KernelEnv(kernel, new ThreadPool(kernel, { maxThreads: MAX_POOL_THREADS }));
  }

  get worn(): boolean {
    return this.sequences >= SEQUENCES_PER_ENV;
  }

  /** Closes the pool (giving up after a while: a broken worker must not hang the test) and the kernel. */
  async close(): Promise<void> {
    if (TRACE_STEPS) process.stderr.write(`[env] closing after ${this.sequences} sequences, ${this.traceSeen} trace events\n`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.pool.close(), timeout]);
    } finally {
      clearTimeout(timer);
      this.kernel.close();
    }
  }
}

export interface Sequence {
  /** Drain the port after every step (otherwise only `drain` ops and the final step read it). */
  autoDrain: boolean;
  ops: Op[];
}

export interface StepRecord {
  op: Op;
  skipped?: string;
  /** A check the runner appended after the sequence (content read-back, final drain). */
  final?: boolean;
}

/** Counters of what a run exercised (printed by the test as coverage). */
export type Coverage = Record<string, number>;

export type RunResult =
  | { ok: true; steps: StepRecord[]; skipped: number; coverage: Coverage }
  | { ok: false; steps: StepRecord[]; failure: string };

/** Thrown when the kernel and the model disagree, or the kernel does not settle. */
class Divergence extends Error {}

interface Live {
  tid: number;
  thread: SimThread;
  slot: number; // kernel thread slot from the trace, -1 until its first wait
}

interface VmoHandles {
  h: number;
  ro: number;
  wo: number;
}

/** Runs `seq` on the model and on the kernel in lockstep; never throws for a divergence. */
export async function runLockstep(env: KernelEnv, seq: Sequence, exclude?: Exclusion): Promise<RunResult> {
  env.sequences++;
  const run = new Lockstep(env, exclude);
  const steps: StepRecord[] = [];
  try {
    run.setup();
    for (const abstract of seq.ops) {
      const op = run.model.concretize(abstract);
      const rec: StepRecord = { op };
      steps.push(rec);
      const skipped = await run.step(op, steps.length - 1);
      if (skipped) rec.skipped = skipped;
      else if (seq.autoDrain && op.kind !== 'drain') await run.step({ kind: 'drain', count: Number.MAX_SAFE_INTEGER }, steps.length - 1);
    }
    // Finally read back all content (these reads never wait) and drain the port.
    for (const op of [...run.model.contentReads(), { kind: 'drain', count: Number.MAX_SAFE_INTEGER } as const]) {
      const rec: StepRecord = { op, final: true };
      steps.push(rec);
      const skipped = await run.step(op, steps.length - 1, true);
      if (skipped) rec.skipped = skipped;
    }
    await run.teardown();
    for (const [k, n] of Object.entries(run.model.counters)) run.coverage[k] = (run.coverage[k] ?? 0) + n;
    return { ok: true, steps, skipped: steps.filter((s) => s.skipped).length, coverage: run.coverage };
  } catch (e) {
    if (e instanceof Divergence) return { ok: false, steps, failure: e.message };
    throw e;
  }
}

class Lockstep {
  readonly env: KernelEnv;
  readonly sys: Sys;
  readonly model: PagerModel;
  readonly live = new Map<number, Live>();
  readonly slots = new Map<number, number>(); // kernel slot -> model tid
  readonly lastEvent = new Map<number, 'wait' | 'signal'>(); // per kernel slot
  readonly coverage: Coverage = {};
  pager = 0;
  port = 0;
  pager2 = 0;
  port2 = 0;
  pager2Vmo = 0;
  plain = 0;
  plainRo = 0;
  vmos: VmoHandles[] = [];

  constructor(env: KernelEnv, exclude?: Exclusion) {
    this.env = env;
    this.sys = env.kernel.sys;
    this.model = new PagerModel(exclude);
  }

  setup(): void {
    const sys = this.sys;
    this.pager = sys.pagerCreate(0);
    this.port = sys.portCreate(0);
    this.pager2 = sys.pagerCreate(0);
    this.port2 = sys.portCreate(0);
    this.pager2Vmo = sys.pagerCreateVmo(this.pager2, 0, this.port2, 99n, 16 * PAGE);
    this.plain = sys.vmoCreate(16 * PAGE, 0);
    this.plainRo = sys.handleDuplicate(this.plain, ZX_RIGHTS_BASIC | ZX_RIGHT_READ);
    this.env.traceSeen = this.env.kernel.readTrace().events.length; // earlier sequences' events are not ours
  }

  /** Detaches every VMO (so no thread stays blocked), waits for the threads, closes every handle. */
  async teardown(): Promise<void> {
    const sys = this.sys;
    for (const v of this.vmos) sys.pagerDetachVmo(this.pager, v.h);
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    for (const l of this.live.values()) {
      while (!l.thread.finished) {
        if (performance.now() > deadline) throw new Divergence(`teardown: thread ${l.tid} still running after detaching every VMO`);
        await sleep(1);
      }
      await l.thread.join().catch(() => undefined);
    }
    this.live.clear();
    for (const v of this.vmos) for (const h of [v.h, v.ro, v.wo]) sys.handleClose(h);
    for (const h of [this.pager2Vmo, this.plainRo, this.plain, this.port2, this.pager2, this.port, this.pager]) sys.handleClose(h);
  }

  /** Runs one op on both sides and compares; returns the model's skip reason, if any. */
  async step(op: Op, index: number, force = false): Promise<string | undefined> {
    const gen = this.model.supplyGen;
    const vi = this.model.vmoCount > 0 && 'vmo' in op ? this.model.resolveVmo(op.vmo) : -1;
    const expect = this.model.step(op, force);
    if (TRACE_STEPS) process.stderr.write(`[model] ${index} ${describeOp(op)} -> ${expect.skipped ? `skipped: ${expect.skipped}` : json({ ...expect, finished: expect.finished.map((f) => f.tid) })}\n`);
    if (expect.skipped) return expect.skipped;
    const where = `step ${index} ${describeOp(op)}${vi >= 0 ? ` (VMO ${vi})` : ''}`;
    let got: { status?: number; value?: unknown; packets?: PacketView[] } = {};
    if (expect.spawned !== undefined) this.spawn(op, vi, expect.spawned);
    else got = this.mainThreadOp(op, vi, gen);
    await this.settle(where);
    const finished = await this.collectFinished();
    compareStep(where, expect, got, finished, this.liveTids());
    compareViews(where, this.model.views(), this.views());
    // Every thread is parked or finished now: the kernel's tables must be whole.
    const problems = this.env.kernel.checkInvariants();
    if (problems.length > 0) throw new Divergence(`${where}: kernel invariants broken:\n  ${problems.join('\n  ')}`);
    this.count(op, expect, got);
    return undefined;
  }

  count(op: Op, expect: StepExpect, got: { status?: number; packets?: PacketView[] }): void {
    const add = (k: string, n = 1): void => {
      this.coverage[k] = (this.coverage[k] ?? 0) + n;
    };
    add(`op ${op.kind}${got.status !== undefined && got.status !== ZX_OK ? ' (error)' : ''}`);
    if (expect.spawned !== undefined && expect.blocked.includes(expect.spawned)) add('thread blocked on start');
    for (const f of expect.finished) {
      if (f.tid !== expect.spawned) add(`woken thread returned ${f.result.status === ZX_OK ? 'OK' : statusName(f.result.status)}`);
    }
    if (expect.blocked.length >= 2) add('steps with 2+ blocked threads');
    for (const p of got.packets ?? []) add(`packet ${COMMANDS[p.command] ?? p.command}`);
  }

  // --- ops -----------------------------------------------------------------------------------

  vmoSel(sel: VmoSel, vi: number): number {
    const v = this.vmos[vi];
    switch (sel) {
      case 'ok':
        return v.h;
      case 'ro':
        return v.ro;
      case 'wo':
        return v.wo;
      case 'port':
        return this.port;
      case 'bad':
        return INVALID_HANDLE;
      case 'plain':
        return this.plain;
      case 'pager':
        return this.pager;
    }
  }

  pagerSel(sel: PagerSel, vi: number): number {
    switch (sel) {
      case 'ok':
        return this.pager;
      case 'other':
        return this.pager2;
      case 'port':
        return this.port;
      case 'bad':
        return INVALID_HANDLE;
      case 'vmo':
        return this.vmos[vi].h;
    }
  }

  spawn(op: Op, vi: number, tid: number): void {
    const pool = this.env.pool;
    let thread: SimThread;
    switch (op.kind) {
      case 'read':
        thread = pool.spawn('vmoRead', { vmo: this.vmoSel(op.handle, vi), offset: op.offset, length: op.length });
        break;
      case 'write': {
        const data = new Uint8Array(op.length);
        for (let i = 0; i < data.length; i++) data[i] = writeByte(op.fill, i);
        thread = pool.spawn('vmoWrite', { vmo: this.vmoSel(op.handle, vi), offset: op.offset, data });
        break;
      }
      case 'commit':
        thread = pool.spawn('vmoOpRange', { vmo: this.vmoSel(op.handle, vi), op: ZX_VMO_OP_COMMIT, offset: op.offset, size: op.length });
        break;
      case 'zero':
        thread = pool.spawn('vmoOpRange', { vmo: this.vmoSel(op.handle, vi), op: ZX_VMO_OP_ZERO, offset: op.offset, size: op.length });
        break;
      case 'vmoOp': {
        const code = op.op === 'decommit' ? ZX_VMO_OP_DECOMMIT : 99;
        thread = pool.spawn('vmoOpRange', { vmo: this.vmos[vi].h, op: code, offset: op.page * PAGE, size: op.pages * PAGE });
        break;
      }
      default:
        throw new Error(`not a thread op: ${op.kind}`);
    }
    this.live.set(tid, { tid, thread, slot: -1 });
  }

  mainThreadOp(op: Op, vi: number, gen: number): { status?: number; value?: unknown; packets?: PacketView[] } {
    const sys = this.sys;
    if (op.kind === 'drain') return { packets: this.drain(op.count) };
    try {
      const value = this.syscall(sys, op, vi, gen);
      return { status: ZX_OK, value };
    } catch (e) {
      if (e instanceof ZxError) return { status: e.status };
      throw e;
    }
  }

  syscall(sys: Sys, op: Op, vi: number, gen: number): unknown {
    switch (op.kind) {
      case 'create': {
        let options = (op.trap ? ZX_VMO_TRAP_DIRTY : 0) | (op.resizable ? ZX_VMO_RESIZABLE : 0);
        if (op.bad === 'options') options |= op.pages % 2 ? ZX_VMO_DISCARDABLE : 1 << 5;
        const pager = op.bad === 'pagerSlot' ? this.port : this.pager;
        const port = op.bad === 'portSlot' ? this.plain : this.port;
        const h = sys.pagerCreateVmo(pager, options, port, BigInt(this.vmos.length + 1), op.pages * PAGE);
        const ro = sys.handleDuplicate(h, ZX_RIGHTS_BASIC | ZX_RIGHT_READ | ZX_RIGHT_MAP | ZX_RIGHTS_PROPERTY);
        const wo = sys.handleDuplicate(h, ZX_RIGHTS_BASIC | ZX_RIGHT_WRITE);
        this.vmos.push({ h, ro, wo });
        return undefined;
      }
      case 'supply':
        return this.supply(sys, op, vi, gen);
      case 'fail':
      case 'dirty':
      case 'wbBegin':
      case 'wbEnd': {
        const code = { fail: ZX_PAGER_OP_FAIL, dirty: ZX_PAGER_OP_DIRTY, wbBegin: ZX_PAGER_OP_WRITEBACK_BEGIN, wbEnd: ZX_PAGER_OP_WRITEBACK_END }[op.kind];
        const data = op.kind === 'fail' ? op.code : op.data;
        const offset = op.page * PAGE + (op.misalign === 1 ? 512 : 0);
        const length = op.pages * PAGE + (op.misalign === 2 ? 512 : 0);
        sys.pagerOpRange(this.pagerSel(op.pager, vi), code, this.vmoSel(op.handle, vi), offset, length, data);
        return undefined;
      }
      case 'badOp':
        sys.pagerOpRange(this.pager, op.op, this.vmos[vi].h, 0, PAGE, 0);
        return undefined;
      case 'detach':
        sys.pagerDetachVmo(this.pagerSel(op.pager, vi), this.vmoSel(op.handle, vi));
        return undefined;
      case 'resize':
        sys.vmoSetSize(this.vmoSel(op.handle, vi), op.pages * PAGE);
        return undefined;
      case 'query':
        return sys.pagerQueryDirtyRanges(this.pagerSel(op.pager, vi), this.vmoSel(op.handle, vi), op.offset, op.length, op.max);
      case 'stats':
        return sys.pagerQueryVmoStats(this.pagerSel(op.pager, vi), this.vmoSel(op.handle, vi), op.options);
      default:
        throw new Error(`not a main-thread op: ${op.kind}`);
    }
  }

  supply(sys: Sys, op: Extract<Op, { kind: 'supply' }>, vi: number, gen: number): undefined {
    let aux: number;
    let close = false;
    switch (op.aux) {
      case 'ro':
        aux = this.plainRo;
        break;
      case 'pagerVmo':
        aux = this.pager2Vmo;
        break;
      case 'port':
        aux = this.port;
        break;
      default: {
        const pages = op.aux === 'small' ? Math.max(op.pages - 1, 0) : op.pages;
        aux = sys.vmoCreate(pages * PAGE, 0);
        close = true;
        const key = this.model.vmoKey(vi);
        for (let i = 0; i < pages; i++) if ((op.data >> i) & 1) sys.vmoWrite(aux, supplyPageData(key, op.page + i, gen), i * PAGE);
      }
    }
    try {
      const offset = op.page * PAGE + (op.misalign === 1 ? 512 : 0);
      const length = op.pages * PAGE + (op.misalign === 2 ? 512 : 0);
      sys.pagerSupplyPages(this.pagerSel(op.pager, vi), this.vmoSel(op.handle, vi), offset, length, aux, op.misalign === 3 ? 512 : 0);
    } finally {
      if (close) sys.handleClose(aux);
    }
    return undefined;
  }

  drain(count: number): PacketView[] {
    const out: PacketView[] = [];
    while (out.length < count) {
      const p = waitPacket(this.sys, this.port, 0n);
      if (p === null) break;
      if (p.type !== ZX_PKT_TYPE_PAGE_REQUEST || !p.pageRequest) throw new Divergence(`unexpected packet type ${p.type} on the port`);
      out.push({ key: Number(p.key), command: p.pageRequest.command, offset: p.pageRequest.offset, length: p.pageRequest.length });
    }
    return out;
  }

  // --- settling ------------------------------------------------------------------------------

  liveTids(): number[] {
    return [...this.live.keys()].sort((a, b) => a - b);
  }

  /** Folds new trace events into per-slot last events and learns the slots of new threads. */
  consumeTrace(): void {
    const { events, dropped } = this.env.kernel.readTrace();
    if (dropped > 0) throw new Error('kernel trace ring is full: rebuild the KernelEnv more often');
    for (let i = this.env.traceSeen; i < events.length; i++) {
      const e = events[i];
      let slot: number;
      let kind: 'wait' | 'signal';
      if (e.type === TraceEvent.WaitBegin) {
        slot = e.a[4];
        kind = 'wait';
      } else if (e.type === TraceEvent.Signal) {
        slot = e.a[3];
        kind = 'signal';
      } else {
        continue;
      }
      this.lastEvent.set(slot, kind);
      if (kind === 'wait' && !this.slots.has(slot)) {
        const unmapped = [...this.live.values()].filter((l) => l.slot < 0);
        if (unmapped.length !== 1) throw new Divergence(`trace: a wait by kernel thread slot ${slot} that no live thread owns`);
        unmapped[0].slot = slot;
        this.slots.set(slot, unmapped[0].tid);
      }
    }
    this.env.traceSeen = events.length;
  }

  /** Waits until every live thread has returned or is parked on a page request. */
  async settle(where: string): Promise<void> {
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const done = new Set([...this.live.values()].filter((l) => l.thread.finished).map((l) => l.tid));
      this.consumeTrace();
      const unsettled = [...this.live.values()].filter((l) => !done.has(l.tid) && !this.parked(l));
      if (unsettled.length === 0) return;
      if (performance.now() > deadline) {
        const who = unsettled.map((l) => `thread ${l.tid} (state 0x${this.env.kernel.threadState(l.thread.tid).toString(16)})`);
        throw new Divergence(`${where}: ${who.join(', ')} neither returned nor parked within ${SETTLE_TIMEOUT_MS} ms`);
      }
      await sleep(1);
    }
  }

  parked(l: Live): boolean {
    return l.slot >= 0 && this.lastEvent.get(l.slot) === 'wait' && this.env.kernel.threadState(l.thread.tid) === ZX_THREAD_STATE_BLOCKED_PAGER;
  }

  /** Results of the threads that returned since the last step (their slots are forgotten). */
  async collectFinished(): Promise<Map<number, ThreadResult>> {
    const out = new Map<number, ThreadResult>();
    for (const l of [...this.live.values()]) {
      if (!l.thread.finished) continue;
      try {
        const value = await l.thread.join();
        out.set(l.tid, value instanceof Uint8Array ? { status: ZX_OK, data: value } : { status: ZX_OK });
      } catch (e) {
        if (!(e instanceof ZxError)) throw new Divergence(`thread ${l.tid} died: ${String(e)}`);
        out.set(l.tid, { status: e.status });
      }
      this.live.delete(l.tid);
      if (l.slot >= 0) {
        this.slots.delete(l.slot);
        this.lastEvent.delete(l.slot);
      }
    }
    await sleep(0); // lets the pool drop the finished threads before the next spawn
    return out;
  }

  views(): VmoView[] {
    const sys = this.sys;
    return this.vmos.map((v) => {
      const size = sys.vmoGetSize(v.h);
      const q = sys.pagerQueryDirtyRanges(this.pager, v.h, 0, size, 64);
      return {
        size,
        committed: sys.objectGetInfo(v.h, ZX_INFO_VMO).committedBytes,
        modified: sys.pagerQueryVmoStats(this.pager, v.h, 0).modified,
        dirty: q.ranges.map((r) => ({ offset: r.offset, length: r.length, options: r.options })),
      };
    });
  }
}

// --- comparison ----------------------------------------------------------------------------------

function compareStep(
  where: string,
  expect: StepExpect,
  got: { status?: number; value?: unknown; packets?: PacketView[] },
  finished: Map<number, ThreadResult>,
  stillLive: number[],
): void {
  if (expect.status !== undefined && got.status !== expect.status) {
    throw new Divergence(`${where}: status ${statusName(got.status ?? 0)}, model says ${statusName(expect.status)}`);
  }
  if (expect.value !== undefined && !same(expect.value, got.value)) {
    throw new Divergence(`${where}: returned ${json(got.value)}, model says ${json(expect.value)}`);
  }
  if (expect.packets !== undefined && !same(expect.packets, got.packets)) {
    throw new Divergence(`${where}: port gave ${packets(got.packets ?? [])}, model says ${packets(expect.packets)}`);
  }
  const modelDone = new Map(expect.finished.map((f) => [f.tid, f.result]));
  for (const [tid, r] of modelDone) {
    const k = finished.get(tid);
    if (!k) throw new Divergence(`${where}: thread ${tid} is still blocked, model says it returned ${result(r)}`);
    if (k.status !== r.status) throw new Divergence(`${where}: thread ${tid} returned ${result(k)}, model says ${result(r)}`);
    if (r.data && k.data && !bytesSame(r.data, k.data)) throw new Divergence(`${where}: thread ${tid} read ${dataDiff(r.data, k.data)}`);
  }
  for (const [tid, k] of finished) {
    if (!modelDone.has(tid)) throw new Divergence(`${where}: thread ${tid} returned ${result(k)}, model says it is still blocked`);
  }
  const modelBlocked = expect.blocked.join(',');
  if (stillLive.join(',') !== modelBlocked) throw new Divergence(`${where}: blocked threads [${stillLive}], model says [${modelBlocked}]`);
}

function compareViews(where: string, model: VmoView[], kernel: VmoView[]): void {
  for (let i = 0; i < model.length; i++) {
    const m = model[i];
    const k = kernel[i];
    for (const f of ['size', 'modified', 'committed'] as const) {
      if (m[f] !== k[f]) throw new Divergence(`${where}: VMO ${i} ${f} is ${String(k[f])}, model says ${String(m[f])}`);
    }
    if (!same(m.dirty, k.dirty)) throw new Divergence(`${where}: VMO ${i} dirty ranges ${ranges(k.dirty)}, model says ${ranges(m.dirty)}`);
  }
}

function same(a: unknown, b: unknown): boolean {
  return json(a) === json(b);
}

function json(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

function bytesSame(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dataDiff(model: Uint8Array, kernel: Uint8Array): string {
  if (model.length !== kernel.length) return `${kernel.length} bytes, model says ${model.length}`;
  const i = model.findIndex((x, j) => x !== kernel[j]);
  const show = (b: Uint8Array): string => [...b.subarray(i, i + 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return `[${show(kernel)}] at byte ${i} (page +${Math.floor(i / PAGE_SIZE)}), model says [${show(model)}]`;
}

function result(r: ThreadResult): string {
  return r.status === ZX_OK ? (r.data ? `ZX_OK with ${r.data.length} bytes` : 'ZX_OK') : statusName(r.status);
}

const COMMANDS = ['READ', 'COMPLETE', 'DIRTY'];

function packets(ps: PacketView[]): string {
  if (ps.length === 0) return '(nothing)';
  return ps.map((p) => `${COMMANDS[p.command] ?? p.command}(vmo ${p.key - 1}, ${p.offset / PAGE}, ${p.length / PAGE})`).join(' ');
}

function ranges(rs: { offset: number; length: number; options: number }[]): string {
  return `[${rs.map((r) => `{${r.offset / PAGE},${r.length / PAGE}${r.options ? ',Z' : ''}}`).join(' ')}]`;
}

/** One op as a short line (pages unless marked). */
export function describeOp(op: Op): string {
  const sel = (o: { pager?: PagerSel; handle?: VmoSel; misalign?: number }): string => {
    const bits = [];
    if (o.pager && o.pager !== 'ok') bits.push(`pager=${o.pager}`);
    if (o.handle && o.handle !== 'ok') bits.push(`vmo=${o.handle}`);
    if (o.misalign) bits.push(['', 'offset+512', 'length+512', 'aux+512'][o.misalign]);
    return bits.length ? ` [${bits.join(' ')}]` : '';
  };
  switch (op.kind) {
    case 'create':
      return `create(${op.pages}${op.trap ? ' TRAP_DIRTY' : ''}${op.resizable ? ' RESIZABLE' : ''}${op.bad !== 'none' ? ` bad=${op.bad}` : ''})`;
    case 'read':
    case 'write':
    case 'commit':
    case 'zero':
      return `${op.kind}(vmo ${op.vmo}, byte ${op.offset}, ${op.length} bytes${op.kind === 'write' ? `, fill ${op.fill}` : ''})${sel(op)}`;
    case 'vmoOp':
      return `vmo_op_range(${op.op}, vmo ${op.vmo}, ${op.page}, ${op.pages})`;
    case 'supply':
      return `supply(vmo ${op.vmo}, ${op.page}, ${op.pages}, data mask ${op.data.toString(2)}${op.aux !== 'ok' ? `, aux=${op.aux}` : ''})${sel(op)}`;
    case 'fail':
      return `fail(vmo ${op.vmo}, ${op.page}, ${op.pages}, ${typeof op.code === 'bigint' ? `0x${op.code.toString(16)}` : statusName(op.code)})${sel(op)}`;
    case 'dirty':
    case 'wbBegin':
    case 'wbEnd':
      return `${op.kind}(vmo ${op.vmo}, ${op.page}, ${op.pages}${op.data ? `, data ${op.data}` : ''})${sel(op)}`;
    case 'badOp':
      return `pager_op_range(op ${op.op}, vmo ${op.vmo})`;
    case 'detach':
      return `detach(vmo ${op.vmo})${sel(op)}`;
    case 'resize':
      return `resize(vmo ${op.vmo}, ${op.pages})${sel(op)}`;
    case 'query':
      return `query_dirty_ranges(vmo ${op.vmo}, byte ${op.offset}, ${op.length} bytes, max ${op.max})${sel(op)}`;
    case 'stats':
      return `query_vmo_stats(vmo ${op.vmo}, options ${op.options})${sel(op)}`;
    case 'drain':
      return op.count === Number.MAX_SAFE_INTEGER ? 'drain(all)' : `drain(${op.count})`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
