// Kernel: boots a pagersim kernel (Kernel.create) or attaches to one another thread booted
// (Kernel.attach). All kernel state is in the shared buffers (shared/layout.ts); a Kernel object is
// just this JS thread's view of them plus its own kernel thread (`sys`). Options are validated with
// zod at this edge, and rejected with a message that names the field.

import { z } from 'zod';
import { PAGE_SIZE } from '../shared/constants.js';
import { H_BUGS, H_DEBUG_SYSCALLS, H_INSTANCE, H_REQUEST_TIMEOUT_MS, H_WAIT_SPIN, T_STATE, attachShared, createShared, type SharedViews } from '../shared/layout.js';
import { MAX_FRAMES } from '../shared/page_slot.js';
import { KernelState } from './kernel_state.js';
import { allocThread, freeThread, threadState } from './object/handle_table.js';
import { installLifecycle } from './object/lifecycle.js';
import { installEvictor } from './vm/evictor.js';
import { ThreadSys } from './sys.js';
import type { Sys } from './sys_types.js';
import { ZX_THREAD_STATE_RUNNING } from '../shared/constants.js';

export const KernelOptionsSchema = z
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
    maxHandles: z.number().int().positive().max(1 << 20).default(16384),
    maxObjects: z.number().int().positive().default(8192),
    /** Radix-tree nodes for page lists (kernel heap); default scales with physicalMemory. */
    maxPageListNodes: z.number().int().positive().optional(),
    maxPortPackets: z.number().int().positive().default(16384),
    maxZeroIntervals: z.number().int().positive().default(16384),
    maxMappings: z.number().int().positive().default(4096),
    /** Kernel trace ring capacity in events (0 = off): requests, packets, waits, supplies, fails. */
    traceEvents: z.number().int().min(0).max(50_000_000).default(0),
    /** Deliberate kernel bugs (stress --inject-bug): a bitmask of core/bugs.ts Bug values. */
    injectBugs: z.number().int().min(0).default(0),
    /** A fault that waited this long fails with ZX_ERR_TIMED_OUT (overtime_timeout_seconds); none by default. */
    pageRequestTimeoutMs: z.number().int().positive().optional(),
    /** Polls of a request's event before parking in Atomics.wait (a measured knob; see bench/). */
    waitSpin: z.number().int().min(0).max(1_000_000).default(0),
    /** kernel.enable-debugging-syscalls: allows ZX_VMO_OP_CACHE_INVALIDATE. */
    enableDebuggingSyscalls: z.boolean().default(false),
  })
  .strict();

export type KernelOptions = z.input<typeof KernelOptionsSchema>;

/** What crosses to another thread: only SharedArrayBuffers and numbers (postMessage-safe). */
export interface KernelShare {
  readonly meta: SharedArrayBuffer;
  readonly frames: SharedArrayBuffer;
}

export class Kernel {
  readonly state: KernelState;
  #sys: ThreadSys | null = null;
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
    const frameCount = o.physicalMemory / PAGE_SIZE;
    const views = createShared({
      frameCount,
      maxHandles: o.maxHandles,
      maxObjects: o.maxObjects,
      maxThreads: o.maxThreads,
      maxNodes: o.maxPageListNodes ?? frameCount * 2 + 4096,
      maxPortPackets: o.maxPortPackets,
      maxIntervals: o.maxZeroIntervals,
      maxMappings: o.maxMappings,
      traceCapacity: o.traceEvents,
    });
    views.w[H_BUGS] = o.injectBugs;
    views.w[H_REQUEST_TIMEOUT_MS] = o.pageRequestTimeoutMs ?? 0;
    views.w[H_WAIT_SPIN] = o.waitSpin;
    views.w[H_DEBUG_SYSCALLS] = o.enableDebuggingSyscalls ? 1 : 0;
    return new Kernel(views);
  }

  /** The same kernel, same handles, in any worker. */
  static attach(share: KernelShare): Kernel {
    return new Kernel(attachShared(share.meta, share.frames));
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
      if (typeof t === 'number') throw new RangeError('Kernel.sys: no free kernel thread (options.maxThreads)');
      Atomics.store(this.state.w, this.state.thr(t.slot) + T_STATE, ZX_THREAD_STATE_RUNNING);
      this.#ownThreadSlot = t.slot;
      this.#sys = new ThreadSys(this.state, t.slot);
    }
    return this.#sys;
  }

  /** Syscalls acting as an existing kernel thread (ThreadPool workers use this). */
  sysForThread(threadSlot: number): Sys {
    return new ThreadSys(this.state, threadSlot);
  }

  /** ZX_THREAD_STATE_* of a kernel thread id; DEAD once it finished. */
  threadState(tid: number): number {
    return threadState(this.state, tid);
  }

  /** Releases this JS thread's kernel thread. Other attachments are unaffected. */
  close(): void {
    if (this.#ownThreadSlot >= 0) {
      freeThread(this.state, this.#ownThreadSlot);
      this.#ownThreadSlot = -1;
      this.#sys = null;
    }
  }
}
