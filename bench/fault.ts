// Cross-thread figures (issue 6): the fault round trip against an Atomics.wait/notify ping-pong, at
// several spin budgets, and fault throughput with 1..8 faulting threads and one pager. Every thread
// is its own Worker (bench/bench_worker.ts); this module only spawns, releases and collects them,
// and the main thread sleeps in its event loop meanwhile (it takes no CPU from the two cores).
// Every kernel is closed and every worker has exited when a function here returns or throws.

import { Worker } from 'node:worker_threads';
import { Kernel, PAGE_SIZE, type KernelShare } from '../core/index.js';
import { H_HANDLE_LOCK, H_HEAP_LOCK, H_PMM_LOCK, H_VMAR_LOCK, O_LOCK, OBJ_WORDS, ObjType, PT_SEQ, R_EVENT, THREAD_WORDS } from '../shared/layout.js';
import { C_GO, C_STOP, CTL_WORDS, STOP_KEY, type BenchJob, type BenchResult, type FaulterResult, type PagerResult, type PingPongResult } from './bench_worker.js';

const WORKER_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_URL = new URL(`./bench_worker${WORKER_EXT}`, import.meta.url);
/** A batch that takes longer than this is a hang: its workers are terminated and the run fails. */
const BATCH_TIMEOUT_MS = 60_000;

interface Spawned {
  worker: Worker;
  ready: Promise<void>;
  result: Promise<BenchResult>;
  exited: Promise<number>;
}

/**
 * The parent's Node options minus module loaders and hooks: compiled JS needs none, and tap's
 * inherited --import hooks make each worker start 3-4x slower. Other flags (e.g. --cpu-prof) stay.
 */
