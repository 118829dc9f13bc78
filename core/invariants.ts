// checkInvariants: walks every shared table of a kernel and cross-checks them, so a test, the model
// test, the fuzzer and the stress job can prove after each step that the kernel's bookkeeping is whole:
// reference counts against handles, mappings, VMO links and queued packets; every free list against
// its table; page lists against committed counts, summary masks and frame owners; outstanding-request
// lists against thread records; port queues against proxies; mappings against the address space; and
// every kernel lock free and no owner recorded; no panic.
//
// Threads: any thread may call it, but only at a quiescent point: no simulated thread may be running
// kernel code (threads parked on a page request hold no lock and are allowed; each is counted as one
// reference in flight on the VMO it waits on). It takes no lock and writes nothing. Cost: O(table
// capacities + nodes in use), meant for tests, never for a syscall path.

import { ZX_THREAD_STATE_BLOCKED_PAGER, ZX_THREAD_STATE_SUSPENDED } from '../shared/constants.js';
import type { IntrusiveList } from '../shared/intrusive_list.js';
import {
  H_HANDLE_LOCK,
  H_HEAP_LOCK,
  H_PMM_LOCK,
  H_VMAR_LOCK,
  NODE_FANOUT,
  OBJ_WORDS,
  ObjType,
  PacketKind,
  PageRequestType,
  PX_NONE,
  RequestState,
  VmoFlag,
  leafLockOwnerWord,
} from '../shared/layout.js';
import { DONT_NEED_BIT, DirtyState, SlotKind, isDirtyTracked, isPresent, slotDirtyState, slotFrame, slotKind } from '../shared/page_slot.js';
import type { KernelState } from './kernel_state.js';
import { nextPresentPage } from './vm/page_list.js';

/** Stops a walk after this many problems: one broken table can make every later check fail too. */
const MAX_PROBLEMS = 50;

class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(message);
  }
  get full(): boolean {
    return this.list.length >= MAX_PROBLEMS;
  }
}

/**
 * Walks a free list from `head` through `next` (a table's nextFree accessor); marks each member in
 * `free` and reports cycles and out-of-range links. Returns the count.
 */
function walkFreeList(p: Problems, what: string, head: number, next: (slot: number) => number, capacity: number, free: Uint8Array): number {
  let n = 0;
  for (let i = head; i !== -1; i = next(i)) {
    if (i < 0 || i >= capacity) {
      p.add(`${what} free list: link ${i} out of range`);
      break;
    }
    if (free[i] === 1) {
      p.add(`${what} free list: cycle at ${i}`);
      break;
    }
    free[i] = 1;
    n++;
  }
  return n;
}

/**
 * A heap table (H_HEAP_LOCK) whose slots in use were marked in `used` by the walk of their owners:
 * every slot is free xor used. `inOne` / `inAll` name what uses a slot ("a tree" / "trees").
 */
function checkHeapFreeList(p: Problems, what: string, inOne: string, inAll: string, head: number, next: (slot: number) => number, used: Uint8Array): void {
  const capacity = used.length;
  const free = new Uint8Array(capacity);
  const nFree = walkFreeList(p, what, head, next, capacity, free);
  let nUsed = 0;
  for (let i = 0; i < capacity; i++) {
    if (used[i] === 1) {
      nUsed++;
      if (free[i] === 1) p.add(`${what} ${i} is in ${inOne} and on the free list`);
    }
  }
  if (nFree + nUsed !== capacity && !p.full) p.add(`${what}s: ${nFree} free + ${nUsed} in ${inAll} != ${capacity} (leaked)`);
}

/**
 * Walks list `list` from head word `head` (at most `capacity` elements); calls `visit(e, prev)` for
 * each element in range and returns the last element and the count (-1 for the count if it is
 * broken: out of range, longer than the table, or meeting an element already marked in `seen`,
 * which marks each element it visits).
 */
