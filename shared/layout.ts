// The one declaration of pagersim's shared memory. Every kernel structure lives in two
// SharedArrayBuffers that every attached thread maps identically:
//   meta   - Int32 words: a header, then fixed-capacity record tables (handles, objects, threads
//            with their PageRequest, port packets, page-list radix nodes, zero intervals, frame
//            bookkeeping). Capacities come from the kernel options and are written into the header,
//            so attach() recomputes exactly the same plan.
//   frames - the physical page frames (physicalMemory bytes), copied with TypedArray.set only.
// Who touches it: every thread (main, pool threads, pager workers) through core/. What protects
// it: the futex locks below; the few words read without a lock are read with Atomics.
//
// LOCK ORDER (outer -> inner). A thread holding a lock may take only locks further down:
//   1. VMO lock (O_LOCK of a VMO object): its page list, PageSource (outstanding requests,
//      followers), PagerProxy (packet busy flag, active request, FIFO) and zero intervals.
//      Never two VMO locks at once (supply takes the aux VMO's pages under the aux lock, drops it,
//      then inserts them under the pager VMO's lock).
//   2. Pager lock (O_LOCK of a pager object): its list of VMOs and its closed flag.
//   3. Port lock (O_LOCK of a port object): its packet queue.
//   4. Allocator locks, leaves: H_PMM_LOCK (frames), H_HEAP_LOCK (radix nodes, zero intervals, port
//      packets), H_HANDLE_LOCK (handle table, object table, thread table).
// Nobody blocks on a page request, a port or a timer while holding any lock.
//
// MEMORY ORDERING. Every lock is a futex on an Int32 word taken with Atomics.compareExchange and
// released with Atomics.exchange/store, so plain reads and writes inside a critical section are
// ordered by it. Words read outside a lock (thread state, request events, port sequence numbers,
// object reference counts) are only read and written with Atomics. Frame bytes are written with
// plain TypedArray.set under the owning VMO's lock and read under the same lock.

import { assert } from './assert.js';
import { PAGE_SIZE } from './constants.js';
import { HISTOGRAM_WORDS } from './histogram.js';

/**
 * A trace event: 16 Int32 words (core/trace.ts). Word 0 is the type, stored last with Atomics (0 =
 * reserved, not yet written: the publish mark readers stop at); word 1 is unused; then a0..a5 and
 * the time in ns as float64.
 */
export const TRACE_EVENT_WORDS = 16;

export const LAYOUT_MAGIC = 0x5a58_5047; // "ZXPG"
export const LAYOUT_VERSION = 7;

