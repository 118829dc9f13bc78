// Futex primitives over Int32 words of a SharedArrayBuffer: the only module that calls
// Atomics.wait / Atomics.notify. Used by every thread. No state of its own.
//
// The mutex is Drepper's three-state futex lock (0 free, 1 locked, 2 locked with waiters): it costs
// one compareExchange to take and one exchange to release when uncontended, and it degrades best
// when threads outnumber the two cores (docs/node-notes.md §2c). Kernel critical sections are short and
// never block, so no lock is held across a wait. A fourth state, PANICKED, fail-stops a lock whose
// owner died inside its critical section.

import { ZX_TIME_INFINITE } from './constants.js';

const FREE = 0;
const LOCKED = 1;
const CONTENDED = 2;
/**
 * A kernel lock after a kernel panic (core/object/process.ts): never taken again. mutexLock returns
 * false instead of waiting, so no thread sleeps forever on a lock a dead worker took with it.
 */
const PANICKED = 3;

/**
 * Takes the lock; returns false (without taking it) only if the lock was marked PANICKED. The slow
 * path uses compareExchange, never a blind exchange, so nothing but an unlock overwrites PANICKED.
 */
export function mutexLock(w: Int32Array, index: number): boolean {
  let c = Atomics.compareExchange(w, index, FREE, LOCKED);
  if (c === FREE) return true;
  // A short spin first: critical sections are tens of nanoseconds, a park costs ~25 µs here.
  for (let spin = 0; spin < 64; spin++) {
    if (Atomics.load(w, index) === FREE) {
      c = Atomics.compareExchange(w, index, FREE, LOCKED);
      if (c === FREE) return true;
    }
  }
  for (;;) {
    c = Atomics.load(w, index);
    if (c === FREE) {
      // Taken as CONTENDED: another waiter may still be parked, and our unlock must wake it.
      if (Atomics.compareExchange(w, index, FREE, CONTENDED) === FREE) return true;
    } else if (c === PANICKED) {
      return false;
    } else if (c === CONTENDED || Atomics.compareExchange(w, index, LOCKED, CONTENDED) === LOCKED) {
      Atomics.wait(w, index, CONTENDED);
    }
  }
}

/** Takes the lock only if it is free right now; never waits. */
export function mutexTryLock(w: Int32Array, index: number): boolean {
  return Atomics.compareExchange(w, index, FREE, LOCKED) === FREE;
}

export function mutexUnlock(w: Int32Array, index: number): void {
  if (Atomics.exchange(w, index, FREE) === CONTENDED) Atomics.notify(w, index, 1);
}

/**
 * Marks a held lock PANICKED and wakes all its waiters (they return false from mutexLock); a free
 * lock is left alone. Returns true if the lock was held.
 */
export function mutexMarkPanicked(w: Int32Array, index: number): boolean {
  for (;;) {
    const c = Atomics.load(w, index);
    if (c === FREE) return false;
    if (c === PANICKED || Atomics.compareExchange(w, index, c, PANICKED) === c) {
      Atomics.notify(w, index);
      return true;
    }
  }
}

export function mutexIsHeld(w: Int32Array, index: number): boolean {
  return Atomics.load(w, index) !== FREE;
}

/** True when the lock is held and another thread waits for it. */
export function mutexIsContended(w: Int32Array, index: number): boolean {
  return Atomics.load(w, index) === CONTENDED;
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
