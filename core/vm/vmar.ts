// The process's address space (VmAddressRegion / VmMapping, zircon vm_mapping.cc reduced to one flat
// region): mappings of VMO ranges at page-aligned addresses, in a shared table guarded by
// H_VMAR_LOCK (a leaf: it is dropped before any VMO lock is taken). memRead/memWrite are user-mode
// accesses: they fault page by page, each fault asking for exactly one page (a READ request for an
// absent page; for a store to a page that is not Dirty, the dirty path: a one-page DIRTY request on
// a TRAP_DIRTY VMO). There are no hardware page tables: a store checks the page's dirty state on
// every access, which is what a read-only PTE for every non-Dirty page (and write revocation at
// WRITEBACK_BEGIN) gives in the real kernel. A fault that cannot be resolved is fatal: the access
// reports its status and address, and the syscall layer throws ZxException(ZX_EXCP_FATAL_PAGE_FAULT).

import { PAGE_SIZE, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE } from '../../shared/constants.js';
import { H_VMAR_LOCK, PageRequestType, VMAR_BASE_PAGE, VMAR_END_PAGE, VmoFlag } from '../../shared/layout.js';
import { DirtyState, SlotKind, slotDirtyState, slotFrame, slotKind } from '../../shared/page_slot.js';
import {
  ZX_ERR_ACCESS_DENIED,
  ZX_ERR_INVALID_ARGS,
  ZX_ERR_NO_MEMORY,
  ZX_ERR_NO_RESOURCES,
  ZX_ERR_NOT_FOUND,
  ZX_ERR_OUT_OF_RANGE,
  ZX_ERR_SHOULD_WAIT,
  ZX_OK,
} from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';
import { lookupSlot, slotAt, slotIndex } from './page_list.js';
import { isMemoryWait, waitForMemory } from './pmm.js';
import { cancelRequestLocked, isRequestInitialized, populateRequestLocked, waitOnRequest } from './page_source.js';
import { isAbsentLocked, isPagerBacked, isTrapDirty, makeDirtyLocked, markAccessedLocked, materializeZeroPageLocked } from './vm_object.js';

/** mappings.inUse of a live mapping (0: on the free list). */
const MAPPING_LIVE = 1;

/** Whether mapping `m` is live and meets pages [first, end) of the address space. */
function mappingMeets(k: KernelState, m: number, first: number, end: number): boolean {
  if (k.mappings.inUse(m) !== MAPPING_LIVE) return false;
  const mb = k.mappings.basePage(m);
  return mb < end && mb + k.mappings.pages(m) > first;
}

/** Takes a mapping record off the free list (H_VMAR_LOCK held); -1 if the table is full. */
function allocMappingLocked(k: KernelState): number {
  const m = k.header.freeMapping();
  if (m >= 0) k.header.setFreeMapping(k.mappings.nextFree(m));
  return m;
}

/** The mapping references its VMO (a handle-like reference, and the VMO's mapping count). */
function addMappingRefLocked(k: KernelState, vmo: number): void {
  k.addRef(vmo);
  k.vmos.addMapCount(vmo, 1);
}

/**
 * The lowest base page where `pages` pages fit with a guard page on each side of every mapping (first
 * fit over the live mappings, sorted by base), or -1 when no gap of the address space is large enough.
 */
function findSpotLocked(k: KernelState, pages: number): number {
  const maps = k.mappings;
  const live: number[] = [];
  for (let m = 0; m < k.layout.maxMappings; m++) if (maps.inUse(m) === MAPPING_LIVE) live.push(m);
  live.sort((a, b) => maps.basePage(a) - maps.basePage(b));
  let candidate = VMAR_BASE_PAGE;
  for (const m of live) {
    const mb = maps.basePage(m);
    if (candidate + pages + 1 <= mb) break; // fits before this mapping, guard page included
    candidate = Math.max(candidate, mb + maps.pages(m) + 1);
  }
  return candidate + pages <= VMAR_END_PAGE ? candidate : -1;
}

/**
 * Maps `pages` pages of `vmo` from `vmoPage` with `perms`; returns the address or a status: NO_MEMORY
 * when the mapping table is full (Zircon's VmMapping allocation), NO_RESOURCES when no free range
 * of the address space is large enough. A failure changes nothing.
 */
