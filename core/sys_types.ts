// The syscall surface's types (../shared/spec/API.md): what `kernel.sys` offers every thread.

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

/** Syscalls with the zx_ prefix dropped, C argument order, byte offsets; non-OK throws ZxError. */
export interface Sys {
  pagerCreate(options: number): number;
  pagerCreateVmo(pager: number, options: number, port: number, key: bigint | number, size: number): number;
  pagerDetachVmo(pager: number, vmo: number): void;
  pagerSupplyPages(pager: number, vmo: number, offset: number, length: number, auxVmo: number, auxOffset: number): void;
  pagerOpRange(pager: number, op: number, vmo: number, offset: number, length: number, data?: number | bigint): void;
  pagerQueryDirtyRanges(pager: number, vmo: number, offset: number, length: number, maxRanges: number): DirtyRangesResult;
  pagerQueryVmoStats(pager: number, vmo: number, options: number): { modified: boolean };
  portCreate(options: number): number;
  portWait(port: number, deadline: bigint): PortPacket;
  portQueue(port: number, packet: { key: bigint | number; user?: Uint8Array; status?: number }): void;
  vmoCreate(size: number, options: number): number;
  vmoRead(vmo: number, buffer: Uint8Array, offset: number): void;
  vmoWrite(vmo: number, buffer: Uint8Array, offset: number): void;
  vmoGetSize(vmo: number): number;
  vmoSetSize(vmo: number, size: number): void;
  vmoOpRange(vmo: number, op: number, offset: number, size: number): void | LockState;
  vmarMap(options: number, vmoOffset: number, vmo: number, length: number): number;
  vmarUnmap(address: number, length: number): void;
  /** A user-mode read through mappings; a fatal fault throws ZxException. */
  memRead(address: number, buffer: Uint8Array): void;
  memWrite(address: number, buffer: Uint8Array): void;
  handleClose(handle: number): void;
  handleDuplicate(handle: number, rights: number): number;
  handleReplace(handle: number, rights: number): number;
  objectGetInfo(handle: number, topic: number): VmoInfo;
}
