// One faulting thread of `pagersim stress` (a ThreadPool task): reads and writes whole pages of the
// pager VMOs at random, stamping every write, and - for each extra operation the run enables - now
// and then maps, zeroes, commits, hints, decommits or resizes instead. It records each operation
// (what, where, which stamp or range, status, start and end on the shared monotonic clock) into its
// own growable history buffers for the checker, and never does one it could not record.

import type { Sys } from '../core/sys_types.js';
import { ZxError, ZxException } from '../core/errors.js';
import {
  PAGE_SIZE,
  ZX_VM_ALLOW_FAULTS,
  ZX_VM_PERM_READ,
  ZX_VM_PERM_WRITE,
  ZX_VMO_OP_ALWAYS_NEED,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_OP_DECOMMIT,
  ZX_VMO_OP_DONT_NEED,
  ZX_VMO_OP_PREFETCH,
  ZX_VMO_OP_ZERO,
} from '../shared/constants.js';
import { fillPage, makeStamp, pageTag, readStamp } from './stress_content.js';
import { seededRandom } from './random.js';
import {
  C_HISTORY_FULL,
  C_OPS,
  C_RECORDED,
  C_STOP_THREADS,
  HISTORY_F64,
  HISTORY_I32,
  OpKind,
  growHistory,
  type GrowableSharedArrayBuffer,
} from './stress_protocol.js';

export interface StressThreadArgs {
  threadIndex: number;
  vmos: number[];
  vmoPages: number;
  ops: number;
  deadlineNs: number;
  readRatio: number;
  pattern: 'uniform' | 'hot' | 'sequential';
  hotFraction: number;
  hotProbability: number;
  /** Extra operations (OpKind values other than Read/Write) this run enables. */
  extraOps: OpKind[];
  seed: number;
  control: SharedArrayBuffer;
  historyI32: GrowableSharedArrayBuffer;
  historyF64: GrowableSharedArrayBuffer;
}

/** Share of operations that are an extra one, when any is enabled. */
const EXTRA_SHARE = 0.08;
/** Range operations cover 1..MAX_RANGE_PAGES pages. */
const MAX_RANGE_PAGES = 4;

const RANGE_OPS: ReadonlyMap<OpKind, number> = new Map<OpKind, number>([
  [OpKind.Zero, ZX_VMO_OP_ZERO],
  [OpKind.Decommit, ZX_VMO_OP_DECOMMIT],
  [OpKind.Commit, ZX_VMO_OP_COMMIT],
  [OpKind.DontNeed, ZX_VMO_OP_DONT_NEED],
  [OpKind.AlwaysNeed, ZX_VMO_OP_ALWAYS_NEED],
  [OpKind.Prefetch, ZX_VMO_OP_PREFETCH],
]);

