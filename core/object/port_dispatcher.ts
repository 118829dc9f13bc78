// PortDispatcher (zircon kernel/object/port_dispatcher.cc): a FIFO of packets and the threads that
// wait for them. The queue is k.lists.portQueue over packet records (shared/layout.ts PacketRecord),
// guarded by the port's lock; waiters sleep on ports.seq, bumped on every queue. User packets are allocated per
// zx_port_queue (at most MAX_PORT_USER_PACKETS queued); each pager VMO owns one packet for life and
// does not count toward that limit: once a pager dequeued it, the port hands it back to its owner
// through k.pageProvider.freePacketLocked (PortAllocator::Free), so this module imports no proxy.
// Any thread may queue or wait.

import { futexWait, monotonicNow, msUntil } from '../../shared/futex.js';
import { PACKET_WORDS, PacketKind } from '../../shared/layout.js';
import { MAX_PORT_USER_PACKETS, PAGE_SIZE, ZX_PKT_TYPE_USER, ZX_THREAD_STATE_BLOCKED_PORT, ZX_THREAD_STATE_RUNNING } from '../../shared/constants.js';
import { ZX_ERR_INTERNAL_INTR_KILLED, ZX_ERR_NO_MEMORY, ZX_ERR_SHOULD_WAIT, ZX_ERR_TIMED_OUT, ZX_OK } from '../../shared/status.js';
import { isPanicked, kernelPanicOf } from '../panic.js';
import type { PortPacket } from '../sys_types.js';
import type { KernelState } from '../kernel_state.js';
import { TraceEvent, traceEvent } from '../trace.js';

export function initPort(k: KernelState, port: number): void {
  k.ports.setHead(port, -1);
  k.ports.setTail(port, -1);
}

export function allocPacket(k: KernelState, kind: number): number {
  const heapLock = k.header.heapLockWord();
  k.lockLeaf(heapLock);
  const e = k.header.freePortPacket();
  if (e >= 0) k.header.setFreePortPacket(k.packets.nextFree(e));
  k.unlockLeaf(heapLock);
  if (e >= 0) {
    const first = k.packets.kindWord(e);
    k.w.fill(0, first, first + PACKET_WORDS);
    k.packets.setKind(e, kind);
    k.packets.setVmo(e, -1);
  }
  return e;
}

export function freePacket(k: KernelState, e: number): void {
  const heapLock = k.header.heapLockWord();
  k.packets.setKind(e, PacketKind.Free);
  k.lockLeaf(heapLock);
  k.packets.setNextFree(e, k.header.freePortPacket());
  k.header.setFreePortPacket(e);
  k.unlockLeaf(heapLock);
}

function appendLocked(k: KernelState, port: number, e: number): void {
  k.assertHeld(port);
  k.packets.setPort(e, port);
  k.packets.setQueued(e, 1);
  k.lists.portQueue.pushBack(k.ports.headWord(port), k.ports.tailWord(port), e);
  k.ports.addSeq(port, 1);
  k.wakeAfterUnlock(k.ports.seqWord(port), 1);
}

function unlinkLocked(k: KernelState, port: number, e: number): void {
  k.assertHeld(port);
  k.lists.portQueue.remove(k.ports.headWord(port), k.ports.tailWord(port), e);
  k.packets.setQueued(e, 0);
}

/** Unlinks and returns the first queued packet (-1 if none); a user packet leaves the user count. */
function popLocked(k: KernelState, port: number): number {
  k.assertHeld(port);
  const e = k.lists.portQueue.first(k.ports.headWord(port));
  if (e < 0) return -1;
  unlinkLocked(k, port, e);
  if (k.packets.kind(e) === PacketKind.User) k.ports.setUserCount(port, k.ports.userCount(port) - 1);
  return e;
}

/** Queues a VMO's page-request packet (caller holds the VMO lock). False if the port is dead. */
export function portQueuePagerPacketLocked(k: KernelState, port: number, e: number): boolean {
  k.lockObject(port);
  const dead = k.ports.dead(port) === 1;
  if (!dead) appendLocked(k, port, e);
  k.unlockObject(port);
  return !dead;
}

/** Takes a queued packet back (PortDispatcher::CancelQueued); false if it was already dequeued. */
export function portCancelQueuedLocked(k: KernelState, port: number, e: number): boolean {
  k.lockObject(port);
  const queued = k.packets.queued(e) === 1;
  if (queued) unlinkLocked(k, port, e);
  k.unlockObject(port);
  return queued;
}

/** debug: packet e sits in a port, unread (no lock: racy, for reports only). */
export function portPacketQueued(k: KernelState, e: number): boolean {
  return k.packets.queued(e) === 1;
}

