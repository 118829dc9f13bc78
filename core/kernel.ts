// Kernel: boots a pagersim kernel (Kernel.create) or attaches to one another thread booted
// (Kernel.attach). All kernel state is in the shared buffers (shared/layout.ts); a Kernel object is
// just this JS thread's view of them plus its own kernel thread (`sys`). Options are validated with
// zod at this edge, and rejected with a message that names the field.
//
// Processes and death (core/object/process.ts): kernel.processCreate() makes a Process; a worker
// joins it with Kernel.attach(share, { process: proc.token }), and its handles (proc.transferHandle)
// close when its last thread dies. Without a process everything lives in the implicit root process,
// as before. kernel.watchWorker(worker) makes the main thread reap a worker's kernel threads when the
// worker exits (returns, throws or is terminated): no slot leaks, its process exits, and a worker that
// died holding a kernel lock panics the kernel (KernelPanic, core/panic.ts) instead of hanging it.
// kernel.threadKill(tid) is zx_task_kill of one thread.

import { z } from 'zod';
import { PAGE_SIZE } from '../shared/constants.js';
import { HeaderRecord, MAX_HANDLES, R_EVENT_POKED, attachShared, createShared, type SharedViews } from '../shared/layout.js';
import { histogramSummary, type HistogramSummary } from '../shared/histogram.js';
import { readTrace, type TraceRecord } from './trace.js';
import { MAX_META_WORDS, metaWordsByCapacity, metaWordsOf, type LayoutConfig } from '../shared/layout.js';
import { MAX_FRAMES } from '../shared/page_slot.js';
import { KernelState } from './kernel_state.js';
import { allocThread, threadSlotOf, threadState } from './object/handle_table.js';
import { Process, exitThread, killThread, processCreate, processFromToken, reapJsThread, type ProcessToken } from './object/process.js';
import { isPanicked, kernelPanicOf } from './panic.js';
import { GatedSys } from './syscall_gate.js';
import type { Worker } from 'node:worker_threads';
import { installLifecycle } from './object/lifecycle.js';
import { checkInvariants } from './invariants.js';
import { installEvictor } from './vm/evictor.js';
import { type KernelPanic, ZxError } from './errors.js';
import { ZX_ERR_BAD_STATE, ZX_ERR_NO_MEMORY } from '../shared/status.js';
import type { Sys } from './sys_types.js';
import { ZX_THREAD_STATE_RUNNING } from '../shared/constants.js';
import { futexWake } from '../shared/futex.js';
import { installPagerProxy } from './object/pager_proxy.js';
import { inspectRequest, inspectRequests, type RequestInfo } from './vm/page_source.js';

const KernelOptionsObject = z
  .object({
    /** Bytes of simulated physical memory: the frame pool. */
    physicalMemory: z
      .number()
      .int()
      .positive()
      .multipleOf(PAGE_SIZE, { message: `must be a multiple of the page size (${PAGE_SIZE})` })
      .max(MAX_FRAMES * PAGE_SIZE)
      .default(64 * 2 ** 20),
    /** Kernel threads that can exist at once (each owns one PageRequest). */
    maxThreads: z.number().int().positive().max(65536).default(1024),
    maxHandles: z.number().int().positive().max(MAX_HANDLES).default(16384),
    maxObjects: z.number().int().positive().default(8192),
    /** Radix-tree nodes for page lists (kernel heap); default scales with physicalMemory. */
    maxPageListNodes: z.number().int().positive().optional(),
    maxPortPackets: z.number().int().positive().default(16384),
    maxZeroIntervals: z.number().int().positive().default(16384),
    maxMappings: z.number().int().positive().default(4096),
    /** Kernel trace ring capacity in events (0 = off): requests, packets, waits, supplies, fails. */
    traceEvents: z.number().int().min(0).max(50_000_000).default(0),
    /** Record only these TraceEvent types (default: all). */
    traceTypes: z.array(z.number().int().min(1).max(30)).optional(),
    /** Deliberate kernel bugs (stress --inject-bug): a bitmask of core/bugs.ts Bug values. */
    injectBugs: z.number().int().min(0).default(0),
    /** A fault that waited this long fails with ZX_ERR_TIMED_OUT (overtime_timeout_seconds); none by default. */
    pageRequestTimeoutMs: z.number().int().positive().optional(),
    /** Polls of a request's event before parking in Atomics.wait (a measured knob; see bench/). */
    waitSpin: z.number().int().min(0).max(1_000_000).default(0),
    /** kernel.enable-debugging-syscalls: allows ZX_VMO_OP_CACHE_INVALIDATE. */
    enableDebuggingSyscalls: z.boolean().default(false),
    /**
     * Every *Locked function asserts that its caller holds the lock it needs (a kernel bug otherwise).
     * On by default under tap (TAP=1) and with PAGERSIM_LOCK_ASSERTIONS=1; off otherwise.
     */
    lockAssertions: z.boolean().default(process.env.TAP === '1' || process.env.PAGERSIM_LOCK_ASSERTIONS === '1'),
  })
  .strict();

