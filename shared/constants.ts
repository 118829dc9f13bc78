// Zircon ABI constants with their exact values (docs/semantics.md §1, from Fuchsia's public
// headers), plus the simulator's own limits. Imported by every thread; no state.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = PAGE_SIZE - 1;

// ---- Handles and rights (rights.h) ----
export const ZX_HANDLE_INVALID = 0;
export const ZX_RIGHT_NONE = 0;
export const ZX_RIGHT_DUPLICATE = 1 << 0;
export const ZX_RIGHT_TRANSFER = 1 << 1;
export const ZX_RIGHT_READ = 1 << 2;
export const ZX_RIGHT_WRITE = 1 << 3;
export const ZX_RIGHT_EXECUTE = 1 << 4;
export const ZX_RIGHT_MAP = 1 << 5;
export const ZX_RIGHT_GET_PROPERTY = 1 << 6;
export const ZX_RIGHT_SET_PROPERTY = 1 << 7;
export const ZX_RIGHT_ENUMERATE = 1 << 8;
export const ZX_RIGHT_DESTROY = 1 << 9;
export const ZX_RIGHT_SET_POLICY = 1 << 10;
export const ZX_RIGHT_GET_POLICY = 1 << 11;
export const ZX_RIGHT_SIGNAL = 1 << 12;
export const ZX_RIGHT_SIGNAL_PEER = 1 << 13;
export const ZX_RIGHT_WAIT = 1 << 14;
export const ZX_RIGHT_INSPECT = 1 << 15;
export const ZX_RIGHT_MANAGE_JOB = 1 << 16;
export const ZX_RIGHT_MANAGE_PROCESS = 1 << 17;
export const ZX_RIGHT_MANAGE_THREAD = 1 << 18;
export const ZX_RIGHT_APPLY_PROFILE = 1 << 19;
export const ZX_RIGHT_MANAGE_SOCKET = 1 << 20;
export const ZX_RIGHT_OP_CHILDREN = 1 << 21;
export const ZX_RIGHT_RESIZE = 1 << 22;
export const ZX_RIGHT_ATTACH_VMO = 1 << 23;
export const ZX_RIGHT_MANAGE_VMO = 1 << 24;
/** Bit 31: as an argument to duplicate/replace it means "keep the same rights". */
export const ZX_RIGHT_SAME_RIGHTS = 0x80000000;

export const ZX_RIGHTS_BASIC = ZX_RIGHT_TRANSFER | ZX_RIGHT_DUPLICATE | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT;
export const ZX_RIGHTS_IO = ZX_RIGHT_READ | ZX_RIGHT_WRITE;
export const ZX_RIGHTS_PROPERTY = ZX_RIGHT_GET_PROPERTY | ZX_RIGHT_SET_PROPERTY;
export const ZX_DEFAULT_VMO_RIGHTS = ZX_RIGHTS_BASIC | ZX_RIGHTS_IO | ZX_RIGHTS_PROPERTY | ZX_RIGHT_MAP | ZX_RIGHT_SIGNAL;
export const ZX_DEFAULT_PORT_RIGHTS = (ZX_RIGHTS_BASIC & ~ZX_RIGHT_WAIT) | ZX_RIGHTS_IO;
export const ZX_DEFAULT_PAGER_RIGHTS = ZX_RIGHT_INSPECT | ZX_RIGHT_TRANSFER | ZX_RIGHT_ATTACH_VMO | ZX_RIGHT_MANAGE_VMO;

// ---- Object types ----
export const ZX_OBJ_TYPE_NONE = 0;
export const ZX_OBJ_TYPE_VMO = 3;
export const ZX_OBJ_TYPE_PORT = 6;
export const ZX_OBJ_TYPE_PAGER = 28;

// ---- VMO creation options ----
export const ZX_VMO_RESIZABLE = 1 << 1;
export const ZX_VMO_DISCARDABLE = 1 << 2;
export const ZX_VMO_TRAP_DIRTY = 1 << 3;
export const ZX_VMO_UNBOUNDED = 1 << 4;

