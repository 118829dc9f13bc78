// PageSource and PageRequest (zircon kernel/vm/page_source.cc), over shared memory.
//
// Roles, as page_source.h describes them:
//   * PageRequest - one per kernel thread (its fields live in the thread record, shared/layout.ts
//     R_*): what a blocked operation waits on. Initialized (R_STATE != None) while it is a leader or
//     a follower of an outstanding request.
//   * PageSource - per pager VMO, per request type (READ, DIRTY): the outstanding leader requests,
//     sorted by end and never overlapping (V_OUT_READ / V_OUT_DIRTY), each with followers
//     ("overlap_") whose first page lies inside it. Only leaders are sent to the provider.
//   * PageProvider - the PagerProxy (core/object/pager_proxy.ts): turns leaders into port packets.
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
import {
  H_REQUEST_TIMEOUT_MS,
  H_STAT_REQUESTS,
  H_STAT_TIMED_OUT,
  H_WAIT_SPIN,
  PageRequestType,
  R_EARLY_WAKE,
  R_EVENT,
  R_EVENT_STATUS,
  R_FOL_HEAD,
  R_FOL_NEXT,
  R_FOL_PREV,
  R_FOL_TAIL,
  R_LEADER,
  R_LEN,
  R_OFFSET,
  R_OUT_NEXT,
  R_OUT_PREV,
  R_PENDING,
  R_SERIAL,
  R_STATE,
  R_STATUS,
  R_TYPE,
  R_VMO,
  R_WAKE_OFFSET,
  RequestState,
  T_BLOCKED_VMO,
  T_KILLED,
  T_STATE,
  T_SUSPEND,
  V_FLAGS,
  V_OUT_DIRTY,
  V_OUT_READ,
  VmoFlag,
} from '../../shared/layout.js';
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
import { requestIdOf } from '../object/request_id.js';
import { TraceEvent, traceEvent } from '../trace.js';
import { histogramRecord } from '../../shared/histogram.js';
import { H_BUG_LATCH, O_KOID } from '../../shared/layout.js';
import {
  proxyClearAsyncRequestLocked,
  proxyOnCloseLocked,
  proxyOnDetachLocked,
  proxySendAsyncRequestLocked,
  proxySwapAsyncRequestLocked,
} from '../object/pager_proxy.js';

/** wake offset of a request without early wake: matches no page. */
const NO_WAKE = -1;

function outHead(type: number): number {
  return type === PageRequestType.Read ? V_OUT_READ : V_OUT_DIRTY;
}

function reqEnd(k: KernelState, r: number): number {
  const t = k.thr(r);
  return k.w[t + R_OFFSET]! + k.w[t + R_LEN]!;
}

/** The outstanding leader with the smallest end greater than `offset` (upper_bound), or -1. */
function upperBoundLocked(k: KernelState, vmo: number, type: number, offset: number): number {
  k.assertHeld(vmo);
  const w = k.w;
  let r = w[k.obj(vmo) + outHead(type)]!;
  while (r >= 0 && reqEnd(k, r) <= offset) r = w[k.thr(r) + R_OUT_NEXT]!;
  return r;
}

function insertOutstandingLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const head = k.obj(vmo) + outHead(w[k.thr(r) + R_TYPE]!);
  const end = reqEnd(k, r);
  let prev = -1;
  let cur = w[head]!;
  while (cur >= 0 && reqEnd(k, cur) < end) {
    prev = cur;
    cur = w[k.thr(cur) + R_OUT_NEXT]!;
  }
  w[k.thr(r) + R_OUT_PREV] = prev;
  w[k.thr(r) + R_OUT_NEXT] = cur;
  if (cur >= 0) w[k.thr(cur) + R_OUT_PREV] = r;
  if (prev >= 0) w[k.thr(prev) + R_OUT_NEXT] = r;
  else w[head] = r;
}

function eraseOutstandingLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const t = k.thr(r);
  const prev = w[t + R_OUT_PREV]!;
  const next = w[t + R_OUT_NEXT]!;
  if (prev >= 0) w[k.thr(prev) + R_OUT_NEXT] = next;
  else w[k.obj(vmo) + outHead(w[t + R_TYPE]!)] = next;
  if (next >= 0) w[k.thr(next) + R_OUT_PREV] = prev;
  w[t + R_OUT_PREV] = -1;
  w[t + R_OUT_NEXT] = -1;
}

