// The two service workers of `pagersim stress`, each in its own Worker (never in the ThreadPool):
//   pager     - reads packets from the port (workers/pager_loop.ts): READ requests are supplied from the backing store in
//               whole aligned clusters (read-ahead), DIRTY requests are acknowledged, and a chosen
//               share of both is failed with chosen codes instead;
//   writeback - loops query_dirty_ranges -> WRITEBACK_BEGIN -> copy to the backing store ->
//               WRITEBACK_END, and on request flushes until nothing is dirty.
// Both record spans for the trace and tally what they did in the shared control block.

import { workerData } from 'node:worker_threads';
import { Kernel, type KernelShare } from '../core/kernel.js';
import type { ProcessToken } from '../core/object/process.js';
import { ZxError } from '../core/errors.js';
import {
  PAGE_SIZE,
  ZX_PAGER_OP_DIRTY,
  ZX_PAGER_OP_FAIL,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
  ZX_VMO_DIRTY_RANGE_IS_ZERO,
  ZX_VMO_OP_DECOMMIT,
} from '../shared/constants.js';
import { deadlineAfter, futexWait, mutexLock, mutexUnlock } from '../shared/futex.js';
import { runPagerLoop } from './pager_loop.js';
import { seededRandom } from './random.js';
import { ZX_ERR_NO_MEMORY, ZX_ERR_OUT_OF_RANGE } from '../shared/status.js';
import { openBacking } from './stress_backing.js';
import {
  C_BACKING_LOCK,
  C_COMPLETE,
  C_DIRTY_ACKED,
  C_FAILED,
  C_FAILED_BY_CODE,
  C_PAGER_BUSY,
  C_PAGER_IDLE_SINCE_MS,
  C_PAGES_SUPPLIED,
  C_READS_SERVED,
  C_SERVICE_ERRORS,
  C_SERVICE_LAST_ERROR,
  C_STOP_SERVICES,
  C_WB_FLUSH_ACK,
  C_WB_FLUSH_REQ,
  C_WB_PAGES,
  C_WB_PASSES,
  C_NO_MEMORY_RETRIES,
  C_ZERO_MARKERS,
  FAIL_CODES,
  SPAN_F64,
  SpanKind,
  monotonicMs,
  type BackingConfig,
} from './stress_protocol.js';

export interface ServiceConfig {
  /** The pager service's process (--kill-pager-at): killing it ends the service and closes the pager handle. */
  process?: ProcessToken;
  role: 'pager' | 'writeback';
  share: KernelShare;
  pager: number;
  port: number;
  vmos: number[];
  keys: bigint[];
  vmoPages: number;
  backing: BackingConfig;
  control: SharedArrayBuffer;
  spans: SharedArrayBuffer;
  failRate: number;
  failCodes: number[];
  readahead: number;
  writebackIntervalMs: number;
  /** Simulated storage latency per page written back. */
  writebackLatencyUs: number;
  seed: number;
  /** Supply pages whose backing is all zeros as zero markers (uncommitted aux pages). */
  zeroSupply: boolean;
}