export function stressThread(sys: Sys, a: StressThreadArgs): { ops: number } {
  const control = new Int32Array(a.control);
  // Length-tracking views: they follow the buffers as growHistory() grows them.
  const hi = new Int32Array(a.historyI32);
  const hf = new Float64Array(a.historyF64);
  const history = { i32: a.historyI32, f64: a.historyF64 };
  const bytes = new Uint8Array(PAGE_SIZE);
  const words = new Uint32Array(bytes.buffer);
  const rand = seededRandom(a.seed);
  const mapped = a.extraOps.includes(OpKind.MapRead) || a.extraOps.includes(OpKind.MapWrite);
  const rangeOps = a.extraOps.filter((k) => k !== OpKind.MapRead && k !== OpKind.MapWrite);
  // Resizable VMOs may be shorter than vmoPages: the mapping still covers it all (faults past the end
  // are fatal, and recorded as such).
  const addresses = mapped ? a.vmos.map((v) => sys.vmarMap(ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_ALLOW_FAULTS, 0, v, a.vmoPages * PAGE_SIZE)) : [];
  const hot = Math.max(1, Math.floor(a.vmoPages * a.hotFraction));
  let cursor = Math.floor(rand() * a.vmoPages);
  let seq = 0;
  let ops = 0;
  let recorded = 0;
  while (ops < a.ops) {
    if ((ops & 15) === 0 && (Atomics.load(control, C_STOP_THREADS) !== 0 || Number(process.hrtime.bigint()) > a.deadlineNs)) break;
    if (recorded === hf.length / HISTORY_F64 && !growHistory(history)) {
      Atomics.store(control, C_HISTORY_FULL, 1); // never do an operation the checker cannot see
      break;
    }
    const v = Math.floor(rand() * a.vmos.length);
    let page: number;
    if (a.pattern === 'sequential') page = cursor = (cursor + 1) % a.vmoPages;
    else if (a.pattern === 'hot' && rand() < a.hotProbability) page = Math.floor(rand() * hot);
    else page = Math.floor(rand() * a.vmoPages);
    let kind: OpKind;
    if (rangeOps.length > 0 && rand() < EXTRA_SHARE) kind = rangeOps[Math.floor(rand() * rangeOps.length)];
    else {
      const write = rand() >= a.readRatio;
      const viaMapping = mapped && a.extraOps.includes(write ? OpKind.MapWrite : OpKind.MapRead) && rand() < 0.5;
      kind = write ? (viaMapping ? OpKind.MapWrite : OpKind.Write) : viaMapping ? OpKind.MapRead : OpKind.Read;
    }
    const write = kind === OpKind.Write || kind === OpKind.MapWrite;
    // stamp for reads and writes; page count for range ops; the new size for a resize.
    let arg = 0;
    if (write) {
      arg = makeStamp(a.threadIndex, ++seq);
      fillPage(words, arg, pageTag(v, page));
    } else if (kind === OpKind.Resize) {
      page = Math.floor(a.vmoPages / 2) + Math.floor(rand() * (a.vmoPages - Math.floor(a.vmoPages / 2) + 1));
    } else if (RANGE_OPS.has(kind)) {
      arg = Math.min(a.vmoPages - page, 1 + Math.floor(rand() * MAX_RANGE_PAGES));
    }
    let status = 0;
    const t0 = Number(process.hrtime.bigint());
    try {
      switch (kind) {
        case OpKind.Read:
          sys.vmoRead(a.vmos[v], bytes, page * PAGE_SIZE);
          break;
        case OpKind.Write:
          sys.vmoWrite(a.vmos[v], bytes, page * PAGE_SIZE);
          break;
        case OpKind.MapRead:
          sys.memRead(addresses[v] + page * PAGE_SIZE, bytes);
          break;
        case OpKind.MapWrite:
          sys.memWrite(addresses[v] + page * PAGE_SIZE, bytes);
          break;
        case OpKind.Resize:
          sys.vmoSetSize(a.vmos[v], page * PAGE_SIZE);
          break;
        default:
          sys.vmoOpRange(a.vmos[v], RANGE_OPS.get(kind)!, page * PAGE_SIZE, arg * PAGE_SIZE);
      }
    } catch (e) {
      if (e instanceof ZxError || e instanceof ZxException) status = e.status;
      else throw e;
    }
    const t1 = Number(process.hrtime.bigint());
    if ((kind === OpKind.Read || kind === OpKind.MapRead) && status === 0) arg = readStamp(words, pageTag(v, page));
    const b = recorded * HISTORY_I32;
    hi[b] = kind | (v << 4);
    hi[b + 1] = page;
    hi[b + 2] = arg | 0;
    hi[b + 3] = status;
    hf[recorded * HISTORY_F64] = t0;
    hf[recorded * HISTORY_F64 + 1] = t1;
    recorded++;
    Atomics.store(control, C_RECORDED + a.threadIndex, recorded);
    ops++;
    Atomics.add(control, C_OPS + a.threadIndex, 1);
  }
  for (const address of addresses) sys.vmarUnmap(address, a.vmoPages * PAGE_SIZE);
  return { ops };
}
