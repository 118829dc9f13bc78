// `npm run bench` (after `npm run build`): every benchmark of issue 6, each figure side by side with
// its physical baseline measured in the same run, then a table on stdout and bench/RESULTS.md +
// bench/results.json. `runAll({ quick: true })` runs every suite once with tiny counts (a smoke test:
// it returns the report and writes nothing).
//
// Figures: fault round trip vs an Atomics.wait/notify ping-pong (at several kernel waitSpin values),
// fault throughput with 1..8 faulting threads, pagerSupplyPages of 1 MiB vs a 1 MiB copy, vmoRead of
// a present page vs a 4 KiB copy, pagerQueryDirtyRanges vs a per-page scan, futex lock+unlock vs a
// compareExchange pair. Where a figure misses its target the report says where the time goes: the
// fault path's phase split and lock parks, or a CPU profile of the operation alone.

import fs from 'node:fs';
import os from 'node:os';
import { concatSamples, faultRun, nsPerPoll, pingPong, type FaultRun } from './fault.js';
import { fmtUs, machineLine, profileTop, summarize, type Figure, type ProfileLine } from './harness.js';
import { benchFutex, benchRead, benchSupply, type MicroOptions, type PairResult } from './micro.js';
import { runQueryBench } from './query_dirty_ranges.js';

