// KernelState: one thread's view of the shared kernel (shared/layout.ts) plus the small helpers every
// kernel module uses: record addressing, locks, object references. Each attached thread builds its
// own KernelState over the same buffers; it holds no kernel state of its own beyond scratch space.
// A documented hot leaf: the lock primitives (tryLockObject, lockObject, unlockObject, lockLeaf,
// unlockLeaf) write a lock's owner word with a plain word store right after the acquire and
// before the release, where the lock orders it. The owner fields are declared atomic, so their
// accessors use Atomics.store, which measured ~15x a plain store on this machine: every lock
// round trip would pay it twice. Everything else goes through the named accessors.

import { assert } from '../shared/assert.js';
import { threadId as jsThreadId } from 'node:worker_threads';
import { futexWake, mutexIsContended, mutexLock, mutexTryLock, mutexUnlock } from '../shared/futex.js';
import { IntrusiveList } from '../shared/intrusive_list.js';
import { kernelPanicOf, sweepLocksAfterPanic } from './panic.js';
import { NO_PAGE_PROVIDER, type InstalledPageProvider } from './vm/page_provider.js';
import {
  TRACE_EVENT_WORDS,
  H_HEAP_LOCK,
  INTERVAL_WORDS,
  MAPPING_WORDS,
  NODE_WORDS,
  leafLockOwnerWord,
  OBJ_WORDS,
  PACKET_WORDS,
  THREAD_WORDS,
  type Layout,
  type SharedViews,
  FrameColumns,
  HandleColumns,
  HeaderRecord,
  IntervalRecord,
  MappingRecord,
  NodeRecord,
  ObjectRecord,
  PacketRecord,
  PagerRecord,
  PortRecord,
  ProcessRecord,
  RequestRecord,
  ThreadRecord,
  VmoRecord,
} from '../shared/layout.js';

/** A table threaded by a free list through its records' nextFree words. */
interface FreeLinkedTable {
  nextFree(slot: number): number;
  setNextFree(slot: number, next: number): void;
}

/**
 * A heap free list (H_HEAP_LOCK): its head is a header word, its links the records' nextFree words;
 * a record is zeroed (`words` words from `firstWord`) when it is allocated.
 */
class HeapFreeList {
  readonly table: FreeLinkedTable;
  readonly head: () => number;
  readonly setHead: (slot: number) => void;
  readonly firstWord: (slot: number) => number;
  readonly words: number;
  constructor(table: FreeLinkedTable, head: () => number, setHead: (slot: number) => void, firstWord: (slot: number) => number, words: number) {
    this.table = table;
    this.head = head;
    this.setHead = setHead;
    this.firstWord = firstWord;
    this.words = words;
  }
}

/** A reference count was `before` and one was dropped: true if that was the last; asserts one was held. */
function droppedLast(before: number, underflow: string): boolean {
  assert(before > 0, underflow);
  return before === 1;
}

export class KernelState {
  readonly views: SharedViews;
  readonly layout: Readonly<Layout>;
  readonly w: Int32Array;
  readonly frames: Uint8Array;
  /** Hook run when an object's last reference goes (set by core/object/lifecycle.ts). */
  destroyObject: (obj: number) => void = () => {};
  /** Hook run when a VMO record's last reference goes (its VMO is dead and no packet is queued). */
  freeVmoRecord: (vmo: number) => void = () => {};
  /** Hook run when an object's last handle is closed (on_zero_handles). */
  onZeroHandles: (obj: number) => void = () => {};
  /** The PageSource's provider and its packets' allocator: the PagerProxy (installed by core/kernel.ts). */
  pageProvider: InstalledPageProvider = NO_PAGE_PROVIDER;
  /**
   * Reclaim (core/vm/evictor.ts), run with no lock held by a thread whose allocation found the pool
   * short; never touches pages [excludeStart, excludeEnd) of excludeVmo. Returns the frames freed.
   */
  reclaim: (excludeVmo: number, excludeStart: number, excludeEnd: number) => number = () => 0;

