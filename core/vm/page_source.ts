// PageSource and PageRequest (zircon kernel/vm/page_source.cc), over shared memory.
//
// Roles, as page_source.h describes them:
//   * PageRequest - one per kernel thread (its fields live in the thread record: RequestRecord in
//     shared/layout.ts, k.requests.*): what a blocked operation waits on. Initialized (requestState
//     != None) while it is a leader or a follower of an outstanding request. Other modules read a
//     request only through the getters below (requestOffsetPages, ...) or inspectRequest().
//   * PageSource - per pager VMO, per request type (READ, DIRTY): the outstanding leader requests,
//     sorted by end and never overlapping (k.lists.outstanding from vmos.outRead / outDirty), each
//     with followers ("overlap_", k.lists.followers) whose first page lies inside it. Only leaders
//     are sent to the provider.
//   * PageProvider - the interface of core/vm/page_provider.ts, reached as k.pageProvider: the
//     PagerProxy (core/object/pager_proxy.ts) turns leaders into port packets. This module does not
//     import the object layer.
//
// A typical flow. Faulting side: a VMO operation finds a page absent and calls
// populateRequestLocked(); it gets ZX_ERR_SHOULD_WAIT, drops the VMO lock, waitOnRequest(), retakes the
// lock and re-validates everything (size, presence) before retrying. Supplying side: supply_pages
// inserts pages and calls onPagesSuppliedLocked(), which counts the newly filled pages against each
// overlapping leader (a counter, not a bitmap: any order, any number of calls) and signals the leader
// and its followers when it reaches zero; an early-wake waiter is signalled as soon as the page it
// waits for (its wake offset) arrives. OP_FAIL sets per-waiter statuses by the newer kernel's rule and
// resolves the failed length the same way. Waking never promises presence: every waiter re-checks.
//
// Everything here runs with the VMO lock held (*Locked), except waitOnRequest(), which runs with no
// lock at all, as Zircon asserts.

import { assert } from '../../shared/assert.js';
import { futexWait, monotonicNow } from '../../shared/futex.js';
import { histogramRecord } from '../../shared/histogram.js';
import { PageRequestType, RequestState, VmoFlag } from '../../shared/layout.js';
import { ZX_THREAD_STATE_BLOCKED_PAGER, ZX_THREAD_STATE_RUNNING, ZX_THREAD_STATE_SUSPENDED } from '../../shared/constants.js';
import {
  ZX_ERR_BAD_STATE,
  ZX_ERR_INTERNAL_INTR_KILLED,
  ZX_ERR_SHOULD_WAIT,
  ZX_ERR_TIMED_OUT,
  ZX_OK,
  isValidInternalFailureCode,
} from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';
import { Bug } from '../bugs.js';
import { isPanicked, kernelPanicOf } from '../panic.js';
import { TraceEvent, traceEvent } from '../trace.js';
import type { ProviderPacketState } from './page_provider.js';

/** wake offset of a request without early wake: matches no page. */
const NO_WAKE = -1;

// ---- Request getters: how every other module reads a PageRequest (guard: the VMO's lock). ----

/** The VMO request r is for (valid while initialized). */
export function requestVmo(k: KernelState, r: number): number {
  return k.requests.vmo(r);
}
/** PageRequestType of request r. */
export function requestType(k: KernelState, r: number): number {
  return k.requests.requestType(r);
}
/** First page of request r (a leader's range may have been trimmed to an outstanding neighbour). */
export function requestOffsetPages(k: KernelState, r: number): number {
  return k.requests.offsetPages(r);
}
export function requestLengthPages(k: KernelState, r: number): number {
  return k.requests.lengthPages(r);
}
/** One past the last page of request r. */
export function requestEndPages(k: KernelState, r: number): number {
  return k.requests.offsetPages(r) + k.requests.lengthPages(r);
}
/** RequestState of request r: None, Leader or Follower. */
export function requestRole(k: KernelState, r: number): number {
  return k.requests.requestState(r);
}
/** The leader follower r overlaps; -1 for a leader or an idle request. */
export function requestLeader(k: KernelState, r: number): number {
  return k.requests.requestState(r) === RequestState.Follower ? k.requests.leader(r) : -1;
}
/** Bumped per new request of thread r (trace ids, hang watchdogs). */
export function requestSerial(k: KernelState, r: number): number {
  return k.requests.serial(r);
}
export function isRequestInitialized(k: KernelState, r: number): boolean {
  return k.requests.requestState(r) !== RequestState.None;
}
/** The id of thread r's current page request in traces: (serial, thread slot), unique for the kernel's life. */
export function requestIdOf(k: KernelState, r: number): number {
  return k.requests.serial(r) * 65536 + r;
}