// ---------------------------------------------------------------------------------------------
// Header: named slots at the start of meta.
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_INSTANCE = 2; // random id, lets workers cache one attachment per kernel
export const H_FRAME_COUNT = 3;
export const H_MAX_HANDLES = 4;
export const H_MAX_OBJECTS = 5;
export const H_MAX_THREADS = 6;
export const H_MAX_NODES = 7;
export const H_MAX_PORT_PACKETS = 8;
export const H_MAX_INTERVALS = 9;
export const H_HANDLE_LOCK = 10;
export const H_PMM_LOCK = 11;
export const H_HEAP_LOCK = 12;
export const H_NEXT_KOID = 13;
export const H_FREE_HANDLE = 14; // head of the free handle list (least recently freed), -1 if none
export const H_FREE_OBJECT = 15;
export const H_FREE_THREAD = 16;
export const H_FREE_NODE = 17;
export const H_FREE_PORT_PACKET = 18;
export const H_FREE_INTERVAL = 19;
export const H_FREE_FRAMES = 20; // number of entries on the free-frame stack
export const H_REQUEST_TIMEOUT_MS = 21; // 0 = wait forever (kernel.userpager.overtime_timeout_seconds)
export const H_WAIT_SPIN = 22; // polls of a request event before parking in Atomics.wait
export const H_DEBUG_SYSCALLS = 23; // kernel.enable-debugging-syscalls
export const H_NEXT_TID = 24;
export const H_STAT_REQUESTS = 25; // dispatcher.pager.total_requests
export const H_STAT_PACKETS = 26; // page-request packets posted to ports
export const H_STAT_WITHDRAWN = 27; // packets withdrawn before the pager read them
export const H_STAT_SUPPLIED_PAGES = 28;
export const H_STAT_FAILED_REQUESTS = 29;
export const H_STAT_TIMED_OUT = 30;
export const H_STAT_EVICTIONS = 31;
export const H_CLOCK_HAND = 32; // reclaim's clock hand over frames (Atomics)
export const H_VMAR_LOCK = 33; // the address space's mapping table (a leaf lock)
// word 34 is unused (the address space is allocated first-fit over the mapping table)
export const H_MAX_MAPPINGS = 35;
export const H_FREE_MAPPING = 36;
export const H_STAT_DISCARDS = 37;
export const H_DONT_NEED_PAGES = 38; // pages carrying the DONT_NEED hint (Atomics; reclaim skips a pass at 0)
export const H_BUGS = 39; // deliberate kernel bugs switched on (stress --inject-bug), read once at attach
export const H_TRACE_HEAD = 40; // events appended to the trace ring (Atomics; may exceed its capacity)
export const H_TRACE_CAPACITY = 41; // 0 = tracing off
export const H_STAT_FIFO_DROPPED = 42; // requests taken back while still queued in a proxy FIFO
export const H_STAT_DEQUEUED = 43; // page-request packets read by pagers
export const H_STAT_PORT_DROPPED = 44; // pager packets dropped by a port whose last handle closed
export const H_BUG_LATCH = 45; // one-shot latch of injected bugs that fire once
export const H_STAT_COMPLETES = 46; // ZX_PAGER_VMO_COMPLETE packets posted
export const H_TRACE_MASK = 47; // bit t set: trace events of type t are recorded (core/trace.ts)
export const H_HANDLE_GEN_BITS = 48; // generation bits of a handle value (planLayout, from maxHandles)
export const H_FREE_HANDLE_TAIL = 49; // tail of the free handle list: freed slots queue up FIFO
// Lock owners: beside every kernel lock a word holding the owner's thread slot + 1 (0 = none),
// written right after the acquire and cleared right before the release (core/kernel_state.ts), so
// the main thread can tell which lock a dead worker took with it (core/object/process.ts).
export const H_HANDLE_LOCK_OWNER = 50;
export const H_PMM_LOCK_OWNER = 51;
export const H_HEAP_LOCK_OWNER = 52;
export const H_VMAR_LOCK_OWNER = 53;
/** The owner word of a leaf lock. */
export function leafLockOwnerWord(lock: number): number {
  return lock === H_VMAR_LOCK ? H_VMAR_LOCK_OWNER : lock - H_HANDLE_LOCK + H_HANDLE_LOCK_OWNER;
}
export const H_PANIC = 54; // 1 once the kernel panicked (Atomics): every later syscall throws KernelPanic
export const H_PANIC_TID = 55; // the thread whose death caused the panic
export const H_PANIC_SYSCALL = 56; // its T_SYSCALL when it died
export const H_PANIC_LOCK = 57; // word index of the lock it held (-1 none)
export const H_LOCK_ASSERTIONS = 58; // 1: every *Locked function asserts its caller holds the lock (tests)
export const HEADER_WORDS = 64;

// ---------------------------------------------------------------------------------------------
// Handle table (struct-of-arrays). A handle value encodes (slot, generation) so a stale value is
// ZX_ERR_BAD_HANDLE, never another object (bitECS-style versioned ids). The split is made per kernel
// at layout time: the slot field takes just the bits maxHandles needs, the generation every bit left
// in a positive 31-bit value, so with the FIFO free list a value recurs only after
// maxHandles * 2^genBits closes.
/** Fewest generation bits a kernel may have: it bounds maxHandles (MAX_HANDLES). */
export const MIN_HANDLE_GEN_BITS = 7;
/** Handle slots the encoding can name while the value stays a positive 31-bit integer. */
export const MAX_HANDLES = (1 << (31 - MIN_HANDLE_GEN_BITS - 2)) - 1;

/** Generation bits left for a table of `maxHandles` slots: 29 minus the width of (slot + 1). */
export function handleGenBitsFor(maxHandles: number): number {
  return 29 - (32 - Math.clz32(maxHandles));
}
// handle value = (slot + 1) << (genBits + 2) | gen << 2 | 0b11: pure integer bit fields, cheap to decode.

