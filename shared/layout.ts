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
import { declareColumns, declareRecord, declareSingleton, extendRecord } from './records.js';

/**
 * A trace event: 16 Int32 words (core/trace.ts). Word 0 is the type, stored last with Atomics (0 =
 * reserved, not yet written: the publish mark readers stop at); word 1 is unused; then a0..a5 and
 * the time in ns as float64.
 */
export const TRACE_EVENT_WORDS = 16;

export const LAYOUT_MAGIC = 0x5a58_5047; // "ZXPG"
export const LAYOUT_VERSION = 8;

// ---------------------------------------------------------------------------------------------
// Header: named words at the start of meta (HeaderRecord; `k.header.freeFrames()` etc.).
export const HEADER_WORDS = 64;
export const HeaderRecord = declareSingleton('header', HEADER_WORDS, [
  { name: 'magic', guard: 'set at creation, read-only after' },
  { name: 'version', guard: 'set at creation, read-only after' },
  { name: 'instance', guard: 'set at creation: random id, lets workers cache one attachment per kernel' },
  { name: 'frameCount', guard: 'set at creation, read-only after' },
  { name: 'maxHandles', guard: 'set at creation, read-only after' },
  { name: 'maxObjects', guard: 'set at creation, read-only after' },
  { name: 'maxThreads', guard: 'set at creation, read-only after' },
  { name: 'maxNodes', guard: 'set at creation, read-only after' },
  { name: 'maxPortPackets', guard: 'set at creation, read-only after' },
  { name: 'maxIntervals', guard: 'set at creation, read-only after' },
  { name: 'handleLock', guard: 'atomic', atomic: true },
  { name: 'pmmLock', guard: 'atomic', atomic: true },
  { name: 'heapLock', guard: 'atomic', atomic: true },
  { name: 'nextKoid', guard: 'atomic', atomic: true },
  { name: 'freeHandle', guard: 'H_HANDLE_LOCK: head of the free handle list (least recently freed), -1 if none' },
  { name: 'freeObject', guard: 'H_HANDLE_LOCK' },
  { name: 'freeThread', guard: 'H_HANDLE_LOCK' },
  { name: 'freeNode', guard: 'H_HEAP_LOCK' },
  { name: 'freePortPacket', guard: 'H_HEAP_LOCK' },
  { name: 'freeInterval', guard: 'H_HEAP_LOCK' },
  { name: 'freeFrames', guard: 'atomic: number of entries on the free-frame stack', atomic: true },
  { name: 'requestTimeoutMs', guard: '0 = wait forever (kernel.userpager.overtime_timeout_seconds)' },
  { name: 'waitSpin', guard: 'polls of a request event before parking in Atomics.wait' },
  { name: 'debugSyscalls', guard: 'kernel.enable-debugging-syscalls' },
  { name: 'nextTid', guard: 'atomic', atomic: true },
  { name: 'statRequests', guard: 'atomic: dispatcher.pager.total_requests', atomic: true },
  { name: 'statPackets', guard: 'atomic: page-request packets posted to ports', atomic: true },
  { name: 'statWithdrawn', guard: 'atomic: packets withdrawn before the pager read them', atomic: true },
  { name: 'statSuppliedPages', guard: 'atomic', atomic: true },
  { name: 'statFailedRequests', guard: 'atomic', atomic: true },
  { name: 'statTimedOut', guard: 'atomic', atomic: true },
  { name: 'statEvictions', guard: 'atomic', atomic: true },
  { name: 'clockHand', guard: "atomic: reclaim's clock hand over frames", atomic: true },
  { name: 'vmarLock', guard: "atomic: the address space's mapping table (a leaf lock)", atomic: true },
  { name: 'maxMappings', guard: 'set at creation, read-only after' },
  { name: 'freeMapping', guard: 'H_VMAR_LOCK' },
  { name: 'statDiscards', guard: 'atomic', atomic: true },
  { name: 'dontNeedPages', guard: 'atomic: pages carrying the DONT_NEED hint (reclaim skips a pass at 0)', atomic: true },
  { name: 'bugs', guard: 'set at creation: deliberate kernel bugs switched on (stress --inject-bug), read once at attach' },
  { name: 'traceHead', guard: 'atomic: events appended to the trace ring (may exceed its capacity)', atomic: true },
  { name: 'traceCapacity', guard: '0 = tracing off' },
  { name: 'statFifoDropped', guard: 'atomic: requests taken back while still queued in a proxy FIFO', atomic: true },
  { name: 'statDequeued', guard: 'atomic: page-request packets read by pagers', atomic: true },
  { name: 'statPortDropped', guard: 'atomic: pager packets dropped by a port whose last handle closed', atomic: true },
  { name: 'bugLatch', guard: 'atomic: one-shot latch of injected bugs that fire once', atomic: true },
  { name: 'statCompletes', guard: 'atomic: ZX_PAGER_VMO_COMPLETE packets posted', atomic: true },
  { name: 'traceMask', guard: 'bit t set: trace events of type t are recorded (core/trace.ts)' },
  { name: 'handleGenBits', guard: 'generation bits of a handle value (planLayout, from maxHandles)' },
  { name: 'freeHandleTail', guard: 'H_HANDLE_LOCK: tail of the free handle list: freed slots queue up FIFO' },
  // Lock owners: beside every kernel lock a word holding the owner's thread slot + 1 (0 = none),
  // written right after the acquire and cleared right before the release (core/kernel_state.ts), so
  // the main thread can tell which lock a dead worker took with it (core/object/process.ts).
  { name: 'handleLockOwner', guard: 'atomic', atomic: true },
  { name: 'pmmLockOwner', guard: 'atomic', atomic: true },
  { name: 'heapLockOwner', guard: 'atomic', atomic: true },
  { name: 'vmarLockOwner', guard: 'atomic', atomic: true },
  { name: 'panic', guard: 'atomic: 1 once the kernel panicked: every later syscall throws KernelPanic', atomic: true },
  { name: 'panicTid', guard: 'written once by the panicking thread before panic: the thread whose death caused the panic' },
  { name: 'panicSyscall', guard: 'written once by the panicking thread before panic: its T_SYSCALL when it died' },
  { name: 'panicLock', guard: 'written once by the panicking thread before panic: word index of the lock it held (-1 none)' },
  { name: 'lockAssertions', guard: '1: every *Locked function asserts its caller holds the lock (tests)' },
]);
const H_MAGIC = HeaderRecord.offset.magic;
const H_VERSION = HeaderRecord.offset.version;
export const H_INSTANCE = HeaderRecord.offset.instance;
const H_FRAME_COUNT = HeaderRecord.offset.frameCount;
const H_MAX_HANDLES = HeaderRecord.offset.maxHandles;
const H_MAX_OBJECTS = HeaderRecord.offset.maxObjects;
const H_MAX_THREADS = HeaderRecord.offset.maxThreads;
const H_MAX_NODES = HeaderRecord.offset.maxNodes;
const H_MAX_PORT_PACKETS = HeaderRecord.offset.maxPortPackets;
const H_MAX_INTERVALS = HeaderRecord.offset.maxIntervals;
export const H_HANDLE_LOCK = HeaderRecord.offset.handleLock;
export const H_PMM_LOCK = HeaderRecord.offset.pmmLock;
export const H_HEAP_LOCK = HeaderRecord.offset.heapLock;
const H_NEXT_KOID = HeaderRecord.offset.nextKoid;
export const H_FREE_HANDLE = HeaderRecord.offset.freeHandle;
const H_FREE_OBJECT = HeaderRecord.offset.freeObject;
const H_FREE_THREAD = HeaderRecord.offset.freeThread;
export const H_FREE_NODE = HeaderRecord.offset.freeNode;
const H_FREE_PORT_PACKET = HeaderRecord.offset.freePortPacket;
const H_FREE_INTERVAL = HeaderRecord.offset.freeInterval;
export const H_FREE_FRAMES = HeaderRecord.offset.freeFrames;
const H_NEXT_TID = HeaderRecord.offset.nextTid;
export const H_VMAR_LOCK = HeaderRecord.offset.vmarLock;
const H_MAX_MAPPINGS = HeaderRecord.offset.maxMappings;
const H_FREE_MAPPING = HeaderRecord.offset.freeMapping;
export const H_DONT_NEED_PAGES = HeaderRecord.offset.dontNeedPages;
export const H_TRACE_HEAD = HeaderRecord.offset.traceHead;
const H_TRACE_CAPACITY = HeaderRecord.offset.traceCapacity;
const H_HANDLE_GEN_BITS = HeaderRecord.offset.handleGenBits;
const H_FREE_HANDLE_TAIL = HeaderRecord.offset.freeHandleTail;
const H_HANDLE_LOCK_OWNER = HeaderRecord.offset.handleLockOwner;
const H_PMM_LOCK_OWNER = HeaderRecord.offset.pmmLockOwner;
const H_HEAP_LOCK_OWNER = HeaderRecord.offset.heapLockOwner;
const H_VMAR_LOCK_OWNER = HeaderRecord.offset.vmarLockOwner;
export const H_PANIC = HeaderRecord.offset.panic;
/** The owner word of a leaf lock. */
export function leafLockOwnerWord(lock: number): number {
  if (lock === H_VMAR_LOCK) return H_VMAR_LOCK_OWNER;
  if (lock === H_PMM_LOCK) return H_PMM_LOCK_OWNER;
  if (lock === H_HEAP_LOCK) return H_HEAP_LOCK_OWNER;
  return H_HANDLE_LOCK_OWNER;
}

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
// Object table: one record of OBJ_WORDS per kernel object. Every kind starts with the common fields
// (ObjectRecord); its own fields follow in the same words (VmoRecord, PagerRecord, PortRecord,
// ProcessRecord), as Zircon's dispatchers share a base class.
export const ObjType = { Free: 0, Process: 1, Vmo: 3, Port: 6, Pager: 28 } as const;
export const OBJ_WORDS = 40;
export const ObjectRecord = declareRecord('object', OBJ_WORDS, [
  { name: 'type', guard: 'H_HANDLE_LOCK (set at allocation and free)' },
  { name: 'koid', guard: 'H_HANDLE_LOCK (set at allocation)' },
  { name: 'refs', guard: 'atomic: handles, mappings, syscalls in flight; 0 = destroyed', atomic: true },
  { name: 'handles', guard: 'atomic: live handles; reaching 0 runs on_zero_handles', atomic: true },
  { name: 'lock', guard: "atomic: the object's futex lock", atomic: true },
  { name: 'lockOwner', guard: 'atomic: thread slot + 1 holding the lock, 0 none (see H_HANDLE_LOCK_OWNER)', atomic: true },
  { name: 'nextFree', guard: 'H_HANDLE_LOCK: free-list link' },
]);
assert(ObjectRecord.offset.lockOwner === ObjectRecord.offset.lock + 1, 'object: the lock owner word follows the lock (allocObject keeps both)');
/** A VMO: its page list, PageSource and PagerProxy (the proxy's fields are `px*`). */
export const VmoRecord = extendRecord(ObjectRecord, 'vmo', [
  { name: 'options', guard: 'VMO lock (ZX_VMO_* creation options)' },
  { name: 'flags', guard: 'VMO lock (VmoFlag bits)' },
  { name: 'sizePages', guard: 'VMO lock' },
  { name: 'rootNode', guard: 'VMO lock: radix tree root node, -1 while empty' },
  { name: 'treeHeight', guard: 'VMO lock: levels of the radix tree (1 = the root is a leaf)' },
  { name: 'committedPages', guard: 'VMO lock: frames owned' },
  { name: 'pager', guard: 'VMO lock: owning pager object slot, -1 for anonymous VMOs' },
  { name: 'pagerKoid', guard: 'VMO lock' },
  { name: 'port', guard: 'VMO lock: the port its page requests go to' },
  { name: 'keyLo', guard: 'VMO lock: packet key, low 32 bits' },
  { name: 'keyHi', guard: 'VMO lock: packet key, high 32 bits' },
  { name: 'pagerNext', guard: "pager lock: link in the pager's VMO list" },
  { name: 'pagerPrev', guard: "pager lock: link in the pager's VMO list" },
  { name: 'outRead', guard: 'VMO lock: PageSource outstanding READ leaders, sorted by end (thread slots)' },
  { name: 'outDirty', guard: 'VMO lock: PageSource outstanding DIRTY leaders' },
  { name: 'pxActive', guard: 'VMO lock: PagerProxy request whose packet is in flight (PX_NONE, PX_COMPLETE or a thread slot)' },
  { name: 'pxBusy', guard: 'VMO lock: PagerProxy packet_busy_' },
  { name: 'pxFifoHead', guard: 'VMO lock: PagerProxy pending_requests_ (thread slots)' },
  { name: 'pxFifoTail', guard: 'VMO lock' },
  { name: 'pxCompletePending', guard: 'VMO lock: PagerProxy complete_pending_' },
  { name: 'pxCompleteInFifo', guard: 'VMO lock: COMPLETE waits behind the busy packet' },
  { name: 'pxPacket', guard: "VMO lock: the VMO's one reusable port packet" },
  { name: 'zeroHead', guard: 'VMO lock: zero intervals, sorted' },
  { name: 'mapCount', guard: 'atomic: mappings of this VMO (each also holds one refs reference)', atomic: true },
  { name: 'lockCount', guard: 'VMO lock: ZX_VMO_OP_LOCK count of a discardable VMO' },
  // References to the record itself: 1 while the VMO lives (refs > 0), plus 1 while its packet sits
  // in a port or a faulting thread waits on its page source. The record is the VMO's PagerProxy too,
  // which Zircon keeps alive past the VMO until the pager dequeues the COMPLETE.
  { name: 'recordRefs', guard: 'atomic', atomic: true },
]);
export const PagerRecord = extendRecord(ObjectRecord, 'pager', [
  { name: 'vmoHead', guard: "pager lock: its VMOs (linked through the VMO's pagerNext/pagerPrev)" },
  { name: 'closed', guard: 'pager lock' },
]);
export const PortRecord = extendRecord(ObjectRecord, 'port', [
  { name: 'head', guard: 'port lock: packet queue' },
  { name: 'tail', guard: 'port lock' },
  { name: 'seq', guard: 'atomic: bumped and notified on every queue (futex word for port_wait)', atomic: true },
  { name: 'userCount', guard: 'port lock: user packets queued' },
  { name: 'dead', guard: 'port lock: last handle closed, queue dropped, later packets vanish' },
  { name: 'options', guard: 'port lock (set at creation)' },
]);
export const ProcessRecord = extendRecord(ObjectRecord, 'process', [
  { name: 'threads', guard: 'H_HANDLE_LOCK: live kernel threads of the process' },
  { name: 'state', guard: 'atomic: ProcessState', atomic: true },
]);
/** vmos.pagerNext / pagerPrev of a VMO that is in no pager's list (-1 ends a list). */
export const NOT_IN_PAGER_LIST = -2;
/** pxActive of a proxy with no packet in flight. */
export const PX_NONE = -1;
/** pxActive while the in-flight packet is ZX_PAGER_VMO_COMPLETE. */
export const PX_COMPLETE = -2;
export const ProcessState = { Initial: 0, Running: 1, Dead: 2 } as const;
// The constants below name the same offsets for the hot leaves that index words directly.
export const O_REFS = ObjectRecord.offset.refs;
export const O_HANDLES = ObjectRecord.offset.handles;
export const O_LOCK = ObjectRecord.offset.lock;
const O_NEXT_FREE = ObjectRecord.offset.nextFree;
export const V_ROOT_NODE = VmoRecord.offset.rootNode;
export const V_TREE_HEIGHT = VmoRecord.offset.treeHeight;
export const V_COMMITTED_PAGES = VmoRecord.offset.committedPages;
export const V_OUT_READ = VmoRecord.offset.outRead;
export const V_ZERO_HEAD = VmoRecord.offset.zeroHead;
export const V_MAP_COUNT = VmoRecord.offset.mapCount;
export const PT_HEAD = PortRecord.offset.head;
export const PT_SEQ = PortRecord.offset.seq;
export const PT_USER_COUNT = PortRecord.offset.userCount;
export const PR_THREADS = ProcessRecord.offset.threads;

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
// request lives on the faulting thread's stack), so the request's fields (RequestRecord) follow the
// thread's in the same record.
export const THREAD_WORDS = 40;
export const ThreadRecord = declareRecord('thread', THREAD_WORDS, [
  { name: 'inUse', guard: 'atomic (allocated under H_HANDLE_LOCK)', atomic: true },
  { name: 'state', guard: 'atomic: ZX_THREAD_STATE_*', atomic: true },
  { name: 'tid', guard: 'H_HANDLE_LOCK (set at allocation)' },
  { name: 'nextFree', guard: 'H_HANDLE_LOCK: free-list link' },
  { name: 'blockedVmo', guard: 'owner: object slot of the VMO whose request the thread waits on, -1' },
  { name: 'suspend', guard: 'atomic: 1 while a suspend is requested (futex word for resume)', atomic: true },
  { name: 'killed', guard: 'atomic: 1 once zx_task_kill was requested', atomic: true },
  { name: 'syscall', guard: 'atomic: the syscall it is in (core/syscall_gate.ts id), 0 outside the kernel', atomic: true },
  { name: 'waitWord', guard: "atomic: futex word it parks on in the kernel besides its request's event (a port's), 0 none", atomic: true },
  { name: 'process', guard: 'H_HANDLE_LOCK: object slot of its process, -1 for the implicit root process' },
  { name: 'jsThread', guard: 'H_HANDLE_LOCK: worker_threads threadId of the JS thread that runs it (0 = main)' },
]);
/** The PageRequest in each thread record. Guard: the lock of the VMO it is for, unless marked. */
export const RequestRecord = extendRecord(ThreadRecord, 'request', [
  { name: 'requestState', guard: 'VMO lock: RequestState' },
  { name: 'requestType', guard: 'VMO lock: PageRequestType' },
  { name: 'vmo', guard: 'VMO lock' },
  { name: 'offsetPages', guard: 'VMO lock' },
  { name: 'lengthPages', guard: 'VMO lock' },
  { name: 'pendingPages', guard: 'VMO lock: leader only, pages not yet resolved (pending_size_)' },
  { name: 'earlyWake', guard: 'VMO lock' },
  { name: 'wakeOffsetPages', guard: 'VMO lock: relative to offsetPages (wake_offset_), NO_WAKE if none' },
  { name: 'status', guard: 'VMO lock: complete_status_' },
  { name: 'event', guard: 'atomic: futex word, 0 unsignaled, 1 signaled (auto-reset), R_EVENT_POKED', atomic: true },
  { name: 'eventStatus', guard: 'VMO lock: status delivered with the signal' },
  { name: 'leader', guard: 'VMO lock: follower, the leader it overlaps' },
  { name: 'followerHead', guard: 'VMO lock: leader, its followers (overlap_)' },
  { name: 'followerTail', guard: 'VMO lock' },
  { name: 'followerNext', guard: 'VMO lock' },
  { name: 'followerPrev', guard: 'VMO lock' },
  { name: 'outNext', guard: "VMO lock: leader, links in the VMO's outRead/outDirty" },
  { name: 'outPrev', guard: 'VMO lock' },
  { name: 'fifoNext', guard: 'VMO lock: links in the proxy FIFO' },
  { name: 'fifoPrev', guard: 'VMO lock' },
  { name: 'inFifo', guard: 'VMO lock' },
  { name: 'serial', guard: 'VMO lock: bumped per new request (trace, watchdog)' },
]);
/** R_EVENT of a wait ended without a signal (kill, suspend, panic): the waiter re-checks its flags. */
export const R_EVENT_POKED = 2;
export const T_IN_USE = ThreadRecord.offset.inUse;
export const T_STATE = ThreadRecord.offset.state;
const T_NEXT_FREE = ThreadRecord.offset.nextFree;
export const T_BLOCKED_VMO = ThreadRecord.offset.blockedVmo;
export const T_SUSPEND = ThreadRecord.offset.suspend;
export const T_KILLED = ThreadRecord.offset.killed;
export const T_SYSCALL = ThreadRecord.offset.syscall;
export const T_PROCESS = ThreadRecord.offset.process;
export const R_STATE = RequestRecord.offset.requestState;
export const R_EVENT = RequestRecord.offset.event;
export const R_LEADER = RequestRecord.offset.leader;