// ---- The outstanding leaders of a PageSource (sorted by end) and a leader's followers. ----

function outHeadWord(k: KernelState, vmo: number, type: number): number {
  return type === PageRequestType.Read ? k.vmos.outReadWord(vmo) : k.vmos.outDirtyWord(vmo);
}

/** The outstanding leader with the smallest end greater than `offset` (upper_bound), or -1. */
function upperBoundLocked(k: KernelState, vmo: number, type: number, offset: number): number {
  k.assertHeld(vmo);
  const out = k.lists.outstanding;
  let r = out.first(outHeadWord(k, vmo, type));
  while (r >= 0 && requestEndPages(k, r) <= offset) r = out.next(r);
  return r;
}

function insertOutstandingLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const out = k.lists.outstanding;
  const head = outHeadWord(k, vmo, k.requests.requestType(r));
  const end = requestEndPages(k, r);
  let last = -1;
  let cur = out.first(head);
  while (cur >= 0 && requestEndPages(k, cur) < end) {
    last = cur;
    cur = out.next(cur);
  }
  out.insertBefore(head, -1, cur, r, last);
}

function eraseOutstandingLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  k.lists.outstanding.remove(outHeadWord(k, vmo, k.requests.requestType(r)), -1, r);
}

function appendFollowerLocked(k: KernelState, leader: number, f: number): void {
  k.lists.followers.pushBack(k.requests.followerHeadWord(leader), k.requests.followerTailWord(leader), f);
  k.requests.setLeader(f, leader);
}

function removeFollowerLocked(k: KernelState, leader: number, f: number): void {
  k.lists.followers.remove(k.requests.followerHeadWord(leader), k.requests.followerTailWord(leader), f);
  k.requests.setLeader(f, -1);
}

function koidOf(k: KernelState, vmo: number): number {
  return k.vmos.koid(vmo);
}

function isDetached(k: KernelState, vmo: number): boolean {
  return (k.vmos.flags(vmo) & VmoFlag.Detached) !== 0;
}

/** Signals a request's auto-reset event with `status` (Event::Signal). */
function signalLocked(k: KernelState, r: number, status: number): void {
  if (k.bugs & Bug.DropOneWake && Atomics.compareExchange(k.w, k.header.bugLatchWord(), 0, 1) === 0) return;
  if (k.tracing) traceEvent(k, TraceEvent.Signal, koidOf(k, k.requests.vmo(r)), requestIdOf(k, r), status, r);
  k.requests.setEventStatus(r, status);
  k.requests.setEvent(r, 1);
  k.wakeAfterUnlock(k.requests.eventWord(r), 0); // 0: every waiter
}

/** Request-relative [start, end) of the part of [start, end) inside request r (TrimRangeToRequestSpace). */
function trimToRequest(k: KernelState, r: number, start: number, end: number): [number, number] {
  const off = k.requests.offsetPages(r);
  const len = k.requests.lengthPages(r);
  const a = start >= off ? start - off : 0;
  const b = end < off + len ? end - off : len;
  assert(b >= a, 'trimToRequest: empty intersection');
  return [a, b];
}

function overlapsRequest(k: KernelState, r: number, start: number, end: number): boolean {
  const off = k.requests.offsetPages(r);
  return start < off + k.requests.lengthPages(r) && end > off;
}

/**
 * PopulateRequest: asks for pages [offsetPages, offsetPages + lengthPages) of `type` on behalf of
 * thread r. Returns ZX_ERR_SHOULD_WAIT (the caller drops the lock and waits) or ZX_ERR_BAD_STATE once
 * detached. An early-woken request that asks again inside its own range just moves its wake offset.
 */