export interface RunOptions {
  /** Tiny iteration counts: every suite once, for a smoke test (figures are meaningless). */
  quick?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface Baseline {
  name: string;
  medianUs: number;
  p99Us: number;
  samples: number;
}

export interface FigureRow {
  id: string;
  figure: string;
  medianUs: number;
  p99Us: number;
  samples: number;
  baseline: Baseline;
  /** figure median / baseline median (and the same for p99). */
  ratio: number;
  p99Ratio: number;
  /** The target on `ratio`, e.g. 1.3 for "median <= 1.3x the baseline". */
  targetRatio: number;
  target: string;
  met: boolean;
  /** What the run found about where the time goes (always for misses; also for the fault path). */
  notes: string[];
}

export interface ThroughputRow {
  waitSpin: number;
  threads: number;
  faultsPerSec: number;
  faults: number;
  /** Per-fault latency over every faulting thread. */
  medianUs: number;
  p99Us: number;
}

export interface ThroughputVerdict {
  waitSpin: number;
  risesFrom1To2: boolean;
  /** Faults/s at 8 threads over the best of 1, 2 and 4 (collapse: below 0.5). */
  at8OverBest: number;
  noCollapseAt8: boolean;
  met: boolean;
  /** For a miss: Atomics.wait calls per fault in diagnostic runs at 1, 2 and 8 threads. */
  notes: string[];
}

export interface WaitSpinAdvice {
  current: number;
  recommended: number;
  reasons: string[];
}

export interface BenchReport {
  machine: string;
  node: string;
  date: string;
  quick: boolean;
  /** os.loadavg() when the run began and when it ended (other users of the machine add noise). */
  loadAvgStart: number[];
  loadAvgEnd: number[];
  durationMs: number;
  nsPerPoll: number;
  figures: FigureRow[];
  throughput: ThroughputRow[];
  throughputVerdicts: ThroughputVerdict[];
  waitSpin: WaitSpinAdvice;
  /** An earlier run shown beside this one (`--compare results.json --label text`): before/after a change. */
  earlier?: { label: string; report: BenchReport };
}

interface Plan {
  quick: boolean;
  spins: number[];
  rounds: number;
  faults: number;
  warmup: number;
  diagFaults: number;
  throughputSpins: number[];
  threads: number[];
  throughputMs: number;
  micro: MicroOptions;
  queryMs: number;
  queryBatch: number;
  profileMs: number;
}

const FULL: Plan = {
  quick: false,
  spins: [0, 1000, 5000],
  rounds: 5,
  faults: 4000,
  warmup: 400,
  diagFaults: 2000,
  throughputSpins: [0, 1000, 5000],
  threads: [1, 2, 4, 8],
  throughputMs: 1500,
  micro: { timeMs: 1500, warmupMs: 200, batch: 200 },
  queryMs: 1000,
  queryBatch: 20,
  profileMs: 300,
};

/** The same suites with tiny counts. */
const QUICK: Plan = {
  ...FULL,
  quick: true,
  rounds: 1,
  faults: 100,
  warmup: 20,
  diagFaults: 50,
  throughputMs: 40,
  micro: { timeMs: 20, warmupMs: 5, batch: 10 },
  queryMs: 20,
  queryBatch: 2,
  profileMs: 10,
};

const CURRENT_WAIT_SPIN_DEFAULT = 0; // core/kernel.ts KernelOptionsSchema.waitSpin

/** The fault round trip's target: its median at most this many times the ping-pong's. */
const FAULT_RTT_TARGET_RATIO = 1.3;
/** Throughput collapses at 8 threads below this share of the best of 1, 2 and 4. */
const NO_COLLAPSE_SHARE = 0.5;
/** A spin budget must cut waitSpin 0's median and p99 to this share (10% lower) to be advised... */
const SPIN_MUST_BEAT = 0.9;
/** ...and keep the 8-thread per-fault p99 within this factor of waitSpin 0's. */
const SPIN_P99_LIMIT = 1.5;
/** Lock parks per fault from which the diagnosis says where they come from. */
const LOCK_PARKS_WORTH_NOTING = 0.05;

function row(id: string, figure: Figure, baseline: Figure, targetRatio: number, target: string, notes: string[] = []): FigureRow {
  const ratio = figure.medianUs / baseline.medianUs;
  return {
    id,
    figure: figure.name,
    medianUs: figure.medianUs,
    p99Us: figure.p99Us,
    samples: figure.samples,
    baseline: { name: baseline.name, medianUs: baseline.medianUs, p99Us: baseline.p99Us, samples: baseline.samples },
    ratio,
    p99Ratio: figure.p99Us / baseline.p99Us,
    targetRatio,
    target,
    met: ratio <= targetRatio,
    notes,
  };
}

function profileNote(label: string, lines: ProfileLine[]): string {
  const top = lines.filter((l) => l.selfPct >= 1).slice(0, 8);
  // The bench worker counts Atomics.wait calls through a wrapper, which the profiler names.
  const name = (fn: string): string => (fn.startsWith('Atomics.wait') ? 'Atomics.wait (parked)' : fn);
  return `${label}: ${top.map((l) => `${name(l.fn)} ${l.selfPct.toFixed(0)}%`).join(', ') || '(no samples)'}`;
}

const med = (xs: ArrayLike<number>): number => summarize('', xs).medianUs;

/** Atomics.wait calls per fault of a diagnostic run, by the kernel word waited on. */
function waitsNote(diag: FaultRun): string {
  if (!diag.waits) return '';
  const faults = Math.max(1, diag.pager.reads);
  const fmt = (m: Record<string, number>): string =>
    Object.entries(m)
      .filter(([, n]) => n / faults >= 0.005)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${(n / faults).toFixed(2)}`)
      .join(', ');
  return `Atomics.wait calls per fault — faulting threads: ${fmt(diag.waits.faulters) || 'none'}; pager: ${fmt(diag.waits.pager) || 'none'}.`;
}

/** Lock parks per fault of a diagnostic run (waits on anything but the own request and the port queue). */
function lockParksPerFault(diag: FaultRun): number {
  if (!diag.waits) return 0;
  let n = 0;
  for (const m of [diag.waits.faulters, diag.waits.pager]) for (const [k, c] of Object.entries(m)) if (k.includes('lock') && !k.includes('[')) n += c;
  return n / Math.max(1, diag.pager.reads);
}

// ---- Diagnoses: what a profile's or a diagnostic run's signature means (findings of issue 6's
// investigation), added under a missed figure when the signature shows up in this run.

const PROFILE_DIAGNOSES: Array<{ fn: string; minPct: number; text: string }> = [
  {
    fn: 'forEachDirtyRun (core/vm/page_list.ts)',
    minPct: 50,
    text:
      'Diagnosis: the walk is O(nodes on dirty paths + runs) as designed, so the two VMOs differ in nodes visited, not in runs: in the 4 GiB VMO the 1,000 runs (one per 1,048 pages) lie in 1,000 distinct leaves under about 1,000 distinct level-1 nodes (a tree of height 4), about 2,000 nodes; in the 16 MiB VMO (a run every 4 pages) they share 125 leaves under 4 level-1 nodes, about 130 nodes. ' +
      'The difference of the medians is that many more node reads, each a likely cache miss on the shared node heap. No per-page work is involved; the 2× bound is tight for this layout.',
  },
];

function diagnoseProfile(lines: ProfileLine[]): string[] {
  const out: string[] = [];
  for (const d of PROFILE_DIAGNOSES) {
    const hit = lines.find((l) => l.fn === d.fn);
    if (hit && hit.selfPct >= d.minPct) out.push(d.text);
  }
  return out;
}

/** Functions whose self time is mostly Atomics.notify, i.e. waking a parked thread (a futex system call). */
const WAKERS = ['#flushWakes', 'wakeAfterUnlock', 'signalLocked', 'appendLocked', 'futexWake'];

function wakeShare(lines: ProfileLine[] | undefined): number {
  return (lines ?? []).filter((l) => WAKERS.some((w) => l.fn.startsWith(`${w} `))).reduce((n, l) => n + l.selfPct, 0);
}

function diagnoseFault(spin: number, fault: Figure, pp: Figure, diag: FaultRun, profiled: FaultRun): string[] {
  const out: string[] = [];
  const parks = lockParksPerFault(diag);
  if (parks >= LOCK_PARKS_WORTH_NOTING) {
    // The kernel defers its wake-ups until the waker drops its last object lock (KernelState.wakeAfterUnlock).
    out.push(
      `Diagnosis: ${parks.toFixed(2)} extra parks per fault on kernel locks (listed above). Both threads take the same port and VMO locks around each hand-off; a thread that finds one taken spins 64 polls (shared/futex.ts mutexLock) and then parks, and its wake-up costs one more cross-core hand-off.`,
    );
  }
  out.push(
    `Diagnosis: the fault's median is ${fmtUs(fault.medianUs - pp.medianUs)} above the ping-pong's. Both pay the same two hand-offs (one notify and one wake-up each way); the difference is the kernel work on the critical path between them — ` +
      "the faulting thread's vmoRead up to posting the packet, the pager's portWait and pagerSupplyPages, and the end of vmoRead after the wake-up — which the phase split above places, plus the kernel's shared words moving between the two cores on every fault.",
  );
  const wf = wakeShare(profiled.faulters[0].profile);
  const wp = wakeShare(profiled.pager.profile);
  if (wf + wp >= 10) {
    out.push(
      `Diagnosis: apart from waiting, the largest item in both profiles is waking the other thread: ${wf.toFixed(0)}% of the faulting thread's and ${wp.toFixed(0)}% of the pager's profiled time (${WAKERS.join(' / ')}: Atomics.notify of a parked thread, a futex system call that takes microseconds on this VM). The ping-pong pays the same notify per hand-off, so this part is not the excess; the kernel functions after it in the profiles are.`,
    );
  }
  if (spin > 0 && pp.medianUs < 2) {
    out.push(
      `Diagnosis: with both sides spinning the baseline is a cache-line hand-off (${fmtUs(pp.medianUs)}), while a fault is a syscall path on each thread (the faulting vmoRead with request and packet, the pager's portWait and supply); a ratio near 1.3× is out of reach by construction, and the fault's absolute time (${fmtUs(fault.medianUs)}) is the number to compare with parking at once.`,
    );
  }
  return out;
}

/** The diagnostic run's phase split and parks, as report lines. */
function faultPathNotes(diag: FaultRun, profiled: FaultRun): string[] {
  const f = diag.faulters[0];
  const p = diag.pager;
  const notes: string[] = [];
  if (f.beginNs && f.endNs && p.dequeuedNs && p.suppliedNs) {
    const n = Math.min(f.beginNs.length, p.dequeuedNs.length);
    const request = new Float64Array(n);
    const supply = new Float64Array(n);
    const wake = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      request[i] = p.dequeuedNs[i] - f.beginNs[i];
      supply[i] = p.suppliedNs[i] - p.dequeuedNs[i];
      wake[i] = f.endNs[i] - p.suppliedNs[i];
    }
    const total = med(request) + med(supply) + med(wake);
    const pct = (x: number): string => `${((100 * x) / total).toFixed(0)}%`;
    notes.push(
      `phase split (a separate diagnostic run of ${n} faults with clock readings in both threads; medians, which sum to ${fmtUs(total)} in that run): ` +
        `faulting thread enters vmoRead → packet in the pager's hands ${fmtUs(med(request))} (${pct(med(request))}: the fault path up to posting the packet, the pager's wake-up, its portWait); ` +
        `pagerSupplyPages ${fmtUs(med(supply))} (${pct(med(supply))}: includes waking the faulting thread); supply returned → faulting thread out of vmoRead ${fmtUs(med(wake))} (${pct(med(wake))}).`,
    );
  }
  if (diag.waits) notes.push(waitsNote(diag));
  if (p.polls > 0) notes.push(`pager: ${(p.polls / Math.max(1, p.reads)).toFixed(0)} polls of the empty port and ${(p.parks / Math.max(1, p.reads)).toFixed(2)} spins that ran out (then a blocking portWait) per request.`);
  const fp = profiled.faulters[0].profile;
  const pp = profiled.pager.profile;
  if (fp) notes.push(profileNote('faulting thread CPU profile (a separate run; self time)', fp));
  if (pp) notes.push(profileNote('pager thread CPU profile (same run; self time)', pp));
  return notes;
}

async function faultSuite(plan: Plan, npp: number, log: (s: string) => void): Promise<{ rows: FigureRow[]; byspin: Map<number, { fault: Figure; pp: Figure }> }> {
  const pp = new Map<number, Float64Array[]>();
  const fault = new Map<number, Float64Array[]>();
  for (const s of plan.spins) {
    pp.set(s, []);
    fault.set(s, []);
  }
  // Rounds interleave the figure and its baseline so that a noisy moment hits both.
  for (let r = 0; r < plan.rounds; r++) {
    for (const spin of plan.spins) {
      log(`fault round trip: round ${r + 1}/${plan.rounds}, waitSpin ${spin}`);
      pp.get(spin)!.push(await pingPong(spin, plan.faults, plan.warmup));
      const run = await faultRun({ spin, faulters: 1, warmup: plan.warmup, count: plan.faults, pagesPerVmo: plan.warmup + plan.faults });
      fault.get(spin)!.push(run.samplesNs);
    }
  }
  const rows: FigureRow[] = [];
  const byspin = new Map<number, { fault: Figure; pp: Figure }>();
  for (const spin of plan.spins) {
    log(`fault round trip: diagnostic runs (phase split and parks; then CPU profiles), waitSpin ${spin}`);
    const diag = await faultRun({ spin, faulters: 1, warmup: plan.warmup, count: plan.diagFaults, pagesPerVmo: plan.warmup + plan.diagFaults, phases: true });
    // Profiled separately: the sampling profiler slows both threads and would distort the phases.
    const profiled = await faultRun({ spin, faulters: 1, warmup: plan.warmup, count: plan.diagFaults, pagesPerVmo: plan.warmup + plan.diagFaults, profile: true });
    const fig = summarize(`fault round trip, waitSpin ${spin}`, concatSamples(fault.get(spin)!));
    const base = summarize(`Atomics.wait/notify ping-pong, spin ${spin}`, concatSamples(pp.get(spin)!));
    byspin.set(spin, { fault: fig, pp: base });
    const notes = faultPathNotes(diag, profiled);
    if (fig.medianUs / base.medianUs > FAULT_RTT_TARGET_RATIO) notes.push(...diagnoseFault(spin, fig, base, diag, profiled));
    if (spin > 0) {
      log(`fault round trip: diagnostic run (pager polls portWait(0) instead), waitSpin ${spin}`);
      const viaSyscall = await faultRun({ spin, faulters: 1, warmup: plan.warmup, count: plan.diagFaults, pagesPerVmo: plan.warmup + plan.diagFaults, pagerSpinMode: 'syscall', nsPerPoll: npp });
      const alt = summarize('', viaSyscall.samplesNs);
      notes.unshift(
        `both sides spin ${spin} polls before parking: the faulting thread through the kernel's waitSpin, the pager on the port's queue-head word before a blocking portWait (a read-only peek: portWait itself does not spin), the ping-pong threads on their word. ` +
          `The API-only alternative — the pager polling portWait with a 0 deadline for the same time (${spin} × ${npp.toFixed(1)} ns), each empty poll throwing ZX_ERR_TIMED_OUT at about 2 µs — gave a median of ${fmtUs(alt.medianUs)} and p99 of ${fmtUs(alt.p99Us)} (${alt.samples} faults, a separate run).`,
      );
    }
    rows.push(row(`fault-rtt-spin${spin}`, fig, base, FAULT_RTT_TARGET_RATIO, `median ≤ ${FAULT_RTT_TARGET_RATIO}× ping-pong`, notes));
  }
  return { rows, byspin };
}

async function throughputSuite(plan: Plan, log: (s: string) => void): Promise<{ rows: ThroughputRow[]; verdicts: ThroughputVerdict[] }> {
  const rows: ThroughputRow[] = [];
  const verdicts: ThroughputVerdict[] = [];
  // Two rounds of half the time each, every spin value next to the others for each thread count, so
  // that a noisy stretch of the shared machine does not land on one configuration only.
  const acc = new Map<string, { faults: number; seconds: number; samples: Float64Array[] }>();
  for (let round = 0; round < 2; round++) {
    for (const threads of plan.threads) {
      for (const spin of plan.throughputSpins) {
        log(`fault throughput: round ${round + 1}/2, ${threads} faulting thread(s), waitSpin ${spin}`);
        const run = await faultRun({ spin, faulters: threads, warmup: Math.ceil(plan.warmup / 4), count: 100_000, durationMs: plan.throughputMs / 2 });
        const faults = run.faulters.reduce((n, f) => n + f.faults, 0);
        const a = acc.get(`${spin}/${threads}`) ?? { faults: 0, seconds: 0, samples: [] };
        a.faults += faults;
        a.seconds += run.windowSec;
        a.samples.push(run.samplesNs);
        acc.set(`${spin}/${threads}`, a);
      }
    }
  }
  for (const spin of plan.throughputSpins) {
    const mine: ThroughputRow[] = [];
    for (const threads of plan.threads) {
      const a = acc.get(`${spin}/${threads}`)!;
      const lat = summarize('', concatSamples(a.samples));
      mine.push({ waitSpin: spin, threads, faultsPerSec: a.faults / a.seconds, faults: a.faults, medianUs: lat.medianUs, p99Us: lat.p99Us });
    }
    rows.push(...mine);
    const at = (t: number): number => mine.find((r) => r.threads === t)?.faultsPerSec ?? NaN;
    const best = Math.max(...mine.filter((r) => r.threads < 8).map((r) => r.faultsPerSec));
    const risesFrom1To2 = at(2) > at(1);
    const at8OverBest = at(8) / best;
    const noCollapseAt8 = at8OverBest >= NO_COLLAPSE_SHARE;
    const notes: string[] = [];
    if (!(risesFrom1To2 && noCollapseAt8) && !plan.quick) {
      for (const threads of [1, 2, 8]) {
        log(`fault throughput: diagnostic run (lock parks), waitSpin ${spin}, ${threads} thread(s)`);
        const diag = await faultRun({ spin, faulters: threads, warmup: 0, count: 200_000, durationMs: Math.ceil(plan.throughputMs / 3), phases: true });
        notes.push(`${threads} thread(s), ${diag.faultsPerSec.toFixed(0)} faults/s — ${waitsNote(diag)}`);
      }
      if (!risesFrom1To2) {
        notes.push(
          'Diagnosis: one pager serves every fault, so a second faulting thread adds throughput only when the pager finds the next packet already queued as it finishes one, instead of parking on the port and being woken again; the pager’s port-queue parks and the lock parks per fault above show how often each hand-off still cost a wake-up.',
        );
      }
      if (!noCollapseAt8) {
        notes.push(
          `Diagnosis: 8 faulting threads and the pager are 9 runnable threads on ${os.cpus().length} vCPUs.${spin > 0 ? ' With waitSpin > 0 a thread spins through its budget while the thread it waits for (often the pager) is descheduled, so the spinning takes CPU from the very thread that would end the wait (docs/node-notes.md §2f).' : ' Every hand-off that finds its peer descheduled waits for a time slice.'}`,
        );
      }
    }
    verdicts.push({ waitSpin: spin, risesFrom1To2, at8OverBest, noCollapseAt8, met: risesFrom1To2 && noCollapseAt8, notes });
  }
  return { rows, verdicts };
}

async function microSuite(plan: Plan, log: (s: string) => void): Promise<FigureRow[]> {
  const rows: FigureRow[] = [];
  const one = async (id: string, make: (o: MicroOptions) => Promise<PairResult>, targetRatio: number, target: string): Promise<void> => {
    log(`micro: ${id}`);
    const r = await make(plan.micro);
    try {
      const fr = row(id, r.figure, r.baseline, targetRatio, target);
      if (!fr.met) {
        const label = `CPU profile of ${r.profileUnder ? `${r.profileUnder} (setup excluded)` : 'the operation alone'}, self time`;
        const lines = profileTop(() => r.repeat(plan.profileMs), 10, 50, r.profileUnder);
        fr.notes.push(profileNote(label, lines), ...diagnoseProfile(lines));
      }
      rows.push(fr);
    } finally {
      r.close();
    }
  };
  await one('supply-1mib', benchSupply, 0.25, 'median ≤ 0.25× (supply moves frames)');
  await one('vmo-read-4k', benchRead, 3, 'median ≤ 3×');
  await one('futex-lock-unlock', benchFutex, 2, 'median ≤ 2×');
  return rows;
}

async function querySuite(plan: Plan, log: (s: string) => void): Promise<FigureRow[]> {
  log('pagerQueryDirtyRanges (bench/query_dirty_ranges.ts)');
  const { figures, profiles } = await runQueryBench(plan.queryMs, { batch: plan.queryBatch, profileMs: plan.profileMs });
  const f = (n: string): Figure => figures[n];
  const scan = f('scan 4 GiB per page (baseline)');
  const withProfile = (r: FigureRow, query: string): FigureRow => {
    if (!r.met && profiles?.[query]) r.notes.push(profileNote(`CPU profile of "${query}" alone (self time)`, profiles[query]), ...diagnoseProfile(profiles[query]));
    return r;
  };
  return [
    withProfile(row('query-4g-1run', f('query 4 GiB, 1 run'), scan, 1 / 20, 'median ≤ 1/20 of the scan'), 'query 4 GiB, 1 run'),
    withProfile(row('query-4g-1000runs', f('query 4 GiB, 1000 runs'), scan, 1 / 20, 'median ≤ 1/20 of the scan'), 'query 4 GiB, 1000 runs'),
    withProfile(row('query-4g-vs-16m-1run', f('query 4 GiB, 1 run'), f('query 16 MiB, 1 run'), 2, 'median within 2× of 16 MiB'), 'query 4 GiB, 1 run'),
    withProfile(row('query-4g-vs-16m-1000runs', f('query 4 GiB, 1000 runs'), f('query 16 MiB, 1000 runs'), 2, 'median within 2× of 16 MiB'), 'query 4 GiB, 1000 runs'),
  ];
}

/**
 * The default the numbers support: a spin budget only if it beats parking at once on the round
 * trip's median AND p99 (by 10%), and does not lower throughput or blow up the tail (p99 over 1.5x
 * of waitSpin 0's) with 8 faulting threads on the 2 cores.
 */
function adviseWaitSpin(byspin: Map<number, { fault: Figure; pp: Figure }>, throughput: ThroughputRow[]): WaitSpinAdvice {
  const base = byspin.get(0);
  const reasons: string[] = [];
  let recommended = 0;
  let bestMedian = base?.fault.medianUs ?? Infinity;
  for (const [spin, { fault, pp }] of [...byspin].sort((a, b) => a[0] - b[0])) {
    reasons.push(`waitSpin ${spin}: fault round trip median ${fmtUs(fault.medianUs)}, p99 ${fmtUs(fault.p99Us)} (ping-pong at the same spin: ${fmtUs(pp.medianUs)} / ${fmtUs(pp.p99Us)}).`);
    if (spin === 0 || !base) continue;
    const t8 = throughput.find((r) => r.waitSpin === spin && r.threads === 8);
    const t8base = throughput.find((r) => r.waitSpin === 0 && r.threads === 8);
    let throughputOk = true;
    if (t8 && t8base) {
      throughputOk = t8.faultsPerSec >= t8base.faultsPerSec && t8.p99Us <= SPIN_P99_LIMIT * t8base.p99Us;
      reasons.push(
        `  with 8 faulting threads: ${t8.faultsPerSec.toFixed(0)} faults/s and per-fault p99 ${fmtUs(t8.p99Us)} vs ${t8base.faultsPerSec.toFixed(0)} faults/s and ${fmtUs(t8base.p99Us)} at waitSpin 0.`,
      );
    }
    const medianBetter = fault.medianUs <= SPIN_MUST_BEAT * base.fault.medianUs;
    const p99Better = fault.p99Us <= SPIN_MUST_BEAT * base.fault.p99Us;
    reasons.push(
      `  against waitSpin 0: median at least 10% lower ${medianBetter ? 'yes' : 'no'}, p99 at least 10% lower ${p99Better ? 'yes' : 'no'}, 8 threads (throughput not lower, p99 within 1.5×) ${t8 && t8base ? (throughputOk ? 'yes' : 'no') : 'not measured'}.`,
    );
    if (medianBetter && p99Better && throughputOk && fault.medianUs < bestMedian) {
      recommended = spin;
      bestMedian = fault.medianUs;
    }
  }
  reasons.push(
    recommended === 0
      ? 'No spin budget beat parking at once on both the median and the p99 of the round trip without hurting 8-thread throughput or its tail, so the numbers support keeping the default waitSpin 0.'
      : `waitSpin ${recommended} beat parking at once on the round trip's median and p99 and held up with 8 faulting threads: the numbers support it as the default.`,
  );
  return { current: CURRENT_WAIT_SPIN_DEFAULT, recommended, reasons };
}

