// Pmm: the physical frame pool (zircon kernel/vm/pmm). Owns the free-frame stack and the frame ->
// (VMO, page) back pointers in shared/layout.ts. Any thread allocates under H_PMM_LOCK, a leaf lock.
// Frames handed out are zero-filled by the caller only when it needs zeros (supply moves frames
// without touching their bytes).

import { H_FREE_FRAMES, H_PMM_LOCK } from '../../shared/layout.js';
import { PAGE_SIZE } from '../../shared/constants.js';
import type { KernelState } from '../kernel_state.js';

/**
 * Takes a free frame for page `ownerPage` of `ownerVmo`, whose lock the caller holds. When the pool is
 * empty the calling thread reclaims (evicts clean pager pages, discards unlocked discardable VMOs)
 * and retries; -1 only when nothing could be reclaimed (ZX_ERR_NO_MEMORY).
 */
export function allocFrame(k: KernelState, ownerVmo: number, ownerPage: number): number {
  for (;;) {
    const frame = popFreeFrame(k, ownerVmo, ownerPage);
    if (frame >= 0 || k.reclaim(ownerVmo) === 0) return frame;
  }
}

function popFreeFrame(k: KernelState, ownerVmo: number, ownerPage: number): number {
  const w = k.w;
  const L = k.layout;
  k.lockLeaf(H_PMM_LOCK);
  const free = w[H_FREE_FRAMES]!;
  let frame = -1;
  if (free > 0) {
    frame = w[L.freeFrames + free - 1]!;
    w[H_FREE_FRAMES] = free - 1;
    w[L.frameOwnerVmo + frame] = ownerVmo;
    w[L.frameOwnerPage + frame] = ownerPage;
  }
  k.unlockLeaf(H_PMM_LOCK);
  return frame;
}

export function freeFrame(k: KernelState, frame: number): void {
  const w = k.w;
  const L = k.layout;
  k.lockLeaf(H_PMM_LOCK);
  const free = w[H_FREE_FRAMES]!;
  w[L.freeFrames + free] = frame;
  w[H_FREE_FRAMES] = free + 1;
  w[L.frameOwnerVmo + frame] = -1;
  k.unlockLeaf(H_PMM_LOCK);
}

/** Records that a frame moved to another VMO (supply takes pages from the aux VMO). */
export function setFrameOwner(k: KernelState, frame: number, ownerVmo: number, ownerPage: number): void {
  // Written under the new owner's VMO lock; read by reclaim under the same lock.
  k.w[k.layout.frameOwnerVmo + frame] = ownerVmo;
  k.w[k.layout.frameOwnerPage + frame] = ownerPage;
}

/** Copying a zero page is 3-5x faster than fill(0) on a SharedArrayBuffer (bench/RESULTS.md). */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export function zeroFrame(k: KernelState, frame: number): void {
  k.frames.set(ZERO_PAGE, frame * PAGE_SIZE);
}

export function freeFrameCount(k: KernelState): number {
  return Atomics.load(k.w, H_FREE_FRAMES);
}
