// Differential property test (issue 7): random sequences of pager syscalls run on the reference
// model (./model.ts) and on the real kernel (./driver.ts) in lockstep; every step compares the
// status, the data read, which threads returned (and with what), the packets on the port, and, for
// every VMO, the dirty ranges, the "modified" stat, the size and the committed bytes.
//
// Replay: a failure prints `SEED=<seed> SEED_PATH=<path>` and the shrunk sequence (as it ran).
// `SEED=<seed> npm test` reruns the same cases and shrinks again; adding `SEED_PATH=<path>` runs
// just the shrunk counterexample. Without SEED the run uses DEFAULT_SEED; SEED=random explores.
// Environment:
//   PAGERSIM_MODEL_RUNS=<n>      sequences to run (default DEFAULT_RUNS, about a minute and a half
//                                on two cores; past ~15000, run tap with --timeout=0)
//   PAGERSIM_MODEL_NO_EXCLUDE=1  also run the known divergences below (the test then fails)
//   PAGERSIM_MODEL_COVERAGE=1    print what the run exercised (op outcomes, model events, skips)
//   PAGERSIM_MODEL_TRACE=1       log every step to stderr
//   PAGERSIM_MODEL_INJECT_BUGS=<mask>  boot the kernel with core/bugs.ts bugs (1, 2, 4 and 8 are
//                                all caught within a few hundred sequences)

import t from 'tap';
import fc from 'fast-check';
import {
  PAGE_SIZE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_BUFFER_TOO_SMALL,
  ZX_ERR_INTERNAL,
  ZX_ERR_IO,
  ZX_ERR_IO_DATA_INTEGRITY,
  ZX_ERR_NO_MEMORY,
  ZX_ERR_NO_SPACE,
} from '../../core/index.js';
import { KernelEnv, describeOp, runLockstep } from './driver.js';
import type { RunResult, Sequence } from './driver.js';
import type { AuxSel, Exclusion, Misalign, Op, PagerSel, PagerSide, VmoSel } from './model.js';

const DEFAULT_RUNS = 2500;
const MAX_OPS = 25;

const runs = Number(process.env.PAGERSIM_MODEL_RUNS ?? DEFAULT_RUNS);
/**
 * `npm test` (and so CI) runs a fixed seed: main stays reproducible, and a new divergence is found
 * by exploring (`SEED=random`, e.g. `npm run explore:model`), fixed, and kept as a named test.
 */
const DEFAULT_SEED = 20261122;
const seed =
  process.env.SEED === 'random' ? (Date.now() ^ (Math.random() * 2 ** 31)) | 0 : process.env.SEED !== undefined ? Number(process.env.SEED) : DEFAULT_SEED;
const path = process.env.SEED_PATH;
/** A core/bugs.ts mask (e.g. 1: WRITEBACK_END cleans re-dirtied pages), to see the test catch it. */
const injectBugs = Number(process.env.PAGERSIM_MODEL_INJECT_BUGS ?? 0);

// ------------------------------------------------------------------------------------------------
// Generators. Offsets and counts are small so that ops collide; `vmo` is reduced modulo the number
// of VMOs when the op runs.

const vmo = fc.nat({ max: 11 });
const page = fc.oneof({ arbitrary: fc.nat({ max: 5 }), weight: 3 }, { arbitrary: fc.nat({ max: 17 }), weight: 1 });
const pages = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 9 }), weight: 1 });

/** Usually fold the range into the VMO, sometimes leave it raw (so out-of-range cases stay common). */
const fit = fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, { arbitrary: fc.constant(false), weight: 1 });
/** Sometimes (1 - 1/freq of the time) aim an op at live state: an outstanding request or a dirty range. */
const targetArb = (freq: number) => fc.option(fc.record({ which: fc.nat({ max: 7 }), part: fc.constantFrom(0, 0, 1, 1, 1, 2, 3, 4) }), { freq });

function weighted<T>(common: T, ...rare: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constant(common), weight: 8 * rare.length || 1 }, ...rare.map((r) => ({ arbitrary: fc.constant(r), weight: 1 })));
}

/** A byte offset near a page boundary (or not) and a byte length of 0..6 pages plus a tail. */
const byteRange = fc
  .record({
    page,
    frac: fc.constantFrom(0, 0, 0, 100, PAGE_SIZE - 8),
    n: fc.nat({ max: 6 }),
    tail: fc.constantFrom(0, 0, 8, 2000),
  })
  .map(({ page: p, frac, n, tail }) => ({ offset: p * PAGE_SIZE + frac, length: n * PAGE_SIZE + tail }));

