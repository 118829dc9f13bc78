// Dirty zero intervals of a pager VMO (Zircon's VmPageList interval sentinels): page-less runs of
// zeros created by growing the VMO or by ZX_VMO_OP_ZERO, reported by query_dirty_ranges with
// ZX_VMO_DIRTY_RANGE_IS_ZERO. Each interval carries an awaiting-clean length counted from its start
// (WRITEBACK_BEGIN sets it, WRITEBACK_END deletes that much from the start, making it absent again).
// Kept as a sorted, non-overlapping, merged singly linked list of interval records (k.intervals);
// every function requires the VMO lock. Costs are O(intervals), never O(pages).
// Records are not reclaimable, so an operation that may need some reserves them before it changes
// anything (reserveIntervals): running out then fails it with ZX_ERR_NO_MEMORY and nothing changed.

import type { KernelState } from '../kernel_state.js';
import { PAST_ANY_PAGE } from './page_list.js';

/** End of the list of a VMO's intervals (zeroHead / next). */
const NO_INTERVAL = -1;

/** The interval containing `page`, or -1. */
export function intervalAtLocked(k: KernelState, vmo: number, page: number): number {
  k.assertHeld(vmo);
  const zi = k.intervals;
  for (let z = k.vmos.zeroHead(vmo); z !== NO_INTERVAL; z = zi.next(z)) {
    if (page < zi.startPages(z)) return -1;
    if (page < zi.endPages(z)) return z;
  }
  return -1;
}

/** Start of the first interval that ends after `page` and starts before `limit`, else `limit`. */
export function nextIntervalStartLocked(k: KernelState, vmo: number, page: number, limit: number): number {
  k.assertHeld(vmo);
  const zi = k.intervals;
  for (let z = k.vmos.zeroHead(vmo); z !== NO_INTERVAL; z = zi.next(z)) {
    if (zi.endPages(z) <= page) continue;
    const s = Math.max(zi.startPages(z), page);
    return s < limit ? s : limit;
  }
  return limit;
}

/**
 * Records reserved by the operation in progress on this thread (module state is per worker thread;
 * operations run to completion under their VMO lock, so one list serves them all). addIntervalLocked
 * and removeRangeLocked take from it before the heap.
 */
const reserved: number[] = [];

/** Reserves `count` records from the heap; false (nothing kept) if there are not that many. */
export function reserveIntervals(k: KernelState, count: number): boolean {
  for (let i = 0; i < count; i++) {
    const z = k.allocInterval();
    if (z < 0) {
      releaseReservedIntervals(k);
      return false;
    }
    reserved.push(z);
  }
  return true;
}

/** Returns the records the operation reserved and did not use. */
export function releaseReservedIntervals(k: KernelState): void {
  while (reserved.length > 0) k.freeInterval(reserved.pop()!);
}

/**
 * A new interval [start, end) awaiting no clean, linked before `next`, from the operation's reserve
 * or else the heap; -1 if no record is left. The caller links it after its predecessor.
 */
function newInterval(k: KernelState, start: number, end: number, next: number): number {
  const n = reserved.length > 0 ? (reserved.pop() as number) : k.allocInterval();
  if (n < 0) return -1;
  const zi = k.intervals;
  zi.setStartPages(n, start);
  zi.setEndPages(n, end);
  zi.setAwaitingCleanPages(n, 0);
  zi.setNext(n, next);
  return n;
}

/** Makes `z` follow `prev` (-1: the VMO's first interval). */
function linkAfterLocked(k: KernelState, vmo: number, prev: number, z: number): void {
  if (prev !== NO_INTERVAL) k.intervals.setNext(prev, z);
  else k.vmos.setZeroHead(vmo, z);
}

/** Unlinks `z` (which follows `prev`) and frees it; returns the interval that followed it. */
function deleteIntervalLocked(k: KernelState, vmo: number, prev: number, z: number): number {
  const next = k.intervals.next(z);
  linkAfterLocked(k, vmo, prev, next);
  k.freeInterval(z);
  return next;
}

/** Whether removeRangeLocked(start, end) must split an interval (the one case that needs a record). */
export function removeRangeSplitsLocked(k: KernelState, vmo: number, start: number, end: number): boolean {
  k.assertHeld(vmo);
  const z = intervalAtLocked(k, vmo, start);
  return z >= 0 && intervalStart(k, z) < start && intervalEnd(k, z) > end;
}

export function intervalStart(k: KernelState, z: number): number {
  return k.intervals.startPages(z);
}
export function intervalEnd(k: KernelState, z: number): number {
  return k.intervals.endPages(z);
}
export function intervalNext(k: KernelState, z: number): number {
  return k.intervals.next(z);
}
/** Awaiting-clean length of `z` from its start, in pages (0: no WRITEBACK_BEGIN covers it). */
export function intervalAwaitingCleanPages(k: KernelState, z: number): number {
  return k.intervals.awaitingCleanPages(z);
}
export function firstInterval(k: KernelState, vmo: number): number {
  return k.vmos.zeroHead(vmo);
}

/**
 * Makes [start, end) a dirty zero interval, merging with intervals it touches or overlaps. The caller
 * has removed every page and marker in the range. A merged interval restarts its awaiting-clean
 * length at the new start (it was reshaped after any BEGIN, so that END must not clean it).
 * Returns false if no interval record could be allocated.
 */