export function populateRequestLocked(
  k: KernelState,
  vmo: number,
  r: number,
  type: number,
  offsetPages: number,
  lengthPages: number,
  earlyWake: boolean,
): number {
  k.assertHeld(vmo);
  const q = k.requests;
  assert(lengthPages > 0, 'populateRequest: empty range');
  if (isDetached(k, vmo)) return ZX_ERR_BAD_STATE;
  if (q.requestState(r) !== RequestState.None) {
    assert(q.vmo(r) === vmo, 'populateRequest: request initialized for another VMO');
    const off = q.offsetPages(r);
    if (q.requestType(r) === type && offsetPages >= off && offsetPages < off + q.lengthPages(r)) {
      // ContinuationType::SameRequest: wait again for the next missing offset.
      q.setWakeOffsetPages(r, offsetPages - off);
      if (k.tracing) traceEvent(k, TraceEvent.WaitBegin, koidOf(k, vmo), requestIdOf(k, r), offsetPages, off + q.lengthPages(r) - offsetPages, r);
      return ZX_ERR_SHOULD_WAIT;
    }
    cancelRequestLocked(k, r); // ContinuationType::SameSource
  }
  q.setVmo(r, vmo);
  q.setRequestType(r, type);
  q.setOffsetPages(r, offsetPages);
  q.setEarlyWake(r, earlyWake ? 1 : 0);
  q.setWakeOffsetPages(r, earlyWake ? 0 : NO_WAKE);
  q.setStatus(r, ZX_OK);
  q.setSerial(r, q.serial(r) + 1);
  q.setEvent(r, 0);
  let length = lengthPages;
  const node = upperBoundLocked(k, vmo, type, offsetPages);
  if (node >= 0) {
    const nOff = q.offsetPages(node);
    const nEnd = requestEndPages(k, node);
    if (offsetPages >= nOff && offsetPages + length >= nEnd) length = nEnd - offsetPages;
    else if (offsetPages < nOff && offsetPages + length >= nOff) length = nOff - offsetPages;
  }
  q.setLengthPages(r, length);
  sendRequestToProviderLocked(k, vmo, r);
  if (k.tracing) {
    const koid = koidOf(k, vmo);
    if (q.requestState(r) === RequestState.Leader) traceEvent(k, TraceEvent.ReqNew, koid, requestIdOf(k, r), type, offsetPages, length);
    else traceEvent(k, TraceEvent.ReqFollow, koid, requestIdOf(k, r), requestIdOf(k, q.leader(r)), offsetPages, length);
    traceEvent(k, TraceEvent.WaitBegin, koid, requestIdOf(k, r), offsetPages, length, r);
  }
  return ZX_ERR_SHOULD_WAIT;
}

function sendRequestToProviderLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const q = k.requests;
  const overlap = upperBoundLocked(k, vmo, q.requestType(r), q.offsetPages(r));
  if (overlap >= 0 && q.offsetPages(overlap) <= q.offsetPages(r)) {
    // The new request starts inside an outstanding one: it follows it, and no packet is sent.
    q.setRequestState(r, RequestState.Follower);
    appendFollowerLocked(k, overlap, r);
    return;
  }
  q.setRequestState(r, RequestState.Leader);
  q.setPendingPages(r, q.lengthPages(r));
  q.setFollowerHead(r, -1);
  q.setFollowerTail(r, -1);
  q.setLeader(r, -1);
  insertOutstandingLocked(k, vmo, r);
  k.header.addStatRequests(1);
  k.pageProvider.sendAsyncRequestLocked(vmo, r);
}

/** Supplied pages [offsetPages, offsetPages + lengthPages): resolve READ requests (OnPagesSupplied). */
export function onPagesSuppliedLocked(k: KernelState, vmo: number, offsetPages: number, lengthPages: number): void {
  k.assertHeld(vmo);
  resolveRequestsLocked(k, vmo, PageRequestType.Read, offsetPages, lengthPages, ZX_OK);
}

/** Dirtied pages: resolve DIRTY requests (OnPagesDirtied). */
export function onPagesDirtiedLocked(k: KernelState, vmo: number, offsetPages: number, lengthPages: number): void {
  k.assertHeld(vmo);
  resolveRequestsLocked(k, vmo, PageRequestType.Dirty, offsetPages, lengthPages, ZX_OK);
}

/** OP_FAIL (or an internal failure) over [offsetPages, offsetPages + lengthPages): both request types. */
export function onPagesFailedLocked(k: KernelState, vmo: number, offsetPages: number, lengthPages: number, status: number): void {
  k.assertHeld(vmo);
  assert(isValidInternalFailureCode(status), 'onPagesFailed: not a failure code');
  resolveRequestsLocked(k, vmo, PageRequestType.Read, offsetPages, lengthPages, status);
  resolveRequestsLocked(k, vmo, PageRequestType.Dirty, offsetPages, lengthPages, status);
}

