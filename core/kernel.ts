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
import {
  MAX_HANDLES,
  E_QUEUED,
  H_FREE_FRAMES,
  H_STAT_COMPLETES,
  H_STAT_DEQUEUED,
  H_STAT_DISCARDS,
  H_STAT_EVICTIONS,
  H_STAT_FIFO_DROPPED,
  H_STAT_PACKETS,
  H_STAT_PORT_DROPPED,
  H_STAT_REQUESTS,
  H_STAT_SUPPLIED_PAGES,
  H_STAT_TIMED_OUT,
  H_STAT_WITHDRAWN,
  O_KOID,
  O_TYPE,
  ObjType,
  PX_ACTIVE,
  PX_FIFO_HEAD,
  PX_PACKET,
  R_FIFO_NEXT,
  R_IN_FIFO,
  R_LEADER,
  R_LEN,
  R_OFFSET,
  R_OUT_NEXT,
  R_EVENT,
  R_EVENT_POKED,
  R_STATE,
  R_TYPE,
  T_SUSPEND,
  R_VMO,
  R_SERIAL,
  O_LOCK,
  T_BLOCKED_VMO,
  RequestState,
  V_OUT_DIRTY,
  V_OUT_READ,
} from '../shared/layout.js';
import { histogramSummary, type HistogramSummary } from '../shared/histogram.js';
import { readTrace, type TraceRecord } from './trace.js';
import { H_BUGS, H_DEBUG_SYSCALLS, H_LOCK_ASSERTIONS, H_INSTANCE, H_TRACE_MASK, H_REQUEST_TIMEOUT_MS, H_WAIT_SPIN, T_STATE, attachShared, createShared, type SharedViews } from '../shared/layout.js';
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
import { ZX_THREAD_STATE_BLOCKED_PAGER, ZX_THREAD_STATE_RUNNING } from '../shared/constants.js';

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
    const [worst] = Object.entries(by).sort((a, b) => b[1] - a[1])[0]!;
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
  }

  static create(options: KernelOptions = {}): Kernel {
    const parsed = KernelOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RangeError(`Kernel.create: options.${issue.path.join('.') || '(root)'} ${issue.message}`);
    }
    const o = parsed.data;
    const views = createShared(layoutConfigOf(o));
    views.w[H_BUGS] = o.injectBugs;
    views.w[H_TRACE_MASK] = o.traceTypes ? o.traceTypes.reduce((m, t) => m | (1 << t), 0) : -1;
    views.w[H_REQUEST_TIMEOUT_MS] = o.pageRequestTimeoutMs ?? 0;
    views.w[H_WAIT_SPIN] = o.waitSpin;
    views.w[H_DEBUG_SYSCALLS] = o.enableDebuggingSyscalls ? 1 : 0;
    views.w[H_LOCK_ASSERTIONS] = o.lockAssertions ? 1 : 0;
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
    return this.state.w[H_INSTANCE]!;
  }

  /** This JS thread's syscalls, acting as one kernel thread created on first use. */
  get sys(): Sys {
    if (!this.#sys) {
      const t = allocThread(this.state);
      if (t === ZX_ERR_BAD_STATE) throw new ZxError(t, 'zx_thread_create', 'the process is dead');
      if (typeof t === 'number') throw new RangeError('Kernel.sys: no free kernel thread (options.maxThreads)');
      Atomics.store(this.state.w, this.state.thr(t.slot) + T_STATE, ZX_THREAD_STATE_RUNNING);
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
    const t = this.state.thr(slot);
    Atomics.store(this.state.w, t + T_SUSPEND, 1);
    // Wake it out of its request wait; the poke (not a signal) also ends a wait that is about to begin.
    Atomics.compareExchange(this.state.w, t + R_EVENT, 0, R_EVENT_POKED);
    Atomics.notify(this.state.w, t + R_EVENT);
  }

  /** Drops the suspension (closing the suspend token). */
  threadResume(tid: number): void {
    const slot = threadSlotOf(this.state, tid);
    if (slot < 0) throw new ZxError(ZX_ERR_BAD_STATE, 'zx_handle_close');
    const t = this.state.thr(slot);
    Atomics.store(this.state.w, t + T_SUSPEND, 0);
    Atomics.notify(this.state.w, t + T_SUSPEND);
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
    const w = this.state.w;
    const get = (i: number): number => Atomics.load(w, i);
    return {
      requests: get(H_STAT_REQUESTS),
      packets: get(H_STAT_PACKETS),
      completes: get(H_STAT_COMPLETES),
      dequeued: get(H_STAT_DEQUEUED),
      withdrawn: get(H_STAT_WITHDRAWN),
      fifoDropped: get(H_STAT_FIFO_DROPPED),
      portDropped: get(H_STAT_PORT_DROPPED),
      suppliedPages: get(H_STAT_SUPPLIED_PAGES),
      timedOut: get(H_STAT_TIMED_OUT),
      evictions: get(H_STAT_EVICTIONS),
      discards: get(H_STAT_DISCARDS),
      freeFrames: get(H_FREE_FRAMES),
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
   * debug: the page request kernel thread `tid` waits on, and where its packet is. Racy by nature
   * (no lock is taken), meant for hang reports.
   */
  debugThreadRequest(tid: number): DebugRequest | null {
    const k = this.state;
    const w = k.w;
    const slot = threadSlotOf(k, tid);
    if (slot < 0) return null;
    const t = k.thr(slot);
    const role = w[t + R_STATE]!;
    if (role === RequestState.None) return null;
    const vmo = w[t + R_VMO]!;
    const o = k.obj(vmo);
    const leader = role === RequestState.Leader ? slot : w[t + R_LEADER]!;
    let packet: DebugRequest['packet'] = 'none';
    if (leader >= 0 && w[o + PX_ACTIVE] === leader) packet = w[k.pkt(w[o + PX_PACKET]!) + E_QUEUED] === 1 ? 'queued in port, unread' : 'delivered to the pager';
    else if (leader >= 0 && w[k.thr(leader) + R_IN_FIFO] === 1) packet = 'waiting in the VMO FIFO';
    return {
      vmoKoid: w[o + O_KOID]!,
      command: w[t + R_TYPE] === 0 ? 'READ' : 'DIRTY',
      offset: w[t + R_OFFSET]! * PAGE_SIZE,
      length: w[t + R_LEN]! * PAGE_SIZE,
      role: role === RequestState.Leader ? 'leader' : 'follower',
      packet,
    };
  }

  /**
   * debug, for hang verdicts: thread `tid`'s current page-request wait, or null if it is not blocked on
   * one. `serial` names the request it waits on (bumped per new request), so a watchdog sampling twice
   * can tell one long wait from many short ones; `outstanding` is false once the request completed;
   * `vmoLocked` means a waker may still be between its signal and its notify (deferred to its unlock).
   * Lock-free and racy by nature.
   */
  debugThreadWait(tid: number): DebugWait | null {
    const k = this.state;
    const w = k.w;
    const slot = threadSlotOf(k, tid);
    if (slot < 0) return null;
    const t = k.thr(slot);
    if (Atomics.load(w, t + T_STATE) !== ZX_THREAD_STATE_BLOCKED_PAGER) return null;
    const vmo = w[t + T_BLOCKED_VMO]!;
    return {
      serial: w[t + R_SERIAL]!,
      outstanding: w[t + R_STATE] !== RequestState.None,
      vmoLocked: vmo >= 0 && Atomics.load(w, k.obj(vmo) + O_LOCK) !== 0,
    };
  }

  /**
   * debug: notifies thread `tid`'s request event and returns how many sleepers that woke. A thread whose
   * request completed and which is still parked on its event (1) lost its wake-up; one already woken
   * and only waiting for a CPU is no longer parked (0). Harmless either way: every waiter re-checks.
   */
  debugNotifyWaiter(tid: number): number {
    const slot = threadSlotOf(this.state, tid);
    return slot < 0 ? 0 : Atomics.notify(this.state.w, this.state.thr(slot) + R_EVENT);
  }

  /** debug: outstanding leader requests and queued FIFO entries of every VMO (should be 0 when quiet). */
  debugOutstandingRequests(): number {
    const k = this.state;
    const w = k.w;
    let n = 0;
    for (let v = 0; v < k.layout.maxObjects; v++) {
      const o = k.obj(v);
      if (w[o + O_TYPE] !== ObjType.Vmo) continue;
      for (const head of [V_OUT_READ, V_OUT_DIRTY]) for (let r = w[o + head]!; r >= 0; r = w[k.thr(r) + R_OUT_NEXT]!) n++;
      for (let r = w[o + PX_FIFO_HEAD]!; r >= 0; r = w[k.thr(r) + R_FIFO_NEXT]!) n++;
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