  /**
   * The kernel thread this JS thread is acting as, recorded in trace events. A JS thread runs one
   * kernel thread at a time (a pool worker runs one task at a time), so ThreadSys sets it on creation.
   */
  get actor(): number {
    return this.#owner - 1;
  }
  set actor(slot: number) {
    this.#owner = slot + 1;
  }
  /** actor + 1: the value written into lock owner words (0 = no kernel thread). */
  #owner = 0;
  /** The process new handles of this JS thread belong to (-1: the implicit root process). */
  process = -1;
  /** worker_threads threadId of this JS thread (0 on the main thread), recorded in its kernel threads. */
  readonly jsThread: number = jsThreadId;
  /** Injected bugs (core/bugs.ts), read once: 0 in every normal run. */
  readonly bugs: number;
  /** Lock assertions on (Kernel option lockAssertions, on by default under tap): read once. */
  readonly lockAssertions: boolean;
  /** Trace ring capacity; 0 = tracing off (core/trace.ts). */
  readonly traceCapacity: number;
  readonly tracing: boolean;
  /** Which event types are recorded (bit per TraceEvent). */
  readonly traceMask: number;
  readonly traceF64: Float64Array | null;

  // Named accessors of every shared record (shared/layout.ts declares them; shared/records.ts builds
  // them). Every kernel module reads and writes shared words through these.
  readonly header: InstanceType<typeof HeaderRecord.Table>;
  readonly objects: InstanceType<typeof ObjectRecord.Table>;
  readonly vmos: InstanceType<typeof VmoRecord.Table>;
  readonly pagers: InstanceType<typeof PagerRecord.Table>;
  readonly ports: InstanceType<typeof PortRecord.Table>;
  readonly processes: InstanceType<typeof ProcessRecord.Table>;
  readonly threads: InstanceType<typeof ThreadRecord.Table>;
  readonly requests: InstanceType<typeof RequestRecord.Table>;
  readonly packets: InstanceType<typeof PacketRecord.Table>;
  readonly nodes: InstanceType<typeof NodeRecord.Table>;
  readonly intervals: InstanceType<typeof IntervalRecord.Table>;
  readonly mappings: InstanceType<typeof MappingRecord.Table>;
  readonly handles: InstanceType<typeof HandleColumns.Table>;
  readonly frameTable: InstanceType<typeof FrameColumns.Table>;
  /** The kernel's intrusive lists (shared/intrusive_list.ts), one per kind of link. */
  readonly lists: {
    /** A PageSource's outstanding leaders (head: vmos.outRead/outDirty; links: requests.outNext/outPrev). */
    readonly outstanding: IntrusiveList;
    /** A leader's followers (requests.followerHead/followerTail; requests.followerNext/followerPrev). */
    readonly followers: IntrusiveList;
    /** A PagerProxy's pending requests (vmos.pxFifoHead/pxFifoTail; requests.fifoNext/fifoPrev). */
    readonly proxyFifo: IntrusiveList;
    /** A port's queued packets (ports.head/tail; packets.next/prev). */
    readonly portQueue: IntrusiveList;
    /** A pager's VMOs (pagers.vmoHead; vmos.pagerNext/pagerPrev). */
    readonly pagerVmos: IntrusiveList;
  };

  constructor(views: SharedViews) {
    this.views = views;
    this.layout = views.layout;
    this.w = views.w;
    this.frames = views.frames;
    const w = views.w;
    const l = views.layout;
    this.header = new HeaderRecord.Table(w, 0);
    this.bugs = this.header.bugs();
    this.lockAssertions = this.header.lockAssertions() === 1;
    this.traceCapacity = views.layout.traceCapacity;
    this.tracing = this.traceCapacity > 0;
    this.traceMask = this.header.traceMask();
    this.objects = new ObjectRecord.Table(w, l.objects);
    this.vmos = new VmoRecord.Table(w, l.objects);
    this.pagers = new PagerRecord.Table(w, l.objects);
    this.ports = new PortRecord.Table(w, l.objects);
    this.processes = new ProcessRecord.Table(w, l.objects);
    this.threads = new ThreadRecord.Table(w, l.threads);
    this.requests = new RequestRecord.Table(w, l.threads);
    this.packets = new PacketRecord.Table(w, l.packets);
    this.nodes = new NodeRecord.Table(w, l.nodes);
    this.intervals = new IntervalRecord.Table(w, l.intervals);
    this.mappings = new MappingRecord.Table(w, l.mappings);
    this.handles = new HandleColumns.Table(w, { object: l.handleObject, rights: l.handleRights, gen: l.handleGen, nextFree: l.handleNextFree, process: l.handleProcess });
    this.frameTable = new FrameColumns.Table(w, { freeStack: l.freeFrames, ownerVmo: l.frameOwnerVmo, ownerPage: l.frameOwnerPage });
    const R = RequestRecord.offset;
    this.lists = {
      outstanding: new IntrusiveList(w, l.threads, THREAD_WORDS, R.outNext, R.outPrev),
      followers: new IntrusiveList(w, l.threads, THREAD_WORDS, R.followerNext, R.followerPrev),
      proxyFifo: new IntrusiveList(w, l.threads, THREAD_WORDS, R.fifoNext, R.fifoPrev),
      portQueue: new IntrusiveList(w, l.packets, PACKET_WORDS, PacketRecord.offset.next, PacketRecord.offset.prev),
      pagerVmos: new IntrusiveList(w, l.objects, OBJ_WORDS, VmoRecord.offset.pagerNext, VmoRecord.offset.pagerPrev),
    };
    this.traceF64 = this.tracing ? new Float64Array(views.meta, views.layout.trace * 4, this.traceCapacity * (TRACE_EVENT_WORDS / 2)) : null;
    const header = this.header;
    const nodes = this.nodes;
    const intervals = this.intervals;
    this.#nodeHeap = new HeapFreeList(nodes, () => header.freeNode(), (slot) => header.setFreeNode(slot), (slot) => nodes.entryWord(slot), NODE_WORDS);
    this.#intervalHeap = new HeapFreeList(intervals, () => header.freeInterval(), (slot) => header.setFreeInterval(slot), (slot) => intervals.startPagesWord(slot), INTERVAL_WORDS);
  }