/** Replaces leader `old` by `nw` at the same place in the sorted list (same range). */
function replaceOutstandingLocked(k: KernelState, vmo: number, old: number, nw: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const to = k.thr(old);
  const prev = w[to + R_OUT_PREV]!;
  const next = w[to + R_OUT_NEXT]!;
  w[k.thr(nw) + R_OUT_PREV] = prev;
  w[k.thr(nw) + R_OUT_NEXT] = next;
  if (prev >= 0) w[k.thr(prev) + R_OUT_NEXT] = nw;
  else w[k.obj(vmo) + outHead(w[to + R_TYPE]!)] = nw;
  if (next >= 0) w[k.thr(next) + R_OUT_PREV] = nw;
  w[to + R_OUT_PREV] = -1;
  w[to + R_OUT_NEXT] = -1;
}

function appendFollowerLocked(k: KernelState, leader: number, f: number): void {
  const w = k.w;
  const lt = k.thr(leader);
  const tail = w[lt + R_FOL_TAIL]!;
  w[k.thr(f) + R_FOL_PREV] = tail;
  w[k.thr(f) + R_FOL_NEXT] = -1;
  if (tail >= 0) w[k.thr(tail) + R_FOL_NEXT] = f;
  else w[lt + R_FOL_HEAD] = f;
  w[lt + R_FOL_TAIL] = f;
  w[k.thr(f) + R_LEADER] = leader;
}

function removeFollowerLocked(k: KernelState, leader: number, f: number): void {
  const w = k.w;
  const ft = k.thr(f);
  const lt = k.thr(leader);
  const prev = w[ft + R_FOL_PREV]!;
  const next = w[ft + R_FOL_NEXT]!;
  if (prev >= 0) w[k.thr(prev) + R_FOL_NEXT] = next;
  else w[lt + R_FOL_HEAD] = next;
  if (next >= 0) w[k.thr(next) + R_FOL_PREV] = prev;
  else w[lt + R_FOL_TAIL] = prev;
  w[ft + R_FOL_PREV] = -1;
  w[ft + R_FOL_NEXT] = -1;
  w[ft + R_LEADER] = -1;
}

const requestId = requestIdOf;

function koidOf(k: KernelState, vmo: number): number {
  return k.w[k.obj(vmo) + O_KOID]!;
}

/** Signals a request's auto-reset event with `status` (Event::Signal). */
function signalLocked(k: KernelState, r: number, status: number): void {
  const t = k.thr(r);
  if (k.bugs & Bug.DropOneWake && Atomics.compareExchange(k.w, H_BUG_LATCH, 0, 1) === 0) return;
  if (k.tracing) traceEvent(k, TraceEvent.Signal, koidOf(k, k.w[t + R_VMO]!), requestId(k, r), status, r);
  k.w[t + R_EVENT_STATUS] = status;
  Atomics.store(k.w, t + R_EVENT, 1);
  k.wakeAfterUnlock(t + R_EVENT, 0); // 0: every waiter
}

/** Request-relative [start, end) of the part of [start, end) inside request r (TrimRangeToRequestSpace). */
function trimToRequest(k: KernelState, r: number, start: number, end: number): [number, number] {
  const t = k.thr(r);
  const off = k.w[t + R_OFFSET]!;
  const len = k.w[t + R_LEN]!;
  const a = start >= off ? start - off : 0;
  const b = end < off + len ? end - off : len;
  assert(b >= a, 'trimToRequest: empty intersection');
  return [a, b];
}

function overlapsRequest(k: KernelState, r: number, start: number, end: number): boolean {
  const t = k.thr(r);
  const off = k.w[t + R_OFFSET]!;
  return start < off + k.w[t + R_LEN]! && end > off;
}

export function isRequestInitialized(k: KernelState, r: number): boolean {
  return k.w[k.thr(r) + R_STATE] !== RequestState.None;
}

/**
 * PopulateRequest: asks for pages [offset, offset + len) of `type` on behalf of thread r. Returns
 * ZX_ERR_SHOULD_WAIT (the caller drops the lock and waits) or ZX_ERR_BAD_STATE once detached.
 * An early-woken request that asks again inside its own range just moves its wake offset.
 */
