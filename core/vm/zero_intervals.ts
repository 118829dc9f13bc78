// Dirty zero intervals of a pager VMO (Zircon's VmPageList interval sentinels): page-less runs of
// zeros created by growing the VMO or by ZX_VMO_OP_ZERO, reported by query_dirty_ranges with
// ZX_VMO_DIRTY_RANGE_IS_ZERO. Each interval carries an awaiting-clean length counted from its start
// (WRITEBACK_BEGIN sets it, WRITEBACK_END deletes that much from the start, making it absent again).
// Kept as a sorted, non-overlapping, merged singly linked list of records (shared/layout.ts Z_*);
// every function requires the VMO lock. Costs are O(intervals), never O(pages).
// Records are not reclaimable, so an operation that may need some reserves them before it changes
// anything (reserveIntervals): running out then fails it with ZX_ERR_NO_MEMORY and nothing changed.

import { V_ZERO_HEAD, Z_AWAITING_CLEAN, Z_END, Z_NEXT, Z_START } from '../../shared/layout.js';
import type { KernelState } from '../kernel_state.js';

/** The interval containing `page`, or -1. */
export function intervalAtLocked(k: KernelState, vmo: number, page: number): number {
  k.assertHeld(vmo);
  const w = k.w;
  for (let z = w[k.obj(vmo) + V_ZERO_HEAD]!; z >= 0; z = w[k.zint(z) + Z_NEXT]!) {
    if (page < w[k.zint(z) + Z_START]!) return -1;
    if (page < w[k.zint(z) + Z_END]!) return z;
  }
  return -1;
}

