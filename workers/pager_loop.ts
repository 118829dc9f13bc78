// The pager-service loop every user pager of the project runs: read packets from the port, hand READ
// requests to a supplier, DIRTY requests to an acknowledger, COMPLETE packets to a counter, stop on a
// stop flag or a user packet, and count what it did. Used by the CLI's pager service
// (workers/pager_service.ts), the stress services (workers/stress_services.ts), the fault benchmark
// (bench/bench_worker.ts), the fuzzer's pager worker and the main-thread handlers of the tests.
//
// Threads: whichever thread runs the loop (a service Worker, or the main thread with the async
// variant); the loop's state is its own. The counts are an Int32Array that the caller may place in
// shared memory (they are bumped with Atomics.add, so another thread may read them while it runs).
//
// Hot path: one portWait, one switch, one handler call and a few Atomics.add per packet; nothing is
// allocated per packet or per page by the loop (portWait's own packet object aside), no JSON.

import type { PortPacket, Sys } from '../core/sys_types.js';
import { ZxError } from '../core/errors.js';
import {
  PAGE_SIZE,
  ZX_PAGER_VMO_COMPLETE,
  ZX_PAGER_VMO_DIRTY,
  ZX_PAGER_VMO_READ,
  ZX_PKT_TYPE_PAGE_REQUEST,
  ZX_PKT_TYPE_USER,
} from '../shared/constants.js';
import { deadlineAfter } from '../shared/futex.js';
import { ZX_ERR_TIMED_OUT } from '../shared/status.js';

/** Indices of the loop's counts (an Int32Array of PAGER_LOOP_COUNT_WORDS words from `countsBase`). */
export const PagerLoopCount = {
  /** READ packets the handler served (onRead returned true). */
  reads: 0,
  /** Pages of those READ requests. */
  readPages: 1,
  /** DIRTY packets the handler acknowledged (onDirty returned true). */
  dirty: 2,
  /** COMPLETE packets seen. */
  complete: 3,
} as const;
export const PAGER_LOOP_COUNT_WORDS = 4;

/** What a pager does with each kind of packet; offsets and lengths are in bytes, as in the packet. */
export interface PagerLoopHandler {
  /** A READ request: supply (or fail) it. True if it counts as served. */
  onRead(key: bigint, offsetBytes: number, lengthBytes: number): boolean;
  /** A DIRTY request: acknowledge (or fail) it. True if it counts as acknowledged. Default: ignored. */
  onDirty?(key: bigint, offsetBytes: number, lengthBytes: number): boolean;
  /** The COMPLETE packet of a destroyed or detached VMO. */
  onComplete?(key: bigint): void;
  /** A user packet: true stops the loop. Default: stop when its key is the options' stopKey. */
  onUser?(key: bigint): boolean;
}

export interface PagerLoopOptions {
  sys: Sys;
  port: number;
  /** Stop when this returns true (checked before every wait). */
  shouldStop?: () => boolean;
  /** A user packet with this key stops the loop (when the handler has no onUser). */
  stopKey?: bigint;
  /** The deadline of each wait; default deadlineAfter(DEFAULT_SLICE_NS). */
  nextDeadline?: () => bigint;
  /** Replaces the wait entirely (the benchmark's spin-then-park); null means "timed out". */
  next?: () => PortPacket | null;
  /** Runs before every wait (retries, pausing). */
  beforeWait?: () => void;
  /** A wait that failed with anything but ZX_ERR_TIMED_OUT: true goes on, false stops. Default: rethrow. */
  onWaitError?: (error: unknown) => boolean;
  /** Where to count (PAGER_LOOP_COUNT_WORDS words from countsBase); default a fresh private array. */
  counts?: Int32Array;
  countsBase?: number;
}

/** The slice of a wait when the caller names none: short enough to see a stop flag promptly. */
export const DEFAULT_SLICE_NS = 20_000_000;