export const KernelOptionsSchema = KernelOptionsObject.superRefine((o, ctx) => {
    // The tables must fit one metadata buffer (< 2 GiB): name the capacity that costs the most.
    const config = layoutConfigOf(o);
    const total = metaWordsOf(config);
    if (total <= MAX_META_WORDS) return;
    const by = metaWordsByCapacity(config);
    const [worst] = Object.entries(by).sort((a, b) => b[1] - a[1])[0];
    const option = OPTION_OF_CAPACITY[worst as keyof LayoutConfig] ?? worst;
    const named = worst === 'maxNodes' && o.maxPageListNodes === undefined ? 'physicalMemory' : option;
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: [named],
      message: `is too large: the kernel's tables would need ${Math.ceil((total * 4) / 2 ** 20)} MiB of metadata (at most 2 GiB)`,
    });
  });

/** The option each layout capacity comes from. */
const OPTION_OF_CAPACITY: Record<keyof LayoutConfig, string> = {
  frameCount: 'physicalMemory',
  maxHandles: 'maxHandles',
  maxObjects: 'maxObjects',
  maxThreads: 'maxThreads',
  maxNodes: 'maxPageListNodes',
  maxPortPackets: 'maxPortPackets',
  maxIntervals: 'maxZeroIntervals',
  maxMappings: 'maxMappings',
  traceCapacity: 'traceEvents',
};

/** The layout capacities of parsed options. */
function layoutConfigOf(o: z.output<typeof KernelOptionsObject>): LayoutConfig {
  const frameCount = o.physicalMemory / PAGE_SIZE;
  return {
    frameCount,
    maxHandles: o.maxHandles,
    maxObjects: o.maxObjects,
    maxThreads: o.maxThreads,
    maxNodes: o.maxPageListNodes ?? frameCount * 2 + 4096,
    maxPortPackets: o.maxPortPackets,
    maxIntervals: o.maxZeroIntervals,
    maxMappings: o.maxMappings,
    traceCapacity: o.traceEvents,
  };
}

export type KernelOptions = z.input<typeof KernelOptionsSchema>;

/** What crosses to another thread: only SharedArrayBuffers and numbers (postMessage-safe). */
export interface KernelShare {
  readonly meta: SharedArrayBuffer;
  readonly frames: SharedArrayBuffer;
}

export interface AttachOptions {
  /** The process this JS thread's kernel thread and new handles belong to (Process.token). */
  process?: ProcessToken;
}

export interface KernelStats {
  requests: number;
  packets: number;
  completes: number;
  dequeued: number;
  withdrawn: number;
  fifoDropped: number;
  portDropped: number;
  suppliedPages: number;
  timedOut: number;
  evictions: number;
  discards: number;
  freeFrames: number;
  frames: number;
}

