// Benchmark: zx_pager_query_dirty_ranges against a plain per-page scan of the same states, side by
// side in one run (issue "dirty tracking"): a 4 GiB pager VMO (1,048,576 pages) with 1 and with 1,000
// dirty runs, and the same queries on a 16 MiB VMO. Targets: the sparse query at most 1/20 of the
// scan; 16 MiB and 4 GiB within 2x of each other. Prints the figures and ratios; returns them.

import { Kernel, PAGE_SIZE } from '../core/index.js';
import { batched, fmtUs, measure, profileTop, type Figure, type ProfileLine } from './harness.js';

interface Setup {
  query: () => unknown;
  scan: () => unknown;
  close: () => void;
}

/** A non-trapping pager VMO of `pages` pages with `runs` single-page dirty runs spread evenly. */
function setup(pages: number, runs: number, scanSize: number): Setup {
  const kernel = Kernel.create({ physicalMemory: 64 * 2 ** 20, maxPageListNodes: 16384 });
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmo = sys.pagerCreateVmo(pager, 0, port, 1n, pages * PAGE_SIZE);
  const aux = sys.vmoCreate(PAGE_SIZE, 0);
  const byte = new Uint8Array([1]);
  // The per-page state array the baseline scans: what a flat design would keep (1 = dirty).
  const states = new Int32Array(scanSize);
  const stride = Math.floor(pages / runs);
  for (let i = 0; i < runs; i++) {
    const page = i * stride + (stride >> 1);
    sys.vmoWrite(aux, byte, 0);
    sys.pagerSupplyPages(pager, vmo, page * PAGE_SIZE, PAGE_SIZE, aux, 0);
    sys.vmoWrite(vmo, byte, page * PAGE_SIZE);
    if (page < scanSize) states[page] = 1;
  }
  const size = pages * PAGE_SIZE;
  const query = (): unknown => sys.pagerQueryDirtyRanges(pager, vmo, 0, size, runs + 1);
  const scan = (): unknown => {
    const out: Array<{ offset: number; length: number }> = [];
    let start = -1;
    for (let p = 0; p < states.length; p++) {
      if (states[p] === 1) {
        if (start < 0) start = p;
      } else if (start >= 0) {
        out.push({ offset: start * PAGE_SIZE, length: (p - start) * PAGE_SIZE });
        start = -1;
      }
    }
    return out;
  };
  const close = (): void => {
    for (const h of [vmo, aux, port, pager]) sys.handleClose(h);
    kernel.close();
  };
  return { query, scan, close };
}

export interface QueryBenchResult {
  figures: Record<string, Figure>;
  ratios: Record<string, number>;
  /** With options.profileMs: a CPU profile of each query, by figure name. */
  profiles?: Record<string, ProfileLine[]>;
}

export interface QueryBenchOptions {
  /** Queries per sample (the scan is always one): a 1-run query takes well under a microsecond. */
  batch?: number;
  warmupMs?: number;
  /** Profile each query alone for this many ms after measuring (for a report's "where the time goes"). */
  profileMs?: number;
}

export async function runQueryBench(timeMs = 500, options: QueryBenchOptions = {}): Promise<QueryBenchResult> {
  const BIG = 1 << 20;
  const SMALL = 4096;
  const big1 = setup(BIG, 1, BIG);
  const big1000 = setup(BIG, 1000, BIG);
  const small1 = setup(SMALL, 1, 1);
  const small1000 = setup(SMALL, 1000, 1);
  const setups = [big1, big1000, small1, small1000];
  const batch = options.batch ?? 1;
  const q = (fn: () => unknown): (() => unknown) => (batch > 1 ? batched(fn, batch) : fn);
  const queries: Record<string, () => unknown> = {
    'query 4 GiB, 1 run': big1.query,
    'query 4 GiB, 1000 runs': big1000.query,
    'query 16 MiB, 1 run': small1.query,
    'query 16 MiB, 1000 runs': small1000.query,
  };
  let figures: Record<string, Figure>;
  const profiles: Record<string, ProfileLine[]> = {};
  try {
    figures = await measure(
      {
        ...Object.fromEntries(Object.entries(queries).map(([name, fn]) => [name, q(fn)])),
        'scan 4 GiB per page (baseline)': big1000.scan,
      },
      { timeMs, ...(options.warmupMs !== undefined ? { warmupMs: options.warmupMs } : {}) },
    );
    if (options.profileMs) {
      const ms = options.profileMs;
      for (const [name, fn] of Object.entries(queries)) {
        profiles[name] = profileTop(() => {
          const end = performance.now() + ms;
          while (performance.now() < end) for (let i = 0; i < 10; i++) fn();
        });
      }
    }
  } finally {
    for (const s of setups) s.close();
  }
  const f = (n: string): number => figures[n].medianUs;
  const ratios = {
    'query 4 GiB 1 run / scan': f('query 4 GiB, 1 run') / f('scan 4 GiB per page (baseline)'),
    'query 4 GiB 1000 runs / scan': f('query 4 GiB, 1000 runs') / f('scan 4 GiB per page (baseline)'),
    'query 4 GiB / 16 MiB, 1 run': f('query 4 GiB, 1 run') / f('query 16 MiB, 1 run'),
    'query 4 GiB / 16 MiB, 1000 runs': f('query 4 GiB, 1000 runs') / f('query 16 MiB, 1000 runs'),
  };
  return options.profileMs ? { figures, ratios, profiles } : { figures, ratios };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { figures, ratios } = await runQueryBench();
  for (const fig of Object.values(figures)) console.log(`${fig.name.padEnd(34)} median ${fmtUs(fig.medianUs).padStart(10)}  p99 ${fmtUs(fig.p99Us).padStart(10)}`);
  console.log('ratios (targets: query/scan <= 0.05; 4 GiB vs 16 MiB <= 2):');
  for (const [name, r] of Object.entries(ratios)) console.log(`  ${name.padEnd(34)} ${r.toFixed(3)}`);
}
