// PortDispatcher (zircon kernel/object/port_dispatcher.cc): a FIFO of packets and the threads that
// wait for them. The queue is a doubly-linked list of packet records (shared/layout.ts E_*), guarded
// by the port's lock; waiters sleep on PT_SEQ, bumped on every queue. User packets are allocated per
// zx_port_queue (at most MAX_PORT_USER_PACKETS queued); each pager VMO owns one packet for life and
// does not count toward that limit. Any thread may queue or wait.

import { futexWait, monotonicNow, msUntil } from '../../shared/futex.js';
import {
  E_CMD,
  E_KEY_HI,
  E_KEY_LO,
  E_KIND,
  E_LENGTH,
  E_NEXT,
  E_NEXT_FREE,
  E_OFFSET,
  E_PAYLOAD,
  E_PORT,
  E_PREV,
  E_QUEUED,
  E_STATUS,
  E_TYPE,
  E_VMO,
  H_FREE_PORT_PACKET,
  H_HEAP_LOCK,
  PACKET_WORDS,
  PacketKind,
  PT_DEAD,
  PT_HEAD,
  PT_SEQ,
  PT_TAIL,
  PT_USER_COUNT,
} from '../../shared/layout.js';
import { MAX_PORT_USER_PACKETS, PAGE_SIZE, ZX_PKT_TYPE_USER, ZX_THREAD_STATE_BLOCKED_PORT, ZX_THREAD_STATE_RUNNING } from '../../shared/constants.js';
import { ZX_ERR_INTERNAL_INTR_KILLED, ZX_ERR_NO_MEMORY, ZX_ERR_SHOULD_WAIT, ZX_ERR_TIMED_OUT, ZX_OK } from '../../shared/status.js';
import { isPanicked, kernelPanicOf } from '../panic.js';
import type { PortPacket } from '../sys_types.js';
import type { KernelState } from '../kernel_state.js';
import { TraceEvent, traceEvent } from '../trace.js';
import { H_STAT_DEQUEUED, H_STAT_PORT_DROPPED, H_WAIT_SPIN, O_KOID, T_KILLED, T_STATE, T_WAIT_WORD } from '../../shared/layout.js';
import { proxyFreeLocked } from './pager_proxy.js';

export function initPort(k: KernelState, port: number): void {
  const o = k.obj(port);
  k.w[o + PT_HEAD] = -1;
  k.w[o + PT_TAIL] = -1;
}

export function allocPacket(k: KernelState, kind: number): number {
  const w = k.w;
  k.lockLeaf(H_HEAP_LOCK);
  const e = w[H_FREE_PORT_PACKET]!;
  if (e >= 0) w[H_FREE_PORT_PACKET] = w[k.pkt(e) + E_NEXT_FREE]!;
  k.unlockLeaf(H_HEAP_LOCK);
  if (e >= 0) {
    w.fill(0, k.pkt(e), k.pkt(e) + PACKET_WORDS);
    w[k.pkt(e) + E_KIND] = kind;
    w[k.pkt(e) + E_VMO] = -1;
  }
  return e;
}

export function freePacket(k: KernelState, e: number): void {
  const w = k.w;
  w[k.pkt(e) + E_KIND] = PacketKind.Free;
  k.lockLeaf(H_HEAP_LOCK);
  w[k.pkt(e) + E_NEXT_FREE] = w[H_FREE_PORT_PACKET]!;
  w[H_FREE_PORT_PACKET] = e;
  k.unlockLeaf(H_HEAP_LOCK);
}

function appendLocked(k: KernelState, port: number, e: number): void {
  k.assertHeld(port);
  const w = k.w;
  const o = k.obj(port);
  const tail = w[o + PT_TAIL]!;
  const pe = k.pkt(e);
  w[pe + E_PORT] = port;
  w[pe + E_PREV] = tail;
  w[pe + E_NEXT] = -1;
  w[pe + E_QUEUED] = 1;
  if (tail >= 0) w[k.pkt(tail) + E_NEXT] = e;
  else w[o + PT_HEAD] = e;
  w[o + PT_TAIL] = e;
  Atomics.add(w, o + PT_SEQ, 1);
  k.wakeAfterUnlock(o + PT_SEQ, 1);
}

function unlinkLocked(k: KernelState, port: number, e: number): void {
  k.assertHeld(port);
  const w = k.w;
  const o = k.obj(port);
  const pe = k.pkt(e);
  const prev = w[pe + E_PREV]!;
  const next = w[pe + E_NEXT]!;
  if (prev >= 0) w[k.pkt(prev) + E_NEXT] = next;
  else w[o + PT_HEAD] = next;
  if (next >= 0) w[k.pkt(next) + E_PREV] = prev;
  else w[o + PT_TAIL] = prev;
  w[pe + E_QUEUED] = 0;
}

/** Queues a VMO's page-request packet (caller holds the VMO lock). False if the port is dead. */
export function portQueuePagerPacketLocked(k: KernelState, port: number, e: number): boolean {
  k.lockObject(port);
  const dead = k.w[k.obj(port) + PT_DEAD] === 1;
  if (!dead) appendLocked(k, port, e);
  k.unlockObject(port);
  return !dead;
}

/** Takes a queued packet back (PortDispatcher::CancelQueued); false if it was already dequeued. */
export function portCancelQueuedLocked(k: KernelState, port: number, e: number): boolean {
  k.lockObject(port);
  const queued = k.w[k.pkt(e) + E_QUEUED] === 1;
  if (queued) unlinkLocked(k, port, e);
  k.unlockObject(port);
  return queued;
}