/** zx_port_queue of a user packet. */
export function portQueueUser(k: KernelState, port: number, keyLo: number, keyHi: number, status: number, payload: Uint8Array | undefined): number {
  k.lockObject(port);
  if (k.ports.userCount(port) >= MAX_PORT_USER_PACKETS) {
    k.unlockObject(port);
    return ZX_ERR_SHOULD_WAIT;
  }
  const e = allocPacket(k, PacketKind.User);
  if (e < 0) {
    k.unlockObject(port);
    return ZX_ERR_NO_MEMORY;
  }
  const p = k.packets;
  p.setKeyLo(e, keyLo);
  p.setKeyHi(e, keyHi);
  p.setType(e, ZX_PKT_TYPE_USER);
  p.setStatus(e, status);
  if (payload) payloadBytes(k, e).set(payload.subarray(0, 32));
  k.ports.setUserCount(port, k.ports.userCount(port) + 1);
  appendLocked(k, port, e);
  k.unlockObject(port);
  return ZX_OK;
}

/** The 32-byte payload union of packet e, as a view of shared memory. */
function payloadBytes(k: KernelState, e: number): Uint8Array {
  return new Uint8Array(k.w.buffer, k.packets.payloadWord(e) * 4, 32);
}

export function keyOf(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * zx_port_wait: returns the first packet, waiting until `deadline` (ZX_ERR_TIMED_OUT). Dequeuing a
 * pager packet lets its VMO post its next request at once (PagerProxy::Free).
 */
export function portWait(k: KernelState, port: number, deadline: bigint, out: { packet: PortPacket | null }, actor = -1): number {
  for (;;) {
    k.lockObject(port);
    const e = popLocked(k, port);
    if (e >= 0) {
      out.packet = dequeuedLocked(k, port, e, actor);
      return ZX_OK;
    }
    const seq = k.ports.seq(port);
    k.unlockObject(port);
    const ms = msUntil(deadline);
    if (ms <= 0) return ZX_ERR_TIMED_OUT;
    // A kill (or a kernel panic) ends the wait: the killer notifies threads.waitWord, published first.
    const q = k.threads;
    if (actor >= 0) {
      q.setWaitWord(actor, k.ports.seqWord(port));
      if (q.killed(actor) !== 0) {
        q.setWaitWord(actor, 0);
        return ZX_ERR_INTERNAL_INTR_KILLED;
      }
    }
    if (isPanicked(k)) throw kernelPanicOf(k);
    if (actor >= 0) q.setState(actor, ZX_THREAD_STATE_BLOCKED_PORT);
    futexWait(k.w, k.ports.seqWord(port), seq, ms, k.header.waitSpin()); // the kernel's waitSpin applies to port waits too
    if (actor >= 0) {
      q.setState(actor, ZX_THREAD_STATE_RUNNING);
      q.setWaitWord(actor, 0);
    }
    if (monotonicNow() >= deadline && k.ports.seq(port) === seq) return ZX_ERR_TIMED_OUT;
  }
}

/**
 * The packet e just popped from `port` (whose lock the caller holds, and which this unlocks) as the
 * waiter sees it. A user packet is freed; a pager packet goes back to its VMO's provider, which may
 * post its next request at once.
 */
function dequeuedLocked(k: KernelState, port: number, e: number, actor: number): PortPacket {
  const p = k.packets;
  const packet: PortPacket = { key: keyOf(p.keyLo(e), p.keyHi(e)), type: p.type(e), status: p.status(e) };
  if (p.kind(e) === PacketKind.User) {
    packet.user = new Uint8Array(32);
    packet.user.set(payloadBytes(k, e));
    k.unlockObject(port);
    freePacket(k, e);
    return packet;
  }
  packet.pageRequest = { command: p.command(e), flags: 0, offset: p.offsetPages(e) * PAGE_SIZE, length: p.lengthPages(e) * PAGE_SIZE };
  const vmo = p.vmo(e);
  k.unlockObject(port);
  k.header.addStatDequeued(1);
  if (k.tracing) traceEvent(k, TraceEvent.PktDequeue, k.vmos.koid(vmo), p.command(e), p.offsetPages(e), p.lengthPages(e), actor);
  if (vmo >= 0) {
    k.lockObject(vmo);
    k.pageProvider.freePacketLocked(vmo);
    k.unlockObject(vmo);
    k.releaseRecord(vmo); // the packet's reference (see pager_proxy.ts)
  }
  return packet;
}

/**
 * The port's last handle closed: drop every queued packet without telling the VMOs, whose proxies
 * therefore believe their packet is still in flight (later requests pile up in their FIFOs).
 */
export function portOnZeroHandles(k: KernelState, port: number): void {
  for (;;) {
    k.lockObject(port);
    k.ports.setDead(port, 1);
    const e = popLocked(k, port);
    k.unlockObject(port);
    if (e < 0) return;
    const vmo = k.packets.vmo(e);
    if (k.packets.kind(e) === PacketKind.User) freePacket(k, e);
    else if (vmo >= 0) {
      k.header.addStatPortDropped(1);
      k.releaseRecord(vmo);
    }
  }
}