export const RequestState = { None: 0, Leader: 1, Follower: 2 } as const;
export const PageRequestType = { Read: 0, Dirty: 1 } as const;

// ---------------------------------------------------------------------------------------------
// Port packets: user packets are allocated per queue; each pager VMO owns one for life.
export const PacketKind = { Free: 0, User: 1, Pager: 2 } as const;
export const PACKET_WORDS = 24;
export const PacketRecord = declareRecord('packet', PACKET_WORDS, [
  { name: 'kind', guard: 'H_HEAP_LOCK at allocation and free; then the port lock (PacketKind)' },
  { name: 'port', guard: 'port lock: the port it is queued on' },
  { name: 'next', guard: 'port lock: queue link' },
  { name: 'prev', guard: 'port lock: queue link' },
  { name: 'queued', guard: 'port lock' },
  { name: 'keyLo', guard: 'port lock' },
  { name: 'keyHi', guard: 'port lock' },
  { name: 'type', guard: 'port lock (ZX_PKT_TYPE_*)' },
  { name: 'status', guard: 'port lock' },
  { name: 'command', guard: 'port lock (ZX_PAGER_VMO_*)' },
  { name: 'offsetPages', guard: 'port lock' },
  { name: 'lengthPages', guard: 'port lock' },
  { name: 'vmo', guard: 'pager packets: owning VMO slot (set at allocation)' },
  { name: 'nextFree', guard: 'H_HEAP_LOCK: free-list link' },
  { name: 'payload', guard: 'port lock: the 32-byte union of a user packet', words: 8 },
]);
const E_NEXT_FREE = PacketRecord.offset.nextFree;

