// VmObjectPaged + VmCowPages for pagersim (zircon kernel/vm/vm_object_paged.cc, vm_cow_pages.cc): the
// page operations of anonymous and pager-backed VMOs. Each public function takes the VMO lock, does its
// work on the page list (page_list.ts) and the PageSource (page_source.ts), and when a page is absent
// fills the calling thread's PageRequest, drops the lock, waits, retakes it and re-validates from
// scratch (size, presence): the Zircon loop. Called from core/sys.ts by any thread.
//
// Request shapes (zircon-semantics §3.3): vmo_read asks for the rest of the read (early wake);
// vmo_write for at most MAX_WRITE_WAIT_PAGES; commit for the rest of its range; every READ request
// covers only a run of absent pages (it stops at the first present slot).

import { assert } from '../../shared/assert.js';
import { MAX_WRITE_WAIT_PAGES, PAGE_SIZE, ZX_VMO_DISCARDABLE, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../shared/constants.js';
import {
  E_VMO,
  H_DONT_NEED_PAGES,
  H_STAT_SUPPLIED_PAGES,
  O_KOID,
  PacketKind,
  PageRequestType,
  PX_ACTIVE,
  PX_FIFO_HEAD,
  PX_FIFO_TAIL,
  PX_PACKET,
  V_COMMITTED_PAGES,
  V_FLAGS,
  V_KEY_HI,
  V_KEY_LO,
  V_LOCK_COUNT,
  V_RECORD_REFS,
  V_OPTIONS,
  V_OUT_DIRTY,
  V_OUT_READ,
  V_PAGER,
  V_PAGER_KOID,
  V_PAGER_NEXT,
  V_PAGER_PREV,
  V_PORT,
  V_ROOT_NODE,
  V_SIZE_PAGES,
  V_TREE_HEIGHT,
  V_ZERO_HEAD,
  VmoFlag,
  Z_NEXT,
} from '../../shared/layout.js';
import {
  ACCESSED_BIT,
  ALWAYS_NEED_BIT,
  asCleanPage,
  DONT_NEED_BIT,
  DirtyState,
  EMPTY_SLOT,
  SlotKind,
  makeMarkerSlot,
  makePageSlot,
  slotDirtyState,
  slotFrame,
  slotKind,
  withDirtyState,
} from '../../shared/page_slot.js';
import {
  ZX_ERR_BAD_STATE,
  ZX_ERR_UNAVAILABLE,
  ZX_ERR_NO_MEMORY,
  ZX_ERR_NOT_SUPPORTED,
  ZX_ERR_OUT_OF_RANGE,
  ZX_ERR_SHOULD_WAIT,
  ZX_OK,
} from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';
import { Bug } from '../bugs.js';
import { TraceEvent, traceEvent } from '../trace.js';
import { O_KOID as KOID } from '../../shared/layout.js';
import { allocPacket, freePacket } from '../object/port_dispatcher.js';
import {
  firstInterval,
  intervalAtLocked,
  nextIntervalStartLocked,
  releaseReservedIntervals,
  removeRangeLocked,
  removeRangeSplitsLocked,
  reserveIntervals,
} from './zero_intervals.js';
import { forEachPresent, insertSlotsIfEmpty, lookupSlot, nextPresentPage, setSlot, slotIndex, takeSlots, treeHeightFor } from './page_list.js';
import {
  cancelRequestLocked,
  closeSourceLocked,
  detachSourceLocked,
  isRequestInitialized,
  onPagesFailedLocked,
  onPagesSuppliedLocked,
  populateRequestLocked,
  waitOnRequest,
} from './page_source.js';
import { allocFrame, freeFrame, isMemoryWait, setFrameOwner, SHOULD_WAIT_FOR_FRAMES, SHOULD_WAIT_FOR_NODES, waitForMemory, zeroFrame } from './pmm.js';

/** Records an access for reclaim's clock: sets ACCESSED and drops a DONT_NEED hint, in place. */
export function markAccessedLocked(k: KernelState, at: number, slot: number): void {
  if ((slot & (ACCESSED_BIT | DONT_NEED_BIT)) === ACCESSED_BIT) return;
  if ((slot & DONT_NEED_BIT) !== 0) Atomics.sub(k.w, H_DONT_NEED_PAGES, 1);
  k.w[at] = (slot | ACCESSED_BIT) & ~DONT_NEED_BIT;
}

/** Pages between voluntary lock drops in long read/write loops (kPagesBetweenUnlocks). */
const PAGES_BETWEEN_UNLOCKS = 16;
/** Pages taken from the aux VMO per batch of a supply: bounded scratch, no per-page allocation. */
const SUPPLY_BATCH_PAGES = 256;

export function isPagerBacked(k: KernelState, vmo: number): boolean {
  return (k.w[k.obj(vmo) + V_FLAGS]! & VmoFlag.PagerBacked) !== 0;
}

export function vmoSizePages(k: KernelState, vmo: number): number {
  return k.w[k.obj(vmo) + V_SIZE_PAGES]!;
}

/** Fills a freshly allocated VMO object record. Pager VMOs also get their port packet. */
export function initVmo(k: KernelState, vmo: number, sizePages: number, options: number, pager: number, port: number, key: bigint): number {
  const w = k.w;
  const o = k.obj(vmo);
  w[o + V_OPTIONS] = options;
  w[o + V_SIZE_PAGES] = sizePages;
  w[o + V_ROOT_NODE] = -1;
  w[o + V_TREE_HEIGHT] = treeHeightFor(Math.max(sizePages, 1));
  w[o + V_PAGER] = pager;
  w[o + V_PAGER_NEXT] = -2; // -2: not in a pager's list
  w[o + V_PAGER_PREV] = -2;
  w[o + V_PORT] = port;
  w[o + V_OUT_READ] = -1;
  w[o + V_OUT_DIRTY] = -1;
  w[o + PX_ACTIVE] = -1;
  w[o + PX_FIFO_HEAD] = -1;
  w[o + PX_FIFO_TAIL] = -1;
  w[o + PX_PACKET] = -1;
  w[o + V_ZERO_HEAD] = -1;
  w[o + V_RECORD_REFS] = 1; // the live VMO's own reference on its record
  if (pager >= 0) {
    const e = allocPacket(k, PacketKind.Pager);
    if (e < 0) return ZX_ERR_NO_MEMORY;
    w[k.pkt(e) + E_VMO] = vmo;
    w[o + PX_PACKET] = e;
    w[o + V_FLAGS] = VmoFlag.PagerBacked;
    w[o + V_PAGER_KOID] = w[k.obj(pager) + O_KOID]!;
    w[o + V_KEY_LO] = Number(BigInt.asUintN(32, key)) | 0;
    w[o + V_KEY_HI] = Number(BigInt.asUintN(32, key >> 32n)) | 0;
  }
  return ZX_OK;
}

/**
 * The VMO's last reference is gone (VmCowPages::DeadTransition): a pager VMO's source closes - waiters
 * have none left, so this only queues the COMPLETE - and every page and zero interval is freed. The
 * record stays (it is the PagerProxy) until its own last reference goes: see freeVmoRecord.
 */
export function vmoDeadTransition(k: KernelState, vmo: number): void {
  const w = k.w;
  const o = k.obj(vmo);
  k.lockObject(vmo);
  if (isPagerBacked(k, vmo)) closeSourceLocked(k, vmo);
  forEachPresent(k, vmo, 0, 2 ** 31, (page, slot) => {
    if (slotKind(slot) === SlotKind.Page) freeFrame(k, slotFrame(slot));
    setSlot(k, vmo, page, EMPTY_SLOT);
  });
  w[o + V_COMMITTED_PAGES] = 0;
  for (let z = w[o + V_ZERO_HEAD]!; z >= 0; ) {
    const next = w[k.zint(z) + Z_NEXT]!;
    k.freeInterval(z);
    z = next;
  }
  w[o + V_ZERO_HEAD] = -1;
  k.unlockObject(vmo);
}

/**
 * Destroys a VMO that zx_pager_create_vmo built but could not link to its pager (the pager closed
 * meanwhile): it was never published, so it has no page source to close and no COMPLETE to send (in
 * Zircon the source is never created). It holds no pager or port reference yet.
 */
export function destroyUnpublishedVmo(k: KernelState, vmo: number): void {
  const o = k.obj(vmo);
  k.w[o + V_PAGER] = -1;
  k.w[o + V_PORT] = -1;
  k.w[o + V_FLAGS] = k.w[o + V_FLAGS]! | VmoFlag.Detached | VmoFlag.SourceClosed | VmoFlag.PagerClosed;
  k.addRef(vmo);
  k.release(vmo);
}

/** The record's last reference is gone (no packet in any port): frees its packet. */
export function freeVmoPacket(k: KernelState, vmo: number): void {
  const o = k.obj(vmo);
  const e = k.w[o + PX_PACKET]!;
  if (e >= 0) {
    freePacket(k, e);
    k.w[o + PX_PACKET] = -1;
  }
}

// ---- Reads ----

/**
 * zx_vmo_read into dst from byte `offset`. Absent pages of a pager VMO raise one READ request for the
 * rest of the read, with early wake: the reader copies each page as soon as it arrives.
 */
export function vmoRead(k: KernelState, r: number, vmo: number, dst: Uint8Array, offset: number): number {
  const w = k.w;
  const len = dst.length;
  const pagerBacked = isPagerBacked(k, vmo);
  let done = 0;
  let status: number = ZX_OK;
  let sinceUnlock = 0;
  k.lockObject(vmo);
  for (;;) {
    if (offset + len > w[k.obj(vmo) + V_SIZE_PAGES]! * PAGE_SIZE) {
      status = ZX_ERR_OUT_OF_RANGE; // checked up front and again after every wait
      break;
    }
    if (done >= len) break;
    const cur = offset + done;
    const page = Math.floor(cur / PAGE_SIZE);
    const inPage = cur - page * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, len - done);
    const at = slotIndex(k, vmo, page);
    const slot = at < 0 ? EMPTY_SLOT : w[at]!;
    const kind = slotKind(slot);
    if (kind === SlotKind.Page) {
      const src = slotFrame(slot) * PAGE_SIZE + inPage;
      dst.set(k.frames.subarray(src, src + n), done);
      markAccessedLocked(k, at, slot);
    } else if (kind === SlotKind.Marker || !pagerBacked || intervalAtLocked(k, vmo, page) >= 0) {
      dst.fill(0, done, done + n);
    } else {
      const lastPage = Math.floor((offset + len - 1) / PAGE_SIZE);
      const runEnd = absentRunEndLocked(k, vmo, page, lastPage + 1);
      status = populateRequestLocked(k, vmo, r, PageRequestType.Read, page, runEnd - page, true);
      if (status !== ZX_ERR_SHOULD_WAIT) break;
      k.unlockObject(vmo);
      status = waitOnRequest(k, vmo, r);
      k.lockObject(vmo);
      if (status !== ZX_OK) break;
      continue;
    }
    done += n;
    if (++sinceUnlock >= PAGES_BETWEEN_UNLOCKS && k.objectLockContended(vmo)) {
      sinceUnlock = 0;
      k.unlockObject(vmo);
      k.lockObject(vmo);
    }
  }
  if (isRequestInitialized(k, r)) cancelRequestLocked(k, r);
  k.unlockObject(vmo);
  return status;
}

