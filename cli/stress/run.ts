// The stress run: one kernel, one pager with its port, `vmos` pager VMOs; faulting threads in a
// ThreadPool; a pager service and a writeback worker, each in its own Worker. The main thread
// starts them, shows progress, fires the optional mid-run events, watches for hangs (a thread blocked
// past hangTimeout while the pager is idle), then stops everything, flushes a final writeback and
// runs the checker (checker.ts) over the histories, the backing store and the kernel trace.
// runStress is those phases in order: setUpRun, watchRun, stopRun, checkRun, buildResult. Everything
// here runs on the main thread; what it shares with the workers is the kernel and the control block
// (stress_protocol.ts), read and written with Atomics, waits and wakes through shared/futex.ts.

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import {
  Kernel,
  PAGE_SIZE,
  ThreadPool,
  PAGER_FAIL_CODE_NAMES,
  PAGER_FAIL_CODES,
  Process,
  ZX_ERR_TIMED_OUT,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_RESIZABLE,
  ZX_VMO_TRAP_DIRTY,
  TraceEvent,
  ZxError,
  statusName,
  type HistogramSummary,
  type KernelStats,
  type SimThread,
  type Sys,
  type TraceRecord,
} from '../../core/index.js';
import { BUG_NAMES } from '../../core/bugs.js';
import { futexWake } from '../../shared/futex.js';
import { STOP_KEY } from '../../workers/pager_service.js';
import type { ServiceConfig } from '../../workers/stress_services.js';
import type { StressThreadArgs } from '../../workers/stress_thread.js';
import {
  C_COMPLETE,
  C_DIRTY_ACKED,
  C_FAILED,
  C_FAILED_BY_CODE,
  C_HISTORY_FULL,
  C_OPS,
  C_NO_MEMORY_RETRIES,
  C_PAGER_BUSY,
  C_PAGER_IDLE_SINCE_MS,
  C_PAGES_SUPPLIED,
  C_READS_SERVED,
  C_RECORDED,
  C_SERVICE_ERRORS,
  C_SERVICE_LAST_ERROR,
  C_STOP_SERVICES,
  C_STOP_THREADS,
  C_WB_FLUSH_ACK,
  C_WB_FLUSH_REQ,
  C_WB_PAGES,
  C_WB_PASSES,
  C_ZERO_MARKERS,
  CONTROL_WORDS,
  HISTORY_F64,
  HISTORY_I32,
  HISTORY_INITIAL_RECORDS,
  HISTORY_MAX_RECORDS,
  SPAN_F64,
  OP_KIND_NAMES,
  OpKind,
  allocHistory,
  monotonicMs,
} from '../../workers/stress_protocol.js';
import { checkFailWakeups, checkHistory, isRead, type Op, type Violation, type ViolationKind } from './checker.js';
import { fillPage, initiallyZero, pageTag, readStamp, WORDS, ZEROED } from '../../workers/stress_content.js';
import { HangWatch } from './watchdog.js';
import { enabledOps, midRunEvents, type MidRunEvent, type Scenario, type SwarmOp } from './scenario.js';

export interface Progress {
  elapsedMs: number;
  durationMs: number;
  ops: number;
  faults: number;
  writebacks: number;
  evictions: number;
  violations: number;
}

export interface StressResult {
  scenario: Scenario;
  seed: number;
  startNs: number;
  durationMs: number;
  ops: { total: number; reads: number; writes: number; failedByStatus: Record<string, number>; recorded: number; byKind: Record<string, { total: number; ok: number }> };
  /** The extra operations this run enabled (--ops-mix, --swarm). */
  enabledOps: SwarmOp[];
  /** Frames an anonymous VMO pinned (--squeeze-memory), 0 if none. */
  squeezedFrames: number;
  kernel: KernelStats;
  pager: {
    readsServed: number;
    pagesSupplied: number;
    dirtyAcked: number;
    failed: number;
    failedByCode: Record<string, number>;
    completes: number;
    errors: number;
    /** Pages supplied as zero markers (zero-supply). */
    zeroMarkers: number;
    /** Supplies and OP_DIRTYs retried after ZX_ERR_NO_MEMORY. */
    noMemoryRetries: number;
  };
  writeback: { passes: number; pages: number };
  faultLatencyNs: HistogramSummary;
  wakeStatuses: Record<string, number>;
  violations: Violation[];
  violationCounts: Partial<Record<ViolationKind, number>>;
  checksSkipped: string[];
  /** Reasons the run proves nothing although it found no violation (the exit code is then 3). */
  inconclusive: string[];
  /** Threads the watchdog found signalled but not yet running past --hang-timeout (an overloaded machine). */
  lateWakes: number;
  trace: { events: TraceRecord[]; dropped: number; spans: Float64Array[]; threadNames: Map<number, string> } | null;
  clean: boolean;
}

