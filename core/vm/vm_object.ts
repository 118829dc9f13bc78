// VmObjectPaged + VmCowPages for pagersim (zircon kernel/vm/vm_object_paged.cc, vm_cow_pages.cc): the
// page operations of anonymous and pager-backed VMOs. Each public function takes the VMO lock, does its
// work on the page list (page_list.ts) and the PageSource (page_source.ts), and when a page is absent
// fills the calling thread's PageRequest, drops the lock, waits, retakes it and re-validates from
// scratch (size, presence): the Zircon loop. Called from core/sys.ts by any thread.
//
// Request shapes (docs/semantics.md §3.3): vmo_read asks for the rest of the read (early wake);
// vmo_write for at most MAX_WRITE_WAIT_PAGES; commit for the rest of its range; every READ request
// covers only a run of absent pages (it stops at the first present slot).
//
// A VMO's committed-page count (vmos.committedPages) changes only where a frame enters its page list
// (placeFrameLocked, insertSuppliedLocked) or leaves it (releasePageLocked, takePages), all through
// addCommittedLocked.

import { assert } from '../../shared/assert.js';
import { MAX_WRITE_WAIT_PAGES, PAGE_SIZE, ZX_VMO_DISCARDABLE, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../shared/constants.js';
import { NOT_IN_PAGER_LIST, PacketKind, PageRequestType, PX_NONE, VmoFlag } from '../../shared/layout.js';
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
import { allocPacket, freePacket } from '../object/port_dispatcher.js';
import {
  firstInterval,
  freeAllIntervalsLocked,
  intervalAtLocked,
  nextIntervalStartLocked,
  releaseReservedIntervals,
  removeRangeLocked,
  removeRangeSplitsLocked,
  reserveIntervals,
} from './zero_intervals.js';
import {
  insertSlotsIfEmpty,
  lookupSlot,
  nextPresentPage,
  PAST_ANY_PAGE,
  setSlot,
  setSlotInPlace,
  slotAt,
  slotIndex,
  takeSlots,
  treeHeightFor,
} from './page_list.js';
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
  if ((slot & DONT_NEED_BIT) !== 0) k.header.addDontNeedPages(-1);
  setSlotInPlace(k, at, (slot | ACCESSED_BIT) & ~DONT_NEED_BIT);
}

/** Pages between voluntary lock drops in long read/write loops (kPagesBetweenUnlocks). */
const PAGES_BETWEEN_UNLOCKS = 16;
/** Pages taken from the aux VMO per batch of a supply: bounded scratch, no per-page allocation. */
const SUPPLY_BATCH_PAGES = 256;

export function isPagerBacked(k: KernelState, vmo: number): boolean {
  return (k.vmos.flags(vmo) & VmoFlag.PagerBacked) !== 0;
}

export function vmoSizePages(k: KernelState, vmo: number): number {
  return k.vmos.sizePages(vmo);
}

/**
 * Whether the page at `page`, whose slot is `slot`, is absent: a pager VMO's offset with no slot and
 * no zero interval, whose content only the pager can supply (a READ request). Anonymous VMOs have no
 * absent pages: an empty offset reads as zeros.
 */
export function isAbsentLocked(k: KernelState, vmo: number, page: number, slot: number): boolean {
  k.assertHeld(vmo);
  return slotKind(slot) === SlotKind.Empty && isPagerBacked(k, vmo) && intervalAtLocked(k, vmo, page) < 0;
}

/** The one writer of vmos.committedPages: frames entered (deltaPages > 0) or left the VMO's page list. */
function addCommittedLocked(k: KernelState, vmo: number, deltaPages: number): void {
  const n = k.vmos.committedPages(vmo) + deltaPages;
  assert(n >= 0, 'negative committed page count');
  k.vmos.setCommittedPages(vmo, n);
}

