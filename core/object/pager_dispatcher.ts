// PagerDispatcher (zircon kernel/object/pager_dispatcher.cc): a pager object and the list of VMOs it
// created (linked through the VMO records, guarded by the pager's lock, which sits below VMO locks in
// the lock order). Closing the pager's last handle closes every VMO's page source (waiters retry into
// ZX_ERR_BAD_STATE) and takes back COMPLETE packets nobody read; pages already present stay readable.

import { ZX_ERR_BAD_STATE, ZX_OK } from '../../shared/status.js';
import { NOT_IN_PAGER_LIST } from '../../shared/layout.js';
import type { KernelState } from '../kernel_state.js';
import { closeSourceLocked } from '../vm/page_source.js';
import { proxyOnDispatcherCloseLocked } from './pager_proxy.js';


export function initPager(k: KernelState, pager: number): void {
  k.pagers.setVmoHead(pager, -1);
}

/** Links a new VMO into the pager's list; BAD_STATE if the pager's last handle is already gone. */
export function pagerLinkVmo(k: KernelState, pager: number, vmo: number): number {
  k.lockObject(pager);
  const closed = k.pagers.closed(pager) === 1;
  if (!closed) k.lists.pagerVmos.pushFront(k.pagers.vmoHeadWord(pager), -1, vmo);
  k.unlockObject(pager);
  return closed ? ZX_ERR_BAD_STATE : ZX_OK;
}

function unlinkLocked(k: KernelState, pager: number, vmo: number): void {
  k.assertHeld(pager);
  if (k.vmos.pagerPrev(vmo) === NOT_IN_PAGER_LIST) return;
  k.lists.pagerVmos.remove(k.pagers.vmoHeadWord(pager), -1, vmo);
  k.vmos.setPagerPrev(vmo, NOT_IN_PAGER_LIST);
  k.vmos.setPagerNext(vmo, NOT_IN_PAGER_LIST);
}

export function pagerUnlinkVmo(k: KernelState, pager: number, vmo: number): void {
  k.lockObject(pager);
  unlinkLocked(k, pager, vmo);
  k.unlockObject(pager);
}

/**
 * A reference on a VMO's record only if it is not already being freed. The record is in the pager's
 * list until it is freed (the unlink takes the pager lock the caller holds), so it is not reused yet.
 */
function tryAddRecordRef(k: KernelState, vmo: number): boolean {
  const at = k.vmos.recordRefsWord(vmo);
  for (let refs = k.vmos.recordRefs(vmo); refs > 0; refs = k.vmos.recordRefs(vmo)) {
    if (Atomics.compareExchange(k.w, at, refs, refs + 1) === refs) return true;
  }
  return false;
}

/** Closes the pager (its last handle went): every VMO still listed loses its page source. */
export function pagerOnZeroHandles(k: KernelState, pager: number): void {
  for (;;) {
    k.lockObject(pager);
    k.pagers.setClosed(pager, 1);
    const vmo = k.lists.pagerVmos.first(k.pagers.vmoHeadWord(pager));
    if (vmo >= 0) unlinkLocked(k, pager, vmo);
    // A dead VMO whose COMPLETE is still queued is in the list too: that packet is withdrawn.
    const alive = vmo >= 0 && tryAddRecordRef(k, vmo);
    k.unlockObject(pager);
    if (vmo < 0) return;
    if (!alive) continue; // being freed: nothing left to close or withdraw
    k.lockObject(vmo);
    proxyOnDispatcherCloseLocked(k, vmo, () => closeSourceLocked(k, vmo));
    k.unlockObject(vmo);
    k.releaseRecord(vmo);
  }
}