/** Limits a test may lower to reach their edges quickly. */
export interface StressLimits {
  /** Operations one thread's history holds at most (HISTORY_MAX_RECORDS). */
  historyMaxRecords?: number;
}

export async function runStress(s: Scenario, onProgress?: (p: Progress) => void, limits: StressLimits = {}): Promise<StressResult> {
  const rig = setUpRun(s, limits);
  const findings = new Findings();
  const watched = await watchRun(rig, findings, onProgress);
  const stopped = await stopRun(rig, findings, watched);
  const checked = checkRun(rig, findings, watched, stopped);
  const result = buildResult(rig, findings, checked, stopped.durationMs, watched.lateWakes);
  rig.kernel.close();
  return result;
}

// ---- Tunables of the orchestrator (none of them is a scenario knob) ----

/** Kernel threads beyond the faulting ones: the pager and writeback services and the main thread. */
const SERVICE_THREADS = 16;
/** Without --trace the ring grows with the run: events per second of --duration, up to a cap. */
const TRACE_EVENTS_PER_SECOND = 80_000;
const TRACE_EVENTS_MAX = 8_000_000;
/** With an --ops bound: trace events one operation writes at most. */
const TRACE_EVENTS_PER_OP = 8;
/** The records each service's span buffer holds (pager: [0], writeback: [1]). */
const SPAN_RECORDS = 65536;
/** Pager VMO v has the port key VMO_KEY_BASE + v. */
const VMO_KEY_BASE = 0x100;
/** Seeds of the services and of each faulting thread, derived from the run's seed. */
const SERVICE_SEED_MIX = 0x5bd1e995;
const THREAD_SEED_MULTIPLIER = 31;
const THREAD_SEED_STRIDE = 0x9e3779b9;
/** How often the watch loop samples progress, events and hangs. */
const WATCH_INTERVAL_MS = 50;
/** monotonicMs() is 31 bits wide (stress_protocol.ts): differences wrap with this mask. */
const MS_CLOCK_MASK = 0x7fffffff;
/** How long the final writeback may take, and how often the orchestrator looks. */
const FINAL_FLUSH_TIMEOUT_MS = 20_000;
const FINAL_FLUSH_POLL_MS = 5;
/** A service worker still running this long after the stop is terminated. */
const SERVICE_EXIT_TIMEOUT_MS = 5000;
/** The trace names a thread by its slot: tid modulo the slot range (core/object/handle_table.ts). */
const TRACE_THREAD_SLOTS = 65536;
/** A history record's first word: OpKind | vmo << HISTORY_VMO_SHIFT (workers/stress_thread.ts). */
const HISTORY_KIND_MASK = 15;
const HISTORY_VMO_SHIFT = 4;

/** One faulting thread's history buffers (stress_protocol.ts allocHistory). */
type History = ReturnType<typeof allocHistory>;

// ---- Set up: the kernel, its pager VMOs, the backing store, the services and the faulting threads ----

/** Everything the phases of a run share. */
interface StressRig {
  s: Scenario;
  seed: number;
  kernel: Kernel;
  sys: Sys;
  extraOps: SwarmOp[];
  zeroSupply: boolean;
  pager: number;
  port: number;
  vmos: number[];
  squeezedFrames: number;
  /** The in-memory backing store, or undefined for a --backing file. */
  memory: SharedArrayBuffer | undefined;
  control: Int32Array;
  spanBuffers: SharedArrayBuffer[];
  /** The pager service's own process (--kill-pager-at), else null. */
  pagerProcess: Process | null;
  services: Worker[];
  workerErrors: string[];
  pool: ThreadPool;
  threads: SimThread[];
  histories: History[];
  historyMax: number;
  startNs: number;
  /** performance.now() at the start. */
  started: number;
}

