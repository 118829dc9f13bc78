// Mapping-side helpers for the Vmar variants of the pager and writeback catalogs
// (docs/conformance/pager-tests.md §1.1, §1.4; docs/conformance/writeback-tests.md §0): map a harness VMO into the one
// flat address space, and start threads that touch it with user-mode accesses (memRead/memWrite),
// which fault one page at a time and die with ZX_EXCP_FATAL_PAGE_FAULT when a fault cannot be
// resolved. Also RawPager, a UserPager-shaped harness over a Kernel built with any options
// (pageRequestTimeoutMs, enableDebuggingSyscalls), which UserPager.create does not take.
//
// Main thread only, like UserPager. Every wait polls the port in short slices and yields to the
// event loop between them, so spawned threads keep running, and every wait has a deadline.

import { Kernel, PAGE_SIZE, ThreadPool, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE } from '../../core/index.js';
import type { KernelOptions, Sys } from '../../core/index.js';
import { TestThread } from './test_thread.js';
import type { ModuleOp, ThreadOp } from './test_thread.js';
import { PagerHarness, closePoolAndKernel } from './user_pager.js';
import type { Vmo } from './user_pager.js';

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

/**
 * The subset of UserPager the overtime and op-range tests need, over a kernel built with
 * `Kernel.create(options)`: one pager, one port, keys from 2, the standard content, READ waits with
 * a stash, and a thread pool. Compatible with check.ts's expectNoRequest.
 */
export class RawPager extends PagerHarness implements ThreadHost {
  #closed = false;

  static create(options: KernelOptions, maxThreads = 16): RawPager {
    const kernel = Kernel.create(options);
    return new RawPager(kernel, new ThreadPool(kernel, { maxThreads }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await closePoolAndKernel(this.pool, this.kernel);
  }
}
