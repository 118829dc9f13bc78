// The stress workload exercises every operation a real pager and its clients use (the gap that let an
// OP_DIRTY corruption through: a pager that only supplies real pages never gives OP_DIRTY a zero
// marker to allocate for). Each swarm operation is exercised by a run of its own (its counters > 0),
// the checker knows what each leaves behind (OP_ZERO and shrinks write zeros; a zero-marker page reads
// zero until written), an injected kernel bug is still caught with the swarm on, and memory squeezed
// to the edge makes the kernel meet ZX_ERR_NO_MEMORY. Runs are bounded by operations, not time.

import t from 'tap';
import { parseStressArgs } from '../../cli/stress/command.js';
import { checkHistory, type Op } from '../../cli/stress/checker.js';
import { ZEROED } from '../../workers/stress_content.js';
import { runStress } from '../../cli/stress/run.js';
import { SWARM_OPS, enabledOps } from '../../cli/stress/scenario.js';
import { OpKind } from '../../workers/stress_protocol.js';

function scenario(argv: string[]) {
  const r = parseStressArgs(argv);
  if (typeof r === 'string') throw new Error(r);
  return r.scenario;
}

const SMALL = ['--threads', '2', '--vmos', '1', '--vmo-pages', '32', '--physical-memory', '96KiB', '--duration', '5m', '--progress', 'none'];

t.test('every new flag is validated, naming the flag', async (t) => {
  const msg = (argv: string[]): string => String(parseStressArgs(argv));
  t.match(msg(['--ops-mix', 'zero,teleport']), /--ops-mix/);
  t.match(msg(['--swarm', 'maybe']), /--swarm/);
  t.match(msg(['--squeeze-memory', '2']), /--squeeze-memory.*at least 4/s);
  t.match(msg(['--squeeze-memory', 'lots']), /--squeeze-memory/);
  const ok = scenario(['--ops-mix', 'zero,resize', '--squeeze-memory']);
  t.same(ok.opsMix, ['zero', 'resize']);
  t.ok(ok.squeezeMemory > 0, 'the flag alone picks a default');
  t.equal(scenario(['--squeeze-memory', '20']).squeezeMemory, 20);
});

t.test('--swarm: the seed picks a subset, the same one every time', async (t) => {
  const s = scenario(['--swarm']);
  const picks = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) {
    const a = enabledOps(s, seed);
    t.same(enabledOps(s, seed), a, `seed ${seed} is reproducible`);
    picks.add(a.join(','));
  }
  t.ok(picks.size > 5, 'different seeds enable different subsets');
});

for (const op of SWARM_OPS) {
  t.test(`${op} is exercised and checked`, async (t) => {
    const result = await runStress(scenario([...SMALL, '--ops-mix', op, '--ops', '150', '--seed', '5']));
    t.equal(result.clean, true, `no violations: ${result.violations.map((v) => v.detail).join('; ')}`);
    t.same(result.enabledOps, [op], 'the report lists what was enabled');
    if (op === 'zero-supply') {
      t.ok(result.pager.zeroMarkers > 0, `pages supplied as zero markers: ${result.pager.zeroMarkers}`);
      return;
    }
    const counts = result.ops.byKind[op];
    t.ok(counts && counts.total > 0, `${op} ran ${counts?.total ?? 0} times`);
    if (op === 'decommit') t.equal(counts?.ok, 0, 'DECOMMIT of a pager VMO never succeeds (NOT_SUPPORTED)');
    else t.ok((counts?.ok ?? 0) > 0, `${op} succeeded ${counts?.ok ?? 0} times`);
  });
}

t.test('an injected kernel bug is still detected with the swarm on', async (t) => {
  const result = await runStress(
    scenario(['--threads', '4', '--vmos', '1', '--vmo-pages', '64', '--physical-memory', '160KiB', '--read-ratio', '0.5', '--hot-fraction', '0.25', '--hot-probability', '0.8', '--ops', '800', '--duration', '5m', '--progress', 'none', '--ops-mix', SWARM_OPS.join(','), '--inject-bug', 'evict-dirty', '--seed', '2']),
  );
  t.equal(result.clean, false, `evict-dirty is detected (${Object.keys(result.violationCounts).join(', ')})`);
  t.ok(result.enabledOps.length === SWARM_OPS.length, 'with every swarm operation on');
});

