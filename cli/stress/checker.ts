// The stress checker: the properties `pagersim stress` exists to check, over what the run recorded.
//   1. no lost write   - after the final writeback, each page's backing content is the stamp of a
//                        write that no later write followed (a maximal write of that page);
//   2. no stale read   - each read returned a stamp current at some instant of the read: its write
//                        began before the read ended and no other write fitted between the two
//                        (per-page linearizability of a register); torn and misplaced pages too;
//   3. FAIL wakeups    - from the kernel trace, in lock order: every waiter whose first page a FAIL
//                        covered was signalled with exactly that code, and none slept on;
//   4. no hang         - checked live by the orchestrator's watchdog (run.ts);
//   5. bookkeeping     - every request created was delivered or withdrawn, nothing outstanding.
// Operations are whole-page reads and writes, so each is atomic under its VMO's lock.

import { TraceEvent, type TraceRecord } from '../../core/trace.js';
import { MISPLACED, TORN } from './content.js';

export interface Op {
  thread: number;
  write: boolean;
  vmo: number;
  page: number;
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

interface PageWrites {
  /** Successful writes of one page, sorted by start. */
  t0: Float64Array;
  t1: Float64Array;
  /** suffixMinT1[i] = min t1 over writes i.. (for "a write started after X and ended before Y"). */
  suffixMinT1: Float64Array;
  byStamp: Map<number, number>;
}

function indexWrites(ops: readonly Op[]): Map<number, PageWrites> {
  const lists = new Map<number, Op[]>();
  for (const op of ops) {
    if (!op.write || op.status !== 0) continue;
    const key = op.vmo * 2 ** 32 + op.page;
    let l = lists.get(key);
    if (!l) lists.set(key, (l = []));
    l.push(op);
  }
  const out = new Map<number, PageWrites>();
  for (const [key, l] of lists) {
    l.sort((a, b) => a.t0 - b.t0);
    const n = l.length;
    const pw: PageWrites = { t0: new Float64Array(n), t1: new Float64Array(n), suffixMinT1: new Float64Array(n), byStamp: new Map() };
    for (let i = 0; i < n; i++) {
      pw.t0[i] = l[i]!.t0;
      pw.t1[i] = l[i]!.t1;
      pw.byStamp.set(l[i]!.stamp, i);
    }
    let min = Infinity;
    for (let i = n - 1; i >= 0; i--) pw.suffixMinT1[i] = min = Math.min(min, pw.t1[i]!);
    out.set(key, pw);
  }
  return out;
}

/** Index of the first write that starts after `t` (binary search), n if none. */
function firstStartingAfter(pw: PageWrites, t: number): number {
  let lo = 0;
  let hi = pw.t0.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pw.t0[mid]! > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Properties 1 and 2. `finalStamp(vmo, page)` reads the backing store after the final writeback. */
export function checkHistory(
  ops: readonly Op[],
  vmoCount: number,
  vmoPages: number,
  finalStamp: ((vmo: number, page: number) => number) | null,
  limit = 20,
): { violations: Violation[]; counts: Partial<Record<ViolationKind, number>> } {
  const writes = indexWrites(ops);
  const violations: Violation[] = [];
  const counts: Partial<Record<ViolationKind, number>> = {};
  const add = (v: Violation): void => {
    counts[v.kind] = (counts[v.kind] ?? 0) + 1;
    if (violations.length < limit) violations.push(v);
  };
  for (const r of ops) {
    if (r.write || r.status !== 0) continue;
    const where = `VMO ${r.vmo} page ${r.page}`;
    if (r.stamp === TORN) {
      add({ kind: 'torn-read', atNs: r.t1, detail: `thread ${r.thread} read a torn page at ${where}` });
      continue;
    }
    if (r.stamp === MISPLACED) {
      add({ kind: 'misplaced-page', atNs: r.t1, detail: `thread ${r.thread} read another page's content at ${where}` });
      continue;
    }
    const pw = writes.get(r.vmo * 2 ** 32 + r.page);
    const stamp = r.stamp >>> 0;
    if (stamp === 0) {
      // The initial content: stale if any write had completed before the read began.
      if (pw && pw.suffixMinT1[0]! < r.t0) add({ kind: 'stale-read', atNs: r.t1, detail: `thread ${r.thread} read the initial content of ${where} after a completed write` });
      continue;
    }
    const i = pw?.byStamp.get(stamp);
    if (pw === undefined || i === undefined) {
      add({ kind: 'stale-read', atNs: r.t1, detail: `thread ${r.thread} read stamp ${stamp.toString(16)} at ${where}, which no successful write wrote` });
      continue;
    }
    if (pw.t0[i]! > r.t1) {
      add({ kind: 'stale-read', atNs: r.t1, detail: `thread ${r.thread} read stamp ${stamp.toString(16)} at ${where} before its write began` });
      continue;
    }
    const j = firstStartingAfter(pw, pw.t1[i]!);
    if (j < pw.t0.length && pw.suffixMinT1[j]! < r.t0) {
      add({ kind: 'stale-read', atNs: r.t1, detail: `thread ${r.thread} read stamp ${stamp.toString(16)} at ${where}, overwritten before the read began` });
    }
  }
  if (finalStamp) {
    for (let v = 0; v < vmoCount; v++) {
      for (let p = 0; p < vmoPages; p++) {
        const pw = writes.get(v * 2 ** 32 + p);
        const f = finalStamp(v, p);
        const where = `VMO ${v} page ${p}`;
        if (!pw) {
          if (f !== 0) add({ kind: 'lost-write', atNs: 0, detail: `${where}: backing holds ${f.toString(16)} but the page was never written` });
          continue;
        }
        const i = f > 0 ? pw.byStamp.get(f) : undefined;
        let lastEnd = 0;
        for (const t1 of pw.t1) lastEnd = Math.max(lastEnd, t1); // no spread: a hot page has many writes
        if (i === undefined || firstStartingAfter(pw, pw.t1[i]!) < pw.t0.length) {
          add({ kind: 'lost-write', atNs: lastEnd, detail: `${where}: backing holds ${f < 0 ? 'garbage' : f.toString(16)}, not the page's last write` });
        }
      }
    }
  }
  return { violations, counts };
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
  const violations: Violation[] = [];
  const counts: Partial<Record<ViolationKind, number>> = {};
  const add = (v: Violation): void => {
    counts[v.kind] = (counts[v.kind] ?? 0) + 1;
    if (violations.length < limit) violations.push(v);
  };
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
          add({ kind: 'fail-wrong-status', atNs: e.timeNs, detail: `kernel thread ${thread} waiting on VMO koid ${x.koid} page ${x.offset} was failed with ${x.code} but woke with ${status}` });
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
    add({ kind: 'fail-waiter-slept', atNs: x.atNs, detail: `kernel thread ${thread} waiting on VMO koid ${x.koid} page ${x.offset} was never woken after FAIL ${x.code}` });
  }
  return { violations, counts, wakeStatuses };
}
