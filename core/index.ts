// pagersim's public entry: everything docs/api.md names, and nothing else.

export { Kernel, KernelOptionsSchema } from './kernel.js';
export type { AttachOptions, KernelOptions, KernelShare, KernelStats, DebugRequest, DebugWait } from './kernel.js';
export { Process } from './object/process.js';
export type { ProcessToken } from './object/process.js';
export type { HistogramSummary } from '../shared/histogram.js';
export type { TraceRecord } from './trace.js';
export { TraceEvent } from './trace.js';
export { ThreadPool, SimThread } from './thread_pool.js';
export type { ThreadPoolOptions, ThreadOp } from './thread_pool.js';
export { KernelPanic, ThreadKilled, ZxError, ZxException } from './errors.js';
export type { Sys, PortPacket, PageRequestFields, DirtyRange, DirtyRangesResult, VmoInfo, LockState, U64 } from './sys_types.js';
export * from '../shared/constants.js';
export * from '../shared/status.js';
export { deadlineAfter } from '../shared/futex.js';
