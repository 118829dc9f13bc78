// UserPager: Zircon's userpager.h/.cc for pagersim (docs/conformance/pager-tests.md §1.1–1.5). One pager, one
// port, one kernel and one thread pool per test. Helper APIs take pages; syscalls get bytes.
//
// Runs on the main thread only and is not thread-safe (it needs no lock: JS runs one callback at a
// time). Port waits go through the pager's PortStash (test/helpers/port_stash.ts, docs/conformance/pager-tests.md §1.2): async, in
// 2 ms slices with the event loop running between them; a deadline of 0 polls once and never yields.
// The writeback helpers wait through the same stash (`pager.stash`). The tagged page-fault handler
// (docs/conformance/pager-tests.md §1.5) is workers/pager_loop.ts's loop, run on this thread.

import { Kernel, PAGE_SIZE, ThreadPool, ZxError, ZX_ERR_IO, ZX_OK, ZX_PAGER_OP_FAIL, ZX_PAGER_VMO_COMPLETE, ZX_PAGER_VMO_READ, ZX_VMO_OP_COMMIT } from '../../core/index.js';
import type { PortPacket, Sys } from '../../core/index.js';
import { statusName } from '../../shared/status.js';
import { runPagerLoopAsync } from '../../workers/pager_loop.js';
import { bytesEqual, fillExpected } from './content.js';
import { PortStash, isExactRequest, isPageRequest } from './port_stash.js';
import type { PacketMatch } from './port_stash.js';
import { DEFAULT_TIMEOUT_MS, TestThread, fixture, withTimeout } from './test_thread.js';
import type { ThreadOp } from './test_thread.js';

export { checkContent, expectedContent, firstMismatch, isZero, bytesEqual } from './content.js';
export { describePacket } from './port_stash.js';
export { yieldToEventLoop } from '../../workers/pager_loop.js';

const PHYSICAL_MEMORY_BYTES = 64 * 2 ** 20;
const DEFAULT_MAX_THREADS = 64;
const POOL_CLOSE_TIMEOUT_MS = 15_000;
const DATA_POLL_MS = 10;

/** A pager VMO of the harness: its only handle, its port key and its size. */
export interface Vmo {
  readonly handle: number;
  readonly key: bigint;
  readonly size: number;
  readonly pageCount: number;
}

/** A request range in pages. */
export interface PageRange {
  offset: number;
  length: number;
}

export interface UserPagerOptions {
  /** Upper bound on simultaneously live simulated threads (ThreadPool maxThreads). */
  maxThreads?: number;
  physicalMemory?: number;
}

/** A Uint8Array over a fresh SharedArrayBuffer: a reader fixture fills it in place. */
export function sharedBytes(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}

/**
 * Polls (every 10 ms) until `buffer[byteOffset …]` equals `expected`: the early-wake tests'
 * WaitForData, which watches a reader's buffer while its zx_vmo_read is still blocked.
 */
export async function waitForData(buffer: Uint8Array, byteOffset: number, expected: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (bytesEqual(buffer.subarray(byteOffset, byteOffset + expected.length), expected)) return true;
    if (performance.now() >= end) return false;
    await new Promise((resolve) => setTimeout(resolve, DATA_POLL_MS));
  }
}

/** The status `fn` ends with: ZX_OK, or the status of the ZxError it throws. Other errors propagate. */
export function statusOf(fn: () => unknown): number {
  try {
    fn();
    return ZX_OK;
  } catch (error) {
    if (error instanceof ZxError) return error.status;
    throw error;
  }
}

/** statusOf as a name ('ZX_ERR_IO'), which makes tap's diffs readable. */
export function statusNameOf(fn: () => unknown): string {
  return statusName(statusOf(fn));
}

/**
 * Supplies pages [pageOffset, pageOffset + pageCount) of `vmo` with the standard content, from a fresh
 * anonymous aux VMO holding that content at aux page auxPageOffset (docs/conformance/pager-tests.md §1.1 SupplyPages).
 */
