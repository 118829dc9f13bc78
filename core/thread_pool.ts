// ThreadPool: simulated threads over a piscina pool (docs/api.md "Simulated threads"). Each spawn allocates
// a kernel thread (its tid and PageRequest) on the calling thread, then runs the op in a worker that
// makes its syscalls itself against shared memory. The pool never queues a thread behind blocked
// ones: it grows to maxThreads workers and past that spawn throws ZX_ERR_NO_RESOURCES (a full pool of
// blocked faulting threads could never run a queued pager task - docs/node-notes.md §1b pitfall 1). Pager
// services therefore run in their own Worker, never in this pool.
//
// Death. SimThread.kill() is zx_task_kill: the thread stops at a syscall boundary (core/object/
// process.ts) and join() rejects with ThreadKilled. close() kills every live thread, waits (up to
// closeTimeoutMs) for each to leave the kernel and end, and only then destroys the workers: a thread
// still running user code past the deadline is terminated (it holds no kernel lock... unless it took
// one behind the kernel's back, which the reap notices and turns into a KernelPanic), while one still
// inside the kernel is never terminated there: the kernel fail-stops with a KernelPanic instead. A
// kernel thread slot is freed only after its page request was withdrawn.

import { Piscina } from 'piscina';
import { ZX_THREAD_STATE_DEAD } from '../shared/constants.js';
import { ZX_ERR_NO_RESOURCES } from '../shared/status.js';
import type { BuiltinOp, ThreadOutcome, ThreadTask } from './thread_protocol.js';
import { KernelPanic, ThreadKilled, ZxError, ZxException } from './errors.js';
import type { Kernel } from './kernel.js';
import { allocThread } from './object/handle_table.js';
import { exitThread, killThread, pokeThread, reapDeadThread, threadInKernel } from './object/process.js';
import { raiseKernelPanic } from './panic.js';

export interface ThreadPoolOptions {
  /** Threads that may exist at once; spawn past it throws ZX_ERR_NO_RESOURCES. */
  maxThreads?: number;
  /** How long close() waits for killed threads to end before it terminates them (default 10 s). */
  closeTimeoutMs?: number;
}

export type ThreadOp = BuiltinOp | { module: string | URL; export: string };

const WORKER_URL = new URL('../workers/thread_worker.js', import.meta.url);
/** A killed thread is woken again this often until it ends (a wake can fall just before its wait). */
const KILL_REPOKE_MS = 5;

const ended = (): true => true;

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

  /**
   * zx_task_kill: the thread stops at its next syscall boundary - a blocked wait is interrupted and
   * its request withdrawn - and join() rejects with ThreadKilled. Returns at once (use join()).
   */
  kill(): void {
    this.#pool.kill(this.tid);
  }

  /** Resolves once the thread ended (any outcome), false if it had not by timeoutMs. */
  async ended(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.#outcome.then(ended, ended), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The op's result; rethrows the thread's ZxError, ZxException, ThreadKilled or KernelPanic. */
  async join(): Promise<unknown> {
    const outcome = await this.#outcome;
    if (outcome.ok) return outcome.value;
    switch (outcome.kind) {
      case 'ZxError':
        throw new ZxError(outcome.status, outcome.syscall);
      case 'ZxException':
        throw new ZxException(outcome.type, outcome.status, outcome.address);
      case 'ThreadKilled':
        throw new ThreadKilled(outcome.tid, outcome.syscall);
      case 'KernelPanic':
        throw new KernelPanic(outcome.message, outcome.tid, outcome.syscall, outcome.lock);
      default: {
        const err = new Error(outcome.message);
        if (outcome.stack) err.stack = outcome.stack;
        throw err;
      }
    }
  }
}

interface LiveThread {
  slot: number;
  thread: SimThread;
  /** Re-pokes a killed thread until it ends. */
  repoke: NodeJS.Timeout | null;
}