  /** Word index of an object record. */
  obj(slot: number): number {
    return this.layout.objects + slot * OBJ_WORDS;
  }
  /** Word index of a thread record (and its PageRequest). */
  thr(slot: number): number {
    return this.layout.threads + slot * THREAD_WORDS;
  }
  /** Word index of a port packet record. */
  pkt(slot: number): number {
    return this.layout.packets + slot * PACKET_WORDS;
  }
  /** Word index of a radix node. */
  node(slot: number): number {
    return this.layout.nodes + slot * NODE_WORDS;
  }
  /** Word index of a mapping record. */
  map(slot: number): number {
    return this.layout.mappings + slot * MAPPING_WORDS;
  }
  /** Word index of a zero interval record. */
  zint(slot: number): number {
    return this.layout.intervals + slot * INTERVAL_WORDS;
  }

  /** Takes an object's lock only if it is free right now (reclaim's first round skips busy VMOs). */
  tryLockObject(obj: number): boolean {
    if (!mutexTryLock(this.w, this.objects.lockWord(obj))) return false;
    this.w[this.objects.lockOwnerWord(obj)] = this.#owner; // hot leaf: plain store (module header)
    this.#lockDepth++;
    return true;
  }

  lockObject(obj: number): void {
    if (!mutexLock(this.w, this.objects.lockWord(obj))) this.#panicked();
    this.w[this.objects.lockOwnerWord(obj)] = this.#owner; // hot leaf: plain store (module header)
    this.#lockDepth++;
  }
  unlockObject(obj: number): void {
    this.w[this.objects.lockOwnerWord(obj)] = 0; // hot leaf: plain store (module header)
    mutexUnlock(this.w, this.objects.lockWord(obj));
    if (--this.#lockDepth === 0 && this.#wakeCount > 0) this.#flushWakes();
  }

  /** Takes a leaf lock (H_HANDLE_LOCK, H_PMM_LOCK, H_HEAP_LOCK, H_VMAR_LOCK), recording its owner. */
  lockLeaf(lock: number): void {
    if (!mutexLock(this.w, lock)) this.#panicked();
    this.w[leafLockOwnerWord(lock)] = this.#owner; // hot leaf: plain store (module header)
  }
  unlockLeaf(lock: number): void {
    this.w[leafLockOwnerWord(lock)] = 0; // hot leaf: plain store (module header)
    mutexUnlock(this.w, lock);
  }

  /**
   * The entry check of a *Locked function: the calling thread holds `obj`'s lock. Costs one field test
   * when lock assertions are off.
   */
  assertHeld(obj: number): void {
    if (this.lockAssertions) this.assertLockHeld(obj);
  }

  /** Asserts that this thread holds `obj`'s lock (the lock word is taken and its owner word is us). */
  assertLockHeld(obj: number): void {
    assert(this.objects.lock(obj) !== 0 && this.objects.lockOwner(obj) === this.#owner, `lock of object ${obj} is not held by thread slot ${this.actor}`);
  }

  /** A lock was PANICKED: make sure no other lock waits forever on us, then fail stop. */
  #panicked(): never {
    sweepLocksAfterPanic(this);
    throw kernelPanicOf(this);
  }

  /**
   * Wakes the threads sleeping on futex word `index` once this thread holds no object lock any more.
   * The word itself is published at once (the caller stores it under its lock); only the notify is
   * deferred. Notifying under the lock made the woken thread run straight into that lock, park on it
   * and need a second cross-core wake-up (bench/RESULTS.md, fault round trip). count 0 = all.
   */
  wakeAfterUnlock(index: number, count: number): void {
    if (this.#lockDepth === 0 || this.#wakeCount === this.#wakes.length) {
      futexWake(this.w, index, count === 0 ? Infinity : count);
      return;
    }
    this.#wakes[this.#wakeCount] = index;
    this.#wakeCounts[this.#wakeCount++] = count;
  }

  #flushWakes(): void {
    for (let i = 0; i < this.#wakeCount; i++) {
      const count = this.#wakeCounts[i] as number;
      futexWake(this.w, this.#wakes[i] as number, count === 0 ? Infinity : count);
    }
    this.#wakeCount = 0;
  }

  /** Object locks this thread holds (a JS thread runs one kernel thread at a time). */
  #lockDepth = 0;
  readonly #wakes = new Int32Array(256);
  readonly #wakeCounts = new Int32Array(256);
  #wakeCount = 0;
  /** True when another thread waits for this object's lock (the read/write loop yields then). */
  objectLockContended(obj: number): boolean {
    return mutexIsContended(this.w, this.objects.lockWord(obj));
  }

  /** Adds a reference to a live object (the caller already holds one, or the handle lock). */
  addRef(obj: number): void {
    this.objects.addRefs(obj, 1);
  }
  /** Drops a reference; the last one destroys the object. Never call with a lock held. */
  release(obj: number): void {
    if (droppedLast(this.objects.addRefs(obj, -1), 'object reference count underflow')) this.destroyObject(obj);
  }
  /**
   * A reference on a VMO's record (vmos.recordRefs), which keeps the record - and the PagerProxy state in
   * it - valid without keeping the VMO alive: a queued packet or a waiting fault holds one.
   */
  addRecordRef(vmo: number): void {
    this.vmos.addRecordRefs(vmo, 1);
  }
  /** Drops a record reference; the last one frees the record. Never call with a lock held. */
  releaseRecord(vmo: number): void {
    if (droppedLast(this.vmos.addRecordRefs(vmo, -1), 'VMO record reference count underflow')) this.freeVmoRecord(vmo);
  }
  /** Drops a record reference that cannot be the last one; safe under locks. */
  releaseRecordNotLast(vmo: number): void {
    assert(this.vmos.addRecordRefs(vmo, -1) > 1, 'releaseRecordNotLast dropped the last record reference');
  }
  /** Drops a reference that cannot be the last one (the caller holds another); safe under locks. */
  releaseNotLast(obj: number): void {
    assert(this.objects.addRefs(obj, -1) > 1, 'releaseNotLast dropped the last reference');
  }

  // ---- Heap: radix nodes and zero intervals (H_HEAP_LOCK, a leaf lock) ----

  readonly #nodeHeap: HeapFreeList;
  readonly #intervalHeap: HeapFreeList;

  #heapAlloc(list: HeapFreeList): number {
    this.lockLeaf(H_HEAP_LOCK);
    const slot = list.head();
    if (slot >= 0) list.setHead(list.table.nextFree(slot));
    this.unlockLeaf(H_HEAP_LOCK);
    if (slot >= 0) this.w.fill(0, list.firstWord(slot), list.firstWord(slot) + list.words);
    return slot;
  }
  #heapFree(list: HeapFreeList, slot: number): void {
    this.lockLeaf(H_HEAP_LOCK);
    list.table.setNextFree(slot, list.head());
    list.setHead(slot);
    this.unlockLeaf(H_HEAP_LOCK);
  }

  /** A zeroed radix node, or -1 when the node table is full. */
  allocNode(): number {
    return this.#heapAlloc(this.#nodeHeap);
  }
  freeNode(n: number): void {
    this.#heapFree(this.#nodeHeap, n);
  }
  /** A zeroed zero-interval record, or -1 when the interval table is full. */
  allocInterval(): number {
    return this.#heapAlloc(this.#intervalHeap);
  }
  freeInterval(z: number): void {
    this.#heapFree(this.#intervalHeap, z);
  }
}
