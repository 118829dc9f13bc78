// The stress checker: the properties `pagersim stress` exists to check, over what the run recorded.
//   1. no lost write   - after the final writeback, each page's backing content is the value of a
//                        write that no later write followed (a maximal write of that page);
//   2. no stale read   - each read returned a value current at some instant of the read: its write
//                        began before the read ended and no other write fitted between the two
//                        (per-page linearizability of a register); torn and misplaced pages too;
//   3. FAIL wakeups    - from the kernel trace, in lock order: every waiter whose first page a FAIL
//                        covered was signalled with exactly that code, and none slept on;
//   4. no hang         - checked live by the orchestrator's watchdog (watchdog.ts);
//   5. bookkeeping     - every request created was delivered or withdrawn, nothing outstanding;
//   6. statuses        - DECOMMIT of a pager VMO is ZX_ERR_NOT_SUPPORTED (or OK for an empty range).
// The values of a page: the stamps of whole-page writes (vmo_write or a mapping), each written once,
// and ZEROED, written by every successful OP_ZERO over the page and every shrink that cut it off (it
// reads zero when regrown); a page's initial value is stamp 0, or ZEROED for a sparse backing hole.
// A failed operation writes nothing: NO_MEMORY or BAD_STATE must leave the page as it was.

import { TraceEvent, type TraceRecord } from '../../core/trace.js';
import { ZX_ERR_NOT_SUPPORTED, ZX_ERR_OUT_OF_RANGE } from '../../core/index.js';
import { OpKind } from '../../workers/stress_protocol.js';
import { MISPLACED, TORN, ZEROED } from '../../workers/stress_content.js';

export interface Op {
  thread: number;
  kind: OpKind;
  /** A whole-page write (vmo_write or through a mapping). */
  write: boolean;
  vmo: number;
  /** First page; for a resize, the new size in pages. */
  page: number;
  /** Reads and writes: the stamp (or TORN, MISPLACED, ZEROED). Range ops: the page count. */
  stamp: number;
  status: number;
  t0: number;
  t1: number;
}

export type ViolationKind =
  | 'lost-write'
  | 'stale-read'
  | 'torn-read'
  | 'misplaced-page'
  | 'wrong-status'
  | 'fail-wrong-status'
  | 'fail-waiter-slept'
  | 'hang'
  | 'bookkeeping';

export interface Violation {
  kind: ViolationKind;
  /** When it happened (shared monotonic clock, ns), for "detected after N ms". */
  atNs: number;
  detail: string;
}

export function isRead(op: Op): boolean {
  return op.kind === OpKind.Read || op.kind === OpKind.MapRead;
}

interface PageWrites {
  /** Successful writes of one page (stamps and zeroings), sorted by start. */
  t0: Float64Array;
  t1: Float64Array;
  /** suffixMinT1[i] = min t1 over writes i.. (for "a write started after X and ended before Y"). */
  suffixMinT1: Float64Array;
  byStamp: Map<number, number>;
  /** The zeroings among them: their starts (ascending) and prefix maxima of their ends. */
  zeroT0: Float64Array;
  zeroPrefixMaxT1: Float64Array;
}

interface PageWrite {
  value: number;
  t0: number;
  t1: number;
}

/** The successful writes of every page: whole-page writes, and the zeroings of OP_ZERO and shrinks. */
function indexWrites(ops: readonly Op[], vmoPages: number): Map<number, PageWrites> {
  const lists = new Map<number, PageWrite[]>();
  const add = (vmo: number, page: number, w: PageWrite): void => {
    const key = vmo * 2 ** 32 + page;
    let l = lists.get(key);
    if (!l) lists.set(key, (l = []));
    l.push(w);
  };
  for (const op of ops) {
    if (op.status !== 0) continue;
    if (op.write) add(op.vmo, op.page, { value: op.stamp, t0: op.t0, t1: op.t1 });
    else if (op.kind === OpKind.Zero) for (let p = op.page; p < op.page + op.stamp; p++) add(op.vmo, p, { value: ZEROED, t0: op.t0, t1: op.t1 });
    else if (op.kind === OpKind.Resize) for (let p = op.page; p < vmoPages; p++) add(op.vmo, p, { value: ZEROED, t0: op.t0, t1: op.t1 });
  }
  const out = new Map<number, PageWrites>();
  for (const [key, l] of lists) {
    l.sort((a, b) => a.t0 - b.t0);
    const n = l.length;
    const zeros = l.filter((w) => w.value === ZEROED);
    const pw: PageWrites = {
      t0: new Float64Array(n),
      t1: new Float64Array(n),
      suffixMinT1: new Float64Array(n),
      byStamp: new Map(),
      zeroT0: new Float64Array(zeros.length),
      zeroPrefixMaxT1: new Float64Array(zeros.length),
    };
    l.forEach((w, i) => {
      pw.t0[i] = w.t0;
      pw.t1[i] = w.t1;
      if (w.value !== ZEROED) pw.byStamp.set(w.value, i);
    });
    let min = Infinity;
    for (let i = n - 1; i >= 0; i--) pw.suffixMinT1[i] = min = Math.min(min, pw.t1[i]);
    let max = -Infinity;
    zeros.forEach((z, i) => {
      pw.zeroT0[i] = z.t0;
      pw.zeroPrefixMaxT1[i] = max = Math.max(max, z.t1);
    });
    out.set(key, pw);
  }
  return out;
}