// ---------------------------------------------------------------------------------------------
// Page-list radix nodes (VmPageList): FANOUT entries each. In a leaf an entry is a slot word
// (shared/page_slot.ts); in an interior node it is a child node index + 1 (0 = none). An interior
// node also keeps a copy of each child's dirty mask (N_CHILD_DIRTY), so the dirty-run walk reads a
// leaf's dirty bits from its parent and never visits leaves, and a level's masks sit together.
export const NODE_SHIFT = 5;
export const NODE_FANOUT = 1 << NODE_SHIFT;
export const NODE_WORDS = 2 * NODE_FANOUT + 8;
/** Guard of every field: the lock of the VMO whose tree holds the node (H_HEAP_LOCK while free). */
export const NodeRecord = declareRecord('node', NODE_WORDS, [
  { name: 'entry', guard: 'VMO lock: a slot word (leaf) or child node + 1 (interior)', words: NODE_FANOUT },
  { name: 'maskUsed', guard: 'VMO lock: bit i, entry i non-empty (leaf) / child i non-empty' },
  { name: 'maskDirty', guard: 'VMO lock: bit i, entry i Dirty or AwaitingClean (or in child)' },
  { name: 'parent', guard: 'VMO lock' },
  { name: 'parentSlot', guard: 'VMO lock' },
  { name: 'level', guard: 'VMO lock: 0 = leaf' },
  { name: 'nextFree', guard: 'H_HEAP_LOCK: free-list link' },
  { name: 'childDirty', guard: "VMO lock: interior nodes, child i's maskDirty", words: NODE_FANOUT },
]);
export const N_MASK_USED = NodeRecord.offset.maskUsed;
export const N_MASK_DIRTY = NodeRecord.offset.maskDirty;
export const N_LEVEL = NodeRecord.offset.level;
export const N_NEXT_FREE = NodeRecord.offset.nextFree;
export const N_CHILD_DIRTY = NodeRecord.offset.childDirty;

