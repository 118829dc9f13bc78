// PagerProxy (zircon kernel/object/pager_proxy.cc): the PageProvider of a pager VMO. It owns the VMO's
// single reusable port packet (PX_PACKET), the FIFO of requests waiting for that packet, and the
// COMPLETE request. State lives in the VMO record (PX_*) and is guarded by the VMO lock; posting and
// withdrawing packets takes the port lock (VMO -> port in the lock order).
//
// Protocol: at most one packet per VMO is in the port. When the pager dequeues it, portWait calls
// proxyFreeLocked(), which posts the next FIFO entry. A request completed or cancelled while its
// packet still sits unread in the port is withdrawn (the pager never sees it) and the next entry is
// posted instead. A queued packet holds a reference on the VMO's record (not on the VMO): the VMO may
// die while its COMPLETE waits in the port, and the record (this proxy) lives until it is dequeued.

import { assert } from '../../shared/assert.js';
import {
  E_CMD,
  E_KEY_HI,
  E_KEY_LO,
  E_LENGTH,
  E_OFFSET,
  E_STATUS,
  E_TYPE,
  PageRequestType,
  PX_ACTIVE,
  PX_BUSY,
  PX_COMPLETE_IN_FIFO,
  PX_COMPLETE_PENDING,
  PX_FIFO_HEAD,
  PX_FIFO_TAIL,
  PX_PACKET,
  R_FIFO_NEXT,
  R_FIFO_PREV,
  R_IN_FIFO,
  R_LEN,
  R_OFFSET,
  R_TYPE,
  V_FLAGS,
  V_KEY_HI,
  V_KEY_LO,
  V_PORT,
  VmoFlag,
  H_STAT_PACKETS,
  H_STAT_WITHDRAWN,
} from '../../shared/layout.js';
import {
  ZX_PAGER_VMO_COMPLETE,
  ZX_PAGER_VMO_DIRTY,
  ZX_PAGER_VMO_READ,
  ZX_PKT_TYPE_PAGE_REQUEST,
} from '../../shared/constants.js';
import { ZX_OK } from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';
import { TraceEvent, traceEvent } from '../trace.js';
import { requestIdOf } from './request_id.js';
import { H_STAT_COMPLETES, H_STAT_FIFO_DROPPED, O_KOID } from '../../shared/layout.js';
import { portCancelQueuedLocked, portQueuePagerPacketLocked } from './port_dispatcher.js';

export const ACTIVE_NONE = -1;
export const ACTIVE_COMPLETE = -2;

export function proxySendAsyncRequestLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  assert((k.w[k.obj(vmo) + V_FLAGS]! & VmoFlag.SourceClosed) === 0, 'request sent to a closed source');
  queuePacketLocked(k, vmo, r);
}

function queuePacketLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  if (w[o + PX_BUSY] === 1) {
    if (r === ACTIVE_COMPLETE) w[o + PX_COMPLETE_IN_FIFO] = 1;
    else fifoAppendLocked(k, vmo, r);
    return;
  }
  w[o + PX_BUSY] = 1;
  w[o + PX_ACTIVE] = r;
  const e = k.pkt(w[o + PX_PACKET]!);
  w[e + E_KEY_LO] = w[o + V_KEY_LO]!;
  w[e + E_KEY_HI] = w[o + V_KEY_HI]!;
  w[e + E_TYPE] = ZX_PKT_TYPE_PAGE_REQUEST;
  w[e + E_STATUS] = ZX_OK;
  if (r === ACTIVE_COMPLETE) {
    w[e + E_CMD] = ZX_PAGER_VMO_COMPLETE;
    w[e + E_OFFSET] = 0;
    w[e + E_LENGTH] = 0;
  } else {
    const t = k.thr(r);
    w[e + E_CMD] = w[t + R_TYPE] === PageRequestType.Read ? ZX_PAGER_VMO_READ : ZX_PAGER_VMO_DIRTY;
    w[e + E_OFFSET] = w[t + R_OFFSET]!;
    w[e + E_LENGTH] = w[t + R_LEN]!;
  }
  // A port whose last handle is gone swallows the packet; we then believe it is in flight forever,
  // which is what Zircon does (ZX_ERR_BAD_HANDLE from Queue is treated as "queued, never answered").
  if (portQueuePagerPacketLocked(k, w[o + V_PORT]!, w[o + PX_PACKET]!)) {
    k.addRecordRef(vmo); // the packet's reference, dropped when it leaves the port
    Atomics.add(w, H_STAT_PACKETS, 1);
    if (r === ACTIVE_COMPLETE) Atomics.add(w, H_STAT_COMPLETES, 1);
  }
  if (k.tracing) traceEvent(k, TraceEvent.PktPost, w[o + O_KOID]!, r === ACTIVE_COMPLETE ? -2 : requestIdOf(k, r), w[e + E_CMD]!, w[e + E_OFFSET]!, w[e + E_LENGTH]!);
}

function fifoAppendLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  const t = k.thr(r);
  const tail = w[o + PX_FIFO_TAIL]!;
  w[t + R_IN_FIFO] = 1;
  w[t + R_FIFO_PREV] = tail;
  w[t + R_FIFO_NEXT] = -1;
  if (tail >= 0) w[k.thr(tail) + R_FIFO_NEXT] = r;
  else w[o + PX_FIFO_HEAD] = r;
  w[o + PX_FIFO_TAIL] = r;
}

function fifoRemoveLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  const t = k.thr(r);
  const prev = w[t + R_FIFO_PREV]!;
  const next = w[t + R_FIFO_NEXT]!;
  if (prev >= 0) w[k.thr(prev) + R_FIFO_NEXT] = next;
  else w[o + PX_FIFO_HEAD] = next;
  if (next >= 0) w[k.thr(next) + R_FIFO_PREV] = prev;
  else w[o + PX_FIFO_TAIL] = prev;
  w[t + R_IN_FIFO] = 0;
  w[t + R_FIFO_PREV] = -1;
  w[t + R_FIFO_NEXT] = -1;
}

/** Withdraws the packet from the port if unread; true if it was (the pager never saw it). */
function withdrawPacketLocked(k: KernelState, vmo: number, reqId: number): boolean {
  k.assertHeld(vmo);
  const o = k.obj(vmo);
  if (!portCancelQueuedLocked(k, k.w[o + V_PORT]!, k.w[o + PX_PACKET]!)) return false;
  k.releaseRecordNotLast(vmo); // the caller holds the VMO or another record reference
  Atomics.add(k.w, H_STAT_WITHDRAWN, 1);
  if (k.tracing) traceEvent(k, TraceEvent.PktWithdraw, k.w[o + O_KOID]!, reqId);
  return true;
}

/** The PageSource takes request r back (completed or cancelled). */
export function proxyClearAsyncRequestLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  if (w[o + PX_ACTIVE] === r) {
    w[o + PX_ACTIVE] = ACTIVE_NONE;
    // If the pager already dequeued it, proxyFreeLocked() runs soon and posts the next one.
    if (withdrawPacketLocked(k, vmo, requestIdOf(k, r))) onPacketFreedLocked(k, vmo);
  } else if (w[k.thr(r) + R_IN_FIFO] === 1) {
    fifoRemoveLocked(k, vmo, r);
    Atomics.add(w, H_STAT_FIFO_DROPPED, 1);
    if (k.tracing) traceEvent(k, TraceEvent.FifoDrop, w[o + O_KOID]!, requestIdOf(k, r));
  }
}