const create = fc.record({
  kind: fc.constant('create' as const),
  pages: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 6 }), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 16 }), weight: 1 }),
  trap: fc.constantFrom(true, true, false),
  resizable: fc.boolean(),
  bad: weighted<'none' | 'options' | 'portSlot' | 'pagerSlot'>('none'),
});

const createMaybeBad = fc.record({
  kind: fc.constant('create' as const),
  pages: fc.integer({ min: 1, max: 8 }),
  trap: fc.boolean(),
  resizable: fc.boolean(),
  bad: weighted<'none' | 'options' | 'portSlot' | 'pagerSlot'>('none', 'options', 'portSlot', 'pagerSlot'),
});

const ioHandle = (...rare: VmoSel[]): fc.Arbitrary<VmoSel> => weighted<VmoSel>('ok', ...rare);

const read = fc
  .record({ kind: fc.constant('read' as const), vmo, fit, target: targetArb(3), range: byteRange, handle: ioHandle('wo', 'ro', 'port', 'bad') })
  .map(({ range, target: aim, ...r }): Op => ({ ...r, ...range, ...(aim ? { target: aim } : {}) }));
const write = fc
  .record({ kind: fc.constant('write' as const), vmo, fit, target: targetArb(4), range: byteRange, fill: fc.nat({ max: 250 }), handle: ioHandle('ro', 'port', 'bad') })
  .map(({ range, target: aim, ...r }): Op => ({ ...r, ...range, ...(aim ? { target: aim } : {}) }));
const commit = fc
  .record({ kind: fc.constant('commit' as const), vmo, fit, target: targetArb(4), range: byteRange, handle: ioHandle('ro', 'bad') })
  .map(({ range, target: aim, ...r }): Op => ({ ...r, ...range, ...(aim ? { target: aim } : {}) }));
/** ZERO: mostly whole pages, sometimes with partial head/tail pages (they take the write path). */
const zero = fc
  .record({ kind: fc.constant('zero' as const), vmo, fit, range: byteRange, aligned: fc.constantFrom(true, true, false), handle: ioHandle('ro', 'port') })
  .map(({ range, aligned, ...r }): Op => {
    if (!aligned) return { ...r, ...range };
    const offset = Math.floor(range.offset / PAGE_SIZE) * PAGE_SIZE;
    return { ...r, offset, length: Math.floor(range.length / PAGE_SIZE) * PAGE_SIZE };
  });
const vmoOp = fc.record({ kind: fc.constant('vmoOp' as const), vmo, fit, op: fc.constantFrom('decommit' as const, 'invalid' as const), page, pages });

/** Pager-side handle/alignment faults: usually none, sometimes exactly one. */
function pagerSide(kind: 'supply' | 'dirty' | 'other'): fc.Arbitrary<PagerSide> {
  const supply = kind === 'supply';
  const fault = fc.oneof(
    { arbitrary: fc.constant({}), weight: 14 },
    { arbitrary: fc.record({ pager: fc.constantFrom<PagerSel>('other', 'port', 'bad', 'vmo') }), weight: 1 },
    { arbitrary: fc.record({ handle: fc.constantFrom<VmoSel>('ro', 'wo', 'port', 'bad', 'plain', 'pager') }), weight: 1 },
    { arbitrary: fc.record({ misalign: fc.constantFrom<Misalign>(...(supply ? ([1, 2, 3] as const) : ([1, 2] as const))) }), weight: 1 },
  );
  const count = fc.oneof({ arbitrary: pages, weight: 20 }, { arbitrary: fc.constant(0), weight: 1 });
  return fc
    .record({ vmo, page, pages: count, fault, fit, target: targetArb(kind === 'other' ? 2 : 4) })
    .map(({ fault: f, target: aim, ...r }): PagerSide => ({ pager: 'ok', handle: 'ok', misalign: 0, ...r, ...(aim ? { target: aim } : {}), ...f }));
}

const supply = fc
  .record({
    side: pagerSide('supply'),
    data: fc.oneof(fc.constant(0x1ff), fc.constant(0), fc.nat({ max: 0x1ff })),
    aux: weighted<AuxSel>('ok', 'ro', 'small', 'pagerVmo', 'port'),
  })
  .map(({ side, data, aux }): Op => ({ kind: 'supply', ...side, data, aux }));

const FAIL_CODES: (number | bigint)[] = [ZX_ERR_IO, ZX_ERR_IO_DATA_INTEGRITY, ZX_ERR_BAD_STATE, ZX_ERR_NO_SPACE, ZX_ERR_BUFFER_TOO_SMALL];
const fail = fc
  .record({
    side: pagerSide('other'),
    code: fc.oneof({ arbitrary: fc.constantFrom(...FAIL_CODES), weight: 6 }, { arbitrary: fc.constantFrom<number | bigint>(ZX_ERR_INTERNAL, 100, ZX_ERR_NO_MEMORY, 0x11ffffffffn), weight: 1 }),
  })
  .map(({ side, code }): Op => ({ kind: 'fail', ...side, code }));
