// Shared benchmark plumbing: runs tinybench tasks side by side in one Bench (so a figure and its
// baseline see the same machine state) and reduces each to median and p99 in microseconds.

import inspector from 'node:inspector';
import os from 'node:os';
import { Bench } from 'tinybench';

export interface Figure {
  name: string;
  medianUs: number;
  p99Us: number;
  samples: number;
}

export interface MeasureOptions {
  /** Milliseconds each task runs (tinybench `time`). */
  timeMs?: number;
  warmupMs?: number;
}

export async function measure(tasks: Record<string, () => unknown>, options: MeasureOptions = {}): Promise<Record<string, Figure>> {
  const bench = new Bench({ time: options.timeMs ?? 500, warmupTime: options.warmupMs ?? 100 });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
  await bench.run();
  const out: Record<string, Figure> = {};
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`bench task ${task.name} ended ${r.state}`);
    out[task.name] = { name: task.name, medianUs: r.latency.p50 * 1000, p99Us: r.latency.p99 * 1000, samples: r.latency.samplesCount };
  }
  return out;
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `Node ${process.version}, ${os.cpus().length} vCPU (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`;
}

export function fmtUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(us < 10 ? 2 : 1)} µs`;
}

// ---- Additions for bench/run.ts (issue 6): samples taken outside tinybench, batched and partly timed tasks. ----

/** What a tinybench task may return to replace its measured duration (milliseconds). */
export interface Overridden {
  overriddenDuration: number;
  overriddenIterationCost: number;
}

/** Median and p99 (nearest rank) of raw samples in nanoseconds, as a Figure in microseconds. */
export function summarize(name: string, samplesNs: ArrayLike<number>): Figure {
  const sorted = Float64Array.from(samplesNs).sort();
  return { name, medianUs: quantile(sorted, 0.5) / 1000, p99Us: quantile(sorted, 0.99) / 1000, samples: sorted.length };
}

/** Nearest-rank quantile of an ascending array; NaN when empty. */
function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Monotonic milliseconds with sub-microsecond resolution (the clock every figure uses). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * A tinybench task that runs `fn` `n` times per sample and reports the mean per call: for work
 * shorter than the timer's own cost (docs/node-notes.md §1c). Medians and p99 are then over batch means.
 */
export function batched(fn: () => unknown, n: number): () => Overridden {
  return () => {
    const t0 = nowMs();
    for (let i = 0; i < n; i++) fn();
    const ms = nowMs() - t0;
    return { overriddenDuration: ms / n, overriddenIterationCost: ms };
  };
}

/**
 * A tinybench task whose sample is only part of the call: `fn` prepares untimed, runs the measured
 * part between nowMs() readings and returns that part's milliseconds.
 */
export function timedPart(fn: () => number): () => Overridden {
  return () => {
    const t0 = nowMs();
    const part = fn();
    return { overriddenDuration: part, overriddenIterationCost: nowMs() - t0 };
  };
}

export interface ProfileLine {
  /** function name and source file (path from the project root). */
  fn: string;
  /** Share of the profiled samples whose top frame was this function, in percent. */
  selfPct: number;
}

interface CpuProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/**
 * A CPU profile (V8 sampling profiler, through node:inspector in this very thread) of `work`, run
 * synchronously, reduced to the functions with the most self time. With `under`, only samples taken
 * inside a function of that name count (e.g. the syscall, not the untimed setup around it). Works
 * in workers too.
 */
export function profileTop(work: () => void, top = 8, intervalUs = 50, under?: string): ProfileLine[] {
  const session = new inspector.Session();
  session.connect();
  let profile: { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[] } | null = null;
  try {
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    session.post('Profiler.start');
    work();
    // A session connected to its own thread answers synchronously.
    session.post('Profiler.stop', (err, result) => {
      if (!err) profile = result.profile as unknown as typeof profile;
    });
  } finally {
    session.disconnect();
  }
  if (!profile) return [];
  const p = profile as { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(p.nodes.map((n) => [n.id, n] as const));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inside = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (nodes.get(at)!.callFrame.functionName === under) return true;
    return false;
  };
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = nodes.get(p.samples[i])!;
    const dt = p.timeDeltas[i] ?? 0;
    if (under !== undefined && !inside(n.id)) continue;
    const name = n.callFrame.functionName;
    const url = n.callFrame.url;
    // The profiler's own start/stop (inspector dispatch) and V8's bookkeeping are not the work.
    if (name === '(idle)' || name === '(program)' || name === '(root)' || name === 'profileTop' || url === 'node:inspector' || (name === 'dispatch' && url === '')) continue;
    const at = url.lastIndexOf('/dist/');
    // Compiled line numbers differ from the TypeScript's: name the source file only.
    const file = at >= 0 ? url.slice(at + 6).replace(/\.js$/, '.ts') : url.slice(url.lastIndexOf('/') + 1);
    const key = file ? `${name || '(anonymous)'} (${file})` : name || '(anonymous)';
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, t]) => ({ fn, selfPct: (100 * t) / total }));
}