/** Index of the first entry of a sorted array greater than `t` (binary search), length if none. */
function upperBound(a: Float64Array, t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** True if some write started after `t` and ended before `before` (it overwrote a value written by `t`). */
function overwrittenBetween(pw: PageWrites | undefined, t: number, before: number): boolean {
  if (!pw) return false;
  const j = upperBound(pw.t0, t);
  return j < pw.t0.length && pw.suffixMinT1[j] < before;
}

/**
 * The latest end of a zeroing that began by `by` (the best witness for reading ZEROED: a later end
 * leaves fewer writes that could have overwritten it), -Infinity for the initial zeros of a sparse
 * page, or null if nothing could have zeroed the page.
 */
function latestZeroing(pw: PageWrites | undefined, by: number, initiallyZero: boolean): number | null {
  const i = pw ? upperBound(pw.zeroT0, by) - 1 : -1;
  if (pw && i >= 0) return pw.zeroPrefixMaxT1[i];
  return initiallyZero ? -Infinity : null;
}

export interface HistoryContext {
  vmoCount: number;
  vmoPages: number;
  /** The backing store's content after the final writeback, or null when there was none. */
  finalStamp: ((vmo: number, page: number) => number) | null;
  /** Pages each VMO had at the end: the lost-write check covers only those. */
  finalPages: (vmo: number) => number;
  /** The page's initial value is ZEROED (a sparse backing hole), not stamp 0. */
  initiallyZero: (vmo: number, page: number) => boolean;
}

/** Violations found, at most `limit` kept with their details, every one counted by kind. */
class ViolationLog {
  readonly violations: Violation[] = [];
  readonly counts: Partial<Record<ViolationKind, number>> = {};
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  add(v: Violation): void {
    this.counts[v.kind] = (this.counts[v.kind] ?? 0) + 1;
    if (this.violations.length < this.#limit) this.violations.push(v);
  }
}

/** Properties 1, 2 and 6. */
export function checkHistory(ops: readonly Op[], ctx: HistoryContext, limit = 20): { violations: Violation[]; counts: Partial<Record<ViolationKind, number>> } {
  const writes = indexWrites(ops, ctx.vmoPages);
  const log = new ViolationLog(limit);
  for (const r of ops) {
    // A shrink may have cut the range off first (OUT_OF_RANGE); nothing else is legal.
    if (r.kind === OpKind.Decommit && r.status !== ZX_ERR_NOT_SUPPORTED && r.status !== ZX_ERR_OUT_OF_RANGE) {
      log.add({ kind: 'wrong-status', atNs: r.t1, detail: `thread ${r.thread}: DECOMMIT of pager VMO ${r.vmo} pages [${r.page}, +${r.stamp}) returned ${r.status}, not ZX_ERR_NOT_SUPPORTED` });
    }
    if (isRead(r) && r.status === 0) {
      const problem = checkRead(r, writes.get(r.vmo * 2 ** 32 + r.page), ctx.initiallyZero(r.vmo, r.page));
      if (problem) log.add({ kind: problem.kind, atNs: r.t1, detail: `thread ${r.thread} ${problem.detail}` });
    }
  }
  if (ctx.finalStamp) checkFinalContent(ctx, ctx.finalStamp, writes, log);
  return { violations: log.violations, counts: log.counts };
}

/** Property 2 for one successful read of a page: what is wrong with the value it returned, if anything. */
function checkRead(r: Op, pw: PageWrites | undefined, initiallyZero: boolean): { kind: ViolationKind; detail: string } | null {
  const where = `VMO ${r.vmo} page ${r.page}`;
  if (r.stamp === TORN) return { kind: 'torn-read', detail: `read a torn page at ${where}` };
  if (r.stamp === MISPLACED) return { kind: 'misplaced-page', detail: `read another page's content at ${where}` };
  if (r.stamp === ZEROED) {
    const end = latestZeroing(pw, r.t1, initiallyZero);
    if (end === null) return { kind: 'stale-read', detail: `read zeros at ${where}, which nothing zeroed` };
    if (overwrittenBetween(pw, end, r.t0)) return { kind: 'stale-read', detail: `read zeros at ${where}, overwritten before the read began` };
    return null;
  }
  const stamp = r.stamp >>> 0;
  if (stamp === 0) {
    // The initial content: stale if any write had completed before the read began.
    if (initiallyZero) return { kind: 'stale-read', detail: `read stamp 0 at ${where}, a page that started as a hole` };
    if (pw && pw.suffixMinT1[0] < r.t0) return { kind: 'stale-read', detail: `read the initial content of ${where} after a completed write` };
    return null;
  }
  const i = pw?.byStamp.get(stamp);
  if (pw === undefined || i === undefined) return { kind: 'stale-read', detail: `read stamp ${stamp.toString(16)} at ${where}, which no successful write wrote` };
  if (pw.t0[i] > r.t1) return { kind: 'stale-read', detail: `read stamp ${stamp.toString(16)} at ${where} before its write began` };
  if (overwrittenBetween(pw, pw.t1[i], r.t0)) return { kind: 'stale-read', detail: `read stamp ${stamp.toString(16)} at ${where}, overwritten before the read began` };
  return null;
}

/** Property 1: after the final writeback each page's backing content is a value no write followed. */
function checkFinalContent(ctx: HistoryContext, finalStamp: (vmo: number, page: number) => number, writes: Map<number, PageWrites>, log: ViolationLog): void {
  for (let v = 0; v < ctx.vmoCount; v++) {
    for (let p = 0; p < ctx.finalPages(v); p++) {
      const pw = writes.get(v * 2 ** 32 + p);
      const f = finalStamp(v, p);
      const where = `VMO ${v} page ${p}`;
      const initial = ctx.initiallyZero(v, p) ? ZEROED : 0;
      if (!pw) {
        if (f !== initial) log.add({ kind: 'lost-write', atNs: 0, detail: `${where}: backing holds ${describe(f)} but the page was never written` });
        continue;
      }
      let lastEnd = 0;
      for (const t1 of pw.t1) lastEnd = Math.max(lastEnd, t1); // no spread: a hot page has many writes
      // The backing must hold a value no write followed: a stamp, or zeros from a zeroing.
      let ok: boolean;
      if (f === ZEROED) {
        const end = latestZeroing(pw, Infinity, false);
        ok = end !== null && upperBound(pw.t0, end) === pw.t0.length;
      } else {
        const i = f > 0 ? pw.byStamp.get(f) : undefined;
        ok = i !== undefined && upperBound(pw.t0, pw.t1[i]) === pw.t0.length;
      }
      if (!ok) log.add({ kind: 'lost-write', atNs: lastEnd, detail: `${where}: backing holds ${describe(f)}, not the page's last write` });
    }
  }
}

function describe(value: number): string {
  if (value === ZEROED) return 'zeros';
  if (value === TORN || value === MISPLACED) return 'garbage';
  return (value >>> 0).toString(16);
}

/**
 * Property 3 over the kernel trace (append order = lock order): a FAIL of [off, off+len) with code c
 * must reach, with exactly c, every thread then waiting on a request whose first page (or wake point)
 * it covers; tallies the statuses waiters woke with.
 */
export function checkFailWakeups(events: readonly TraceRecord[], limit = 20): { violations: Violation[]; counts: Partial<Record<ViolationKind, number>>; wakeStatuses: Map<number, number> } {
  const waiting = new Map<number, { koid: number; offset: number }>();
  const expected = new Map<number, { code: number; atNs: number; koid: number; offset: number }>();
  const wakeStatuses = new Map<number, number>();
  const log = new ViolationLog(limit);
  for (const e of events) {
    switch (e.type) {
      case TraceEvent.WaitBegin:
        waiting.set(e.a[4], { koid: e.a[0], offset: e.a[2] });
        break;
      case TraceEvent.Signal: {
        const thread = e.a[3];
        const status = e.a[2];
        wakeStatuses.set(status, (wakeStatuses.get(status) ?? 0) + 1);
        const x = expected.get(thread);
        if (x && status !== x.code) {
          log.add({ kind: 'fail-wrong-status', atNs: e.timeNs, detail: `kernel thread ${thread} waiting on VMO koid ${x.koid} page ${x.offset} was failed with ${x.code} but woke with ${status}` });
        }
        expected.delete(thread);
        waiting.delete(thread);
        break;
      }
      case TraceEvent.Fail: {
        const [koid, off, len, code] = e.a;
        for (const [thread, w] of waiting) {
          if (w.koid === koid && w.offset >= off && w.offset < off + len && !expected.has(thread)) {
            expected.set(thread, { code, atNs: e.timeNs, koid, offset: w.offset });
          }
        }
        break;
      }
    }
  }
  for (const [thread, x] of expected) {
    log.add({ kind: 'fail-waiter-slept', atNs: x.atNs, detail: `kernel thread ${thread} waiting on VMO koid ${x.koid} page ${x.offset} was never woken after FAIL ${x.code}` });
  }
  return { violations: log.violations, counts: log.counts, wakeStatuses };
}
