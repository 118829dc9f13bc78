// PagerProxy (zircon kernel/object/pager_proxy.cc): the PageProvider of a pager VMO
// (core/vm/page_provider.ts), installed as k.pageProvider by core/kernel.ts. It owns the VMO's single
// reusable port packet (vmos.pxPacket), the FIFO of requests waiting for that packet
// (k.lists.proxyFifo) and the COMPLETE request. State lives in the VMO record (vmos.px*) and is
// guarded by the VMO lock; posting and withdrawing packets takes the port lock (VMO -> port in the
// lock order). Requests are read only through page_source's getters.
//
// Protocol: at most one packet per VMO is in the port. When the pager dequeues it, portWait hands it
// back through k.pageProvider.freePacketLocked() (PagerProxy::Free), which posts the next FIFO entry.
// A request completed or cancelled while its packet still sits unread in the port is withdrawn (the
// pager never sees it) and the next entry is posted instead. A queued packet holds a reference on the
// VMO's record (not on the VMO): the VMO may die while its COMPLETE waits in the port, and the record
// (this proxy) lives until it is dequeued.

import { assert } from '../../shared/assert.js';
import { PageRequestType, PX_COMPLETE, PX_NONE, VmoFlag } from '../../shared/layout.js';
import { ZX_PAGER_VMO_COMPLETE, ZX_PAGER_VMO_DIRTY, ZX_PAGER_VMO_READ, ZX_PKT_TYPE_PAGE_REQUEST } from '../../shared/constants.js';
import { ZX_OK } from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';
import { TraceEvent, traceEvent } from '../trace.js';
import type { InstalledPageProvider, ProviderPacketState } from '../vm/page_provider.js';
import { requestIdOf, requestLengthPages, requestOffsetPages, requestType } from '../vm/page_source.js';
import { portCancelQueuedLocked, portPacketQueued, portQueuePagerPacketLocked } from './port_dispatcher.js';

/** The trace id of the COMPLETE request (PktPost, PktWithdraw). */
const COMPLETE_TRACE_ID = -2;

/** Posts request r (or PX_COMPLETE) in the VMO's packet, or queues it behind the busy packet. */
function queuePacketLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const v = k.vmos;
  if (v.pxBusy(vmo) === 1) {
    if (r === PX_COMPLETE) v.setPxCompleteInFifo(vmo, 1);
    else fifoPushBackLocked(k, vmo, r);
    return;
  }
  v.setPxBusy(vmo, 1);
  v.setPxActive(vmo, r);
  const e = v.pxPacket(vmo);
  const p = k.packets;
  p.setKeyLo(e, v.keyLo(vmo));
  p.setKeyHi(e, v.keyHi(vmo));
  p.setType(e, ZX_PKT_TYPE_PAGE_REQUEST);
  p.setStatus(e, ZX_OK);
  if (r === PX_COMPLETE) {
    p.setCommand(e, ZX_PAGER_VMO_COMPLETE);
    p.setOffsetPages(e, 0);
    p.setLengthPages(e, 0);
  } else {
    p.setCommand(e, requestType(k, r) === PageRequestType.Read ? ZX_PAGER_VMO_READ : ZX_PAGER_VMO_DIRTY);
    p.setOffsetPages(e, requestOffsetPages(k, r));
    p.setLengthPages(e, requestLengthPages(k, r));
  }
  // A port whose last handle is gone swallows the packet; we then believe it is in flight forever,
  // which is what Zircon does (ZX_ERR_BAD_HANDLE from Queue is treated as "queued, never answered").
  if (portQueuePagerPacketLocked(k, v.port(vmo), e)) {
    k.addRecordRef(vmo); // the packet's reference, dropped when it leaves the port
    k.header.addStatPackets(1);
    if (r === PX_COMPLETE) k.header.addStatCompletes(1);
  }
  if (k.tracing) traceEvent(k, TraceEvent.PktPost, v.koid(vmo), r === PX_COMPLETE ? COMPLETE_TRACE_ID : requestIdOf(k, r), p.command(e), p.offsetPages(e), p.lengthPages(e));
}

function fifoPushBackLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  k.lists.proxyFifo.pushBack(k.vmos.pxFifoHeadWord(vmo), k.vmos.pxFifoTailWord(vmo), r);
  k.requests.setInFifo(r, 1);
}

function fifoRemoveLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  k.lists.proxyFifo.remove(k.vmos.pxFifoHeadWord(vmo), k.vmos.pxFifoTailWord(vmo), r);
  k.requests.setInFifo(r, 0);
}

/** Withdraws the packet from the port if unread; true if it was (the pager never saw it). */
function withdrawPacketLocked(k: KernelState, vmo: number, traceId: number): boolean {
  k.assertHeld(vmo);
  if (!portCancelQueuedLocked(k, k.vmos.port(vmo), k.vmos.pxPacket(vmo))) return false;
  k.releaseRecordNotLast(vmo); // the caller holds the VMO or another record reference
  k.header.addStatWithdrawn(1);
  if (k.tracing) traceEvent(k, TraceEvent.PktWithdraw, k.vmos.koid(vmo), traceId);
  return true;
}