// ---- Writes ----

/** End of the run of absent pages (no slot, no zero interval) starting at `page`, at most `limit`. */
export function absentRunEndLocked(k: KernelState, vmo: number, page: number, limit: number): number {
  k.assertHeld(vmo);
  return Math.min(nextPresentPage(k, vmo, page, limit), nextIntervalStartLocked(k, vmo, page, limit));
}

/**
 * End of the run of present, not-yet-Dirty content starting at `page` (Clean or AwaitingClean pages,
 * zero markers, zero-interval pages): what one DIRTY request covers. Stops at a Dirty page, an absent
 * page or `limit` (PrepareForWriteLocked).
 */
export function dirtyRequestRunEndLocked(k: KernelState, vmo: number, page: number, limit: number): number {
  k.assertHeld(vmo);
  let p = page + 1;
  while (p < limit) {
    const slot = lookupSlot(k, vmo, p);
    const kind = slotKind(slot);
    if (kind === SlotKind.Page && slotDirtyState(slot) === DirtyState.Dirty) break;
    if (kind === SlotKind.Empty && intervalAtLocked(k, vmo, p) < 0) break;
    p++;
  }
  return p;
}

/**
 * Turns the not-yet-Dirty content at `page` into a Dirty page (a write without trapping, or COMMIT of
 * a zero-interval page): a Clean or AwaitingClean page changes state; a zero marker or a zero-interval
 * page gets a zeroed frame. All or nothing: returns the new slot, or a memory wait (pmm.ts: no frame
 * or node; the caller waits for memory and retries) or ZX_ERR_NO_MEMORY (no interval record) with
 * nothing changed.
 */
