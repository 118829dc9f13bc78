// A user-level pager service: the loop a filesystem runs on top of the pager API. Run it in its own
// Worker (never in the ThreadPool whose threads it must wake). It attaches the kernel, reads packets
// from its port and answers them: READ requests are supplied from `content` (the standard pattern of
// the pager tests: each 8-byte word at byte offset o of the VMO with key K holds K + o/8), DIRTY
// requests are acknowledged, COMPLETE packets are counted. It stops on a user packet with key STOP_KEY.

import { workerData, parentPort } from 'node:worker_threads';
import { Kernel, type KernelShare } from '../core/kernel.js';
import { ZxError } from '../core/errors.js';
import {
  PAGE_SIZE,
  ZX_PAGER_OP_DIRTY,
  ZX_PAGER_VMO_COMPLETE,
  ZX_PAGER_VMO_DIRTY,
  ZX_PAGER_VMO_READ,
  ZX_PKT_TYPE_USER,
  ZX_TIME_INFINITE,
} from '../shared/constants.js';

export const STOP_KEY = 0xffff_ffffn;

export interface PagerServiceConfig {
  share: KernelShare;
  pager: number;
  port: number;
  /** The VMOs this service pages, by packet key (handles are valid in every thread). */
  vmos: ReadonlyArray<{ key: bigint; handle: number }>;
  /** Control words: [0] READ packets served, [1] pages supplied, [2] DIRTY acked, [3] COMPLETE seen. */
  counters: SharedArrayBuffer;
}

/** Fills `buf` with the standard content of VMO `key` starting at byte `offset`. */
export function fillStandardContent(buf: Uint8Array, key: bigint, offset: number): void {
  const words = new BigUint64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
  const first = BigInt(offset / 8);
  for (let i = 0; i < words.length; i++) words[i] = key + first + BigInt(i);
}

export function runPagerService(config: PagerServiceConfig): void {
  const sys = Kernel.attach(config.share).sys;
  const counters = new Int32Array(config.counters);
  const vmoByKey = new Map(config.vmos.map((v) => [v.key, v.handle] as const));
  let aux = 0;
  let auxPages = 0;
  let scratch = new Uint8Array(0);
  for (;;) {
    const packet = sys.portWait(config.port, ZX_TIME_INFINITE);
    if (packet.type === ZX_PKT_TYPE_USER) {
      if (packet.key === STOP_KEY) break;
      continue;
    }
    const req = packet.pageRequest!;
    const vmo = vmoByKey.get(packet.key);
    if (req.command === ZX_PAGER_VMO_COMPLETE) {
      Atomics.add(counters, 3, 1);
      continue;
    }
    if (vmo === undefined) continue;
    if (req.command === ZX_PAGER_VMO_READ) {
      const pages = req.length / PAGE_SIZE;
      if (pages > auxPages) {
        if (aux) sys.handleClose(aux);
        auxPages = Math.max(pages, 16);
        aux = sys.vmoCreate(auxPages * PAGE_SIZE, 0);
        scratch = new Uint8Array(auxPages * PAGE_SIZE);
      }
      const view = scratch.subarray(0, req.length);
      fillStandardContent(view, packet.key, req.offset);
      sys.vmoWrite(aux, view, 0);
      try {
        sys.pagerSupplyPages(config.pager, vmo, req.offset, req.length, aux, 0);
      } catch (e) {
        if (!(e instanceof ZxError)) throw e; // e.g. detached or resized meanwhile: nothing to do
      }
      Atomics.add(counters, 0, 1);
      Atomics.add(counters, 1, pages);
    } else if (req.command === ZX_PAGER_VMO_DIRTY) {
      try {
        sys.pagerOpRange(config.pager, ZX_PAGER_OP_DIRTY, vmo, req.offset, req.length, 0);
      } catch (e) {
        if (!(e instanceof ZxError)) throw e;
      }
      Atomics.add(counters, 2, 1);
    }
  }
  if (aux) sys.handleClose(aux);
}

if (parentPort && workerData && (workerData as { pagerService?: PagerServiceConfig }).pagerService) {
  runPagerService((workerData as { pagerService: PagerServiceConfig }).pagerService);
}