function resolveRequestsLocked(k: KernelState, vmo: number, type: number, offsetPages: number, lengthPages: number, error: number): void {
  k.assertHeld(vmo);
  if (isDetached(k, vmo)) return;
  const q = k.requests;
  const end = offsetPages + lengthPages;
  let cur = upperBoundLocked(k, vmo, type, offsetPages);
  while (cur >= 0 && q.offsetPages(cur) < end) {
    const next = k.lists.outstanding.next(cur);
    const [reqOffset, reqEndRel] = trimToRequest(k, cur, offsetPages, end);
    if (error !== ZX_OK) {
      // The newer rule: a waiter takes the error only if the failure covers its first page or the
      // page it currently waits for; otherwise it will wake OK and ask again.
      if (reqOffset === 0 || reqOffset === q.wakeOffsetPages(cur)) q.setStatus(cur, error);
      for (let f = q.followerHead(cur); f >= 0; f = q.followerNext(f)) {
        if (!overlapsRequest(k, f, offsetPages, end)) continue;
        const [fs] = trimToRequest(k, f, offsetPages, end);
        if (fs === 0 || fs === q.wakeOffsetPages(f)) q.setStatus(f, error);
      }
    }
    const fulfill = reqEndRel - reqOffset;
    if (fulfill < q.pendingPages(cur)) {
      // Wake early only for exactly the page the waiter wants next.
      if (reqOffset === q.wakeOffsetPages(cur)) earlyWakeRequestLocked(k, cur, reqOffset, reqEndRel);
      q.setPendingPages(cur, q.pendingPages(cur) - fulfill);
    } else {
      eraseOutstandingLocked(k, vmo, cur);
      completeRequestLocked(k, vmo, cur);
    }
    cur = next;
  }
}

function earlyWakeRequestLocked(k: KernelState, r: number, reqStart: number, reqEndRel: number): void {
  const q = k.requests;
  q.setWakeOffsetPages(r, reqEndRel);
  signalLocked(k, r, q.status(r));
  const providerStart = reqStart + q.offsetPages(r);
  const providerEnd = reqEndRel + q.offsetPages(r);
  for (let f = q.followerHead(r); f >= 0; f = q.followerNext(f)) {
    if (q.earlyWake(f) === 0) continue;
    const fOff = q.offsetPages(f);
    // The leader moved past this follower's wake point: pages came out of order; wake it once.
    if (providerStart > fOff && providerStart - fOff > q.wakeOffsetPages(f)) {
      q.setWakeOffsetPages(f, q.lengthPages(r));
      signalLocked(k, f, q.status(f));
      continue;
    }
    if (!overlapsRequest(k, f, providerStart, providerEnd)) continue;
    const [os, oe] = trimToRequest(k, f, providerStart, providerEnd);
    const wake = q.wakeOffsetPages(f);
    if (os <= wake && oe > wake) {
      q.setWakeOffsetPages(f, oe);
      signalLocked(k, f, q.status(f));
    }
  }
}

/** Takes a finished leader back from the provider and wakes it and its followers. */
function completeRequestLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const q = k.requests;
  k.pageProvider.clearAsyncRequestLocked(vmo, r);
  if (k.tracing) traceEvent(k, TraceEvent.ReqDone, koidOf(k, vmo), requestIdOf(k, r), q.status(r));
  const wakeFollowers = !(k.bugs & Bug.FailWakesNoFollowers) || q.status(r) === ZX_OK;
  const head = q.followerHeadWord(r);
  const tail = q.followerTailWord(r);
  for (let f = k.lists.followers.popFront(head, tail); f >= 0; f = k.lists.followers.popFront(head, tail)) {
    q.setLeader(f, -1);
    q.setRequestState(f, RequestState.None);
    if (wakeFollowers) signalLocked(k, f, q.status(f));
  }
  q.setRequestState(r, RequestState.None);
  signalLocked(k, r, q.status(r));
}

