// The syscall layer (zircon kernel/lib/syscalls/*.cc): one thin adapter per zx_ call. Each checks its
// arguments, looks up handles with the rights it needs, checks how they relate, then calls one
// function of the object/VM layer, always in Zircon's order: argument shape -> handles and rights ->
// relations -> range -> state. Every handle lookup takes a reference that is released before return.
// A non-OK status becomes a ZxError here, in one place; nothing below throws for user input.
// Argument shape is checked first, by the shared checkers below (u32, u64, u64Value, i64Value), for
// every argument of every call: a value that is not one of its C type (2.5, NaN, "4", undefined, a
// negative or too-large number, an inexact bigint) is ZX_ERR_INVALID_ARGS (ZX_ERR_BAD_HANDLE for a
// handle) before any handle is looked up or any state touched; no reference is held across a throw.
// One ThreadSys exists per kernel thread; it runs on whatever JS thread owns that kernel thread.

import {
  MAX_VMO_PAGES,
  PAGE_SIZE,
  ZX_DEFAULT_PAGER_RIGHTS,
  ZX_DEFAULT_PORT_RIGHTS,
  ZX_DEFAULT_VMO_RIGHTS,
  ZX_INFO_VMO,
  ZX_INFO_VMO_PAGER_BACKED,
  ZX_INFO_VMO_RESIZABLE,
  ZX_INFO_VMO_TYPE_PAGED,
  ZX_OBJ_TYPE_PAGER,
  ZX_OBJ_TYPE_PORT,
  ZX_OBJ_TYPE_VMO,
  ZX_PAGER_OP_DIRTY,
  ZX_PAGER_OP_FAIL,
  ZX_PAGER_OP_WRITEBACK_BEGIN,
  ZX_PAGER_OP_WRITEBACK_END,
  ZX_PKT_TYPE_USER,
  ZX_RIGHT_ATTACH_VMO,
  ZX_RIGHT_INSPECT,
  ZX_RIGHT_MANAGE_VMO,
  ZX_RIGHT_READ,
  ZX_RIGHT_RESIZE,
  ZX_RIGHT_WRITE,
  ZX_VMO_DISCARDABLE,
  ZX_EXCP_FATAL_PAGE_FAULT,
  ZX_RIGHT_EXECUTE,
  ZX_RIGHT_MAP,
  ZX_VM_ALLOW_FAULTS,
  ZX_VM_MAP_RANGE,
  ZX_VM_PERM_EXECUTE,
  ZX_VM_PERM_READ,
  ZX_VM_PERM_WRITE,
  ZX_VMO_OP_ALWAYS_NEED,
  ZX_VMO_OP_CACHE_CLEAN,
  ZX_VMO_OP_CACHE_CLEAN_INVALIDATE,
  ZX_VMO_OP_CACHE_INVALIDATE,
  ZX_VMO_OP_CACHE_SYNC,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_OP_DECOMMIT,
  ZX_VMO_OP_DONT_NEED,
  ZX_VMO_OP_LOCK,
  ZX_VMO_OP_PREFETCH,
  ZX_VMO_OP_TRY_LOCK,
  ZX_VMO_OP_UNLOCK,
  ZX_VMO_OP_ZERO,
  ZX_VMO_DIRTY_RANGE_IS_ZERO,
  ZX_PAGER_RESET_VMO_STATS,
  ZX_VMO_RESIZABLE,
  ZX_VMO_TRAP_DIRTY,
} from '../shared/constants.js';
import { ObjType } from '../shared/layout.js';
import {
  ZX_ERR_ACCESS_DENIED,
  ZX_ERR_INVALID_ARGS,
  ZX_ERR_NO_MEMORY,
  ZX_ERR_NOT_SUPPORTED,
  ZX_ERR_OUT_OF_RANGE,
  ZX_ERR_UNAVAILABLE,
  ZX_ERR_WRONG_TYPE,
  ZX_OK,
  isValidExternalFailureCode,
} from '../shared/status.js';
import { ZxError, ZxException } from './errors.js';
import type { KernelState } from './kernel_state.js';
import {
  addHandle,
  allocObject,
  closeHandle,
  duplicateHandle,
  handleRights,
  lookupHandle,
  objectKoid,
  objectType,
  replaceHandle,
} from './object/handle_table.js';
import { initPager, pagerLinkVmo } from './object/pager_dispatcher.js';
import { initPort, portQueueUser, portWait } from './object/port_dispatcher.js';
import type { DirtyRange, DirtyRangesResult, LockState, PortPacket, Sys, U64, VmoInfo } from './sys_types.js';
import { dirtyPages, queryDirtyRanges, queryVmoStats, resizeVmo, writebackBegin, writebackEnd, zeroPages } from './vm/vm_dirty.js';
import { memAccess, vmarMap, vmarUnmap, type AccessResult } from './vm/vmar.js';
import {
  Populate,
  committedPages,
  decommitRange,
  detachVmo,
  dontNeedRange,
  isDiscardable,
  isTrapDirty,
  lockDiscardable,
  populateRange,
  zeroPartialPage,
  failPageRequests,
  initVmo,
  destroyUnpublishedVmo,
  isPagerBacked,
  isResizable,
  supplyPages,
  vmoRead,
  vmoSizePages,
  vmoWrite,
} from './vm/vm_object.js';

