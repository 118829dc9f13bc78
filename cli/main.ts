#!/usr/bin/env node
// pagersim's command line: `pagersim stress` (the main job: concurrent faults against writeback
// with a checker), `pagersim demo` (a pager worker serving faulting threads). Flags and scenario
// files are validated with zod and rejected with a message that names the field.

import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { Kernel, ThreadPool, PAGE_SIZE, ZX_INFO_VMO } from '../core/index.js';
import { STOP_KEY, type PagerServiceConfig } from '../workers/pager_service.js';
import { parseStressArgs, stressMain } from './stress/command.js';

async function stress(argv: string[]): Promise<number> {
  const parsed = parseStressArgs(argv);
  if (typeof parsed === 'string') {
    console.error(`pagersim stress: ${parsed}`);
    return 2;
  }
  return stressMain(parsed);
}

const DemoFlags = z
  .object({
    threads: z.coerce.number().int().min(1).max(64).default(4),
    pages: z.coerce.number().int().min(1).max(1 << 20).default(1024),
    reads: z.coerce.number().int().min(1).max(10_000_000).default(2000),
  })
  .strict();

function parseFlags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    if (eq > 0) out[arg.slice(2, eq)] = arg.slice(eq + 1);
    else out[arg.slice(2)] = argv[++i] ?? '';
  }
  return out;
}

/** The demo VMO's port key (also the seed of its standard content, workers/pager_service.ts). */
const DEMO_KEY = 0x1000n;
/** Physical memory: room for twice the VMO, and never less than twice this many pages. */
const DEMO_MIN_FRAMES = 256;
/** The pager service's counter words (PagerServiceConfig.counters): four Int32s. */
const COUNTER_WORDS = 4;
const COUNTER_READS_SERVED = 0;
const COUNTER_PAGES_SUPPLIED = 1;
/** Each faulting thread's PRNG seed: this constant mixed with the thread number. */
const DEMO_SEED = 0x9e3779b9;

async function demo(argv: string[]): Promise<number> {
  const parsed = DemoFlags.safeParse(parseFlags(argv));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    console.error(`pagersim demo: --${issue.path.join('.') || '?'}: ${issue.message}`);
    return 2;
  }
  const { threads, pages, reads } = parsed.data;
  const kernel = Kernel.create({ physicalMemory: Math.max(pages, DEMO_MIN_FRAMES) * PAGE_SIZE * 2 });
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const key = DEMO_KEY;
  const vmo = sys.pagerCreateVmo(pager, 0, port, key, pages * PAGE_SIZE);
  const counters = new SharedArrayBuffer(COUNTER_WORDS * 4);
  const service: PagerServiceConfig = { share: kernel.shareable(), pager, port, vmos: [{ key, handle: vmo }], counters };
  const worker = new Worker(new URL('../workers/pager_service.js', import.meta.url), { workerData: { pagerService: service }, execArgv: [] });
  const pool = new ThreadPool(kernel, { maxThreads: threads });
  const started = performance.now();
  const module = new URL('./demo_thread.js', import.meta.url);
  const ts = Array.from({ length: threads }, (_, i) =>
    pool.spawn({ module, export: 'readRandomPages' }, { vmo, key, pages, reads, seed: DEMO_SEED ^ (i + 1) }),
  );
  const results = (await Promise.all(ts.map((t) => t.join()))) as Array<{ reads: number; mismatches: number }>;
  const ms = performance.now() - started;
  sys.portQueue(port, { key: STOP_KEY });
  await new Promise((resolve) => worker.once('exit', resolve));
  await pool.close();
  const c = new Int32Array(counters);
  const mismatches = results.reduce((n, r) => n + r.mismatches, 0);
  const totalReads = results.reduce((n, r) => n + r.reads, 0);
  const info = sys.objectGetInfo(vmo, ZX_INFO_VMO);
  console.log(`pagersim demo: ${threads} faulting threads, ${pages}-page pager VMO, one pager worker`);
  console.log(`  reads verified     ${totalReads} (${mismatches} mismatched words)`);
  console.log(`  READ requests      ${c[COUNTER_READS_SERVED]} served, ${c[COUNTER_PAGES_SUPPLIED]} pages supplied`);
  console.log(`  committed          ${info.committedBytes / PAGE_SIZE} pages`);
  console.log(`  elapsed            ${ms.toFixed(0)} ms (${((c[COUNTER_READS_SERVED] / ms) * 1000).toFixed(0)} faults/s)`);
  kernel.close();
  return mismatches === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const [command = 'stress', ...rest] = process.argv.slice(2);
  switch (command) {
    case 'stress':
      return stress(rest);
    case 'demo':
      return demo(rest);
    default:
      console.error(`pagersim: unknown command '${command}' (available: stress, demo)`);
      return 2;
  }
}

process.exitCode = await main();