/** Withdraws thread r's request; a leader with followers hands its range and packet to the first. */
export function cancelRequestLocked(k: KernelState, r: number): void {
  const q = k.requests;
  const state = q.requestState(r);
  if (state === RequestState.None) return;
  const vmo = q.vmo(r);
  k.assertHeld(vmo);
  if (state === RequestState.Follower) {
    removeFollowerLocked(k, q.leader(r), r);
  } else if (q.followerHead(r) >= 0) {
    const nw = q.followerHead(r);
    removeFollowerLocked(k, r, nw);
    // The new leader takes over the remaining followers, the range and the pending count.
    q.setFollowerHead(nw, q.followerHead(r));
    q.setFollowerTail(nw, q.followerTail(r));
    for (let f = q.followerHead(nw); f >= 0; f = q.followerNext(f)) q.setLeader(f, nw);
    q.setFollowerHead(r, -1);
    q.setFollowerTail(r, -1);
    q.setOffsetPages(nw, q.offsetPages(r));
    q.setLengthPages(nw, q.lengthPages(r));
    q.setPendingPages(nw, q.pendingPages(r));
    q.setRequestState(nw, RequestState.Leader);
    k.lists.outstanding.replace(outHeadWord(k, vmo, q.requestType(r)), -1, r, nw);
    k.pageProvider.swapAsyncRequestLocked(vmo, r, nw);
    if (k.tracing) traceEvent(k, TraceEvent.Handover, koidOf(k, vmo), requestIdOf(k, r), requestIdOf(k, nw));
  } else {
    eraseOutstandingLocked(k, vmo, r);
    k.pageProvider.clearAsyncRequestLocked(vmo, r);
  }
  q.setRequestState(r, RequestState.None);
}

/** PageSource::Detach: completes every outstanding request with its own status (they retry). */
export function detachSourceLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  if (isDetached(k, vmo)) return;
  k.vmos.setFlags(vmo, k.vmos.flags(vmo) | VmoFlag.Detached);
  for (const type of [PageRequestType.Read, PageRequestType.Dirty]) {
    const head = outHeadWord(k, vmo, type);
    for (let r = k.lists.outstanding.popFront(head, -1); r >= 0; r = k.lists.outstanding.popFront(head, -1)) completeRequestLocked(k, vmo, r);
  }
  k.pageProvider.onDetachLocked(vmo);
}

/** PageSource::Close: detach, then close the provider side. Idempotent. */
export function closeSourceLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  detachSourceLocked(k, vmo);
  if ((k.vmos.flags(vmo) & VmoFlag.SourceClosed) !== 0) return;
  k.vmos.setFlags(vmo, k.vmos.flags(vmo) | VmoFlag.SourceClosed);
  k.pageProvider.onCloseLocked(vmo);
}

/**
 * PageRequest::Wait, with no lock held: blocks thread r (shown as ZX_THREAD_STATE_BLOCKED_PAGER)
 * until its event is signalled, or the overtime timeout passes (ZX_ERR_TIMED_OUT). A status that
 * is neither OK nor a page-request failure code cancels the request, as Zircon does. A kill
 * (threads.killed, zx_task_kill) interrupts the wait: the request is withdrawn and the wait returns
 * ZX_ERR_INTERNAL_INTR_KILLED, which unwinds the syscall to the kernel exit where the thread stops
 * (core/syscall_gate.ts). A kernel panic interrupts it too, with the KernelPanic.
 */
export function waitOnRequest(k: KernelState, vmo: number, r: number): number {
  const q = k.requests;
  const timeoutMs = k.header.requestTimeoutMs();
  const deadline = timeoutMs > 0 ? monotonicNow() + BigInt(timeoutMs) * 1_000_000n : -1n;
  const spin = k.header.waitSpin();
  const began = process.hrtime.bigint();
  q.setBlockedVmo(r, vmo);
  q.setState(r, ZX_THREAD_STATE_BLOCKED_PAGER);
  let status: number;
  let suspended = false;
  for (;;) {
    // Kill and panic first. A poke (R_EVENT_POKED: kill, suspend, panic) ends the wait, not the request.
    if (q.killed(r) !== 0) {
      status = ZX_ERR_INTERNAL_INTR_KILLED;
      break;
    }
    if (isPanicked(k)) throw kernelPanicOf(k);
    // 1: signalled. R_EVENT_POKED (a suspend or a kill) is not a signal: it only makes us re-check.
    if (Atomics.exchange(k.w, q.eventWord(r), 0) === 1) {
      status = q.eventStatus(r);
      break;
    }
    if (q.suspend(r) !== 0) {
      suspended = true;
      status = ZX_OK;
      break;
    }
    let waitMs = Infinity;
    if (deadline >= 0n) {
      const left = deadline - monotonicNow();
      if (left <= 0n) {
        status = ZX_ERR_TIMED_OUT;
        k.header.addStatTimedOut(1);
        break;
      }
      waitMs = Number(left) / 1e6;
    }
    futexWait(k.w, q.eventWord(r), 0, waitMs, spin);
  }
  if (suspended) {
    // Suspension aborts the wait (Zircon's PageRequest::Wait returns ZX_ERR_INTERNAL_INTR_RETRY): the
    // request is withdrawn, the thread sleeps until resumed, and the caller's retry - every caller
    // re-checks after any wake - issues a fresh request (SuspendReadTest sees a second READ).
    k.lockObject(vmo);
    cancelRequestLocked(k, r);
    k.unlockObject(vmo);
    q.setEvent(r, 0);
    q.setState(r, ZX_THREAD_STATE_SUSPENDED);
    while (q.suspend(r) !== 0 && q.killed(r) === 0 && !isPanicked(k)) futexWait(k.w, q.suspendWord(r), 1, Infinity);
    if (q.killed(r) !== 0) status = ZX_ERR_INTERNAL_INTR_KILLED;
  }
  q.setState(r, ZX_THREAD_STATE_RUNNING);
  q.setBlockedVmo(r, -1);
  const waitedNs = Number(process.hrtime.bigint() - began);
  histogramRecord(k.w, k.layout.waitHistogram, waitedNs);
  if (k.tracing) traceEvent(k, TraceEvent.WaitEnd, r, status, waitedNs);
  if (status !== ZX_OK && !isValidInternalFailureCode(status)) {
    k.lockObject(vmo);
    cancelRequestLocked(k, r);
    k.unlockObject(vmo);
  }
  return status;
}