export function makeDirtyLocked(k: KernelState, vmo: number, page: number, slot: number): number {
  k.assertHeld(vmo);
  if (slotKind(slot) === SlotKind.Page) {
    const dirty = withDirtyState(slot, DirtyState.Dirty);
    setSlot(k, vmo, page, dirty);
    return dirty;
  }
  const inInterval = slotKind(slot) === SlotKind.Empty;
  // Taking the page out of its interval may split it: reserve that record before anything changes.
  if (inInterval && removeRangeSplitsLocked(k, vmo, page, page + 1) && !reserveIntervals(k, 1)) return ZX_ERR_NO_MEMORY;
  const made = materializeLocked(k, vmo, page, DirtyState.Dirty);
  if (made >= 0 && inInterval) removeRangeLocked(k, vmo, page, page + 1); // cannot fail: reserved
  releaseReservedIntervals(k);
  return made;
}

/**
 * Puts a zeroed (unless a whole-page write follows) new frame at `page` in `state`: the new slot, or
 * a memory wait (pmm.ts) with nothing changed when no frame or radix node is free.
 */
function materializeLocked(k: KernelState, vmo: number, page: number, state: DirtyState, wholePageWrite = false): number {
  k.assertHeld(vmo);
  const frame = allocFrame(k, vmo, page);
  if (frame < 0) return SHOULD_WAIT_FOR_FRAMES;
  const fresh = placeFrameLocked(k, vmo, page, frame, state, !wholePageWrite);
  if (fresh < 0) freeFrame(k, frame);
  return fresh;
}