/** Fills a freshly allocated VMO object record. Pager VMOs also get their port packet. */
export function initVmo(k: KernelState, vmo: number, sizePages: number, options: number, pager: number, port: number, key: bigint): number {
  const vmos = k.vmos;
  vmos.setOptions(vmo, options);
  vmos.setSizePages(vmo, sizePages);
  vmos.setRootNode(vmo, -1);
  vmos.setTreeHeight(vmo, treeHeightFor(Math.max(sizePages, 1)));
  vmos.setPager(vmo, pager);
  vmos.setPagerNext(vmo, NOT_IN_PAGER_LIST);
  vmos.setPagerPrev(vmo, NOT_IN_PAGER_LIST);
  vmos.setPort(vmo, port);
  vmos.setOutRead(vmo, -1);
  vmos.setOutDirty(vmo, -1);
  vmos.setPxActive(vmo, PX_NONE);
  vmos.setPxFifoHead(vmo, -1);
  vmos.setPxFifoTail(vmo, -1);
  vmos.setPxPacket(vmo, -1);
  vmos.setZeroHead(vmo, -1);
  vmos.setRecordRefs(vmo, 1); // the live VMO's own reference on its record
  if (pager >= 0) {
    const e = allocPacket(k, PacketKind.Pager);
    if (e < 0) return ZX_ERR_NO_MEMORY;
    k.packets.setVmo(e, vmo);
    vmos.setPxPacket(vmo, e);
    vmos.setFlags(vmo, VmoFlag.PagerBacked);
    vmos.setPagerKoid(vmo, k.objects.koid(pager));
    vmos.setKeyLo(vmo, Number(BigInt.asUintN(32, key)) | 0);
    vmos.setKeyHi(vmo, Number(BigInt.asUintN(32, key >> 32n)) | 0);
  }
  return ZX_OK;
}

/**
 * The VMO's last reference is gone (VmCowPages::DeadTransition): a pager VMO's source closes - waiters
 * have none left, so this only queues the COMPLETE - and every page and zero interval is freed. The
 * record stays (it is the PagerProxy) until its own last reference goes: see freeVmoRecord.
 */
export function vmoDeadTransition(k: KernelState, vmo: number): void {
  k.lockObject(vmo);
  if (isPagerBacked(k, vmo)) closeSourceLocked(k, vmo);
  releasePagesLocked(k, vmo, 0, PAST_ANY_PAGE, ReleaseKeep.Nothing);
  assert(k.vmos.committedPages(vmo) === 0, 'a dead VMO still counts committed pages');
  freeAllIntervalsLocked(k, vmo);
  k.unlockObject(vmo);
}

/**
 * Destroys a VMO that zx_pager_create_vmo built but could not link to its pager (the pager closed
 * meanwhile): it was never published, so it has no page source to close and no COMPLETE to send (in
 * Zircon the source is never created). It holds no pager or port reference yet.
 */
export function destroyUnpublishedVmo(k: KernelState, vmo: number): void {
  k.vmos.setPager(vmo, -1);
  k.vmos.setPort(vmo, -1);
  k.vmos.setFlags(vmo, k.vmos.flags(vmo) | VmoFlag.Detached | VmoFlag.SourceClosed | VmoFlag.PagerClosed);
  k.addRef(vmo);
  k.release(vmo);
}

/** The record's last reference is gone (no packet in any port): frees its packet. */
export function freeVmoPacket(k: KernelState, vmo: number): void {
  const e = k.vmos.pxPacket(vmo);
  if (e >= 0) {
    freePacket(k, e);
    k.vmos.setPxPacket(vmo, -1);
  }
}

// ---- Pages leaving the page list ----

/** What releasePagesLocked leaves in place. */
export const ReleaseKeep = {
  /** Nothing: every page and zero marker goes. */
  Nothing: 0,
  /** Zero markers stay (already clean zeros); every page goes. */
  Markers: 1,
  /** Dirty and AwaitingClean pages stay (they await writeback); Clean pages and markers go. */
  DirtyPages: 2,
} as const;
export type ReleaseKeep = (typeof ReleaseKeep)[keyof typeof ReleaseKeep];

