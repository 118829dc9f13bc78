// The stress run: one kernel, one pager with its port, `vmos` pager VMOs; faulting threads in a
// ThreadPool; a pager service and a writeback worker, each in its own Worker. The main thread
// starts them, shows progress, fires the optional mid-run events, watches for hangs (a thread blocked
// past hangTimeout while the pager is idle), then stops everything, flushes a final writeback and
// runs the checker (checker.ts) over the histories, the backing store and the kernel trace.

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import {
  Kernel,
  PAGE_SIZE,
  ThreadPool,
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
  type TraceRecord,
} from '../../core/index.js';
import { BUG_NAMES } from '../../core/bugs.js';
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
  FAIL_CODES,
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
import { fillPage, initiallyZero, pageTag, readStamp, WORDS, ZEROED } from './content.js';
import { HangWatch } from './watchdog.js';
import { enabledOps, midRunEvents, type Scenario, type SwarmOp } from './scenario.js';

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
  const seed = s.seed ?? Math.floor(Math.random() * 2 ** 31);
  const frames = Math.ceil(s.physicalMemory / PAGE_SIZE);
  const kernel = Kernel.create({
    physicalMemory: frames * PAGE_SIZE,
    maxThreads: s.threads + 16,
    // The checker needs three event types; the whole trace only for --trace. The ring grows with the
    // run: about three events per wait, tens of thousands of waits a second.
    // An --ops bound caps it too (a few events per operation at most): a generous --duration next to
    // it must not cost a ring of hundreds of megabytes.
    traceEvents: s.trace ? s.traceEvents : Math.min(8_000_000, Math.max(s.traceEvents, Math.ceil(s.duration / 1000) * 80_000), s.ops === undefined ? Infinity : Math.max(s.traceEvents, s.ops * s.threads * 8)),
    traceTypes: s.trace ? undefined : [TraceEvent.WaitBegin, TraceEvent.Signal, TraceEvent.Fail],
    injectBugs: s.injectBug ? BUG_NAMES[s.injectBug]! : 0,
  });
  const sys = kernel.sys;
  const extraOps = enabledOps(s, seed);
  const zeroSupply = extraOps.includes('zero-supply');
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmos: number[] = [];
  const keys: bigint[] = [];
  for (let v = 0; v < s.vmos; v++) {
    keys.push(BigInt(0x100 + v));
    const options = (s.trapDirty ? ZX_VMO_TRAP_DIRTY : 0) | (extraOps.includes('resize') ? ZX_VMO_RESIZABLE : 0);
    vmos.push(sys.pagerCreateVmo(pager, options, port, keys[v]!, s.vmoPages * PAGE_SIZE));
  }
  // Memory at the edge: an anonymous VMO pins all frames but `squeezeMemory` (never evicted).
  const squeezedFrames = s.squeezeMemory > 0 ? Math.max(0, frames - s.squeezeMemory) : 0;
  if (squeezedFrames > 0) sys.vmoOpRange(sys.vmoCreate(squeezedFrames * PAGE_SIZE, 0), ZX_VMO_OP_COMMIT, 0, squeezedFrames * PAGE_SIZE);

  // The backing store starts with every page at stamp 0 (tagged with its own page), or, with
  // zero-supply, sparse: every fourth page a hole of zeros (content.ts initiallyZero).
  const backingBytes = s.vmos * s.vmoPages * PAGE_SIZE;
  const initial = new Uint32Array(WORDS);
  let memory: SharedArrayBuffer | undefined;
  if (s.backing) {
    const fd = fs.openSync(s.backing, 'w+');
    for (let v = 0; v < s.vmos; v++) {
      for (let p = 0; p < s.vmoPages; p++) {
        if (initiallyZero(zeroSupply, p)) initial.fill(0);
        else fillPage(initial, 0, pageTag(v, p));
        fs.writeSync(fd, new Uint8Array(initial.buffer), 0, PAGE_SIZE, (v * s.vmoPages + p) * PAGE_SIZE);
      }
    }
    fs.closeSync(fd);
  } else {
    memory = new SharedArrayBuffer(backingBytes);
    const all = new Uint32Array(memory);
    for (let v = 0; v < s.vmos; v++) {
      for (let p = 0; p < s.vmoPages; p++) {
        if (initiallyZero(zeroSupply, p)) initial.fill(0);
        else fillPage(initial, 0, pageTag(v, p));
        all.set(initial, ((v * s.vmoPages + p) * PAGE_SIZE) / 4);
      }
    }
  }
  const backing = { memory, path: s.backing, vmoPages: s.vmoPages };

  const controlBuffer = new SharedArrayBuffer(CONTROL_WORDS * 4);
  const control = new Int32Array(controlBuffer);
  const spanBuffers = [new SharedArrayBuffer(65536 * SPAN_F64 * 8), new SharedArrayBuffer(65536 * SPAN_F64 * 8)];
  const serviceBase: Omit<ServiceConfig, 'role' | 'spans'> = {
    share: kernel.shareable(),
    pager,
    port,
    vmos,
    keys,
    vmoPages: s.vmoPages,
    backing,
    control: controlBuffer,
    failRate: s.failRate,
    failCodes: s.failCodes.map((n) => FAIL_CODES[['ZX_ERR_IO', 'ZX_ERR_IO_DATA_INTEGRITY', 'ZX_ERR_BAD_STATE', 'ZX_ERR_NO_SPACE', 'ZX_ERR_BUFFER_TOO_SMALL'].indexOf(n)]!),
    readahead: s.readahead,
    writebackIntervalMs: s.writebackInterval,
    writebackLatencyUs: s.writebackLatencyUs,
    seed: seed ^ 0x5bd1e995,
    zeroSupply,
  };
  const serviceUrl = new URL('../../workers/stress_services.js', import.meta.url);
  // --kill-pager-at: the pager service runs in a process of its own that owns the pager handle.
  const pagerProcess = s.killPagerAt !== undefined ? kernel.processCreate() : null;
  pagerProcess?.transferHandle(pager);
  const pagerConfig = { ...serviceBase, role: 'pager' as const, spans: spanBuffers[0], ...(pagerProcess ? { process: pagerProcess.token } : {}) };
  const pagerWorker = new Worker(serviceUrl, { workerData: { stressService: pagerConfig }, execArgv: [] });
  if (pagerProcess) kernel.watchWorker(pagerWorker);
  const writebackWorker = new Worker(serviceUrl, { workerData: { stressService: { ...serviceBase, role: 'writeback', spans: spanBuffers[1] } }, execArgv: [] });
  const workerErrors: string[] = [];
  for (const w of [pagerWorker, writebackWorker]) w.on('error', (e) => workerErrors.push(e.message));

  const pool = new ThreadPool(kernel, { maxThreads: s.threads });
  // Each thread's history grows as it needs (stress_protocol.ts); an --ops bound is its exact size.
  const historyMax = limits.historyMaxRecords ?? HISTORY_MAX_RECORDS;
  const maxRecords = Math.min(historyMax, s.ops ?? historyMax);
  const histories = Array.from({ length: s.threads }, () => allocHistory(Math.min(HISTORY_INITIAL_RECORDS, maxRecords), maxRecords));
  const startNs = Number(process.hrtime.bigint());
  const started = performance.now();
  const threadUrl = new URL('../../workers/stress_thread.js', import.meta.url);
  const threads: SimThread[] = histories.map((h, i) => {
    const args: StressThreadArgs = {
      threadIndex: i,
      vmos,
      vmoPages: s.vmoPages,
      ops: s.ops ?? Number.MAX_SAFE_INTEGER,
      deadlineNs: startNs + s.duration * 1e6,
      readRatio: s.readRatio,
      pattern: s.pattern,
      hotFraction: s.hotFraction,
      hotProbability: s.hotProbability,
      extraOps: extraOps.filter((op) => op !== 'zero-supply').map((op) => OP_KIND_NAMES.indexOf(op) as OpKind),
      seed: (seed * 31 + i * 0x9e3779b9) >>> 0,
      control: controlBuffer,
      historyI32: h.i32,
      historyF64: h.f64,
    };
    return pool.spawn({ module: threadUrl, export: 'stressThread' }, args);
  });

  // ---- Watch: progress, mid-run events, hangs ----
  const violations: Violation[] = [];
  const counts: Partial<Record<ViolationKind, number>> = {};
  const addViolation = (v: Violation): void => {
    counts[v.kind] = (counts[v.kind] ?? 0) + 1;
    violations.push(v);
  };
  const watch = new HangWatch(kernel, s.hangTimeout);
  const tids = threads.map((t) => t.tid);
  const pending = midRunEvents(s);
  let pagerClosed = false;
  let hung = false;
  const checksSkipped: string[] = [];
  /** Why the run cannot vouch for the kernel although it found nothing (exit code 3). */
  const inconclusive: string[] = [];
  while (!threads.every((t) => t.finished)) {
    await new Promise((r) => setTimeout(r, 50));
    const now = performance.now();
    const elapsed = now - started;
    while (pending.length > 0 && elapsed >= pending[0]!.atMs) {
      // A pager that has not attached yet cannot be killed mid-run: the event waits for it.
      if (pending[0]!.kind === 'kill-pager' && !pagerProcess!.started) break;
      const event = pending.shift()!;
      switch (event.kind) {
        case 'detach':
          sys.pagerDetachVmo(pager, vmos[0]!);
          break;
        case 'close-pager':
          pagerClosed = true;
          sys.handleClose(pager);
          break;
        case 'kill-pager':
          // The pager dies at a syscall boundary and its process's handles close: as close-pager.
          pagerClosed = true;
          pagerProcess!.kill();
          break;
        default: {
          const unknown: never = event.kind;
          throw new Error(`unhandled mid-run event ${String(unknown)}`);
        }
      }
    }
    // Time since the pager last finished a packet: idle if it is waiting on its port, stuck if not.
    const pagerQuietMs = (monotonicMs() - Atomics.load(control, C_PAGER_IDLE_SINCE_MS)) & 0x7fffffff;
    const pagerBusy = Atomics.load(control, C_PAGER_BUSY) !== 0;
    for (const h of watch.sample(tids, now, { quietMs: pagerQuietMs, busy: pagerBusy })) {
      addViolation({ kind: 'hang', atNs: startNs + (h.at - started) * 1e6, detail: h.detail });
      hung = true;
    }
    onProgress?.({
      elapsedMs: elapsed,
      durationMs: s.duration,
      ops: sumOps(control, s.threads),
      faults: kernel.stats().requests,
      writebacks: Atomics.load(control, C_WB_PASSES),
      evictions: kernel.stats().evictions,
      violations: violations.length,
    });
    if (hung) break;
    if (Atomics.load(control, C_SERVICE_ERRORS) > 0 && !pagerClosed) break; // inconclusive: see below
    if (Atomics.load(control, C_HISTORY_FULL) !== 0) {
      inconclusive.push(`a thread recorded ${historyMax.toLocaleString('en-US')} operations, the most a history holds: the run stopped at ${(elapsed / 1000).toFixed(1)} s`);
      break;
    }
  }
  Atomics.store(control, C_STOP_THREADS, 1);

  // ---- Stop: threads (terminated if hung), final writeback, services ----
  if (hung) await pool.close();
  else await Promise.allSettled(threads.map((t) => t.join()));
  const threadErrors = (await Promise.allSettled(threads.map((t) => t.join()))).filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
  let flushed = false;
  if (!pagerClosed && !hung) {
    const ticket = Atomics.add(control, C_WB_FLUSH_REQ, 1) + 1;
    Atomics.notify(control, C_STOP_SERVICES);
    const until = performance.now() + 20_000;
    while (Atomics.load(control, C_WB_FLUSH_ACK) < ticket && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    flushed = Atomics.load(control, C_WB_FLUSH_ACK) >= ticket;
  }
  if (!flushed) checksSkipped.push(pagerClosed ? 'lost-write (the pager was closed mid-run: nothing more can be written back)' : 'lost-write (no final writeback)');
  Atomics.store(control, C_STOP_SERVICES, 1);
  Atomics.notify(control, C_STOP_SERVICES);
  try {
    sys.portQueue(port, { key: STOP_KEY });
  } catch {
    // the port handle is gone: the pager exits on its own
  }
  await Promise.all([pagerWorker, writebackWorker].map((w) => exitWithin(w, 5000)));
  await pool.close();
  // Whatever is still queued (a COMPLETE after detach) is read now, so the bookkeeping balances.
  for (;;) {
    try {
      sys.portWait(port, 0n);
    } catch (e) {
      if (e instanceof ZxError && e.status === ZX_ERR_TIMED_OUT) break;
      throw e;
    }
  }
  const durationMs = performance.now() - started;

  // ---- Check ----
  const ops = collectOps(histories, control, s.threads);
  const opsDone = sumOps(control, s.threads);
  // A service that stopped early leaves the run unable to vouch for what came after (a writeback that
  // quit lets memory fill with dirty pages: the hang that follows is the harness's, not the kernel's).
  const serviceErrors = Atomics.load(control, C_SERVICE_ERRORS);
  if (serviceErrors > 0 && !pagerClosed) inconclusive.push(`a stress service stopped on ${statusName(Atomics.load(control, C_SERVICE_LAST_ERROR))}`);
  if (ops.length !== opsDone) inconclusive.push(`${(opsDone - ops.length).toLocaleString('en-US')} of ${opsDone.toLocaleString('en-US')} operations were not recorded`);
  const finalStamp = flushed
    ? (() => {
        const words = new Uint32Array(WORDS);
        const bytes = new Uint8Array(words.buffer);
        const fd = s.backing ? fs.openSync(s.backing, 'r') : -1;
        const all = memory ? new Uint8Array(memory) : null;
        const read = (v: number, p: number): number => {
          const at = (v * s.vmoPages + p) * PAGE_SIZE;
          if (all) bytes.set(all.subarray(at, at + PAGE_SIZE));
          else fs.readSync(fd, bytes, 0, PAGE_SIZE, at);
          return readStamp(words, pageTag(v, p));
        };
        return read;
      })()
    : null;
  const finalSizes = vmos.map((v) => sys.vmoGetSize(v) / PAGE_SIZE);
  const history = checkHistory(ops, {
    vmoCount: s.vmos,
    vmoPages: s.vmoPages,
    finalStamp,
    finalPages: (v) => finalSizes[v]!,
    initiallyZero: (_v, p) => initiallyZero(zeroSupply, p),
  });
  for (const v of history.violations) violations.push(v);
  for (const [k, n] of Object.entries(history.counts)) counts[k as ViolationKind] = (counts[k as ViolationKind] ?? 0) + n!;
  const trace = kernel.readTrace();
  let wakeStatuses = new Map<number, number>();
  if (s.traceEvents > 0 && trace.dropped === 0) {
    const fails = checkFailWakeups(trace.events);
    wakeStatuses = fails.wakeStatuses;
    for (const v of fails.violations) violations.push(v);
    for (const [k, n] of Object.entries(fails.counts)) counts[k as ViolationKind] = (counts[k as ViolationKind] ?? 0) + n!;
  } else {
    checksSkipped.push(s.traceEvents === 0 ? 'FAIL wakeups (tracing off)' : `FAIL wakeups (trace ring full: ${trace.dropped} events dropped; raise --trace-events)`);
  }
  const stats = kernel.stats();
  if (!hung) {
    const outstanding = kernel.debugOutstandingRequests();
    const requestPackets = stats.packets - stats.completes;
    const balance = [
      [stats.packets, stats.dequeued + stats.withdrawn + stats.portDropped, 'packets posted = read + withdrawn + dropped by a closed port'],
      [stats.requests, requestPackets + stats.fifoDropped, 'requests created = posted + withdrawn from the FIFO before posting'],
      [outstanding, 0, 'requests still outstanding after the run'],
    ] as const;
    for (const [a, b, what] of balance) {
      if (a !== b) addViolation({ kind: 'bookkeeping', atNs: Number(process.hrtime.bigint()), detail: `${what}: ${a} != ${b}` });
    }
    if (pagerProcess && !pagerProcess.exited) addViolation({ kind: 'bookkeeping', atNs: Number(process.hrtime.bigint()), detail: 'the killed pager process never exited' });
    // Every thread and service has stopped: the kernel's tables must be whole.
    for (const problem of kernel.checkInvariants()) addViolation({ kind: 'bookkeeping', atNs: Number(process.hrtime.bigint()), detail: `kernel invariant: ${problem}` });
  }
  // After a hang the pool was terminated on purpose: those threads' errors are not findings.
  for (const e of [...workerErrors, ...(hung ? [] : threadErrors)]) addViolation({ kind: 'bookkeeping', atNs: Number(process.hrtime.bigint()), detail: `worker error: ${e}` });

  const failedByStatus: Record<string, number> = {};
  const byKind: Record<string, { total: number; ok: number }> = {};
  let reads = 0;
  let writes = 0;
  for (const op of ops) {
    if (isRead(op)) reads++;
    if (op.write) writes++;
    const k = (byKind[OP_KIND_NAMES[op.kind]!] ??= { total: 0, ok: 0 });
    k.total++;
    if (op.status === 0) k.ok++;
    if (op.status !== 0) failedByStatus[statusName(op.status)] = (failedByStatus[statusName(op.status)] ?? 0) + 1;
  }
  const failedByCode: Record<string, number> = {};
  FAIL_CODES.forEach((code, i) => {
    const n = Atomics.load(control, C_FAILED_BY_CODE + i);
    if (n > 0) failedByCode[statusName(code)] = n;
  });
  const result: StressResult = {
    scenario: s,
    seed,
    startNs,
    durationMs,
    ops: { total: opsDone, reads, writes, failedByStatus, recorded: ops.length, byKind },
    enabledOps: extraOps,
    squeezedFrames,
    kernel: stats,
    pager: {
      readsServed: Atomics.load(control, C_READS_SERVED),
      pagesSupplied: Atomics.load(control, C_PAGES_SUPPLIED),
      dirtyAcked: Atomics.load(control, C_DIRTY_ACKED),
      failed: Atomics.load(control, C_FAILED),
      failedByCode,
      completes: Atomics.load(control, C_COMPLETE),
      errors: Atomics.load(control, C_SERVICE_ERRORS),
      zeroMarkers: Atomics.load(control, C_ZERO_MARKERS),
      noMemoryRetries: Atomics.load(control, C_NO_MEMORY_RETRIES),
    },
    writeback: { passes: Atomics.load(control, C_WB_PASSES), pages: Atomics.load(control, C_WB_PAGES) },
    faultLatencyNs: kernel.waitLatency(),
    wakeStatuses: Object.fromEntries([...wakeStatuses].map(([st, n]) => [statusName(st), n])),
    violations: violations.sort((a, b) => a.atNs - b.atNs),
    violationCounts: counts,
    checksSkipped,
    trace: s.trace
      ? {
          events: trace.events,
          dropped: trace.dropped,
          spans: spanBuffers.map((b) => new Float64Array(b)),
          threadNames: new Map(threads.map((t, i) => [t.tid % 65536, `faulting thread ${i}`])),
        }
      : null,
    clean: Object.keys(counts).length === 0,
    inconclusive,
    lateWakes: watch.lateWakes,
  };
  kernel.close();
  return result;
}

function sumOps(control: Int32Array, threads: number): number {
  let n = 0;
  for (let i = 0; i < threads; i++) n += Atomics.load(control, C_OPS + i);
  return n;
}

function collectOps(histories: ReadonlyArray<{ i32: SharedArrayBuffer; f64: SharedArrayBuffer }>, control: Int32Array, threads: number): Op[] {
  const ops: Op[] = [];
  for (let t = 0; t < threads; t++) {
    const hi = new Int32Array(histories[t]!.i32);
    const hf = new Float64Array(histories[t]!.f64);
    const n = Atomics.load(control, C_RECORDED + t);
    for (let i = 0; i < n; i++) {
      const b = i * HISTORY_I32;
      const kind = (hi[b]! & 15) as OpKind;
      ops.push({
        thread: t,
        kind,
        write: kind === OpKind.Write || kind === OpKind.MapWrite,
        vmo: hi[b]! >> 4,
        page: hi[b + 1]!,
        stamp: hi[b + 2]! < 0 && hi[b + 2]! >= ZEROED ? hi[b + 2]! : hi[b + 2]! >>> 0,
        status: hi[b + 3]!,
        t0: hf[i * HISTORY_F64]!,
        t1: hf[i * HISTORY_F64 + 1]!,
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