/**
 * Installs `frame` (the caller allocated it) at the empty or marker offset `page` as a page in
 * `state`, zero-filled when `zero`: the new slot, or SHOULD_WAIT_FOR_NODES with nothing changed
 * (the frame still the caller's) when a radix node was needed and none is free.
 */
export function placeFrameLocked(k: KernelState, vmo: number, page: number, frame: number, state: DirtyState, zero: boolean): number {
  k.assertHeld(vmo);
  const fresh = makePageSlot(frame, state);
  if (!setSlot(k, vmo, page, fresh)) return SHOULD_WAIT_FOR_NODES;
  setFrameOwner(k, frame, vmo, page);
  if (zero) zeroFrame(k, frame);
  k.w[k.obj(vmo) + V_COMMITTED_PAGES] = k.w[k.obj(vmo) + V_COMMITTED_PAGES]! + 1;
  return fresh;
}

/**
 * Drops the VMO lock, waits for memory with no lock held (pmm.ts waitForMemory: reclaim, never
 * touching pages [start, end) of this VMO) and retakes the lock. True: the caller re-validates and
 * retries, as after a page request wait; false: nothing was reclaimable (ZX_ERR_NO_MEMORY).
 */
export function waitForMemoryDroppingLock(k: KernelState, vmo: number, start: number, end: number, status: number, frames: number): boolean {
  k.unlockObject(vmo);
  const retry = waitForMemory(k, vmo, start, end, status, frames);
  k.lockObject(vmo);
  return retry;
}

/** A zeroed Clean frame at an absent page of an anonymous VMO (a write fault or commit). */
export function materializeZeroPageLocked(k: KernelState, vmo: number, page: number): number {
  k.assertHeld(vmo);
  const made = materializeLocked(k, vmo, page, DirtyState.Clean);
  return made < 0 ? made : ZX_OK;
}

export function isTrapDirty(k: KernelState, vmo: number): boolean {
  return (k.w[k.obj(vmo) + V_OPTIONS]! & ZX_VMO_TRAP_DIRTY) !== 0;
}

/**
 * Makes the page at `page` writable and returns its slot, or a status: ZX_ERR_SHOULD_WAIT after
 * populating the thread's request (READ for an absent run, or DIRTY for a run of not-yet-Dirty
 * content on a TRAP_DIRTY VMO, each within [page, page + 16) and the write), or a failure.
 */
function prepareWritePageLocked(k: KernelState, r: number, vmo: number, page: number, writeEndPage: number, wholePage: boolean): number {
  k.assertHeld(vmo);
  const slot = lookupSlot(k, vmo, page);
  const kind = slotKind(slot);
  if (!isPagerBacked(k, vmo)) return kind === SlotKind.Page ? slot : materializeLocked(k, vmo, page, DirtyState.Clean, wholePage);
  if (kind === SlotKind.Page && slotDirtyState(slot) === DirtyState.Dirty) return slot;
  const windowEnd = Math.min(writeEndPage, page + MAX_WRITE_WAIT_PAGES);
  if (kind === SlotKind.Empty && intervalAtLocked(k, vmo, page) < 0) {
    const runEnd = absentRunEndLocked(k, vmo, page, windowEnd);
    return populateRequestLocked(k, vmo, r, PageRequestType.Read, page, runEnd - page, false);
  }
  if (isTrapDirty(k, vmo)) {
    const runEnd = dirtyRequestRunEndLocked(k, vmo, page, windowEnd);
    return populateRequestLocked(k, vmo, r, PageRequestType.Dirty, page, runEnd - page, false);
  }
  return makeDirtyLocked(k, vmo, page, slot);
}

/** zx_vmo_write from src at byte `offset`. Sets the pager VMO's modified flag if a byte was written. */
export function vmoWrite(k: KernelState, r: number, vmo: number, src: Uint8Array, offset: number): number {
  const w = k.w;
  const len = src.length;
  let done = 0;
  let status: number = ZX_OK;
  let sinceUnlock = 0;
  k.lockObject(vmo);
  for (;;) {
    if (offset + len > w[k.obj(vmo) + V_SIZE_PAGES]! * PAGE_SIZE) {
      status = ZX_ERR_OUT_OF_RANGE;
      break;
    }
    if (done >= len) break;
    const cur = offset + done;
    const page = Math.floor(cur / PAGE_SIZE);
    const inPage = cur - page * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, len - done);
    const endPage = Math.floor((offset + len - 1) / PAGE_SIZE) + 1;
    const slot = prepareWritePageLocked(k, r, vmo, page, endPage, n === PAGE_SIZE);
    if (isMemoryWait(slot)) {
      if (waitForMemoryDroppingLock(k, vmo, Math.floor(offset / PAGE_SIZE), endPage, slot, 1)) continue;
      status = ZX_ERR_NO_MEMORY;
      break;
    }
    if (slot === ZX_ERR_SHOULD_WAIT) {
      k.unlockObject(vmo);
      status = waitOnRequest(k, vmo, r);
      k.lockObject(vmo);
      if (status !== ZX_OK) break;
      continue;
    }
    if (slot < 0) {
      status = slot;
      break;
    }
    const dst = slotFrame(slot) * PAGE_SIZE + inPage;
    k.frames.set(src.subarray(done, done + n), dst);
    done += n;
    if (++sinceUnlock >= PAGES_BETWEEN_UNLOCKS && k.objectLockContended(vmo)) {
      sinceUnlock = 0;
      k.unlockObject(vmo);
      k.lockObject(vmo);
    }
  }
  if (done > 0 && isPagerBacked(k, vmo)) w[k.obj(vmo) + V_FLAGS] = w[k.obj(vmo) + V_FLAGS]! | VmoFlag.Modified;
  if (isRequestInitialized(k, r)) cancelRequestLocked(k, r);
  k.unlockObject(vmo);
  return status;
}