// ---------------------------------------------------------------------------------------------
// Object table: one record of OBJ_WORDS per kernel object (array of records; named fields).
export const ObjType = { Free: 0, Process: 1, Vmo: 3, Port: 6, Pager: 28 } as const;
// Fields common to all objects.
export const O_TYPE = 0;
export const O_KOID = 1;
export const O_REFS = 2; // references: handles, mappings, syscalls in flight (Atomics); 0 = destroyed
export const O_HANDLES = 3; // live handles; reaching 0 runs on_zero_handles
export const O_LOCK = 4; // the object's futex lock
export const O_NEXT_FREE = 5;
// VMO fields.
export const V_OPTIONS = 6; // ZX_VMO_* creation options
export const V_FLAGS = 7; // VmoFlag bits below
export const V_SIZE_PAGES = 8;
export const V_ROOT_NODE = 9; // radix tree root node, -1 while empty
export const V_TREE_HEIGHT = 10; // levels of the radix tree (1 = the root is a leaf)
export const V_COMMITTED_PAGES = 11; // frames owned
export const V_PAGER = 12; // owning pager object slot, -1 for anonymous VMOs
export const V_PAGER_KOID = 13;
export const V_PORT = 14;
export const V_KEY_LO = 15;
export const V_KEY_HI = 16;
export const V_PAGER_NEXT = 17; // links in the pager's VMO list (guarded by the pager lock)
export const V_PAGER_PREV = 18;
export const V_OUT_READ = 19; // PageSource: outstanding READ leaders, sorted by end (thread slots)
export const V_OUT_DIRTY = 20; // PageSource: outstanding DIRTY leaders
export const PX_ACTIVE = 21; // PagerProxy: request whose packet is in flight (-1 none, -2 COMPLETE)
export const PX_BUSY = 22; // PagerProxy: packet_busy_
export const PX_FIFO_HEAD = 23; // PagerProxy: pending_requests_ (thread slots)
export const PX_FIFO_TAIL = 24;
export const PX_COMPLETE_PENDING = 25; // complete_pending_
export const PX_COMPLETE_IN_FIFO = 26; // COMPLETE waits behind the busy packet
export const PX_PACKET = 27; // the VMO's one reusable port packet
export const V_ZERO_HEAD = 28; // zero intervals, sorted (issue: dirty tracking)
export const V_MAP_COUNT = 29; // mappings of this VMO (each also holds one O_REFS reference)
export const V_LOCK_COUNT = 30; // ZX_VMO_OP_LOCK count of a discardable VMO
// References to the record itself (Atomics): 1 while the VMO lives (O_REFS > 0), plus 1 while its
// packet sits in a port or a faulting thread waits on its page source. The record is the VMO's
// PagerProxy too, which Zircon keeps alive past the VMO until the pager dequeues the COMPLETE.
export const V_RECORD_REFS = 31;
export const O_LOCK_OWNER = 32; // thread slot + 1 holding O_LOCK, 0 none (see H_HANDLE_LOCK_OWNER)
export const OBJ_WORDS = 40;
// Pager fields (reuse the words after the common ones).
export const P_VMO_HEAD = 6;
export const P_CLOSED = 7;
// Port fields.
export const PT_HEAD = 6;
export const PT_TAIL = 7;
export const PT_SEQ = 8; // bumped and notified on every queue (futex word for port_wait)
export const PT_USER_COUNT = 9;
export const PT_DEAD = 10; // last handle closed: queue dropped, later packets vanish
export const PT_OPTIONS = 11;
// Process fields (core/object/process.ts).
export const PR_THREADS = 6; // live kernel threads of the process (guarded by H_HANDLE_LOCK)
export const PR_STATE = 7; // ProcessState below
export const ProcessState = { Initial: 0, Running: 1, Dead: 2 } as const;

export const VmoFlag = {
  PagerBacked: 1 << 0,
  Detached: 1 << 1, // PageSource::detached_
  SourceClosed: 1 << 2, // PageSource::closed_ / PagerProxy::page_source_closed_
  PagerClosed: 1 << 3, // PagerProxy::pager_dispatcher_closed_
  Modified: 1 << 4, // zx_pager_query_vmo_stats' modified flag
  ZeroHandled: 1 << 5, // on_zero_handles already ran
  Discarded: 1 << 6, // a discardable VMO whose pages reclaim discarded (until the next LOCK)
} as const;

