// The id of thread r's current page request in traces: (serial, thread slot), unique for the
// kernel's life. Lives apart from page_source.ts so the proxy can name requests without a cycle.

import { R_SERIAL } from '../../shared/layout.js';
import type { KernelState } from '../kernel_state.js';

export function requestIdOf(k: KernelState, r: number): number {
  return k.w[k.thr(r) + R_SERIAL]! * 65536 + r;
}