function setUpRun(s: Scenario, limits: StressLimits): StressRig {
  const seed = s.seed ?? Math.floor(Math.random() * 2 ** 31);
  const frames = Math.ceil(s.physicalMemory / PAGE_SIZE);
  const kernel = createKernel(s, frames);
  const sys = kernel.sys;
  const extraOps = enabledOps(s, seed);
  const zeroSupply = extraOps.includes('zero-supply');
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const keys = Array.from({ length: s.vmos }, (_, v) => BigInt(VMO_KEY_BASE + v));
  const options = (s.trapDirty ? ZX_VMO_TRAP_DIRTY : 0) | (extraOps.includes('resize') ? ZX_VMO_RESIZABLE : 0);
  const vmos = keys.map((key) => sys.pagerCreateVmo(pager, options, port, key, s.vmoPages * PAGE_SIZE));
  // Memory at the edge: an anonymous VMO pins all frames but `squeezeMemory` (never evicted).
  const squeezedFrames = s.squeezeMemory > 0 ? Math.max(0, frames - s.squeezeMemory) : 0;
  if (squeezedFrames > 0) sys.vmoOpRange(sys.vmoCreate(squeezedFrames * PAGE_SIZE, 0), ZX_VMO_OP_COMMIT, 0, squeezedFrames * PAGE_SIZE);
  const memory = fillBackingStore(s, zeroSupply);
  const controlBuffer = new SharedArrayBuffer(CONTROL_WORDS * 4);
  const services = startServices(kernel, s, {
    share: kernel.shareable(),
    pager,
    port,
    vmos,
    keys,
    vmoPages: s.vmoPages,
    backing: { memory, path: s.backing, vmoPages: s.vmoPages },
    control: controlBuffer,
    failRate: s.failRate,
    failCodes: s.failCodes.map(failCodeOf),
    readahead: s.readahead,
    writebackIntervalMs: s.writebackInterval,
    writebackLatencyUs: s.writebackLatencyUs,
    seed: seed ^ SERVICE_SEED_MIX,
    zeroSupply,
  });
  const pool = new ThreadPool(kernel, { maxThreads: s.threads });
  // Each thread's history grows as it needs (stress_protocol.ts); an --ops bound is its exact size.
  const historyMax = limits.historyMaxRecords ?? HISTORY_MAX_RECORDS;
  const maxRecords = Math.min(historyMax, s.ops ?? historyMax);
  const histories = Array.from({ length: s.threads }, () => allocHistory(Math.min(HISTORY_INITIAL_RECORDS, maxRecords), maxRecords));
  const startNs = Number(process.hrtime.bigint());
  const started = performance.now();
  const threads = spawnFaultingThreads(pool, s, { vmos, extraOps, seed, controlBuffer, histories, startNs });
  const control = new Int32Array(controlBuffer);
  return { s, seed, kernel, sys, extraOps, zeroSupply, pager, port, vmos, squeezedFrames, memory, control, ...services, pool, threads, histories, historyMax, startNs, started };
}

function createKernel(s: Scenario, frames: number): Kernel {
  return Kernel.create({
    physicalMemory: frames * PAGE_SIZE,
    maxThreads: s.threads + SERVICE_THREADS,
    // The checker needs three event types; the whole trace only for --trace. The ring grows with the
    // run: about three events per wait, tens of thousands of waits a second.
    // An --ops bound caps it too (a few events per operation at most): a generous --duration next to
    // it must not cost a ring of hundreds of megabytes.
    traceEvents: s.trace
      ? s.traceEvents
      : Math.min(
          TRACE_EVENTS_MAX,
          Math.max(s.traceEvents, Math.ceil(s.duration / 1000) * TRACE_EVENTS_PER_SECOND),
          s.ops === undefined ? Infinity : Math.max(s.traceEvents, s.ops * s.threads * TRACE_EVENTS_PER_OP),
        ),
    traceTypes: s.trace ? undefined : [TraceEvent.WaitBegin, TraceEvent.Signal, TraceEvent.Fail],
    injectBugs: s.injectBug ? BUG_NAMES[s.injectBug] : 0,
  });
}