function walkList(p: Problems, list: IntrusiveList, head: number, capacity: number, broken: (e: number) => string, visit: (e: number, prev: number) => void, seen?: Uint8Array): { last: number; count: number } {
  let prev = -1;
  let n = 0;
  for (let e = list.first(head); e !== -1; e = list.next(e)) {
    if (e < 0 || e >= capacity || ++n > capacity || seen?.[e] === 1) {
      p.add(broken(e));
      return { last: prev, count: -1 };
    }
    if (seen) seen[e] = 1;
    visit(e, prev);
    prev = e;
  }
  return { last: prev, count: n };
}

const LEAF_LOCKS = [
  ['H_HANDLE_LOCK', H_HANDLE_LOCK],
  ['H_PMM_LOCK', H_PMM_LOCK],
  ['H_HEAP_LOCK', H_HEAP_LOCK],
  ['H_VMAR_LOCK', H_VMAR_LOCK],
] as const;

/**
 * Returns every inconsistency found in the kernel's shared tables (empty when all hold). See the module
 * header for when it may be called.
 */
export function checkInvariants(k: KernelState): string[] {
  const p = new Problems();
  const L = k.layout;

  // ---- Locks: nobody may be inside the kernel. ----
  for (const [name, word] of LEAF_LOCKS) {
    if (Atomics.load(k.w, word) !== 0) p.add(`${name} is held`);
    const owner = Atomics.load(k.w, leafLockOwnerWord(word));
    if (owner !== 0) p.add(`${name}'s owner word names thread slot ${owner - 1}`);
  }
  if (k.header.panic() !== 0) p.add('the kernel panicked');

  // ---- Objects: free list vs types. ----
  const objects = k.objects;
  const freeObj = new Uint8Array(L.maxObjects);
  const nFreeObj = walkFreeList(p, 'object', k.header.freeObject(), (i) => objects.nextFree(i), L.maxObjects, freeObj);
  let nLiveObj = 0;
  const expectedRefs = new Int32Array(L.maxObjects);
  const allowedExtra = new Int32Array(L.maxObjects);
  // A VMO's record (recordRefs) is held by the live VMO and by its queued packet; a thread waiting
  // on the VMO holds either a VMO reference (vmo_read) or a record reference (a fault).
  const expectedRecordRefs = new Int32Array(L.maxObjects);
  const processThreads = new Int32Array(L.maxObjects);
  const handleCount = new Int32Array(L.maxObjects);
  for (let v = 0; v < L.maxObjects; v++) {
    const type = objects.type(v);
    if (freeObj[v] === 1) {
      if (type !== ObjType.Free) p.add(`object ${v} is on the free list with type ${type}`);
      continue;
    }
    if (type === ObjType.Free) {
      p.add(`object ${v} is free but not on the free list`);
      continue;
    }
    nLiveObj++;
    if (objects.lock(v) !== 0) p.add(`object ${v} (type ${type}) lock is held`);
    const owner = objects.lockOwner(v);
    if (owner !== 0) p.add(`object ${v} (type ${type}) lock's owner word names thread slot ${owner - 1}`);
  }
  if (nFreeObj + nLiveObj !== L.maxObjects && !p.full) p.add(`objects: ${nFreeObj} free + ${nLiveObj} live != ${L.maxObjects}`);
  const live = (v: number): boolean => v >= 0 && v < L.maxObjects && freeObj[v] === 0 && objects.type(v) !== ObjType.Free;
  const isType = (v: number, type: number): boolean => live(v) && objects.type(v) === type;

  // ---- Handles: each names a live object; counts match objects.handles. ----
  const handles = k.handles;
  const freeHandle = new Uint8Array(L.maxHandles);
  const nFreeH = walkFreeList(p, 'handle', k.header.freeHandle(), (i) => handles.nextFree(i), L.maxHandles, freeHandle);
  let nLiveH = 0;
  for (let h = 0; h < L.maxHandles; h++) {
    const obj = handles.object(h);
    if (freeHandle[h] === 1) {
      if (obj !== -1) p.add(`handle slot ${h} is on the free list but names object ${obj}`);
      continue;
    }
    if (obj === -1) {
      p.add(`handle slot ${h} is empty but not on the free list`);
      continue;
    }
    nLiveH++;
    const owner = handles.process(h);
    if (owner !== -1 && !isType(owner, ObjType.Process)) p.add(`handle slot ${h} belongs to dead process ${owner}`);
    if (!live(obj)) p.add(`handle slot ${h} names dead object ${obj}`);
    else {
      handleCount[obj]++;
      expectedRefs[obj]++;
    }
  }
  if (nFreeH + nLiveH !== L.maxHandles && !p.full) p.add(`handles: ${nFreeH} free + ${nLiveH} live != ${L.maxHandles}`);

  // ---- Threads: free list, and the requests of live threads. ----
  const threads = k.threads;
  const requests = k.requests;
  const freeThr = new Uint8Array(L.maxThreads);
  walkFreeList(p, 'thread', k.header.freeThread(), (i) => threads.nextFree(i), L.maxThreads, freeThr);
  for (let t = 0; t < L.maxThreads; t++) {
    const inUse = threads.inUse(t) === 1;
    if (freeThr[t] === 1 && inUse) p.add(`thread ${t} is on the free list but in use`);
    if (freeThr[t] === 0 && !inUse) p.add(`thread ${t} is neither free nor in use`);
    const role = requests.requestState(t);
    if (!inUse) {
      if (role !== RequestState.None) p.add(`free thread ${t} still has a ${role === RequestState.Leader ? 'leader' : 'follower'} request linked`);
      continue;
    }
    const state = threads.state(t);
    const blockedOn = threads.blockedVmo(t);
    const proc = threads.process(t);
    if (proc !== -1) {
      if (!isType(proc, ObjType.Process)) p.add(`thread ${t} belongs to dead process ${proc}`);
      else processThreads[proc]++;
    }
    const waitWord = threads.waitWord(t);
    if (waitWord > 0) {
      // Parked in a port wait: that syscall holds a reference on the port.
      const port = Math.floor((waitWord - k.ports.seqWord(0)) / OBJ_WORDS);
      if (isType(port, ObjType.Port) && k.ports.seqWord(port) === waitWord) allowedExtra[port]++;
    }
    if (state === ZX_THREAD_STATE_BLOCKED_PAGER || state === ZX_THREAD_STATE_SUSPENDED) {
      if (live(blockedOn)) allowedExtra[blockedOn]++; // the syscall in flight holds a reference
    }
    if (role === RequestState.None) continue;
    const vmo = requests.vmo(t);
    if (!isType(vmo, ObjType.Vmo)) {
      p.add(`thread ${t}'s request names dead VMO ${vmo}`);
      continue;
    }
    const lengthPages = requests.lengthPages(t);
    if (lengthPages <= 0) p.add(`thread ${t}'s request has length ${lengthPages}`);
    if (role === RequestState.Follower) checkFollower(k, p, t);
    else if (role === RequestState.Leader) {
      const pending = requests.pendingPages(t);
      if (pending <= 0 || pending > lengthPages) p.add(`leader ${t} has pending ${pending} of ${lengthPages}`);
    } else {
      p.add(`thread ${t} has request state ${role}`);
    }
  }

  // ---- Mappings: each holds a VMO reference; no two overlap. ----
  const mappings = k.mappings;
  const freeMap = new Uint8Array(L.maxMappings);
  walkFreeList(p, 'mapping', k.header.freeMapping(), (i) => mappings.nextFree(i), L.maxMappings, freeMap);
  const mapCount = new Int32Array(L.maxObjects);
  const ranges: [number, number, number][] = [];
  for (let m = 0; m < L.maxMappings; m++) {
    const inUse = mappings.inUse(m) === 1;
    if (freeMap[m] === 1) {
      if (inUse) p.add(`mapping ${m} is on the free list but in use`);
      continue;
    }
    if (!inUse) {
      p.add(`mapping ${m} is neither free nor in use`);
      continue;
    }
    const vmo = mappings.vmo(m);
    if (!isType(vmo, ObjType.Vmo)) p.add(`mapping ${m} names dead VMO ${vmo}`);
    else {
      mapCount[vmo]++;
      expectedRefs[vmo]++;
    }
    const pages = mappings.pages(m);
    if (pages <= 0 || mappings.vmoPage(m) < 0) p.add(`mapping ${m} has ${pages} pages at VMO page ${mappings.vmoPage(m)}`);
    ranges.push([mappings.basePage(m), mappings.basePage(m) + pages, m]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    const [start, , m] = ranges[i] as [number, number, number];
    const [, prevEnd, prevM] = ranges[i - 1] as [number, number, number];
    if (start < prevEnd) p.add(`mappings ${prevM} and ${m} overlap in the address space`);
  }

  // ---- Port packets: free list; queued packets per port. ----
  const packets = k.packets;
  const freePkt = new Uint8Array(L.maxPortPackets);
  const nFreePkt = walkFreeList(p, 'port packet', k.header.freePortPacket(), (i) => packets.nextFree(i), L.maxPortPackets, freePkt);
  let nUsedPkt = 0;
  const queuedPkt = new Uint8Array(L.maxPortPackets);
  for (let e = 0; e < L.maxPortPackets; e++) {
    const kind = packets.kind(e);
    if (freePkt[e] === 1) {
      if (kind !== PacketKind.Free) p.add(`packet ${e} is on the free list with kind ${kind}`);
    } else if (kind === PacketKind.Free) p.add(`packet ${e} is free but not on the free list`);
    else nUsedPkt++;
  }
  let pagerPackets = 0;
  let userQueued = 0;

  // ---- Per object. ----
  const frameSeen = new Int32Array(L.frameCount).fill(-1);
  const usedNode = new Uint8Array(L.maxNodes);
  const usedInterval = new Uint8Array(L.maxIntervals);
  let committedTotal = 0;
  let dontNeedSlots = 0;
  for (let v = 0; v < L.maxObjects && !p.full; v++) {
    if (!live(v)) continue;
    switch (objects.type(v)) {
      case ObjType.Port: {
        let users = 0;
        const ports = k.ports;
        const { last } = walkList(p, k.lists.portQueue, ports.headWord(v), L.maxPortPackets, (e) => `port ${v}: queue is broken at packet ${e}`, (e, prev) => {
          if (packets.queued(e) !== 1 || packets.port(e) !== v || packets.prev(e) !== prev) p.add(`port ${v}: packet ${e} links or flags are wrong`);
          const kind = packets.kind(e);
          if (kind === PacketKind.User) users++;
          else if (kind === PacketKind.Pager) {
            const vmo = packets.vmo(e);
            if (!isType(vmo, ObjType.Vmo) || k.vmos.pxPacket(vmo) !== e) p.add(`port ${v}: pager packet ${e} is not its VMO's (${vmo})`);
            else {
              expectedRecordRefs[vmo]++; // a queued packet holds its VMO's record
              if (k.vmos.pxBusy(vmo) !== 1 || k.vmos.pxActive(vmo) === PX_NONE) p.add(`VMO ${vmo}: packet queued but the proxy is not busy with a request`);
            }
          } else p.add(`port ${v}: free packet ${e} is queued`);
        }, queuedPkt);
        if (ports.tail(v) !== last) p.add(`port ${v}: tail ${ports.tail(v)} != last packet ${last}`);
        if (users !== ports.userCount(v)) p.add(`port ${v}: ${users} user packets queued, count says ${ports.userCount(v)}`);
        userQueued += users;
        break;
      }
      case ObjType.Vmo: {
        const vmos = k.vmos;
        const pager = vmos.pager(v);
        const port = vmos.port(v);
        const pagerBacked = (vmos.flags(v) & VmoFlag.PagerBacked) !== 0;
        if (pager >= 0) {
          if (!isType(pager, ObjType.Pager)) p.add(`VMO ${v} names dead pager ${pager}`);
          else expectedRefs[pager]++;
        }
        if (port >= 0) {
          if (!isType(port, ObjType.Port)) p.add(`VMO ${v} names dead port ${port}`);
          else expectedRefs[port]++;
        }
        if (pagerBacked) {
          pagerPackets++;
          const e = vmos.pxPacket(v);
          if (e < 0 || e >= L.maxPortPackets || packets.kind(e) !== PacketKind.Pager || packets.vmo(e) !== v) p.add(`VMO ${v}: its packet ${e} is not a pager packet of it`);
        }
        if (mapCount[v] !== vmos.mapCount(v)) p.add(`VMO ${v}: ${mapCount[v]} mappings, vmos.mapCount ${vmos.mapCount(v)}`);
        checkRequestsOfVmo(k, p, v);
        const pages = checkPageList(k, p, v, frameSeen, usedNode);
        if (pages.committed !== vmos.committedPages(v)) p.add(`VMO ${v}: ${pages.committed} pages present, vmos.committedPages ${vmos.committedPages(v)}`);
        if (!pagerBacked && (pages.dirty > 0 || pages.markers > 0)) p.add(`anonymous VMO ${v} has ${pages.dirty} dirty pages and ${pages.markers} markers`);
        committedTotal += pages.committed;
        dontNeedSlots += pages.dontNeed;
        checkIntervals(k, p, v, usedInterval);
        break;
      }
    }
  }
  for (let e = 0; e < L.maxPortPackets; e++) {
    if (packets.queued(e) === 1 && queuedPkt[e] === 0 && freePkt[e] === 0) p.add(`packet ${e} is marked queued but is in no port's queue`);
  }
  if (nFreePkt + nUsedPkt !== L.maxPortPackets) p.add(`packets: ${nFreePkt} free + ${nUsedPkt} used != ${L.maxPortPackets}`);
  if (nUsedPkt !== pagerPackets + userQueued) p.add(`packets: ${nUsedPkt} in use, but ${pagerPackets} pager VMOs and ${userQueued} queued user packets`);

  // ---- References and handle counts. ----
  for (let v = 0; v < L.maxObjects; v++) {
    if (!live(v)) continue;
    const type = objects.type(v);
    const refs = objects.refs(v);
    const extra = allowedExtra[v] as number;
    if (objects.handles(v) !== handleCount[v]) p.add(`object ${v}: ${handleCount[v]} handles in the table, objects.handles ${objects.handles(v)}`);
    if (type === ObjType.Process) {
      if (processThreads[v] !== k.processes.threads(v)) p.add(`process ${v}: ${processThreads[v]} threads, processes.threads ${k.processes.threads(v)}`);
      if (refs < 1) p.add(`process ${v} is live with no reference`);
      continue;
    }
    const expectedObj = expectedRefs[v] as number;
    if (refs < expectedObj || refs > expectedObj + extra) {
      p.add(`object ${v} (type ${type}): ${refs} references, expected ${expectedObj}${extra ? ` to ${expectedObj + extra}` : ''}`);
    }
    if (type === ObjType.Vmo) {
      const records = k.vmos.recordRefs(v);
      const expected = (expectedRecordRefs[v] as number) + (refs > 0 ? 1 : 0);
      if (records < expected || records > expected + extra) p.add(`VMO ${v}: ${records} record references, expected ${expected}${extra ? ` to ${expected + extra}` : ''}`);
      if (refs === 0 && (k.vmos.committedPages(v) !== 0 || k.vmos.rootNode(v) !== -1)) p.add(`dead VMO ${v} still holds pages`);
    } else if (refs === 0) p.add(`object ${v} is live with no reference`);
  }

  // ---- Frames: every frame is free xor owned by exactly one slot. ----
  const frameTable = k.frameTable;
  const freeFrames = k.header.freeFrames();
  const onStack = new Uint8Array(L.frameCount);
  for (let i = 0; i < freeFrames; i++) {
    const f = frameTable.freeStack(i);
    if (f < 0 || f >= L.frameCount || onStack[f] === 1) {
      p.add(`free-frame stack entry ${i} is ${f} (out of range or twice)`);
      continue;
    }
    onStack[f] = 1;
    if (frameTable.ownerVmo(f) !== -1) p.add(`free frame ${f} has owner ${frameTable.ownerVmo(f)}`);
    if (frameSeen[f] !== -1) p.add(`free frame ${f} is also in VMO ${frameSeen[f]}'s page list`);
  }
  if (freeFrames + committedTotal !== L.frameCount) p.add(`frames: ${freeFrames} free + ${committedTotal} committed != ${L.frameCount} (a frame leaked or is counted twice)`);

  // ---- Heap free lists against what the page lists and intervals use. ----
  checkHeapFreeList(p, 'page-list node', 'a tree', 'trees', k.header.freeNode(), (i) => k.nodes.nextFree(i), usedNode);
  checkHeapFreeList(p, 'zero interval', "a VMO's list", 'lists', k.header.freeInterval(), (i) => k.intervals.nextFree(i), usedInterval);

  // The DONT_NEED counter may run ahead of the hinted pages (reclaim then scans for nothing), never behind.
  const dontNeedPages = k.header.dontNeedPages();
  if (dontNeedPages < dontNeedSlots) p.add(`H_DONT_NEED_PAGES ${dontNeedPages} < ${dontNeedSlots} hinted pages`);
  return p.list;
}

/** A follower request `t`: a leader of the same VMO and type covers its start and lists it. */
function checkFollower(k: KernelState, p: Problems, t: number): void {
  const requests = k.requests;
  const leader = requests.leader(t);
  if (leader < 0 || leader >= k.layout.maxThreads || requests.requestState(leader) !== RequestState.Leader) {
    p.add(`follower ${t} has no leader (${leader})`);
    return;
  }
  if (requests.vmo(leader) !== requests.vmo(t) || requests.requestType(leader) !== requests.requestType(t)) p.add(`follower ${t} and its leader ${leader} differ in VMO or type`);
  const offsetPages = requests.offsetPages(t);
  const leaderStart = requests.offsetPages(leader);
  if (offsetPages < leaderStart || offsetPages >= leaderStart + requests.lengthPages(leader)) p.add(`follower ${t} starts outside its leader ${leader}`);
  let found = false;
  const followers = k.lists.followers;
  for (let f = followers.first(requests.followerHeadWord(leader)), n = 0; f >= 0 && n <= k.layout.maxThreads; f = followers.next(f), n++) if (f === t) found = true;
  if (!found) p.add(`follower ${t} is not in leader ${leader}'s follower list`);
}

/** Outstanding leaders (sorted by end, disjoint, each a live leader of this VMO), followers and the proxy FIFO. */
function checkRequestsOfVmo(k: KernelState, p: Problems, v: number): void {
  const requests = k.requests;
  const vmos = k.vmos;
  const maxThreads = k.layout.maxThreads;
  for (const [head, type] of [
    [vmos.outReadWord(v), PageRequestType.Read],
    [vmos.outDirtyWord(v), PageRequestType.Dirty],
  ] as const) {
    let prevEnd = -1;
    walkList(p, k.lists.outstanding, head, maxThreads, (r) => `VMO ${v}: outstanding list broken at ${r}`, (r, prev) => {
      if (k.threads.inUse(r) !== 1) p.add(`VMO ${v}: outstanding request of dead thread slot ${r}`);
      if (requests.requestState(r) !== RequestState.Leader || requests.vmo(r) !== v || requests.requestType(r) !== type) p.add(`VMO ${v}: outstanding entry ${r} is not a ${type === PageRequestType.Read ? 'READ' : 'DIRTY'} leader of this VMO`);
      if (requests.outPrev(r) !== prev) p.add(`VMO ${v}: outstanding entry ${r} has a wrong back link`);
      const offsetPages = requests.offsetPages(r);
      if (offsetPages < prevEnd) p.add(`VMO ${v}: outstanding requests overlap or are unsorted at ${r}`);
      const followers = walkList(p, k.lists.followers, requests.followerHeadWord(r), maxThreads, () => `VMO ${v}: follower list of ${r} broken`, (f, fprev) => {
        if (requests.requestState(f) !== RequestState.Follower || requests.leader(f) !== r || requests.followerPrev(f) !== fprev) p.add(`VMO ${v}: follower ${f} of ${r} is inconsistent`);
      });
      if (followers.count >= 0 && requests.followerTail(r) !== followers.last) p.add(`VMO ${v}: follower tail of ${r} is ${requests.followerTail(r)}, last is ${followers.last}`);
      prevEnd = offsetPages + requests.lengthPages(r);
    });
    if ((vmos.flags(v) & VmoFlag.Detached) !== 0 && k.lists.outstanding.first(head) !== -1) p.add(`VMO ${v}: detached with requests outstanding`);
  }
  // Proxy: FIFO entries are leaders of this VMO, the active one is not in the FIFO.
  const active = vmos.pxActive(v);
  const fifo = walkList(p, k.lists.proxyFifo, vmos.pxFifoHeadWord(v), maxThreads, (r) => `VMO ${v}: proxy FIFO broken at ${r}`, (r, prev) => {
    if (requests.inFifo(r) !== 1 || requests.fifoPrev(r) !== prev || requests.requestState(r) !== RequestState.Leader || requests.vmo(r) !== v) p.add(`VMO ${v}: FIFO entry ${r} is not a queued leader of this VMO`);
    if (r === active) p.add(`VMO ${v}: request ${r} is both active and in the FIFO`);
  });
  if (fifo.count >= 0 && vmos.pxFifoTail(v) !== fifo.last) p.add(`VMO ${v}: FIFO tail ${vmos.pxFifoTail(v)} != last entry ${fifo.last}`);
  if (active >= 0 && (requests.requestState(active) !== RequestState.Leader || requests.vmo(active) !== v)) p.add(`VMO ${v}: active request ${active} is not a leader of this VMO`);
  if (active !== PX_NONE && vmos.pxBusy(v) !== 1) p.add(`VMO ${v}: a request is active but the packet is not busy`);
  if (vmos.pxBusy(v) === 0 && fifo.count > 0) p.add(`VMO ${v}: packet idle while ${fifo.count} requests wait in the FIFO`);
}

interface PageCounts {
  committed: number;
  dirty: number;
  markers: number;
  dontNeed: number;
}

/** A leaf slot at `page` of VMO v: counts it, and checks its kind, its frame and the frame's owner. */
function checkLeafSlot(k: KernelState, p: Problems, v: number, page: number, entry: number, counts: PageCounts, frameSeen: Int32Array): void {
  if (isDirtyTracked(entry)) counts.dirty++;
  if ((entry & DONT_NEED_BIT) !== 0) counts.dontNeed++;
  if (page >= k.vmos.sizePages(v)) p.add(`VMO ${v}: slot at page ${page} beyond the size ${k.vmos.sizePages(v)}`);
  if (slotKind(entry) === SlotKind.Marker) {
    counts.markers++;
    if (slotDirtyState(entry) !== DirtyState.Clean) p.add(`VMO ${v}: marker at page ${page} is not Clean`);
  } else if (slotKind(entry) === SlotKind.Page) {
    counts.committed++;
    const f = slotFrame(entry);
    if (f >= k.layout.frameCount) p.add(`VMO ${v}: page ${page} names frame ${f} out of range`);
    else if (frameSeen[f] !== -1) p.add(`frame ${f} is in VMO ${frameSeen[f]} and VMO ${v} (page ${page})`);
    else {
      frameSeen[f] = v;
      const ownerVmo = k.frameTable.ownerVmo(f);
      const ownerPage = k.frameTable.ownerPage(f);
      if (ownerVmo !== v || ownerPage !== page) p.add(`frame ${f} at VMO ${v} page ${page} has owner (${ownerVmo}, ${ownerPage})`);
    }
  } else p.add(`VMO ${v}: slot at page ${page} has kind ${slotKind(entry)}`);
}

/** The radix tree of VMO v: exact summary masks, parent links, slots inside the size, frames owned once. */
function checkPageList(k: KernelState, p: Problems, v: number, frameSeen: Int32Array, usedNode: Uint8Array): PageCounts {
  const nodes = k.nodes;
  const counts: PageCounts = { committed: 0, dirty: 0, markers: 0, dontNeed: 0 };
  const root = k.vmos.rootNode(v);
  if (root === -1) return counts;
  const stack: [number, number, number][] = [[root, k.vmos.treeHeight(v) - 1, 0]]; // node, level, first page
  for (let top = stack.pop(); top !== undefined && !p.full; top = stack.pop()) {
    const [n, level, first] = top;
    if (n < 0 || n >= k.layout.maxNodes || usedNode[n] === 1) {
      p.add(`VMO ${v}: page-list node ${n} out of range or shared`);
      continue;
    }
    usedNode[n] = 1;
    if (nodes.level(n) !== level) p.add(`VMO ${v}: node ${n} has level ${nodes.level(n)}, expected ${level}`);
    let used = 0;
    let dirty = 0;
    const span = NODE_FANOUT ** level;
    for (let i = 0; i < NODE_FANOUT; i++) {
      const entry = nodes.entry(n, i);
      if (level === 0) {
        if (!isPresent(entry)) {
          if (entry !== 0) p.add(`VMO ${v}: empty slot at page ${first + i} has bits ${entry}`);
          continue;
        }
        used |= 1 << i;
        if (isDirtyTracked(entry)) dirty |= 1 << i;
        checkLeafSlot(k, p, v, first + i, entry, counts, frameSeen);
      } else {
        if (entry === 0) continue;
        const child = entry - 1; // an interior entry is child node + 1
        used |= 1 << i;
        if (child >= 0 && child < k.layout.maxNodes) {
          if (nodes.parent(child) !== n || nodes.parentSlot(child) !== i) p.add(`VMO ${v}: node ${child}'s parent link is wrong`);
          if (nodes.childDirty(n, i) !== nodes.maskDirty(child)) p.add(`VMO ${v}: node ${n} keeps a stale dirty mask of child ${i}`);
          if (nodes.maskDirty(child) !== 0) dirty |= 1 << i;
          if (nodes.maskUsed(child) === 0) p.add(`VMO ${v}: empty node ${child} is still linked`);
        }
        stack.push([child, level - 1, first + i * span]);
      }
    }
    if (nodes.maskUsed(n) !== used) p.add(`VMO ${v}: node ${n} used mask ${nodes.maskUsed(n)} != ${used}`);
    if (nodes.maskDirty(n) !== dirty) p.add(`VMO ${v}: node ${n} dirty mask ${nodes.maskDirty(n)} != ${dirty}`);
  }
  return counts;
}

/** Zero intervals: sorted and disjoint, inside the size, no page inside one. */
function checkIntervals(k: KernelState, p: Problems, v: number, usedInterval: Uint8Array): void {
  const intervals = k.intervals;
  const maxIntervals = k.layout.maxIntervals;
  let prevEnd = -1;
  let n = 0;
  for (let z = k.vmos.zeroHead(v); z !== -1; z = intervals.next(z)) {
    if (z < 0 || z >= maxIntervals || usedInterval[z] === 1 || ++n > maxIntervals) {
      p.add(`VMO ${v}: zero-interval list broken at ${z}`);
      return;
    }
    usedInterval[z] = 1;
    const start = intervals.startPages(z);
    const end = intervals.endPages(z);
    if (start >= end) p.add(`VMO ${v}: empty zero interval [${start}, ${end})`);
    if (start < prevEnd) p.add(`VMO ${v}: zero intervals overlap or are unsorted at [${start}, ${end})`);
    if (end > k.vmos.sizePages(v)) p.add(`VMO ${v}: zero interval [${start}, ${end}) beyond the size`);
    // The awaiting-clean length may exceed a truncated interval: it is kept so that END still cleans a
    // regrown tail (Zircon's ClipIntervalEnd), so only its sign is checked.
    const awaiting = intervals.awaitingCleanPages(z);
    if (awaiting < 0) p.add(`VMO ${v}: zero interval [${start}, ${end}) awaits clean of ${awaiting} pages`);
    if (nextPresentPage(k, v, start, end) < end) p.add(`VMO ${v}: a page is present inside zero interval [${start}, ${end})`);
    prevEnd = end;
  }
}