/** The byte range of a zx_vmo_op_range call (ThreadSys.#opRange). */
interface OpRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** The VMO's size when the op began. */
  readonly sizeBytes: number;
  /** offsetBytes + lengthBytes <= sizeBytes. */
  readonly inRange: boolean;
  /** The whole pages [firstPage, endPage) the range touches. */
  readonly firstPage: number;
  readonly endPage: number;
}

/** The right each vmo_op_range op needs (zx_vmo_op_range's table; LOCK ops need READ or WRITE). */
const OP_RIGHTS: ReadonlyMap<number, number> = new Map([
  [ZX_VMO_OP_COMMIT, ZX_RIGHT_WRITE],
  [ZX_VMO_OP_DECOMMIT, ZX_RIGHT_WRITE],
  [ZX_VMO_OP_ZERO, ZX_RIGHT_WRITE],
  [ZX_VMO_OP_CACHE_SYNC, ZX_RIGHT_READ],
  [ZX_VMO_OP_CACHE_INVALIDATE, ZX_RIGHT_WRITE],
  [ZX_VMO_OP_CACHE_CLEAN, ZX_RIGHT_READ],
  [ZX_VMO_OP_CACHE_CLEAN_INVALIDATE, ZX_RIGHT_READ],
  [ZX_VMO_OP_PREFETCH, ZX_RIGHT_READ],
]);

// ---- Argument checkers: -1 / null means "not a value of the C type" (ZX_ERR_INVALID_ARGS) ----

/** A uint64 beyond MAX_SAFE_INTEGER that is a multiple of the page size: past every size and range. */
const BIG_ALIGNED = 2 ** 53;
/** A uint64 beyond MAX_SAFE_INTEGER that is not page-aligned, or whose low bits a double lost. */
const BIG_UNALIGNED = 2 ** 53 - 1;
const UINT64_END = 2n ** 64n;

/**
 * A uint64 offset, length, size or count, as a number: a non-negative safe integer stays exact; a
 * larger bigint keeps its alignment (BIG_ALIGNED / BIG_UNALIGNED, both beyond any VMO, so range checks
 * fail as they would for the exact value); an integer double above 2^53 has lost its low bits and
 * counts as unaligned (UINT64_MAX reads as 2^64). Anything else, or >= 2^64, is -1.
 */
function u64(x: unknown): number {
  if (typeof x === 'number') {
    if (Number.isSafeInteger(x)) return x >= 0 ? x : -1;
    return Number.isInteger(x) && x > 0 && x <= 2 ** 64 ? BIG_UNALIGNED : -1;
  }
  if (typeof x === 'bigint') {
    if (x < 0n || x >= UINT64_END) return -1;
    if (x <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(x);
    return x % BigInt(PAGE_SIZE) === 0n ? BIG_ALIGNED : BIG_UNALIGNED;
  }
  return -1;
}

/** An options, rights, op or topic argument: an integer number in uint32 range, or -1. */
function u32(x: unknown): number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff ? x : -1;
}

/** A uint64 value kept whole (port keys): a bigint in [0, 2^64) or a non-negative safe integer. */
function u64Value(x: unknown): bigint | null {
  if (typeof x === 'bigint') return x >= 0n && x < UINT64_END ? x : null;
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? BigInt(x) : null;
}

/** A 64-bit value given signed or unsigned (pager_op_range's data, deadlines): [-2^63, 2^64). */
function i64Value(x: unknown): bigint | null {
  if (typeof x === 'bigint') return x >= -(2n ** 63n) && x < UINT64_END ? x : null;
  return typeof x === 'number' && Number.isSafeInteger(x) ? BigInt(x) : null;
}

/** An int32 field (a packet's status), or null. */
function i32(x: unknown): number | null {
  return typeof x === 'number' && (x | 0) === x ? x : null;
}

/** A user buffer: a Uint8Array (anything else is a bad user pointer). */
function isBuffer(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array;
}

/** Throws INVALID_ARGS unless every shape check passed. */
function checkShape(ok: boolean, syscall: string): void {
  if (!ok) throw new ZxError(ZX_ERR_INVALID_ARGS, syscall);
}

function pageAligned(x: number): boolean {
  return x % PAGE_SIZE === 0;
}

/** Pages needed for `bytes`, rounded up; > MAX_VMO_PAGES when too large. */
function pagesFor(bytes: number): number {
  return bytes > MAX_VMO_PAGES * PAGE_SIZE ? MAX_VMO_PAGES + 1 : Math.ceil(bytes / PAGE_SIZE);
}

