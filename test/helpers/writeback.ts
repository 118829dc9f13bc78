// Writeback-side helpers for the dirty-tracking conformance tests (docs/conformance/writeback-tests.md §0), all
// functions of a UserPager (test/helpers/user_pager.ts). Helper APIs take pages; syscalls get bytes.
//
// Packets: every wait here goes through the UserPager's own PortStash (pager.stash,
// test/helpers/port_stash.ts), so a DIRTY packet read by pager.waitForPageRead stays there for
// waitForPageDirty, and the two kinds of wait may be mixed in one test. Waits poll the port in 2 ms
// slices and yield to the event loop between slices (the loop dispatches the pool's threads).
//
// Main thread only. Anything that may block on the pager (writes, partial zeroing, commits, reads
// of pages that might be absent) runs in a pool thread with a deadline, so a kernel that hangs fails
// the test instead of stalling the main thread that plays the pager.

import type { Test } from 'tap';
import {
  PAGE_SIZE,
  ZX_ERR_IO,
  ZX_PAGER_OP_DIRTY,
  ZX_PAGER_OP_FAIL,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
  ZX_PAGER_RESET_VMO_STATS,
  ZX_PAGER_VMO_COMPLETE,
  ZX_PAGER_VMO_DIRTY,
  ZX_PAGER_VMO_READ,
  ZX_PKT_TYPE_PAGE_REQUEST,
  ZX_VMO_DIRTY_RANGE_IS_ZERO,
  ZX_INFO_VMO,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_OP_ZERO,
  ZX_VMO_TRAP_DIRTY,
  ZxError,
} from '../../core/index.js';
import type { PortPacket } from '../../core/index.js';
import { statusName } from '../../shared/status.js';
export { seededRandom } from './random.js';
import { StepFailed, ensure } from './check.js';
import { DEFAULT_TIMEOUT_MS } from './test_thread.js';
import type { ModuleOp, TestThread } from './test_thread.js';
import { UserPager, bytesEqual, expectedContent } from './user_pager.js';
import { commandName, isExactRequest, isPageRequest } from './port_stash.js';
import type { PacketMatch } from './port_stash.js';
import type { PageRange, Vmo } from './user_pager.js';

export { DEFAULT_TIMEOUT_MS };

const WRITEBACK_FIXTURES_URL = new URL('../fixtures/writeback_threads.js', import.meta.url).href;

/** The spec of an export of test/fixtures/writeback_threads.ts, for UserPager.startThread. */
export function writebackFixture(name: string): ModuleOp {
  return { module: WRITEBACK_FIXTURES_URL, export: name };
}

// ---- Packets ----

/** `READ(0,1){key=2}`: the short form of a packet in this module's messages. */
function describe(packet: PortPacket): string {
  const r = packet.pageRequest;
  if (packet.type !== ZX_PKT_TYPE_PAGE_REQUEST || r === undefined) return `packet{key=${packet.key}, type=${packet.type}}`;
  return `${commandName(r.command)}(${r.offset / PAGE_SIZE},${r.length / PAGE_SIZE}){key=${packet.key}}`;
}

/** The packets stashed in `pager`'s PortStash, for failure messages. */
export function describeStash(pager: UserPager): string {
  return pager.stash.describe(describe, '(none)');
}

function exactRequest(vmo: Vmo, command: number, pageOffset: number, pageCount: number): PacketMatch {
  return (p) => isExactRequest(p, vmo.key, command, pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE);
}

/** WaitForPageRead: a READ for exactly [pageOffset, pageOffset + pageCount); timeout 0 polls once. */
export async function waitForPageRead(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
  return (await pager.stash.wait(exactRequest(vmo, ZX_PAGER_VMO_READ, pageOffset, pageCount), timeoutMs)) !== null;
}

