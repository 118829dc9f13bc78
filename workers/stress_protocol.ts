// The shared control block of a stress run: named Int32 slots that the orchestrator (main thread),
// the faulting threads, the pager service and the writeback worker read and write with Atomics.

export const C_STOP_THREADS = 0; // faulting threads stop issuing operations
export const C_STOP_SERVICES = 1; // pager and writeback workers exit
export const C_PAGER_BUSY = 2; // the pager is handling a packet (1) or waiting on its port (0)
export const C_READS_SERVED = 3;
export const C_PAGES_SUPPLIED = 4;
export const C_DIRTY_ACKED = 5;
export const C_FAILED = 6; // requests the pager failed
export const C_FAILED_BY_CODE = 7; // 5 slots, in FAIL_CODES order
export const C_COMPLETE = 12;
export const C_WB_PASSES = 13;
export const C_WB_PAGES = 14;
export const C_WB_FLUSH_REQ = 15; // orchestrator bumps it to ask for a full writeback
export const C_WB_FLUSH_ACK = 16; // the writeback worker copies it when the VMOs had nothing dirty
export const C_SERVICE_ERRORS = 17; // unexpected syscall errors in the services
export const C_PAGER_IDLE_SINCE_MS = 18; // monotonicMs() when the pager last went idle
/**
 * Futex serializing the backing store between the services, as a filesystem must: the pager holds it
 * from reading pages until they are supplied, writeback from writing pages until WRITEBACK_END. Without
 * it, read-ahead can read a page, writeback store a newer version, clean it, reclaim evict it, and the
 * pager then fill the absent page with its stale copy (the kernel accepts any supply of an absent page).
 */
export const C_BACKING_LOCK = 19;
/** Set by a faulting thread whose history reached HISTORY_MAX_RECORDS: it stopped, the run is inconclusive. */
export const C_HISTORY_FULL = 20;
export const C_ZERO_MARKERS = 21; // pages the pager supplied as zero markers (uncommitted aux pages)
export const C_NO_MEMORY_RETRIES = 22; // pager operations (supply, OP_DIRTY) retried after ZX_ERR_NO_MEMORY
export const C_SERVICE_LAST_ERROR = 23; // the status that stopped a service (C_SERVICE_ERRORS)
export const C_OPS = 24; // + thread index: operations completed
export const C_RECORDED = 24 + 64; // + thread index: operations recorded in the history
export const CONTROL_WORDS = 24 + 128;

export const HISTORY_I32 = 4; // OpKind | vmo << 4, page, stamp (read/write) or count (ranges) or new size (resize), status
export const HISTORY_F64 = 2; // start ns, end ns
/**
 * Each faulting thread records every operation it completes in its own pair of growable buffers: it
 * starts at HISTORY_INITIAL_RECORDS and doubles them itself when full (the orchestrator's views track
 * the growth), up to HISTORY_MAX_RECORDS; there it stops issuing operations rather than do one it
 * cannot record, and raises C_HISTORY_FULL. Address space is reserved for the maximum, memory is not.
 */
export const HISTORY_INITIAL_RECORDS = 1 << 16;
export const HISTORY_MAX_RECORDS = 1 << 24;

/** SharedArrayBuffer.prototype.grow (ES2024; Node >= 20), which this project's lib does not declare yet. */
export interface GrowableSharedArrayBuffer extends SharedArrayBuffer {
  grow(byteLength: number): void;
  readonly maxByteLength: number;
}

export function growableSharedArrayBuffer(byteLength: number, maxByteLength: number): GrowableSharedArrayBuffer {
  const Ctor = SharedArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => GrowableSharedArrayBuffer;
  return new Ctor(byteLength, { maxByteLength });
}

/** A history of `records` operations, growable to `maxRecords`. */
export function allocHistory(records: number, maxRecords: number): { i32: GrowableSharedArrayBuffer; f64: GrowableSharedArrayBuffer } {
  return {
    i32: growableSharedArrayBuffer(records * HISTORY_I32 * 4, maxRecords * HISTORY_I32 * 4),
    f64: growableSharedArrayBuffer(records * HISTORY_F64 * 8, maxRecords * HISTORY_F64 * 8),
  };
}

/** Doubles a history (at most to its maximum); false when it is already at its maximum. */
export function growHistory(h: { i32: GrowableSharedArrayBuffer; f64: GrowableSharedArrayBuffer }): boolean {
  const records = h.f64.byteLength / (HISTORY_F64 * 8);
  const max = h.f64.maxByteLength / (HISTORY_F64 * 8);
  if (records >= max) return false;
  const next = Math.min(max, Math.max(1, records * 2));
  h.i32.grow(next * HISTORY_I32 * 4);
  h.f64.grow(next * HISTORY_F64 * 8);
  return true;
}
export const SPAN_F64 = 4; // kind, start ns, end ns, pages

/** What a history record is. Range ops cover [page, page + count); a resize records its new size in pages. */
export const OpKind = {
  Read: 0,
  Write: 1,
  MapRead: 2,
  MapWrite: 3,
  Zero: 4,
  Resize: 5,
  Decommit: 6,
  Commit: 7,
  DontNeed: 8,
  AlwaysNeed: 9,
  Prefetch: 10,
} as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];
export const OP_KIND_NAMES = ['read', 'write', 'map-read', 'map-write', 'zero', 'resize', 'decommit', 'commit', 'dont-need', 'always-need', 'prefetch'] as const;

export const SpanKind = { Read: 1, Dirty: 2, Fail: 3, Writeback: 4 } as const;

export const FAIL_CODES = [-40, -42, -20, -54, -15]; // IO, IO_DATA_INTEGRITY, BAD_STATE, NO_SPACE, BUFFER_TOO_SMALL

/** Milliseconds of the monotonic clock every thread shares, truncated to 31 bits (for Int32 slots). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n) & 0x7fffffff;
}

export interface BackingConfig {
  /** In-memory store (vmos * vmoPages pages), or a file path. */
  memory?: SharedArrayBuffer;
  path?: string;
  vmoPages: number;
}
