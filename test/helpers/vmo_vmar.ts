// One test harness for the pager conformance tests: the create/try/finally of a harness in one place
// (withHarness, withPager, harnessTest, pagerTestWith), Zircon's VMO_VMAR_TEST (vmoVmarTest), and the
// steps many scenarios share. Zircon's pager.cc registers each VMO-access test once and runs it twice:
// through zx_vmo_read/zx_vmo_write and through a mapping. vmoVmarTest does the same: it registers
// `Name` (the Vmo variant, named without the suffix as CONFORMANCE.md lists it) and `NameVmar`, and
// hands the body a VmoAccess that reads, writes and expects failures along one path. Through a
// mapping every access faults one page at a time, and a failure is a fatal page fault at the first
// byte the thread touched rather than a status.
//
// Main thread only, like UserPager. An access object belongs to one harness; the mappings it makes
// (one R/W mapping of each whole VMO, at its first access) go away with the harness's kernel.

import type { Test } from 'tap';
import { PAGE_SIZE, ZX_ERR_BAD_STATE } from '../../core/index.js';
import { statusName } from '../../shared/status.js';
import { ensure, expectNoRequest, expectPageRead } from './check.js';
import type { TestThread } from './test_thread.js';
import { UserPager, checkContent } from './user_pager.js';
import type { UserPagerOptions, Vmo } from './user_pager.js';
import { mapVmo, startMemRead, startMemWrite } from './vmar.js';
import type { ThreadHost } from './vmar.js';

/** A harness that releases its kernel and threads in close(): UserPager, RawPager. */
export interface Closable {
  close(): Promise<void>;
}

/** Runs `body` with `harness` (or the harness it resolves to) and always closes it. */
export async function withHarness<H extends Closable, T>(harness: H | Promise<H>, body: (harness: H) => Promise<T>): Promise<T> {
  const h = await harness;
  try {
    return await body(h);
  } finally {
    await h.close();
  }
}

/** Runs `body` with a fresh UserPager (created with `options`) and always closes it. */
export function withPager<T>(body: (pager: UserPager) => Promise<T>, options: UserPagerOptions = {}): Promise<T> {
  return withHarness(UserPager.create(options), body);
}

/** A test with its own harness from `create` (a UserPager, a RawPager), always closed. */
export function harnessTest<H extends Closable>(tap: Test, name: string, create: () => H | Promise<H>, body: (t: Test, harness: H) => Promise<void>): void {
  void tap.test(name, (t) => withHarness(create(), (harness) => body(t, harness)));
}

/** A test with its own UserPager built with `options`, always closed (pagerTest with options). */
export function pagerTestWith(tap: Test, name: string, options: UserPagerOptions, body: (t: Test, pager: UserPager) => Promise<void>): void {
  harnessTest(tap, name, () => UserPager.create(options), body);
}

/** One access path to a harness's VMOs: zx_vmo_read/zx_vmo_write, or loads and stores through a mapping. */
export interface VmoAccess {
  /** 'Vmo' or 'Vmar': the variant, for messages. */
  readonly name: 'Vmo' | 'Vmar';
  /** True on the Vmar path, where every access faults one page at a time. */
  readonly viaMapping: boolean;
  /** A thread reading pages [pageOffset, pageOffset + pageCount) of `vmo`; its result is the bytes. */
  startRead(vmo: Vmo, pageOffset: number, pageCount: number): TestThread;
  /** A thread writing `data` at the first byte of page `pageOffset` of `vmo`. */
  startWrite(vmo: Vmo, pageOffset: number, data: Uint8Array): TestThread;
  /**
   * Waits for a thread this access started at page `pageOffset` of `vmo` to fail with `status`: the
   * syscall returns it, or the thread dies with ZX_EXCP_FATAL_PAGE_FAULT at its first byte with it.
   */
  expectFailure(t: Test, thread: TestThread, vmo: Vmo, pageOffset: number, status: number): Promise<void>;
}

class SyscallAccess implements VmoAccess {
  readonly name = 'Vmo';
  readonly viaMapping = false;
  readonly #host: ThreadHost;

  constructor(host: ThreadHost) {
    this.#host = host;
  }

  startRead(vmo: Vmo, pageOffset: number, pageCount: number): TestThread {
    return this.#host.startThread('vmoRead', { vmo: vmo.handle, offset: pageOffset * PAGE_SIZE, length: pageCount * PAGE_SIZE });
  }

  startWrite(vmo: Vmo, pageOffset: number, data: Uint8Array): TestThread {
    return this.#host.startThread('vmoWrite', { vmo: vmo.handle, offset: pageOffset * PAGE_SIZE, data });
  }

  async expectFailure(t: Test, thread: TestThread, _vmo: Vmo, _pageOffset: number, status: number): Promise<void> {
    await thread.waitForFailure(status);
    t.pass(`the access failed with ${statusName(status)}`);
  }
}

class MappingAccess implements VmoAccess {
  readonly name = 'Vmar';
  readonly viaMapping = true;
  readonly #host: ThreadHost;
  /** The base address of each VMO's mapping, by its handle. */
  readonly #bases = new Map<number, number>();

  constructor(host: ThreadHost) {
    this.#host = host;
  }

  /** The address of page `pageOffset` of `vmo`, mapping the whole VMO R/W at its first access. */
  #address(vmo: Vmo, pageOffset: number): number {
    let base = this.#bases.get(vmo.handle);
    if (base === undefined) {
      base = mapVmo(this.#host, vmo);
      this.#bases.set(vmo.handle, base);
    }
    return base + pageOffset * PAGE_SIZE;
  }

