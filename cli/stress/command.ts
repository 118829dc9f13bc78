// `pagersim stress`: turns flags and an optional --scenario file into a validated Scenario, runs it
// with a progress display, prints the summary and writes --report / --trace; `--self-check` runs a
// clean baseline and then each injected bug, and prints which property caught it and how fast.

import fs from 'node:fs';
import { BUG_NAMES } from '../../core/bugs.js';
import { PAGE_SIZE } from '../../core/index.js';
import { progressText, reportJson, summaryText, writeChromeTrace } from './report.js';
import { runStress, type StressResult } from './run.js';
import { ScenarioSchema, flagsToInput, formatIssues, type Scenario } from './scenario.js';

export interface StressCommand {
  scenario: Scenario;
  selfCheck: boolean;
}

/** A validated command, or the message to print (naming the field and what it allows). */
export function parseStressArgs(argv: readonly string[]): StressCommand | string {
  let flags: ReturnType<typeof flagsToInput>;
  try {
    flags = flagsToInput(argv);
  } catch (e) {
    return (e as Error).message;
  }
  let fromFile: Record<string, unknown> = {};
  if (flags.scenarioFile) {
    let text: string;
    try {
      text = fs.readFileSync(flags.scenarioFile, 'utf8');
    } catch (e) {
      return `--scenario: cannot read ${flags.scenarioFile}: ${(e as Error).message}`;
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      return `--scenario: ${flags.scenarioFile} is not valid JSON: ${(e as Error).message}`;
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) return `--scenario: ${flags.scenarioFile} must hold a JSON object`;
    const fileCheck = ScenarioSchema.safeParse(fromFile);
    if (!fileCheck.success) return `invalid scenario file ${flags.scenarioFile}:\n${formatIssues(fileCheck.error, false)}`;
  }
  const parsed = ScenarioSchema.safeParse({ ...fromFile, ...flags.input });
  if (!parsed.success) return `invalid flags:\n${formatIssues(parsed.error, true)}`;
  const events = (['detachAt', 'closePagerAt', 'killPagerAt'] as const).filter((k) => parsed.data[k] !== undefined);
  if (events.length > 1) return '--detach-at, --close-pager-at and --kill-pager-at: choose one mid-run event';
  return { scenario: parsed.data, selfCheck: flags.selfCheck };
}

export async function stressMain(cmd: StressCommand): Promise<number> {
  if (cmd.selfCheck) return selfCheck(cmd.scenario);
  const s = cmd.scenario;
  const tty = process.stderr.isTTY === true;
  const mode = s.progress === 'auto' ? (tty ? 'bar' : 'lines') : s.progress;
  let lastLine = 0;
  const result = await runStress(s, (p) => {
    if (mode === 'bar') process.stderr.write(progressText(p, true));
    else if (mode === 'lines' && p.elapsedMs - lastLine >= 1000) {
      lastLine = p.elapsedMs;
      process.stderr.write(progressText(p, false) + '\n');
    }
  });
  if (mode === 'bar') process.stderr.write('\n');
  console.log(summaryText(result));
  if (s.report) {
    fs.writeFileSync(s.report, JSON.stringify(reportJson(result), null, 2) + '\n');
    console.log(`  report written to ${s.report}`);
  }
  if (s.trace) {
    const events = writeChromeTrace(result, s.trace);
    console.log(`  trace written to ${s.trace} (${events.toLocaleString('en-US')} events; open it in ui.perfetto.dev or chrome://tracing)`);
  }
  return exitCode(result);
}

/** 0 clean, 1 violations found, 3 inconclusive (nothing found, but the run could not check everything it did). */
export function exitCode(result: StressResult): number {
  if (!result.clean) return 1;
  return result.inconclusive.length > 0 ? 3 : 0;
}

/** The scenario each self-check run uses: small, hot and under pressure so every bug shows fast. */
export function selfCheckScenario(base: Scenario, bug?: string): Scenario {
  return {
    ...base,
    threads: 4,
    vmos: 1,
    vmoPages: 64,
    physicalMemory: 40 * PAGE_SIZE,
    duration: Math.min(base.duration, 4000),
    pattern: 'hot',
    hotFraction: 0.25,
    hotProbability: 0.8,
    readRatio: 0.5,
    trapDirty: true,
    failRate: 0.05,
    readahead: 4,
    writebackInterval: 5,
    hangTimeout: 1000,
    detachAt: undefined,
    closePagerAt: undefined,
    killPagerAt: undefined,
    injectBug: bug,
    report: undefined,
    trace: undefined,
  };
}

async function selfCheck(base: Scenario): Promise<number> {
  const rows: Array<{ bug: string; result: StressResult }> = [];
  console.log('pagersim stress --self-check: a clean run, then one run per injected kernel bug');
  for (const bug of [undefined, ...Object.keys(BUG_NAMES)]) {
    const result = await runStress(selfCheckScenario(base, bug));
    rows.push({ bug: bug ?? '(none: clean baseline)', result });
    process.stderr.write(`  ${bug ?? 'baseline'} done\n`);
  }
  const header = ['bug', 'detected', 'first property', 'after', 'violations by kind'];
  const table = rows.map(({ bug, result }) => {
    const first = result.violations[0];
    const isBaseline = bug.startsWith('(');
    return [
      bug,
      isBaseline ? (result.clean ? 'clean' : 'FALSE ALARM') : result.clean ? 'NO' : 'yes',
      first?.kind ?? '-',
      first ? `${Math.max(0, (first.atNs - result.startNs) / 1e6).toFixed(0)} ms` : '-',
      Object.entries(result.violationCounts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of table) console.log(line(r));
  const ok = rows[0].result.clean && rows.slice(1).every((r) => !r.result.clean);
  console.log(ok ? '  every injected bug was detected; the clean run had no violation' : '  SELF-CHECK FAILED');
  return ok ? 0 : 1;
}