// ---------------------------------------------------------------------------------------------
// Thread table: one record per kernel thread. Each thread owns exactly one PageRequest (Zircon's
// request lives on the faulting thread's stack), so request fields live in the thread record.
export const T_IN_USE = 0;
export const T_STATE = 1; // ZX_THREAD_STATE_* (Atomics)
export const T_TID = 2;
export const T_NEXT_FREE = 3;
export const T_BLOCKED_VMO = 4; // object slot of the VMO whose request the thread waits on, -1
export const R_STATE = 5; // RequestState below
export const R_TYPE = 6; // PageRequestType
export const R_VMO = 7;
export const R_OFFSET = 8; // pages
export const R_LEN = 9; // pages
export const R_PENDING = 10; // leader only: pages not yet resolved (pending_size_)
export const R_EARLY_WAKE = 11;
export const R_WAKE_OFFSET = 12; // relative to R_OFFSET (wake_offset_)
export const R_STATUS = 13; // complete_status_
export const R_EVENT = 14; // futex word: 0 unsignaled, 1 signaled (auto-reset), R_EVENT_POKED
/** R_EVENT of a wait ended without a signal (kill, suspend, panic): the waiter re-checks its flags. */
export const R_EVENT_POKED = 2;
export const R_EVENT_STATUS = 15; // status delivered with the signal
export const R_LEADER = 16; // follower: the leader it overlaps
export const R_FOL_HEAD = 17; // leader: followers (overlap_)
export const R_FOL_TAIL = 18;
export const R_FOL_NEXT = 19;
export const R_FOL_PREV = 20;
export const R_OUT_NEXT = 21; // leader: links in V_OUT_READ/V_OUT_DIRTY
export const R_OUT_PREV = 22;
export const R_FIFO_NEXT = 23; // links in the proxy FIFO
export const R_FIFO_PREV = 24;
export const R_IN_FIFO = 25;
export const R_SERIAL = 26; // bumped per new request (trace/bookkeeping)
export const T_SUSPEND = 27; // 1 while a suspend is requested (Atomics; futex word for resume)
export const T_KILLED = 28; // 1 once zx_task_kill was requested (Atomics)
export const T_SYSCALL = 29; // the syscall the thread is in (core/syscall_gate.ts id), 0 outside the kernel
export const T_WAIT_WORD = 30; // futex word the thread parks on in the kernel besides R_EVENT (a port's), 0 none
export const T_PROCESS = 31; // object slot of its process, -1 for the kernel's implicit root process
export const T_JS_THREAD = 32; // worker_threads threadId of the JS thread that runs it (0 = main)
export const THREAD_WORDS = 40;

export const RequestState = { None: 0, Leader: 1, Follower: 2 } as const;
export const PageRequestType = { Read: 0, Dirty: 1 } as const;

// ---------------------------------------------------------------------------------------------
// Port packets: user packets are allocated per queue; each pager VMO owns one for life.
export const PacketKind = { Free: 0, User: 1, Pager: 2 } as const;
export const E_KIND = 0;
export const E_PORT = 1;
export const E_NEXT = 2;
export const E_PREV = 3;
export const E_QUEUED = 4;
export const E_KEY_LO = 5;
export const E_KEY_HI = 6;
export const E_TYPE = 7;
export const E_STATUS = 8;
export const E_CMD = 9;
export const E_OFFSET = 10; // pages
export const E_LENGTH = 11; // pages
export const E_VMO = 12; // pager packets: owning VMO slot
export const E_NEXT_FREE = 13;
export const E_PAYLOAD = 16; // 8 words = the 32-byte union of a user packet
export const PACKET_WORDS = 24;

// ---------------------------------------------------------------------------------------------
// Page-list radix nodes (VmPageList): FANOUT entries each. In a leaf an entry is a slot word
// (shared/page_slot.ts); in an interior node it is a child node index + 1 (0 = none). An interior
// node also keeps a copy of each child's dirty mask (N_CHILD_DIRTY), so the dirty-run walk reads a
// leaf's dirty bits from its parent and never visits leaves, and a level's masks sit together.
export const NODE_SHIFT = 5;
export const NODE_FANOUT = 1 << NODE_SHIFT;
export const N_MASK_USED = NODE_FANOUT; // bit i: entry i non-empty (leaf) / child i non-empty
export const N_MASK_DIRTY = NODE_FANOUT + 1; // bit i: entry i Dirty or AwaitingClean (or in child)
export const N_PARENT = NODE_FANOUT + 2;
export const N_PARENT_SLOT = NODE_FANOUT + 3;
export const N_LEVEL = NODE_FANOUT + 4; // 0 = leaf
export const N_NEXT_FREE = NODE_FANOUT + 5;
export const N_CHILD_DIRTY = NODE_FANOUT + 8; // FANOUT words: child i's N_MASK_DIRTY (interior nodes)
export const NODE_WORDS = 2 * NODE_FANOUT + 8;