/** `data` of ZX_PAGER_OP_FAIL: a zx_status_t sign-extended to 64 bits, or NaN if it is none. */
function failStatusOf(data: bigint): number {
  let v = data;
  if (v >= 2n ** 63n) v -= 2n ** 64n; // the uint64 view of a negative status
  if (v < -(2n ** 31n) || v >= 2n ** 31n) return NaN;
  return Number(v);
}

export class ThreadSys implements Sys {
  readonly #k: KernelState;
  /** The kernel thread (and PageRequest) this syscall surface acts for. */
  readonly threadSlot: number;

  constructor(k: KernelState, threadSlot: number) {
    this.#k = k;
    this.threadSlot = threadSlot;
    k.actor = threadSlot;
  }

  #check(status: number, syscall: string): void {
    if (status !== ZX_OK) throw new ZxError(status, syscall);
  }

  /** Looks up the pager and its VMO for the pager_* syscalls; returns [pager, vmo] or throws. */
  #pagerAndVmo(syscall: string, pager: number, pagerRights: number, vmo: number, vmoRights: number): [number, number] {
    const k = this.#k;
    const p = lookupHandle(k, pager, ZX_OBJ_TYPE_PAGER, pagerRights);
    if (p < 0) throw new ZxError(p, syscall);
    const v = lookupHandle(k, vmo, ZX_OBJ_TYPE_VMO, vmoRights);
    if (v < 0) {
      k.release(p);
      throw new ZxError(v, syscall);
    }
    // "Created from this pager" compares koids: clones and plain VMOs carry none.
    if (!isPagerBacked(k, v) || k.vmos.pagerKoid(v) !== objectKoid(k, p)) {
      k.release(v);
      k.release(p);
      throw new ZxError(ZX_ERR_INVALID_ARGS, syscall, 'VMO not created from this pager');
    }
    return [p, v];
  }

  #lookup(handle: number, type: number, rights: number, syscall: string): number {
    const obj = lookupHandle(this.#k, handle, type, rights);
    if (obj < 0) throw new ZxError(obj, syscall);
    return obj;
  }

  // ---- Pager ----

  pagerCreate(options: number): number {
    return this.#createObject(options, ObjType.Pager, initPager, ZX_DEFAULT_PAGER_RIGHTS, 'zx_pager_create');
  }

  /** zx_pager_create / zx_port_create: options must be 0; a new object of `type`, `init`ed, and its handle. */
  #createObject(options: number, type: number, init: (k: KernelState, obj: number) => void, rights: number, name: string): number {
    const k = this.#k;
    if (u32(options) !== 0) throw new ZxError(ZX_ERR_INVALID_ARGS, name);
    const obj = allocObject(k, type);
    if (obj < 0) throw new ZxError(ZX_ERR_NO_MEMORY, name);
    init(k, obj);
    return this.#newHandle(obj, rights, name);
  }

  pagerCreateVmo(pager: number, options: number, port: number, key: bigint | number, size: U64): number {
    const k = this.#k;
    const name = 'zx_pager_create_vmo';
    const opts = u32(options);
    const bytes = u64(size);
    const keyValue = u64Value(key);
    checkShape(opts >= 0 && bytes >= 0 && keyValue !== null, name);
    const p = this.#lookup(pager, ZX_OBJ_TYPE_PAGER, ZX_RIGHT_ATTACH_VMO, name);
    const pt = lookupHandle(k, port, ZX_OBJ_TYPE_PORT, ZX_RIGHT_WRITE);
    if (pt < 0) {
      k.release(p);
      throw new ZxError(pt, name);
    }
    let status: number = ZX_OK;
    if ((opts & ~(ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY)) !== 0) status = ZX_ERR_INVALID_ARGS;
    else if (pagesFor(bytes) > MAX_VMO_PAGES) status = ZX_ERR_OUT_OF_RANGE;
    let vmo = -1;
    if (status === ZX_OK) {
      vmo = allocObject(k, ObjType.Vmo);
      if (vmo < 0) status = ZX_ERR_NO_MEMORY;
    }
    if (status === ZX_OK) status = initVmo(k, vmo, pagesFor(bytes), opts, p, pt, keyValue!);
    if (status === ZX_OK) status = pagerLinkVmo(k, p, vmo);
    if (status !== ZX_OK) {
      if (vmo >= 0) {
        // The pager/port references are still the lookups', not the half-built VMO's.
        destroyUnpublishedVmo(k, vmo);
      }
      k.release(pt);
      k.release(p);
      throw new ZxError(status, name);
    }
    // The VMO keeps its pager and port alive: the lookup references become the VMO's.
    const rights = ZX_DEFAULT_VMO_RIGHTS | (opts & ZX_VMO_RESIZABLE ? ZX_RIGHT_RESIZE : 0);
    return this.#newHandle(vmo, rights, name);
  }

  pagerDetachVmo(pager: number, vmo: number): void {
    const k = this.#k;
    const [p, v] = this.#pagerAndVmo('zx_pager_detach_vmo', pager, ZX_RIGHT_ATTACH_VMO | ZX_RIGHT_MANAGE_VMO, vmo, ZX_RIGHT_WRITE);
    detachVmo(k, v);
    k.release(v);
    k.release(p);
  }

  pagerSupplyPages(pager: number, vmo: number, offset: U64, length: U64, auxVmo: number, auxOffset: U64): void {
    const k = this.#k;
    const name = 'zx_pager_supply_pages';
    const off = u64(offset);
    const len = u64(length);
    const auxOff = u64(auxOffset);
    checkShape(off >= 0 && len >= 0 && auxOff >= 0 && pageAligned(off) && pageAligned(len) && pageAligned(auxOff), name);
    const [p, v] = this.#pagerAndVmo(name, pager, ZX_RIGHT_MANAGE_VMO, vmo, ZX_RIGHT_WRITE);
    const aux = lookupHandle(k, auxVmo, ZX_OBJ_TYPE_VMO, ZX_RIGHT_READ | ZX_RIGHT_WRITE);
    let status = aux;
    if (aux >= 0) {
      status = ZX_OK;
      if (len > 0) {
        const pages = len / PAGE_SIZE;
        const first = off / PAGE_SIZE;
        const auxFirst = auxOff / PAGE_SIZE;
        status = first + pages > MAX_VMO_PAGES || auxFirst + pages > MAX_VMO_PAGES ? ZX_ERR_OUT_OF_RANGE : supplyPages(k, v, first, pages, aux, auxFirst);
      }
      k.release(aux);
    }
    k.release(v);
    k.release(p);
    this.#check(status, name);
  }

  pagerOpRange(pager: number, op: number, vmo: number, offset: U64, length: U64, data: number | bigint = 0): void {
    const k = this.#k;
    const name = 'zx_pager_op_range';
    const off = u64(offset);
    const len = u64(length);
    const value = i64Value(data);
    checkShape(u32(op) >= 0 && value !== null && off >= 0 && len >= 0 && pageAligned(off) && pageAligned(len), name);
    const [p, v] = this.#pagerAndVmo(name, pager, ZX_RIGHT_MANAGE_VMO, vmo, ZX_RIGHT_WRITE);
    let status: number;
    const first = off / PAGE_SIZE;
    const pages = len / PAGE_SIZE;
    const inRange = first + pages <= vmoSizePages(k, v);
    switch (op) {
      case ZX_PAGER_OP_FAIL: {
        const error = failStatusOf(value!);
        if (!isValidExternalFailureCode(error)) status = ZX_ERR_INVALID_ARGS;
        else status = inRange ? failPageRequests(k, v, first, pages, error) : ZX_ERR_OUT_OF_RANGE;
        break;
      }
      case ZX_PAGER_OP_DIRTY:
        if (value !== 0n) status = ZX_ERR_INVALID_ARGS;
        else if (!isTrapDirty(k, v)) status = ZX_ERR_NOT_SUPPORTED;
        else status = dirtyPages(k, v, first, pages);
        break;
      case ZX_PAGER_OP_WRITEBACK_BEGIN: {
        const isZero = value === BigInt(ZX_VMO_DIRTY_RANGE_IS_ZERO);
        if (value !== 0n && !isZero) status = ZX_ERR_INVALID_ARGS;
        else status = inRange ? writebackBegin(k, v, first, pages, isZero) : ZX_ERR_OUT_OF_RANGE;
        break;
      }
      case ZX_PAGER_OP_WRITEBACK_END:
        if (value !== 0n) status = ZX_ERR_INVALID_ARGS;
        else status = inRange ? writebackEnd(k, v, first, pages) : ZX_ERR_OUT_OF_RANGE;
        break;
      default:
        status = ZX_ERR_NOT_SUPPORTED;
    }
    k.release(v);
    k.release(p);
    this.#check(status, name);
  }

  pagerQueryDirtyRanges(pager: number, vmo: number, offset: U64, length: U64, maxRanges: U64): DirtyRangesResult {
    const k = this.#k;
    const name = 'zx_pager_query_dirty_ranges';
    const off = u64(offset);
    const len = u64(length);
    const max = u64(maxRanges);
    checkShape(off >= 0 && len >= 0 && max >= 0, name);
    const [p, v] = this.#pagerAndVmo(name, pager, ZX_RIGHT_MANAGE_VMO, vmo, ZX_RIGHT_READ);
    const ranges: DirtyRange[] = [];
    let status: number = ZX_OK;
    let avail = 0;
    if (off + len > vmoSizePages(k, v) * PAGE_SIZE) status = ZX_ERR_OUT_OF_RANGE;
    else {
      // Unaligned offsets and lengths are widened to page boundaries.
      avail = queryDirtyRanges(k, v, Math.floor(off / PAGE_SIZE), Math.ceil((off + len) / PAGE_SIZE), max, ranges);
    }
    k.release(v);
    k.release(p);
    this.#check(status, name);
    return { ranges, actual: ranges.length, avail };
  }

  pagerQueryVmoStats(pager: number, vmo: number, options: number): { modified: boolean } {
    const k = this.#k;
    const name = 'zx_pager_query_vmo_stats';
    checkShape(u32(options) >= 0, name);
    const [p, v] = this.#pagerAndVmo(name, pager, ZX_RIGHT_MANAGE_VMO, vmo, ZX_RIGHT_READ);
    let modified = false;
    const status = options !== 0 && options !== ZX_PAGER_RESET_VMO_STATS ? ZX_ERR_INVALID_ARGS : ZX_OK;
    if (status === ZX_OK) modified = queryVmoStats(k, v, options === ZX_PAGER_RESET_VMO_STATS);
    k.release(v);
    k.release(p);
    this.#check(status, name);
    return { modified };
  }

  // ---- Ports ----

  portCreate(options: number): number {
    return this.#createObject(options, ObjType.Port, initPort, ZX_DEFAULT_PORT_RIGHTS, 'zx_port_create');
  }

  portWait(port: number, deadline: bigint): PortPacket {
    const k = this.#k;
    const name = 'zx_port_wait';
    if (typeof deadline !== 'bigint' || deadline < -(2n ** 63n) || deadline >= 2n ** 63n) {
      throw new ZxError(ZX_ERR_INVALID_ARGS, name, 'deadline must be a bigint zx_time_t');
    }
    const pt = this.#lookup(port, ZX_OBJ_TYPE_PORT, ZX_RIGHT_READ, name);
    const out: { packet: PortPacket | null } = { packet: null };
    const status = portWait(k, pt, deadline, out, this.threadSlot);
    k.release(pt);
    this.#check(status, name);
    return out.packet!;
  }

  portQueue(port: number, packet: { key: bigint | number; user?: Uint8Array; status?: number; type?: number }): void {
    const k = this.#k;
    const name = 'zx_port_queue';
    // Zircon copies the packet in after the handle lookup: a bad packet with a bad handle is BAD_HANDLE.
    const fields = typeof packet === 'object' && packet !== null ? packet : null;
    const key = fields ? u64Value(fields.key) : null;
    const status = fields ? i32(fields.status ?? 0) : null;
    const packetOk =
      key !== null &&
      status !== null &&
      (fields!.type ?? ZX_PKT_TYPE_USER) === ZX_PKT_TYPE_USER &&
      (fields!.user === undefined || (isBuffer(fields!.user) && fields!.user.length <= 32));
    const pt = this.#lookup(port, ZX_OBJ_TYPE_PORT, ZX_RIGHT_WRITE, name);
    const result = packetOk ? portQueueUser(k, pt, Number(key! & 0xffffffffn) | 0, Number(key! >> 32n) | 0, status!, fields!.user) : ZX_ERR_INVALID_ARGS;
    k.release(pt);
    this.#check(result, name);
  }

  // ---- VMOs ----

  vmoCreate(size: U64, options: number): number {
    const k = this.#k;
    const name = 'zx_vmo_create';
    const bytes = u64(size);
    if (u32(options) < 0 || (options & ~(ZX_VMO_RESIZABLE | ZX_VMO_DISCARDABLE)) !== 0) {
      throw new ZxError(ZX_ERR_INVALID_ARGS, name); // TRAP_DIRTY is only for pager VMOs
    }
    if ((options & ZX_VMO_RESIZABLE) !== 0 && (options & ZX_VMO_DISCARDABLE) !== 0) throw new ZxError(ZX_ERR_INVALID_ARGS, name);
    if (bytes < 0) throw new ZxError(ZX_ERR_INVALID_ARGS, name);
    if (pagesFor(bytes) > MAX_VMO_PAGES) throw new ZxError(ZX_ERR_OUT_OF_RANGE, name);
    const vmo = allocObject(k, ObjType.Vmo);
    if (vmo < 0) throw new ZxError(ZX_ERR_NO_MEMORY, name);
    this.#check(initVmo(k, vmo, pagesFor(bytes), options, -1, -1, 0n), name);
    const rights = ZX_DEFAULT_VMO_RIGHTS | (options & ZX_VMO_RESIZABLE ? ZX_RIGHT_RESIZE : 0);
    return this.#newHandle(vmo, rights, name);
  }

  vmoRead(vmo: number, buffer: Uint8Array, offset: U64): void {
    this.#vmoTransfer(vmo, buffer, offset, 'zx_vmo_read', ZX_RIGHT_READ, vmoRead);
  }

  vmoWrite(vmo: number, buffer: Uint8Array, offset: U64): void {
    this.#vmoTransfer(vmo, buffer, offset, 'zx_vmo_write', ZX_RIGHT_WRITE, vmoWrite);
  }

  /** zx_vmo_read / zx_vmo_write: `transfer` (vmoRead or vmoWrite) between the VMO and `buffer`. */
  #vmoTransfer(vmo: number, buffer: Uint8Array, offset: U64, name: string, right: number, transfer: typeof vmoRead): void {
    const k = this.#k;
    const offsetBytes = u64(offset);
    checkShape(isBuffer(buffer) && offsetBytes >= 0, name);
    const v = this.#lookup(vmo, ZX_OBJ_TYPE_VMO, right, name);
    const status = transfer(k, this.threadSlot, v, buffer, offsetBytes);
    k.release(v);
    this.#check(status, name);
  }

  vmoGetSize(vmo: number): number {
    const k = this.#k;
    const v = this.#lookup(vmo, ZX_OBJ_TYPE_VMO, 0, 'zx_vmo_get_size');
    const size = vmoSizePages(k, v) * PAGE_SIZE;
    k.release(v);
    return size;
  }

  vmoSetSize(vmo: number, size: U64): void {
    const k = this.#k;
    const name = 'zx_vmo_set_size';
    const bytes = u64(size);
    checkShape(bytes >= 0, name);
    const v = this.#lookup(vmo, ZX_OBJ_TYPE_VMO, ZX_RIGHT_WRITE, name);
    // Zircon (sys_vmo_set_size): RESIZE is checked only on a resizable VMO (ACCESS_DENIED); any
    // handle to a non-resizable VMO gets UNAVAILABLE from the resize itself (ResizeNonresizableVmo).
    let status: number;
    if (isResizable(k, v) && (handleRights(k, vmo) & ZX_RIGHT_RESIZE) === 0) status = ZX_ERR_ACCESS_DENIED;
    else if (!isResizable(k, v)) status = ZX_ERR_UNAVAILABLE;
    else if (pagesFor(bytes) > MAX_VMO_PAGES) status = ZX_ERR_OUT_OF_RANGE;
    else status = resizeVmo(k, v, pagesFor(bytes));
    k.release(v);
    this.#check(status, name);
  }

  vmoOpRange(vmo: number, op: number, offset: U64, size: U64): void | LockState {
    const k = this.#k;
    const name = 'zx_vmo_op_range';
    const offsetBytes = u64(offset);
    const lengthBytes = u64(size);
    checkShape(u32(op) >= 0 && offsetBytes >= 0 && lengthBytes >= 0, name);
    const isLockOp = op === ZX_VMO_OP_LOCK || op === ZX_VMO_OP_TRY_LOCK || op === ZX_VMO_OP_UNLOCK;
    const v = this.#lookup(vmo, ZX_OBJ_TYPE_VMO, OP_RIGHTS.get(op) ?? 0, name);
    let status: number;
    let lockState: LockState | undefined;
    if (isLockOp && (handleRights(k, vmo) & (ZX_RIGHT_READ | ZX_RIGHT_WRITE)) === 0) status = ZX_ERR_ACCESS_DENIED;
    else {
      const range = this.#opRange(v, offsetBytes, lengthBytes);
      if (isLockOp) {
        const out: { lockState?: LockState } = {};
        status = this.#opLock(v, op, range, out);
        lockState = out.lockState;
      } else status = this.#opOther(v, op, range);
    }
    k.release(v);
    this.#check(status, name);
    return lockState;
  }

  /** The byte range of a vmo_op_range call and what its ops check it against. */
  #opRange(v: number, offsetBytes: number, lengthBytes: number): OpRange {
    const sizeBytes = vmoSizePages(this.#k, v) * PAGE_SIZE;
    return {
      offsetBytes,
      lengthBytes,
      sizeBytes,
      inRange: offsetBytes + lengthBytes <= sizeBytes,
      // Whole pages touched by [offset, offset + length), for the ops that round out.
      firstPage: Math.floor(offsetBytes / PAGE_SIZE),
      endPage: Math.ceil((offsetBytes + lengthBytes) / PAGE_SIZE),
    };
  }

  /** ZX_VMO_OP_LOCK / TRY_LOCK / UNLOCK: discardable VMOs are locked and unlocked whole. */
  #opLock(v: number, op: number, r: OpRange, out: { lockState?: LockState }): number {
    const k = this.#k;
    if (!isDiscardable(k, v)) return ZX_ERR_NOT_SUPPORTED;
    if (r.offsetBytes !== 0 || r.lengthBytes !== r.sizeBytes) return ZX_ERR_OUT_OF_RANGE;
    const discarded = { discardedPages: 0 };
    const status = lockDiscardable(k, v, op === ZX_VMO_OP_LOCK ? 'lock' : op === ZX_VMO_OP_TRY_LOCK ? 'try' : 'unlock', discarded);
    if (op === ZX_VMO_OP_LOCK && status === ZX_OK) {
      out.lockState = { offset: r.offsetBytes, size: r.lengthBytes, discardedOffset: 0, discardedSize: discarded.discardedPages * PAGE_SIZE };
    }
    return status;
  }

  /** Every vmo_op_range op but the lock ops. */
  #opOther(v: number, op: number, r: OpRange): number {
    const k = this.#k;
    switch (op) {
      case ZX_VMO_OP_COMMIT:
        if (!r.inRange) return ZX_ERR_OUT_OF_RANGE;
        // Rounded out to whole pages first (Zircon CommitRangeInternal), so a zero-length commit
        // at an unaligned offset still commits the page it falls in.
        return r.endPage > r.firstPage ? populateRange(k, this.threadSlot, v, r.firstPage, r.endPage, Populate.Commit) : ZX_OK;
      case ZX_VMO_OP_DECOMMIT:
        return this.#opDecommit(v, r);
      case ZX_VMO_OP_ZERO:
        return r.inRange ? this.#zeroRange(v, r.offsetBytes, r.lengthBytes) : ZX_ERR_OUT_OF_RANGE;
      case ZX_VMO_OP_CACHE_SYNC:
      case ZX_VMO_OP_CACHE_CLEAN:
      case ZX_VMO_OP_CACHE_CLEAN_INVALIDATE:
      case ZX_VMO_OP_CACHE_INVALIDATE:
        // Caches are not modelled; the checks are Zircon's.
        if (r.lengthBytes === 0) return ZX_ERR_INVALID_ARGS;
        if (op === ZX_VMO_OP_CACHE_INVALIDATE && k.header.debugSyscalls() !== 1) return ZX_ERR_NOT_SUPPORTED;
        return r.inRange ? ZX_OK : ZX_ERR_OUT_OF_RANGE;
      case ZX_VMO_OP_DONT_NEED:
      case ZX_VMO_OP_ALWAYS_NEED:
      case ZX_VMO_OP_PREFETCH:
        return this.#opHint(v, op, r);
      default:
        return ZX_ERR_INVALID_ARGS;
    }
  }

  /** ZX_VMO_OP_DECOMMIT. Pager VMOs cannot decommit: absence would not read as zero, it would ask the pager. */
  #opDecommit(v: number, r: OpRange): number {
    const k = this.#k;
    // Zircon (DecommitRangeLocked) checks the range and the empty range first.
    if (isPagerBacked(k, v)) return !r.inRange ? ZX_ERR_OUT_OF_RANGE : r.lengthBytes === 0 ? ZX_OK : ZX_ERR_NOT_SUPPORTED;
    if (r.offsetBytes % PAGE_SIZE !== 0 || r.lengthBytes % PAGE_SIZE !== 0) return ZX_ERR_INVALID_ARGS;
    if (!r.inRange) return ZX_ERR_OUT_OF_RANGE;
    return decommitRange(k, v, r.firstPage, r.endPage);
  }

  /** ZX_VMO_OP_DONT_NEED / ALWAYS_NEED / PREFETCH. */
  #opHint(v: number, op: number, r: OpRange): number {
    const k = this.#k;
    // Hints on anything but a pager VMO succeed before any range check (a documented quirk).
    if (!isPagerBacked(k, v)) return ZX_OK;
    if (r.endPage > r.sizeBytes / PAGE_SIZE) return ZX_ERR_OUT_OF_RANGE;
    if (op === ZX_VMO_OP_DONT_NEED) {
      dontNeedRange(k, v, r.firstPage, r.endPage);
      return ZX_OK;
    }
    return populateRange(k, this.threadSlot, v, r.firstPage, r.endPage, op === ZX_VMO_OP_PREFETCH ? Populate.Prefetch : Populate.AlwaysNeed);
  }

  // ---- Mappings ----

  vmarMap(options: number, vmoOffset: U64, vmo: number, length: U64): number {
    const k = this.#k;
    const name = 'zx_vmar_map';
    const allowed = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_PERM_EXECUTE | ZX_VM_MAP_RANGE | ZX_VM_ALLOW_FAULTS;
    const off = u64(vmoOffset);
    const len = u64(length);
    checkShape(u32(options) >= 0 && (options & ~allowed) === 0 && off >= 0 && len >= 0, name);
    const rights =
      ZX_RIGHT_MAP |
      (options & ZX_VM_PERM_READ ? ZX_RIGHT_READ : 0) |
      (options & ZX_VM_PERM_WRITE ? ZX_RIGHT_WRITE : 0) |
      (options & ZX_VM_PERM_EXECUTE ? ZX_RIGHT_EXECUTE : 0);
    const v = this.#lookup(vmo, ZX_OBJ_TYPE_VMO, rights, name);
    let result: number;
    if (len === 0 || !pageAligned(off)) result = ZX_ERR_INVALID_ARGS;
    else if (off / PAGE_SIZE + Math.ceil(len / PAGE_SIZE) > MAX_VMO_PAGES) result = ZX_ERR_OUT_OF_RANGE;
    else result = vmarMap(k, v, off / PAGE_SIZE, Math.ceil(len / PAGE_SIZE), options & (ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_PERM_EXECUTE));
    k.release(v);
    if (result < 0) throw new ZxError(result, name);
    return result;
  }

  vmarUnmap(address: U64, length: U64): void {
    const addr = u64(address);
    const len = u64(length);
    this.#check(addr < 0 || len < 0 ? ZX_ERR_INVALID_ARGS : vmarUnmap(this.#k, addr, len), 'zx_vmar_unmap');
  }

  memRead(address: number, buffer: Uint8Array): void {
    this.#memAccess(address, buffer, false);
  }

  memWrite(address: number, buffer: Uint8Array): void {
    this.#memAccess(address, buffer, true);
  }

  /**
   * A user-mode access: a fault that cannot be resolved is a fatal page fault, not a status. Arguments
   * that are no address or no buffer are refused (ZxError INVALID_ARGS) before any access.
   */
  #memAccess(address: number, buffer: Uint8Array, write: boolean): void {
    const addr = u64(address);
    checkShape(addr >= 0 && isBuffer(buffer), write ? 'memWrite' : 'memRead'); // no access was made: no fault
    const result: AccessResult = { status: ZX_OK, address: addr };
    memAccess(this.#k, this.threadSlot, addr, buffer, write, result);
    if (result.status !== ZX_OK) throw new ZxException(ZX_EXCP_FATAL_PAGE_FAULT, result.status, result.address);
  }

  /**
   * ZX_VMO_OP_ZERO: partial head and tail pages go through the write path (they may need READ and
   * DIRTY requests) unless they already read as zero; whole pages become dirty zero intervals.
   */
  #zeroRange(v: number, off: number, len: number): number {
    const k = this.#k;
    const end = off + len;
    const firstWhole = Math.ceil(off / PAGE_SIZE);
    const lastWhole = Math.floor(end / PAGE_SIZE);
    if (firstWhole > lastWhole) return zeroPartialPage(k, this.threadSlot, v, off, len);
    // Zircon's order (ZeroRangeInternal): partial head page, partial tail page, then the whole
    // pages, so while a partial page waits on the pager (or fails) the whole pages are untouched.
    let status = off < firstWhole * PAGE_SIZE ? zeroPartialPage(k, this.threadSlot, v, off, firstWhole * PAGE_SIZE - off) : ZX_OK;
    if (status === ZX_OK && end > lastWhole * PAGE_SIZE) status = zeroPartialPage(k, this.threadSlot, v, lastWhole * PAGE_SIZE, end - lastWhole * PAGE_SIZE);
    if (status === ZX_OK) status = zeroPages(k, v, firstWhole, lastWhole);
    return status;
  }

  // ---- Handles and info ----

  handleClose(handle: number): void {
    this.#check(closeHandle(this.#k, handle), 'zx_handle_close');
  }

  handleDuplicate(handle: number, rights: number): number {
    checkShape(u32(rights) >= 0, 'zx_handle_duplicate');
    const h = duplicateHandle(this.#k, handle, rights);
    if (h < 0) throw new ZxError(h, 'zx_handle_duplicate');
    return h;
  }

  handleReplace(handle: number, rights: number): number {
    checkShape(u32(rights) >= 0, 'zx_handle_replace'); // an ill-typed rights value consumes nothing
    const h = replaceHandle(this.#k, handle, rights);
    if (h < 0) throw new ZxError(h, 'zx_handle_replace');
    return h;
  }

  objectGetInfo(handle: number, topic: number): VmoInfo {
    const k = this.#k;
    const name = 'zx_object_get_info';
    checkShape(u32(topic) >= 0, name);
    const obj = this.#lookup(handle, 0, ZX_RIGHT_INSPECT, name);
    let status: number = ZX_OK;
    let info: VmoInfo | null = null;
    if (topic !== ZX_INFO_VMO) status = ZX_ERR_INVALID_ARGS;
    else if (objectType(k, obj) !== ZX_OBJ_TYPE_VMO) status = ZX_ERR_WRONG_TYPE;
    else {
      const committed = committedPages(k, obj) * PAGE_SIZE;
      info = {
        koid: objectKoid(k, obj),
        size: vmoSizePages(k, obj) * PAGE_SIZE,
        committedBytes: committed,
        populatedBytes: committed,
        flags:
          ZX_INFO_VMO_TYPE_PAGED |
          (isPagerBacked(k, obj) ? ZX_INFO_VMO_PAGER_BACKED : 0) |
          (isResizable(k, obj) ? ZX_INFO_VMO_RESIZABLE : 0),
      };
    }
    k.release(obj);
    this.#check(status, name);
    return info!;
  }

  #newHandle(obj: number, rights: number, syscall: string): number {
    const k = this.#k;
    const h = addHandle(k, obj, rights);
    if (h < 0) {
      // No handle slot: the object was never published, so it can be destroyed directly.
      k.addRef(obj);
      k.release(obj);
      throw new ZxError(h, syscall);
    }
    return h;
  }
}