function withoutHooks(args: readonly string[]): string[] {
  const out: string[] = [];
  const hooks = ['--import', '--require', '-r', '--loader', '--experimental-loader'];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (hooks.includes(a.replace(/^["']/, '').split('=')[0])) {
      if (!a.includes('=')) i++; // the value is the next argument
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Worker options: no inherited loaders (neither in execArgv nor in NODE_OPTIONS, which workers also read). */
function workerOptions(): { execArgv: string[]; env?: NodeJS.ProcessEnv } {
  if (WORKER_EXT === '.ts') return { execArgv: process.execArgv };
  const nodeOptions = process.env.NODE_OPTIONS;
  if (!nodeOptions) return { execArgv: withoutHooks(process.execArgv) };
  // NODE_OPTIONS tokens may be quoted ("--import=file:///..." is how tap sets it).
  const tokens = nodeOptions.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  return { execArgv: withoutHooks(process.execArgv), env: { ...process.env, NODE_OPTIONS: withoutHooks(tokens).join(' ') } };
}

function spawn(job: BenchJob): Spawned {
  const worker = new Worker(WORKER_URL, { workerData: { benchJob: job }, ...workerOptions() });
  let onReady!: () => void;
  let onResult!: (r: BenchResult) => void;
  let onError!: (e: unknown) => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<BenchResult>((resolve, reject) => {
    onResult = resolve;
    onError = reject;
  });
  worker.on('message', (m: { type: string; result?: BenchResult }) => {
    if (m.type === 'ready') onReady();
    else if (m.type === 'result') onResult(m.result!);
  });
  worker.on('error', (e) => onError(e));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  void exited.then((code) => onError(new Error(`bench worker (${job.role}) exited with code ${code} before its result`)));
  // A failure before 'ready' must not leave the barrier waiting forever.
  void result.catch(() => onReady());
  return { worker, ready, result, exited };
}

/**
 * Runs a set of workers to completion: all reach the barrier, the main thread releases them, then
 * `during` gets each worker's result promise (in job order) and returns the batch's value.
 */
async function runWorkers<T>(jobs: BenchJob[], ctl: Int32Array, during: (results: Array<Promise<BenchResult>>) => Promise<T>): Promise<T> {
  const spawned = jobs.map(spawn);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bench batch (${jobs.map((j) => j.role).join(', ')}) took over ${BATCH_TIMEOUT_MS} ms`)), BATCH_TIMEOUT_MS);
    });
    // Any worker failing fails the batch at once, even while others still wait.
    const failed = new Promise<never>((_, reject) => {
      for (const s of spawned) s.result.catch(reject);
    });
    await Promise.race([Promise.all(spawned.map((s) => s.ready)), timeout, failed]);
    Atomics.store(ctl, C_GO, 1);
    Atomics.notify(ctl, C_GO);
    return await Promise.race([during(spawned.map((s) => s.result)), timeout, failed]);
  } finally {
    clearTimeout(timer);
    // Workers that returned exit by themselves; one still running (after a failure) is terminated.
    await Promise.all(
      spawned.map(async (s) => {
        const gone = await Promise.race([s.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
        if (!gone) await s.worker.terminate();
      }),
    );
  }
}

/** Names the kernel word behind each `index:outcome` key the worker's Atomics.wait counter kept. */
function labelWaits(kernel: Kernel, raw: Record<string, number>): Record<string, number> {
  const state = kernel.state;
  const L = state.layout;
  const headerLocks: Record<number, string> = { [H_HANDLE_LOCK]: 'handle table lock', [H_PMM_LOCK]: 'frame pool lock', [H_HEAP_LOCK]: 'kernel heap lock', [H_VMAR_LOCK]: 'vmar lock' };
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(raw)) {
    const [at, outcome] = key.split(':') as [string, string];
    const i = Number(at);
    let label = `word ${i}`;
    if (headerLocks[i]) label = headerLocks[i];
    else if (i >= L.objects && i < L.threads && L.threads > L.objects) {
      const rel = (i - L.objects) % OBJ_WORDS;
      const type = state.objects.type((i - L.objects - rel) / OBJ_WORDS);
      const name = type === ObjType.Port ? 'port' : type === ObjType.Pager ? 'pager' : 'VMO';
      if (rel === O_LOCK) label = `${name} lock`;
      else if (rel === PT_SEQ && type === ObjType.Port) label = 'port queue (portWait)';
    } else if (i >= L.threads && (i - L.threads) % THREAD_WORDS === R_EVENT) label = 'own page request (R_EVENT)';
    const k = outcome === 'ok' ? label : `${label} [${outcome}]`;
    out[k] = (out[k] ?? 0) + n;
  }
  return out;
}

/** ns per Atomics.load poll in a tight loop on this machine: converts a poll budget into time. */
export function nsPerPoll(): number {
  const a = new Int32Array(new SharedArrayBuffer(64));
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    let s = 0;
    while (s < n && Atomics.load(a, 0) === 0) s++;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
}

export async function pingPong(spin: number, count: number, warmup: number): Promise<Float64Array> {
  const ctl = new SharedArrayBuffer(CTL_WORDS * 4);
  const jobs: BenchJob[] = [
    { role: 'ping', ctl, spin, warmup, count },
    { role: 'pong', ctl, spin, warmup, count },
  ];
  return runWorkers(jobs, new Int32Array(ctl), async ([ping]) => ((await ping!) as PingPongResult).samplesNs!);
}

export interface FaultRun {
  /** phases: Atomics.wait calls of the pager and of the faulters (summed), by what they waited on. */
  waits: { pager: Record<string, number>; faulters: Record<string, number> } | null;
  faulters: FaulterResult[];
  pager: PagerResult;
  /** Faults per second over the timed window (first faulter start to last faulter stop). */
  faultsPerSec: number;
  windowSec: number;
  samplesNs: Float64Array;
}

export interface FaultRunOptions {
  /** Kernel waitSpin (the faulting threads' polls before parking) and the pager's spin budget. */
  spin: number;
  /** How the pager spins (bench_worker.ts PagerJob.spinMode); default 'peek'. */
  pagerSpinMode?: 'peek' | 'syscall';
  /** For 'syscall': ns per Atomics.load poll, to turn `spin` polls into a time budget. */
  nsPerPoll?: number;
  faulters: number;
  warmup: number;
  /** Timed faults per faulter (count mode), or the most samples kept per faulter (timed mode). */
  count: number;
  /** Timed mode: faulters run until this many ms after release. */
  durationMs?: number;
  phases?: boolean;
  /** CPU profiles of the pager and the faulting threads (diagnostic runs only). */
  profile?: boolean;
  pagesPerVmo?: number;
}

export async function faultRun(o: FaultRunOptions): Promise<FaultRun> {
  const pagesPerVmo = o.pagesPerVmo ?? 512;
  // Each faulter holds at most two VMOs' pages (the closing one and the new one) plus slack.
  const physicalMemory = Math.max(32, o.faulters * 3 * pagesPerVmo * PAGE_SIZE / 2 ** 20 + 16) * 2 ** 20;
  const kernel = Kernel.create({ physicalMemory, waitSpin: o.spin, maxThreads: 64 });
  try {
    const sys = kernel.sys;
    const pager = sys.pagerCreate(0);
    const port = sys.portCreate(0);
    const ctl = new SharedArrayBuffer(CTL_WORDS * 4);
    const ctlWords = new Int32Array(ctl);
    const jobs = faultRunJobs(o, { ctl, share: kernel.shareable(), pager, port, pagesPerVmo });
    const [pagerResult, ...faulterResults] = await runWorkers(jobs, ctlWords, async ([pagerDone, ...faultersDone]) => {
      if (o.durationMs !== undefined) {
        await new Promise((r) => setTimeout(r, o.durationMs));
        Atomics.store(ctlWords, C_STOP, 1);
      }
      const faulters = (await Promise.all(faultersDone)) as FaulterResult[];
      sys.portQueue(port, { key: STOP_KEY }); // the pager stops once every faulter is done
      return [(await pagerDone) as PagerResult, ...faulters] as const;
    });
    return faultRunResult(kernel, pagerResult as PagerResult, faulterResults as FaulterResult[], o.phases ?? false);
  } finally {
    kernel.close();
  }
}

/** The pager's job first, then one per faulting thread. */
function faultRunJobs(o: FaultRunOptions, c: { ctl: SharedArrayBuffer; share: KernelShare; pager: number; port: number; pagesPerVmo: number }): BenchJob[] {
  const phases = o.phases ?? false;
  const profile = o.profile ?? false;
  const jobs: BenchJob[] = [
    {
      role: 'pager',
      ctl: c.ctl,
      phases,
      share: c.share,
      pager: c.pager,
      port: c.port,
      spinMode: o.pagerSpinMode ?? 'peek',
      spin: o.spin,
      spinNs: o.spin * (o.nsPerPoll ?? 10),
      // A counted run gets all its content committed before the start; a timed one re-commits 4 MiB at a time.
      auxPages: o.durationMs === undefined ? o.faulters * (o.warmup + o.count) : 1024,
      profile,
    },
  ];
  for (let i = 0; i < o.faulters; i++) {
    jobs.push({ role: 'faulter', ctl: c.ctl, phases, share: c.share, pager: c.pager, port: c.port, index: i, pagesPerVmo: c.pagesPerVmo, warmup: o.warmup, count: o.count, untilStop: o.durationMs !== undefined, profile });
  }
  return jobs;
}

/** Checks the content every fault read, then sums the faults, samples and waits of the run. */
function faultRunResult(kernel: Kernel, pager: PagerResult, faulters: FaulterResult[], phases: boolean): FaultRun {
  const bad = faulters.reduce((n, f) => n + f.badContent, 0);
  if (bad > 0) throw new Error(`fault bench: ${bad} faults read a page without the pager's content`);
  let first = faulters[0].startNs;
  let last = faulters[0].stopNs;
  for (const f of faulters) {
    if (f.startNs < first) first = f.startNs;
    if (f.stopNs > last) last = f.stopNs;
  }
  const faults = faulters.reduce((n, f) => n + f.faults, 0);
  let waits: FaultRun['waits'] = null;
  if (phases) {
    const faulterWaits: Record<string, number> = {};
    for (const f of faulters) for (const [k, n] of Object.entries(labelWaits(kernel, f.waits ?? {}))) faulterWaits[k] = (faulterWaits[k] ?? 0) + n;
    waits = { pager: labelWaits(kernel, pager.waits ?? {}), faulters: faulterWaits };
  }
  const windowSec = Number(last - first) / 1e9;
  return { waits, faulters, pager, faultsPerSec: faults / windowSec, windowSec, samplesNs: concatSamples(faulters.map((f) => f.samplesNs)) };
}

/** The arrays end to end, in one Float64Array. */
export function concatSamples(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}