// ---------------------------------------------------------------------------------------------
// Zero intervals: page-less runs of zeros, sorted per VMO (VmPageList interval sentinels).
export const INTERVAL_WORDS = 8;
export const IntervalRecord = declareRecord('interval', INTERVAL_WORDS, [
  { name: 'startPages', guard: 'VMO lock' },
  { name: 'endPages', guard: 'VMO lock (exclusive)' },
  { name: 'awaitingCleanPages', guard: 'VMO lock: length from startPages begun by WRITEBACK_BEGIN, 0 if none' },
  { name: 'next', guard: 'VMO lock: next interval of the VMO, -1' },
  { name: 'nextFree', guard: 'H_HEAP_LOCK: free-list link' },
]);
export const Z_END = IntervalRecord.offset.endPages;
const Z_NEXT_FREE = IntervalRecord.offset.nextFree;

// ---------------------------------------------------------------------------------------------
// Mappings of the process's one address space (VmMapping), guarded by H_VMAR_LOCK. The address space
// spans pages [VMAR_BASE_PAGE, VMAR_END_PAGE); a new mapping takes the lowest gap that fits it plus
// one guard page on each side (first fit over the table), so freed ranges are reused and two live
// mappings never overlap.
/** First page of the address space: 256 MiB, like a real address space's low guard. */
export const VMAR_BASE_PAGE = 0x10000;
/** End (exclusive) of the address space in pages: page numbers are Int32 words, bases stay exact. */
export const VMAR_END_PAGE = 0x7fff_ffff;
export const MAPPING_WORDS = 8;
export const MappingRecord = declareRecord('mapping', MAPPING_WORDS, [
  { name: 'inUse', guard: 'H_VMAR_LOCK' },
  { name: 'basePage', guard: 'H_VMAR_LOCK: first page number of the mapping in the address space' },
  { name: 'pages', guard: 'H_VMAR_LOCK' },
  { name: 'vmo', guard: 'H_VMAR_LOCK: object slot (the mapping holds a reference)' },
  { name: 'vmoPage', guard: 'H_VMAR_LOCK: first VMO page mapped' },
  { name: 'perms', guard: 'H_VMAR_LOCK: ZX_VM_PERM_* bits' },
  { name: 'nextFree', guard: 'H_VMAR_LOCK: free-list link' },
]);
export const M_BASE_PAGE = MappingRecord.offset.basePage;
const M_NEXT_FREE = MappingRecord.offset.nextFree;