const dirty = fc.record({ side: pagerSide('dirty'), data: weighted(0, 100) }).map(({ side, data }): Op => ({ kind: 'dirty', ...side, data }));
const wbBegin = fc
  .record({ side: pagerSide('other'), data: fc.oneof({ arbitrary: fc.constantFrom(0, 1), weight: 8 }, { arbitrary: fc.constant(100), weight: 1 }) })
  .map(({ side, data }): Op => ({ kind: 'wbBegin', ...side, data }));
const wbEnd = fc.record({ side: pagerSide('other'), data: weighted(0, 100) }).map(({ side, data }): Op => ({ kind: 'wbEnd', ...side, data }));

const detach = fc.record({
  kind: fc.constant('detach' as const),
  vmo,
  pager: weighted<PagerSel>('ok', 'other', 'port', 'bad', 'vmo'),
  handle: weighted<VmoSel>('ok', 'ro', 'port', 'plain'),
});
const resize = fc.record({
  kind: fc.constant('resize' as const),
  vmo,
  pages: fc.oneof(fc.nat({ max: 8 }), fc.nat({ max: 16 })),
  handle: weighted<VmoSel>('ok', 'ro', 'port', 'bad'),
});
const query = fc
  .record({
    kind: fc.constant('query' as const),
    vmo,
    range: byteRange,
    max: fc.nat({ max: 4 }),
    pager: weighted<PagerSel>('ok', 'other', 'vmo'),
    handle: weighted<VmoSel>('ok', 'ro', 'wo', 'plain', 'port'),
  })
  .map(({ range, ...r }): Op => ({ ...r, ...range }));
const stats = fc.record({
  kind: fc.constant('stats' as const),
  vmo,
  options: fc.constantFrom(0, 0, 1, 1, 100, 3),
  pager: weighted<PagerSel>('ok', 'bad', 'other'),
  handle: weighted<VmoSel>('ok', 'ro', 'wo', 'port'),
});
const badOp = fc.record({ kind: fc.constant('badOp' as const), vmo, op: fc.constantFrom(0, 5) });
const drain = fc.record({ kind: fc.constant('drain' as const), count: fc.integer({ min: 1, max: 4 }) });

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: read, weight: 8 },
  { arbitrary: write, weight: 7 },
  { arbitrary: commit, weight: 3 },
  { arbitrary: zero, weight: 3 },
  { arbitrary: supply, weight: 14 },
  { arbitrary: fail, weight: 5 },
  { arbitrary: dirty, weight: 6 },
  { arbitrary: wbBegin, weight: 4 },
  { arbitrary: wbEnd, weight: 4 },
  { arbitrary: drain, weight: 5 },
  { arbitrary: resize, weight: 3 },
  { arbitrary: detach, weight: 2 },
  { arbitrary: query, weight: 2 },
  { arbitrary: stats, weight: 2 },
  { arbitrary: createMaybeBad, weight: 1 },
  { arbitrary: vmoOp, weight: 1 },
  { arbitrary: badOp, weight: 1 },
);

const sequence: fc.Arbitrary<Sequence> = fc
  .record({
    autoDrain: fc.boolean(),
    creates: fc.array(create, { minLength: 1, maxLength: 3 }),
    ops: fc.array(op, { maxLength: MAX_OPS - 3, size: 'max' }),
  })
  .map(({ autoDrain, creates, ops }) => ({ autoDrain, ops: [...creates, ...ops] }));

// ------------------------------------------------------------------------------------------------
// Known divergences: cases where the kernel disagrees with the spec (or, where the spec is silent,
// with Zircon's code that it summarises). Each is excluded from the run by name so the test stays
// green; PAGERSIM_MODEL_NO_EXCLUDE=1 runs them anyway.

// None is open: D6 (OP_DIRTY over already-Dirty pages resolved DIRTY requests again) was fixed by
// resolving per transitioned run, as Zircon's DirtyPagesLocked does.
const knownDivergences: Exclusion = () => undefined;
const exclude = process.env.PAGERSIM_MODEL_NO_EXCLUDE ? undefined : knownDivergences;

// ------------------------------------------------------------------------------------------------

