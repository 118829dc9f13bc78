// Mapping-side helpers for the Vmar variants of the pager and writeback catalogs
// (zircon-pager-tests.md §1.1, §1.4; zircon-writeback-tests.md §0): map a harness VMO into the one
// flat address space, and start threads that touch it with user-mode accesses (memRead/memWrite),
// which fault one page at a time and die with ZX_EXCP_FATAL_PAGE_FAULT when a fault cannot be
// resolved. Also RawPager, a UserPager-shaped harness over a Kernel built with any options
// (pageRequestTimeoutMs, enableDebuggingSyscalls), which UserPager.create does not take.
//
// Main thread only, like UserPager. Every wait polls the port in short slices and yields to the
// event loop between them, so spawned threads keep running, and every wait has a deadline.

import { Kernel, PAGE_SIZE, ThreadPool, ZX_PAGER_VMO_READ, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE } from '../../core/index.js';
import type { KernelOptions, Sys } from '../../core/index.js';
import { PortStash, isPageRequest } from './port_stash.js';
import type { PacketMatch } from './port_stash.js';
import { TestThread } from './test_thread.js';
import type { ModuleOp, ThreadOp } from './test_thread.js';
import { closePoolAndKernel, supplyStandardPages } from './user_pager.js';
import type { PageRange, Vmo } from './user_pager.js';

/** ZX_VM_PERM_READ | ZX_VM_PERM_WRITE: how Zircon's harness maps every test VMO. */
export const RW = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;

const VMAR_FIXTURES_URL = new URL('../fixtures/vmar_threads.js', import.meta.url).href;

/** The spec of an export of test/fixtures/vmar_threads.ts, for TestThread.start. */
export function vmarFixture(name: string): ModuleOp {
  return { module: VMAR_FIXTURES_URL, export: name };
}

/** What the mapping helpers need from a harness: UserPager and RawPager both fit. */
export interface ThreadHost {
  readonly sys: Sys;
  startThread(op: ThreadOp, args: object): TestThread;
}

/** zx_vmar_map of pages [pageOffset, pageOffset + pageCount) of `vmo`; returns the base address. */
export function mapVmo(host: ThreadHost, vmo: Vmo, options = RW, pageOffset = 0, pageCount = vmo.pageCount): number {
  return host.sys.vmarMap(options, pageOffset * PAGE_SIZE, vmo.handle, pageCount * PAGE_SIZE);
}

/** A thread reading `length` bytes at `address` through the mapping; its result is the bytes. */
export function startMemRead(host: ThreadHost, address: number, length: number): TestThread {
  return host.startThread('memRead', { address, length });
}

/** A thread reading whole pages [pageOffset, pageOffset + pageCount) of a mapping at `base`. */
export function startMemReadPages(host: ThreadHost, base: number, pageOffset: number, pageCount: number): TestThread {
  return startMemRead(host, base + pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE);
}

/** A thread storing `data` at `address` through the mapping. */
export function startMemWrite(host: ThreadHost, address: number, data: Uint8Array): TestThread {
  return host.startThread('memWrite', { address, data });
}

/** A thread storing the single byte `byte` at the first byte of page `pageOffset` of a mapping at `base`. */
export function startStoreByte(host: ThreadHost, base: number, pageOffset: number, byte: number): TestThread {
  return startMemWrite(host, base + pageOffset * PAGE_SIZE, Uint8Array.of(byte));
}

/** A thread doing several stores in order through mappings (one thread, like Zircon's lambdas). */
export function startStores(host: ThreadHost, stores: { address: number; data: Uint8Array }[]): TestThread {
  return host.startThread(vmarFixture('memWriteSequence'), { writes: stores });
}

// ---- RawPager: a UserPager over a Kernel with any options ----

function isRead(packet: Parameters<PacketMatch>[0], key: bigint): boolean {
  return isPageRequest(packet, key, ZX_PAGER_VMO_READ);
}

/**
 * The subset of UserPager the overtime and op-range tests need, over a kernel built with
 * `Kernel.create(options)`: one pager, one port, keys from 2, the standard content, READ waits with
 * a stash, and a thread pool. Compatible with check.ts's expectNoRequest.
 */
export class RawPager implements ThreadHost {
  readonly kernel: Kernel;
  readonly sys: Sys;
  readonly pool: ThreadPool;
  readonly pager: number;
  readonly port: number;
  #nextKey = 2n;
  readonly stash: PortStash;
  #closed = false;

  private constructor(kernel: Kernel, maxThreads: number) {
    this.kernel = kernel;
    this.sys = kernel.sys;
    this.pool = new ThreadPool(kernel, { maxThreads });
    this.pager = this.sys.pagerCreate(0);
    this.port = this.sys.portCreate(0);
    this.stash = new PortStash(this.sys, this.port);
  }

  static create(options: KernelOptions, maxThreads = 16): RawPager {
    return new RawPager(Kernel.create(options), maxThreads);
  }

  createVmo(pageCount: number, options = 0): Vmo {
    const size = pageCount * PAGE_SIZE;
    const key = this.#nextKey;
    const handle = this.sys.pagerCreateVmo(this.pager, options, this.port, key, size);
    this.#nextKey += BigInt(size / 8) + 1n;
    return { handle, key, size, pageCount };
  }

  /** SupplyPages with the standard content, from a fresh anonymous aux VMO. */
  supplyPages(vmo: Vmo, pageOffset: number, pageCount: number): void {
    supplyStandardPages(this.sys, this.pager, vmo, pageOffset, pageCount);
  }

  startThread(op: ThreadOp, args: object): TestThread {
    return new TestThread(this.pool).start(op, args);
  }

  /** A READ for exactly [pageOffset, pageOffset + pageCount) of `vmo`; timeout 0 polls once. */
  async waitForPageRead(vmo: Vmo, pageOffset: number, pageCount: number, timeoutMs = 10_000): Promise<boolean> {
    const match: PacketMatch = (p) => isRead(p, vmo.key) && p.pageRequest?.offset === pageOffset * PAGE_SIZE && p.pageRequest.length === pageCount * PAGE_SIZE;
    return (await this.stash.wait(match, timeoutMs)) !== null;
  }

  /** The first READ for `vmo`, whatever its range (pages), or null at the deadline. */
  async getPageReadRequest(vmo: Vmo, timeoutMs = 10_000): Promise<PageRange | null> {
    const request = (await this.stash.wait((p) => isRead(p, vmo.key), timeoutMs))?.pageRequest;
    if (request === undefined) return null;
    return { offset: request.offset / PAGE_SIZE, length: request.length / PAGE_SIZE };
  }

  /** Deadline 0: true if no READ for `vmo` is stashed or queued now (the packet stays stashed). */
  noRequest(vmo: Vmo): boolean {
    return !this.stash.peek((p) => isRead(p, vmo.key));
  }

  describeStash(): string {
    return this.stash.describe();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await closePoolAndKernel(this.pool, this.kernel);
  }
}