export function supplyStandardPages(sys: Sys, pager: number, vmo: Vmo, pageOffset: number, pageCount: number, auxPageOffset = 0): void {
  const aux = sys.vmoCreate((pageCount + auxPageOffset) * PAGE_SIZE, 0);
  try {
    const data = new Uint8Array(pageCount * PAGE_SIZE);
    fillExpected(data, vmo.key, pageOffset);
    sys.vmoWrite(aux, data, auxPageOffset * PAGE_SIZE);
    sys.pagerSupplyPages(pager, vmo.handle, pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE, aux, auxPageOffset * PAGE_SIZE);
  } finally {
    sys.handleClose(aux);
  }
}

/** Joins or terminates the pool's threads (with a deadline), then releases the kernel. */
export async function closePoolAndKernel(pool: ThreadPool, kernel: Kernel): Promise<void> {
  try {
    const closed = await withTimeout(pool.close().then(() => true), POOL_CLOSE_TIMEOUT_MS, false);
    if (!closed) throw new Error(`ThreadPool.close did not finish within ${POOL_CLOSE_TIMEOUT_MS} ms`);
  } finally {
    kernel.close();
  }
}

/**
 * What UserPager and RawPager (test/helpers/vmar.ts) share: one kernel, thread pool, pager, port and
 * PortStash; pager VMOs keyed from 2 as in Zircon; supplies of the standard content; READ waits.
 */
export class PagerHarness {
  readonly kernel: Kernel;
  readonly sys: Sys;
  readonly pool: ThreadPool;
  readonly pager: number;
  readonly port: number;
  /** The port's reader: every packet wait of the harness (and of the writeback helpers) goes through it. */
  readonly stash: PortStash;
  #nextKey = 2n;

  protected constructor(kernel: Kernel, pool: ThreadPool) {
    this.kernel = kernel;
    this.sys = kernel.sys;
    this.pool = pool;
    this.pager = this.sys.pagerCreate(0);
    this.port = this.sys.portCreate(0);
    this.stash = new PortStash(this.sys, this.port);
  }

  /** zx_pager_create_vmo with the next key; keys advance by size/8 + 1 as in Zircon, from 2. */
  createVmo(pageCount: number, options = 0): Vmo {
    const size = pageCount * PAGE_SIZE;
    const key = this.#nextKey;
    const handle = this.sys.pagerCreateVmo(this.pager, options, this.port, key, size);
    this.#nextKey += BigInt(size / 8) + 1n;
    return { handle, key, size, pageCount };
  }

  /**
   * Supplies [pageOffset, pageOffset + pageCount) with the standard content, from a fresh anonymous
   * aux VMO holding that content at aux page srcPageOffset (docs/conformance/pager-tests.md §1.1 SupplyPages).
   */
  supplyPages(vmo: Vmo, pageOffset: number, pageCount: number, srcPageOffset = 0): void {
    supplyStandardPages(this.sys, this.pager, vmo, pageOffset, pageCount, srcPageOffset);
  }

  startThread(op: ThreadOp, args: object): TestThread {
    return new TestThread(this.pool).start(op, args);
  }

  // ---- Waiting for packets (docs/conformance/pager-tests.md §1.2) ----

  /**
   * Waits for READ exactly [pageOffset, pageOffset + pageCount) on `vmo`'s key. With timeoutMs 0 it
   * polls once: false means no such packet is queued right now.
   */
  async waitForPageRead(vmo: Vmo, pageOffset: number, pageCount: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
    const match: PacketMatch = (p) => isExactRequest(p, vmo.key, ZX_PAGER_VMO_READ, pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE);
    return (await this.waitForPacket(match, timeoutMs)) !== null;
  }