/**
 * Zeroes bytes [offset, offset + len) inside one page: nothing to do if the page already reads as zero
 * (a zero marker or a zero interval); otherwise a write of zeros, with its READ/DIRTY requests.
 */
export function zeroPartialPage(k: KernelState, r: number, vmo: number, offset: number, len: number): number {
  const page = Math.floor(offset / PAGE_SIZE);
  k.lockObject(vmo);
  const slot = lookupSlot(k, vmo, page);
  const alreadyZero =
    slotKind(slot) === SlotKind.Marker ||
    (slotKind(slot) === SlotKind.Empty && (!isPagerBacked(k, vmo) || intervalAtLocked(k, vmo, page) >= 0));
  k.unlockObject(vmo);
  return alreadyZero ? ZX_OK : vmoWrite(k, r, vmo, ZERO_PAGE.subarray(0, len), offset);
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

// ---- Commit ----

/** How populateRange treats the range: ZX_VMO_OP_COMMIT, ALWAYS_NEED or PREFETCH. */
export const Populate = { Commit: 0, AlwaysNeed: 1, Prefetch: 2 } as const;
export type Populate = (typeof Populate)[keyof typeof Populate];

/**
 * Brings [startPage, endPage) in: absent runs raise READ requests for the rest of the range (no early
 * wake). COMMIT also materialises zero markers (clean zero pages) and zero-interval pages (Dirty; a
 * TRAP_DIRTY VMO asks first); anonymous VMOs get zeroed frames. ALWAYS_NEED ignores failures (it moves
 * past a page it cannot get) and marks every present page with the sticky ALWAYS_NEED bit; PREFETCH
 * propagates failures. A shrink while waiting just trims the range.
 */
export function populateRange(k: KernelState, r: number, vmo: number, startPage: number, endPage: number, mode: Populate): number {
  const w = k.w;
  const pagerBacked = isPagerBacked(k, vmo);
  let status: number = ZX_OK;
  let page = startPage;
  k.lockObject(vmo);
  for (;;) {
    const end = Math.min(endPage, w[k.obj(vmo) + V_SIZE_PAGES]!);
    if (page >= end) break;
    const at = slotIndex(k, vmo, page);
    const slot = at < 0 ? EMPTY_SLOT : w[at]!;
    const kind = slotKind(slot);
    if (kind === SlotKind.Page || (kind === SlotKind.Marker && mode !== Populate.Commit)) {
      if (mode === Populate.AlwaysNeed && kind === SlotKind.Page) w[at] = slot | ALWAYS_NEED_BIT;
      page++;
      continue;
    }
    const inInterval = kind === SlotKind.Empty && pagerBacked && intervalAtLocked(k, vmo, page) >= 0;
    if (!pagerBacked && mode !== Populate.Commit) break; // hints and prefetch never commit anonymous pages
    if (inInterval && mode !== Populate.Commit) {
      page = Math.min(end, nextPresentPage(k, vmo, page, end));
      continue;
    }
    let request = -1;
    let runEnd = page + 1;
    if (kind === SlotKind.Empty && pagerBacked) {
      if (!inInterval) {
        request = PageRequestType.Read;
        runEnd = absentRunEndLocked(k, vmo, page, end);
      } else if (isTrapDirty(k, vmo)) {
        // Committing a zero-interval page makes a Dirty page: trapping VMOs ask first.
        request = PageRequestType.Dirty;
        runEnd = dirtyRequestRunEndLocked(k, vmo, page, end);
      }
    }
    if (request >= 0) {
      status = populateRequestLocked(k, vmo, r, request, page, runEnd - page, false);
      if (status === ZX_ERR_SHOULD_WAIT) {
        k.unlockObject(vmo);
        status = waitOnRequest(k, vmo, r);
        k.lockObject(vmo);
      }
      if (status === ZX_OK) continue;
      if (mode !== Populate.AlwaysNeed) break;
      status = ZX_OK; // ALWAYS_NEED ignores errors: move past the page it could not get
      page++;
      continue;
    }
    // A zero marker becomes a clean zero page, a zero-interval page a Dirty one; anonymous: zeros.
    const made = inInterval ? makeDirtyLocked(k, vmo, page, slot) : materializeLocked(k, vmo, page, DirtyState.Clean);
    if (isMemoryWait(made)) {
      if (waitForMemoryDroppingLock(k, vmo, startPage, endPage, made, 1)) continue;
      status = ZX_ERR_NO_MEMORY;
      break;
    }
    if (made < 0) {
      status = made;
      break;
    }
    page++;
  }
  if (isRequestInitialized(k, r)) cancelRequestLocked(k, r);
  k.unlockObject(vmo);
  return status;
}

/** ZX_VMO_OP_DONT_NEED on a pager VMO: present Clean pages go to reclaim's first pass. */
export function dontNeedRange(k: KernelState, vmo: number, startPage: number, endPage: number): void {
  const w = k.w;
  k.lockObject(vmo);
  const end = Math.min(endPage, w[k.obj(vmo) + V_SIZE_PAGES]!);
  for (let p = nextPresentPage(k, vmo, startPage, end); p < end; p = nextPresentPage(k, vmo, p + 1, end)) {
    const at = slotIndex(k, vmo, p);
    const slot = w[at]!;
    if (slotKind(slot) !== SlotKind.Page || slotDirtyState(slot) !== DirtyState.Clean || (slot & DONT_NEED_BIT) !== 0) continue;
    w[at] = (slot | DONT_NEED_BIT) & ~ACCESSED_BIT;
    Atomics.add(w, H_DONT_NEED_PAGES, 1);
  }
  k.unlockObject(vmo);
}

/** ZX_VMO_OP_DECOMMIT of an anonymous VMO: the pages go back to the pool (the range reads zero). */
export function decommitRange(k: KernelState, vmo: number, startPage: number, endPage: number): number {
  const w = k.w;
  k.lockObject(vmo);
  let status: number = ZX_OK;
  if (endPage > w[k.obj(vmo) + V_SIZE_PAGES]!) status = ZX_ERR_OUT_OF_RANGE;
  else {
    forEachPresent(k, vmo, startPage, endPage, (page, slot) => {
      if (slotKind(slot) === SlotKind.Page) {
        freeFrame(k, slotFrame(slot));
        w[k.obj(vmo) + V_COMMITTED_PAGES] = w[k.obj(vmo) + V_COMMITTED_PAGES]! - 1;
      }
      setSlot(k, vmo, page, EMPTY_SLOT);
    });
  }
  k.unlockObject(vmo);
  return status;
}

/**
 * ZX_VMO_OP_LOCK / TRY_LOCK / UNLOCK of a discardable VMO (DiscardableVmoTracker): the whole VMO at
 * once. LOCK reports whether reclaim discarded it meanwhile; TRY_LOCK refuses a discarded VMO with
 * ZX_ERR_UNAVAILABLE; UNLOCK of an unlocked VMO is ZX_ERR_BAD_STATE. Returns a status, and for LOCK
 * the discarded size in pages through `out`.
 */
export function lockDiscardable(k: KernelState, vmo: number, op: 'lock' | 'try' | 'unlock', out: { discardedPages: number }): number {
  const w = k.w;
  const o = k.obj(vmo);
  k.lockObject(vmo);
  let status: number = ZX_OK;
  const discarded = (w[o + V_FLAGS]! & VmoFlag.Discarded) !== 0;
  if (op === 'unlock') {
    if (w[o + V_LOCK_COUNT] === 0) status = ZX_ERR_BAD_STATE;
    else w[o + V_LOCK_COUNT] = w[o + V_LOCK_COUNT]! - 1;
  } else if (op === 'try' && discarded) {
    status = ZX_ERR_UNAVAILABLE;
  } else {
    out.discardedPages = discarded ? w[o + V_SIZE_PAGES]! : 0;
    w[o + V_FLAGS] = w[o + V_FLAGS]! & ~VmoFlag.Discarded;
    w[o + V_LOCK_COUNT] = w[o + V_LOCK_COUNT]! + 1;
  }
  k.unlockObject(vmo);
  return status;
}

// ---- Supply ----

/** Scratch for supply batches, one per attached thread (KernelState is per thread). */
interface SupplyScratch {
  slots: Int32Array;
  skip: Uint8Array;
  inserted: Uint8Array;
}
const supplyScratch = new WeakMap<KernelState, SupplyScratch>();

/**
 * zx_pager_supply_pages after the syscall's handle checks: moves the aux VMO's frames into the pager
 * VMO (no byte copy). Offsets already holding content are skipped and their supplied frame freed;
 * uncommitted aux pages become zero markers. Each run of newly filled pages resolves READ requests.
 */
export function supplyPages(k: KernelState, vmo: number, offsetPages: number, lenPages: number, aux: number, auxOffsetPages: number): number {
  const w = k.w;
  if (isPagerBacked(k, aux)) return ZX_ERR_NOT_SUPPORTED;
  k.lockObject(aux);
  const auxOk = auxOffsetPages + lenPages <= w[k.obj(aux) + V_SIZE_PAGES]!;
  k.unlockObject(aux);
  if (!auxOk) return ZX_ERR_OUT_OF_RANGE;
  k.lockObject(vmo);
  const early = checkSupplyTargetLocked(k, vmo, offsetPages, lenPages);
  k.unlockObject(vmo);
  if (early !== ZX_OK) return early;
  let scratch = supplyScratch.get(k);
  if (!scratch) {
    scratch = { slots: new Int32Array(SUPPLY_BATCH_PAGES), skip: new Uint8Array(SUPPLY_BATCH_PAGES), inserted: new Uint8Array(SUPPLY_BATCH_PAGES) };
    supplyScratch.set(k, scratch);
  }
  for (let done = 0; done < lenPages; ) {
    const batch = Math.min(SUPPLY_BATCH_PAGES, lenPages - done);
    takePages(k, aux, auxOffsetPages + done, batch, scratch);
    k.lockObject(vmo);
    let status: number;
    for (;;) {
      status = checkSupplyTargetLocked(k, vmo, offsetPages + done, batch);
      if (status === ZX_OK) status = insertSuppliedLocked(k, vmo, offsetPages + done, batch, scratch);
      if (status !== SHOULD_WAIT_FOR_NODES) break;
      // Out of radix nodes: the batch is undone; reclaim (evicting pages frees nodes) and retry it.
      if (!waitForMemoryDroppingLock(k, vmo, offsetPages, offsetPages + lenPages, status, 0)) {
        status = ZX_ERR_NO_MEMORY;
        break;
      }
    }
    k.unlockObject(vmo);
    if (status !== ZX_OK) {
      for (let i = 0; i < batch; i++) if (slotKind(scratch.slots[i]!) === SlotKind.Page) freeFrame(k, slotFrame(scratch.slots[i]!));
      return status;
    }
    done += batch;
  }
  return ZX_OK;
}

function checkSupplyTargetLocked(k: KernelState, vmo: number, offsetPages: number, lenPages: number): number {
  k.assertHeld(vmo);
  const w = k.w;
  if (offsetPages + lenPages > w[k.obj(vmo) + V_SIZE_PAGES]!) return ZX_ERR_OUT_OF_RANGE;
  if ((w[k.obj(vmo) + V_FLAGS]! & VmoFlag.Detached) !== 0) return ZX_ERR_BAD_STATE;
  return ZX_OK;
}

/**
 * TakePages: moves `count` slots out of aux into scratch.slots, each rewritten as what it will be in
 * the pager VMO: a Clean page (young for reclaim's clock) for a committed aux page, a zero marker for an
 * uncommitted one.
 */
function takePages(k: KernelState, aux: number, fromPage: number, count: number, scratch: SupplyScratch): void {
  const w = k.w;
  k.lockObject(aux);
  takeSlots(k, aux, fromPage, count, scratch.slots);
  let taken = 0;
  const slots = scratch.slots;
  const marker = makeMarkerSlot();
  for (let i = 0; i < count; i++) {
    const slot = slots[i]!;
    if (slotKind(slot) === SlotKind.Page) {
      slots[i] = asCleanPage(slot, ACCESSED_BIT);
      taken++;
    } else {
      slots[i] = marker;
    }
  }
  w[k.obj(aux) + V_COMMITTED_PAGES] = w[k.obj(aux) + V_COMMITTED_PAGES]! - taken;
  k.unlockObject(aux);
}

/**
 * Inserts a taken batch: offsets holding anything (a page, a marker, a zero interval) keep it and the
 * supplied frame is freed; each run of newly filled offsets resolves READ requests. All or nothing:
 * SHOULD_WAIT_FOR_NODES, with the VMO unchanged, when a radix node could not be allocated.
 */
function insertSuppliedLocked(k: KernelState, vmo: number, offsetPages: number, count: number, scratch: SupplyScratch): number {
  k.assertHeld(vmo);
  const w = k.w;
  const { slots, skip, inserted } = scratch;
  skip.fill(0, 0, count);
  if (firstInterval(k, vmo) >= 0) {
    for (let i = 0; i < count; i++) if (intervalAtLocked(k, vmo, offsetPages + i) >= 0) skip[i] = 1;
  }
  if (k.bugs & Bug.SupplyOverwritesDirty) {
    for (let i = 0; i < count; i++) {
      const existing = lookupSlot(k, vmo, offsetPages + i);
      if (slotKind(slots[i]!) === SlotKind.Page && slotKind(existing) === SlotKind.Page && slotDirtyState(existing) !== DirtyState.Clean) {
        k.frames.copyWithin(slotFrame(existing) * PAGE_SIZE, slotFrame(slots[i]!) * PAGE_SIZE, (slotFrame(slots[i]!) + 1) * PAGE_SIZE);
      }
    }
  }
  if (insertSlotsIfEmpty(k, vmo, offsetPages, count, slots, skip, inserted) < 0) {
    // A radix node was missing: take the batch out again (this frees the nodes it added), so the
    // batch is all or nothing; the caller still owns every frame in `slots`.
    for (let i = 0; i < count; i++) if (inserted[i] === 1) setSlot(k, vmo, offsetPages + i, EMPTY_SLOT);
    return SHOULD_WAIT_FOR_NODES;
  }
  let runStart = -1;
  let filled = 0;
  let committed = 0;
  for (let i = 0; i <= count; i++) {
    const isIn = i < count && inserted[i] === 1;
    if (i < count) {
      const slot = slots[i]!;
      if (isIn) {
        filled++;
        if (slotKind(slot) === SlotKind.Page) {
          setFrameOwner(k, slotFrame(slot), vmo, offsetPages + i);
          committed++;
        }
      } else if (slotKind(slot) === SlotKind.Page) {
        freeFrame(k, slotFrame(slot)); // the offset already held content
      }
    }
    if (isIn && runStart < 0) runStart = offsetPages + i;
    if (!isIn && runStart >= 0) {
      if (k.tracing) traceEvent(k, TraceEvent.Supply, w[k.obj(vmo) + KOID]!, runStart, offsetPages + i - runStart);
      onPagesSuppliedLocked(k, vmo, runStart, offsetPages + i - runStart);
      runStart = -1;
    }
  }
  w[k.obj(vmo) + V_COMMITTED_PAGES] = w[k.obj(vmo) + V_COMMITTED_PAGES]! + committed;
  Atomics.add(w, H_STAT_SUPPLIED_PAGES, filled);
  return ZX_OK;
}

// ---- Fail, detach ----

/** ZX_PAGER_OP_FAIL after argument checks: fails outstanding READ and DIRTY requests in range. */
export function failPageRequests(k: KernelState, vmo: number, offsetPages: number, lenPages: number, error: number): number {
  const w = k.w;
  k.lockObject(vmo);
  let status: number = ZX_OK;
  if (offsetPages + lenPages > w[k.obj(vmo) + V_SIZE_PAGES]!) status = ZX_ERR_OUT_OF_RANGE;
  else if ((w[k.obj(vmo) + V_FLAGS]! & VmoFlag.Detached) !== 0) status = ZX_ERR_BAD_STATE;
  else {
    // Length 0 is not short-cut (Zircon has no empty check on this path): an empty range strictly
    // inside a request still meets it, and if it sits at an early-wake waiter's wake point that
    // waiter takes the error (ResolveRequestsLocked with fulfill 0).
    if (k.tracing) traceEvent(k, TraceEvent.Fail, w[k.obj(vmo) + KOID]!, offsetPages, lenPages, error);
    onPagesFailedLocked(k, vmo, offsetPages, lenPages, error);
  }
  k.unlockObject(vmo);
  return status;
}

/**
 * zx_pager_detach_vmo: completes every request (waiters retry into BAD_STATE), queues COMPLETE once,
 * and drops Clean pages and zero markers; Dirty and AwaitingClean pages stay for writeback.
 */
export function detachVmo(k: KernelState, vmo: number): void {
  const w = k.w;
  k.lockObject(vmo);
  if ((w[k.obj(vmo) + V_FLAGS]! & VmoFlag.Detached) === 0) {
    if (k.tracing) traceEvent(k, TraceEvent.Detach, w[k.obj(vmo) + KOID]!);
    detachSourceLocked(k, vmo);
    forEachPresent(k, vmo, 0, w[k.obj(vmo) + V_SIZE_PAGES]!, (page, slot) => {
      if (slotKind(slot) === SlotKind.Page && slotDirtyState(slot) !== DirtyState.Clean) return;
      if (slotKind(slot) === SlotKind.Page) {
        freeFrame(k, slotFrame(slot));
        w[k.obj(vmo) + V_COMMITTED_PAGES] = w[k.obj(vmo) + V_COMMITTED_PAGES]! - 1;
      }
      setSlot(k, vmo, page, EMPTY_SLOT);
    });
  }
  k.unlockObject(vmo);
}

export function isDiscardable(k: KernelState, vmo: number): boolean {
  return (k.w[k.obj(vmo) + V_OPTIONS]! & ZX_VMO_DISCARDABLE) !== 0;
}

export function isResizable(k: KernelState, vmo: number): boolean {
  return (k.w[k.obj(vmo) + V_OPTIONS]! & ZX_VMO_RESIZABLE) !== 0;
}

export function committedPages(k: KernelState, vmo: number): number {
  k.lockObject(vmo);
  const n = k.w[k.obj(vmo) + V_COMMITTED_PAGES]!;
  k.unlockObject(vmo);
  assert(n >= 0, 'negative committed page count');
  return n;
}