export function populateRequestLocked(
  k: KernelState,
  vmo: number,
  r: number,
  type: number,
  offset: number,
  len: number,
  earlyWake: boolean,
): number {
  k.assertHeld(vmo);
  const w = k.w;
  assert(len > 0, 'populateRequest: empty range');
  if ((w[k.obj(vmo) + V_FLAGS]! & VmoFlag.Detached) !== 0) return ZX_ERR_BAD_STATE;
  const t = k.thr(r);
  if (w[t + R_STATE] !== RequestState.None) {
    assert(w[t + R_VMO] === vmo, 'populateRequest: request initialized for another VMO');
    const off = w[t + R_OFFSET]!;
    if (w[t + R_TYPE] === type && offset >= off && offset < off + w[t + R_LEN]!) {
      // ContinuationType::SameRequest: wait again for the next missing offset.
      w[t + R_WAKE_OFFSET] = offset - off;
      if (k.tracing) traceEvent(k, TraceEvent.WaitBegin, koidOf(k, vmo), requestId(k, r), offset, off + w[t + R_LEN]! - offset, r);
      return ZX_ERR_SHOULD_WAIT;
    }
    cancelRequestLocked(k, r); // ContinuationType::SameSource
  }
  w[t + R_VMO] = vmo;
  w[t + R_TYPE] = type;
  w[t + R_OFFSET] = offset;
  w[t + R_EARLY_WAKE] = earlyWake ? 1 : 0;
  w[t + R_WAKE_OFFSET] = earlyWake ? 0 : NO_WAKE;
  w[t + R_STATUS] = ZX_OK;
  w[t + R_SERIAL] = w[t + R_SERIAL]! + 1;
  Atomics.store(w, t + R_EVENT, 0);
  let length = len;
  const node = upperBoundLocked(k, vmo, type, offset);
  if (node >= 0) {
    const nOff = w[k.thr(node) + R_OFFSET]!;
    const nEnd = reqEnd(k, node);
    if (offset >= nOff && offset + length >= nEnd) length = nEnd - offset;
    else if (offset < nOff && offset + length >= nOff) length = nOff - offset;
  }
  w[t + R_LEN] = length;
  sendRequestToProviderLocked(k, vmo, r);
  if (k.tracing) {
    const koid = koidOf(k, vmo);
    if (w[t + R_STATE] === RequestState.Leader) traceEvent(k, TraceEvent.ReqNew, koid, requestId(k, r), type, offset, length);
    else traceEvent(k, TraceEvent.ReqFollow, koid, requestId(k, r), requestId(k, w[t + R_LEADER]!), offset, length);
    traceEvent(k, TraceEvent.WaitBegin, koid, requestId(k, r), offset, length, r);
  }
  return ZX_ERR_SHOULD_WAIT;
}

function sendRequestToProviderLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const t = k.thr(r);
  const overlap = upperBoundLocked(k, vmo, w[t + R_TYPE]!, w[t + R_OFFSET]!);
  if (overlap >= 0 && w[k.thr(overlap) + R_OFFSET]! <= w[t + R_OFFSET]!) {
    // The new request starts inside an outstanding one: it follows it, and no packet is sent.
    w[t + R_STATE] = RequestState.Follower;
    appendFollowerLocked(k, overlap, r);
    return;
  }
  w[t + R_STATE] = RequestState.Leader;
  w[t + R_PENDING] = w[t + R_LEN]!;
  w[t + R_FOL_HEAD] = -1;
  w[t + R_FOL_TAIL] = -1;
  w[t + R_LEADER] = -1;
  insertOutstandingLocked(k, vmo, r);
  Atomics.add(w, H_STAT_REQUESTS, 1);
  proxySendAsyncRequestLocked(k, vmo, r);
}

/** Supplied pages [offset, offset + len): resolve READ requests (OnPagesSupplied). */
export function onPagesSuppliedLocked(k: KernelState, vmo: number, offset: number, len: number): void {
  k.assertHeld(vmo);
  resolveRequestsLocked(k, vmo, PageRequestType.Read, offset, len, ZX_OK);
}