/** Start of the first interval that ends after `page` and starts before `limit`, else `limit`. */
export function nextIntervalStartLocked(k: KernelState, vmo: number, page: number, limit: number): number {
  k.assertHeld(vmo);
  const w = k.w;
  for (let z = w[k.obj(vmo) + V_ZERO_HEAD]!; z >= 0; z = w[k.zint(z) + Z_NEXT]!) {
    if (w[k.zint(z) + Z_END]! <= page) continue;
    const s = Math.max(w[k.zint(z) + Z_START]!, page);
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

function takeInterval(k: KernelState): number {
  return reserved.length > 0 ? reserved.pop()! : k.allocInterval();
}

/** Whether removeRangeLocked(start, end) must split an interval (the one case that needs a record). */
export function removeRangeSplitsLocked(k: KernelState, vmo: number, start: number, end: number): boolean {
  k.assertHeld(vmo);
  const z = intervalAtLocked(k, vmo, start);
  return z >= 0 && intervalStart(k, z) < start && intervalEnd(k, z) > end;
}

export function intervalStart(k: KernelState, z: number): number {
  return k.w[k.zint(z) + Z_START]!;
}
export function intervalEnd(k: KernelState, z: number): number {
  return k.w[k.zint(z) + Z_END]!;
}
export function intervalNext(k: KernelState, z: number): number {
  return k.w[k.zint(z) + Z_NEXT]!;
}
export function firstInterval(k: KernelState, vmo: number): number {
  return k.w[k.obj(vmo) + V_ZERO_HEAD]!;
}

/**
 * Makes [start, end) a dirty zero interval, merging with intervals it touches or overlaps. The caller
 * has removed every page and marker in the range. A merged interval restarts its awaiting-clean
 * length at the new start (it was reshaped after any BEGIN, so that END must not clean it).
 * Returns false if no interval record could be allocated.
 */
export function addIntervalLocked(k: KernelState, vmo: number, start: number, end: number): boolean {
  k.assertHeld(vmo);
  const w = k.w;
  const head = k.obj(vmo) + V_ZERO_HEAD;
  let prev = -1;
  let z = w[head]!;
  while (z >= 0 && w[k.zint(z) + Z_END]! < start) {
    prev = z;
    z = w[k.zint(z) + Z_NEXT]!;
  }
  // z is the first interval that ends at or after `start`: it may touch or overlap the new one.
  if (z >= 0 && w[k.zint(z) + Z_START]! <= end) {
    const zs = w[k.zint(z) + Z_START]!;
    let newEnd = Math.max(end, w[k.zint(z) + Z_END]!);
    let next = w[k.zint(z) + Z_NEXT]!;
    while (next >= 0 && w[k.zint(next) + Z_START]! <= newEnd) {
      newEnd = Math.max(newEnd, w[k.zint(next) + Z_END]!);
      const after = w[k.zint(next) + Z_NEXT]!;
      k.freeInterval(next);
      next = after;
    }
    w[k.zint(z) + Z_NEXT] = next;
    if (start < zs) {
      // Reshaped at its start after any BEGIN: that writeback must not clean it (OpZeroWriteback).
      w[k.zint(z) + Z_START] = start;
      w[k.zint(z) + Z_AWAITING_CLEAN] = 0;
    }
    w[k.zint(z) + Z_END] = newEnd;
    return true;
  }
  const n = takeInterval(k);
  if (n < 0) return false;
  w[k.zint(n) + Z_START] = start;
  w[k.zint(n) + Z_END] = end;
  w[k.zint(n) + Z_AWAITING_CLEAN] = 0;
  w[k.zint(n) + Z_NEXT] = z;
  if (prev >= 0) w[k.zint(prev) + Z_NEXT] = n;
  else w[head] = n;
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
  const w = k.w;
  const head = k.obj(vmo) + V_ZERO_HEAD;
  let prev = -1;
  for (let z = w[head]!; z >= 0; ) {
    const b = k.zint(z);
    const zs = w[b + Z_START]!;
    const ze = w[b + Z_END]!;
    const next = w[b + Z_NEXT]!;
    if (zs >= end) break;
    if (ze <= start) {
      prev = z;
      z = next;
      continue;
    }
    const keepLeft = zs < start;
    const keepRight = ze > end;
    if (keepLeft && keepRight) {
      const n = takeInterval(k);
      if (n < 0) return false;
      w[k.zint(n) + Z_START] = end;
      w[k.zint(n) + Z_END] = ze;
      w[k.zint(n) + Z_AWAITING_CLEAN] = 0;
      w[k.zint(n) + Z_NEXT] = next;
      w[b + Z_END] = start;
      w[b + Z_NEXT] = n;
      return true;
    }
    if (keepLeft) {
      w[b + Z_END] = start;
      prev = z;
      z = next;
      continue;
    }
    if (keepRight) {
      w[b + Z_START] = end;
      w[b + Z_AWAITING_CLEAN] = Math.max(0, w[b + Z_AWAITING_CLEAN]! - (end - zs));
      return true;
    }
    // Entirely inside the removed range.
    if (prev >= 0) w[k.zint(prev) + Z_NEXT] = next;
    else w[head] = next;
    k.freeInterval(z);
    z = next;
  }
  return true;
}

/** WRITEBACK_BEGIN: intervals starting inside [start, end) await cleaning up to `end` (never less). */
export function beginIntervalsLocked(k: KernelState, vmo: number, start: number, end: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  for (let z = w[k.obj(vmo) + V_ZERO_HEAD]!; z >= 0; z = w[k.zint(z) + Z_NEXT]!) {
    const b = k.zint(z);
    const zs = w[b + Z_START]!;
    if (zs >= end) return;
    if (zs < start) continue; // a BEGIN that does not cover an interval's start has no effect on it
    const len = Math.min(w[b + Z_END]!, end) - zs;
    if (len > w[b + Z_AWAITING_CLEAN]!) w[b + Z_AWAITING_CLEAN] = len;
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
  const w = k.w;
  const head = k.obj(vmo) + V_ZERO_HEAD;
  let prev = -1;
  let awaitEnd = start;
  for (let z = w[head]!; z >= 0; ) {
    const b = k.zint(z);
    const zs = w[b + Z_START]!;
    const ze = w[b + Z_END]!;
    const next = w[b + Z_NEXT]!;
    if (zs >= end) return;
    if (zs < start) {
      prev = z;
      z = next;
      continue;
    }
    awaitEnd = Math.max(awaitEnd, zs + w[b + Z_AWAITING_CLEAN]!);
    if (ze <= end && ze <= awaitEnd) {
      if (prev >= 0) w[k.zint(prev) + Z_NEXT] = next;
      else w[head] = next;
      k.freeInterval(z);
      z = next;
      continue;
    }
    const clean = Math.min(awaitEnd, end, ze) - zs;
    if (clean > 0) {
      w[b + Z_START] = zs + clean;
      w[b + Z_AWAITING_CLEAN] = Math.max(0, w[b + Z_AWAITING_CLEAN]! - clean);
    }
    prev = z;
    z = next;
  }
}

/** Clips every interval to the first `pages` pages (resize down). */
export function truncateIntervalsLocked(k: KernelState, vmo: number, pages: number): void {
  k.assertHeld(vmo);
  removeRangeLocked(k, vmo, pages, 2 ** 31); // never splits: no record needed
}