  startRead(vmo: Vmo, pageOffset: number, pageCount: number): TestThread {
    return startMemRead(this.#host, this.#address(vmo, pageOffset), pageCount * PAGE_SIZE);
  }

  startWrite(vmo: Vmo, pageOffset: number, data: Uint8Array): TestThread {
    return startMemWrite(this.#host, this.#address(vmo, pageOffset), data);
  }

  async expectFailure(t: Test, thread: TestThread, vmo: Vmo, pageOffset: number, status: number): Promise<void> {
    await thread.waitForCrash(this.#address(vmo, pageOffset), status);
    t.pass(`crash(base + ${pageOffset}P, ${statusName(status)})`);
  }
}

/** The zx_vmo_read/zx_vmo_write path over `host`'s VMOs. */
export function syscallAccess(host: ThreadHost): VmoAccess {
  return new SyscallAccess(host);
}

/** The mapping path over `host`'s VMOs: each VMO is mapped R/W whole at its first access. */
export function mappingAccess(host: ThreadHost): VmoAccess {
  return new MappingAccess(host);
}

/**
 * VMO_VMAR_TEST: registers `name` (through zx_vmo_read/zx_vmo_write) and `${name}Vmar` (through a
 * mapping), each with its own UserPager built with `options` and always closed.
 */
export function vmoVmarTest(
  tap: Test,
  name: string,
  body: (t: Test, pager: UserPager, access: VmoAccess) => Promise<void>,
  options: UserPagerOptions = {},
): void {
  pagerTestWith(tap, name, options, (t, pager) => body(t, pager, syscallAccess(pager)));
  pagerTestWith(tap, `${name}Vmar`, options, (t, pager) => body(t, pager, mappingAccess(pager)));
}

// ---- Scenarios registered in two files ----
// ClosePagerTest and ClosePortTest are mapping-only in the catalog (test/vmar/fail_detach.test.ts) and
// replayed with zx_vmo_read in test/pager/detach_close.test.ts under the same names (CONFORMANCE.md).

/** ClosePagerTest: closing the pager fails a blocked access to page 0; supplied page 1 stays readable. */
export async function closePagerScenario(t: Test, pager: UserPager, access: VmoAccess): Promise<void> {
  const vmo = pager.createVmo(2);
  pager.supplyPages(vmo, 1, 1);
  const reader = access.startRead(vmo, 0, 1);
  ensure(t, await reader.waitForBlocked(), 'reader blocked on page 0');
  pager.closePagerHandle();
  await access.expectFailure(t, reader, vmo, 0, ZX_ERR_BAD_STATE);
  // Zircon reads page 1 on the main thread; a thread with a deadline keeps a hang from stalling the test.
  const late = access.startRead(vmo, 1, 1);
  t.ok(checkContent(await late.wait<Uint8Array>(), vmo.key, 1), 'page 1 still holds the supplied content');
}

/** ClosePortTest: closing the port loses requests but fails no waiter: supply works, only detach fails it. */
export async function closePortScenario(t: Test, pager: UserPager, access: VmoAccess): Promise<void> {
  const vmo = pager.createVmo(2);
  const reader = access.startRead(vmo, 0, 1);
  ensure(t, await reader.waitForBlocked(), 'reader blocked on page 0');
  pager.closePortHandle();
  t.doesNotThrow(() => pager.supplyPages(vmo, 1, 1), 'supply(1,1) still succeeds');
  const late = access.startRead(vmo, 1, 1);
  t.ok(checkContent(await late.wait<Uint8Array>(), vmo.key, 1), 'page 1 reads correctly');
  t.ok(await reader.waitForBlocked(0), 'the first reader is still blocked');
  t.doesNotThrow(() => pager.detachVmo(vmo), 'detach still succeeds');
  await access.expectFailure(t, reader, vmo, 0, ZX_ERR_BAD_STATE);
}

// ---- Steps many scenarios share ----

/** Starts a ZX_VMO_OP_COMMIT of pages [pageOffset, pageOffset + pageCount) and expects its READ of exactly that range. */
export async function startCommitRead(t: Test, pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): Promise<TestThread> {
  const committer = pager.startCommit(vmo, pageOffset, pageCount);
  await expectPageRead(t, pager, vmo, pageOffset, pageCount, `R(${pageOffset},${pageCount})`);
  return committer;
}

/** The end of most scenarios: every thread returns ZX_OK (`message`), and no READ for `vmo` is left. */
export async function expectDone(t: Test, pager: UserPager, vmo: Vmo, threads: TestThread | readonly TestThread[], message: string): Promise<void> {
  for (const thread of Array.isArray(threads) ? threads : [threads]) await thread.wait();
  t.pass(message);
  expectNoRequest(t, pager, vmo, 'no further READ');
}

/** Every thread fails with `status` (`message`), and no READ for `vmo` is left. */
export async function expectFailed(t: Test, pager: UserPager, vmo: Vmo, threads: TestThread | readonly TestThread[], status: number, message: string): Promise<void> {
  for (const thread of Array.isArray(threads) ? threads : [threads]) await thread.waitForFailure(status);
  t.pass(message);
  expectNoRequest(t, pager, vmo, 'no further READ');
}

/** `reader` returns the standard content of `vmo` from page `pageOffset` (`message`), and no READ is left. */
export async function expectReadDone(t: Test, pager: UserPager, vmo: Vmo, reader: TestThread, pageOffset: number, message: string): Promise<void> {
  t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, pageOffset), message);
  expectNoRequest(t, pager, vmo, 'no further READ');
}
