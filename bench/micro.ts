// Single-thread figures (issue 6), each in one tinybench Bench with its baseline so both see the same
// machine state:
//   supply  - pagerSupplyPages of 256 pages (1 MiB) from a committed aux VMO; the aux is re-committed
//             with vmoWrite before each sample and only the supply is timed. Baseline: one
//             Uint8Array.prototype.set of 1 MiB between two regions of a SharedArrayBuffer.
//   read    - vmoRead of 4 KiB from a present page into a plain Uint8Array; baseline: set() of the
//             same 4 KiB from a SharedArrayBuffer page into the same buffer. Batched (sub-µs).
//   futex   - shared/futex.ts mutexLock + mutexUnlock, uncontended; baseline: compareExchange 0 -> 1
//             and store 0 on another word of the same Int32Array. Batched.
// Each setup also offers `profile`: a short CPU profile of the kernel operation alone, taken by
// run.ts only for a figure that misses its target.

import { Kernel, PAGE_SIZE } from '../core/index.js';
import { mutexLock, mutexUnlock } from '../shared/futex.js';
import { batched, measure, nowMs, timedPart, type Figure } from './harness.js';

export interface MicroOptions {
  timeMs: number;
  warmupMs: number;
  /** Calls per sample of the batched (sub-µs) figures. */
  batch: number;
}

export interface PairResult {
  figure: Figure;
  baseline: Figure;
  /** Runs the measured operation alone for about `ms` (setup untimed as in the figure). */
  repeat: (ms: number) => void;
  /** The function whose samples a profile of `repeat` should keep (the timed call, not the setup). */
  profileUnder?: string;
  close: () => void;
}

const SUPPLY_PAGES = 256;
const SUPPLY_BYTES = SUPPLY_PAGES * PAGE_SIZE;
const SLOTS = 32; // 1 MiB targets per pager VMO before it is replaced (untimed)

/** Runs `op` over and over for about `ms` (a profile of it). */
const repeatFor =
  (op: () => unknown) =>
  (ms: number): void => {
    const end = nowMs() + ms;
    while (nowMs() < end) op();
  };

/** A figure and its baseline measured side by side in one Bench, with what run.ts needs to profile it. */
async function measurePair(
  o: MicroOptions,
  figure: [name: string, task: () => unknown],
  baseline: [name: string, task: () => unknown],
  rest: Omit<PairResult, 'figure' | 'baseline'>,
): Promise<PairResult> {
  const r = await measure({ [figure[0]]: figure[1], [baseline[0]]: baseline[1] }, { timeMs: o.timeMs, warmupMs: o.warmupMs });
  return { figure: r[figure[0]], baseline: r[baseline[0]], ...rest };
}

/**
 * The kernel side of the supply figure: supplyOnce() supplies a fresh absent 1 MiB target of a pager
 * VMO from a committed aux VMO (both prepared untimed) and returns the ms the supply alone took.
 */
function supplyFixture(): { supplyOnce: () => number; close: () => void } {
  const kernel = Kernel.create({ physicalMemory: (SLOTS + 8) * SUPPLY_BYTES });
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const aux = sys.vmoCreate(SUPPLY_BYTES, 0);
  const content = new Uint8Array(SUPPLY_BYTES).fill(0x5a);
  let vmo = -1;
  let slot = SLOTS;
  const drainPort = (): void => {
    // Closing a pager VMO posts COMPLETE, whose packet keeps the VMO (and its frames) until read.
    for (;;) {
      try {
        sys.portWait(port, 0n);
      } catch {
        return;
      }
    }
  };
  /** Untimed: a fresh absent 1 MiB target and a committed aux. Returns the target offset. */
  const prepare = (): number => {
    if (slot === SLOTS) {
      if (vmo >= 0) sys.handleClose(vmo);
      drainPort();
      vmo = sys.pagerCreateVmo(pager, 0, port, 1n, SLOTS * SUPPLY_BYTES);
      slot = 0;
    }
    sys.vmoWrite(aux, content, 0);
    return slot++ * SUPPLY_BYTES;
  };
  const supplyOnce = (): number => {
    const offset = prepare();
    const t0 = nowMs();
    sys.pagerSupplyPages(pager, vmo, offset, SUPPLY_BYTES, aux, 0);
    return nowMs() - t0;
  };
  const close = (): void => {
    if (vmo >= 0) sys.handleClose(vmo);
    drainPort();
    sys.handleClose(aux);
    sys.handleClose(port);
    sys.handleClose(pager);
    kernel.close();
  };
  return { supplyOnce, close };
}