export async function runAll(options: RunOptions = {}): Promise<BenchReport> {
  const plan = options.quick ? QUICK : FULL;
  const log = options.log ?? ((): void => {});
  const began = performance.now();
  const loadAvgStart = os.loadavg();
  const npp = nsPerPoll();
  const fault = await faultSuite(plan, npp, log);
  const throughput = await throughputSuite(plan, log);
  const micro = await microSuite(plan, log);
  const query = await querySuite(plan, log);
  return {
    machine: machineLine(),
    node: process.version,
    date: new Date().toISOString(),
    quick: options.quick ?? false,
    loadAvgStart,
    loadAvgEnd: os.loadavg(),
    durationMs: performance.now() - began,
    nsPerPoll: npp,
    figures: [...fault.rows, ...micro, ...query],
    throughput: throughput.rows,
    throughputVerdicts: throughput.verdicts,
    waitSpin: adviseWaitSpin(fault.byspin, throughput.rows),
  };
}

// ---- Report ----

const yes = (b: boolean): string => (b ? 'yes' : '**no**');
const x = (r: number): string => (r >= 100 ? `${r.toFixed(0)}×` : r >= 1 ? `${r.toFixed(2)}×` : r >= 0.1 ? `${r.toFixed(3)}×` : `${r.toFixed(4)}×`);