/** WaitForPageDirty: a DIRTY for exactly [pageOffset, pageOffset + pageCount); timeout 0 polls once. */
export async function waitForPageDirty(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
  return (await pager.stash.wait(exactRequest(vmo, ZX_PAGER_VMO_DIRTY, pageOffset, pageCount), timeoutMs)) !== null;
}

/** WaitForPageComplete: the COMPLETE packet (offset 0, length 0) of `vmo`. */
export async function waitForPageComplete(pager: UserPager, vmo: Vmo, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
  const match: PacketMatch = (p) => isPageRequest(p, vmo.key, ZX_PAGER_VMO_COMPLETE) && p.pageRequest?.offset === 0 && p.pageRequest.length === 0;
  return (await pager.stash.wait(match, timeoutMs)) !== null;
}

/** GetPageReadRequest / GetPageDirtyRequest: the first such request for `vmo` in pages, or null. */
export async function getPageRequest(pager: UserPager, vmo: Vmo, command: number, timeoutMs = 0): Promise<PageRange | null> {
  const request = (await pager.stash.wait((p) => isPageRequest(p, vmo.key, command), timeoutMs))?.pageRequest;
  if (request === undefined) return null;
  return { offset: request.offset / PAGE_SIZE, length: request.length / PAGE_SIZE };
}

/** Deadline 0, without consuming anything: the READ/DIRTY packets for `vmo` held or queued now. */
export function pendingRequests(pager: UserPager, vmo: Vmo): string[] {
  return pager.stash.pending((p) => isPageRequest(p, vmo.key, ZX_PAGER_VMO_READ) || isPageRequest(p, vmo.key, ZX_PAGER_VMO_DIRTY)).map(describe);
}

/** "No leftovers": no READ or DIRTY packet for `vmo` is stashed or queued (deadline 0). */
export function noLeftovers(t: Test, pager: UserPager, vmo: Vmo, message = 'no leftover READ/DIRTY requests'): boolean {
  const found = pendingRequests(pager, vmo);
  return t.same(found, [], message);
}

// ---- Pager ops (statuses as names, so tap's diffs read 'ZX_ERR_NOT_FOUND') ----

function opStatus(fn: () => void): string {
  try {
    fn();
    return 'ZX_OK';
  } catch (error) {
    if (error instanceof ZxError) return statusName(error.status);
    throw error;
  }
}

function pagerOp(pager: UserPager, op: number, vmo: Vmo, pageOffset: number, pageCount: number, data: number | bigint = 0): string {
  return opStatus(() => pager.sys.pagerOpRange(pager.pager, op, vmo.handle, pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE, data));
}

/** ZX_PAGER_OP_DIRTY over the pages. */
export function dirtyPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): string {
  return pagerOp(pager, ZX_PAGER_OP_DIRTY, vmo, pageOffset, pageCount);
}

/** ZX_PAGER_OP_FAIL over the pages with `status` (default ZX_ERR_IO). */
export function failPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number, status: number = ZX_ERR_IO): string {
  return pagerOp(pager, ZX_PAGER_OP_FAIL, vmo, pageOffset, pageCount, status);
}

/** ZX_PAGER_OP_WRITEBACK_BEGIN with data 0. */
export function writebackBeginPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): string {
  return pagerOp(pager, ZX_PAGER_OP_WRITEBACK_BEGIN, vmo, pageOffset, pageCount);
}

/** ZX_PAGER_OP_WRITEBACK_BEGIN with data ZX_VMO_DIRTY_RANGE_IS_ZERO. */
export function writebackBeginZeroPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): string {
  return pagerOp(pager, ZX_PAGER_OP_WRITEBACK_BEGIN, vmo, pageOffset, pageCount, ZX_VMO_DIRTY_RANGE_IS_ZERO);
}

/** ZX_PAGER_OP_WRITEBACK_END. */
export function writebackEndPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): string {
  return pagerOp(pager, ZX_PAGER_OP_WRITEBACK_END, vmo, pageOffset, pageCount);
}

