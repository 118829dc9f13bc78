// A user-level pager service: the loop a filesystem runs on top of the pager API. Run it in its own
// Worker (never in the ThreadPool whose threads it must wake). It attaches the kernel, reads packets
// from its port and answers them: READ requests are supplied from `content` (the standard pattern of
// the pager tests: each 8-byte word at byte offset o of the VMO with key K holds K + o/8), DIRTY
// requests are acknowledged, COMPLETE packets are counted (workers/pager_loop.ts runs the loop). It
// stops on a user packet with key STOP_KEY.

import { workerData, parentPort } from 'node:worker_threads';
import { Kernel, type KernelShare } from '../core/kernel.js';
import { ZxError } from '../core/errors.js';
import { PAGE_SIZE, ZX_PAGER_OP_DIRTY, ZX_TIME_INFINITE } from '../shared/constants.js';
import { runPagerLoop } from './pager_loop.js';
import { fillStandardContent } from './standard_content.js';

export { fillStandardContent };

export const STOP_KEY = 0xffff_ffffn;

export interface PagerServiceConfig {
  share: KernelShare;
  pager: number;
  port: number;
  /** The VMOs this service pages, by packet key (handles are valid in every thread). */
  vmos: ReadonlyArray<{ key: bigint; handle: number }>;
  /**
   * Counters (the pager loop's counts, workers/pager_loop.ts PagerLoopCount): [0] READ packets
   * served, [1] pages supplied, [2] DIRTY acked, [3] COMPLETE seen.
   */
  counters: SharedArrayBuffer;
}

/** A failed pager op is expected when the VMO was detached or resized meanwhile: nothing to do. */
function ignoreZxError(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ZxError)) throw e;
  }
}

export function runPagerService(config: PagerServiceConfig): void {
  const sys = Kernel.attach(config.share).sys;
  const vmoByKey = new Map(config.vmos.map((v) => [v.key, v.handle] as const));
  let aux = 0;
  let auxPages = 0;
  let scratch = new Uint8Array(0);
  runPagerLoop(
    { sys, port: config.port, stopKey: STOP_KEY, nextDeadline: () => ZX_TIME_INFINITE, counts: new Int32Array(config.counters) },
    {
      onRead(key, offsetBytes, lengthBytes) {
        const vmo = vmoByKey.get(key);
        if (vmo === undefined) return false;
        const pages = lengthBytes / PAGE_SIZE;
        if (pages > auxPages) {
          if (aux) sys.handleClose(aux);
          auxPages = Math.max(pages, 16);
          aux = sys.vmoCreate(auxPages * PAGE_SIZE, 0);
          scratch = new Uint8Array(auxPages * PAGE_SIZE);
        }
        const view = scratch.subarray(0, lengthBytes);
        fillStandardContent(view, key, offsetBytes);
        sys.vmoWrite(aux, view, 0);
        ignoreZxError(() => sys.pagerSupplyPages(config.pager, vmo, offsetBytes, lengthBytes, aux, 0));
        return true;
      },
      onDirty(key, offsetBytes, lengthBytes) {
        const vmo = vmoByKey.get(key);
        if (vmo === undefined) return false;
        ignoreZxError(() => sys.pagerOpRange(config.pager, ZX_PAGER_OP_DIRTY, vmo, offsetBytes, lengthBytes, 0));
        return true;
      },
    },
  );
  if (aux) sys.handleClose(aux);
}

if (parentPort && workerData && (workerData as { pagerService?: PagerServiceConfig }).pagerService) {
  runPagerService((workerData as { pagerService: PagerServiceConfig }).pagerService);
}
