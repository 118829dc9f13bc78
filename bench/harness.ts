// Shared benchmark plumbing: runs tinybench tasks side by side in one Bench (so a figure and its
// baseline see the same machine state) and reduces each to median and p99 in microseconds.

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