// ---------------------------------------------------------------------------------------------
// Zero intervals: page-less runs of zeros, sorted per VMO (VmPageList interval sentinels).
export const Z_START = 0; // pages
export const Z_END = 1;
export const Z_AWAITING_CLEAN = 2; // length from Z_START begun by WRITEBACK_BEGIN, 0 if none
export const Z_NEXT = 3;
export const Z_NEXT_FREE = 4;
export const INTERVAL_WORDS = 8;

// ---------------------------------------------------------------------------------------------
// Mappings of the process's one address space (VmMapping), guarded by H_VMAR_LOCK. The address space
// spans pages [VMAR_BASE_PAGE, VMAR_END_PAGE); a new mapping takes the lowest gap that fits it plus
// one guard page on each side (first fit over the table), so freed ranges are reused and two live
// mappings never overlap.
/** First page of the address space: 256 MiB, like a real address space's low guard. */
export const VMAR_BASE_PAGE = 0x10000;
/** End (exclusive) of the address space in pages: page numbers are Int32 words, bases stay exact. */
export const VMAR_END_PAGE = 0x7fff_ffff;
export const M_IN_USE = 0;
export const M_BASE_PAGE = 1; // first page number of the mapping in the address space
export const M_PAGES = 2;
export const M_VMO = 3; // object slot (the mapping holds a reference)
export const M_VMO_PAGE = 4; // first VMO page mapped
export const M_PERMS = 5; // ZX_VM_PERM_* bits
export const M_NEXT_FREE = 6;
export const MAPPING_WORDS = 8;

// ---------------------------------------------------------------------------------------------

export interface LayoutConfig {
  frameCount: number;
  maxHandles: number;
  maxObjects: number;
  maxThreads: number;
  maxNodes: number;
  maxPortPackets: number;
  maxIntervals: number;
  maxMappings: number;
  /** Trace events the ring holds (8 float64 each); 0 turns tracing off. */
  traceCapacity: number;
}

export interface Layout extends LayoutConfig {
  /** Word offsets of each region in meta. */
  handleObject: number;
  handleRights: number;
  handleGen: number;
  handleNextFree: number;
  /** Generation bits of a handle value; the slot field starts at handleGenBits + 2. */
  handleGenBits: number;
  handleGenMask: number;
  handleSlotShift: number;
  handleProcess: number; // process object slot owning each handle, -1 = the implicit root process
  objects: number;
  threads: number;
  packets: number;
  nodes: number;
  intervals: number;
  mappings: number;
  waitHistogram: number; // shared/histogram.ts: page-request wait latency, ns
  trace: number; // word offset of the trace ring (a Float64 view; 8-byte aligned)
  freeFrames: number; // stack of free frame indices
  frameOwnerVmo: number; // object slot owning each frame, -1 if free
  frameOwnerPage: number; // page index within the owner
  metaWords: number;
  frameBytes: number;
}

/** Largest metadata buffer a plan may need, in Int32 words (an ArrayBuffer of < 2 GiB). */
export const MAX_META_WORDS = 2 ** 29 - 1;

/** The metadata regions after the header, in order: the Layout field, the capacity it scales with (null:
 * fixed size) and its words. The one list planLayout places and the capacity check (Kernel.create) sums. */
