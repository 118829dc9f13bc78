// Regression (defect 11): the stress checker silently dropped records. Each faulting thread had a
// fixed history of 2^18 operations and went on operating past it unrecorded, so a long run checked
// only part of what it did, and reads of the unrecorded writes' stamps came out as "stale reads which
// no successful write wrote" (false positives). Histories now grow; at their (huge) limit the thread
// stops and the run is called inconclusive (exit code 3), never silently partial.

import t from 'tap';
import { exitCode, parseStressArgs } from '../../cli/stress/command.js';
import { runStress } from '../../cli/stress/run.js';

function scenario(argv: string[]) {
  const r = parseStressArgs(argv);
  if (typeof r === 'string') throw new Error(r);
  return r.scenario;
}

// One thread on pages that stay resident (no trap, no failures): past the first faults every
// operation is a few microseconds, so 300,000 of them - more than the old 2^18 - take seconds.
const FAST = ['--threads', '1', '--vmos', '1', '--vmo-pages', '16', '--fail-rate', '0', '--trap-dirty', 'false', '--pattern', 'uniform', '--read-ratio', '0.5', '--seed', '3', '--progress', 'none'];

t.test('every operation is recorded, past the old fixed capacity', async (t) => {
  const result = await runStress(scenario([...FAST, '--ops', '300000', '--duration', '5m']));
  t.equal(result.ops.total, 300_000, 'the thread did all its operations');
  t.equal(result.ops.recorded, result.ops.total, 'and every one of them was recorded');
  t.same(result.inconclusive, [], 'the run is conclusive');
  t.equal(result.clean, true, `no violations: ${result.violations.map((v) => v.detail).join('; ')}`);
  t.equal(exitCode(result), 0);
});

t.test('a full history stops the run and makes it inconclusive, with every operation recorded', async (t) => {
  const result = await runStress(scenario([...FAST, '--duration', '5m']), undefined, { historyMaxRecords: 5000 });
  t.equal(result.ops.total, 5000, 'the thread stopped at its history limit');
  t.equal(result.ops.recorded, result.ops.total, 'it did nothing it could not record');
  t.equal(result.inconclusive.length, 1, 'the run says why it is inconclusive');
  t.match(result.inconclusive[0] ?? '', /5,000 operations/);
  t.equal(exitCode(result), 3, 'exit code 3: inconclusive');
});