/** One zx_port_wait; null when it times out (every other error propagates). */
export function waitPacket(sys: Sys, port: number, deadline: bigint): PortPacket | null {
  try {
    return sys.portWait(port, deadline);
  } catch (error) {
    if (error instanceof ZxError && error.status === ZX_ERR_TIMED_OUT) return null;
    throw error;
  }
}

/**
 * Hands one packet to the handler and counts it. Returns false if the packet stops the loop (a user
 * packet the handler or stopKey says stops it).
 */
export function dispatchPacket(packet: PortPacket, handler: PagerLoopHandler, counts: Int32Array, base = 0, stopKey?: bigint): boolean {
  if (packet.type === ZX_PKT_TYPE_USER) {
    return handler.onUser !== undefined ? !handler.onUser(packet.key) : packet.key !== stopKey;
  }
  const request = packet.pageRequest;
  if (packet.type !== ZX_PKT_TYPE_PAGE_REQUEST || request === undefined) return true;
  switch (request.command) {
    case ZX_PAGER_VMO_READ:
      if (handler.onRead(packet.key, request.offset, request.length)) {
        Atomics.add(counts, base + PagerLoopCount.reads, 1);
        Atomics.add(counts, base + PagerLoopCount.readPages, request.length / PAGE_SIZE);
      }
      break;
    case ZX_PAGER_VMO_DIRTY:
      if (handler.onDirty !== undefined && handler.onDirty(packet.key, request.offset, request.length)) {
        Atomics.add(counts, base + PagerLoopCount.dirty, 1);
      }
      break;
    case ZX_PAGER_VMO_COMPLETE:
      Atomics.add(counts, base + PagerLoopCount.complete, 1);
      handler.onComplete?.(packet.key);
      break;
  }
  return true;
}

/** The next packet; null when the wait timed out (or failed and the caller goes on), undefined to stop. */
function nextPacket(options: PagerLoopOptions): PortPacket | null | undefined {
  if (options.next !== undefined) return options.next();
  const deadline = options.nextDeadline !== undefined ? options.nextDeadline() : deadlineAfter(DEFAULT_SLICE_NS);
  try {
    return waitPacket(options.sys, options.port, deadline);
  } catch (error) {
    if (options.onWaitError === undefined) throw error;
    return options.onWaitError(error) ? null : undefined;
  }
}

/**
 * Runs the loop on this thread until the stop flag, a stopping user packet, or an onWaitError that
 * says stop. Returns the counts.
 */
export function runPagerLoop(options: PagerLoopOptions, handler: PagerLoopHandler): Int32Array {
  const counts = options.counts ?? new Int32Array(PAGER_LOOP_COUNT_WORDS);
  const base = options.countsBase ?? 0;
  while (options.shouldStop === undefined || !options.shouldStop()) {
    options.beforeWait?.();
    const packet = nextPacket(options);
    if (packet === undefined) break;
    if (packet !== null && !dispatchPacket(packet, handler, counts, base, options.stopKey)) break;
  }
  return counts;
}

/** Lets queued callbacks, I/O and worker messages run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * runPagerLoop for the main thread: waits in short slices (the options' nextDeadline, default 2 ms)
 * and yields to the event loop after each, so the threads it serves (dispatched by that event loop)
 * keep running.
 */
export async function runPagerLoopAsync(options: PagerLoopOptions, handler: PagerLoopHandler): Promise<Int32Array> {
  const counts = options.counts ?? new Int32Array(PAGER_LOOP_COUNT_WORDS);
  const base = options.countsBase ?? 0;
  const sliced: PagerLoopOptions = { nextDeadline: () => deadlineAfter(MAIN_THREAD_SLICE_NS), ...options };
  while (options.shouldStop === undefined || !options.shouldStop()) {
    options.beforeWait?.();
    const packet = nextPacket(sliced);
    if (packet === undefined) break;
    if (packet !== null && !dispatchPacket(packet, handler, counts, base, options.stopKey)) break;
    await yieldToEventLoop();
  }
  return counts;
}

/** One blocking slice of a main-thread wait; the event loop runs between slices. */
export const MAIN_THREAD_SLICE_NS = 2_000_000;