function renderMarkdown(r: BenchReport): string {
  const out: string[] = [];
  for (const section of [markdownHeader, markdownFigures, markdownCompared, markdownThroughput, markdownWaitSpin, markdownWhereTheTimeGoes, markdownMethod]) section(r, out);
  return out.join('\n');
}

/** The title, the machine and the load it ran under. */
function markdownHeader(r: BenchReport, out: string[]): void {
  out.push('# pagersim benchmarks');
  out.push('');
  out.push(`Written by \`npm run bench\` (bench/run.ts). ${r.quick ? '**Quick (smoke) run: the numbers mean nothing.** ' : ''}`);
  out.push('');
  out.push(`- Machine: ${r.machine}`);
  out.push(`- Node: ${r.node}`);
  out.push(`- Date: ${r.date}`);
  out.push(`- Run time: ${(r.durationMs / 1000).toFixed(1)} s; load average (1/5/15 min) at start ${r.loadAvgStart.map((v) => v.toFixed(2)).join(' / ')}, at end ${r.loadAvgEnd.map((v) => v.toFixed(2)).join(' / ')} on ${os.cpus().length} vCPUs (other users of the machine add noise)`);
  out.push(`- One Atomics.load poll: ${r.nsPerPoll.toFixed(1)} ns`);
  out.push('');
  out.push('Every figure and its baseline were measured in this same run (the fault round trip and its ping-pong in interleaved rounds; the others in one tinybench Bench). Ratio = figure median / baseline median; the p99 ratio is shown for information.');
  out.push('');
}

