// ThreadPool: simulated threads over a piscina pool (API.md "Simulated threads"). Each spawn allocates
// a kernel thread (its tid and PageRequest) on the calling thread, then runs the op in a worker that
// makes its syscalls itself against shared memory. The pool never queues a thread behind blocked
// ones: it grows to maxThreads workers and past that spawn throws ZX_ERR_NO_RESOURCES (a full pool of
// blocked faulting threads could never run a queued pager task - NODE-NOTES §1b pitfall 1). Pager
// services therefore run in their own Worker, never in this pool.

import { Piscina } from 'piscina';
import { ZX_THREAD_STATE_BLOCKED_PAGER, ZX_THREAD_STATE_DEAD } from '../shared/constants.js';
import { R_VMO, T_STATE } from '../shared/layout.js';
import { ZX_ERR_NO_RESOURCES } from '../shared/status.js';
import type { BuiltinOp, ThreadOutcome, ThreadTask } from '../workers/thread_protocol.js';
import { ZxError, ZxException } from './errors.js';
import type { Kernel } from './kernel.js';
import { allocThread, freeThread } from './object/handle_table.js';
import { cancelRequestLocked, isRequestInitialized } from './vm/page_source.js';

export interface ThreadPoolOptions {
  /** Threads that may exist at once; spawn past it throws ZX_ERR_NO_RESOURCES. */
  maxThreads?: number;
}

export type ThreadOp = BuiltinOp | { module: string | URL; export: string };

const WORKER_URL = new URL('../workers/thread_worker.js', import.meta.url);

/** One simulated thread: its kernel tid, its state, and its outcome. */
export class SimThread {
  readonly tid: number;
  readonly #pool: ThreadPool;
  readonly #outcome: Promise<ThreadOutcome>;
  #settled = false;

  constructor(pool: ThreadPool, tid: number, outcome: Promise<ThreadOutcome>) {
    this.#pool = pool;
    this.tid = tid;
    this.#outcome = outcome.finally(() => {
      this.#settled = true;
    });
  }

  /** True once the thread has finished and its result is available. */
  get finished(): boolean {
    return this.#settled;
  }

  /**
   * Resolves true as soon as kernel.threadState(tid) equals `state`; false when the thread died first
   * or timeoutMs passed. Polls, as Zircon's TestThread::WaitForBlocked does.
   */
  async waitForState(state: number, { timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const now = this.#pool.kernel.threadState(this.tid);
      if (now === state) return true;
      if (now === ZX_THREAD_STATE_DEAD || this.#settled) return false;
      if (performance.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** The op's result; rethrows the thread's ZxError or ZxException. */
  async join(): Promise<unknown> {
    const outcome = await this.#outcome;
    if (outcome.ok) return outcome.value;
    switch (outcome.kind) {
      case 'ZxError':
        throw new ZxError(outcome.status, outcome.syscall);
      case 'ZxException':
        throw new ZxException(outcome.type, outcome.status, outcome.address);
      default: {
        const err = new Error(outcome.message);
        if (outcome.stack) err.stack = outcome.stack;
        throw err;
      }
    }
  }
}

export class ThreadPool {
  readonly kernel: Kernel;
  readonly maxThreads: number;
  readonly #piscina: Piscina;
  readonly #live = new Map<number, { slot: number; thread: SimThread }>();
  #closed = false;

  constructor(kernel: Kernel, options: ThreadPoolOptions = {}) {
    const maxThreads = options.maxThreads ?? 16;
    if (!Number.isInteger(maxThreads) || maxThreads < 1) throw new RangeError('options.maxThreads must be a positive integer');
    this.kernel = kernel;
    this.maxThreads = maxThreads;
    this.#piscina = new Piscina({
      filename: WORKER_URL.href,
      name: 'runThread',
      minThreads: 0,
      maxThreads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      // Workers run compiled JS and need no loader: do not inherit a test runner's --import hooks.
      execArgv: [],
    });
  }

  spawn(op: ThreadOp, args: unknown = {}): SimThread {
    if (this.#closed) throw new RangeError('ThreadPool.spawn: the pool is closed');
    if (this.#live.size >= this.maxThreads) throw new ZxError(ZX_ERR_NO_RESOURCES, 'zx_thread_create');
    const t = allocThread(this.kernel.state);
    if (typeof t === 'number') throw new ZxError(ZX_ERR_NO_RESOURCES, 'zx_thread_create');
    const task: ThreadTask = {
      share: this.kernel.shareable(),
      threadSlot: t.slot,
      op: typeof op === 'string' ? op : { module: op.module.toString(), export: op.export },
      args,
    };
    const outcome = (this.#piscina.run(task) as Promise<ThreadOutcome>).then(
      (o) => o,
      (e: unknown): ThreadOutcome => ({ ok: false, kind: 'Error', message: e instanceof Error ? e.message : String(e) }),
    );
    const thread = new SimThread(this, t.tid, outcome);
    this.#live.set(t.tid, { slot: t.slot, thread });
    void outcome.then(() => {
      if (this.#live.delete(t.tid)) freeThread(this.kernel.state, t.slot);
    });
    return thread;
  }

  /**
   * Terminates the workers. Threads still blocked on a page request hold no kernel lock, so their
   * requests are withdrawn and their kernel threads freed; a thread killed while running inside a
   * syscall is reported, since it may have left kernel state half-updated.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#piscina.destroy();
    const k = this.kernel.state;
    for (const [tid, { slot }] of this.#live) {
      this.#live.delete(tid);
      const state = Atomics.load(k.w, k.thr(slot) + T_STATE);
      if (isRequestInitialized(k, slot)) {
        if (state !== ZX_THREAD_STATE_BLOCKED_PAGER) {
          throw new Error(`ThreadPool.close: thread ${tid} was terminated inside the kernel`);
        }
        const vmo = k.w[k.thr(slot) + R_VMO]!;
        k.lockObject(vmo);
        cancelRequestLocked(k, slot);
        k.unlockObject(vmo);
      }
      freeThread(k, slot);
    }
  }
}
