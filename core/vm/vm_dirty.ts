// Dirty tracking and writeback of pager VMOs (zircon vm_cow_pages.cc: DirtyPagesLocked,
// WritebackBegin/EndLocked, EnumerateDirtyRangesLocked, Resize, ZeroPagesPreservingContentLocked).
// The per-page states are Clean / Dirty / AwaitingClean (shared/page_slot.ts, whose transition table
// asserts every change); dirty zero intervals live in zero_intervals.ts. The lost-write guarantee:
// any change after WRITEBACK_BEGIN goes through a new dirty transition (AwaitingClean -> Dirty), and
// WRITEBACK_END only cleans AwaitingClean pages. Every function takes the VMO lock.

import { PAGE_SIZE, ZX_VMO_DIRTY_RANGE_IS_ZERO } from '../../shared/constants.js';
import { VmoFlag } from '../../shared/layout.js';
import { DirtyState, SlotKind, slotDirtyState, slotFrame, slotKind, withDirtyState } from '../../shared/page_slot.js';
import { ZX_ERR_BAD_STATE, ZX_ERR_NO_MEMORY, ZX_ERR_NOT_FOUND, ZX_ERR_OUT_OF_RANGE, ZX_OK } from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';
import { Bug } from '../bugs.js';
import { TraceEvent, traceEvent } from '../trace.js';
import type { DirtyRange } from '../sys_types.js';
import { forEachDirtyRun, lookupSlot, nextDirtyPage, nextPresentPage, setSlot } from './page_list.js';
import { onPagesDirtiedLocked, onPagesSuppliedLocked } from './page_source.js';
import { allocFrame, freeFrame, isMemoryWait, SHOULD_WAIT_FOR_FRAMES, SHOULD_WAIT_FOR_NODES } from './pmm.js';
import { isPagerBacked, placeFrameLocked, releasePageLocked, releasePagesLocked, ReleaseKeep, waitForMemoryDroppingLock } from './vm_object.js';
import {
  addIntervalLocked,
  beginIntervalsLocked,
  endIntervalsLocked,
  firstInterval,
  intervalAtLocked,
  intervalEnd,
  intervalNext,
  intervalStart,
  releaseReservedIntervals,
  removeRangeLocked,
  removeRangeSplitsLocked,
  reserveIntervals,
  truncateIntervalsLocked,
} from './zero_intervals.js';

function flags(k: KernelState, vmo: number): number {
  return k.vmos.flags(vmo);
}

function setModifiedLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  k.vmos.setFlags(vmo, flags(k, vmo) | VmoFlag.Modified);
}

/** First page in [from, limit) with no content at all (no slot and no zero interval), or `limit`. */
function firstAbsentLocked(k: KernelState, vmo: number, from: number, limit: number): number {
  k.assertHeld(vmo);
  let p = from;
  while (p < limit) {
    const np = nextPresentPage(k, vmo, p, limit);
    if (np === p) {
      p++;
      continue;
    }
    const z = intervalAtLocked(k, vmo, p);
    if (z < 0) return p;
    p = Math.min(intervalEnd(k, z), limit);
  }
  return limit;
}

/**
 * Calls fn for each maximal run in [from, to) of one kind: 'absent' (no content), 'clean' (present
 * but not Dirty: Clean/AwaitingClean pages, markers, zero intervals) or 'dirty' (Dirty pages).
 * O(pages present + intervals) in the range.
 */