/** SupplyPages with the standard content, as a status name. */
export function supplyPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): string {
  return opStatus(() => pager.supplyPages(vmo, pageOffset, pageCount));
}

/** Supplies zero-page markers: a supply from a fresh, uncommitted anonymous VMO. */
export function supplyZeroPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): string {
  const aux = pager.sys.vmoCreate(pageCount * PAGE_SIZE, 0);
  try {
    return opStatus(() => pager.supplyPagesFrom(vmo, pageOffset, pageCount, aux, 0));
  } finally {
    pager.sys.handleClose(aux);
  }
}

/** zx_vmo_set_size in pages (Zircon's Vmo::Resize), as a status name. Resizes never block. */
export function resizeVmo(pager: UserPager, vmo: Vmo, pageCount: number): string {
  return opStatus(() => pager.sys.vmoSetSize(vmo.handle, pageCount * PAGE_SIZE));
}

/** t.equal(status, 'ZX_OK'), and stop the test if it failed (an ASSERT_TRUE on a helper). */
export function ensureOk(t: Test, status: string, message: string): void {
  if (!t.equal(status, 'ZX_OK', message)) throw new StepFailed(`stopped after a failed step: ${message}`);
}

/** t.equal(status, expected) for a step that must fail with `expected` (a name). */
export function ensureStatus(t: Test, status: string, expected: string, message: string): void {
  if (!t.equal(status, expected, message)) throw new StepFailed(`stopped after a failed step: ${message}`);
}

// ---- Queries ----

/** An expected dirty range in pages: [offset, length, isZero]. */
export type ExpectedRange = readonly [number, number, boolean];

function pagesOf(r: { offset: number; length: number; options: number }): [number, number, boolean | number] {
  const options = r.options === 0 ? false : r.options === ZX_VMO_DIRTY_RANGE_IS_ZERO ? true : r.options;
  return [r.offset / PAGE_SIZE, r.length / PAGE_SIZE, options];
}

/**
 * VerifyDirtyRanges: (1) a query with no buffer (maxRanges 0) over the whole VMO must give avail =
 * expected.length and actual 0; (2) paging with a 2-entry buffer from the end of the last returned
 * range must give avail >= actual, a full buffer whenever actual < avail, and exactly the expected
 * ranges in order. One t.same over {avail, ranges, violations}, so a failure shows the whole diff.
 */
export function verifyDirtyRanges(t: Test, pager: UserPager, vmo: Vmo, expected: readonly ExpectedRange[], message = 'dirty ranges'): boolean {
  const MAX_RANGES = 2;
  const size = pager.sys.vmoGetSize(vmo.handle);
  const violations: string[] = [];
  const ranges: [number, number, boolean | number][] = [];
  let avail = -1;
  try {
    const first = pager.sys.pagerQueryDirtyRanges(pager.pager, vmo.handle, 0, size, 0);
    avail = first.avail;
    if (first.actual !== 0 || first.ranges.length !== 0) violations.push(`maxRanges 0 returned actual ${first.actual}`);
    let start = 0;
    for (let call = 0; call <= expected.length + 2; call++) {
      const q = pager.sys.pagerQueryDirtyRanges(pager.pager, vmo.handle, start, size - start, MAX_RANGES);
      if (q.actual !== q.ranges.length) violations.push(`actual ${q.actual} but ${q.ranges.length} ranges returned`);
      if (q.avail < q.actual) violations.push(`from page ${start / PAGE_SIZE}: avail ${q.avail} < actual ${q.actual}`);
      if (q.actual === 0) break;
      if (q.actual < q.avail && q.actual !== MAX_RANGES) violations.push(`from page ${start / PAGE_SIZE}: actual ${q.actual} < avail ${q.avail} with room left`);
      for (const r of q.ranges) ranges.push(pagesOf(r));
      if (ranges.length >= expected.length || q.actual >= q.avail) break;
      const last = q.ranges[q.ranges.length - 1];
      start = last.offset + last.length;
      if (start >= size) break;
    }
  } catch (error) {
    if (!(error instanceof ZxError)) throw error;
    violations.push(`${error.syscall} failed with ${error.code}`);
  }
  const observed = { avail, ranges, violations };
  const want = { avail: expected.length, ranges: expected.map(([o, l, z]) => [o, l, z]), violations: [] };
  return t.same(observed, want, `${message}: ${expected.length === 0 ? 'none' : expected.map(([o, l, z]) => `{${o},${l}${z ? ',Z' : ''}}`).join(' ')}`);
}

