// The concurrent syscall fuzzer (test/helpers/fuzz.ts): pool threads and a pager worker issue random
// syscalls, with ill-typed arguments mixed in, under memory pressure, resize, writeback, handle churn,
// thread kills and the pager process's death; after every round the kernel's invariants must hold and every page must read back its last
// written or supplied content; no call may throw anything but a Zircon error, no thread may hang.
//
// `npm test` runs a fixed seed (FUZZ_RUNS plans, a few rounds each). Explore with
// `npm run explore:fuzz` (SEED=random, more and longer plans). A failure prints the replay command:
// the plan replays exactly; the interleaving is the OS scheduler's, so a race may need a few tries.
// PAGERSIM_FUZZ_EXCLUDE=churn,garbage leaves op kinds out, to look past a bug already found.

import t from 'tap';
import fc from 'fast-check';
import { fuzzPlanArb, runFuzzPlan } from '../helpers/fuzz.js';
import type { FuzzOutcome } from '../helpers/fuzz.js';

const DEFAULT_SEED = 20261203;
const runs = Number(process.env.PAGERSIM_FUZZ_RUNS ?? 12);
const maxRounds = Number(process.env.PAGERSIM_FUZZ_ROUNDS ?? 6);
const seed = process.env.SEED === 'random' ? (Date.now() ^ (Math.random() * 2 ** 31)) | 0 : process.env.SEED !== undefined ? Number(process.env.SEED) : DEFAULT_SEED;
const path = process.env.SEED_PATH;
/** PAGERSIM_FUZZ_EXCLUDE=churn,stale: op kinds left out of the plans. */
const exclude = new Set((process.env.PAGERSIM_FUZZ_EXCLUDE ?? '').split(',').filter(Boolean));

t.setTimeout(Math.max(300_000, runs * maxRounds * 25_000));

t.test('concurrent syscalls with ill-typed arguments, memory pressure and pager failures keep the kernel whole', async (t) => {
  const totals = { plans: 0, rounds: 0, ops: 0, reads: 0, dirtyAcked: 0, dirtyAhead: 0, failed: 0, noMemory: 0, killed: 0, pagerDeaths: 0 };
  let last: FuzzOutcome | null = null;
  const property = fc.asyncProperty(fuzzPlanArb(maxRounds, exclude), async (plan) => {
    const outcome = await runFuzzPlan(plan);
    last = outcome;
    totals.plans++;
    for (const key of ['rounds', 'ops', 'reads', 'dirtyAcked', 'dirtyAhead', 'failed', 'noMemory', 'killed', 'pagerDeaths'] as const) totals[key] += outcome.stats[key];
    return outcome.violations.length === 0;
  });
  const details = await fc.check(property, { seed, numRuns: runs, ...(path !== undefined ? { path, endOnFailure: true } : {}), endOnFailure: true });
  t.comment(`seed ${seed}: ${JSON.stringify(totals)}`);
  if (details.failed) {
    const replay = `SEED=${details.seed} SEED_PATH=${details.counterexamplePath ?? ''} npx tap dist/test/fuzz/syscall_fuzz.test.js`;
    const violations = (last as FuzzOutcome | null)?.violations ?? [String(details.errorInstance)];
    t.fail(`the fuzzer found ${violations.length} violation(s); replay: ${replay}\n  ${violations.slice(0, 20).join('\n  ')}`);
  } else {
    t.pass(`${totals.plans} plans, ${totals.rounds} rounds, ${totals.ops} thread ops: no violation`);
  }
});