function forEachRunLocked(k: KernelState, vmo: number, from: number, to: number, fn: (kind: 'absent' | 'clean' | 'dirty', start: number, end: number) => void): void {
  k.assertHeld(vmo);
  let p = from;
  let runKind: 'absent' | 'clean' | 'dirty' | null = null;
  let runStart = from;
  const emit = (kind: 'absent' | 'clean' | 'dirty', start: number): void => {
    if (runKind === kind) return;
    if (runKind !== null && start > runStart) fn(runKind, runStart, start);
    runKind = kind;
    runStart = start;
  };
  while (p < to) {
    const slot = lookupSlot(k, vmo, p);
    if (slotKind(slot) !== SlotKind.Empty) {
      emit(slotKind(slot) === SlotKind.Page && slotDirtyState(slot) === DirtyState.Dirty ? 'dirty' : 'clean', p);
      p++;
      continue;
    }
    const z = intervalAtLocked(k, vmo, p);
    if (z >= 0) {
      emit('clean', p);
      p = Math.min(intervalEnd(k, z), to, nextPresentPage(k, vmo, p, to));
      continue;
    }
    emit('absent', p);
    p = Math.min(nextPresentPage(k, vmo, p, to), nextIntervalAfter(k, vmo, p, to));
  }
  if (runKind !== null && to > runStart) fn(runKind, runStart, to);
}

/**
 * InvalidateDirtyRequestsLocked (an OP_DIRTY that fails): resolves DIRTY requests over [start, end)
 * so their waiters retry - first each run of content that is not Dirty (Clean or AwaitingClean pages,
 * markers, zero intervals), then each gap. Already-Dirty pages resolve nothing, as in DirtyPages.
 */
function invalidateDirtyRequestsLocked(k: KernelState, vmo: number, start: number, end: number): void {
  k.assertHeld(vmo);
  forEachRunLocked(k, vmo, start, end, (kind, s, e) => {
    if (kind === 'clean') onPagesDirtiedLocked(k, vmo, s, e - s);
  });
  forEachRunLocked(k, vmo, start, end, (kind, s, e) => {
    if (kind === 'absent') onPagesDirtiedLocked(k, vmo, s, e - s);
  });
}

function nextIntervalAfter(k: KernelState, vmo: number, p: number, to: number): number {
  for (let z = firstInterval(k, vmo); z >= 0; z = intervalNext(k, z)) {
    if (intervalEnd(k, z) <= p) continue;
    return Math.min(Math.max(intervalStart(k, z), p), to);
  }
  return to;
}

// ---- ZX_PAGER_OP_DIRTY ----

/**
 * OP_DIRTY over [start, start + len): every not-yet-Dirty page becomes Dirty (markers and zero-interval
 * pages get zeroed frames), atomically, and DIRTY requests in range resolve. An absent page makes the
 * whole op ZX_ERR_NOT_FOUND, still resolving the requests so their writers retry (READ, then DIRTY).
 */
export function dirtyPages(k: KernelState, vmo: number, start: number, len: number): number {
  k.lockObject(vmo);
  let status: number;
  for (;;) {
    status = dirtyPagesLocked(k, vmo, start, len);
    if (!isMemoryWait(status)) break;
    // Nothing changed: wait for memory with no lock held (never evicting this range), then start over.
    if (!waitForMemoryDroppingLock(k, vmo, start, start + len, status, framesWanted)) {
      status = ZX_ERR_NO_MEMORY;
      break;
    }
  }
  k.unlockObject(vmo);
  return status;
}

/** Frames the last dirtyPagesLocked on this thread wanted (module state is per worker thread). */
let framesWanted = 0;
/** The frames a dirtyPagesLocked call allocated up front; grows, never shrinks. */
let frameScratch = new Int32Array(64);

/**
 * DirtyPagesLocked: allocates everything first - a frame for each zero marker and zero-interval page,
 * and the interval record a split needs - so the transitions cannot fail half way. When the pool is
 * short it frees what it took and returns a memory wait (pmm.ts) with nothing changed; out of
 * interval records it returns ZX_ERR_NO_MEMORY, also with nothing changed.
 */