/** Empties the offset `page` holding `slot`: a page's frame goes back to the pool. */
export function releasePageLocked(k: KernelState, vmo: number, page: number, slot: number): void {
  k.assertHeld(vmo);
  setSlot(k, vmo, page, EMPTY_SLOT);
  if (slotKind(slot) === SlotKind.Page) {
    freeFrame(k, slotFrame(slot));
    addCommittedLocked(k, vmo, -1);
  }
}

/** Empties the present offsets of [startPage, endPage) except what `keep` names; returns the frames freed. */
export function releasePagesLocked(k: KernelState, vmo: number, startPage: number, endPage: number, keep: ReleaseKeep): number {
  k.assertHeld(vmo);
  let freed = 0;
  for (let p = nextPresentPage(k, vmo, startPage, endPage); p < endPage; p = nextPresentPage(k, vmo, p + 1, endPage)) {
    const slot = lookupSlot(k, vmo, p);
    const isPage = slotKind(slot) === SlotKind.Page;
    if (keep === ReleaseKeep.Markers && !isPage) continue;
    if (keep === ReleaseKeep.DirtyPages && isPage && slotDirtyState(slot) !== DirtyState.Clean) continue;
    releasePageLocked(k, vmo, p, slot);
    if (isPage) freed++;
  }
  return freed;
}

// ---- Waits ----

/** Returned by a page step of a byte loop that dropped the VMO lock to wait: re-validate, retry the page. */
const RETRY_PAGE = 1;

/** Waits on the thread's populated request with the VMO lock dropped; ZX_OK means retry. */
function waitOnRequestDroppingLock(k: KernelState, vmo: number, r: number): number {
  k.unlockObject(vmo);
  const status = waitOnRequest(k, vmo, r);
  k.lockObject(vmo);
  return status;
}

/** Asks for [page, page + lenPages) and waits for it with the lock dropped: ZX_OK means retry. */
function requestPagesLocked(k: KernelState, r: number, vmo: number, type: number, page: number, lenPages: number, earlyWake: boolean): number {
  const status = populateRequestLocked(k, vmo, r, type, page, lenPages, earlyWake);
  return status === ZX_ERR_SHOULD_WAIT ? waitOnRequestDroppingLock(k, vmo, r) : status;
}

/** The end of an operation that may have populated the thread's request: cancels it, drops the lock. */
function finishLocked(k: KernelState, r: number, vmo: number, status: number): number {
  if (isRequestInitialized(k, r)) cancelRequestLocked(k, r);
  k.unlockObject(vmo);
  return status;
}

/**
 * The byte loop of vmo_read and vmo_write over [offset, offset + len): calls step(page, inPage, n,
 * done) for each piece of a page, in order. A step returns ZX_OK when it handled its n bytes,
 * RETRY_PAGE after a wait (the size is checked again, then the same page retried), or a status
 * that ends the loop. Yields the lock every PAGES_BETWEEN_UNLOCKS pages when another thread waits.
 */
function byteLoopLocked(k: KernelState, vmo: number, offset: number, len: number, step: (page: number, inPage: number, n: number, done: number) => number): number {
  k.assertHeld(vmo);
  let done = 0;
  let sinceUnlock = 0;
  for (;;) {
    if (offset + len > k.vmos.sizePages(vmo) * PAGE_SIZE) return ZX_ERR_OUT_OF_RANGE; // checked up front and again after every wait
    if (done >= len) return ZX_OK;
    const cur = offset + done;
    const page = Math.floor(cur / PAGE_SIZE);
    const inPage = cur - page * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, len - done);
    const status = step(page, inPage, n, done);
    if (status === RETRY_PAGE) continue;
    if (status !== ZX_OK) return status;
    done += n;
    if (++sinceUnlock >= PAGES_BETWEEN_UNLOCKS && k.objectLockContended(vmo)) {
      sinceUnlock = 0;
      k.unlockObject(vmo);
      k.lockObject(vmo);
    }
  }
}

