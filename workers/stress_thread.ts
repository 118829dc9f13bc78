// One faulting thread of `pagersim stress` (a ThreadPool task): reads and writes whole pages of the
// pager VMOs at random, stamping every write, and records each operation (what, where, which stamp,
// status, start and end on the shared monotonic clock) into its own history buffers for the checker.

import type { Sys } from '../core/sys_types.js';
import { ZxError } from '../core/errors.js';
import { PAGE_SIZE } from '../shared/constants.js';
import { fillPage, makeStamp, pageTag, readStamp } from '../cli/stress/content.js';
import { C_HISTORY_FULL, C_OPS, C_RECORDED, C_STOP_THREADS, HISTORY_F64, HISTORY_I32, growHistory, type GrowableSharedArrayBuffer } from './stress_protocol.js';

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
  seed: number;
  control: SharedArrayBuffer;
  historyI32: GrowableSharedArrayBuffer;
  historyF64: GrowableSharedArrayBuffer;
}

export function stressThread(sys: Sys, a: StressThreadArgs): { ops: number } {
  const control = new Int32Array(a.control);
  // Length-tracking views: they follow the buffers as growHistory() grows them.
  const hi = new Int32Array(a.historyI32);
  const hf = new Float64Array(a.historyF64);
  const history = { i32: a.historyI32, f64: a.historyF64 };
  const bytes = new Uint8Array(PAGE_SIZE);
  const words = new Uint32Array(bytes.buffer);
  let x = a.seed >>> 0 || 0x9e3779b9;
  const rand = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
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
    const write = rand() >= a.readRatio;
    let stamp = 0;
    if (write) {
      stamp = makeStamp(a.threadIndex, ++seq);
      fillPage(words, stamp, pageTag(v, page));
    }
    let status = 0;
    const t0 = Number(process.hrtime.bigint());
    try {
      if (write) sys.vmoWrite(a.vmos[v]!, bytes, page * PAGE_SIZE);
      else sys.vmoRead(a.vmos[v]!, bytes, page * PAGE_SIZE);
    } catch (e) {
      if (!(e instanceof ZxError)) throw e;
      status = e.status;
    }
    const t1 = Number(process.hrtime.bigint());
    if (!write && status === 0) stamp = readStamp(words, pageTag(v, page));
    const b = recorded * HISTORY_I32;
    hi[b] = (write ? 1 : 0) | (v << 1);
    hi[b + 1] = page;
    hi[b + 2] = stamp | 0;
    hi[b + 3] = status;
    hf[recorded * HISTORY_F64] = t0;
    hf[recorded * HISTORY_F64 + 1] = t1;
    recorded++;
    Atomics.store(control, C_RECORDED + a.threadIndex, recorded);
    ops++;
    Atomics.add(control, C_OPS + a.threadIndex, 1);
  }
  return { ops };
}