export interface DebugRequest {
  vmoKoid: number;
  command: 'READ' | 'DIRTY';
  offset: number;
  length: number;
  role: 'leader' | 'follower';
  packet: 'queued in port, unread' | 'delivered to the pager' | 'waiting in the VMO FIFO' | 'none';
}

/** The DebugWait of a blocked thread's RequestInfo. */
export function waitOf(r: RequestInfo): DebugWait {
  return { serial: r.serial, outstanding: r.pending, vmoLocked: r.vmoLocked };
}

export interface DebugWait {
  serial: number;
  outstanding: boolean;
  vmoLocked: boolean;
}

export class Kernel {
  readonly state: KernelState;
  #sys: GatedSys | null = null;
  #ownThreadSlot = -1;

  private constructor(views: SharedViews) {
    this.state = new KernelState(views);
    installLifecycle(this.state);
    installEvictor(this.state);
    installPagerProxy(this.state);
  }

  static create(options: KernelOptions = {}): Kernel {
    const parsed = KernelOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RangeError(`Kernel.create: options.${issue.path.join('.') || '(root)'} ${issue.message}`);
    }
    const o = parsed.data;
    const views = createShared(layoutConfigOf(o));
    // Options read once at attach (bugs, trace mask, lock assertions) are set before any KernelState exists.
    const header = new HeaderRecord.Table(views.w, 0);
    header.setBugs(o.injectBugs);
    header.setTraceMask(o.traceTypes ? o.traceTypes.reduce((m, t) => m | (1 << t), 0) : -1);
    header.setRequestTimeoutMs(o.pageRequestTimeoutMs ?? 0);
    header.setWaitSpin(o.waitSpin);
    header.setDebugSyscalls(o.enableDebuggingSyscalls ? 1 : 0);
    header.setLockAssertions(o.lockAssertions ? 1 : 0);
    return new Kernel(views);
  }

  /**
   * The same kernel, same handles, in any worker. With `process`, this JS thread's kernel thread
   * (`sys`) and the handles it creates belong to that process (kernel.processCreate()).
   */
  static attach(share: KernelShare, options: AttachOptions = {}): Kernel {
    const kernel = new Kernel(attachShared(share.meta, share.frames));
    if (options.process !== undefined) {
      const p = processFromToken(kernel.state, options.process);
      if (p < 0) throw new ZxError(p, 'Kernel.attach', 'options.process is not a live process');
      kernel.state.process = p;
    }
    return kernel;
  }

  /** A new process (zx_process_create) with no threads yet; see core/object/process.ts. */
  processCreate(): Process {
    const p = processCreate(this.state);
    if (p < 0) throw new ZxError(ZX_ERR_NO_MEMORY, 'zx_process_create');
    return new Process(this.state, p);
  }

  /**
   * Watches a Worker that attached this kernel: when it exits - returns, throws or is terminated,
   * which runs no code in it - this (main) thread reaps its kernel threads: withdraws their requests,
   * frees their slots and, if that was a process's last thread, runs the process exit. Resolves after
   * the reap with the KernelPanic if the worker died holding a kernel lock, else null.
   */
  watchWorker(worker: Worker): Promise<KernelPanic | null> {
    const jsThread = worker.threadId; // -1 once it exited: read it now
    return new Promise((resolve) => {
      worker.once('exit', () => resolve(reapJsThread(this.state, jsThread)));
    });
  }

  /**
   * zx_task_kill of a thread: it stops at its next kernel exit (a blocked wait is interrupted and
   * its request withdrawn) or kernel entry; its syscall throws ThreadKilled. Asynchronous, as in
   * Zircon. Throws ZxError(ZX_ERR_BAD_STATE) for a thread that is not alive.
   */
  threadKill(tid: number): void {
    const slot = threadSlotOf(this.state, tid);
    if (slot < 0) throw new ZxError(ZX_ERR_BAD_STATE, 'zx_task_kill');
    killThread(this.state, slot);
  }

  /** The KernelPanic this kernel fail-stopped with, or null. */
  get panic(): KernelPanic | null {
    return isPanicked(this.state) ? kernelPanicOf(this.state) : null;
  }

  /** Asserts that the calling thread holds object `obj`'s lock (kernel-internal; see KernelState). */
  assertLockHeld(obj: number): void {
    this.state.assertLockHeld(obj);
  }

  shareable(): KernelShare {
    return { meta: this.state.views.meta, frames: this.state.views.frameBuffer };
  }

  /** A random id of this kernel instance (workers cache one attachment per kernel). */
  get instanceId(): number {
    return this.state.header.instance();
  }

  /** This JS thread's syscalls, acting as one kernel thread created on first use. */
  get sys(): Sys {
    if (!this.#sys) {
      const t = allocThread(this.state);
      if (t === ZX_ERR_BAD_STATE) throw new ZxError(t, 'zx_thread_create', 'the process is dead');
      if (typeof t === 'number') throw new RangeError('Kernel.sys: no free kernel thread (options.maxThreads)');
      this.state.threads.setState(t.slot, ZX_THREAD_STATE_RUNNING);
      this.#ownThreadSlot = t.slot;
      this.#sys = new GatedSys(this.state, t.slot);
    }
    return this.#sys;
  }

  /** Syscalls acting as an existing kernel thread (ThreadPool workers use this). */
  sysForThread(threadSlot: number): Sys {
    return new GatedSys(this.state, threadSlot);
  }

  /**
   * zx_task_suspend of a thread: a thread blocked on a page request stops waiting (its request is
   * withdrawn) and shows ZX_THREAD_STATE_SUSPENDED until threadResume; on resume the interrupted
   * syscall or fault retries and sends a new request. A thread that is running is suspended at its
   * next page-request wait (the simulator cannot stop JavaScript between statements).
   * Throws ZxError(ZX_ERR_BAD_STATE) for a thread that is not alive.
   */
  threadSuspend(tid: number): void {
    const slot = threadSlotOf(this.state, tid);
    if (slot < 0) throw new ZxError(ZX_ERR_BAD_STATE, 'zx_task_suspend');
    const k = this.state;
    k.threads.setSuspend(slot, 1);
    // Wake it out of its request wait; the poke (not a signal) also ends a wait that is about to begin.
    Atomics.compareExchange(k.w, k.requests.eventWord(slot), 0, R_EVENT_POKED);
    futexWake(k.w, k.requests.eventWord(slot));
  }

  /** Drops the suspension (closing the suspend token). */
  threadResume(tid: number): void {
    const slot = threadSlotOf(this.state, tid);
    if (slot < 0) throw new ZxError(ZX_ERR_BAD_STATE, 'zx_handle_close');
    this.state.threads.setSuspend(slot, 0);
    futexWake(this.state.w, this.state.threads.suspendWord(slot));
  }

  /** ZX_THREAD_STATE_* of a kernel thread id; DEAD once it finished. */
  threadState(tid: number): number {
    return threadState(this.state, tid);
  }

  /** The kernel thread `sys` acts as (allocated on first use of `sys`). */
  get sysThreadSlot(): number {
    void this.sys;
    return this.#ownThreadSlot;
  }

  /** Counters of the kernel's page-request machinery (dispatcher.pager.* and friends). */
  stats(): KernelStats {
    const h = this.state.header;
    return {
      requests: h.statRequests(),
      packets: h.statPackets(),
      completes: h.statCompletes(),
      dequeued: h.statDequeued(),
      withdrawn: h.statWithdrawn(),
      fifoDropped: h.statFifoDropped(),
      portDropped: h.statPortDropped(),
      suppliedPages: h.statSuppliedPages(),
      timedOut: h.statTimedOut(),
      evictions: h.statEvictions(),
      discards: h.statDiscards(),
      freeFrames: h.freeFrames(),
      frames: this.state.layout.frameCount,
    };
  }

  /** Percentiles (ns) of how long threads waited on page requests. */
  waitLatency(): HistogramSummary {
    return histogramSummary(this.state.w, this.state.layout.waitHistogram);
  }

  /** The recorded trace (traceEvents > 0), in append order: the events published so far (core/trace.ts). */
  readTrace(): { events: TraceRecord[]; dropped: number } {
    return readTrace(this.state);
  }

  /**
   * debug: every page request that is pending or waited on, as plain objects (RequestInfo, from
   * core/vm/page_source.ts inspectRequests): thread, tid, VMO, type, range in pages, role, serial and
   * where its packet is. Read without locks: racy by nature, meant for hang reports and tools.
   */
  debugRequests(): RequestInfo[] {
    return inspectRequests(this.state);
  }

  /** debug: RequestInfo of kernel thread `tid`, or null if it neither waits nor has a request. */
  debugRequest(tid: number): RequestInfo | null {
    const slot = threadSlotOf(this.state, tid);
    return slot < 0 ? null : inspectRequest(this.state, slot);
  }

  /**
   * debug: the page request kernel thread `tid` waits on, and where its packet is (byte offsets).
   * Racy by nature (no lock is taken), meant for hang reports.
   */
  debugThreadRequest(tid: number): DebugRequest | null {
    const r = this.debugRequest(tid);
    if (!r || r.role === 'none') return null;
    return { vmoKoid: r.vmoKoid, command: r.type, offset: r.offsetPages * PAGE_SIZE, length: r.lengthPages * PAGE_SIZE, role: r.role, packet: r.packet };
  }

  /**
   * debug, for hang verdicts: thread `tid`'s current page-request wait, or null if it is not blocked on
   * one. `serial` names the request it waits on (bumped per new request), so a watchdog sampling twice
   * can tell one long wait from many short ones; `outstanding` is false once the request completed;
   * `vmoLocked` means a waker may still be between its signal and its notify (deferred to its unlock).
   * Lock-free and racy by nature.
   */
  debugThreadWait(tid: number): DebugWait | null {
    const r = this.debugRequest(tid);
    return r && r.blocked ? waitOf(r) : null;
  }

  /**
   * debug: notifies thread `tid`'s request event and returns how many sleepers that woke. A thread whose
   * request completed and which is still parked on its event (1) lost its wake-up; one already woken
   * and only waiting for a CPU is no longer parked (0). Harmless either way: every waiter re-checks.
   */
  debugNotifyWaiter(tid: number): number {
    const slot = threadSlotOf(this.state, tid);
    return slot < 0 ? 0 : futexWake(this.state.w, this.state.requests.eventWord(slot));
  }

  /** debug: outstanding leader requests plus leaders queued in a proxy FIFO, over every VMO (0 when quiet). */
  debugOutstandingRequests(): number {
    let n = 0;
    for (const r of inspectRequests(this.state)) {
      if (r.role !== 'leader') continue;
      n += r.packet === 'waiting in the VMO FIFO' ? 2 : 1;
    }
    return n;
  }

  /**
   * Walks every shared table and cross-checks it (core/invariants.ts); returns the problems found,
   * empty when the kernel's bookkeeping is whole. Call it only when no simulated thread is running
   * kernel code (threads parked on a page request are fine).
   */
  checkInvariants(): string[] {
    return checkInvariants(this.state);
  }

  /** checkInvariants(), throwing an Error that lists the problems (for tests and hunters). */
  assertInvariants(where = ''): void {
    const problems = checkInvariants(this.state);
    if (problems.length > 0) throw new Error(`kernel invariants broken${where ? ` ${where}` : ''}:\n  ${problems.join('\n  ')}`);
  }

  /** Releases this JS thread's kernel thread. Other attachments are unaffected. */
  close(): void {
    if (this.#ownThreadSlot >= 0) {
      exitThread(this.state, this.#ownThreadSlot);
      this.#ownThreadSlot = -1;
      this.#sys = null;
    }
  }
}