export function vmarMap(k: KernelState, vmo: number, vmoPage: number, pages: number, perms: number): number {
  k.lockLeaf(H_VMAR_LOCK);
  const full = k.header.freeMapping() < 0;
  const base = full ? -1 : findSpotLocked(k, pages);
  if (base >= 0) {
    const m = allocMappingLocked(k);
    const maps = k.mappings;
    maps.setInUse(m, MAPPING_LIVE);
    maps.setBasePage(m, base);
    maps.setPages(m, pages);
    maps.setVmo(m, vmo);
    maps.setVmoPage(m, vmoPage);
    maps.setPerms(m, perms);
    addMappingRefLocked(k, vmo);
  }
  k.unlockLeaf(H_VMAR_LOCK);
  if (base < 0) return full ? ZX_ERR_NO_MEMORY : ZX_ERR_NO_RESOURCES;
  return base * PAGE_SIZE;
}

/**
 * Unmaps [address, address + length): whole mappings go, mappings cut at an edge shrink, a mapping
 * cut in the middle is split in two. Each mapping holds a reference on its VMO: the VMO dies (its page
 * source closes) when its last mapping, handle and syscall in flight are all gone.
 */
export function vmarUnmap(k: KernelState, address: number, length: number): number {
  if (address % PAGE_SIZE !== 0 || length === 0) return ZX_ERR_INVALID_ARGS;
  const first = address / PAGE_SIZE;
  const end = first + Math.ceil(length / PAGE_SIZE);
  // Zircon's VmAddressRegion::Unmap: the range must lie inside the region.
  if (first < VMAR_BASE_PAGE || end > VMAR_END_PAGE) return ZX_ERR_INVALID_ARGS;
  const released: number[] = [];
  let status: number = ZX_OK;
  k.lockLeaf(H_VMAR_LOCK);
  const maps = k.mappings;
  for (let m = 0; m < k.layout.maxMappings; m++) {
    if (!mappingMeets(k, m, first, end)) continue;
    const mb = maps.basePage(m);
    const me = mb + maps.pages(m);
    const vmo = maps.vmo(m);
    if (first <= mb && end >= me) {
      maps.setInUse(m, 0);
      maps.setNextFree(m, k.header.freeMapping());
      k.header.setFreeMapping(m);
      released.push(vmo);
    } else if (first <= mb) {
      maps.setVmoPage(m, maps.vmoPage(m) + (end - mb));
      maps.setBasePage(m, end);
      maps.setPages(m, me - end);
    } else if (end >= me) {
      maps.setPages(m, first - mb);
    } else {
      // Only a mapping that strictly contains the range is split, and then no other mapping meets
      // the range: failing here leaves the address space unchanged (VmMapping allocation: NO_MEMORY).
      const n = allocMappingLocked(k);
      if (n < 0) {
        status = ZX_ERR_NO_MEMORY;
        continue;
      }
      maps.setInUse(n, MAPPING_LIVE);
      maps.setBasePage(n, end);
      maps.setPages(n, me - end);
      maps.setVmo(n, vmo);
      maps.setVmoPage(n, maps.vmoPage(m) + (end - mb));
      maps.setPerms(n, maps.perms(m));
      maps.setPages(m, first - mb);
      addMappingRefLocked(k, vmo);
    }
  }
  k.unlockLeaf(H_VMAR_LOCK);
  for (const vmo of released) {
    k.vmos.addMapCount(vmo, -1);
    k.release(vmo); // the mapping's reference: the last one runs the VMO's dead transition
  }
  return status;
}

/** Result of a user-mode access: ZX_OK, or a fatal page fault's status and faulting address. */
export interface AccessResult {
  status: number;
  address: number;
}

/**
 * Finds the mapping of `page` (an address-space page number) and takes a reference on its VMO.
 * Returns the VMO slot and fills `out` with the VMO page and perms, or a status.
 */
function resolveLocked(k: KernelState, page: number, out: { vmoPage: number; perms: number }): number {
  const maps = k.mappings;
  for (let m = 0; m < k.layout.maxMappings; m++) {
    if (!mappingMeets(k, m, page, page + 1)) continue;
    out.vmoPage = maps.vmoPage(m) + (page - maps.basePage(m));
    out.perms = maps.perms(m);
    const vmo = maps.vmo(m);
    k.addRef(vmo);
    return vmo;
  }
  return ZX_ERR_NOT_FOUND;
}

const resolved = { vmoPage: 0, perms: 0 };

/**
 * memRead / memWrite: copies between `buffer` and the address space, faulting page by page. Each page
 * is re-resolved after every wait (the mapping may be gone or replaced), as a retried fault would be.
 */