/** A cancelled leader handed its range to follower nw: nw takes its packet or FIFO place. */
export function proxySwapAsyncRequestLocked(k: KernelState, vmo: number, old: number, nw: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  if (w[k.thr(old) + R_IN_FIFO] === 1) {
    const next = w[k.thr(old) + R_FIFO_NEXT]!;
    fifoRemoveLocked(k, vmo, old);
    // Re-insert nw where old was: before `next`.
    const t = k.thr(nw);
    w[t + R_IN_FIFO] = 1;
    if (next < 0) {
      fifoAppendLocked(k, vmo, nw);
      return;
    }
    const prev = w[k.thr(next) + R_FIFO_PREV]!;
    w[t + R_FIFO_PREV] = prev;
    w[t + R_FIFO_NEXT] = next;
    w[k.thr(next) + R_FIFO_PREV] = nw;
    if (prev >= 0) w[k.thr(prev) + R_FIFO_NEXT] = nw;
    else w[o + PX_FIFO_HEAD] = nw;
  } else if (w[o + PX_ACTIVE] === old) {
    w[o + PX_ACTIVE] = nw;
  }
}

export function proxyOnDetachLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  k.w[k.obj(vmo) + PX_COMPLETE_PENDING] = 1;
  queuePacketLocked(k, vmo, ACTIVE_COMPLETE);
}

/**
 * The source closed (PagerProxy::OnClose). Zircon drops its ties to the pager here; in shared memory
 * the VMO record itself is the proxy and lives until its last record reference (a queued COMPLETE
 * packet holds one), so there is nothing to release.
 */
export function proxyOnCloseLocked(_k: KernelState, _vmo: number): void {}

/**
 * The pager object is going away (OnDispatcherClose): close the source (waiters wake and retry into
 * ZX_ERR_BAD_STATE), then take back a COMPLETE that nobody read. Nothing is posted afterwards.
 */
export function proxyOnDispatcherCloseLocked(k: KernelState, vmo: number, closeSource: () => void): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  if ((w[o + V_FLAGS]! & VmoFlag.SourceClosed) === 0) closeSource();
  if (w[o + PX_COMPLETE_PENDING] === 1) {
    if (w[o + PX_COMPLETE_IN_FIFO] === 1) {
      w[o + PX_COMPLETE_IN_FIFO] = 0;
      w[o + PX_COMPLETE_PENDING] = 0;
    } else if (w[o + PX_ACTIVE] === ACTIVE_COMPLETE && withdrawPacketLocked(k, vmo, -2)) {
      w[o + PX_COMPLETE_PENDING] = 0;
      w[o + PX_ACTIVE] = ACTIVE_NONE;
      w[o + PX_BUSY] = 0;
    }
  }
  w[o + V_FLAGS] = w[o + V_FLAGS]! | VmoFlag.PagerClosed;
}

/** The pager dequeued this VMO's packet (PagerProxy::Free): post the next one. */
export function proxyFreeLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  if (w[o + PX_ACTIVE] !== ACTIVE_COMPLETE) {
    w[o + PX_ACTIVE] = ACTIVE_NONE;
    onPacketFreedLocked(k, vmo);
  } else {
    w[o + PX_COMPLETE_PENDING] = 0;
    w[o + PX_ACTIVE] = ACTIVE_NONE;
    w[o + PX_BUSY] = 0;
  }
}

function onPacketFreedLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  assert(w[o + PX_ACTIVE] === ACTIVE_NONE, 'packet freed while a request is active');
  w[o + PX_BUSY] = 0;
  if ((w[o + V_FLAGS]! & VmoFlag.PagerClosed) !== 0) return;
  const head = w[o + PX_FIFO_HEAD]!;
  if (head >= 0) {
    fifoRemoveLocked(k, vmo, head);
    queuePacketLocked(k, vmo, head);
  } else if (w[o + PX_COMPLETE_IN_FIFO] === 1) {
    w[o + PX_COMPLETE_IN_FIFO] = 0;
    queuePacketLocked(k, vmo, ACTIVE_COMPLETE);
  }
}