function dirtyPagesLocked(k: KernelState, vmo: number, start: number, len: number): number {
  k.assertHeld(vmo);
  const size = k.vmos.sizePages(vmo);
  const end = start + len;
  if (start > size) return ZX_ERR_OUT_OF_RANGE;
  // Range before detach (docs/semantics.md §2.5): a detached VMO has no requests left to resolve.
  const inEnd = Math.min(end, size);
  if (end > size) {
    if (inEnd > start) invalidateDirtyRequestsLocked(k, vmo, start, inEnd);
    return ZX_ERR_OUT_OF_RANGE;
  }
  if ((flags(k, vmo) & VmoFlag.Detached) !== 0) return ZX_ERR_BAD_STATE;
  if (len === 0) return ZX_OK;
  if (firstAbsentLocked(k, vmo, start, end) < end) {
    invalidateDirtyRequestsLocked(k, vmo, start, end);
    return ZX_ERR_NOT_FOUND;
  }
  let need = 0;
  for (let p = start; p < end; p++) if (slotKind(lookupSlot(k, vmo, p)) !== SlotKind.Page) need++;
  framesWanted = need;
  if (removeRangeSplitsLocked(k, vmo, start, end) && !reserveIntervals(k, 1)) return ZX_ERR_NO_MEMORY;
  if (frameScratch.length < need) frameScratch = new Int32Array(Math.max(need, 2 * frameScratch.length));
  const status = prepareDirtyFramesLocked(k, vmo, start, end, need, frameScratch);
  if (status !== ZX_OK) {
    releaseReservedIntervals(k);
    return status;
  }
  removeRangeLocked(k, vmo, start, end); // cannot fail: a split's record is reserved
  releaseReservedIntervals(k);
  if (k.tracing) traceEvent(k, TraceEvent.Dirty, k.objects.koid(vmo), start, len);
  transitionToDirtyLocked(k, vmo, start, end, frameScratch);
  return ZX_OK;
}

/**
 * The all-or-nothing half of DirtyPagesLocked: takes `need` frames into frames[] (one per zero marker
 * and zero-interval page of [start, end), in offset order) and places those of zero-interval pages
 * as Clean pages (the only insertions that may need radix nodes; markers already have their leaves).
 * ZX_OK, or a memory wait with every frame freed and every placed page removed again.
 */
function prepareDirtyFramesLocked(k: KernelState, vmo: number, start: number, end: number, need: number, frames: Int32Array): number {
  let taken = 0;
  for (let p = start; p < end && taken < need; p++) {
    if (slotKind(lookupSlot(k, vmo, p)) === SlotKind.Page) continue;
    const f = allocFrame(k, vmo, p);
    if (f < 0) break;
    frames[taken++] = f;
  }
  let placed = 0;
  if (taken === need) {
    for (let p = start; p < end && placed < need; p++) {
      const slot = lookupSlot(k, vmo, p);
      if (slotKind(slot) === SlotKind.Page) continue;
      if (slotKind(slot) === SlotKind.Empty && placeFrameLocked(k, vmo, p, frames[placed], DirtyState.Clean, true) < 0) break;
      placed++;
    }
  }
  if (taken === need && placed === need) return ZX_OK;
  // Undo: the pages placed so far go with their frames, then the frames not placed.
  // frames[i] belongs to the i-th marker or zero-interval page, in offset order.
  for (let p = start, i = 0; i < placed; p++) {
    const slot = lookupSlot(k, vmo, p);
    if (slotKind(slot) === SlotKind.Marker) freeFrame(k, frames[i++]);
    else if (slotKind(slot) === SlotKind.Page && slotFrame(slot) === frames[i]) {
      releasePageLocked(k, vmo, p, slot); // frees frames[i]
      i++;
    }
  }
  for (let i = placed; i < taken; i++) freeFrame(k, frames[i]);
  return taken < need ? SHOULD_WAIT_FOR_FRAMES : SHOULD_WAIT_FOR_NODES;
}

/**
 * The transitions of DirtyPagesLocked, which cannot fail: markers get their frames as Dirty pages,
 * every other not-Dirty page (zero-interval pages placed above included) becomes Dirty. DIRTY
 * requests are resolved per contiguous run of pages this call transitions (Zircon's
 * ForEveryPageAndContiguousRunInRange over !is_page_dirty): an already-Dirty page splits a run and
 * resolves nothing, so a request that page was never counted for stays pending.
 */