/**
 * This run beside an earlier one (before/after a change, same machine). Machines drift between runs,
 * so the ratios to each run's own baselines are what compare; the raw medians are shown with them.
 */
function markdownCompared(r: BenchReport, out: string[]): void {
  if (!r.earlier) return;
  const before = r.earlier.report;
  out.push(`## Compared with an earlier run: ${r.earlier.label}`);
  out.push('');
  out.push(`Earlier run: ${before.date}, load average at start ${before.loadAvgStart.map((v) => v.toFixed(2)).join(' / ')}; this run: ${r.date}. A change is noise unless it exceeds the spread of the baselines between the two runs.`);
  out.push('');
  out.push('| figure | earlier median | earlier baseline | earlier ratio | this median | this baseline | this ratio | ratio change |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const f of r.figures) {
    const e = before.figures.find((g) => g.id === f.id);
    if (!e) continue;
    out.push(`| ${f.figure} | ${fmtUs(e.medianUs)} | ${fmtUs(e.baseline.medianUs)} | ${x(e.ratio)} | ${fmtUs(f.medianUs)} | ${fmtUs(f.baseline.medianUs)} | ${x(f.ratio)} | ${x(f.ratio / e.ratio)} |`);
  }
  out.push('');
  out.push('| waitSpin | threads | earlier faults/s | this faults/s | change |');
  out.push('| ---: | ---: | ---: | ---: | ---: |');
  for (const t of r.throughput) {
    const e = before.throughput.find((u) => u.waitSpin === t.waitSpin && u.threads === t.threads);
    if (e) out.push(`| ${t.waitSpin} | ${t.threads} | ${Math.round(e.faultsPerSec)} | ${Math.round(t.faultsPerSec)} | ${x(t.faultsPerSec / e.faultsPerSec)} |`);
  }
  out.push('');
}

