// The stress scenario: every knob of `pagersim stress`, from flags or a --scenario JSON file,
// validated with zod at this edge (an error names the field and what it allows). Defaults make a
// 10-second run on 2 cores that exercises eviction, writeback races and FAIL.

import { z } from 'zod';
import { BUG_NAMES } from '../../core/bugs.js';
import { PAGE_SIZE } from '../../shared/constants.js';
import { PAGER_FAIL_CODE_NAMES } from '../../shared/status.js';

/** The least simulated physical memory a run accepts (64KiB: 16 frames). */
const MIN_PHYSICAL_MEMORY = 16 * PAGE_SIZE;

/** Milliseconds, or a number with a unit: "10s", "500ms", "2m". */
const Duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(v));
  const ms = m ? parseFloat(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `must be a positive number of milliseconds or like "10s", "500ms", "2m" (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }
  return Math.round(ms);
});

/** Bytes, or a number with a unit: "512KiB", "64MiB", "1GiB". */
const Bytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = /^(\d+)(KiB|MiB|GiB)?$/.exec(String(v));
  const bytes = m ? parseInt(m[1], 10) * (m[2] === 'GiB' ? 2 ** 30 : m[2] === 'MiB' ? 2 ** 20 : m[2] === 'KiB' ? 1024 : 1) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < MIN_PHYSICAL_MEMORY) {
    ctx.addIssue({ code: 'custom', message: `must be at least 64KiB, as bytes or like "512KiB", "64MiB" (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }
  return bytes;
});

const Flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')]);

/**
 * The operations a run can exercise beyond whole-page reads and writes (always on): what a real
 * pager's clients do (mapped access, zx_vmo_op_range ZERO / COMMIT / DECOMMIT / hints, resizes) and
 * what a real pager does (supplying zero pages as uncommitted aux pages: zero markers).
 */
export const SWARM_OPS = ['map-read', 'map-write', 'zero', 'resize', 'decommit', 'commit', 'dont-need', 'always-need', 'prefetch', 'zero-supply'] as const;
export type SwarmOp = (typeof SWARM_OPS)[number];
const OP_NAMES = ['read', 'write', ...SWARM_OPS] as const;

/** "zero,resize" or ["zero", "resize"]: the operations to enable (read and write always are). */
const OpsMix = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(OP_NAMES)));

/** Free frames to leave: `true` (the flag alone) picks a default, a number says how many. */
const Squeeze = z.union([z.boolean(), z.number(), z.string()]).transform((v, ctx) => {
  if (v === true || v === 'true') return SQUEEZE_DEFAULT_FREE;
  if (v === false || v === 'false') return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 4) {
    ctx.addIssue({ code: 'custom', message: `must be true, false or a number of free frames to leave, at least 4 (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }
  return n;
});
const SQUEEZE_DEFAULT_FREE = 12;

export const ScenarioSchema = z
  .object({
    /** Faulting threads (ThreadPool workers). */
    threads: z.coerce.number().int().min(1).max(64).default(4),
    /** Pager VMOs, all on one pager and one port. */
    vmos: z.coerce.number().int().min(1).max(64).default(2),
    /** Pages per VMO. */
    vmoPages: z.coerce.number().int().min(4).max(1 << 20).default(128),
    /** Simulated physical memory: small by default so that reclaim evicts all the time. */
    physicalMemory: Bytes.default(96 * PAGE_SIZE),
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
    failCodes: z.array(z.enum(PAGER_FAIL_CODE_NAMES)).min(1).default(['ZX_ERR_IO', 'ZX_ERR_IO_DATA_INTEGRITY']),
    /** The pager supplies whole aligned clusters of this many pages (read-ahead). */
    readahead: z.coerce.number().int().min(1).max(256).default(4),
    /** Extra operations to enable (read and write always are), from SWARM_OPS. */
    opsMix: OpsMix.default([]),
    /** Let the seed enable a random subset of SWARM_OPS (on top of --ops-mix). */
    swarm: Flag.default(false),
    /**
     * Memory at the edge: an anonymous VMO commits all frames but this many (0 = off), so supply,
     * OP_DIRTY, OP_ZERO, COMMIT and resizes meet ZX_ERR_NO_MEMORY; NO_MEMORY is then a legal outcome.
     */
    squeezeMemory: Squeeze.default(0),
    /** Optional mid-run events (midRunEvents()): detach VMO 0, or close the pager handle. */
    detachAt: Duration.optional(),
    closePagerAt: Duration.optional(),
    /** zx_task_kill of the pager service's process: its pager handle closes with it (as close-pager). */
    killPagerAt: Duration.optional(),
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

/**
 * Mid-run events in time order. Each kind is one flag (`--<kind>-at TIME`) and one case in the
 * orchestrator's dispatch (run.ts).
 */
export type MidRunEventKind = 'detach' | 'close-pager' | 'kill-pager';
export interface MidRunEvent {
  atMs: number;
  kind: MidRunEventKind;
}

export function midRunEvents(s: Scenario): MidRunEvent[] {
  const events: MidRunEvent[] = [];
  if (s.detachAt !== undefined) events.push({ atMs: s.detachAt, kind: 'detach' });
  if (s.closePagerAt !== undefined) events.push({ atMs: s.closePagerAt, kind: 'close-pager' });
  if (s.killPagerAt !== undefined) events.push({ atMs: s.killPagerAt, kind: 'kill-pager' });
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** The extra operations this run enables: --ops-mix, plus the seed's random subset with --swarm. */
export function enabledOps(s: Scenario, seed: number): SwarmOp[] {
  const on = new Set<string>(s.opsMix);
  if (s.swarm) {
    let x = (seed ^ 0x2545f491) >>> 0 || 1;
    for (const op of SWARM_OPS) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if ((x >>> 0) % 2 === 1) on.add(op);
    }
  }
  return SWARM_OPS.filter((op) => on.has(op));
}

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
    const arg = argv[i];
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
      else value = argv[++i];
    }
    if (key === 'scenario') scenarioFile = value;
    else if (key === 'failCodes') input[key] = value.split(',').filter(Boolean);
    else if (key === 'squeezeMemory' && /^\d+$/.test(value)) input[key] = Number(value);
    else input[key] = value;
  }
  return { input, scenarioFile, selfCheck };
}