// ---- zx_vmo_op_range ops ----
export const ZX_VMO_OP_COMMIT = 1;
export const ZX_VMO_OP_DECOMMIT = 2;
export const ZX_VMO_OP_LOCK = 3;
export const ZX_VMO_OP_UNLOCK = 4;
export const ZX_VMO_OP_CACHE_SYNC = 6;
export const ZX_VMO_OP_CACHE_INVALIDATE = 7;
export const ZX_VMO_OP_CACHE_CLEAN = 8;
export const ZX_VMO_OP_CACHE_CLEAN_INVALIDATE = 9;
export const ZX_VMO_OP_ZERO = 10;
export const ZX_VMO_OP_TRY_LOCK = 11;
export const ZX_VMO_OP_DONT_NEED = 12;
export const ZX_VMO_OP_ALWAYS_NEED = 13;
export const ZX_VMO_OP_PREFETCH = 14;

// ---- zx_vmar_map options (zx_vm_option_t) ----
export const ZX_VM_PERM_READ = 1 << 0;
export const ZX_VM_PERM_WRITE = 1 << 1;
export const ZX_VM_PERM_EXECUTE = 1 << 2;
export const ZX_VM_SPECIFIC = 1 << 4;
export const ZX_VM_SPECIFIC_OVERWRITE = 1 << 5;
export const ZX_VM_MAP_RANGE = 1 << 10;
export const ZX_VM_ALLOW_FAULTS = 1 << 12;

// ---- zx_pager_op_range ops ----
export const ZX_PAGER_OP_FAIL = 1;
export const ZX_PAGER_OP_DIRTY = 2;
export const ZX_PAGER_OP_WRITEBACK_BEGIN = 3;
export const ZX_PAGER_OP_WRITEBACK_END = 4;

// ---- Page-request packets ----
export const ZX_PAGER_VMO_READ = 0;
export const ZX_PAGER_VMO_COMPLETE = 1;
export const ZX_PAGER_VMO_DIRTY = 2;
export const ZX_PKT_TYPE_USER = 0x00;
export const ZX_PKT_TYPE_PAGE_REQUEST = 0x09;

// ---- Dirty ranges and stats ----
export const ZX_VMO_DIRTY_RANGE_IS_ZERO = 1;
export const ZX_PAGER_VMO_STATS_MODIFIED = 1;
export const ZX_PAGER_RESET_VMO_STATS = 1;

// ---- Info ----
export const ZX_INFO_VMO = 17;
export const ZX_INFO_VMO_TYPE_PAGED = 1 << 0;
export const ZX_INFO_VMO_RESIZABLE = 1 << 1;
export const ZX_INFO_VMO_IS_COW_CLONE = 1 << 2;
export const ZX_INFO_VMO_PAGER_BACKED = 1 << 5;
export const ZX_INFO_VMO_DISCARDABLE = 1 << 8;

// ---- Threads and exceptions ----
export const ZX_THREAD_STATE_NEW = 0x0000;
export const ZX_THREAD_STATE_RUNNING = 0x0001;
export const ZX_THREAD_STATE_SUSPENDED = 0x0002;
export const ZX_THREAD_STATE_BLOCKED = 0x0003;
export const ZX_THREAD_STATE_DYING = 0x0004;
export const ZX_THREAD_STATE_DEAD = 0x0005;
export const ZX_THREAD_STATE_BLOCKED_PORT = 0x0403;
export const ZX_THREAD_STATE_BLOCKED_PAGER = 0x0903;
export const ZX_EXCP_FATAL_PAGE_FAULT = 0x108;

// ---- Time ----
/** ZX_TIME_INFINITE: INT64_MAX nanoseconds. */
export const ZX_TIME_INFINITE = 0x7fffffffffffffffn;

// ---- Simulator limits (not Zircon ABI) ----
/**
 * Largest VMO the simulator accepts, in pages (4 TiB). Zircon's limit is near 2^64 bytes; ours keeps
 * page indices exact in 32-bit words. Larger sizes get ZX_ERR_OUT_OF_RANGE, as Zircon's do.
 */
export const MAX_VMO_PAGES = 2 ** 30;
export const MAX_VMO_SIZE = MAX_VMO_PAGES * PAGE_SIZE;
/** Zircon's per-port limit on queued user packets (pager packets do not count). */
export const MAX_PORT_USER_PACKETS = 4096;
/** vmo_write asks for at most this many pages per request (kMaxWriteWaitPages). */
export const MAX_WRITE_WAIT_PAGES = 16;