/** Dirtied pages: resolve DIRTY requests (OnPagesDirtied). */
export function onPagesDirtiedLocked(k: KernelState, vmo: number, offset: number, len: number): void {
  k.assertHeld(vmo);
  resolveRequestsLocked(k, vmo, PageRequestType.Dirty, offset, len, ZX_OK);
}

/** OP_FAIL (or an internal failure) over [offset, offset + len): both request types. */
export function onPagesFailedLocked(k: KernelState, vmo: number, offset: number, len: number, status: number): void {
  k.assertHeld(vmo);
  assert(isValidInternalFailureCode(status), 'onPagesFailed: not a failure code');
  resolveRequestsLocked(k, vmo, PageRequestType.Read, offset, len, status);
  resolveRequestsLocked(k, vmo, PageRequestType.Dirty, offset, len, status);
}

function resolveRequestsLocked(k: KernelState, vmo: number, type: number, offset: number, len: number, error: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  if ((w[k.obj(vmo) + V_FLAGS]! & VmoFlag.Detached) !== 0) return;
  const end = offset + len;
  let cur = upperBoundLocked(k, vmo, type, offset);
  while (cur >= 0 && w[k.thr(cur) + R_OFFSET]! < end) {
    const next = w[k.thr(cur) + R_OUT_NEXT]!;
    const ct = k.thr(cur);
    const [reqOffset, reqEndRel] = trimToRequest(k, cur, offset, end);
    if (error !== ZX_OK) {
      // The newer rule: a waiter takes the error only if the failure covers its first page or the
      // page it currently waits for; otherwise it will wake OK and ask again.
      if (reqOffset === 0 || reqOffset === w[ct + R_WAKE_OFFSET]) w[ct + R_STATUS] = error;
      for (let f = w[ct + R_FOL_HEAD]!; f >= 0; f = w[k.thr(f) + R_FOL_NEXT]!) {
        if (!overlapsRequest(k, f, offset, end)) continue;
        const [fs] = trimToRequest(k, f, offset, end);
        if (fs === 0 || fs === w[k.thr(f) + R_WAKE_OFFSET]) w[k.thr(f) + R_STATUS] = error;
      }
    }
    const fulfill = reqEndRel - reqOffset;
    if (fulfill < w[ct + R_PENDING]!) {
      // Wake early only for exactly the page the waiter wants next.
      if (reqOffset === w[ct + R_WAKE_OFFSET]) earlyWakeRequestLocked(k, cur, reqOffset, reqEndRel);
      w[ct + R_PENDING] = w[ct + R_PENDING]! - fulfill;
    } else {
      eraseOutstandingLocked(k, vmo, cur);
      completeRequestLocked(k, vmo, cur);
    }
    cur = next;
  }
}

function earlyWakeRequestLocked(k: KernelState, r: number, reqStart: number, reqEndRel: number): void {
  const w = k.w;
  const t = k.thr(r);
  w[t + R_WAKE_OFFSET] = reqEndRel;
  signalLocked(k, r, w[t + R_STATUS]!);
  const providerStart = reqStart + w[t + R_OFFSET]!;
  const providerEnd = reqEndRel + w[t + R_OFFSET]!;
  for (let f = w[t + R_FOL_HEAD]!; f >= 0; f = w[k.thr(f) + R_FOL_NEXT]!) {
    const ft = k.thr(f);
    if (w[ft + R_EARLY_WAKE] === 0) continue;
    const fOff = w[ft + R_OFFSET]!;
    // The leader moved past this follower's wake point: pages came out of order; wake it once.
    if (providerStart > fOff && providerStart - fOff > w[ft + R_WAKE_OFFSET]!) {
      w[ft + R_WAKE_OFFSET] = w[t + R_LEN]!;
      signalLocked(k, f, w[ft + R_STATUS]!);
      continue;
    }
    if (!overlapsRequest(k, f, providerStart, providerEnd)) continue;
    const [os, oe] = trimToRequest(k, f, providerStart, providerEnd);
    const wake = w[ft + R_WAKE_OFFSET]!;
    if (os <= wake && oe > wake) {
      w[ft + R_WAKE_OFFSET] = oe;
      signalLocked(k, f, w[ft + R_STATUS]!);
    }
  }
}