export class ThreadPool {
  readonly kernel: Kernel;
  readonly maxThreads: number;
  readonly closeTimeoutMs: number;
  readonly #piscina: Piscina;
  readonly #live = new Map<number, LiveThread>();
  #closed = false;

  constructor(kernel: Kernel, options: ThreadPoolOptions = {}) {
    const maxThreads = options.maxThreads ?? 16;
    if (!Number.isInteger(maxThreads) || maxThreads < 1) throw new RangeError('options.maxThreads must be a positive integer');
    const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    if (!(closeTimeoutMs >= 0)) throw new RangeError('options.closeTimeoutMs must be a non-negative number');
    this.kernel = kernel;
    this.maxThreads = maxThreads;
    this.closeTimeoutMs = closeTimeoutMs;
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
      tid: t.tid,
      op: typeof op === 'string' ? op : { module: op.module.toString(), export: op.export },
      args,
    };
    // The outcome is settled only after the kernel thread is gone (its request withdrawn, its slot
    // free), so whoever joins it sees the kernel without it.
    const outcome = (this.#piscina.run(task) as Promise<ThreadOutcome>).then(
      (o) => this.#ended(t.tid, o, false),
      (e: unknown) => this.#ended(t.tid, { ok: false, kind: 'Error', message: e instanceof Error ? e.message : String(e) }, true),
    );
    const thread = new SimThread(this, t.tid, outcome);
    this.#live.set(t.tid, { slot: t.slot, thread, repoke: null });
    return thread;
  }

  /** A thread's task settled: `died` when its worker was terminated or crashed (it ran no unwinding). */
  #ended(tid: number, outcome: ThreadOutcome, died: boolean): ThreadOutcome {
    const live = this.#live.get(tid);
    if (!live) return outcome;
    this.#live.delete(tid);
    if (live.repoke) clearInterval(live.repoke);
    const k = this.kernel.state;
    let panic: KernelPanic | null = null;
    try {
      if (died) panic = reapDeadThread(k, live.slot);
      else exitThread(k, live.slot);
    } catch (e) {
      if (!(e instanceof KernelPanic)) throw e;
      panic = e; // the kernel panicked: the thread's request lock is dead, its slot stays taken
    }
    if (panic) return { ok: false, kind: 'KernelPanic', message: panic.message, tid: panic.tid, syscall: panic.syscall, lock: panic.lock };
    return outcome;
  }

  /** zx_task_kill of one of this pool's threads (SimThread.kill). */
  kill(tid: number): void {
    const live = this.#live.get(tid);
    if (!live) return; // already ended
    killThread(this.kernel.state, live.slot);
    live.repoke ??= setInterval(() => pokeThread(this.kernel.state, live.slot), KILL_REPOKE_MS).unref();
  }

  /**
   * Kills every live thread and waits up to closeTimeoutMs for each to end, then destroys the
   * workers. A thread still in user code is terminated; one still inside the kernel is not: the
   * kernel panics and close() rejects with the KernelPanic (so does it if a terminated thread held
   * a kernel lock). Threads that ended are freed as they end, after their request was withdrawn.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const threads = [...this.#live.values()];
    for (const { thread } of threads) thread.kill();
    const deadline = performance.now() + this.closeTimeoutMs;
    for (const { thread } of threads) await thread.ended(Math.max(0, deadline - performance.now()));
    let panic: KernelPanic | null = null;
    for (const { slot, thread } of this.#live.values()) {
      if (threadInKernel(this.kernel.state, slot)) {
        panic ??= raiseKernelPanic(this.kernel.state, thread.tid, this.kernel.state.threads.syscall(slot), -1);
      }
    }
    await this.#piscina.destroy();
    for (const { thread } of threads) {
      try {
        await thread.join();
      } catch (e) {
        if (e instanceof KernelPanic) panic ??= e;
      }
    }
    if (panic) throw panic;
  }
}