/** The status a --fail-codes name stands for (the scenario schema admits only these names). */
function failCodeOf(name: (typeof PAGER_FAIL_CODE_NAMES)[number]): number {
  return PAGER_FAIL_CODES[PAGER_FAIL_CODE_NAMES.indexOf(name)];
}

/**
 * The backing store starts with every page at stamp 0 (tagged with its own page), or, with
 * zero-supply, sparse: every fourth page a hole of zeros (content.ts initiallyZero). Returns the
 * in-memory store, or undefined after writing the --backing file.
 */
function fillBackingStore(s: Scenario, zeroSupply: boolean): SharedArrayBuffer | undefined {
  const initial = new Uint32Array(WORDS);
  const forEachPage = (store: (pageIndex: number) => void): void => {
    for (let v = 0; v < s.vmos; v++) {
      for (let p = 0; p < s.vmoPages; p++) {
        if (initiallyZero(zeroSupply, p)) initial.fill(0);
        else fillPage(initial, 0, pageTag(v, p));
        store(v * s.vmoPages + p);
      }
    }
  };
  if (s.backing) {
    const fd = fs.openSync(s.backing, 'w+');
    forEachPage((i) => fs.writeSync(fd, new Uint8Array(initial.buffer), 0, PAGE_SIZE, i * PAGE_SIZE));
    fs.closeSync(fd);
    return undefined;
  }
  const memory = new SharedArrayBuffer(s.vmos * s.vmoPages * PAGE_SIZE);
  const all = new Uint32Array(memory);
  forEachPage((i) => all.set(initial, (i * PAGE_SIZE) / 4));
  return memory;
}

/**
 * The pager service and the writeback worker, each in its own Worker with its own span buffer. With
 * --kill-pager-at the pager service runs in a process of its own that owns the pager handle.
 */
function startServices(
  kernel: Kernel,
  s: Scenario,
  base: Omit<ServiceConfig, 'role' | 'spans'>,
): Pick<StressRig, 'services' | 'workerErrors' | 'pagerProcess' | 'spanBuffers'> {
  const spanBuffers = [new SharedArrayBuffer(SPAN_RECORDS * SPAN_F64 * 8), new SharedArrayBuffer(SPAN_RECORDS * SPAN_F64 * 8)];
  const serviceUrl = new URL('../../workers/stress_services.js', import.meta.url);
  const pagerProcess = s.killPagerAt !== undefined ? kernel.processCreate() : null;
  pagerProcess?.transferHandle(base.pager);
  const pagerConfig = { ...base, role: 'pager' as const, spans: spanBuffers[0], ...(pagerProcess ? { process: pagerProcess.token } : {}) };
  const pagerWorker = new Worker(serviceUrl, { workerData: { stressService: pagerConfig }, execArgv: [] });
  if (pagerProcess) kernel.watchWorker(pagerWorker);
  const writebackWorker = new Worker(serviceUrl, { workerData: { stressService: { ...base, role: 'writeback', spans: spanBuffers[1] } }, execArgv: [] });
  const services = [pagerWorker, writebackWorker];
  const workerErrors: string[] = [];
  for (const w of services) w.on('error', (e) => workerErrors.push(e.message));
  return { services, workerErrors, pagerProcess, spanBuffers };
}

function spawnFaultingThreads(
  pool: ThreadPool,
  s: Scenario,
  c: { vmos: number[]; extraOps: SwarmOp[]; seed: number; controlBuffer: SharedArrayBuffer; histories: History[]; startNs: number },
): SimThread[] {
  const threadUrl = new URL('../../workers/stress_thread.js', import.meta.url);
  const extraOps = c.extraOps.filter((op) => op !== 'zero-supply').map((op) => OP_KIND_NAMES.indexOf(op) as OpKind);
  return c.histories.map((h, i) => {
    const args: StressThreadArgs = {
      threadIndex: i,
      vmos: c.vmos,
      vmoPages: s.vmoPages,
      ops: s.ops ?? Number.MAX_SAFE_INTEGER,
      deadlineNs: c.startNs + s.duration * 1e6,
      readRatio: s.readRatio,
      pattern: s.pattern,
      hotFraction: s.hotFraction,
      hotProbability: s.hotProbability,
      extraOps,
      seed: (c.seed * THREAD_SEED_MULTIPLIER + i * THREAD_SEED_STRIDE) >>> 0,
      control: c.controlBuffer,
      historyI32: h.i32,
      historyF64: h.f64,
    };
    return pool.spawn({ module: threadUrl, export: 'stressThread' }, args);
  });
}