// ---------------------------------------------------------------------------------------------
// Struct-of-arrays tables, one region per column (Layout field in parentheses).
/** The handle table (handleObject, handleRights, handleGen, handleNextFree, handleProcess). */
export const HandleColumns = declareColumns('handle', [
  { name: 'object', guard: 'H_HANDLE_LOCK: object slot, -1 while free' },
  { name: 'rights', guard: 'H_HANDLE_LOCK' },
  { name: 'gen', guard: 'H_HANDLE_LOCK: generation, bumped when the slot is freed' },
  { name: 'nextFree', guard: 'H_HANDLE_LOCK: FIFO free-list link' },
  { name: 'process', guard: 'H_HANDLE_LOCK: owning process object slot, -1 = the implicit root process' },
]);
/** Frame bookkeeping (freeFrames: the free-frame stack; frameOwnerVmo, frameOwnerPage). */
export const FrameColumns = declareColumns('frame', [
  { name: 'freeStack', guard: 'H_PMM_LOCK: entry i of the free-frame stack (header freeFrames entries)' },
  { name: 'ownerVmo', guard: 'the lock of the owning VMO (H_PMM_LOCK while free): object slot, -1 if free' },
  { name: 'ownerPage', guard: 'the lock of the owning VMO: page index within the owner' },
]);

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
    frameCount: w[H_FRAME_COUNT],
    maxHandles: w[H_MAX_HANDLES],
    maxObjects: w[H_MAX_OBJECTS],
    maxThreads: w[H_MAX_THREADS],
    maxNodes: w[H_MAX_NODES],
    maxPortPackets: w[H_MAX_PORT_PACKETS],
    maxIntervals: w[H_MAX_INTERVALS],
    maxMappings: w[H_MAX_MAPPINGS],
    traceCapacity: w[H_TRACE_CAPACITY],
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