/** zx_port_queue of a user packet. */
export function portQueueUser(k: KernelState, port: number, keyLo: number, keyHi: number, status: number, payload: Uint8Array | undefined): number {
  const w = k.w;
  const o = k.obj(port);
  k.lockObject(port);
  if (w[o + PT_USER_COUNT]! >= MAX_PORT_USER_PACKETS) {
    k.unlockObject(port);
    return ZX_ERR_SHOULD_WAIT;
  }
  const e = allocPacket(k, PacketKind.User);
  if (e < 0) {
    k.unlockObject(port);
    return ZX_ERR_NO_MEMORY;
  }
  const pe = k.pkt(e);
  w[pe + E_KEY_LO] = keyLo;
  w[pe + E_KEY_HI] = keyHi;
  w[pe + E_TYPE] = ZX_PKT_TYPE_USER;
  w[pe + E_STATUS] = status;
  if (payload) {
    const bytes = new Uint8Array(w.buffer, (pe + E_PAYLOAD) * 4, 32);
    bytes.set(payload.subarray(0, 32));
  }
  w[o + PT_USER_COUNT] = w[o + PT_USER_COUNT]! + 1;
  appendLocked(k, port, e);
  k.unlockObject(port);
  return ZX_OK;
}

export function keyOf(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * zx_port_wait: returns the first packet, waiting until `deadline` (ZX_ERR_TIMED_OUT). Dequeuing a
 * pager packet lets its VMO post its next request at once (PagerProxy::Free).
 */
export function portWait(k: KernelState, port: number, deadline: bigint, out: { packet: PortPacket | null }, actor = -1): number {
  const w = k.w;
  const o = k.obj(port);
  for (;;) {
    k.lockObject(port);
    const e = w[o + PT_HEAD]!;
    if (e >= 0) {
      unlinkLocked(k, port, e);
      const pe = k.pkt(e);
      const kind = w[pe + E_KIND]!;
      const packet: PortPacket = { key: keyOf(w[pe + E_KEY_LO]!, w[pe + E_KEY_HI]!), type: w[pe + E_TYPE]!, status: w[pe + E_STATUS]! };
      let vmo = -1;
      if (kind === PacketKind.User) {
        packet.user = new Uint8Array(32);
        packet.user.set(new Uint8Array(w.buffer, (pe + E_PAYLOAD) * 4, 32));
        w[o + PT_USER_COUNT] = w[o + PT_USER_COUNT]! - 1;
        k.unlockObject(port);
        freePacket(k, e);
      } else {
        packet.pageRequest = {
          command: w[pe + E_CMD]!,
          flags: 0,
          offset: w[pe + E_OFFSET]! * PAGE_SIZE,
          length: w[pe + E_LENGTH]! * PAGE_SIZE,
        };
        vmo = w[pe + E_VMO]!;
        k.unlockObject(port);
        Atomics.add(w, H_STAT_DEQUEUED, 1);
        if (k.tracing) traceEvent(k, TraceEvent.PktDequeue, w[k.obj(vmo) + O_KOID]!, w[pe + E_CMD]!, w[pe + E_OFFSET]!, w[pe + E_LENGTH]!, actor);
      }
      if (vmo >= 0) {
        k.lockObject(vmo);
        proxyFreeLocked(k, vmo);
        k.unlockObject(vmo);
        k.releaseRecord(vmo); // the packet's reference (see pager_proxy.ts)
      }
      out.packet = packet;
      return ZX_OK;
    }
    const seq = Atomics.load(w, o + PT_SEQ);
    k.unlockObject(port);
    const ms = msUntil(deadline);
    if (ms <= 0) return ZX_ERR_TIMED_OUT;
    // A kill (or a kernel panic) ends the wait: the killer notifies T_WAIT_WORD, published first.
    const t = actor >= 0 ? k.thr(actor) : -1;
    if (t >= 0) {
      Atomics.store(w, t + T_WAIT_WORD, o + PT_SEQ);
      if (Atomics.load(w, t + T_KILLED) !== 0) {
        Atomics.store(w, t + T_WAIT_WORD, 0);
        return ZX_ERR_INTERNAL_INTR_KILLED;
      }
    }
    if (isPanicked(k)) throw kernelPanicOf(k);
    if (t >= 0) Atomics.store(w, t + T_STATE, ZX_THREAD_STATE_BLOCKED_PORT);
    futexWait(w, o + PT_SEQ, seq, ms, w[H_WAIT_SPIN]!); // the kernel's waitSpin applies to port waits too
    if (t >= 0) {
      Atomics.store(w, t + T_STATE, ZX_THREAD_STATE_RUNNING);
      Atomics.store(w, t + T_WAIT_WORD, 0);
    }
    if (monotonicNow() >= deadline && Atomics.load(w, o + PT_SEQ) === seq) return ZX_ERR_TIMED_OUT;
  }
}

/**
 * The port's last handle closed: drop every queued packet without telling the VMOs, whose proxies
 * therefore believe their packet is still in flight (later requests pile up in their FIFOs).
 */
export function portOnZeroHandles(k: KernelState, port: number): void {
  const w = k.w;
  const o = k.obj(port);
  for (;;) {
    k.lockObject(port);
    w[o + PT_DEAD] = 1;
    const e = w[o + PT_HEAD]!;
    if (e < 0) {
      k.unlockObject(port);
      return;
    }
    unlinkLocked(k, port, e);
    const kind = w[k.pkt(e) + E_KIND]!;
    const vmo = w[k.pkt(e) + E_VMO]!;
    if (kind === PacketKind.User) w[o + PT_USER_COUNT] = w[o + PT_USER_COUNT]! - 1;
    k.unlockObject(port);
    if (kind === PacketKind.User) freePacket(k, e);
    else if (vmo >= 0) {
      Atomics.add(w, H_STAT_PORT_DROPPED, 1);
      k.releaseRecord(vmo);
    }
  }
}