/** Takes a finished leader back from the provider and wakes it and its followers. */
function completeRequestLocked(k: KernelState, vmo: number, r: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const t = k.thr(r);
  proxyClearAsyncRequestLocked(k, vmo, r);
  if (k.tracing) traceEvent(k, TraceEvent.ReqDone, koidOf(k, vmo), requestId(k, r), w[t + R_STATUS]!);
  const wakeFollowers = !(k.bugs & Bug.FailWakesNoFollowers) || w[t + R_STATUS] === ZX_OK;
  for (let f = w[t + R_FOL_HEAD]!; f >= 0; ) {
    const next = w[k.thr(f) + R_FOL_NEXT]!;
    const ft = k.thr(f);
    w[ft + R_FOL_PREV] = -1;
    w[ft + R_FOL_NEXT] = -1;
    w[ft + R_LEADER] = -1;
    w[ft + R_STATE] = RequestState.None;
    if (wakeFollowers) signalLocked(k, f, w[ft + R_STATUS]!);
    f = next;
  }
  w[t + R_FOL_HEAD] = -1;
  w[t + R_FOL_TAIL] = -1;
  w[t + R_STATE] = RequestState.None;
  signalLocked(k, r, w[t + R_STATUS]!);
}

/** Withdraws thread r's request; a leader with followers hands its range and packet to the first. */
export function cancelRequestLocked(k: KernelState, r: number): void {
  const w = k.w;
  const t = k.thr(r);
  const state = w[t + R_STATE]!;
  if (state === RequestState.None) return;
  const vmo = w[t + R_VMO]!;
  k.assertHeld(vmo);
  if (state === RequestState.Follower) {
    removeFollowerLocked(k, w[t + R_LEADER]!, r);
  } else if (w[t + R_FOL_HEAD]! >= 0) {
    const nw = w[t + R_FOL_HEAD]!;
    removeFollowerLocked(k, r, nw);
    const nt = k.thr(nw);
    // The new leader takes over the remaining followers, the range and the pending count.
    w[nt + R_FOL_HEAD] = w[t + R_FOL_HEAD]!;
    w[nt + R_FOL_TAIL] = w[t + R_FOL_TAIL]!;
    for (let f = w[nt + R_FOL_HEAD]!; f >= 0; f = w[k.thr(f) + R_FOL_NEXT]!) w[k.thr(f) + R_LEADER] = nw;
    w[t + R_FOL_HEAD] = -1;
    w[t + R_FOL_TAIL] = -1;
    w[nt + R_OFFSET] = w[t + R_OFFSET]!;
    w[nt + R_LEN] = w[t + R_LEN]!;
    w[nt + R_PENDING] = w[t + R_PENDING]!;
    w[nt + R_STATE] = RequestState.Leader;
    replaceOutstandingLocked(k, vmo, r, nw);
    proxySwapAsyncRequestLocked(k, vmo, r, nw);
    if (k.tracing) traceEvent(k, TraceEvent.Handover, koidOf(k, vmo), requestId(k, r), requestId(k, nw));
  } else {
    eraseOutstandingLocked(k, vmo, r);
    proxyClearAsyncRequestLocked(k, vmo, r);
  }
  w[t + R_STATE] = RequestState.None;
}

/** PageSource::Detach: completes every outstanding request with its own status (they retry). */
export function detachSourceLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  const w = k.w;
  const o = k.obj(vmo);
  if ((w[o + V_FLAGS]! & VmoFlag.Detached) !== 0) return;
  w[o + V_FLAGS] = w[o + V_FLAGS]! | VmoFlag.Detached;
  for (const type of [PageRequestType.Read, PageRequestType.Dirty]) {
    for (let r = w[o + outHead(type)]!; r >= 0; r = w[o + outHead(type)]!) {
      eraseOutstandingLocked(k, vmo, r);
      completeRequestLocked(k, vmo, r);
    }
  }
  proxyOnDetachLocked(k, vmo);
}

/** PageSource::Close: detach, then close the provider side. Idempotent. */
export function closeSourceLocked(k: KernelState, vmo: number): void {
  k.assertHeld(vmo);
  detachSourceLocked(k, vmo);
  const o = k.obj(vmo);
  if ((k.w[o + V_FLAGS]! & VmoFlag.SourceClosed) !== 0) return;
  k.w[o + V_FLAGS] = k.w[o + V_FLAGS]! | VmoFlag.SourceClosed;
  proxyOnCloseLocked(k, vmo);
}