// ---- What the run found ----

class Findings {
  readonly violations: Violation[] = [];
  readonly counts: Partial<Record<ViolationKind, number>> = {};
  readonly checksSkipped: string[] = [];
  /** Why the run cannot vouch for the kernel although it found nothing (exit code 3). */
  readonly inconclusive: string[] = [];

  add(v: Violation): void {
    this.counts[v.kind] = (this.counts[v.kind] ?? 0) + 1;
    this.violations.push(v);
  }

  /** A checker's result: its violations (already capped) and its full counts. */
  merge(r: { violations: Violation[]; counts: Partial<Record<ViolationKind, number>> }): void {
    for (const v of r.violations) this.violations.push(v);
    for (const [k, n] of Object.entries(r.counts)) this.counts[k as ViolationKind] = (this.counts[k as ViolationKind] ?? 0) + (n ?? 0);
  }

  bookkeeping(detail: string): void {
    this.add({ kind: 'bookkeeping', atNs: Number(process.hrtime.bigint()), detail });
  }
}

// ---- Run: progress, mid-run events, hangs ----

interface Watched {
  hung: boolean;
  pagerClosed: boolean;
  lateWakes: number;
}

async function watchRun(rig: StressRig, findings: Findings, onProgress?: (p: Progress) => void): Promise<Watched> {
  const { s, control, kernel } = rig;
  const watch = new HangWatch(kernel, s.hangTimeout);
  const tids = rig.threads.map((t) => t.tid);
  const pending = midRunEvents(s);
  const state: Watched = { hung: false, pagerClosed: false, lateWakes: 0 };
  while (!rig.threads.every((t) => t.finished)) {
    await new Promise((r) => setTimeout(r, WATCH_INTERVAL_MS));
    const now = performance.now();
    const elapsed = now - rig.started;
    if (fireDueEvents(rig, pending, elapsed)) state.pagerClosed = true;
    // Time since the pager last finished a packet: idle if it is waiting on its port, stuck if not.
    const pagerQuietMs = (monotonicMs() - Atomics.load(control, C_PAGER_IDLE_SINCE_MS)) & MS_CLOCK_MASK;
    const pagerBusy = Atomics.load(control, C_PAGER_BUSY) !== 0;
    for (const h of watch.sample(tids, now, { quietMs: pagerQuietMs, busy: pagerBusy })) {
      findings.add({ kind: 'hang', atNs: rig.startNs + (h.at - rig.started) * 1e6, detail: h.detail });
      state.hung = true;
    }
    onProgress?.({
      elapsedMs: elapsed,
      durationMs: s.duration,
      ops: sumOps(control, s.threads),
      faults: kernel.stats().requests,
      writebacks: Atomics.load(control, C_WB_PASSES),
      evictions: kernel.stats().evictions,
      violations: findings.violations.length,
    });
    if (state.hung) break;
    if (Atomics.load(control, C_SERVICE_ERRORS) > 0 && !state.pagerClosed) break; // inconclusive: see checkRun
    if (Atomics.load(control, C_HISTORY_FULL) !== 0) {
      findings.inconclusive.push(`a thread recorded ${rig.historyMax.toLocaleString('en-US')} operations, the most a history holds: the run stopped at ${(elapsed / 1000).toFixed(1)} s`);
      break;
    }
  }
  Atomics.store(control, C_STOP_THREADS, 1);
  state.lateWakes = watch.lateWakes;
  return state;
}