function isZeroPage(page: Uint8Array): boolean {
  const words = new Uint32Array(page.buffer, page.byteOffset, page.byteLength / 4);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

function expected(e: unknown): number {
  if (e instanceof ZxError) return e.status;
  throw e;
}

function runPager(c: ServiceConfig): void {
  const sys = Kernel.attach(c.share, c.process ? { process: c.process } : {}).sys;
  const control = new Int32Array(c.control);
  const spans = new Float64Array(c.spans);
  const backing = openBacking(c.backing);
  const byKey = new Map(c.keys.map((k, i) => [k, i] as const));
  const clusterBytes = c.readahead * PAGE_SIZE;
  const aux = sys.vmoCreate(clusterBytes, 0);
  const scratch = new Uint8Array(clusterBytes);
  let nspans = 0;
  const rand = seededRandom(c.seed);
  const span = (kind: number, t0: number, pages: number): void => {
    if ((nspans + 1) * SPAN_F64 > spans.length) return;
    spans.set([kind, t0, Number(process.hrtime.bigint()), pages], nspans++ * SPAN_F64);
  };
  /** Pager VMO v's size in bytes now (resizable VMOs change under the pager's feet). */
  const sizeOf = (v: number): number => sys.vmoGetSize(c.vmos[v]);
  /**
   * Supplies [off, off + len) of VMO v from the backing store, clipped to the VMO's current size: false
   * when memory ran out (the caller retries later; only dirty pages may be left). With zero-supply, a
   * page whose backing is all zeros is left uncommitted in aux and so supplied as a zero marker.
   */
  const supplyCluster = (v: number, off: number, len: number): boolean => {
    mutexLock(control, C_BACKING_LOCK);
    try {
      for (;;) {
        const end = Math.min(off + len, sizeOf(v));
        if (end <= off) return true; // cut off by a shrink: its waiters were already woken
        const pages = (end - off) / PAGE_SIZE;
        let markers = 0;
        try {
          for (let p = 0; p < pages; p++) {
            const page = scratch.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
            backing.read(v, off / PAGE_SIZE + p, page);
            if (c.zeroSupply && isZeroPage(page)) markers++;
            else sys.vmoWrite(aux, page, p * PAGE_SIZE);
          }
        } catch (e) {
          if (expected(e) !== ZX_ERR_NO_MEMORY) throw e;
          sys.vmoOpRange(aux, ZX_VMO_OP_DECOMMIT, 0, clusterBytes);
          return false;
        }
        try {
          sys.pagerSupplyPages(c.pager, c.vmos[v], off, end - off, aux, 0);
          Atomics.add(control, C_PAGES_SUPPLIED, pages);
          Atomics.add(control, C_ZERO_MARKERS, markers);
          return true;
        } catch (e) {
          const status = expected(e);
          sys.vmoOpRange(aux, ZX_VMO_OP_DECOMMIT, 0, clusterBytes);
          if (status === ZX_ERR_NO_MEMORY) return false;
          if (status !== ZX_ERR_OUT_OF_RANGE) return true; // detached or closed: its waiters were already woken
          // shrunk since we looked: clip again
        }
      }
    } finally {
      mutexUnlock(control, C_BACKING_LOCK);
    }
  };
  /** OP_DIRTY: false when memory ran out (zero markers and zero intervals need frames): retried. */
  const dirtyRange = (v: number, off: number, len: number): boolean => {
    try {
      sys.pagerOpRange(c.pager, ZX_PAGER_OP_DIRTY, c.vmos[v], off, len, 0);
    } catch (e) {
      // NOT_FOUND: a page was evicted meanwhile, the writer retries with READ; OUT_OF_RANGE: shrunk.
      if (expected(e) === ZX_ERR_NO_MEMORY) return false;
    }
    return true;
  };
  /** OP_FAIL, clipped to the VMO's current size (a shrink already woke the waiters past it). */
  const failRange = (v: number, off: number, len: number, code: number): boolean => {
    for (let attempt = 0; attempt < 4; attempt++) {
      const end = Math.min(off + len, sizeOf(v));
      if (end <= off) return false;
      try {
        sys.pagerOpRange(c.pager, ZX_PAGER_OP_FAIL, c.vmos[v], off, end - off, code);
        return true;
      } catch (e) {
        if (expected(e) !== ZX_ERR_OUT_OF_RANGE) return false;
      }
    }
    return false;
  };
  /** With --fail-rate: fails the request with a chosen code instead of serving it; true if it did. */
  const maybeFail = (v: number, off: number, len: number, t0: number): boolean => {
    if (c.failRate <= 0 || rand() >= c.failRate) return false;
    const code = c.failCodes[Math.floor(rand() * c.failCodes.length)];
    if (failRange(v, off, len, code)) {
      Atomics.add(control, C_FAILED, 1);
      Atomics.add(control, C_FAILED_BY_CODE + FAIL_CODES.indexOf(code), 1);
    }
    span(SpanKind.Fail, t0, len / PAGE_SIZE);
    return true;
  };
  /** Requests that met ZX_ERR_NO_MEMORY, retried in order until memory comes back. */
  const retry: Array<{ dirty: boolean; v: number; off: number; len: number }> = [];
  /** Marks the pager busy with a packet; returns the span's start. */
  const begin = (): number => {
    Atomics.store(control, C_PAGER_BUSY, 1);
    return Number(process.hrtime.bigint());
  };
  /** The packet is handled: idle since now, busy while a backlog waits. */
  const end = (): void => {
    Atomics.store(control, C_PAGER_IDLE_SINCE_MS, monotonicMs());
    Atomics.store(control, C_PAGER_BUSY, retry.length > 0 ? 1 : 0);
  };
  Atomics.store(control, C_PAGER_IDLE_SINCE_MS, monotonicMs());
  runPagerLoop(
    {
      sys,
      port: c.port,
      shouldStop: () => Atomics.load(control, C_STOP_SERVICES) !== 0,
      nextDeadline: () => deadlineAfter(retry.length > 0 ? 1_000_000 : 20_000_000),
      beforeWait: () => {
        if (retry.length === 0) return;
        // Busy while a backlog waits, the clock reset only by a success: a retry that never succeeds
        // (memory that never comes back) shows as a pager stuck on one packet: the watchdog's hang.
        Atomics.store(control, C_PAGER_BUSY, 1);
        const r = retry[0];
        if (r.dirty ? dirtyRange(r.v, r.off, r.len) : supplyCluster(r.v, r.off, r.len)) {
          retry.shift();
          Atomics.store(control, C_PAGER_IDLE_SINCE_MS, monotonicMs());
        } else Atomics.add(control, C_NO_MEMORY_RETRIES, 1);
        Atomics.store(control, C_PAGER_BUSY, retry.length > 0 ? 1 : 0);
      },
      onWaitError: (e) => {
        Atomics.store(control, C_SERVICE_LAST_ERROR, expected(e));
        Atomics.add(control, C_SERVICE_ERRORS, 1);
        return false; // the port or pager handle is gone
      },
    },
    {
      onUser: () => false,
      onRead(key, off, len) {
        const t0 = begin();
        const v = byKey.get(key);
        if (v !== undefined && !maybeFail(v, off, len, t0)) {
          // Supply whole aligned clusters covering the request (read-ahead, as real pagers do).
          const first = Math.floor(off / clusterBytes) * clusterBytes;
          const last = Math.min(Math.ceil((off + len) / clusterBytes) * clusterBytes, c.vmoPages * PAGE_SIZE);
          for (let at = first; at < last; at += clusterBytes) {
            const clusterLen = Math.min(clusterBytes, last - at);
            if (!supplyCluster(v, at, clusterLen)) retry.push({ dirty: false, v, off: at, len: clusterLen });
          }
          Atomics.add(control, C_READS_SERVED, 1);
          span(SpanKind.Read, t0, len / PAGE_SIZE);
        }
        end();
        return false; // counted in the control block above
      },
      onDirty(key, off, len) {
        const t0 = begin();
        const v = byKey.get(key);
        if (v !== undefined && !maybeFail(v, off, len, t0)) {
          if (!dirtyRange(v, off, len)) retry.push({ dirty: true, v, off, len });
          Atomics.add(control, C_DIRTY_ACKED, 1);
          span(SpanKind.Dirty, t0, len / PAGE_SIZE);
        }
        end();
        return false;
      },
      onComplete() {
        begin();
        Atomics.add(control, C_COMPLETE, 1);
        end();
      },
    },
  );
  backing.close();
}

function runWriteback(c: ServiceConfig): void {
  const sys = Kernel.attach(c.share).sys;
  const control = new Int32Array(c.control);
  const spans = new Float64Array(c.spans);
  const backing = openBacking(c.backing);
  let copy = new Uint8Array(PAGE_SIZE);
  let nspans = 0;
  while (Atomics.load(control, C_STOP_SERVICES) === 0) {
    const flushTicket = Atomics.load(control, C_WB_FLUSH_REQ);
    let dirtyPages = 0;
    const t0 = Number(process.hrtime.bigint());
    try {
      for (let v = 0; v < c.vmos.length; v++) {
        let start = 0;
        const size = sys.vmoGetSize(c.vmos[v]); // resizable VMOs: only what is there now
        for (;;) {
          let q;
          try {
            q = sys.pagerQueryDirtyRanges(c.pager, c.vmos[v], start, size - start, 64);
          } catch (e) {
            if (expected(e) !== ZX_ERR_OUT_OF_RANGE) throw e;
            break; // shrunk since we looked: the next pass sees the new size
          }
          for (const r of q.ranges) {
            const isZero = (r.options & ZX_VMO_DIRTY_RANGE_IS_ZERO) !== 0;
            const pages = r.length / PAGE_SIZE;
            if (copy.length < r.length) copy = new Uint8Array(r.length);
            try {
              sys.pagerOpRange(c.pager, ZX_PAGER_OP_WRITEBACK_BEGIN, c.vmos[v], r.offset, r.length, isZero ? ZX_VMO_DIRTY_RANGE_IS_ZERO : 0);
              if (isZero) copy.fill(0, 0, r.length);
              else sys.vmoRead(c.vmos[v], copy.subarray(0, r.length), r.offset);
            } catch (e) {
              if (expected(e) !== ZX_ERR_OUT_OF_RANGE) throw e;
              continue; // shrunk since the query: what is left is still dirty for the next pass
            }
            // The write to storage takes time; writes to the range meanwhile must survive END.
            if (c.writebackLatencyUs > 0) futexWait(control, C_STOP_SERVICES, 0, (c.writebackLatencyUs * pages) / 1000);
            mutexLock(control, C_BACKING_LOCK);
            try {
              for (let p = 0; p < pages; p++) backing.write(v, r.offset / PAGE_SIZE + p, copy.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE));
              sys.pagerOpRange(c.pager, ZX_PAGER_OP_WRITEBACK_END, c.vmos[v], r.offset, r.length, 0);
            } catch (e) {
              if (expected(e) !== ZX_ERR_OUT_OF_RANGE) throw e;
            } finally {
              mutexUnlock(control, C_BACKING_LOCK);
            }
            dirtyPages += pages;
          }
          if (q.actual === q.avail || q.ranges.length === 0) break;
          const last = q.ranges[q.ranges.length - 1];
          start = last.offset + last.length;
        }
      }
    } catch (e) {
      Atomics.store(control, C_SERVICE_LAST_ERROR, expected(e));
      Atomics.add(control, C_SERVICE_ERRORS, 1);
      break; // the pager handle is gone (closed mid-run): nothing more can be written back
    }
    if (dirtyPages > 0) {
      Atomics.add(control, C_WB_PASSES, 1);
      Atomics.add(control, C_WB_PAGES, dirtyPages);
      if ((nspans + 1) * SPAN_F64 <= spans.length) spans.set([SpanKind.Writeback, t0, Number(process.hrtime.bigint()), dirtyPages], nspans++ * SPAN_F64);
    } else {
      Atomics.store(control, C_WB_FLUSH_ACK, flushTicket); // a pass found nothing dirty
    }
    futexWait(control, C_STOP_SERVICES, 0, dirtyPages > 0 ? 0 : c.writebackIntervalMs);
  }
  backing.close();
}

const config = (workerData as { stressService?: ServiceConfig } | null)?.stressService;
if (config) {
  try {
    if (config.role === 'pager') runPager(config);
    else runWriteback(config);
  } catch (e) {
    // zx_task_kill of the service's process (--kill-pager-at): the service just ends.
    if (!(e instanceof Error && e.name === 'ThreadKilled')) throw e;
  }
}
