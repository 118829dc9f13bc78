// Evictor: memory reclaim, run by whichever thread finds the frame pool empty (zircon vm/evictor.cc,
// page_queues.cc, reduced to one clock over the frames). In order, until something is freed:
//   1. clean pager pages hinted ZX_VMO_OP_DONT_NEED;
//   2. unlocked discardable VMOs, discarded whole;
//   3. clean pager pages by a clock with second chance: a page touched since the hand last passed
//      (ACCESSED) loses the bit and is skipped; ALWAYS_NEED pages are skipped;
//   4. near OOM: clean pager pages even if hinted ALWAYS_NEED.
// Never Dirty or AwaitingClean pages (they await writeback), never zero markers or intervals, never
// anonymous pages. An evicted offset becomes absent, so the next access raises a READ request again.
//
// Reclaim runs with NO lock held (core/vm/pmm.ts waitForMemory: the allocating operation dropped its
// VMO lock first), so it takes one victim VMO lock at a time, the outermost lock of shared/layout.ts's
// order: it cannot deadlock. It first try-locks and skips busy VMOs; only if that frees nothing and a
// VMO was busy does it go round again waiting for each lock, so a VMO held by a reader delays reclaim
// but never makes it fail while clean pages exist. The range the caller works on (exclude*) is never
// touched, so an operation that restarts after reclaim finds its own pages as it left them.
// Everything read about a frame before its owner's lock is taken is re-checked under that lock.

import { ZX_VMO_DISCARDABLE } from '../../shared/constants.js';
import { ObjType, VmoFlag } from '../../shared/layout.js';
import { ACCESSED_BIT, ALWAYS_NEED_BIT, DONT_NEED_BIT, DirtyState, SlotKind, slotDirtyState, slotFrame, slotKind } from '../../shared/page_slot.js';
import type { KernelState } from '../kernel_state.js';
import { Bug } from '../bugs.js';
import { TraceEvent, traceEvent } from '../trace.js';
import { PAST_ANY_PAGE, setSlotInPlace, slotAt, slotIndex } from './page_list.js';
import { FRAME_FREE } from './pmm.js';
import { releasePageLocked, releasePagesLocked, ReleaseKeep } from './vm_object.js';

/** Frames reclaim tries to free per call, so one scan serves several allocations. */
const RECLAIM_BATCH = 16;

const Pass = { DontNeed: 0, Clock: 1, Desperate: 2 } as const;
type Pass = (typeof Pass)[keyof typeof Pass];

export function installEvictor(k: KernelState): void {
  k.reclaim = (excludeVmo, excludeStart, excludeEnd) => reclaim(k, { vmo: excludeVmo, start: excludeStart, end: excludeEnd, blocking: false, busy: false });
}

/** One reclaim call: the range it must not touch, and whether it waits for busy VMOs' locks. */
interface Scan {
  readonly vmo: number;
  readonly start: number;
  readonly end: number;
  blocking: boolean;
  /** A victim was skipped because its lock was held (try-lock round only). */
  busy: boolean;
}

function reclaim(k: KernelState, scan: Scan): number {
  let freed = reclaimRound(k, scan);
  if (freed === 0 && scan.busy) {
    scan.blocking = true;
    freed = reclaimRound(k, scan);
  }
  return freed;
}

function reclaimRound(k: KernelState, scan: Scan): number {
  let freed = 0;
  if (k.header.dontNeedPages() > 0) freed += scanFrames(k, scan, Pass.DontNeed);
  if (freed === 0) freed += discardOne(k, scan);
  if (freed === 0) freed += scanFrames(k, scan, Pass.Clock);
  if (freed === 0) freed += scanFrames(k, scan, Pass.Desperate);
  return freed;
}

/** Takes a victim's lock: a try-lock in the first round (a busy VMO is noted and skipped), else waits. */
function lockVictim(k: KernelState, vmo: number, scan: Scan): boolean {
  if (scan.blocking) {
    k.lockObject(vmo);
    return true;
  }
  if (k.tryLockObject(vmo)) return true;
  scan.busy = true;
  return false;
}