/** Every figure beside its baseline. */
function markdownFigures(r: BenchReport, out: string[]): void {
  out.push('| figure | median | p99 | baseline | baseline median | baseline p99 | ratio | p99 ratio | target | met |');
  out.push('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |');
  for (const f of r.figures) {
    out.push(`| ${f.figure} | ${fmtUs(f.medianUs)} | ${fmtUs(f.p99Us)} | ${f.baseline.name} | ${fmtUs(f.baseline.medianUs)} | ${fmtUs(f.baseline.p99Us)} | ${x(f.ratio)} | ${x(f.p99Ratio)} | ${f.target} | ${yes(f.met)} |`);
  }
  out.push('');
}

/** Faults/s by waitSpin and faulting threads, and the verdicts. */
function markdownThroughput(r: BenchReport, out: string[]): void {
  out.push('## Fault throughput (one pager, N faulting threads, each on its own pager VMO)');
  out.push('');
  out.push('| waitSpin | threads | faults/s | vs 1 thread | per-fault median | per-fault p99 |');
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const t of r.throughput) {
    const one = r.throughput.find((u) => u.waitSpin === t.waitSpin && u.threads === 1)!;
    out.push(`| ${t.waitSpin} | ${t.threads} | ${t.faultsPerSec.toFixed(0)} | ${x(t.faultsPerSec / one.faultsPerSec)} | ${fmtUs(t.medianUs)} | ${fmtUs(t.p99Us)} |`);
  }
  out.push('');
  out.push('Target: faults/s rises from 1 to 2 threads, and does not collapse at 8 (here: 8 threads keep at least half of the best of 1, 2 and 4).');
  out.push('');
  for (const v of r.throughputVerdicts) {
    out.push(`- waitSpin ${v.waitSpin}: rises from 1 to 2: ${yes(v.risesFrom1To2)}; 8 threads / best of 1–4: ${x(v.at8OverBest)}, no collapse: ${yes(v.noCollapseAt8)} — target met: ${yes(v.met)}`);
    for (const n of v.notes) out.push(`  - ${n}`);
  }
  out.push('');
}