function transitionToDirtyLocked(k: KernelState, vmo: number, start: number, end: number, frames: Int32Array): void {
  let next = 0;
  let runStart = -1;
  for (let p = start; p <= end; p++) {
    let transitioned = false;
    if (p < end) {
      const slot = lookupSlot(k, vmo, p);
      if (slotKind(slot) === SlotKind.Marker) {
        placeFrameLocked(k, vmo, p, frames[next++], DirtyState.Dirty, true); // its leaf exists
        transitioned = true;
      } else if (slotDirtyState(slot) !== DirtyState.Dirty) {
        if (slotFrame(slot) === frames[next]) next++; // a zero-interval page placed above
        setSlot(k, vmo, p, withDirtyState(slot, DirtyState.Dirty));
        transitioned = true;
      }
    }
    if (transitioned) {
      if (runStart < 0) runStart = p;
    } else if (runStart >= 0) {
      onPagesDirtiedLocked(k, vmo, runStart, p - runStart);
      runStart = -1;
    }
  }
}

// ---- Writeback ----

/**
 * WRITEBACK_BEGIN: Dirty pages in range become AwaitingClean (not with IS_ZERO, which only begins zero
 * intervals, so a page dirtied after the pager's query is never cleaned as zero); zero intervals that
 * start in range begin awaiting clean.
 */
export function writebackBegin(k: KernelState, vmo: number, start: number, len: number, isZero: boolean): number {
  k.lockObject(vmo);
  const end = start + len;
  let status: number = ZX_OK;
  if (end > k.vmos.sizePages(vmo)) status = ZX_ERR_OUT_OF_RANGE;
  else {
    if (!isZero) {
      for (let p = nextDirtyPage(k, vmo, start, end); p < end; p = nextDirtyPage(k, vmo, p + 1, end)) {
        const slot = lookupSlot(k, vmo, p);
        if (slotDirtyState(slot) === DirtyState.Dirty) setSlot(k, vmo, p, withDirtyState(slot, DirtyState.AwaitingClean));
      }
    }
    beginIntervalsLocked(k, vmo, start, end);
    if (k.tracing) traceEvent(k, TraceEvent.WritebackBegin, k.objects.koid(vmo), start, len);
  }
  k.unlockObject(vmo);
  return status;
}

/**
 * WRITEBACK_END: AwaitingClean pages become Clean (pages re-dirtied since BEGIN stay Dirty); begun zero
 * intervals are deleted from their start, their offsets absent again. Pending DIRTY requests are not
 * resolved: a writer waiting on one stays blocked until the pager acks it.
 */
export function writebackEnd(k: KernelState, vmo: number, start: number, len: number): number {
  k.lockObject(vmo);
  const end = start + len;
  let status: number = ZX_OK;
  if (end > k.vmos.sizePages(vmo)) status = ZX_ERR_OUT_OF_RANGE;
  else {
    for (let p = nextDirtyPage(k, vmo, start, end); p < end; p = nextDirtyPage(k, vmo, p + 1, end)) {
      const slot = lookupSlot(k, vmo, p);
      if (slotDirtyState(slot) === DirtyState.AwaitingClean) setSlot(k, vmo, p, withDirtyState(slot, DirtyState.Clean));
      else if (k.bugs & Bug.EndCleansRedirtied) setSlot(k, vmo, p, withDirtyState(withDirtyState(slot, DirtyState.AwaitingClean), DirtyState.Clean));
    }
    endIntervalsLocked(k, vmo, start, end);
    if (k.tracing) traceEvent(k, TraceEvent.WritebackEnd, k.objects.koid(vmo), start, len);
  }
  k.unlockObject(vmo);
  return status;
}

// ---- Queries ----