export async function benchSupply(o: MicroOptions): Promise<PairResult> {
  const { supplyOnce, close } = supplyFixture();
  const sab = new Uint8Array(new SharedArrayBuffer(2 * SUPPLY_BYTES));
  const src = sab.subarray(0, SUPPLY_BYTES).fill(0x5a);
  const copyOnce = (): number => {
    const t0 = nowMs();
    sab.set(src, SUPPLY_BYTES);
    return nowMs() - t0;
  };
  return measurePair(o, ['pagerSupplyPages 256 pages (1 MiB)', timedPart(supplyOnce)], ['TypedArray.set 1 MiB', timedPart(copyOnce)], {
    repeat: repeatFor(supplyOnce),
    profileUnder: 'pagerSupplyPages',
    close,
  });
}

export async function benchRead(o: MicroOptions): Promise<PairResult> {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmo = sys.pagerCreateVmo(pager, 0, port, 1n, 16 * PAGE_SIZE);
  const aux = sys.vmoCreate(16 * PAGE_SIZE, 0);
  sys.vmoWrite(aux, new Uint8Array(16 * PAGE_SIZE).fill(0x5a), 0);
  sys.pagerSupplyPages(pager, vmo, 0, 16 * PAGE_SIZE, aux, 0);
  const dst = new Uint8Array(PAGE_SIZE);
  const read = (): void => sys.vmoRead(vmo, dst, 3 * PAGE_SIZE);
  const sab = new Uint8Array(new SharedArrayBuffer(16 * PAGE_SIZE)).fill(0x5a);
  const page = sab.subarray(3 * PAGE_SIZE, 4 * PAGE_SIZE);
  const copy = (): void => dst.set(page);
  const pair = await measurePair(o, ['vmoRead 4 KiB, present page', batched(read, o.batch)], ['TypedArray.set 4 KiB', batched(copy, o.batch)], {
    repeat: repeatFor(() => {
      for (let i = 0; i < 1000; i++) read();
    }),
    close: () => {
      for (const h of [vmo, aux, port, pager]) sys.handleClose(h);
      kernel.close();
    },
  });
  if (dst[0] !== 0x5a) throw new Error('vmoRead bench: the page did not hold the supplied content');
  return pair;
}

export async function benchFutex(o: MicroOptions): Promise<PairResult> {
  const w = new Int32Array(new SharedArrayBuffer(64 * 4));
  const LOCK = 0;
  const CAS = 16; // another cache line
  const lockPair = (): void => {
    mutexLock(w, LOCK);
    mutexUnlock(w, LOCK);
  };
  const casPair = (): void => {
    Atomics.compareExchange(w, CAS, 0, 1);
    Atomics.store(w, CAS, 0);
  };
  // Batches 10x larger than the other figures: a pair is ~20 ns.
  const pair = await measurePair(o, ['futex mutexLock+mutexUnlock, uncontended', batched(lockPair, o.batch * 10)], ['Atomics.compareExchange pair', batched(casPair, o.batch * 10)], {
    repeat: repeatFor(() => {
      for (let i = 0; i < 10000; i++) lockPair();
    }),
    close: () => {},
  });
  if (w[LOCK] !== 0) throw new Error('futex bench: the lock was left held');
  return pair;
}
