// TestThread: Zircon's test_thread.h over pagersim's ThreadPool (docs/conformance/pager-tests.md §1.3). A test
// starts one simulated thread running a built-in op or a fixture export, then observes it: blocked on
// the pager, finished, failed with a status, or crashed with a fatal page fault. Main thread only.
// Every wait has a deadline, so a kernel that hangs fails the test instead of stalling it.

import {
  type SimThread,
  ThreadPool,
  ZxError,
  ZxException,
  ZX_EXCP_FATAL_PAGE_FAULT,
  ZX_THREAD_STATE_BLOCKED_PAGER,
} from '../../core/index.js';
import { statusName } from '../../shared/status.js';
import type * as Fixtures from '../fixtures/threads.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

/** A thread body in a worker module: `name(sys, args)` exported from `module`. */
export interface ModuleOp {
  module: string;
  export: string;
}

/** The built-in ops of ThreadPool.spawn, or a fixture export. */
export type ThreadOp = 'vmoRead' | 'vmoWrite' | 'vmoOpRange' | 'memRead' | 'memWrite' | ModuleOp;

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const FIXTURES_URL = new URL('../fixtures/threads.js', import.meta.url).href;

/** The thread bodies test/fixtures/threads.ts exports. */
export type FixtureName = { [K in keyof typeof Fixtures]: (typeof Fixtures)[K] extends (...args: never[]) => unknown ? K : never }[keyof typeof Fixtures];

/** The spec of an export of test/fixtures/threads.ts, for TestThread.start. */
export function fixture(name: FixtureName): ModuleOp {
  return { module: FIXTURES_URL, export: name };
}

/** Resolves to `promise`'s value, or to `onTimeout` once `timeoutMs` passes. */
export async function withTimeout<T, U>(promise: Promise<T>, timeoutMs: number, onTimeout: U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), timeoutMs);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  if (error instanceof ZxError) return `ZxError ${error.code} from ${error.syscall}`;
  if (error instanceof ZxException) return `ZxException ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

const TIMED_OUT = Symbol('timed out');

export class TestThread {
  readonly #pool: ThreadPool;
  #thread: SimThread | null = null;
  #outcome: Promise<Outcome> | null = null;
  #label = '';

  constructor(pool: ThreadPool) {
    this.#pool = pool;
  }

  /** Spawns the thread. The outcome is captured at once, so a failing thread never goes unhandled. */
  start(op: ThreadOp, args: object): this {
    if (this.#thread !== null) throw new Error('TestThread.start: already started');
    const thread = this.#pool.spawn(op, args);
    this.#thread = thread;
    this.#label = typeof op === 'string' ? op : op.export;
    this.#outcome = thread.join().then(
      (value): Outcome => ({ ok: true, value }),
      (error: unknown): Outcome => ({ ok: false, error }),
    );
    return this;
  }

  get tid(): number {
    return this.#started().tid;
  }

  /** True once the thread is blocked on a page request; false at the deadline or if it finished. */
  async waitForBlocked(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
    return this.#started().waitForState(ZX_THREAD_STATE_BLOCKED_PAGER, { timeoutMs });
  }

  /** The op's result. Throws (failing the test) if the op threw or did not finish in time. */
  async wait<T = unknown>(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const outcome = await this.#settle(timeoutMs);
    if (!outcome.ok) throw new Error(`thread ${this.#label} failed: ${describeError(outcome.error)}`, { cause: outcome.error });
    return outcome.value as T;
  }

  /**
   * Expects the op to end with a ZxError (Zircon's WaitForFailure: the syscall returned an error),
   * with exactly `status` when given. Throws (failing the test) otherwise; returns the error.
   */
  async waitForFailure(status?: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ZxError> {
    const outcome = await this.#settle(timeoutMs);
    if (outcome.ok) throw new Error(`thread ${this.#label} succeeded; expected it to fail${status === undefined ? '' : ` with ${statusName(status)}`}`);
    const { error } = outcome;
    if (!(error instanceof ZxError)) throw new Error(`thread ${this.#label}: expected a ZxError, got ${describeError(error)}`, { cause: error });
    if (status !== undefined && error.status !== status) {
      throw new Error(`thread ${this.#label} failed with ${error.code}; expected ${statusName(status)}`, { cause: error });
    }
    return error;
  }

  /**
   * Expects a fatal page fault at exactly `address` whose status (Zircon's synth code) is `status`.
   * For user-mode accesses through mappings; throws (failing the test) otherwise.
   */
  async waitForCrash(address: number, status: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ZxException> {
    const outcome = await this.#settle(timeoutMs);
    if (outcome.ok) throw new Error(`thread ${this.#label} finished; expected a fatal page fault`);
    const { error } = outcome;
    if (!(error instanceof ZxException) || error.type !== ZX_EXCP_FATAL_PAGE_FAULT) {
      throw new Error(`thread ${this.#label}: expected ZX_EXCP_FATAL_PAGE_FAULT, got ${describeError(error)}`, { cause: error });
    }
    if (error.address !== address || error.status !== status) {
      throw new Error(
        `thread ${this.#label}: fault at 0x${error.address.toString(16)} with ${statusName(error.status)}; ` +
          `expected 0x${address.toString(16)} with ${statusName(status)}`,
        { cause: error },
      );
    }
    return error;
  }

  /** True if the thread has ended within `timeoutMs`, however it ended. */
  async hasEnded(timeoutMs = 0): Promise<boolean> {
    this.#started();
    return (await withTimeout(this.#outcome!, timeoutMs, TIMED_OUT)) !== TIMED_OUT;
  }

  #started(): SimThread {
    if (this.#thread === null) throw new Error('TestThread: not started');
    return this.#thread;
  }

  async #settle(timeoutMs: number): Promise<Outcome> {
    this.#started();
    const outcome = await withTimeout(this.#outcome!, timeoutMs, TIMED_OUT);
    if (outcome === TIMED_OUT) throw new Error(`thread ${this.#label} did not finish within ${timeoutMs} ms`);
    return outcome;
  }
}