// ---- Reads ----

/**
 * zx_vmo_read into dst from byte `offset`. Absent pages of a pager VMO raise one READ request for the
 * rest of the read, with early wake: the reader copies each page as soon as it arrives.
 */
export function vmoRead(k: KernelState, r: number, vmo: number, dst: Uint8Array, offset: number): number {
  const len = dst.length;
  const endPage = Math.floor((offset + len - 1) / PAGE_SIZE) + 1;
  k.lockObject(vmo);
  const status = byteLoopLocked(k, vmo, offset, len, (page, inPage, n, done) => {
    const at = slotIndex(k, vmo, page);
    const slot = slotAt(k, at);
    if (slotKind(slot) === SlotKind.Page) {
      const src = slotFrame(slot) * PAGE_SIZE + inPage;
      dst.set(k.frames.subarray(src, src + n), done);
      markAccessedLocked(k, at, slot);
      return ZX_OK;
    }
    if (!isAbsentLocked(k, vmo, page, slot)) {
      dst.fill(0, done, done + n); // a zero marker, a zero interval or an anonymous hole
      return ZX_OK;
    }
    const runEnd = absentRunEndLocked(k, vmo, page, endPage);
    const waited = requestPagesLocked(k, r, vmo, PageRequestType.Read, page, runEnd - page, true);
    return waited === ZX_OK ? RETRY_PAGE : waited;
  });
  return finishLocked(k, r, vmo, status);
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
    if (slotKind(slot) === SlotKind.Page && slotDirtyState(slot) === DirtyState.Dirty) break;
    if (isAbsentLocked(k, vmo, p, slot)) break;
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
  addCommittedLocked(k, vmo, 1);
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
  return (k.vmos.options(vmo) & ZX_VMO_TRAP_DIRTY) !== 0;
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
  if (isAbsentLocked(k, vmo, page, slot)) {
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
  const len = src.length;
  const firstPage = Math.floor(offset / PAGE_SIZE);
  const endPage = Math.floor((offset + len - 1) / PAGE_SIZE) + 1;
  let wrote = false;
  k.lockObject(vmo);
  const status = byteLoopLocked(k, vmo, offset, len, (page, inPage, n, done) => {
    const slot = prepareWritePageLocked(k, r, vmo, page, endPage, n === PAGE_SIZE);
    if (isMemoryWait(slot)) return waitForMemoryDroppingLock(k, vmo, firstPage, endPage, slot, 1) ? RETRY_PAGE : ZX_ERR_NO_MEMORY;
    if (slot === ZX_ERR_SHOULD_WAIT) {
      const waited = waitOnRequestDroppingLock(k, vmo, r);
      return waited === ZX_OK ? RETRY_PAGE : waited;
    }
    if (slot < 0) return slot;
    k.frames.set(src.subarray(done, done + n), slotFrame(slot) * PAGE_SIZE + inPage);
    wrote = true;
    return ZX_OK;
  });
  if (wrote && isPagerBacked(k, vmo)) k.vmos.setFlags(vmo, k.vmos.flags(vmo) | VmoFlag.Modified);
  return finishLocked(k, r, vmo, status);
}

/**
 * Zeroes bytes [offset, offset + len) inside one page: nothing to do if the page already reads as zero
 * (a zero marker or a zero interval); otherwise a write of zeros, with its READ/DIRTY requests.
 */
export function zeroPartialPage(k: KernelState, r: number, vmo: number, offset: number, len: number): number {
  const page = Math.floor(offset / PAGE_SIZE);
  k.lockObject(vmo);
  const slot = lookupSlot(k, vmo, page);
  const alreadyZero = slotKind(slot) !== SlotKind.Page && !isAbsentLocked(k, vmo, page, slot);
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
  let status: number = ZX_OK;
  let page = startPage;
  k.lockObject(vmo);
  for (;;) {
    const end = Math.min(endPage, k.vmos.sizePages(vmo));
    if (page >= end) break;
    const next = populatePageLocked(k, r, vmo, page, end, mode, startPage, endPage);
    if (next < 0) {
      status = next;
      break;
    }
    page = next;
  }
  return finishLocked(k, r, vmo, status);
}

/**
 * One step of populateRange at `page` (< end, the range trimmed to the size): the page to go on from
 * (`page` again after a wait; `end` to stop with ZX_OK), or a status that ends the populate.
 */
function populatePageLocked(k: KernelState, r: number, vmo: number, page: number, end: number, mode: Populate, startPage: number, endPage: number): number {
  k.assertHeld(vmo);
  const at = slotIndex(k, vmo, page);
  const slot = slotAt(k, at);
  const kind = slotKind(slot);
  if (kind === SlotKind.Page || (kind === SlotKind.Marker && mode !== Populate.Commit)) {
    if (mode === Populate.AlwaysNeed && kind === SlotKind.Page) setSlotInPlace(k, at, slot | ALWAYS_NEED_BIT);
    return page + 1;
  }
  const pagerBacked = isPagerBacked(k, vmo);
  if (!pagerBacked && mode !== Populate.Commit) return end; // hints and prefetch never commit anonymous pages
  const absent = isAbsentLocked(k, vmo, page, slot);
  const inInterval = pagerBacked && kind === SlotKind.Empty && !absent;
  if (inInterval && mode !== Populate.Commit) return Math.min(end, nextPresentPage(k, vmo, page, end));
  let request = -1;
  let runEnd = page + 1;
  if (absent) {
    request = PageRequestType.Read;
    runEnd = absentRunEndLocked(k, vmo, page, end);
  } else if (inInterval && isTrapDirty(k, vmo)) {
    // Committing a zero-interval page makes a Dirty page: trapping VMOs ask first.
    request = PageRequestType.Dirty;
    runEnd = dirtyRequestRunEndLocked(k, vmo, page, end);
  }
  if (request >= 0) {
    const status = requestPagesLocked(k, r, vmo, request, page, runEnd - page, false);
    if (status === ZX_OK) return page;
    // ALWAYS_NEED ignores errors: move past the page it could not get.
    return mode === Populate.AlwaysNeed ? page + 1 : status;
  }
  // A zero marker becomes a clean zero page, a zero-interval page a Dirty one; anonymous: zeros.
  const made = inInterval ? makeDirtyLocked(k, vmo, page, slot) : materializeLocked(k, vmo, page, DirtyState.Clean);
  if (isMemoryWait(made)) return waitForMemoryDroppingLock(k, vmo, startPage, endPage, made, 1) ? page : ZX_ERR_NO_MEMORY;
  return made < 0 ? made : page + 1;
}

/** ZX_VMO_OP_DONT_NEED on a pager VMO: present Clean pages go to reclaim's first pass. */
export function dontNeedRange(k: KernelState, vmo: number, startPage: number, endPage: number): void {
  k.lockObject(vmo);
  const end = Math.min(endPage, k.vmos.sizePages(vmo));
  for (let p = nextPresentPage(k, vmo, startPage, end); p < end; p = nextPresentPage(k, vmo, p + 1, end)) {
    const at = slotIndex(k, vmo, p);
    const slot = slotAt(k, at);
    if (slotKind(slot) !== SlotKind.Page || slotDirtyState(slot) !== DirtyState.Clean || (slot & DONT_NEED_BIT) !== 0) continue;
    setSlotInPlace(k, at, (slot | DONT_NEED_BIT) & ~ACCESSED_BIT);
    k.header.addDontNeedPages(1);
  }
  k.unlockObject(vmo);
}

/** ZX_VMO_OP_DECOMMIT of an anonymous VMO: the pages go back to the pool (the range reads zero). */
export function decommitRange(k: KernelState, vmo: number, startPage: number, endPage: number): number {
  k.lockObject(vmo);
  let status: number = ZX_OK;
  if (endPage > k.vmos.sizePages(vmo)) status = ZX_ERR_OUT_OF_RANGE;
  else releasePagesLocked(k, vmo, startPage, endPage, ReleaseKeep.Nothing);
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
  const vmos = k.vmos;
  k.lockObject(vmo);
  let status: number = ZX_OK;
  const discarded = (vmos.flags(vmo) & VmoFlag.Discarded) !== 0;
  if (op === 'unlock') {
    if (vmos.lockCount(vmo) === 0) status = ZX_ERR_BAD_STATE;
    else vmos.setLockCount(vmo, vmos.lockCount(vmo) - 1);
  } else if (op === 'try' && discarded) {
    status = ZX_ERR_UNAVAILABLE;
  } else {
    out.discardedPages = discarded ? vmos.sizePages(vmo) : 0;
    vmos.setFlags(vmo, vmos.flags(vmo) & ~VmoFlag.Discarded);
    vmos.setLockCount(vmo, vmos.lockCount(vmo) + 1);
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

function supplyScratchOf(k: KernelState): SupplyScratch {
  let scratch = supplyScratch.get(k);
  if (!scratch) {
    scratch = { slots: new Int32Array(SUPPLY_BATCH_PAGES), skip: new Uint8Array(SUPPLY_BATCH_PAGES), inserted: new Uint8Array(SUPPLY_BATCH_PAGES) };
    supplyScratch.set(k, scratch);
  }
  return scratch;
}

/**
 * zx_pager_supply_pages after the syscall's handle checks: moves the aux VMO's frames into the pager
 * VMO (no byte copy). Offsets already holding content are skipped and their supplied frame freed;
 * uncommitted aux pages become zero markers. Each run of newly filled pages resolves READ requests.
 */
export function supplyPages(k: KernelState, vmo: number, offsetPages: number, lenPages: number, aux: number, auxOffsetPages: number): number {
  if (isPagerBacked(k, aux)) return ZX_ERR_NOT_SUPPORTED;
  k.lockObject(aux);
  const auxOk = auxOffsetPages + lenPages <= k.vmos.sizePages(aux);
  k.unlockObject(aux);
  if (!auxOk) return ZX_ERR_OUT_OF_RANGE;
  k.lockObject(vmo);
  const early = checkSupplyTargetLocked(k, vmo, offsetPages, lenPages);
  k.unlockObject(vmo);
  if (early !== ZX_OK) return early;
  const scratch = supplyScratchOf(k);
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
      for (let i = 0; i < batch; i++) if (slotKind(scratch.slots[i]) === SlotKind.Page) freeFrame(k, slotFrame(scratch.slots[i]));
      return status;
    }
    done += batch;
  }
  return ZX_OK;
}

function checkSupplyTargetLocked(k: KernelState, vmo: number, offsetPages: number, lenPages: number): number {
  k.assertHeld(vmo);
  if (offsetPages + lenPages > k.vmos.sizePages(vmo)) return ZX_ERR_OUT_OF_RANGE;
  if ((k.vmos.flags(vmo) & VmoFlag.Detached) !== 0) return ZX_ERR_BAD_STATE;
  return ZX_OK;
}

/**
 * TakePages: moves `count` slots out of aux into scratch.slots, each rewritten as what it will be in
 * the pager VMO: a Clean page (young for reclaim's clock) for a committed aux page, a zero marker for an
 * uncommitted one.
 */
function takePages(k: KernelState, aux: number, fromPage: number, count: number, scratch: SupplyScratch): void {
  k.lockObject(aux);
  takeSlots(k, aux, fromPage, count, scratch.slots);
  let taken = 0;
  const slots = scratch.slots;
  const marker = makeMarkerSlot();
  for (let i = 0; i < count; i++) {
    const slot = slots[i];
    if (slotKind(slot) === SlotKind.Page) {
      slots[i] = asCleanPage(slot, ACCESSED_BIT);
      taken++;
    } else {
      slots[i] = marker;
    }
  }
  addCommittedLocked(k, aux, -taken);
  k.unlockObject(aux);
}

/** Bug.SupplyOverwritesDirty (stress --inject-bug): supplied bytes overwrite present non-Clean pages. */
function injectSupplyOverwritesDirtyLocked(k: KernelState, vmo: number, offsetPages: number, count: number, slots: Int32Array): void {
  for (let i = 0; i < count; i++) {
    const existing = lookupSlot(k, vmo, offsetPages + i);
    if (slotKind(slots[i]) === SlotKind.Page && slotKind(existing) === SlotKind.Page && slotDirtyState(existing) !== DirtyState.Clean) {
      k.frames.copyWithin(slotFrame(existing) * PAGE_SIZE, slotFrame(slots[i]) * PAGE_SIZE, (slotFrame(slots[i]) + 1) * PAGE_SIZE);
    }
  }
}

/**
 * Inserts a taken batch: offsets holding anything (a page, a marker, a zero interval) keep it and the
 * supplied frame is freed; each run of newly filled offsets resolves READ requests. All or nothing:
 * SHOULD_WAIT_FOR_NODES, with the VMO unchanged, when a radix node could not be allocated.
 */
function insertSuppliedLocked(k: KernelState, vmo: number, offsetPages: number, count: number, scratch: SupplyScratch): number {
  k.assertHeld(vmo);
  const { slots, skip, inserted } = scratch;
  skip.fill(0, 0, count);
  if (firstInterval(k, vmo) >= 0) {
    for (let i = 0; i < count; i++) if (intervalAtLocked(k, vmo, offsetPages + i) >= 0) skip[i] = 1;
  }
  if (k.bugs & Bug.SupplyOverwritesDirty) injectSupplyOverwritesDirtyLocked(k, vmo, offsetPages, count, slots);
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
      const slot = slots[i];
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
      if (k.tracing) traceEvent(k, TraceEvent.Supply, k.objects.koid(vmo), runStart, offsetPages + i - runStart);
      onPagesSuppliedLocked(k, vmo, runStart, offsetPages + i - runStart);
      runStart = -1;
    }
  }
  addCommittedLocked(k, vmo, committed);
  k.header.addStatSuppliedPages(filled);
  return ZX_OK;
}