/** One sweep of the clock over every frame (two for the clock pass: the second-chance round). */
function scanFrames(k: KernelState, scan: Scan, pass: Pass): number {
  const n = k.layout.frameCount;
  const rounds = pass === Pass.Clock ? 2 : 1;
  const start = k.header.clockHand() >>> 0;
  let freed = 0;
  let i = 0;
  for (; i < n * rounds && freed < RECLAIM_BATCH; i++) {
    if (tryEvictFrame(k, (start + i) % n, scan, pass)) freed++;
  }
  k.header.addClockHand(i);
  return freed;
}

function tryEvictFrame(k: KernelState, frame: number, scan: Scan, pass: Pass): boolean {
  // A hint read without the owner's lock (with Atomics: another thread may be moving the frame).
  const owner = Atomics.load(k.w, k.frameTable.ownerVmoWord(frame));
  if (owner === FRAME_FREE || !lockVictim(k, owner, scan)) return false;
  let evicted = false;
  // Re-check under the owner's lock: the frame may have moved or been freed meanwhile.
  if (k.objects.type(owner) === ObjType.Vmo && (k.vmos.flags(owner) & VmoFlag.PagerBacked) !== 0 && k.frameTable.ownerVmo(frame) === owner) {
    const page = k.frameTable.ownerPage(frame);
    const at = slotIndex(k, owner, page);
    const slot = slotAt(k, at);
    const evictDirty = (k.bugs & Bug.EvictDirty) !== 0 && pass !== Pass.DontNeed;
    const excluded = owner === scan.vmo && page >= scan.start && page < scan.end;
    if (!excluded && slotKind(slot) === SlotKind.Page && slotFrame(slot) === frame && (slotDirtyState(slot) === DirtyState.Clean || evictDirty)) {
      evicted = evictable(k, at, slot, pass);
      if (evicted) {
        if ((slot & DONT_NEED_BIT) !== 0) k.header.addDontNeedPages(-1);
        releasePageLocked(k, owner, page, slot);
        k.header.addStatEvictions(1);
        if (k.tracing) traceEvent(k, TraceEvent.Evict, k.objects.koid(owner), page);
      }
    }
  }
  k.unlockObject(owner);
  return evicted;
}

function evictable(k: KernelState, at: number, slot: number, pass: Pass): boolean {
  switch (pass) {
    case Pass.DontNeed:
      return (slot & DONT_NEED_BIT) !== 0 && (slot & ALWAYS_NEED_BIT) === 0;
    case Pass.Clock:
      if ((slot & ALWAYS_NEED_BIT) !== 0) return false;
      if ((slot & ACCESSED_BIT) !== 0) {
        setSlotInPlace(k, at, slot & ~ACCESSED_BIT); // second chance
        return false;
      }
      return true;
    default:
      return true;
  }
}

/**
 * Discards one unlocked discardable VMO that holds pages (never the VMO the caller works on); returns
 * the frames freed.
 */
function discardOne(k: KernelState, scan: Scan): number {
  for (let v = 0; v < k.layout.maxObjects; v++) {
    // Read without the lock to skip most VMOs cheaply; re-checked under it.
    if (v === scan.vmo || !isUnlockedDiscardable(k, v) || k.vmos.committedPages(v) === 0) continue;
    if (!lockVictim(k, v, scan)) continue;
    let freed = 0;
    if (isUnlockedDiscardable(k, v)) freed = discardLocked(k, v);
    k.unlockObject(v);
    if (freed > 0) return freed;
  }
  return 0;
}

/** Object `v` is a discardable VMO with no ZX_VMO_OP_LOCK held on it. */
function isUnlockedDiscardable(k: KernelState, v: number): boolean {
  return k.objects.type(v) === ObjType.Vmo && (k.vmos.options(v) & ZX_VMO_DISCARDABLE) !== 0 && k.vmos.lockCount(v) === 0;
}

/** Frees every page of an unlocked discardable VMO and marks it discarded. */
export function discardLocked(k: KernelState, vmo: number): number {
  k.assertHeld(vmo);
  const freed = releasePagesLocked(k, vmo, 0, PAST_ANY_PAGE, ReleaseKeep.Nothing);
  k.vmos.setFlags(vmo, k.vmos.flags(vmo) | VmoFlag.Discarded);
  k.header.addStatDiscards(1);
  return freed;
}
