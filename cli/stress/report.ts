// What `pagersim stress` shows: the final summary table, the --report JSON (schema below, versioned)
// and the --trace file in Chrome trace-event format (Perfetto UI and chrome://tracing open it).

import fs from 'node:fs';
import { TraceEvent } from '../../core/index.js';
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
    ['scenario', `${s.threads} threads, ${s.vmos} VMO × ${s.vmoPages} pages, physicalMemory ${s.physicalMemory / 4096} pages, ${s.pattern}, read ${Math.round(s.readRatio * 100)}%, ${s.trapDirty ? 'trap-dirty' : 'no trap'}, fail ${s.failRate}${s.injectBug ? `, INJECTED BUG ${s.injectBug}` : ''}`],
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

/**
 * Chrome trace events: a track per kernel thread with its blocked spans, an async span per page
 * request from creation to completion, pager and writeback spans, and flow arrows from each fault
 * to the operation that resolved its request.
 */
export function writeChromeTrace(r: StressResult, path: string): number {
  const t = r.trace;
  if (!t) return 0;
  const fd = fs.openSync(path, 'w');
  const ts = (ns: number): string => ((ns - r.startNs) / 1e3).toFixed(3);
  let count = 0;
  let first = true;
  const out: string[] = [];
  const emit = (e: string): void => {
    out.push((first ? '' : ',\n') + e);
    first = false;
    count++;
    if (out.length >= 4096) fs.writeSync(fd, out.splice(0).join(''));
  };
  fs.writeSync(fd, '{"traceEvents":[\n');
  const PAGER_TID = 100000;
  const WRITEBACK_TID = 100001;
  emit(`{"ph":"M","pid":1,"name":"process_name","args":{"name":"pagersim stress (seed ${r.seed})"}}`);
  for (const [tid, name] of t.threadNames) emit(`{"ph":"M","pid":1,"tid":${tid},"name":"thread_name","args":{"name":"${name}"}}`);
  emit(`{"ph":"M","pid":1,"tid":${PAGER_TID},"name":"thread_name","args":{"name":"pager service"}}`);
  emit(`{"ph":"M","pid":1,"tid":${WRITEBACK_TID},"name":"thread_name","args":{"name":"writeback"}}`);
  const waitStart = new Map<number, { ts: number; req: number; vmo: number; off: number; len: number }>();
  const leaderOf = new Map<number, number>();
  const open = new Set<number>();
  const flows: Array<{ id: number; req: number }> = [];
  let flowId = 1;
  const actorTid = (a: number): number => (t.threadNames.has(a) ? a : PAGER_TID);
  for (const e of t.events) {
    const [a0, a1, a2, a3, a4, actor] = e.a;
    switch (e.type) {
      case TraceEvent.ReqNew:
        open.add(a1);
        emit(`{"ph":"b","pid":1,"tid":${actorTid(actor)},"cat":"request","id":"0x${a1.toString(16)}","name":"${a2 === 0 ? 'READ' : 'DIRTY'} [${a3},+${a4}) koid ${a0}","ts":${ts(e.timeNs)}}`);
        break;
      case TraceEvent.ReqFollow:
        leaderOf.set(a1, a2);
        break;
      case TraceEvent.Handover:
        leaderOf.set(a2, leaderOf.get(a1) ?? a1);
        break;
      case TraceEvent.ReqDone: {
        if (open.delete(a1)) emit(`{"ph":"e","pid":1,"tid":${actorTid(actor)},"cat":"request","id":"0x${a1.toString(16)}","name":"","ts":${ts(e.timeNs)},"args":{"status":${a2}}}`);
        // Arrows from every fault this request resolved to where it was resolved.
        for (let i = flows.length - 1; i >= 0; i--) {
          const f = flows[i]!;
          if ((leaderOf.get(f.req) ?? f.req) !== a1) continue;
          emit(`{"ph":"f","bp":"e","pid":1,"tid":${actorTid(actor)},"cat":"fault","id":${f.id},"name":"resolved","ts":${ts(e.timeNs)}}`);
          flows.splice(i, 1);
        }
        break;
      }
      case TraceEvent.WaitBegin: {
        const thread = a4;
        waitStart.set(thread, { ts: e.timeNs, req: a1, vmo: a0, off: a2, len: a3 });
        const id = flowId++;
        flows.push({ id, req: a1 });
        emit(`{"ph":"s","pid":1,"tid":${thread},"cat":"fault","id":${id},"name":"resolved","ts":${ts(e.timeNs)}}`);
        break;
      }
      case TraceEvent.WaitEnd: {
        const w = waitStart.get(a0);
        if (!w) break;
        waitStart.delete(a0);
        emit(`{"ph":"X","pid":1,"tid":${a0},"cat":"blocked","name":"blocked on page request","ts":${ts(w.ts)},"dur":${((e.timeNs - w.ts) / 1e3).toFixed(3)},"args":{"vmoKoid":${w.vmo},"page":${w.off},"pages":${w.len},"status":${a1}}}`);
        break;
      }
      case TraceEvent.Fail:
        emit(`{"ph":"i","s":"t","pid":1,"tid":${actorTid(actor)},"cat":"pager","name":"FAIL ${a3} [${a1},+${a2})","ts":${ts(e.timeNs)}}`);
        break;
      case TraceEvent.Evict:
        emit(`{"ph":"i","s":"p","pid":1,"tid":${actorTid(actor)},"cat":"memory","name":"evict koid ${a0} page ${a1}","ts":${ts(e.timeNs)}}`);
        break;
    }
  }
  // Requests that never completed (withdrawn or cancelled) end at the end of the run.
  const endTs = ts(r.startNs + r.durationMs * 1e6);
  for (const id of open) emit(`{"ph":"e","pid":1,"tid":${PAGER_TID},"cat":"request","id":"0x${id.toString(16)}","name":"","ts":${endTs},"args":{"status":"cancelled"}}`);
  const names: Record<number, string> = { [SpanKind.Read]: 'serve READ', [SpanKind.Dirty]: 'ack DIRTY', [SpanKind.Fail]: 'fail request', [SpanKind.Writeback]: 'writeback pass' };
  t.spans.forEach((spans, which) => {
    const tid = which === 0 ? PAGER_TID : WRITEBACK_TID;
    for (let i = 0; i + SPAN_F64 <= spans.length && spans[i] !== 0; i += SPAN_F64) {
      emit(`{"ph":"X","pid":1,"tid":${tid},"cat":"${which === 0 ? 'pager' : 'writeback'}","name":"${names[spans[i]!]}","ts":${ts(spans[i + 1]!)},"dur":${((spans[i + 2]! - spans[i + 1]!) / 1e3).toFixed(3)},"args":{"pages":${spans[i + 3]}}}`);
    }
  });
  fs.writeSync(fd, out.join(''));
  fs.writeSync(fd, `\n],"displayTimeUnit":"ms","otherData":{"seed":${r.seed},"droppedEvents":${t.dropped}}}\n`);
  fs.closeSync(fd);
  return count;
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