export function memAccess(k: KernelState, r: number, address: number, buffer: Uint8Array, write: boolean, result: AccessResult): void {
  let done = 0;
  result.status = ZX_OK;
  while (done < buffer.length) {
    const cur = address + done;
    const page = Math.floor(cur / PAGE_SIZE);
    const inPage = cur - page * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, buffer.length - done);
    k.lockLeaf(H_VMAR_LOCK);
    const vmo = resolveLocked(k, page, resolved);
    k.unlockLeaf(H_VMAR_LOCK);
    if (vmo < 0) return fatal(result, vmo, cur);
    const { vmoPage, perms } = resolved;
    if ((perms & (write ? ZX_VM_PERM_WRITE : ZX_VM_PERM_READ)) === 0) {
      k.release(vmo);
      return fatal(result, ZX_ERR_ACCESS_DENIED, cur);
    }
    k.lockObject(vmo);
    let status = faultPageLocked(k, r, vmo, vmoPage, write);
    if (status === ZX_OK) copyPageLocked(k, vmo, vmoPage, inPage, buffer.subarray(done, done + n), write);
    if (status !== ZX_ERR_SHOULD_WAIT && isRequestInitialized(k, r)) cancelRequestLocked(k, r);
    k.unlockObject(vmo);
    if (isMemoryWait(status)) {
      // No frame for the fault: reclaim with no lock held (never this page), then retry the fault.
      const retry = waitForMemory(k, vmo, vmoPage, vmoPage + 1, status, 1);
      k.release(vmo);
      if (!retry) return fatal(result, ZX_ERR_NO_MEMORY, cur);
      continue;
    }
    if (status === ZX_ERR_SHOULD_WAIT) {
      // A waiting fault keeps the VMO's record, not the VMO, alive (Zircon's fault waits on its
      // PageRequest only): if the last handle and mapping go meanwhile, the VMO dies, its source
      // closes, and the retried fault finds no mapping.
      k.addRecordRef(vmo);
      k.release(vmo);
      status = waitOnRequest(k, vmo, r);
      if (isRequestInitialized(k, r)) {
        k.lockObject(vmo);
        cancelRequestLocked(k, r);
        k.unlockObject(vmo);
      }
      k.releaseRecord(vmo);
      if (status !== ZX_OK) return fatal(result, status, cur);
      continue; // retry the fault from the mapping lookup
    }
    k.release(vmo);
    if (status !== ZX_OK) return fatal(result, status, cur);
    done += n;
  }
}

/** The access itself, once the fault is resolved: copies `bytes` to or from page `page` at `inPage`. */
function copyPageLocked(k: KernelState, vmo: number, page: number, inPage: number, bytes: Uint8Array, write: boolean): void {
  k.assertHeld(vmo);
  const at = slotIndex(k, vmo, page);
  const slot = slotAt(k, at);
  if (slotKind(slot) === SlotKind.Page) {
    const frameOffset = slotFrame(slot) * PAGE_SIZE + inPage;
    if (write) k.frames.set(bytes, frameOffset);
    else bytes.set(k.frames.subarray(frameOffset, frameOffset + bytes.length));
    markAccessedLocked(k, at, slot);
  } else {
    bytes.fill(0); // a read of zeros: marker, zero interval or anonymous hole
  }
  if (write) k.vmos.setFlags(vmo, k.vmos.flags(vmo) | VmoFlag.Modified);
}

function fatal(result: AccessResult, status: number, address: number): void {
  result.status = status;
  result.address = address;
}

/**
 * Makes one page accessible for a user-mode read or write (PageFaultLocked): ZX_OK when the access can
 * proceed, ZX_ERR_SHOULD_WAIT after populating a one-page request, or a fatal status.
 */
function faultPageLocked(k: KernelState, r: number, vmo: number, page: number, write: boolean): number {
  k.assertHeld(vmo);
  if (page >= k.vmos.sizePages(vmo)) return ZX_ERR_OUT_OF_RANGE;
  const slot = lookupSlot(k, vmo, page);
  const kind = slotKind(slot);
  const pagerBacked = isPagerBacked(k, vmo);
  if (!pagerBacked) {
    if (!write || kind === SlotKind.Page) return ZX_OK;
    return materializeZeroPageLocked(k, vmo, page);
  }
  if (isAbsentLocked(k, vmo, page, slot)) {
    // Absent: one page, whatever the access (hardware faults never batch).
    return populateRequestLocked(k, vmo, r, PageRequestType.Read, page, 1, false);
  }
  if (!write || (kind === SlotKind.Page && slotDirtyState(slot) === DirtyState.Dirty)) return ZX_OK;
  if (isTrapDirty(k, vmo)) {
    return populateRequestLocked(k, vmo, r, PageRequestType.Dirty, page, 1, false);
  }
  const made = makeDirtyLocked(k, vmo, page, slot);
  return made < 0 ? made : ZX_OK;
}