export function addIntervalLocked(k: KernelState, vmo: number, start: number, end: number): boolean {
  k.assertHeld(vmo);
  const zi = k.intervals;
  let prev = NO_INTERVAL;
  let z = k.vmos.zeroHead(vmo);
  while (z !== NO_INTERVAL && zi.endPages(z) < start) {
    prev = z;
    z = zi.next(z);
  }
  // z is the first interval that ends at or after `start`: it may touch or overlap the new one.
  if (z !== NO_INTERVAL && zi.startPages(z) <= end) {
    let newEnd = Math.max(end, zi.endPages(z));
    let next = zi.next(z);
    while (next !== NO_INTERVAL && zi.startPages(next) <= newEnd) {
      newEnd = Math.max(newEnd, zi.endPages(next));
      next = deleteIntervalLocked(k, vmo, z, next);
    }
    if (start < zi.startPages(z)) {
      // Reshaped at its start after any BEGIN: that writeback must not clean it (OpZeroWriteback).
      zi.setStartPages(z, start);
      zi.setAwaitingCleanPages(z, 0);
    }
    zi.setEndPages(z, newEnd);
    return true;
  }
  const n = newInterval(k, start, end, z);
  if (n < 0) return false;
  linkAfterLocked(k, vmo, prev, n);
  return true;
}

/**
 * Removes [start, end) from every interval (a write materialised pages there, or the VMO shrank), as
 * Zircon's page list does it page by page: a piece that loses its head keeps the rest of its
 * awaiting-clean length, counted from its new start; a piece that loses its tail keeps its length
 * unchanged, even past its new end (WritebackEndLocked: such a length applies to an interval added
 * later beyond the truncated one, e.g. by growing the VMO again); the right piece of a split starts
 * with none. Returns false if a split needed a record and none was left (the range is then untouched).
 */
export function removeRangeLocked(k: KernelState, vmo: number, start: number, end: number): boolean {
  k.assertHeld(vmo);
  const zi = k.intervals;
  let prev = NO_INTERVAL;
  for (let z = k.vmos.zeroHead(vmo); z !== NO_INTERVAL; ) {
    const zs = zi.startPages(z);
    const ze = zi.endPages(z);
    if (zs >= end) break;
    if (ze <= start) {
      prev = z;
      z = zi.next(z);
      continue;
    }
    const keepLeft = zs < start;
    const keepRight = ze > end;
    if (keepLeft && keepRight) {
      const n = newInterval(k, end, ze, zi.next(z));
      if (n < 0) return false;
      zi.setEndPages(z, start);
      zi.setNext(z, n);
      return true;
    }
    if (keepLeft) {
      zi.setEndPages(z, start);
      prev = z;
      z = zi.next(z);
      continue;
    }
    if (keepRight) {
      zi.setStartPages(z, end);
      zi.setAwaitingCleanPages(z, Math.max(0, zi.awaitingCleanPages(z) - (end - zs)));
      return true;
    }
    z = deleteIntervalLocked(k, vmo, prev, z); // entirely inside the removed range
  }
  return true;
}

/** WRITEBACK_BEGIN: intervals starting inside [start, end) await cleaning up to `end` (never less). */
export function beginIntervalsLocked(k: KernelState, vmo: number, start: number, end: number): void {
  k.assertHeld(vmo);
  const zi = k.intervals;
  for (let z = k.vmos.zeroHead(vmo); z !== NO_INTERVAL; z = zi.next(z)) {
    const zs = zi.startPages(z);
    if (zs >= end) return;
    if (zs < start) continue; // a BEGIN that does not cover an interval's start has no effect on it
    const len = Math.min(zi.endPages(z), end) - zs;
    if (len > zi.awaitingCleanPages(z)) zi.setAwaitingCleanPages(z, len);
  }
}

/**
 * WRITEBACK_END over the intervals starting inside [start, end), in order, with a running
 * awaiting-clean end (Zircon's WritebackEndLocked): each start extends it to start + its length, a
 * later interval it wholly covers is deleted (its offsets become absent: the pager must supply them
 * again), one it covers in part loses that head; the end of the range caps the clip.
 */
export function endIntervalsLocked(k: KernelState, vmo: number, start: number, end: number): void {
  k.assertHeld(vmo);
  const zi = k.intervals;
  let prev = NO_INTERVAL;
  let awaitEnd = start;
  for (let z = k.vmos.zeroHead(vmo); z !== NO_INTERVAL; ) {
    const zs = zi.startPages(z);
    const ze = zi.endPages(z);
    if (zs >= end) return;
    if (zs >= start) {
      awaitEnd = Math.max(awaitEnd, zs + zi.awaitingCleanPages(z));
      if (ze <= end && ze <= awaitEnd) {
        z = deleteIntervalLocked(k, vmo, prev, z);
        continue;
      }
      const clean = Math.min(awaitEnd, end, ze) - zs;
      if (clean > 0) {
        zi.setStartPages(z, zs + clean);
        zi.setAwaitingCleanPages(z, Math.max(0, zi.awaitingCleanPages(z) - clean));
      }
    }
    prev = z;
    z = zi.next(z);
  }
}

/** Clips every interval to the first `pages` pages (resize down). */
export function truncateIntervalsLocked(k: KernelState, vmo: number, pages: number): void {
  k.assertHeld(vmo);
  removeRangeLocked(k, vmo, pages, PAST_ANY_PAGE); // never splits: no record needed
}

/** Frees every interval of the VMO (its dead transition). */
export function freeAllIntervalsLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  for (let z = k.vmos.zeroHead(vmo); z !== NO_INTERVAL; ) z = deleteIntervalLocked(k, vmo, NO_INTERVAL, z);
}