/**
 * zx_pager_query_dirty_ranges over pages [start, end): maximal runs of Dirty/AwaitingClean pages, and
 * zero intervals as separate IS_ZERO runs, in offset order. Returns at most maxRanges of them plus the
 * total count (avail). Cost: O(runs + dirty pages / NODE_FANOUT), independent of the VMO's size.
 */
export function queryDirtyRanges(k: KernelState, vmo: number, start: number, end: number, maxRanges: number, out: DirtyRange[]): number {
  if (start >= end) return 0; // an empty window (length 0) reports nothing, even inside a zero interval
  k.lockObject(vmo);
  let avail = 0;
  const emit = (s: number, e: number, options: number): void => {
    if (avail < maxRanges) out.push({ offset: s * PAGE_SIZE, length: (e - s) * PAGE_SIZE, options });
    avail++;
  };
  // Zero intervals and dirty pages never overlap: interleave the two ordered streams.
  let z = firstInterval(k, vmo);
  while (z >= 0 && intervalEnd(k, z) <= start) z = intervalNext(k, z);
  const flushIntervalsBefore = (page: number): void => {
    while (z >= 0 && intervalStart(k, z) < page && intervalStart(k, z) < end) {
      emit(Math.max(intervalStart(k, z), start), Math.min(intervalEnd(k, z), end), ZX_VMO_DIRTY_RANGE_IS_ZERO);
      z = intervalNext(k, z);
    }
  };
  if (z < 0 || intervalStart(k, z) >= end) {
    // No zero interval in range (the common case): emit page runs directly.
    forEachDirtyRun(k, vmo, start, end, (s, e) => {
      if (avail++ < maxRanges) out.push({ offset: s * PAGE_SIZE, length: (e - s) * PAGE_SIZE, options: 0 });
    });
  } else {
    forEachDirtyRun(k, vmo, start, end, (s, e) => {
      flushIntervalsBefore(s);
      emit(s, e, 0);
    });
  }
  flushIntervalsBefore(end);
  k.unlockObject(vmo);
  return avail;
}

/** zx_pager_query_vmo_stats: the modified flag, cleared afterwards when `reset`. */
export function queryVmoStats(k: KernelState, vmo: number, reset: boolean): boolean {
  k.lockObject(vmo);
  const modified = (flags(k, vmo) & VmoFlag.Modified) !== 0;
  if (reset) k.vmos.setFlags(vmo, flags(k, vmo) & ~VmoFlag.Modified);
  k.unlockObject(vmo);
  return modified;
}

// ---- Resize and zero ----

/**
 * zx_vmo_set_size after the rights checks. Shrinking resolves READ requests for absent offsets and
 * DIRTY requests for every not-Dirty offset past the new end (their waiters retry into OUT_OF_RANGE;
 * a page supplied and then cut off is not progress), frees every page there (dirty ones are simply
 * discarded) and clips zero intervals. Growing makes the new tail a dirty zero interval.
 */
export function resizeVmo(k: KernelState, vmo: number, newPages: number): number {
  k.lockObject(vmo);
  const old = k.vmos.sizePages(vmo);
  const pagerBacked = isPagerBacked(k, vmo);
  let status: number = ZX_OK;
  if (newPages < old) {
    k.vmos.setSizePages(vmo, newPages);
    if (pagerBacked) {
      // READ requests are resolved over absent offsets only (a page supplied and then cut off is
      // not progress: ResizeCommitTest); DIRTY requests over every offset that is not Dirty, gaps
      // included, since a page a DIRTY request covered may have become absent meanwhile
      // (ResizeWritebackWithOutstandingDirtyRequests).
      forEachRunLocked(k, vmo, newPages, old, (kind, s, e) => {
        if (kind === 'absent') onPagesSuppliedLocked(k, vmo, s, e - s);
      });
      invalidateDirtyRequestsLocked(k, vmo, newPages, old);
    }
    releasePagesLocked(k, vmo, newPages, old, ReleaseKeep.Nothing);
    truncateIntervalsLocked(k, vmo, newPages);
  } else if (newPages > old) {
    if (pagerBacked && !addIntervalLocked(k, vmo, old, newPages)) status = ZX_ERR_NO_MEMORY;
    else k.vmos.setSizePages(vmo, newPages);
  }
  if (status === ZX_OK && pagerBacked) setModifiedLocked(k, vmo);
  k.unlockObject(vmo);
  return status;
}