type RegionField = 'handleObject' | 'handleRights' | 'handleGen' | 'handleNextFree' | 'handleProcess' | 'objects' | 'threads' | 'packets' | 'nodes' | 'intervals' | 'mappings' | 'waitHistogram' | 'trace' | 'freeFrames' | 'frameOwnerVmo' | 'frameOwnerPage';
function regionsOf(c: LayoutConfig): [RegionField, keyof LayoutConfig | null, number][] {
  return [
    ['handleObject', 'maxHandles', c.maxHandles],
    ['handleRights', 'maxHandles', c.maxHandles],
    ['handleGen', 'maxHandles', c.maxHandles],
    ['handleNextFree', 'maxHandles', c.maxHandles],
    ['handleProcess', 'maxHandles', c.maxHandles],
    ['objects', 'maxObjects', c.maxObjects * OBJ_WORDS],
    ['threads', 'maxThreads', c.maxThreads * THREAD_WORDS],
    ['packets', 'maxPortPackets', c.maxPortPackets * PACKET_WORDS],
    ['nodes', 'maxNodes', c.maxNodes * NODE_WORDS],
    ['intervals', 'maxIntervals', c.maxIntervals * INTERVAL_WORDS],
    ['mappings', 'maxMappings', c.maxMappings * MAPPING_WORDS],
    ['waitHistogram', null, HISTOGRAM_WORDS],
    ['trace', 'traceCapacity', c.traceCapacity * TRACE_EVENT_WORDS],
    ['freeFrames', 'frameCount', c.frameCount],
    ['frameOwnerVmo', 'frameCount', c.frameCount],
    ['frameOwnerPage', 'frameCount', c.frameCount],
  ];
}

/** Word offsets of every region, and the words of the whole metadata buffer (8-byte aligned regions). */
function placeRegions(config: LayoutConfig): { offsets: Record<RegionField, number>; metaWords: number } {
  const offsets = {} as Record<RegionField, number>;
  let cursor = HEADER_WORDS;
  for (const [field, , words] of regionsOf(config)) {
    offsets[field] = cursor;
    cursor = (cursor + words + 1) & ~1; // keep 8-byte alignment
  }
  return { offsets, metaWords: cursor };
}

/** The words of the metadata buffer `config` needs (the capacity check: at most MAX_META_WORDS). */
export function metaWordsOf(config: LayoutConfig): number {
  return placeRegions(config).metaWords;
}

/** The metadata words each capacity of `config` costs (its tables), for naming the one too big. */
export function metaWordsByCapacity(config: LayoutConfig): Record<keyof LayoutConfig, number> {
  const by = Object.fromEntries(Object.keys(config).map((k) => [k, 0])) as Record<keyof LayoutConfig, number>;
  for (const [, capacity, words] of regionsOf(config)) if (capacity !== null) by[capacity] += words;
  return by;
}

export function planLayout(config: LayoutConfig): Readonly<Layout> {
  for (const [name, value] of Object.entries(config)) {
    assert(Number.isInteger(value) && (value > 0 || name === 'traceCapacity'), `layout: ${name} must be a positive integer`);
  }
  assert(config.maxHandles <= MAX_HANDLES, `layout: maxHandles must be at most ${MAX_HANDLES}`);
  const handleGenBits = handleGenBitsFor(config.maxHandles);
  const { offsets, metaWords } = placeRegions(config);
  const plan: Layout = {
    ...config,
    ...offsets,
    handleGenBits,
    handleGenMask: 2 ** handleGenBits - 1,
    handleSlotShift: handleGenBits + 2,
    metaWords,
    frameBytes: config.frameCount * PAGE_SIZE,
  };
  assert(plan.metaWords <= MAX_META_WORDS, 'layout: metadata exceeds 2 GiB');
  return Object.freeze(plan);
}

export interface SharedViews {
  readonly layout: Readonly<Layout>;
  readonly meta: SharedArrayBuffer;
  readonly frameBuffer: SharedArrayBuffer;
  readonly w: Int32Array;
  readonly frames: Uint8Array;
}