/** The sequence as it ran (ops aimed and resolved) if a run of it is at hand, else as generated. */
function formatSequence(seq: Sequence, r?: RunResult): string {
  const lines = [`autoDrain: ${seq.autoDrain}`];
  seq.ops.forEach((o, i) => {
    const step = r?.steps[i];
    const skipped = step?.skipped;
    lines.push(`  ${String(i).padStart(2)} ${describeOp(step?.op ?? o)}${skipped ? `   (skipped: ${skipped})` : ''}`);
  });
  for (const [i, step] of (r?.steps ?? []).entries()) {
    if (step.final) lines.push(`  ${String(i).padStart(2)} ${describeOp(step.op)}   (final check)${step.skipped ? ` (skipped: ${step.skipped})` : ''}`);
  }
  const ran = r?.steps.filter((st) => !st.final).length ?? seq.ops.length;
  if (ran < seq.ops.length) lines.push(`  (${seq.ops.length - ran} more ops not reached)`);
  return lines.join('\n');
}

// Big runs outlast tap's default timeout (under the runner, .taprc's 600 s still applies: pass
// --timeout=0 for them).
t.setTimeout(Math.max(600_000, runs * 3_000));

t.test('the kernel agrees with the reference model on random op sequences', async (t) => {
  let env: KernelEnv | null = null;
  let fresh = true;
  let lastFailure: { seq: Sequence; result: RunResult } | null = null;
  let total = 0;
  let skippedSteps = 0;
  let steps = 0;
  const coverage = new Map<string, number>();

  const rebuild = async (): Promise<KernelEnv> => {
    if (env) await env.close().catch(() => undefined);
    env = KernelEnv.create(injectBugs);
    fresh = true;
    return env;
  };

  /** Runs `seq` on the current KernelEnv; an unexpected exception rebuilds it and propagates. */
  const run = async (seq: Sequence): Promise<RunResult> => {
    const e = env && !env.worn ? env : await rebuild();
    fresh = false;
    try {
      return await runLockstep(e, seq, exclude);
    } catch (err) {
      await rebuild();
      throw err;
    }
  };

  const property = fc.asyncProperty(sequence, async (seq) => {
    const wasFresh = fresh || !env || env.worn;
    let result = await run(seq);
    if (!result.ok && !wasFresh) {
      // Re-check on a fresh kernel so that a replay of this case sees the same failure.
      await rebuild();
      const again = await run(seq);
      if (again.ok) result = { ok: false, steps: result.steps, failure: `${result.failure} (only on a kernel reused from earlier sequences)` };
      else result = again;
    }
    total++;
    steps += result.steps.length;
    if (result.ok) {
      skippedSteps += result.skipped;
      for (const [k, n] of Object.entries(result.coverage)) coverage.set(k, (coverage.get(k) ?? 0) + n);
      for (const st of result.steps) if (st.skipped) coverage.set(`skipped: ${st.skipped}`, (coverage.get(`skipped: ${st.skipped}`) ?? 0) + 1);
      return;
    }
    lastFailure = { seq, result };
    await rebuild();
    throw new Error(result.failure);
  });

  t.comment(`SEED=${seed} (${runs} sequences)`);
  const started = performance.now();
  try {
    const details = await fc.check(property, {
      numRuns: runs,
      seed,
      ...(path !== undefined ? { path, endOnFailure: true } : {}),
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    t.comment(`${total} sequences, ${steps} steps (${skippedSteps} skipped by the model), ${seconds} s, seed ${details.seed}`);
    if (process.env.PAGERSIM_MODEL_COVERAGE) {
      for (const [k, n] of [...coverage].sort((a, b) => b[1] - a[1])) t.comment(`  ${String(n).padStart(6)} ${k}`);
    }
    if (details.failed) {
      const failure = lastFailure as { seq: Sequence; result: RunResult } | null;
      // The last failing run is the counterexample fast-check settled on (it keeps the last failure).
      const shrunk = failure?.seq ?? (details.counterexample?.[0] as Sequence | undefined);
      const message = failure?.result.ok === false ? failure.result.failure : String(details.errorInstance);
      t.comment(`SEED=${details.seed} SEED_PATH=${details.counterexamplePath ?? ''}   (replay: SEED=${details.seed} SEED_PATH=${details.counterexamplePath ?? ''} npm test)`);
      t.comment(`divergence: ${message}`);
      if (shrunk) t.comment(`shrunk sequence (${details.numShrinks} shrinks):\n${formatSequence(shrunk, failure?.result)}`);
      console.error(`SEED=${details.seed} SEED_PATH=${details.counterexamplePath ?? ''}\n${message}`);
      t.fail(`model and kernel diverged: ${message}`);
    } else {
      t.pass(`${details.numRuns} random sequences agree`);
    }
  } finally {
    if (env) await (env as KernelEnv).close().catch(() => undefined);
  }
});