/** Fires the mid-run events that are due, in time order; true if one closed the pager. */
function fireDueEvents(rig: StressRig, pending: MidRunEvent[], elapsedMs: number): boolean {
  let pagerClosed = false;
  for (let event = pending[0]; event !== undefined && elapsedMs >= event.atMs; event = pending[0]) {
    // A pager that has not attached yet cannot be killed mid-run: the event waits for it.
    if (event.kind === 'kill-pager' && !rig.pagerProcess!.started) break;
    pending.shift();
    switch (event.kind) {
      case 'detach':
        rig.sys.pagerDetachVmo(rig.pager, rig.vmos[0]);
        break;
      case 'close-pager':
        pagerClosed = true;
        rig.sys.handleClose(rig.pager);
        break;
      case 'kill-pager':
        // The pager dies at a syscall boundary and its process's handles close: as close-pager.
        pagerClosed = true;
        rig.pagerProcess!.kill();
        break;
      default: {
        const unknown: never = event.kind;
        throw new Error(`unhandled mid-run event ${String(unknown)}`);
      }
    }
  }
  return pagerClosed;
}

// ---- Stop: threads (terminated if hung), final writeback, services ----

interface Stopped {
  threadErrors: string[];
  /** The final writeback finished: the backing store holds every page's last write. */
  flushed: boolean;
  durationMs: number;
}

async function stopRun(rig: StressRig, findings: Findings, watched: Watched): Promise<Stopped> {
  const { threads, control } = rig;
  if (watched.hung) await rig.pool.close();
  else await Promise.allSettled(threads.map((t) => t.join()));
  const threadErrors = (await Promise.allSettled(threads.map((t) => t.join()))).filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
  const flushed = !watched.pagerClosed && !watched.hung && (await finalWriteback(control));
  if (!flushed) findings.checksSkipped.push(watched.pagerClosed ? 'lost-write (the pager was closed mid-run: nothing more can be written back)' : 'lost-write (no final writeback)');
  Atomics.store(control, C_STOP_SERVICES, 1);
  futexWake(control, C_STOP_SERVICES);
  try {
    rig.sys.portQueue(rig.port, { key: STOP_KEY });
  } catch {
    // the port handle is gone: the pager exits on its own
  }
  await Promise.all(rig.services.map((w) => exitWithin(w, SERVICE_EXIT_TIMEOUT_MS)));
  await rig.pool.close();
  drainPort(rig.sys, rig.port);
  return { threadErrors, flushed, durationMs: performance.now() - rig.started };
}

/** Asks the writeback worker for a pass that finds nothing dirty; true once it reports one in time. */
async function finalWriteback(control: Int32Array): Promise<boolean> {
  const ticket = Atomics.add(control, C_WB_FLUSH_REQ, 1) + 1;
  futexWake(control, C_STOP_SERVICES);
  const until = performance.now() + FINAL_FLUSH_TIMEOUT_MS;
  while (Atomics.load(control, C_WB_FLUSH_ACK) < ticket && performance.now() < until) await new Promise((r) => setTimeout(r, FINAL_FLUSH_POLL_MS));
  return Atomics.load(control, C_WB_FLUSH_ACK) >= ticket;
}

/** Whatever is still queued (a COMPLETE after detach) is read now, so the bookkeeping balances. */
function drainPort(sys: Sys, port: number): void {
  for (;;) {
    try {
      sys.portWait(port, 0n);
    } catch (e) {
      if (e instanceof ZxError && e.status === ZX_ERR_TIMED_OUT) break;
      throw e;
    }
  }
}

// ---- Check: histories, backing store, FAIL wakeups, kernel bookkeeping ----

interface Checked {
  ops: Op[];
  opsDone: number;
  wakeStatuses: Map<number, number>;
  stats: KernelStats;
  trace: { events: TraceRecord[]; dropped: number };
}