/** VerifyModified: zx_pager_query_vmo_stats with ZX_PAGER_RESET_VMO_STATS; true if it was modified. */
export function verifyModified(pager: UserPager, vmo: Vmo): boolean {
  return pager.sys.pagerQueryVmoStats(pager.pager, vmo.handle, ZX_PAGER_RESET_VMO_STATS).modified;
}

/** ZX_INFO_VMO committed_bytes, in pages. */
export function committedPages(pager: UserPager, vmo: Vmo): number {
  return pager.sys.objectGetInfo(vmo.handle, ZX_INFO_VMO).committedBytes / PAGE_SIZE;
}

// ---- Threads ----

/** A thread doing one zx_vmo_write of `data` at byte `offset`. */
export function startWrite(pager: UserPager, vmo: Vmo, offset: number, data: Uint8Array): TestThread {
  return pager.startThread('vmoWrite', { vmo: vmo.handle, offset, data });
}

/** A thread writing `pageCount` whole pages of `byte` at page `pageOffset`. */
export function startFill(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number, byte: number): TestThread {
  return startWrite(pager, vmo, pageOffset * PAGE_SIZE, new Uint8Array(pageCount * PAGE_SIZE).fill(byte));
}

/** A thread writing the single byte `byte` at the first byte of page `pageOffset`. */
export function startWriteByte(pager: UserPager, vmo: Vmo, pageOffset: number, byte: number): TestThread {
  return startWrite(pager, vmo, pageOffset * PAGE_SIZE, Uint8Array.of(byte));
}

/** A thread doing several zx_vmo_writes in order (byte offsets). */
export function startWrites(pager: UserPager, vmo: Vmo, writes: { offset: number; data: Uint8Array }[]): TestThread {
  return pager.startThread(writebackFixture('writeSequence'), { vmo: vmo.handle, writes });
}

/** A thread doing ZX_VMO_OP_ZERO over bytes [offset, offset + length). */
export function startZero(pager: UserPager, vmo: Vmo, offset: number, length: number): TestThread {
  return pager.startThread('vmoOpRange', { vmo: vmo.handle, op: ZX_VMO_OP_ZERO, offset, size: length });
}

/** A thread doing ZX_VMO_OP_COMMIT over pages. */
export function startCommit(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): TestThread {
  return pager.startThread('vmoOpRange', { vmo: vmo.handle, op: ZX_VMO_OP_COMMIT, offset: pageOffset * PAGE_SIZE, size: pageCount * PAGE_SIZE });
}

/**
 * Runs an operation that is expected not to block (OP_ZERO of whole pages, a non-trapping write) in a
 * thread and returns its status name; a thread that blocks or hangs fails after `timeoutMs`.
 */
export async function runOp(thread: TestThread, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  try {
    await thread.wait(timeoutMs);
    return 'ZX_OK';
  } catch (error) {
    const cause = error instanceof Error ? error.cause : undefined;
    if (cause instanceof ZxError) return statusName(cause.status);
    throw error;
  }
}

/** OP_ZERO over whole pages, in a thread (it must not block), as a status name. */
export async function zeroPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number): Promise<string> {
  return runOp(startZero(pager, vmo, pageOffset * PAGE_SIZE, pageCount * PAGE_SIZE));
}

/**
 * A write that traps under TRAP_DIRTY: starts the writer, then (trap only) waits for each expected
 * DIRTY request in order and acknowledges it with OP_DIRTY; finally the write must succeed.
 */