/** Allocates and initialises the buffers (the kernel creator only). */
export function createShared(config: LayoutConfig): SharedViews {
  const layout = planLayout(config);
  const meta = new SharedArrayBuffer(layout.metaWords * 4);
  const frameBuffer = new SharedArrayBuffer(layout.frameBytes);
  const w = new Int32Array(meta);
  w[H_MAGIC] = LAYOUT_MAGIC;
  w[H_VERSION] = LAYOUT_VERSION;
  w[H_INSTANCE] = (Math.random() * 0x7fffffff) | 0;
  w[H_FRAME_COUNT] = config.frameCount;
  w[H_MAX_HANDLES] = config.maxHandles;
  w[H_HANDLE_GEN_BITS] = layout.handleGenBits;
  w[H_MAX_OBJECTS] = config.maxObjects;
  w[H_MAX_THREADS] = config.maxThreads;
  w[H_MAX_NODES] = config.maxNodes;
  w[H_MAX_PORT_PACKETS] = config.maxPortPackets;
  w[H_MAX_INTERVALS] = config.maxIntervals;
  w[H_MAX_MAPPINGS] = config.maxMappings;
  w[H_TRACE_CAPACITY] = config.traceCapacity;
  w[H_NEXT_KOID] = 1024; // like Zircon, koids start past the reserved low values
  w[H_NEXT_TID] = 1;
  // Free lists are threaded through each table's next-free field, lowest slot first.
  chainFreeList(w, H_FREE_HANDLE, layout.handleNextFree, 1, config.maxHandles);
  w[H_FREE_HANDLE_TAIL] = config.maxHandles - 1;
  chainFreeList(w, H_FREE_OBJECT, layout.objects + O_NEXT_FREE, OBJ_WORDS, config.maxObjects);
  chainFreeList(w, H_FREE_THREAD, layout.threads + T_NEXT_FREE, THREAD_WORDS, config.maxThreads);
  chainFreeList(w, H_FREE_NODE, layout.nodes + N_NEXT_FREE, NODE_WORDS, config.maxNodes);
  chainFreeList(w, H_FREE_PORT_PACKET, layout.packets + E_NEXT_FREE, PACKET_WORDS, config.maxPortPackets);
  chainFreeList(w, H_FREE_INTERVAL, layout.intervals + Z_NEXT_FREE, INTERVAL_WORDS, config.maxIntervals);
  chainFreeList(w, H_FREE_MAPPING, layout.mappings + M_NEXT_FREE, MAPPING_WORDS, config.maxMappings);
  w.fill(-1, layout.handleObject, layout.handleObject + config.maxHandles);
  w.fill(-1, layout.handleProcess, layout.handleProcess + config.maxHandles);
  for (let f = 0; f < config.frameCount; f++) w[layout.freeFrames + f] = config.frameCount - 1 - f;
  w[H_FREE_FRAMES] = config.frameCount;
  w.fill(-1, layout.frameOwnerVmo, layout.frameOwnerVmo + config.frameCount);
  return { layout, meta, frameBuffer, w, frames: new Uint8Array(frameBuffer) };
}

/** Maps buffers another thread created; checks magic and version first (the layout canary). */
export function attachShared(meta: SharedArrayBuffer, frameBuffer: SharedArrayBuffer): SharedViews {
  const w = new Int32Array(meta);
  assert(w[H_MAGIC] === LAYOUT_MAGIC, 'attach: not a pagersim kernel (bad magic)');
  assert(w[H_VERSION] === LAYOUT_VERSION, `attach: layout version ${w[H_VERSION]} != ${LAYOUT_VERSION}`);
  const layout = planLayout({
    frameCount: w[H_FRAME_COUNT]!,
    maxHandles: w[H_MAX_HANDLES]!,
    maxObjects: w[H_MAX_OBJECTS]!,
    maxThreads: w[H_MAX_THREADS]!,
    maxNodes: w[H_MAX_NODES]!,
    maxPortPackets: w[H_MAX_PORT_PACKETS]!,
    maxIntervals: w[H_MAX_INTERVALS]!,
    maxMappings: w[H_MAX_MAPPINGS]!,
    traceCapacity: w[H_TRACE_CAPACITY]!,
  });
  assert(layout.handleGenBits === w[H_HANDLE_GEN_BITS], 'attach: handle generation bits do not match the plan');
  assert(layout.metaWords * 4 === meta.byteLength, 'attach: metadata buffer size does not match its plan');
  assert(layout.frameBytes === frameBuffer.byteLength, 'attach: frame buffer size does not match its plan');
  return { layout, meta, frameBuffer, w, frames: new Uint8Array(frameBuffer) };
}

function chainFreeList(w: Int32Array, headSlot: number, firstField: number, stride: number, count: number): void {
  for (let i = 0; i < count; i++) w[firstField + i * stride] = i + 1 < count ? i + 1 : -1;
  w[headSlot] = count > 0 ? 0 : -1;
}
