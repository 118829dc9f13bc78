// PagerDispatcher (zircon kernel/object/pager_dispatcher.cc): a pager object and the list of VMOs it
// created (linked through the VMO records, guarded by the pager's lock, which sits below VMO locks in
// the lock order). Closing the pager's last handle closes every VMO's page source (waiters retry into
// ZX_ERR_BAD_STATE) and takes back COMPLETE packets nobody read; pages already present stay readable.

import { P_CLOSED, P_VMO_HEAD, V_PAGER_NEXT, V_PAGER_PREV, V_RECORD_REFS } from '../../shared/layout.js';
import { ZX_ERR_BAD_STATE, ZX_OK } from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';
import { closeSourceLocked } from '../vm/page_source.js';
import { proxyOnDispatcherCloseLocked } from './pager_proxy.js';

export function initPager(k: KernelState, pager: number): void {
  k.w[k.obj(pager) + P_VMO_HEAD] = -1;
}

/** Links a new VMO into the pager's list; BAD_STATE if the pager's last handle is already gone. */
export function pagerLinkVmo(k: KernelState, pager: number, vmo: number): number {
  const w = k.w;
  const p = k.obj(pager);
  k.lockObject(pager);
  if (w[p + P_CLOSED] === 1) {
    k.unlockObject(pager);
    return ZX_ERR_BAD_STATE;
  }
  const head = w[p + P_VMO_HEAD]!;
  w[k.obj(vmo) + V_PAGER_PREV] = -1;
  w[k.obj(vmo) + V_PAGER_NEXT] = head;
  if (head >= 0) w[k.obj(head) + V_PAGER_PREV] = vmo;
  w[p + P_VMO_HEAD] = vmo;
  k.unlockObject(pager);
  return ZX_OK;
}

function unlinkLocked(k: KernelState, pager: number, vmo: number): void {
  k.assertHeld(pager);
  const w = k.w;
  const v = k.obj(vmo);
  if (w[v + V_PAGER_PREV] === -2) return; // not in the list
  const prev = w[v + V_PAGER_PREV]!;
  const next = w[v + V_PAGER_NEXT]!;
  if (prev >= 0) w[k.obj(prev) + V_PAGER_NEXT] = next;
  else w[k.obj(pager) + P_VMO_HEAD] = next;
  if (next >= 0) w[k.obj(next) + V_PAGER_PREV] = prev;
  w[v + V_PAGER_PREV] = -2;
  w[v + V_PAGER_NEXT] = -2;
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
function tryAddRecordRef(k: KernelState, obj: number): boolean {
  const w = k.w;
  const at = k.obj(obj) + V_RECORD_REFS;
  for (let refs = Atomics.load(w, at); refs > 0; refs = Atomics.load(w, at)) {
    if (Atomics.compareExchange(w, at, refs, refs + 1) === refs) return true;
  }
  return false;
}

export function pagerOnZeroHandles(k: KernelState, pager: number): void {
  const w = k.w;
  const p = k.obj(pager);
  for (;;) {
    k.lockObject(pager);
    w[p + P_CLOSED] = 1;
    const vmo = w[p + P_VMO_HEAD]!;
    if (vmo < 0) {
      k.unlockObject(pager);
      return;
    }
    unlinkLocked(k, pager, vmo);
    // A dead VMO whose COMPLETE is still queued is in the list too: that packet is withdrawn.
    const alive = tryAddRecordRef(k, vmo);
    k.unlockObject(pager);
    if (!alive) continue; // being freed: nothing left to close or withdraw
    k.lockObject(vmo);
    proxyOnDispatcherCloseLocked(k, vmo, () => closeSourceLocked(k, vmo));
    k.unlockObject(vmo);
    k.releaseRecord(vmo);
  }
}
