// Futex primitives over Int32 words of a SharedArrayBuffer: the only module that calls
// Atomics.wait / Atomics.notify. Used by every thread. No state of its own.
//
// The mutex is Drepper's three-state futex lock (0 free, 1 locked, 2 locked with waiters): it costs
// one compareExchange to take and one exchange to release when uncontended, and it degrades best
// when threads outnumber the two cores (NODE-NOTES §2c). Kernel critical sections are short and
// never block, so no lock is held across a wait.

import { ZX_TIME_INFINITE } from './constants.js';

const FREE = 0;
const LOCKED = 1;
const CONTENDED = 2;

export function mutexLock(w: Int32Array, index: number): void {
  let c = Atomics.compareExchange(w, index, FREE, LOCKED);
  if (c === FREE) return;
  // A short spin first: critical sections are tens of nanoseconds, a park costs ~25 µs here.
  for (let spin = 0; spin < 64; spin++) {
    if (Atomics.load(w, index) === FREE) {
      c = Atomics.compareExchange(w, index, FREE, LOCKED);
      if (c === FREE) return;
    }
  }
  if (c !== CONTENDED) c = Atomics.exchange(w, index, CONTENDED);
  while (c !== FREE) {
    Atomics.wait(w, index, CONTENDED);
    c = Atomics.exchange(w, index, CONTENDED);
  }
}

export function mutexUnlock(w: Int32Array, index: number): void {
  if (Atomics.exchange(w, index, FREE) === CONTENDED) Atomics.notify(w, index, 1);
}

export function mutexIsHeld(w: Int32Array, index: number): boolean {
  return Atomics.load(w, index) !== FREE;
}

// ---- Time: monotonic nanoseconds as bigint, the same clock in every thread (CLOCK_MONOTONIC). ----

export function monotonicNow(): bigint {
  return process.hrtime.bigint();
}

/** deadlineAfter(ns): now + ns, saturating at ZX_TIME_INFINITE (zx_deadline_after). */
export function deadlineAfter(ns: bigint | number): bigint {
  const delta = typeof ns === 'bigint' ? ns : BigInt(Math.trunc(ns));
  const d = monotonicNow() + delta;
  return d > ZX_TIME_INFINITE ? ZX_TIME_INFINITE : d;
}

/** Milliseconds left until a deadline, for Atomics.wait; Infinity for ZX_TIME_INFINITE. */
export function msUntil(deadline: bigint): number {
  if (deadline >= ZX_TIME_INFINITE) return Infinity;
  const left = deadline - monotonicNow();
  return left <= 0n ? 0 : Number(left) / 1e6;
}

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/**
 * Waits while w[index] === expected, at most timeoutMs (Infinity = no limit), after polling up to
 * `spin` times. Spurious returns are possible: callers re-check their condition in a loop.
 */
export function futexWait(w: Int32Array, index: number, expected: number, timeoutMs: number, spin = 0): WaitResult {
  for (let i = 0; i < spin; i++) {
    if (Atomics.load(w, index) !== expected) return 'not-equal';
  }
  return Atomics.wait(w, index, expected, timeoutMs);
}

export function futexWake(w: Int32Array, index: number, count = Infinity): number {
  return Atomics.notify(w, index, count);
}