function checkRun(rig: StressRig, findings: Findings, watched: Watched, stopped: Stopped): Checked {
  const { s, control } = rig;
  const ops = collectOps(rig.histories, control, s.threads);
  const opsDone = sumOps(control, s.threads);
  // A service that stopped early leaves the run unable to vouch for what came after (a writeback that
  // quit lets memory fill with dirty pages: the hang that follows is the harness's, not the kernel's).
  const serviceErrors = Atomics.load(control, C_SERVICE_ERRORS);
  if (serviceErrors > 0 && !watched.pagerClosed) findings.inconclusive.push(`a stress service stopped on ${statusName(Atomics.load(control, C_SERVICE_LAST_ERROR))}`);
  if (ops.length !== opsDone) findings.inconclusive.push(`${(opsDone - ops.length).toLocaleString('en-US')} of ${opsDone.toLocaleString('en-US')} operations were not recorded`);
  const finalSizes = rig.vmos.map((v) => rig.sys.vmoGetSize(v) / PAGE_SIZE);
  findings.merge(
    checkHistory(ops, {
      vmoCount: s.vmos,
      vmoPages: s.vmoPages,
      finalStamp: stopped.flushed ? finalStampReader(s, rig.memory) : null,
      finalPages: (v) => finalSizes[v],
      initiallyZero: (_v, p) => initiallyZero(rig.zeroSupply, p),
    }),
  );
  const trace = rig.kernel.readTrace();
  let wakeStatuses = new Map<number, number>();
  if (s.traceEvents > 0 && trace.dropped === 0) {
    const fails = checkFailWakeups(trace.events);
    wakeStatuses = fails.wakeStatuses;
    findings.merge(fails);
  } else {
    findings.checksSkipped.push(s.traceEvents === 0 ? 'FAIL wakeups (tracing off)' : `FAIL wakeups (trace ring full: ${trace.dropped} events dropped; raise --trace-events)`);
  }
  const stats = rig.kernel.stats();
  if (!watched.hung) checkBookkeeping(rig, findings, stats);
  // After a hang the pool was terminated on purpose: those threads' errors are not findings.
  for (const e of [...rig.workerErrors, ...(watched.hung ? [] : stopped.threadErrors)]) findings.bookkeeping(`worker error: ${e}`);
  return { ops, opsDone, wakeStatuses, stats, trace };
}

/** Reads the stamp each page holds in the backing store after the final writeback. */
function finalStampReader(s: Scenario, memory: SharedArrayBuffer | undefined): (v: number, p: number) => number {
  const words = new Uint32Array(WORDS);
  const bytes = new Uint8Array(words.buffer);
  const fd = s.backing ? fs.openSync(s.backing, 'r') : -1;
  const all = memory ? new Uint8Array(memory) : null;
  return (v, p) => {
    const at = (v * s.vmoPages + p) * PAGE_SIZE;
    if (all) bytes.set(all.subarray(at, at + PAGE_SIZE));
    else fs.readSync(fd, bytes, 0, PAGE_SIZE, at);
    return readStamp(words, pageTag(v, p));
  };
}

/** Every thread and service has stopped: the counts must balance and the kernel's tables be whole. */
function checkBookkeeping(rig: StressRig, findings: Findings, stats: KernelStats): void {
  const outstanding = rig.kernel.debugOutstandingRequests();
  const requestPackets = stats.packets - stats.completes;
  const balance = [
    [stats.packets, stats.dequeued + stats.withdrawn + stats.portDropped, 'packets posted = read + withdrawn + dropped by a closed port'],
    [stats.requests, requestPackets + stats.fifoDropped, 'requests created = posted + withdrawn from the FIFO before posting'],
    [outstanding, 0, 'requests still outstanding after the run'],
  ] as const;
  for (const [a, b, what] of balance) {
    if (a !== b) findings.bookkeeping(`${what}: ${a} != ${b}`);
  }
  if (rig.pagerProcess && !rig.pagerProcess.exited) findings.bookkeeping('the killed pager process never exited');
  for (const problem of rig.kernel.checkInvariants()) findings.bookkeeping(`kernel invariant: ${problem}`);
}

// ---- The result ----

