// Tests of `pagersim stress`: its validation names the offending field, a short clean run has no
// violation and writes a report of the documented schema and a well-formed Chrome trace, and every
// injected kernel bug is detected (the checker can fail).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BUG_NAMES } from '../../core/bugs.js';
import { parseStressArgs, selfCheckScenario, type StressCommand } from '../../cli/stress/command.js';
import { REPORT_SCHEMA, REPORT_VERSION, reportJson, writeChromeTrace } from '../../cli/stress/report.js';
import { runStress } from '../../cli/stress/run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pagersim-stress-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

function parsed(argv: string[]): StressCommand {
  const r = parseStressArgs(argv);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

// Bad flags and scenario files are rejected with a message naming the field and what it allows.
t.test('validation names the field', async (t) => {
  const msg = (argv: string[]): string => {
    const r = parseStressArgs(argv);
    t.type(r, 'string', `${argv.join(' ')} is rejected`);
    return String(r);
  };
  t.match(msg(['--fail-rate', '2']), /--fail-rate/);
  t.match(msg(['--pattern', 'zigzag']), /--pattern.*uniform, hot, sequential/s);
  t.match(msg(['--threads', '0']), /--threads/);
  t.match(msg(['--duration', 'soon']), /--duration.*10s/s);
  t.match(msg(['--physical-memory', '12']), /--physical-memory/);
  t.match(msg(['--inject-bug', 'nope']), /--inject-bug.*end-cleans-redirtied/s);
  t.match(msg(['--fail-codes', 'ZX_ERR_INTERNAL']), /--fail-codes/);
  t.match(msg(['--no-such-flag', '1']), /noSuchFlag/);
  t.match(msg(['positional']), /unexpected argument 'positional'/);
  const badJson = path.join(tmp, 'bad.json');
  fs.writeFileSync(badJson, '{ threads: 4');
  t.match(msg(['--scenario', badJson]), /--scenario: .* is not valid JSON/);
  const badField = path.join(tmp, 'field.json');
  fs.writeFileSync(badField, JSON.stringify({ threads: 4, readRatio: 'most' }));
  t.match(msg(['--scenario', badField]), /readRatio/);
  t.match(msg(['--scenario', path.join(tmp, 'missing.json')]), /cannot read/);
  const good = path.join(tmp, 'good.json');
  fs.writeFileSync(good, JSON.stringify({ threads: 2, duration: '2s', failCodes: ['ZX_ERR_IO'] }));
  const ok = parsed(['--scenario', good, '--threads', '3']);
  t.equal(ok.scenario.threads, 3, 'a flag overrides the scenario file');
  t.equal(ok.scenario.duration, 2000);
  t.same(ok.scenario.failCodes, ['ZX_ERR_IO']);
});

// A short default-shaped run is clean; its report follows the schema and its trace is well formed.
t.test('a short clean run, its report and its trace', async (t) => {
  // Bounded by operations, not time, and sequential: each thread sweeps both VMOs (128 pages) through
  // 96 frames whatever the machine's speed, so eviction must happen.
  const { scenario } = parsed(['--ops', '400', '--duration', '60s', '--pattern', 'sequential', '--threads', '3', '--vmo-pages', '64', '--seed', '7', '--trace', path.join(tmp, 'trace.json')]);
  const result = await runStress(scenario);
  t.equal(result.clean, true, `no violations: ${result.violations.map((v) => v.detail).join('; ')}`);
  t.ok(result.ops.total > 0 && result.kernel.requests > 0, 'the run faulted');
  t.ok(result.kernel.evictions > 0, 'the default memory size forces eviction');
  t.ok(result.writeback.passes > 0, 'writeback ran');

  const report = JSON.parse(JSON.stringify(reportJson(result))) as Record<string, any>;
  t.equal(report.schema, REPORT_SCHEMA);
  t.equal(report.version, REPORT_VERSION);
  t.equal(report.seed, 7);
  for (const key of ['scenario', 'durationMs', 'ops', 'throughput', 'kernel', 'pager', 'writeback', 'faultLatencyUs', 'violations', 'clean']) t.ok(key in report, `report has ${key}`);
  t.equal(report.violations.total, 0);
  t.ok(report.faultLatencyUs.p50 <= report.faultLatencyUs.p99 && report.faultLatencyUs.p99 <= report.faultLatencyUs.max, 'percentiles are ordered');

  const file = path.join(tmp, 'trace.json');
  const count = writeChromeTrace(result, file);
  const trace = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: Array<Record<string, any>> };
  t.equal(trace.traceEvents.length, count, 'every emitted event is in the file');
  const asyncOpen = new Map<string, number>();
  const flows = new Map<number, number>();
  let bad = 0;
  for (const e of trace.traceEvents) {
    if (typeof e.ph !== 'string' || typeof e.pid !== 'number') bad++;
    if (e.ph !== 'M' && typeof e.ts !== 'number') bad++;
    if (e.ph === 'X' && !(e.dur >= 0)) bad++;
    if (e.ph === 'b') asyncOpen.set(e.id, (asyncOpen.get(e.id) ?? 0) + 1);
    if (e.ph === 'e') asyncOpen.set(e.id, (asyncOpen.get(e.id) ?? 0) - 1);
    if (e.ph === 's') flows.set(e.id, (flows.get(e.id) ?? 0) + 1);
    if (e.ph === 'f') flows.set(e.id, (flows.get(e.id) ?? 0) - 1);
  }
  t.equal(bad, 0, 'every event has the fields its phase needs');
  t.ok(asyncOpen.size > 0, 'page requests appear as async spans');
  t.ok([...asyncOpen.values()].every((n) => n === 0), 'every async begin has its end');
  t.ok([...flows.values()].every((n) => n === 0 || n === 1), 'flow arrows start once and end at most once');
  t.ok(trace.traceEvents.some((e) => e.ph === 'X' && e.cat === 'blocked'), 'blocked spans on thread tracks');
  t.ok(trace.traceEvents.some((e) => e.ph === 'X' && e.cat === 'writeback'), 'writeback spans');
});

// The checker can fail: each deliberate kernel bug is caught (and the clean baseline is not).
t.test('--self-check detects every injected bug', async (t) => {
  // Bounded by operations, not time: a loaded machine does fewer operations in the same time.
  const { scenario } = parsed(['--duration', '5m', '--ops', '800']);
  for (const bug of Object.keys(BUG_NAMES)) {
    const result = await runStress({ ...selfCheckScenario(scenario, bug), duration: scenario.duration });
    t.equal(result.clean, false, `${bug} is detected (${Object.keys(result.violationCounts).join(', ')})`);
  }
});