t.test('--squeeze-memory makes the kernel meet ZX_ERR_NO_MEMORY', async (t) => {
  const result = await runStress(scenario([...SMALL, '--physical-memory', '384KiB', '--squeeze-memory', '8', '--ops-mix', 'commit,zero-supply,zero', '--ops', '400', '--seed', '4']));
  t.equal(result.squeezedFrames, 88, 'all frames but 8 are pinned');
  const noMemory = (result.ops.failedByStatus['ZX_ERR_NO_MEMORY'] ?? 0) + result.pager.noMemoryRetries;
  t.ok(noMemory > 0, `NO_MEMORY met: ${result.ops.failedByStatus['ZX_ERR_NO_MEMORY'] ?? 0} operations, ${result.pager.noMemoryRetries} pager retries`);
  t.notOk('hang' in result.violationCounts || 'bookkeeping' in result.violationCounts, `no hang, balanced books: ${JSON.stringify(result.violationCounts)}`);
});

// The checker's model of zeros, on hand-made histories (times in ns).
t.test('the checker knows what zeroing leaves behind', async (t) => {
  const op = (kind: OpKind, page: number, stamp: number, t0: number, t1: number, status = 0): Op => ({
    thread: 0,
    kind,
    write: kind === OpKind.Write || kind === OpKind.MapWrite,
    vmo: 0,
    page,
    stamp,
    status,
    t0,
    t1,
  });
  const check = (ops: Op[], sparse = false, final: number | null = null) =>
    checkHistory(ops, { vmoCount: 1, vmoPages: 4, finalStamp: final === null ? null : () => final, finalPages: () => 1, initiallyZero: () => sparse }).counts;
  const W = 0x1000001;
  t.same(check([op(OpKind.Write, 0, W, 0, 10), op(OpKind.Zero, 0, 1, 20, 30), op(OpKind.Read, 0, ZEROED, 40, 50)]), {}, 'zeros after OP_ZERO');
  t.same(check([op(OpKind.Write, 0, W, 0, 10), op(OpKind.Read, 0, ZEROED, 40, 50)]), { 'stale-read': 1 }, 'zeros nothing wrote');
  t.same(check([op(OpKind.Write, 0, W, 0, 10), op(OpKind.Zero, 0, 1, 20, 30), op(OpKind.Read, 0, W, 40, 50)]), { 'stale-read': 1 }, 'the old stamp after a completed OP_ZERO');
  t.same(check([op(OpKind.Write, 0, W, 0, 10), op(OpKind.Zero, 0, 1, 20, 30, -4), op(OpKind.Read, 0, ZEROED, 40, 50)]), { 'stale-read': 1 }, 'a failed OP_ZERO (NO_MEMORY) zeroes nothing');
  t.same(check([op(OpKind.Write, 0, W, 0, 10), op(OpKind.Resize, 0, 0, 20, 30), op(OpKind.Read, 0, ZEROED, 40, 50)]), {}, 'a truncated page reads zero when regrown');
  t.same(check([op(OpKind.Read, 0, ZEROED, 0, 10)], true), {}, 'a sparse page starts as zeros');
  t.same(check([op(OpKind.Read, 0, 0, 0, 10)], true), { 'stale-read': 1 }, 'a sparse page never reads stamp 0');
  t.same(check([op(OpKind.Write, 0, W, 0, 10), op(OpKind.Zero, 0, 1, 20, 30)], false, ZEROED), {}, 'final zeros after OP_ZERO');
  t.same(check([op(OpKind.Write, 0, W, 0, 10), op(OpKind.Zero, 0, 1, 20, 30)], false, W), { 'lost-write': 1 }, 'the stamp OP_ZERO replaced, in the backing store: lost');
  t.same(check([op(OpKind.Decommit, 0, 1, 0, 10, 0)]), { 'wrong-status': 1 }, 'DECOMMIT of a pager VMO that succeeded');
});