/** The packet is free again (dequeued or withdrawn): post the next FIFO entry, then a waiting COMPLETE. */
function onPacketFreedLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  const v = k.vmos;
  assert(v.pxActive(vmo) === PX_NONE, 'packet freed while a request is active');
  v.setPxBusy(vmo, 0);
  if ((v.flags(vmo) & VmoFlag.PagerClosed) !== 0) return;
  const head = k.lists.proxyFifo.first(v.pxFifoHeadWord(vmo));
  if (head >= 0) {
    fifoRemoveLocked(k, vmo, head);
    queuePacketLocked(k, vmo, head);
  } else if (v.pxCompleteInFifo(vmo) === 1) {
    v.setPxCompleteInFifo(vmo, 0);
    queuePacketLocked(k, vmo, PX_COMPLETE);
  }
}

/** The COMPLETE in flight was dequeued or withdrawn: the proxy is idle for good. */
function completeDoneLocked(k: KernelState, vmo: number): void {
  k.vmos.setPxCompletePending(vmo, 0);
  k.vmos.setPxActive(vmo, PX_NONE);
  k.vmos.setPxBusy(vmo, 0);
}

/** PageProvider::SendAsyncRequest. */
export function proxySendAsyncRequestLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  assert((k.vmos.flags(vmo) & VmoFlag.SourceClosed) === 0, 'request sent to a closed source');
  queuePacketLocked(k, vmo, r);
}

/** The PageSource takes request r back (completed or cancelled). */
export function proxyClearAsyncRequestLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  if (k.vmos.pxActive(vmo) === r) {
    k.vmos.setPxActive(vmo, PX_NONE);
    // If the pager already dequeued it, proxyFreeLocked() runs soon and posts the next one.
    if (withdrawPacketLocked(k, vmo, requestIdOf(k, r))) onPacketFreedLocked(k, vmo);
  } else if (k.requests.inFifo(r) === 1) {
    fifoRemoveLocked(k, vmo, r);
    k.header.addStatFifoDropped(1);
    if (k.tracing) traceEvent(k, TraceEvent.FifoDrop, k.vmos.koid(vmo), requestIdOf(k, r));
  }
}

/** A cancelled leader handed its range to follower nw: nw takes its packet or FIFO place. */
export function proxySwapAsyncRequestLocked(k: KernelState, vmo: number, old: number, nw: number): void {
  k.assertHeld(vmo);
  if (k.requests.inFifo(old) === 1) {
    k.lists.proxyFifo.replace(k.vmos.pxFifoHeadWord(vmo), k.vmos.pxFifoTailWord(vmo), old, nw);
    k.requests.setInFifo(old, 0);
    k.requests.setInFifo(nw, 1);
  } else if (k.vmos.pxActive(vmo) === old) {
    k.vmos.setPxActive(vmo, nw);
  }
}

export function proxyOnDetachLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  k.vmos.setPxCompletePending(vmo, 1);
  queuePacketLocked(k, vmo, PX_COMPLETE);
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
  const v = k.vmos;
  if ((v.flags(vmo) & VmoFlag.SourceClosed) === 0) closeSource();
  if (v.pxCompletePending(vmo) === 1) {
    if (v.pxCompleteInFifo(vmo) === 1) {
      v.setPxCompleteInFifo(vmo, 0);
      v.setPxCompletePending(vmo, 0);
    } else if (v.pxActive(vmo) === PX_COMPLETE && withdrawPacketLocked(k, vmo, COMPLETE_TRACE_ID)) {
      completeDoneLocked(k, vmo);
    }
  }
  v.setFlags(vmo, v.flags(vmo) | VmoFlag.PagerClosed);
}

/** The pager dequeued this VMO's packet (PagerProxy::Free): post the next one. */
export function proxyFreeLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  if (k.vmos.pxActive(vmo) !== PX_COMPLETE) {
    k.vmos.setPxActive(vmo, PX_NONE);
    onPacketFreedLocked(k, vmo);
  } else {
    completeDoneLocked(k, vmo);
  }
}

/** debug: where leader r's packet is. Read without the VMO lock: racy, for reports only. */
export function proxyDebugPacketState(k: KernelState, vmo: number, r: number): ProviderPacketState {
  if (k.vmos.pxActive(vmo) === r) return portPacketQueued(k, k.vmos.pxPacket(vmo)) ? 'queued in port, unread' : 'delivered to the pager';
  if (k.requests.inFifo(r) === 1) return 'waiting in the VMO FIFO';
  return 'none';
}

/** The PagerProxy as k.pageProvider: the PageProvider of every pager VMO and its packet's allocator. */
export class PagerProxy implements InstalledPageProvider {
  readonly #k: KernelState;
  constructor(k: KernelState) {
    this.#k = k;
  }
  sendAsyncRequestLocked(vmo: number, r: number): void {
    proxySendAsyncRequestLocked(this.#k, vmo, r);
  }
  clearAsyncRequestLocked(vmo: number, r: number): void {
    proxyClearAsyncRequestLocked(this.#k, vmo, r);
  }
  swapAsyncRequestLocked(vmo: number, old: number, nw: number): void {
    proxySwapAsyncRequestLocked(this.#k, vmo, old, nw);
  }
  onDetachLocked(vmo: number): void {
    proxyOnDetachLocked(this.#k, vmo);
  }
  onCloseLocked(vmo: number): void {
    proxyOnCloseLocked(this.#k, vmo);
  }
  debugPacketState(vmo: number, r: number): ProviderPacketState {
    return proxyDebugPacketState(this.#k, vmo, r);
  }
  freePacketLocked(vmo: number): void {
    proxyFreeLocked(this.#k, vmo);
  }
}

/** Installs the PagerProxy as this KernelState's page provider (every thread, at attach). */
export function installPagerProxy(k: KernelState): void {
  k.pageProvider = new PagerProxy(k);
}
