// Kernel trace: an append-only ring of events in shared memory (shared/layout.ts `trace`), written
// by whichever thread acts (each event published by a last, atomic store of its type), read after
// the run by the stress checker and the Chrome-trace exporter, and during it by the model driver.
// Events inside a VMO's critical section are appended while its lock is held, so the append order
// (the index) is consistent with the lock order: the checker relies on it. Off unless the kernel was
// created with traceEvents > 0; when off, each call site costs one test of a plain field.

import { TRACE_EVENT_WORDS } from '../shared/layout.js';
import type { KernelState } from './kernel_state.js';

export const TraceEvent = {
  ReqNew: 1, //        vmoKoid, reqId, type, offset, len         a leader request was created
  ReqFollow: 2, //     vmoKoid, reqId, leaderId, offset, len     a request follows an outstanding one
  PktPost: 3, //       vmoKoid, reqId (-2 COMPLETE), cmd, offset, len
  PktWithdraw: 4, //   vmoKoid, reqId                            an unread packet was taken back
  PktDequeue: 5, //    vmoKoid, cmd, offset, len, actor          a pager read a packet
  FifoDrop: 6, //      vmoKoid, reqId                            taken back before it was ever posted
  ReqDone: 7, //       vmoKoid, reqId, status                    a leader completed (all waiters woken)
  WaitBegin: 8, //     vmoKoid, reqId, offset, len, thread       a thread is about to sleep on reqId
  WaitEnd: 9, //       thread, status, waitNs
  Signal: 10, //       vmoKoid, reqId, status, thread            a waiter's event was signalled
  Supply: 11, //       vmoKoid, offset, len                      newly filled pages
  Fail: 12, //         vmoKoid, offset, len, status              ZX_PAGER_OP_FAIL
  Dirty: 13, //        vmoKoid, offset, len                      ZX_PAGER_OP_DIRTY
  WritebackBegin: 14, // vmoKoid, offset, len
  WritebackEnd: 15, // vmoKoid, offset, len
  Evict: 16, //        vmoKoid, page
  Handover: 17, //     vmoKoid, oldId, newId                     a cancelled leader's follower took over
  Detach: 18, //       vmoKoid
} as const;

const F64_PER_EVENT = TRACE_EVENT_WORDS / 2;
// An event's float64 slots: 0 holds the type (its first Int32 word), then six arguments, then the time.
const ARG0 = 1;
const TIME_NS = 7;

/** Appends an event; its last argument slot records the acting kernel thread unless given. */
export function traceEvent(k: KernelState, type: number, a0: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): void {
  if ((k.traceMask & (1 << type)) === 0) return;
  const i = k.header.addTraceHead(1);
  if (i >= k.traceCapacity) return;
  const f = k.traceF64!;
  const b = i * F64_PER_EVENT;
  f[b + ARG0] = a0;
  f[b + ARG0 + 1] = a1;
  f[b + ARG0 + 2] = a2;
  f[b + ARG0 + 3] = a3;
  f[b + ARG0 + 4] = a4;
  f[b + ARG0 + 5] = a5 === 0 ? k.actor : a5;
  f[b + TIME_NS] = Number(process.hrtime.bigint());
  // Publish: the type goes last, with a release store, so a reader never takes a half-written event.
  Atomics.store(k.w, k.layout.trace + i * TRACE_EVENT_WORDS, type);
}

export interface TraceRecord {
  type: number;
  a: [number, number, number, number, number, number];
  timeNs: number;
}

/**
 * The recorded events in append order: the published prefix. While threads still run, an event whose
 * slot is reserved but not yet written ends the prefix (a later call returns it and what follows),
 * so a reader that polls during a run never skips an event.
 */
export function readTrace(k: KernelState): { events: TraceRecord[]; dropped: number } {
  const total = k.header.traceHead();
  const n = Math.min(total, k.traceCapacity);
  const f = k.traceF64;
  const events: TraceRecord[] = [];
  for (let i = 0; i < n && f; i++) {
    const type = Atomics.load(k.w, k.layout.trace + i * TRACE_EVENT_WORDS);
    if (type === 0) break;
    const b = i * F64_PER_EVENT;
    const a0 = b + ARG0;
    events.push({ type, a: [f[a0], f[a0 + 1], f[a0 + 2], f[a0 + 3], f[a0 + 4], f[a0 + 5]], timeNs: f[b + TIME_NS] });
  }
  return { events, dropped: total - n };
}
