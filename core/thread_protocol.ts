// The messages between a ThreadPool (main side) and its workers: one task = one simulated thread.
// Both sides compile against these types; only SharedArrayBuffers, numbers and plain data cross.

import type { KernelShare } from './kernel.js';

export type BuiltinOp = 'vmoRead' | 'vmoWrite' | 'vmoOpRange' | 'memRead' | 'memWrite';

export interface ThreadTask {
  share: KernelShare;
  threadSlot: number;
  tid: number;
  op: BuiltinOp | { module: string; export: string };
  args: unknown;
}

export type ThreadOutcome =
  | { ok: true; value: unknown }
  | { ok: false; kind: 'ZxError'; status: number; syscall: string; message: string }
  | { ok: false; kind: 'ZxException'; type: number; status: number; address: number }
  | { ok: false; kind: 'ThreadKilled'; tid: number; syscall: string }
  | { ok: false; kind: 'KernelPanic'; message: string; tid: number; syscall: string; lock: string }
  | { ok: false; kind: 'Error'; message: string; stack?: string };
