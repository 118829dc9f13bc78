// PortStash: the test harness's one reader of a pager port (docs/conformance/pager-tests.md §1.2). Packets that
// a wait reads but does not want are stashed; every later wait searches the stash first, so tests
// never depend on the order of packets for different ranges. UserPager and RawPager each own one, and
// the writeback helpers wait through the UserPager's (pager.stash), so no packet is lost between them.
//
// Main thread only and not thread-safe (it needs no lock: JS runs one callback at a time). Waits are
// async: a long zx_port_wait would block the event loop that dispatches the pool's threads, so they
// poll the port in 2 ms slices and yield between slices until their own timeout. A timeout of 0 polls
// once and never yields.

import { PAGE_SIZE, ZX_PAGER_VMO_COMPLETE, ZX_PAGER_VMO_DIRTY, ZX_PAGER_VMO_READ, ZX_PKT_TYPE_PAGE_REQUEST, deadlineAfter } from '../../core/index.js';
import type { PortPacket, Sys } from '../../core/index.js';
import { MAIN_THREAD_SLICE_NS, waitPacket, yieldToEventLoop } from '../../workers/pager_loop.js';

export type PacketMatch = (packet: PortPacket) => boolean;

/** True if `packet` is a page request of `command` for the VMO with `key`. */
export function isPageRequest(packet: PortPacket, key: bigint, command: number): boolean {
  return packet.key === key && packet.type === ZX_PKT_TYPE_PAGE_REQUEST && packet.pageRequest?.command === command;
}

/** A request of `command` for exactly bytes [offsetBytes, +lengthBytes) of `key`, flags 0. */
export function isExactRequest(packet: PortPacket, key: bigint, command: number, offsetBytes: number, lengthBytes: number): boolean {
  const request = packet.pageRequest;
  return isPageRequest(packet, key, command) && request !== undefined && request.offset === offsetBytes && request.length === lengthBytes && request.flags === 0;
}

export function commandName(command: number): string {
  if (command === ZX_PAGER_VMO_READ) return 'READ';
  if (command === ZX_PAGER_VMO_DIRTY) return 'DIRTY';
  if (command === ZX_PAGER_VMO_COMPLETE) return 'COMPLETE';
  return `command ${command}`;
}

/** `READ{key=2, offset=0p, length=1p, flags=0}`: a packet for failure messages. */
export function describePacket(packet: PortPacket): string {
  const request = packet.pageRequest;
  if (packet.type !== ZX_PKT_TYPE_PAGE_REQUEST || request === undefined) return `packet{key=${packet.key}, type=${packet.type}}`;
  return `${commandName(request.command)}{key=${packet.key}, offset=${request.offset / PAGE_SIZE}p, length=${request.length / PAGE_SIZE}p, flags=${request.flags}}`;
}

export class PortStash {
  readonly #sys: Sys;
  readonly #port: number;
  readonly #packets: PortPacket[] = [];

  constructor(sys: Sys, port: number) {
    this.#sys = sys;
    this.#port = port;
  }

  /** Deadline 0: the stash, then everything queued on the port right now, stashing non-matches. */
  poll(match: PacketMatch): PortPacket | null {
    const index = this.#packets.findIndex(match);
    if (index >= 0) return this.#packets.splice(index, 1)[0] ?? null;
    for (;;) {
      const packet = waitPacket(this.#sys, this.#port, 0n);
      if (packet === null) return null;
      if (match(packet)) return packet;
      this.#packets.push(packet);
    }
  }

  /** poll that leaves a packet it finds at the front of the stash: true if there is one. */
  peek(match: PacketMatch): boolean {
    const packet = this.poll(match);
    if (packet === null) return false;
    this.#packets.unshift(packet);
    return true;
  }

  /** The first matching packet (stashed or arriving) within timeoutMs; null at the deadline. */
  async wait(match: PacketMatch, timeoutMs: number): Promise<PortPacket | null> {
    const polled = this.poll(match);
    if (polled !== null || timeoutMs <= 0) return polled;
    const end = performance.now() + timeoutMs;
    for (;;) {
      const packet = waitPacket(this.#sys, this.#port, deadlineAfter(MAIN_THREAD_SLICE_NS));
      if (packet !== null) {
        if (match(packet)) return packet;
        this.#packets.push(packet);
        continue;
      }
      if (performance.now() >= end) return null;
      await yieldToEventLoop();
    }
  }

  /** Drains the port into the stash (deadline 0) and returns the stashed packets that match, kept. */
  pending(match: PacketMatch): PortPacket[] {
    this.poll(() => false);
    return this.#packets.filter(match);
  }

  get size(): number {
    return this.#packets.length;
  }

  /** The stashed packets, for failure messages. */
  describe(describe: (packet: PortPacket) => string = describePacket, empty = '(no stashed packets)'): string {
    return this.#packets.length === 0 ? empty : this.#packets.map(describe).join(', ');
  }
}