/**
 * PageRequest::Wait, with no lock held: blocks thread r (shown as ZX_THREAD_STATE_BLOCKED_PAGER)
 * until its event is signalled, or the overtime timeout passes (ZX_ERR_TIMED_OUT). A status that
 * is neither OK nor a page-request failure code cancels the request, as Zircon does. A kill
 * (T_KILLED, zx_task_kill) interrupts the wait: the request is withdrawn and the wait returns
 * ZX_ERR_INTERNAL_INTR_KILLED, which unwinds the syscall to the kernel exit where the thread stops
 * (core/syscall_gate.ts). A kernel panic interrupts it too, with the KernelPanic.
 */
export function waitOnRequest(k: KernelState, vmo: number, r: number): number {
  const w = k.w;
  const t = k.thr(r);
  const timeoutMs = w[H_REQUEST_TIMEOUT_MS]!;
  const deadline = timeoutMs > 0 ? monotonicNow() + BigInt(timeoutMs) * 1_000_000n : -1n;
  const spin = w[H_WAIT_SPIN]!;
  const began = process.hrtime.bigint();
  w[t + T_BLOCKED_VMO] = vmo;
  Atomics.store(w, t + T_STATE, ZX_THREAD_STATE_BLOCKED_PAGER);
  let status: number;
  let suspended = false;
  for (;;) {
    // Kill and panic first. A poke (R_EVENT_POKED: kill, suspend, panic) ends the wait, not the request.
    if (Atomics.load(w, t + T_KILLED) !== 0) {
      status = ZX_ERR_INTERNAL_INTR_KILLED;
      break;
    }
    if (isPanicked(k)) throw kernelPanicOf(k);
    // 1: signalled. R_EVENT_POKED (a suspend or a kill) is not a signal: it only makes us re-check.
    if (Atomics.exchange(w, t + R_EVENT, 0) === 1) {
      status = w[t + R_EVENT_STATUS]!;
      break;
    }
    if (Atomics.load(w, t + T_SUSPEND) !== 0) {
      suspended = true;
      status = ZX_OK;
      break;
    }
    let waitMs = Infinity;
    if (deadline >= 0n) {
      const left = deadline - monotonicNow();
      if (left <= 0n) {
        status = ZX_ERR_TIMED_OUT;
        Atomics.add(w, H_STAT_TIMED_OUT, 1);
        break;
      }
      waitMs = Number(left) / 1e6;
    }
    futexWait(w, t + R_EVENT, 0, waitMs, spin);
  }
  if (suspended) {
    // Suspension aborts the wait (Zircon's PageRequest::Wait returns ZX_ERR_INTERNAL_INTR_RETRY): the
    // request is withdrawn, the thread sleeps until resumed, and the caller's retry - every caller
    // re-checks after any wake - issues a fresh request (SuspendReadTest sees a second READ).
    k.lockObject(vmo);
    cancelRequestLocked(k, r);
    k.unlockObject(vmo);
    Atomics.store(w, t + R_EVENT, 0);
    Atomics.store(w, t + T_STATE, ZX_THREAD_STATE_SUSPENDED);
    while (Atomics.load(w, t + T_SUSPEND) !== 0 && Atomics.load(w, t + T_KILLED) === 0 && !isPanicked(k)) Atomics.wait(w, t + T_SUSPEND, 1);
    if (Atomics.load(w, t + T_KILLED) !== 0) status = ZX_ERR_INTERNAL_INTR_KILLED;
  }
  Atomics.store(w, t + T_STATE, ZX_THREAD_STATE_RUNNING);
  w[t + T_BLOCKED_VMO] = -1;
  const waitedNs = Number(process.hrtime.bigint() - began);
  histogramRecord(w, k.layout.waitHistogram, waitedNs);
  if (k.tracing) traceEvent(k, TraceEvent.WaitEnd, r, status, waitedNs);
  if (status !== ZX_OK && !isValidInternalFailureCode(status)) {
    k.lockObject(vmo);
    cancelRequestLocked(k, r);
    k.unlockObject(vmo);
  }
  return status;
}