function buildResult(rig: StressRig, findings: Findings, checked: Checked, durationMs: number, lateWakes: number): StressResult {
  const { s, control } = rig;
  const { trace } = checked;
  return {
    scenario: s,
    seed: rig.seed,
    startNs: rig.startNs,
    durationMs,
    ops: opsSummary(checked.ops, checked.opsDone),
    enabledOps: rig.extraOps,
    squeezedFrames: rig.squeezedFrames,
    kernel: checked.stats,
    pager: {
      readsServed: Atomics.load(control, C_READS_SERVED),
      pagesSupplied: Atomics.load(control, C_PAGES_SUPPLIED),
      dirtyAcked: Atomics.load(control, C_DIRTY_ACKED),
      failed: Atomics.load(control, C_FAILED),
      failedByCode: failedByCode(control),
      completes: Atomics.load(control, C_COMPLETE),
      errors: Atomics.load(control, C_SERVICE_ERRORS),
      zeroMarkers: Atomics.load(control, C_ZERO_MARKERS),
      noMemoryRetries: Atomics.load(control, C_NO_MEMORY_RETRIES),
    },
    writeback: { passes: Atomics.load(control, C_WB_PASSES), pages: Atomics.load(control, C_WB_PAGES) },
    faultLatencyNs: rig.kernel.waitLatency(),
    wakeStatuses: Object.fromEntries([...checked.wakeStatuses].map(([st, n]) => [statusName(st), n])),
    violations: findings.violations.sort((a, b) => a.atNs - b.atNs),
    violationCounts: findings.counts,
    checksSkipped: findings.checksSkipped,
    trace: s.trace
      ? {
          events: trace.events,
          dropped: trace.dropped,
          spans: rig.spanBuffers.map((b) => new Float64Array(b)),
          threadNames: new Map(rig.threads.map((t, i) => [t.tid % TRACE_THREAD_SLOTS, `faulting thread ${i}`])),
        }
      : null,
    clean: Object.keys(findings.counts).length === 0,
    inconclusive: findings.inconclusive,
    lateWakes,
  };
}

/** Reads, writes, failures by status and outcomes by kind over the recorded operations. */
function opsSummary(ops: readonly Op[], total: number): StressResult['ops'] {
  const failedByStatus: Record<string, number> = {};
  const byKind: Record<string, { total: number; ok: number }> = {};
  let reads = 0;
  let writes = 0;
  for (const op of ops) {
    if (isRead(op)) reads++;
    if (op.write) writes++;
    const k = (byKind[OP_KIND_NAMES[op.kind]] ??= { total: 0, ok: 0 });
    k.total++;
    if (op.status === 0) k.ok++;
    if (op.status !== 0) failedByStatus[statusName(op.status)] = (failedByStatus[statusName(op.status)] ?? 0) + 1;
  }
  return { total, reads, writes, failedByStatus, recorded: ops.length, byKind };
}

/** The pager's FAILs by code (control slots C_FAILED_BY_CODE.., in PAGER_FAIL_CODES order). */
function failedByCode(control: Int32Array): Record<string, number> {
  const out: Record<string, number> = {};
  PAGER_FAIL_CODES.forEach((code, i) => {
    const n = Atomics.load(control, C_FAILED_BY_CODE + i);
    if (n > 0) out[statusName(code)] = n;
  });
  return out;
}

function sumOps(control: Int32Array, threads: number): number {
  let n = 0;
  for (let i = 0; i < threads; i++) n += Atomics.load(control, C_OPS + i);
  return n;
}

function collectOps(histories: ReadonlyArray<{ i32: SharedArrayBuffer; f64: SharedArrayBuffer }>, control: Int32Array, threads: number): Op[] {
  const ops: Op[] = [];
  for (let t = 0; t < threads; t++) {
    const hi = new Int32Array(histories[t].i32);
    const hf = new Float64Array(histories[t].f64);
    const n = Atomics.load(control, C_RECORDED + t);
    for (let i = 0; i < n; i++) {
      const b = i * HISTORY_I32;
      const kind = (hi[b] & HISTORY_KIND_MASK) as OpKind;
      const stamp = hi[b + 2];
      ops.push({
        thread: t,
        kind,
        write: kind === OpKind.Write || kind === OpKind.MapWrite,
        vmo: hi[b] >> HISTORY_VMO_SHIFT,
        page: hi[b + 1],
        // Negative values from TORN down to ZEROED are markers (content.ts); the rest are unsigned stamps.
        stamp: stamp < 0 && stamp >= ZEROED ? stamp : stamp >>> 0,
        status: hi[b + 3],
        t0: hf[i * HISTORY_F64],
        t1: hf[i * HISTORY_F64 + 1],
      });
    }
  }
  return ops;
}

function exitWithin(worker: Worker, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => void worker.terminate().then(() => resolve()), ms);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