// ---- Fail, detach ----

/** ZX_PAGER_OP_FAIL after argument checks: fails outstanding READ and DIRTY requests in range. */
export function failPageRequests(k: KernelState, vmo: number, offsetPages: number, lenPages: number, error: number): number {
  k.lockObject(vmo);
  let status = checkSupplyTargetLocked(k, vmo, offsetPages, lenPages);
  if (status === ZX_OK) {
    // Length 0 is not short-cut (Zircon has no empty check on this path): an empty range strictly
    // inside a request still meets it, and if it sits at an early-wake waiter's wake point that
    // waiter takes the error (ResolveRequestsLocked with fulfill 0).
    if (k.tracing) traceEvent(k, TraceEvent.Fail, k.objects.koid(vmo), offsetPages, lenPages, error);
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
  k.lockObject(vmo);
  if ((k.vmos.flags(vmo) & VmoFlag.Detached) === 0) {
    if (k.tracing) traceEvent(k, TraceEvent.Detach, k.objects.koid(vmo));
    detachSourceLocked(k, vmo);
    releasePagesLocked(k, vmo, 0, k.vmos.sizePages(vmo), ReleaseKeep.DirtyPages);
  }
  k.unlockObject(vmo);
}

export function isDiscardable(k: KernelState, vmo: number): boolean {
  return (k.vmos.options(vmo) & ZX_VMO_DISCARDABLE) !== 0;
}

export function isResizable(k: KernelState, vmo: number): boolean {
  return (k.vmos.options(vmo) & ZX_VMO_RESIZABLE) !== 0;
}

export function committedPages(k: KernelState, vmo: number): number {
  k.lockObject(vmo);
  const n = k.vmos.committedPages(vmo);
  k.unlockObject(vmo);
  assert(n >= 0, 'negative committed page count');
  return n;
}
