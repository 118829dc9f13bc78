// The stress scenario: every knob of `pagersim stress`, from flags or a --scenario JSON file,
// validated with zod at this edge (an error names the field and what it allows). Defaults make a
// 10-second run on 2 cores that exercises eviction, writeback races and FAIL.

import { z } from 'zod';
import { BUG_NAMES } from '../../core/bugs.js';

export const FAIL_CODE_NAMES = ['ZX_ERR_IO', 'ZX_ERR_IO_DATA_INTEGRITY', 'ZX_ERR_BAD_STATE', 'ZX_ERR_NO_SPACE', 'ZX_ERR_BUFFER_TOO_SMALL'] as const;

/** Milliseconds, or a number with a unit: "10s", "500ms", "2m". */
const Duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(v));
  const ms = m ? parseFloat(m[1]!) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `must be a positive number of milliseconds or like "10s", "500ms", "2m" (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }
  return Math.round(ms);
});

/** Bytes, or a number with a unit: "512KiB", "64MiB", "1GiB". */
const Bytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = /^(\d+)(KiB|MiB|GiB)?$/.exec(String(v));
  const bytes = m ? parseInt(m[1]!, 10) * (m[2] === 'GiB' ? 2 ** 30 : m[2] === 'MiB' ? 2 ** 20 : m[2] === 'KiB' ? 1024 : 1) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 16 * 4096) {
    ctx.addIssue({ code: 'custom', message: `must be at least 64KiB, as bytes or like "512KiB", "64MiB" (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }
  return bytes;
});

const Flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')]);

export const ScenarioSchema = z
  .object({
    /** Faulting threads (ThreadPool workers). */
    threads: z.coerce.number().int().min(1).max(64).default(4),
    /** Pager VMOs, all on one pager and one port. */
    vmos: z.coerce.number().int().min(1).max(64).default(2),
    /** Pages per VMO. */
    vmoPages: z.coerce.number().int().min(4).max(1 << 20).default(128),
    /** Simulated physical memory: small by default so that reclaim evicts all the time. */
    physicalMemory: Bytes.default(96 * 4096),
    /** Run length; `ops` (per thread) stops earlier if given. */
    duration: Duration.default(10_000),
    ops: z.coerce.number().int().positive().optional(),
    /** Share of operations that read (the rest write whole stamped pages). */
    readRatio: z.coerce.number().min(0).max(1).default(0.6),
    pattern: z.enum(['uniform', 'hot', 'sequential']).default('hot'),
    /** For the hot pattern: the hot set's share of pages, and how often it is chosen. */
    hotFraction: z.coerce.number().gt(0).max(1).default(0.1),
    hotProbability: z.coerce.number().min(0).max(1).default(0.7),
    /** Create the VMOs with ZX_VMO_TRAP_DIRTY (writes wait for the pager's DIRTY ack). */
    trapDirty: Flag.default(true),
    /** Pause between writeback passes. */
    writebackInterval: Duration.default(20),
    /** Simulated storage time per page written back (µs): the window in which writes race END. */
    writebackLatencyUs: z.coerce.number().int().min(0).max(1_000_000).default(200),
    /** Share of READ and DIRTY requests the pager fails, and the codes it picks from. */
    failRate: z.coerce.number().min(0).max(1).default(0.02),
    failCodes: z.array(z.enum(FAIL_CODE_NAMES)).min(1).default(['ZX_ERR_IO', 'ZX_ERR_IO_DATA_INTEGRITY']),
    /** The pager supplies whole aligned clusters of this many pages (read-ahead). */
    readahead: z.coerce.number().int().min(1).max(256).default(4),
    /** Optional mid-run events: detach VMO 0, or close the pager handle. */
    detachAt: Duration.optional(),
    closePagerAt: Duration.optional(),
    seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).optional(),
    /** A thread blocked this long while the pager is idle is a hang. */
    hangTimeout: Duration.default(3000),
    /** A real file as backing store instead of memory (read and written with node:fs). */
    backing: z.string().min(1).optional(),
    /** Switch on one deliberate kernel bug to prove the checker catches it. */
    injectBug: z.enum(Object.keys(BUG_NAMES) as [string, ...string[]]).optional(),
    /** Kernel trace ring capacity (events) for --trace; without --trace the FAIL-wakeup check records only
     *  three event types and the ring grows with --duration (at least this many). */
    traceEvents: z.coerce.number().int().min(0).max(50_000_000).default(1 << 20),
    report: z.string().min(1).optional(),
    trace: z.string().min(1).optional(),
    progress: z.enum(['auto', 'bar', 'lines', 'none']).default('auto'),
  })
  .strict();

export type Scenario = z.output<typeof ScenarioSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;

/** One readable line per problem, naming the field: "--fail-rate: Too big: expected number to be <=1". */
export function formatIssues(error: z.ZodError, asFlags: boolean): string {
  return error.issues
    .map((i) => {
      const field = i.path.length ? i.path.map(String).join('.') : '(scenario)';
      const name = asFlags ? `--${field.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}` : field;
      const allowed = 'values' in i && Array.isArray(i.values) ? ` (allowed: ${i.values.join(', ')})` : '';
      const keys = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
      return `${name}: ${i.message}${allowed}${keys}`;
    })
    .join('\n');
}

/** Turns `--fail-rate 0.1 --trap-dirty --fail-codes ZX_ERR_IO,ZX_ERR_NO_SPACE` into scenario keys. */
export function flagsToInput(argv: readonly string[]): { input: Record<string, unknown>; scenarioFile?: string; selfCheck: boolean } {
  const input: Record<string, unknown> = {};
  let scenarioFile: string | undefined;
  let selfCheck = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}' (flags look like --threads 4)`);
    let [name, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (name === 'self-check') {
      selfCheck = true;
      continue;
    }
    const key = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) value = 'true';
      else value = argv[++i]!;
    }
    if (key === 'scenario') scenarioFile = value;
    else if (key === 'failCodes') input[key] = value.split(',').filter(Boolean);
    else input[key] = value;
  }
  return { input, scenarioFile, selfCheck };
}