/**
 * The whole-page part of ZX_VMO_OP_ZERO over [start, end): pages (any state) are freed and, with the
 * absent offsets, become dirty zero intervals; zero markers stay as they are (already clean zeros);
 * READ requests over absent offsets resolve (the readers see zeros). No DIRTY request is needed.
 * Anonymous VMOs simply lose the pages. Returns ZX_ERR_OUT_OF_RANGE if the VMO shrank below `end`.
 */
export function zeroPages(k: KernelState, vmo: number, start: number, end: number): number {
  k.lockObject(vmo);
  const status = zeroPagesLocked(k, vmo, start, end);
  k.unlockObject(vmo);
  return status;
}

function zeroPagesLocked(k: KernelState, vmo: number, start: number, end: number): number {
  k.assertHeld(vmo);
  if (end > k.vmos.sizePages(vmo)) return ZX_ERR_OUT_OF_RANGE;
  if (start >= end) return ZX_OK;
  const pagerBacked = isPagerBacked(k, vmo);
  // The interval records first (ZeroRangeInternal fails before it changes anything): an unsaved
  // Dirty page must not be dropped by a ZERO that then fails.
  if (pagerBacked && !reserveIntervals(k, newIntervalsForZeroLocked(k, vmo, start, end))) return ZX_ERR_NO_MEMORY;
  if (pagerBacked) {
    forEachRunLocked(k, vmo, start, end, (kind, s, e) => {
      if (kind === 'absent') onPagesSuppliedLocked(k, vmo, s, e - s);
    });
  }
  releasePagesLocked(k, vmo, start, end, ReleaseKeep.Markers);
  if (!pagerBacked) return ZX_OK;
  // Everything in range except markers becomes one or more zero intervals.
  let p = start;
  while (p < end) {
    const m = nextMarkerLocked(k, vmo, p, end);
    if (m > p) addIntervalLocked(k, vmo, p, m); // cannot fail: records reserved
    p = m + 1;
  }
  releaseReservedIntervals(k);
  // Any whole page processed counts, even one that already read as zero (docs/semantics.md §2.7; Zircon marks the
  // VMO modified whenever ZeroRangeInternal zeroed a non-empty length).
  setModifiedLocked(k, vmo);
  return ZX_OK;
}

/** First zero marker in [from, limit), or `limit`. */
function nextMarkerLocked(k: KernelState, vmo: number, from: number, limit: number): number {
  k.assertHeld(vmo);
  let p = nextPresentPage(k, vmo, from, limit);
  while (p < limit && slotKind(lookupSlot(k, vmo, p)) !== SlotKind.Marker) p = nextPresentPage(k, vmo, p + 1, limit);
  return p;
}

/**
 * Interval records a ZERO of [start, end) adds: its pieces are the runs between zero markers, and a
 * piece that touches or overlaps an interval merges into it (addIntervalLocked); markers separate
 * pieces, so no interval reaches two of them.
 */
function newIntervalsForZeroLocked(k: KernelState, vmo: number, start: number, end: number): number {
  k.assertHeld(vmo);
  let need = 0;
  let z = firstInterval(k, vmo);
  let p = start;
  while (p < end) {
    const m = nextMarkerLocked(k, vmo, p, end);
    if (m > p) {
      while (z >= 0 && intervalEnd(k, z) < p) z = intervalNext(k, z);
      if (z < 0 || intervalStart(k, z) > m) need++;
    }
    p = m + 1;
  }
  return need;
}