export async function writeWithTrap(
  t: Test,
  pager: UserPager,
  vmo: Vmo,
  trap: boolean,
  writer: TestThread,
  dirtyRequests: readonly (readonly [number, number])[],
): Promise<void> {
  if (trap) {
    for (const [offset, length] of dirtyRequests) {
      ensure(t, await waitForPageDirty(pager, vmo, offset, length), `DIRTY(${offset},${length})`);
      ensureOk(t, dirtyPages(pager, vmo, offset, length), `OP_DIRTY(${offset},${length})`);
    }
  }
  await writer.wait();
}

/** True when the VMO was created with ZX_VMO_TRAP_DIRTY (a variant test's options). */
export function isTrap(options: number): boolean {
  return (options & ZX_VMO_TRAP_DIRTY) !== 0;
}

// ---- Content ----

/** zx_vmo_read of the pages in a pool thread (the pages may need a supply). */
export async function readPages(pager: UserPager, vmo: Vmo, pageOffset: number, pageCount: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
  return pager.startRead(vmo, pageOffset, pageCount).wait<Uint8Array>(timeoutMs);
}

/** The standard supplied content of pages [pageOffset, pageOffset + pageCount). */
export function supplied(vmo: Vmo, pageOffset: number, pageCount: number): Uint8Array {
  return expectedContent(vmo.key, pageOffset, pageCount);
}

/** `pageCount` pages of `byte` (0 for zero pages). */
export function filled(pageCount: number, byte = 0): Uint8Array {
  return new Uint8Array(pageCount * PAGE_SIZE).fill(byte);
}

/** Concatenates page buffers. */
export function pages(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `buffer` with bytes set at the given offsets: [[byteOffset, value], ...]. */
export function patched(buffer: Uint8Array, ...bytes: [number, number][]): Uint8Array {
  const out = buffer.slice();
  for (const [at, value] of bytes) out[at] = value;
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * check_buffer_data through zx_vmo_read (in a thread): pages [pageOffset, …) hold `expected`. On a
 * mismatch the diagnostics give the first differing byte, its page, and both values.
 */
export async function checkContent(t: Test, pager: UserPager, vmo: Vmo, pageOffset: number, expected: Uint8Array, message: string): Promise<boolean> {
  const got = await readPages(pager, vmo, pageOffset, expected.length / PAGE_SIZE);
  if (bytesEqual(got, expected)) return t.pass(message);
  const at = firstDifference(got, expected);
  return t.fail(message, { firstDifference: `byte ${at} (page ${pageOffset + Math.floor(at / PAGE_SIZE)} + ${at % PAGE_SIZE})`, got: got[at], want: expected[at] });
}

// ---- Test registration ----

/** A test with its own UserPager, always closed. */
export function pagerTest(tap: Test, name: string, body: (t: Test, pager: UserPager) => Promise<void>): void {
  void tap.test(name, async (t) => {
    const pager = await UserPager.create();
    try {
      await body(t, pager);
    } finally {
      await pager.close();
    }
  });
}

/**
 * TEST_WITH_AND_WITHOUT_TRAP_DIRTY: registers `${name}TrapDirty` (base | ZX_VMO_TRAP_DIRTY) and
 * `${name}NoTrapDirty` (base). The body creates its VMOs with `options`.
 */
export function trapDirtyTest(tap: Test, name: string, baseOptions: number, body: (t: Test, pager: UserPager, options: number) => Promise<void>): void {
  pagerTest(tap, `${name}TrapDirty`, (t, pager) => body(t, pager, baseOptions | ZX_VMO_TRAP_DIRTY));
  pagerTest(tap, `${name}NoTrapDirty`, (t, pager) => body(t, pager, baseOptions));
}

// ---- Seeded randomness ----

/** The test seed: env SEED if set (to replay a failure), else a random one. */
export function testSeed(): number {
  const env = process.env['SEED'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n)) return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