  /** The first READ request for `vmo`, whatever its range, in pages; null at the deadline. */
  async getPageReadRequest(vmo: Vmo, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PageRange | null> {
    const request = (await this.waitForPacket((p) => isPageRequest(p, vmo.key, ZX_PAGER_VMO_READ), timeoutMs))?.pageRequest;
    if (request === undefined) return null;
    return { offset: request.offset / PAGE_SIZE, length: request.length / PAGE_SIZE };
  }

  /**
   * Deadline-0 check: true if no READ packet for `vmo` is stashed or queued right now. Unlike
   * getPageReadRequest it leaves a packet it finds in the stash, for the failure message.
   */
  noRequest(vmo: Vmo): boolean {
    return !this.stash.peek((p) => isPageRequest(p, vmo.key, ZX_PAGER_VMO_READ));
  }

  /** The stashed packets, for failure messages. */
  describeStash(): string {
    return this.stash.describe();
  }

  protected async waitForPacket(match: PacketMatch, timeoutMs: number): Promise<PortPacket | null> {
    return this.stash.wait(match, timeoutMs);
  }
}

export class UserPager extends PagerHarness {
  readonly #vmos = new Map<bigint, Vmo>();
  #closed = false;

  // The tagged page-fault handler (docs/conformance/pager-tests.md §1.5): an async loop on this thread.
  #handlerLoop: Promise<void> | null = null;
  #handlerRunning = false;
  readonly #supplyLimits = new Map<bigint, number>();
  readonly #handledRequests = new Map<bigint, PageRange[]>();
  /** Errors the handler hit while supplying; tests that use the handler expect none. */
  readonly handlerErrors: unknown[] = [];


  static async create(options: UserPagerOptions = {}): Promise<UserPager> {
    const kernel = Kernel.create({ physicalMemory: options.physicalMemory ?? PHYSICAL_MEMORY_BYTES });
    const pool = new ThreadPool(kernel, { maxThreads: options.maxThreads ?? DEFAULT_MAX_THREADS });
    return new UserPager(kernel, pool);
  }

  // ---- VMOs ----

  /** zx_pager_create_vmo with the next key; keys advance by size/8 + 1 as in Zircon, from 2. */
  override createVmo(pageCount: number, options = 0): Vmo {
    const vmo = super.createVmo(pageCount, options);
    this.#vmos.set(vmo.key, vmo);
    return vmo;
  }

  /** Closes the VMO's only handle, which destroys it (and queues a COMPLETE packet). */
  releaseVmo(vmo: Vmo): void {
    this.#vmos.delete(vmo.key);
    this.sys.handleClose(vmo.handle);
  }

  detachVmo(vmo: Vmo): void {
    this.sys.pagerDetachVmo(this.pager, vmo.handle);
  }

  /** Supplies [pageOffset, pageOffset + pageCount) from a caller-provided aux VMO. */
  supplyPagesFrom(vmo: Vmo, pageOffset: number, pageCount: number, aux: number, auxPageOffset = 0): void {
    this.sys.pagerSupplyPages(this.pager, vmo.handle, pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE, aux, auxPageOffset * PAGE_SIZE);
  }

  /** ZX_PAGER_OP_FAIL over the range with `status` (default ZX_ERR_IO). */
  failPages(vmo: Vmo, pageOffset: number, pageCount: number, status = ZX_ERR_IO): void {
    this.sys.pagerOpRange(this.pager, ZX_PAGER_OP_FAIL, vmo.handle, pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE, status);
  }

  /** Closes the harness's only pager handle, which destroys the pager. */
  closePagerHandle(): void {
    this.sys.handleClose(this.pager);
  }

  /** Closes the harness's only port handle: later requests are lost (packet waits then fail). */
  closePortHandle(): void {
    this.sys.handleClose(this.port);
  }

  // ---- Waiting for packets (docs/conformance/pager-tests.md §1.2) ----

  /** Waits for the COMPLETE packet (offset 0, length 0, flags 0) of the VMO with `key`. */
  async waitForPageComplete(key: bigint, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
    return (await this.waitForPacket((p) => isExactRequest(p, key, ZX_PAGER_VMO_COMPLETE, 0, 0), timeoutMs)) !== null;
  }

  // ---- Tagged page-fault handler (docs/conformance/pager-tests.md §1.5) ----