/** The waitSpin default the numbers support, and why. */
function markdownWaitSpin(r: BenchReport, out: string[]): void {
  out.push('## waitSpin default');
  out.push('');
  out.push(`Current default: ${r.waitSpin.current}. Supported by these numbers: **${r.waitSpin.recommended}**.`);
  out.push('');
  for (const line of r.waitSpin.reasons) out.push(line.startsWith('  ') ? `  - ${line.trim()}` : `- ${line}`);
  out.push('');
}

/** The notes of each figure that has any. */
function markdownWhereTheTimeGoes(r: BenchReport, out: string[]): void {
  out.push('## Where the time goes');
  out.push('');
  for (const f of r.figures) {
    if (f.notes.length === 0) continue;
    out.push(`### ${f.figure} — ${f.met ? 'met' : 'missed'} (${x(f.ratio)}, target ${f.target})`);
    out.push('');
    for (const n of f.notes) out.push(`- ${n}`);
    out.push('');
  }
}

/** How each figure was measured. */
function markdownMethod(_r: BenchReport, out: string[]): void {
  out.push('## Method');
  out.push('');
  out.push('- Fault round trip: one faulting Worker reads 8 bytes of one absent page per fault (vmoRead on the next page of a fresh pager VMO), timed per fault with process.hrtime.bigint(); a pager Worker takes the packet from the port and supplies the page from an aux VMO that it committed with content for every fault of the run (one vmoWrite) before the start. Baseline: two Workers ping-pong one word with Atomics.notify/wait, timed per round trip the same way, with the same spin-then-wait as the kernel (poll `spin` times, then park). At waitSpin N > 0 the pager polls the port’s queue-head word N times before its blocking portWait (portWait does not spin itself). Both after a warm-up.');
  out.push('- Diagnostic fault runs (not in the figures): the phase split from clock readings in both threads and Atomics.wait calls by the word waited on; CPU profiles of both threads (node:inspector, 50 µs sampling) in another run, since profiling slows the threads.');
  out.push('- Throughput: N faulting Workers, each on its own pager VMO (closed and replaced every 512 faults), one pager Worker (its aux VMO re-committed 1,024 pages at a time, so 1 fault in 1,024 also waits for that write), for a fixed time in two rounds; faults/s over the timed windows, per-fault latency over all faulting threads.');
  out.push('- pagerSupplyPages: a 1 MiB absent range of a pager VMO, an aux VMO re-committed by vmoWrite of 1 MiB before each sample; only the supply is timed. Baseline: Uint8Array.prototype.set of 1 MiB inside a SharedArrayBuffer.');
  out.push('- vmoRead / futex / pagerQueryDirtyRanges with 1 run: batched loops (tinybench overriddenDuration: each sample is the mean of a batch).');
  out.push('- pagerQueryDirtyRanges: bench/query_dirty_ranges.ts (1,048,576-page and 4,096-page VMOs with 1 and 1,000 dirty runs; baseline: a per-page scan of a flat state array of 1,048,576 pages).');
  out.push('');
}

