// Pmm: the physical frame pool (zircon kernel/vm/pmm). Owns the free-frame stack and the frame ->
// (VMO, page) back pointers in shared/layout.ts. Any thread allocates under H_PMM_LOCK, a leaf lock.
// Frames handed out are zero-filled by the caller only when it needs zeros (supply moves frames
// without touching their bytes).
//
// Allocation never reclaims: its callers hold a VMO lock, and reclaim must take other VMOs' locks (and
// must never touch the range the caller is working on). An operation that finds the pool short frees
// what it took, returns SHOULD_WAIT_FOR_FRAMES (or _NODES), and its outermost function drops the VMO lock, calls
// waitForMemory (reclaim with no lock held) and restarts - Zircon's ZX_ERR_SHOULD_WAIT with an
// AnonymousPageRequest. ZX_ERR_NO_MEMORY reaches the caller only when reclaim found nothing to free.
//
// The free-frame stack: frameTable.freeStack(0 .. header.freeFrames - 1), top last. A frame is free
// exactly when frameTable.ownerVmo(frame) is -1 (FRAME_FREE) and it sits on the stack once.

import { H_PMM_LOCK } from '../../shared/layout.js';
import { PAGE_SIZE } from '../../shared/constants.js';
import type { KernelState } from '../kernel_state.js';

/**
 * Kernel-internal statuses of a *Locked operation that found the frame pool (FRAMES) or the radix-node
 * heap (NODES; evicting pages frees nodes too) short and undid everything it had done: the caller
 * drops the VMO lock, calls waitForMemory and retries. Never returned by a syscall.
 */
export const SHOULD_WAIT_FOR_FRAMES = -0x4d454d;
export const SHOULD_WAIT_FOR_NODES = -0x4d454e;

export function isMemoryWait(status: number): boolean {
  return status === SHOULD_WAIT_FOR_FRAMES || status === SHOULD_WAIT_FOR_NODES;
}

/** frameTable.ownerVmo of a frame on the free-frame stack. */
export const FRAME_FREE = -1;

/** Takes a free frame for page `ownerPage` of `ownerVmo` (whose lock the caller holds); -1 if none. */
export function allocFrame(k: KernelState, ownerVmo: number, ownerPage: number): number {
  k.lockLeaf(H_PMM_LOCK);
  const free = k.header.freeFrames();
  let frame = -1;
  if (free > 0) {
    frame = k.frameTable.freeStack(free - 1);
    k.header.setFreeFrames(free - 1);
    k.frameTable.setOwnerVmo(frame, ownerVmo);
    k.frameTable.setOwnerPage(frame, ownerPage);
  }
  k.unlockLeaf(H_PMM_LOCK);
  return frame;
}

/**
 * The wait half of an allocation that failed under a VMO lock with `status` (a memory wait). Called
 * with NO lock held: reclaims, never touching pages [start, end) of `vmo` (the range the caller works
 * on), and says whether the caller should retake its lock and retry: true when the `frames` it wanted
 * are free already (a frame shortage another thread relieved) or reclaim freed anything; false means
 * nothing is reclaimable (ZX_ERR_NO_MEMORY).
 */
export function waitForMemory(k: KernelState, vmo: number, start: number, end: number, status: number, frames: number): boolean {
  if (status === SHOULD_WAIT_FOR_FRAMES && freeFrameCount(k) >= frames) return true;
  return k.reclaim(vmo, start, end) > 0;
}

/** Returns `frame` to the pool (its owner's page no longer refers to it). */
export function freeFrame(k: KernelState, frame: number): void {
  k.lockLeaf(H_PMM_LOCK);
  const free = k.header.freeFrames();
  k.frameTable.setFreeStack(free, frame);
  k.header.setFreeFrames(free + 1);
  k.frameTable.setOwnerVmo(frame, FRAME_FREE);
  k.unlockLeaf(H_PMM_LOCK);
}

/** Records that a frame moved to another VMO (supply takes pages from the aux VMO). */
export function setFrameOwner(k: KernelState, frame: number, ownerVmo: number, ownerPage: number): void {
  // Written under the new owner's VMO lock; read by reclaim under the same lock.
  k.frameTable.setOwnerVmo(frame, ownerVmo);
  k.frameTable.setOwnerPage(frame, ownerPage);
}

/** Copying a zero page is 3-5x faster than fill(0) on a SharedArrayBuffer (bench/RESULTS.md). */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export function zeroFrame(k: KernelState, frame: number): void {
  k.frames.set(ZERO_PAGE, frame * PAGE_SIZE);
}

export function freeFrameCount(k: KernelState): number {
  return k.header.freeFrames();
}