  /**
   * Starts draining the port: every READ for a known VMO is supplied with the standard content,
   * clipped to the VMO's supply limit (requests beyond it are dropped). No VMO may be created or
   * released while it runs, and tests must not wait for packets themselves meanwhile.
   */
  startTaggedPageFaultHandler(): void {
    if (this.#handlerRunning) throw new Error('page-fault handler already running');
    this.#handlerRunning = true;
    this.#handlerLoop = this.#runHandler();
  }

  /** Limits what the handler supplies for `vmo` to pages [0, pages). Without a limit it supplies all. */
  setPageFaultSupplyLimit(vmo: Vmo, pages: number): void {
    this.#supplyLimits.set(vmo.key, pages);
  }

  /** Every READ range (pages) the handler has dequeued for `vmo`, supplied or dropped. */
  handledRequests(vmo: Vmo): PageRange[] {
    return [...(this.#handledRequests.get(vmo.key) ?? [])];
  }

  async stopPageFaultHandler(): Promise<void> {
    this.#handlerRunning = false;
    const loop = this.#handlerLoop;
    this.#handlerLoop = null;
    if (loop !== null) await loop;
  }

  // ---- Threads ----

  /** A thread doing one zx_vmo_read of the pages; its result is the bytes read. */
  startRead(vmo: Vmo, pageOffset: number, pageCount: number): TestThread {
    return this.startThread('vmoRead', { vmo: vmo.handle, offset: pageOffset * PAGE_SIZE, length: pageCount * PAGE_SIZE });
  }

  /** A thread doing ZX_VMO_OP_COMMIT over the pages. */
  startCommit(vmo: Vmo, pageOffset: number, pageCount: number): TestThread {
    return this.startThread('vmoOpRange', { vmo: vmo.handle, op: ZX_VMO_OP_COMMIT, offset: pageOffset * PAGE_SIZE, size: pageCount * PAGE_SIZE });
  }

  /** A thread reading pages [pageOffset, …) into `buffer` (over a SharedArrayBuffer) in one zx_vmo_read. */
  startReadInto(vmo: Vmo, pageOffset: number, buffer: Uint8Array): TestThread {
    return this.startThread(fixture('readInto'), { vmo: vmo.handle, offset: pageOffset * PAGE_SIZE, buffer });
  }

  /** Zircon's CheckVmo thread: reads the pages and returns whether they hold the standard content. */
  startReadAndCheck(vmo: Vmo, pageOffset: number, pageCount: number): TestThread {
    return this.startThread(fixture('readAndCheck'), { vmo: vmo.handle, key: vmo.key, pageOffset, pageCount, pageSize: PAGE_SIZE });
  }

  // ---- Teardown ----

  /** Stops the handler, joins or terminates the threads, and releases the kernel. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.stopPageFaultHandler();
    } finally {
      await closePoolAndKernel(this.pool, this.kernel);
    }
  }

  // ---- Private helpers ----

  protected override async waitForPacket(match: PacketMatch, timeoutMs: number): Promise<PortPacket | null> {
    if (this.#handlerRunning) throw new Error('waiting for packets while the page-fault handler drains the port');
    return super.waitForPacket(match, timeoutMs);
  }

  async #runHandler(): Promise<void> {
    await runPagerLoopAsync(
      { sys: this.sys, port: this.port, shouldStop: () => !this.#handlerRunning },
      { onRead: (key, offsetBytes, lengthBytes) => this.#handleRead(key, offsetBytes, lengthBytes) },
    );
  }

  #handleRead(key: bigint, offsetBytes: number, lengthBytes: number): boolean {
    const vmo = this.#vmos.get(key);
    if (vmo === undefined) return false;
    const first = offsetBytes / PAGE_SIZE;
    const end = first + lengthBytes / PAGE_SIZE;
    const handled = this.#handledRequests.get(vmo.key) ?? [];
    handled.push({ offset: first, length: end - first });
    this.#handledRequests.set(vmo.key, handled);
    const limit = Math.min(end, this.#supplyLimits.get(vmo.key) ?? end);
    if (limit <= first) return true;
    try {
      this.supplyPages(vmo, first, limit - first);
    } catch (error) {
      this.handlerErrors.push(error);
    }
    return true;
  }
}
