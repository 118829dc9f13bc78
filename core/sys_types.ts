// The syscall surface's types (docs/api.md): what `kernel.sys` offers every thread.

export interface PageRequestFields {
  command: number;
  flags: number;
  offset: number;
  length: number;
}

export interface PortPacket {
  key: bigint;
  type: number;
  status: number;
  pageRequest?: PageRequestFields;
  user?: Uint8Array;
}

export interface DirtyRange {
  offset: number;
  length: number;
  options: number;
}

export interface DirtyRangesResult {
  ranges: DirtyRange[];
  actual: number;
  avail: number;
}

export interface VmoInfo {
  koid: number;
  size: number;
  committedBytes: number;
  populatedBytes: number;
  flags: number;
}

export interface LockState {
  offset: number;
  size: number;
  discardedOffset: number;
  discardedSize: number;
}

/**
 * A uint64 argument (offset, length, size, count): a non-negative safe integer, or a bigint below
 * 2^64 (kept exact: a large unaligned bigint is never taken for an aligned one).
 */
export type U64 = number | bigint;

/**
 * Syscalls with the zx_ prefix dropped, C argument order, byte offsets; non-OK throws ZxError. An
 * argument that is not a value of its C type is ZX_ERR_INVALID_ARGS (ZX_ERR_BAD_HANDLE for handles).
 */
export interface Sys {
  pagerCreate(options: number): number;
  pagerCreateVmo(pager: number, options: number, port: number, key: bigint | number, size: U64): number;
  pagerDetachVmo(pager: number, vmo: number): void;
  pagerSupplyPages(pager: number, vmo: number, offset: U64, length: U64, auxVmo: number, auxOffset: U64): void;
  pagerOpRange(pager: number, op: number, vmo: number, offset: U64, length: U64, data?: number | bigint): void;
  pagerQueryDirtyRanges(pager: number, vmo: number, offset: U64, length: U64, maxRanges: U64): DirtyRangesResult;
  pagerQueryVmoStats(pager: number, vmo: number, options: number): { modified: boolean };
  portCreate(options: number): number;
  portWait(port: number, deadline: bigint): PortPacket;
  portQueue(port: number, packet: { key: bigint | number; user?: Uint8Array; status?: number }): void;
  vmoCreate(size: U64, options: number): number;
  vmoRead(vmo: number, buffer: Uint8Array, offset: U64): void;
  vmoWrite(vmo: number, buffer: Uint8Array, offset: U64): void;
  vmoGetSize(vmo: number): number;
  vmoSetSize(vmo: number, size: U64): void;
  vmoOpRange(vmo: number, op: number, offset: U64, size: U64): void | LockState;
  vmarMap(options: number, vmoOffset: U64, vmo: number, length: U64): number;
  vmarUnmap(address: U64, length: U64): void;
  /** A user-mode read through mappings; a fatal fault throws ZxException. */
  memRead(address: number, buffer: Uint8Array): void;
  memWrite(address: number, buffer: Uint8Array): void;
  handleClose(handle: number): void;
  handleDuplicate(handle: number, rights: number): number;
  handleReplace(handle: number, rights: number): number;
  objectGetInfo(handle: number, topic: number): VmoInfo;
}

/**
 * Syscall ids: threads.syscall holds the index + 1 of the method a thread is in (0 = outside the kernel);
 * each entry is [Sys method, zx_ name].
 */
export const SYSCALLS: ReadonlyArray<readonly [keyof Sys, string]> = [
  ['pagerCreate', 'zx_pager_create'],
  ['pagerCreateVmo', 'zx_pager_create_vmo'],
  ['pagerDetachVmo', 'zx_pager_detach_vmo'],
  ['pagerSupplyPages', 'zx_pager_supply_pages'],
  ['pagerOpRange', 'zx_pager_op_range'],
  ['pagerQueryDirtyRanges', 'zx_pager_query_dirty_ranges'],
  ['pagerQueryVmoStats', 'zx_pager_query_vmo_stats'],
  ['portCreate', 'zx_port_create'],
  ['portWait', 'zx_port_wait'],
  ['portQueue', 'zx_port_queue'],
  ['vmoCreate', 'zx_vmo_create'],
  ['vmoRead', 'zx_vmo_read'],
  ['vmoWrite', 'zx_vmo_write'],
  ['vmoGetSize', 'zx_vmo_get_size'],
  ['vmoSetSize', 'zx_vmo_set_size'],
  ['vmoOpRange', 'zx_vmo_op_range'],
  ['vmarMap', 'zx_vmar_map'],
  ['vmarUnmap', 'zx_vmar_unmap'],
  ['memRead', 'memRead (user fault)'],
  ['memWrite', 'memWrite (user fault)'],
  ['handleClose', 'zx_handle_close'],
  ['handleDuplicate', 'zx_handle_duplicate'],
  ['handleReplace', 'zx_handle_replace'],
  ['objectGetInfo', 'zx_object_get_info'],
];

/** The zx_ name of a threads.syscall value ('' for 0: outside the kernel). */
export function syscallName(id: number): string {
  return id > 0 ? (SYSCALLS[id - 1]?.[1] ?? '') : '';
}