// ---- Introspection (debugging, hang reports, the stress CLI): plain objects, read without locks. ----

/** A snapshot of one thread's PageRequest. Racy by nature: fields may be mid-update. */
export interface RequestInfo {
  /** Thread slot (the request's index). */
  thread: number;
  tid: number;
  /** The thread is parked in waitOnRequest (ZX_THREAD_STATE_BLOCKED_PAGER). */
  blocked: boolean;
  /** The request is initialized: a leader or a follower of an outstanding request. */
  pending: boolean;
  role: 'leader' | 'follower' | 'none';
  /** Leader of a follower, else -1 (thread slot). */
  leader: number;
  /** Object slot and koid of the VMO the request is (or last was) for; -1 if never used. */
  vmo: number;
  vmoKoid: number;
  /** The VMO's lock is held right now (a waker may be between its signal and its deferred notify). */
  vmoLocked: boolean;
  type: 'READ' | 'DIRTY';
  offsetPages: number;
  lengthPages: number;
  /** A leader's pages not yet resolved; a follower's leader's. */
  outstandingPages: number;
  /** Bumped per new request of the thread. */
  serial: number;
  /** Where the (leader's) packet is, as the provider tells it. */
  packet: ProviderPacketState;
}

/** Request info of thread slot r, or null if the thread neither waits nor has a request. */
export function inspectRequest(k: KernelState, r: number): RequestInfo | null {
  const q = k.requests;
  const state = q.requestState(r);
  const blocked = q.state(r) === ZX_THREAD_STATE_BLOCKED_PAGER;
  if (state === RequestState.None && !blocked) return null;
  const vmo = state !== RequestState.None ? q.vmo(r) : q.blockedVmo(r);
  const leader = state === RequestState.Follower ? q.leader(r) : state === RequestState.Leader ? r : -1;
  return {
    thread: r,
    tid: q.tid(r),
    blocked,
    pending: state !== RequestState.None,
    role: state === RequestState.Leader ? 'leader' : state === RequestState.Follower ? 'follower' : 'none',
    leader: state === RequestState.Follower ? leader : -1,
    vmo,
    vmoKoid: vmo >= 0 ? k.vmos.koid(vmo) : 0,
    vmoLocked: vmo >= 0 && Atomics.load(k.w, k.vmos.lockWord(vmo)) !== 0,
    type: q.requestType(r) === PageRequestType.Read ? 'READ' : 'DIRTY',
    offsetPages: q.offsetPages(r),
    lengthPages: q.lengthPages(r),
    outstandingPages: leader >= 0 ? q.pendingPages(leader) : 0,
    serial: q.serial(r),
    packet: leader >= 0 && vmo >= 0 ? k.pageProvider.debugPacketState(vmo, leader) : 'none',
  };
}

/** Every thread slot's request that is pending or waited on (inspectRequest of each), by slot. */
export function inspectRequests(k: KernelState): RequestInfo[] {
  const out: RequestInfo[] = [];
  for (let r = 0; r < k.layout.maxThreads; r++) {
    const info = inspectRequest(k, r);
    if (info) out.push(info);
  }
  return out;
}