function printTable(r: BenchReport): void {
  console.log(`\n${r.machine}; ${r.date}; ${(r.durationMs / 1000).toFixed(1)} s`);
  console.table(
    r.figures.map((f) => ({
      figure: f.figure,
      median: fmtUs(f.medianUs),
      p99: fmtUs(f.p99Us),
      baseline: f.baseline.name,
      'base median': fmtUs(f.baseline.medianUs),
      'base p99': fmtUs(f.baseline.p99Us),
      ratio: x(f.ratio),
      target: f.target,
      met: f.met ? 'yes' : 'NO',
    })),
  );
  console.table(r.throughput.map((t) => ({ waitSpin: t.waitSpin, threads: t.threads, 'faults/s': Math.round(t.faultsPerSec), median: fmtUs(t.medianUs), p99: fmtUs(t.p99Us) })));
  for (const v of r.throughputVerdicts) console.log(`throughput waitSpin ${v.waitSpin}: rises 1→2 ${v.risesFrom1To2 ? 'yes' : 'NO'}, 8 threads / best ${x(v.at8OverBest)} ${v.noCollapseAt8 ? 'ok' : 'COLLAPSE'}`);
  console.log(`waitSpin: current default ${r.waitSpin.current}, supported by the numbers: ${r.waitSpin.recommended}`);
}

/** Writes RESULTS.md and results.json into `dir` (the source bench/ folder by default). */
function writeReport(r: BenchReport, dir = defaultReportDir()): void {
  fs.writeFileSync(new URL('RESULTS.md', dir), renderMarkdown(r));
  fs.writeFileSync(new URL('results.json', dir), `${JSON.stringify(r, null, 2)}\n`);
}

function defaultReportDir(): URL {
  // dist/bench/run.js -> bench/; bench/run.ts (run from source) -> bench/.
  return import.meta.url.includes('/dist/bench/') ? new URL('../../bench/', import.meta.url) : new URL('./', import.meta.url);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const argAfter = (flag: string): string | undefined => {
    const i = process.argv.indexOf(flag);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const comparePath = argAfter('--compare');
  // Read before the run, so a bad path fails at once rather than after a minute of measuring.
  const earlier = comparePath === undefined ? undefined : { label: argAfter('--label') ?? comparePath, report: JSON.parse(fs.readFileSync(comparePath, 'utf8')) as BenchReport };
  const report = await runAll({ quick, log: (s) => console.error(`[bench ${((performance.now()) / 1000).toFixed(1)} s] ${s}`) });
  if (earlier) report.earlier = { label: earlier.label, report: { ...earlier.report, earlier: undefined } };
  printTable(report);
  if (!quick) {
    writeReport(report);
    console.log('wrote bench/RESULTS.md and bench/results.json');
  }
}
