// What `pagersim stress` shows: the final summary table, the --report JSON (schema below, versioned)
// and the --trace file in Chrome trace-event format (Perfetto UI and chrome://tracing open it).

import fs from 'node:fs';
import { PAGE_SIZE, TraceEvent, type TraceRecord } from '../../core/index.js';
import { SPAN_F64, SpanKind } from '../../workers/stress_protocol.js';
import type { Progress, StressResult } from './run.js';

export const REPORT_SCHEMA = 'pagersim-stress-report';
export const REPORT_VERSION = 2;

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const us = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`);

export function summaryText(r: StressResult): string {
  const s = r.scenario;
  const secs = r.durationMs / 1000;
  const lat = r.faultLatencyNs;
  const fails = Object.entries(r.pager.failedByCode)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  const woke = Object.entries(r.wakeStatuses)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  const byKind = Object.entries(r.violationCounts)
    .map(([k, v]) => `${k} ${n(v!)}`)
    .join(', ');
  const rows: Array<[string, string]> = [
    ['scenario', `${s.threads} threads, ${s.vmos} VMO × ${s.vmoPages} pages, physicalMemory ${s.physicalMemory / PAGE_SIZE} pages, ${s.pattern}, read ${Math.round(s.readRatio * 100)}%, ${s.trapDirty ? 'trap-dirty' : 'no trap'}, fail ${s.failRate}${s.injectBug ? `, INJECTED BUG ${s.injectBug}` : ''}`],
    ['seed', String(r.seed)],
    ['operations', `${n(r.ops.total)} (${n(r.ops.reads)} reads, ${n(r.ops.writes)} writes) in ${secs.toFixed(1)} s = ${n(r.ops.total / secs)} ops/s`],
    ['failed ops', Object.keys(r.ops.failedByStatus).length ? Object.entries(r.ops.failedByStatus).map(([k, v]) => `${k} ${n(v)}`).join(', ') : 'none'],
    ['page requests', `${n(r.kernel.requests)} created (${n(r.kernel.requests / secs)}/s), ${n(r.kernel.dequeued)} packets read, ${n(r.kernel.withdrawn)} withdrawn unread`],
    ['pager', `${n(r.pager.readsServed)} READ served (${n(r.pager.pagesSupplied)} pages), ${n(r.pager.dirtyAcked)} DIRTY acked, ${n(r.pager.failed)} failed${fails ? ` (${fails})` : ''}`],
    ['waiters woke with', woke || '(trace off)'],
    ['writeback', `${n(r.writeback.passes)} passes (${n(r.writeback.passes / secs)}/s), ${n(r.writeback.pages)} pages`],
    ['memory', `${n(r.kernel.evictions)} evictions, ${n(r.kernel.frames - r.kernel.freeFrames)} of ${n(r.kernel.frames)} frames in use at the end`],
    ['fault latency', lat.count ? `p50 ${us(lat.p50)}  p90 ${us(lat.p90)}  p99 ${us(lat.p99)}  max ${us(lat.max)}  (${n(lat.count)} waits)` : 'no waits'],
    ['violations', byKind || 'none'],
  ];
  // Only runs that enable more than reads and writes show these (the default output stays as it was).
  if (r.enabledOps.length > 0 || r.squeezedFrames > 0) {
    const extra: Array<[string, string]> = [];
    const kinds = Object.entries(r.ops.byKind)
      .filter(([k]) => k !== 'read' && k !== 'write')
      .map(([k, c]) => `${k} ${n(c.total)} (${n(c.ok)} ok)`)
      .join(', ');
    extra.push(['operations mix', `${r.enabledOps.join(', ') || 'read, write only'}${s.swarm ? ' (swarm, chosen by the seed)' : ''}`]);
    if (kinds) extra.push(['extra ops', kinds]);
    if (r.enabledOps.includes('zero-supply')) extra.push(['zero markers', `${n(r.pager.zeroMarkers)} pages supplied as zero markers`]);
    if (r.squeezedFrames > 0) extra.push(['squeeze', `${n(r.squeezedFrames)} frames pinned, ${n(r.kernel.frames - r.squeezedFrames)} left; ${n(r.pager.noMemoryRetries)} NO_MEMORY retries by the pager`]);
    rows.splice(rows.length - 1, 0, ...extra);
  }
  if (r.lateWakes > 0) rows.push(['late wake-ups', `${n(r.lateWakes)} threads woken but given no CPU for over ${r.scenario.hangTimeout} ms (an overloaded machine, not a hang)`]);
  if (r.checksSkipped.length) rows.push(['not checked', r.checksSkipped.join('; ')]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  for (const v of r.violations.slice(0, 10)) lines.push(`    ✗ ${v.kind} at +${((v.atNs - r.startNs) / 1e6).toFixed(0)} ms: ${v.detail}`);
  if (r.violations.length > 10) lines.push(`    … and ${r.violations.length - 10} more`);
  lines.push(!r.clean ? '  result: VIOLATIONS FOUND' : r.inconclusive.length ? `  result: INCONCLUSIVE (${r.inconclusive.join('; ')})` : '  result: clean');
  return `pagersim stress\n${lines.join('\n')}`;
}

/** The --report document. Fields are documented in README "Stress report". */
export function reportJson(r: StressResult): object {
  const { report: _report, trace: _trace, progress: _progress, ...scenario } = r.scenario;
  void _report;
  void _trace;
  void _progress;
  return {
    schema: REPORT_SCHEMA,
    version: REPORT_VERSION,
    seed: r.seed,
    scenario,
    durationMs: Math.round(r.durationMs),
    enabledOps: r.enabledOps,
    squeezedFrames: r.squeezedFrames,
    ops: r.ops,
    throughput: {
      opsPerSec: r.ops.total / (r.durationMs / 1000),
      requestsPerSec: r.kernel.requests / (r.durationMs / 1000),
      writebacksPerSec: r.writeback.passes / (r.durationMs / 1000),
    },
    kernel: r.kernel,
    pager: r.pager,
    writeback: r.writeback,
    faultLatencyUs: {
      count: r.faultLatencyNs.count,
      p50: r.faultLatencyNs.p50 / 1e3,
      p90: r.faultLatencyNs.p90 / 1e3,
      p99: r.faultLatencyNs.p99 / 1e3,
      max: r.faultLatencyNs.max / 1e3,
    },
    waitersWokeWith: r.wakeStatuses,
    violations: {
      total: Object.values(r.violationCounts).reduce((a, b) => a + (b ?? 0), 0),
      byKind: r.violationCounts,
      first: r.violations.slice(0, 50).map((v) => ({ kind: v.kind, atMs: (v.atNs - r.startNs) / 1e6, detail: v.detail })),
    },
    notChecked: r.checksSkipped,
    clean: r.clean,
    inconclusive: r.inconclusive,
    lateWakes: r.lateWakes,
  };
}

/** Tracks of the services' spans (trace-event tids past any kernel thread slot). */
const PAGER_TID = 100000;
const WRITEBACK_TID = 100001;
/** Events buffered before a write to the file. */
const FLUSH_EVENTS = 4096;

/**
 * Chrome trace events: a track per kernel thread with its blocked spans, an async span per page
 * request from creation to completion, pager and writeback spans, and flow arrows from each fault
 * to the operation that resolved its request.
 */
export function writeChromeTrace(r: StressResult, path: string): number {
  const t = r.trace;
  if (!t) return 0;
  const file = new TraceEventFile(path);
  const ts = (ns: number): string => ((ns - r.startNs) / 1e3).toFixed(3);
  file.emit(`{"ph":"M","pid":1,"name":"process_name","args":{"name":"pagersim stress (seed ${r.seed})"}}`);
  for (const [tid, name] of t.threadNames) file.emit(`{"ph":"M","pid":1,"tid":${tid},"name":"thread_name","args":{"name":"${name}"}}`);
  file.emit(`{"ph":"M","pid":1,"tid":${PAGER_TID},"name":"thread_name","args":{"name":"pager service"}}`);
  file.emit(`{"ph":"M","pid":1,"tid":${WRITEBACK_TID},"name":"thread_name","args":{"name":"writeback"}}`);
  const kernelEvents = new KernelEventTracks(file, t.threadNames, ts);
  for (const e of t.events) kernelEvents.add(e);
  kernelEvents.endOpenRequests(ts(r.startNs + r.durationMs * 1e6));
  emitServiceSpans(file, t.spans, ts);
  file.close(`\n],"displayTimeUnit":"ms","otherData":{"seed":${r.seed},"droppedEvents":${t.dropped}}}\n`);
  return file.count;
}

/** The --trace file: a JSON array of events written in batches, then its closing part. */
class TraceEventFile {
  count = 0;
  readonly #fd: number;
  readonly #pending: string[] = [];

  constructor(path: string) {
    this.#fd = fs.openSync(path, 'w');
    fs.writeSync(this.#fd, '{"traceEvents":[\n');
  }

  emit(e: string): void {
    this.#pending.push((this.count === 0 ? '' : ',\n') + e);
    this.count++;
    if (this.#pending.length >= FLUSH_EVENTS) fs.writeSync(this.#fd, this.#pending.splice(0).join(''));
  }

  close(trailer: string): void {
    fs.writeSync(this.#fd, this.#pending.join(''));
    fs.writeSync(this.#fd, trailer);
    fs.closeSync(this.#fd);
  }
}

/** The kernel trace as trace events: request spans, blocked spans, FAILs, evictions and fault-to-resolution arrows. */
class KernelEventTracks {
  readonly #waitStart = new Map<number, { ts: number; req: number; vmo: number; off: number; len: number }>();
  /** Follower request -> the leader whose completion resolves it. */
  readonly #leaderOf = new Map<number, number>();
  /** Requests begun and not yet ended. */
  readonly #open = new Set<number>();
  readonly #flows: Array<{ id: number; req: number }> = [];
  #flowId = 1;
  readonly file: TraceEventFile;
  readonly threadNames: ReadonlyMap<number, string>;
  readonly ts: (ns: number) => string;

  constructor(file: TraceEventFile, threadNames: ReadonlyMap<number, string>, ts: (ns: number) => string) {
    this.file = file;
    this.threadNames = threadNames;
    this.ts = ts;
  }

  /** The track of the thread that did it: a faulting thread's own, or the pager's. */
  #actorTid(actor: number): number {
    return this.threadNames.has(actor) ? actor : PAGER_TID;
  }

  add(e: TraceRecord): void {
    const [a0, a1, a2, a3, a4, actor] = e.a;
    const at = this.ts(e.timeNs);
    switch (e.type) {
      case TraceEvent.ReqNew:
        this.#open.add(a1);
        this.file.emit(`{"ph":"b","pid":1,"tid":${this.#actorTid(actor)},"cat":"request","id":"0x${a1.toString(16)}","name":"${a2 === 0 ? 'READ' : 'DIRTY'} [${a3},+${a4}) koid ${a0}","ts":${at}}`);
        break;
      case TraceEvent.ReqFollow:
        this.#leaderOf.set(a1, a2);
        break;
      case TraceEvent.Handover:
        this.#leaderOf.set(a2, this.#leaderOf.get(a1) ?? a1);
        break;
      case TraceEvent.ReqDone:
        this.#requestDone(a1, a2, this.#actorTid(actor), at);
        break;
      case TraceEvent.WaitBegin: {
        this.#waitStart.set(a4, { ts: e.timeNs, req: a1, vmo: a0, off: a2, len: a3 });
        const id = this.#flowId++;
        this.#flows.push({ id, req: a1 });
        this.file.emit(`{"ph":"s","pid":1,"tid":${a4},"cat":"fault","id":${id},"name":"resolved","ts":${at}}`);
        break;
      }
      case TraceEvent.WaitEnd: {
        const w = this.#waitStart.get(a0);
        if (!w) break;
        this.#waitStart.delete(a0);
        this.file.emit(`{"ph":"X","pid":1,"tid":${a0},"cat":"blocked","name":"blocked on page request","ts":${this.ts(w.ts)},"dur":${((e.timeNs - w.ts) / 1e3).toFixed(3)},"args":{"vmoKoid":${w.vmo},"page":${w.off},"pages":${w.len},"status":${a1}}}`);
        break;
      }
      case TraceEvent.Fail:
        this.file.emit(`{"ph":"i","s":"t","pid":1,"tid":${this.#actorTid(actor)},"cat":"pager","name":"FAIL ${a3} [${a1},+${a2})","ts":${at}}`);
        break;
      case TraceEvent.Evict:
        this.file.emit(`{"ph":"i","s":"p","pid":1,"tid":${this.#actorTid(actor)},"cat":"memory","name":"evict koid ${a0} page ${a1}","ts":${at}}`);
        break;
    }
  }

  /** Ends the request's span and draws arrows from every fault it resolved to where it was resolved. */
  #requestDone(req: number, status: number, tid: number, at: string): void {
    if (this.#open.delete(req)) this.file.emit(`{"ph":"e","pid":1,"tid":${tid},"cat":"request","id":"0x${req.toString(16)}","name":"","ts":${at},"args":{"status":${status}}}`);
    for (let i = this.#flows.length - 1; i >= 0; i--) {
      const f = this.#flows[i];
      if ((this.#leaderOf.get(f.req) ?? f.req) !== req) continue;
      this.file.emit(`{"ph":"f","bp":"e","pid":1,"tid":${tid},"cat":"fault","id":${f.id},"name":"resolved","ts":${at}}`);
      this.#flows.splice(i, 1);
    }
  }

  /** Requests that never completed (withdrawn or cancelled) end at the end of the run. */
  endOpenRequests(endTs: string): void {
    for (const id of this.#open) this.file.emit(`{"ph":"e","pid":1,"tid":${PAGER_TID},"cat":"request","id":"0x${id.toString(16)}","name":"","ts":${endTs},"args":{"status":"cancelled"}}`);
  }
}

/** The pager's ([0]) and the writeback worker's ([1]) spans, records of SPAN_F64: kind, start ns, end ns, pages. */
function emitServiceSpans(file: TraceEventFile, spanBuffers: readonly Float64Array[], ts: (ns: number) => string): void {
  const names: Record<number, string> = { [SpanKind.Read]: 'serve READ', [SpanKind.Dirty]: 'ack DIRTY', [SpanKind.Fail]: 'fail request', [SpanKind.Writeback]: 'writeback pass' };
  spanBuffers.forEach((spans, which) => {
    const tid = which === 0 ? PAGER_TID : WRITEBACK_TID;
    const cat = which === 0 ? 'pager' : 'writeback';
    for (let i = 0; i + SPAN_F64 <= spans.length && spans[i] !== 0; i += SPAN_F64) {
      const [kind, start, end, pages] = spans.subarray(i, i + SPAN_F64);
      file.emit(`{"ph":"X","pid":1,"tid":${tid},"cat":"${cat}","name":"${names[kind]}","ts":${ts(start)},"dur":${((end - start) / 1e3).toFixed(3)},"args":{"pages":${pages}}}`);
    }
  });
}

/** One progress frame: a bar on a TTY, a plain line otherwise. */
export function progressText(p: Progress, tty: boolean): string {
  const secs = Math.max(p.elapsedMs / 1000, 0.001);
  const stats = `${(p.elapsedMs / 1000).toFixed(1)}s  ${n(p.ops / secs)} ops/s  ${n(p.faults / secs)} faults/s  ${n(p.writebacks / secs)} wb/s  ${n(p.evictions)} evictions  ${p.violations} violations`;
  if (!tty) return `[stress] ${stats}`;
  const width = 24;
  const done = Math.min(width, Math.round((p.elapsedMs / p.durationMs) * width));
  return `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${stats}\x1b[K`;
}
