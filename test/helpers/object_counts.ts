// Kernel accounting for the regression tests: counts read straight from the shared tables, so a test
// can check that a failed syscall left handles, object references, free lists and mappings unchanged.

import type { Kernel } from '../../core/index.js';
import { ObjType } from '../../shared/layout.js';

export interface KernelCounts {
  /** Live handles. */
  handles: number;
  /** Free handle slots (the free list's length). */
  freeHandles: number;
  /** Object records in use. */
  objects: number;
  /** Sum of the reference counts of live objects. */
  refs: number;
  /** Mapping records in use. */
  mappings: number;
}

/** Counts the tables of an idle kernel (no other thread may be making syscalls). */
export function kernelCounts(kernel: Kernel): KernelCounts {
  const k = kernel.state;
  const L = k.layout;
  const counts: KernelCounts = { handles: 0, freeHandles: 0, objects: 0, refs: 0, mappings: 0 };
  for (let s = 0; s < L.maxHandles; s++) if (k.handles.object(s) >= 0) counts.handles++;
  for (let s = k.header.freeHandle(); s >= 0 && counts.freeHandles <= L.maxHandles; s = k.handles.nextFree(s)) counts.freeHandles++;
  for (let o = 0; o < L.maxObjects; o++) {
    if (k.objects.type(o) === ObjType.Free) continue;
    counts.objects++;
    counts.refs += k.objects.refs(o);
  }
  for (let m = 0; m < L.maxMappings; m++) if (k.mappings.inUse(m) === 1) counts.mappings++;
  return counts;
}
