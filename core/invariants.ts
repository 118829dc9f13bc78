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
import {
  E_KIND,
  E_NEXT,
  E_NEXT_FREE,
  E_PORT,
  E_PREV,
  E_QUEUED,
  E_VMO,
  H_DONT_NEED_PAGES,
  H_FREE_FRAMES,
  H_FREE_HANDLE,
  H_FREE_INTERVAL,
  H_FREE_MAPPING,
  H_FREE_NODE,
  H_FREE_OBJECT,
  H_FREE_PORT_PACKET,
  H_FREE_THREAD,
  H_HANDLE_LOCK,
  H_HEAP_LOCK,
  H_PMM_LOCK,
  H_VMAR_LOCK,
  INTERVAL_WORDS,
  MAPPING_WORDS,
  NODE_WORDS,
  OBJ_WORDS,
  PACKET_WORDS,
  THREAD_WORDS,
  H_PANIC,
  O_LOCK_OWNER,
  PR_THREADS,
  PT_SEQ,
  T_PROCESS,
  T_WAIT_WORD,
  V_RECORD_REFS,
  leafLockOwnerWord,
  M_BASE_PAGE,
  M_IN_USE,
  M_NEXT_FREE,
  M_PAGES,
  M_VMO,
  M_VMO_PAGE,
  N_CHILD_DIRTY,
  N_LEVEL,
  N_MASK_DIRTY,
  N_MASK_USED,
  N_NEXT_FREE,
  N_PARENT,
  N_PARENT_SLOT,
  NODE_FANOUT,
  O_HANDLES,
  O_LOCK,
  O_NEXT_FREE,
  O_REFS,
  O_TYPE,
  ObjType,
  PacketKind,
  PageRequestType,
  PT_HEAD,
  PT_TAIL,
  PT_USER_COUNT,
  PX_ACTIVE,
  PX_BUSY,
  PX_FIFO_HEAD,
  PX_FIFO_TAIL,
  PX_PACKET,
  R_FIFO_NEXT,
  R_FIFO_PREV,
  R_FOL_HEAD,
  R_FOL_NEXT,
  R_FOL_PREV,
  R_FOL_TAIL,
  R_IN_FIFO,
  R_LEADER,
  R_LEN,
  R_OFFSET,
  R_OUT_NEXT,
  R_OUT_PREV,
  R_PENDING,
  R_STATE,
  R_TYPE,
  R_VMO,
  RequestState,
  T_BLOCKED_VMO,
  T_IN_USE,
  T_NEXT_FREE,
  T_STATE,
  V_COMMITTED_PAGES,
  V_FLAGS,
  V_MAP_COUNT,
  V_OUT_DIRTY,
  V_OUT_READ,
  V_PAGER,
  V_PORT,
  V_ROOT_NODE,
  V_SIZE_PAGES,
  V_TREE_HEIGHT,
  V_ZERO_HEAD,
  VmoFlag,
  Z_AWAITING_CLEAN,
  Z_END,
  Z_NEXT,
  Z_NEXT_FREE,
  Z_START,
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
 * Walks a free list threaded through `nextField` of records `stride` words apart, from header word
 * `head`; marks each member in `free` and reports cycles and out-of-range links. Returns the count.
 */
function walkFreeList(w: Int32Array, p: Problems, what: string, head: number, base: number, stride: number, nextField: number, capacity: number, free: Uint8Array): number {
  let n = 0;
  for (let i = w[head]!; i !== -1; i = w[base + i * stride + nextField]!) {
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
 * Returns every inconsistency found in the kernel's shared tables (empty when all hold). See the module
 * header for when it may be called.
 */
export function checkInvariants(k: KernelState): string[] {
  const p = new Problems();
  const w = k.w;
  const L = k.layout;

  // ---- Locks: nobody may be inside the kernel. ----
  for (const [name, word] of [
    ['H_HANDLE_LOCK', H_HANDLE_LOCK],
    ['H_PMM_LOCK', H_PMM_LOCK],
    ['H_HEAP_LOCK', H_HEAP_LOCK],
    ['H_VMAR_LOCK', H_VMAR_LOCK],
  ] as const) {
    if (Atomics.load(w, word) !== 0) p.add(`${name} is held`);
    if (w[leafLockOwnerWord(word)] !== 0) p.add(`${name}'s owner word names thread slot ${w[leafLockOwnerWord(word)]! - 1}`);
  }
  if (Atomics.load(w, H_PANIC) !== 0) p.add('the kernel panicked');

  // ---- Objects: free list vs types. ----
  const freeObj = new Uint8Array(L.maxObjects);
  const nFreeObj = walkFreeList(w, p, 'object', H_FREE_OBJECT, L.objects, OBJ_WORDS, O_NEXT_FREE, L.maxObjects, freeObj);
  let nLiveObj = 0;
  const expectedRefs = new Int32Array(L.maxObjects);
  const allowedExtra = new Int32Array(L.maxObjects);
  // A VMO's record (V_RECORD_REFS) is held by the live VMO and by its queued packet; a thread waiting
  // on the VMO holds either a VMO reference (vmo_read) or a record reference (a fault).
  const expectedRecordRefs = new Int32Array(L.maxObjects);
  const processThreads = new Int32Array(L.maxObjects);
  const handles = new Int32Array(L.maxObjects);
  for (let v = 0; v < L.maxObjects; v++) {
    const o = k.obj(v);
    const type = w[o + O_TYPE]!;
    if (freeObj[v] === 1) {
      if (type !== ObjType.Free) p.add(`object ${v} is on the free list with type ${type}`);
      continue;
    }
    if (type === ObjType.Free) {
      p.add(`object ${v} is free but not on the free list`);
      continue;
    }
    nLiveObj++;
    if (Atomics.load(w, o + O_LOCK) !== 0) p.add(`object ${v} (type ${type}) lock is held`);
    if (w[o + O_LOCK_OWNER] !== 0) p.add(`object ${v} (type ${type}) lock's owner word names thread slot ${w[o + O_LOCK_OWNER]! - 1}`);
  }
  if (nFreeObj + nLiveObj !== L.maxObjects && !p.full) p.add(`objects: ${nFreeObj} free + ${nLiveObj} live != ${L.maxObjects}`);
  const live = (v: number): boolean => v >= 0 && v < L.maxObjects && freeObj[v] === 0 && w[k.obj(v) + O_TYPE] !== ObjType.Free;
  const isType = (v: number, type: number): boolean => live(v) && w[k.obj(v) + O_TYPE] === type;

  // ---- Handles: each names a live object; counts match O_HANDLES. ----
  const freeHandle = new Uint8Array(L.maxHandles);
  const nFreeH = walkFreeList(w, p, 'handle', H_FREE_HANDLE, L.handleNextFree, 1, 0, L.maxHandles, freeHandle);
  let nLiveH = 0;
  for (let h = 0; h < L.maxHandles; h++) {
    const obj = w[L.handleObject + h]!;
    if (freeHandle[h] === 1) {
      if (obj !== -1) p.add(`handle slot ${h} is on the free list but names object ${obj}`);
      continue;
    }
    if (obj === -1) {
      p.add(`handle slot ${h} is empty but not on the free list`);
      continue;
    }
    nLiveH++;
    const owner = w[L.handleProcess + h]!;
    if (owner !== -1 && !isType(owner, ObjType.Process)) p.add(`handle slot ${h} belongs to dead process ${owner}`);
    if (!live(obj)) p.add(`handle slot ${h} names dead object ${obj}`);
    else {
      handles[obj]!++;
      expectedRefs[obj]!++;
    }
  }
  if (nFreeH + nLiveH !== L.maxHandles && !p.full) p.add(`handles: ${nFreeH} free + ${nLiveH} live != ${L.maxHandles}`);

  // ---- Threads: free list, and the requests of live threads. ----
  const freeThr = new Uint8Array(L.maxThreads);
  walkFreeList(w, p, 'thread', H_FREE_THREAD, L.threads, THREAD_WORDS, T_NEXT_FREE, L.maxThreads, freeThr);
  for (let t = 0; t < L.maxThreads; t++) {
    const tr = k.thr(t);
    const inUse = w[tr + T_IN_USE] === 1;
    if (freeThr[t] === 1 && inUse) p.add(`thread ${t} is on the free list but in use`);
    if (freeThr[t] === 0 && !inUse) p.add(`thread ${t} is neither free nor in use`);
    const role = w[tr + R_STATE]!;
    if (!inUse) {
      if (role !== RequestState.None) p.add(`free thread ${t} still has a ${role === RequestState.Leader ? 'leader' : 'follower'} request linked`);
      continue;
    }
    const state = Atomics.load(w, tr + T_STATE);
    const blockedOn = w[tr + T_BLOCKED_VMO]!;
    const proc = w[tr + T_PROCESS]!;
    if (proc !== -1) {
      if (!isType(proc, ObjType.Process)) p.add(`thread ${t} belongs to dead process ${proc}`);
      else processThreads[proc]!++;
    }
    const waitWord = w[tr + T_WAIT_WORD]!;
    if (waitWord > 0) {
      // Parked in a port wait: that syscall holds a reference on the port.
      const port = Math.floor((waitWord - PT_SEQ - L.objects) / (OBJ_WORDS));
      if (isType(port, ObjType.Port) && k.obj(port) + PT_SEQ === waitWord) allowedExtra[port]!++;
    }
    if (state === ZX_THREAD_STATE_BLOCKED_PAGER || state === ZX_THREAD_STATE_SUSPENDED) {
      if (live(blockedOn)) allowedExtra[blockedOn]!++; // the syscall in flight holds a reference
    }
    if (role === RequestState.None) continue;
    const vmo = w[tr + R_VMO]!;
    if (!isType(vmo, ObjType.Vmo)) {
      p.add(`thread ${t}'s request names dead VMO ${vmo}`);
      continue;
    }
    if (w[tr + R_LEN]! <= 0) p.add(`thread ${t}'s request has length ${w[tr + R_LEN]}`);
    if (role === RequestState.Follower) {
      const leader = w[tr + R_LEADER]!;
      if (leader < 0 || leader >= L.maxThreads || w[k.thr(leader) + R_STATE] !== RequestState.Leader) {
        p.add(`follower ${t} has no leader (${leader})`);
        continue;
      }
      const lt = k.thr(leader);
      if (w[lt + R_VMO] !== vmo || w[lt + R_TYPE] !== w[tr + R_TYPE]) p.add(`follower ${t} and its leader ${leader} differ in VMO or type`);
      const off = w[tr + R_OFFSET]!;
      if (off < w[lt + R_OFFSET]! || off >= w[lt + R_OFFSET]! + w[lt + R_LEN]!) p.add(`follower ${t} starts outside its leader ${leader}`);
      let found = false;
      for (let f = w[lt + R_FOL_HEAD]!, n = 0; f >= 0 && n <= L.maxThreads; f = w[k.thr(f) + R_FOL_NEXT]!, n++) if (f === t) found = true;
      if (!found) p.add(`follower ${t} is not in leader ${leader}'s follower list`);
    } else if (role === RequestState.Leader) {
      const pending = w[tr + R_PENDING]!;
      if (pending <= 0 || pending > w[tr + R_LEN]!) p.add(`leader ${t} has pending ${pending} of ${w[tr + R_LEN]}`);
    } else {
      p.add(`thread ${t} has request state ${role}`);
    }
  }

  // ---- Mappings: each holds a VMO reference; no two overlap. ----
  const freeMap = new Uint8Array(L.maxMappings);
  walkFreeList(w, p, 'mapping', H_FREE_MAPPING, L.mappings, MAPPING_WORDS, M_NEXT_FREE, L.maxMappings, freeMap);
  const mapCount = new Int32Array(L.maxObjects);
  const ranges: [number, number, number][] = [];
  for (let m = 0; m < L.maxMappings; m++) {
    const r = k.map(m);
    const inUse = w[r + M_IN_USE] === 1;
    if (freeMap[m] === 1) {
      if (inUse) p.add(`mapping ${m} is on the free list but in use`);
      continue;
    }
    if (!inUse) {
      p.add(`mapping ${m} is neither free nor in use`);
      continue;
    }
    const vmo = w[r + M_VMO]!;
    if (!isType(vmo, ObjType.Vmo)) p.add(`mapping ${m} names dead VMO ${vmo}`);
    else {
      mapCount[vmo]!++;
      expectedRefs[vmo]!++;
    }
    if (w[r + M_PAGES]! <= 0 || w[r + M_VMO_PAGE]! < 0) p.add(`mapping ${m} has ${w[r + M_PAGES]} pages at VMO page ${w[r + M_VMO_PAGE]}`);
    ranges.push([w[r + M_BASE_PAGE]!, w[r + M_BASE_PAGE]! + w[r + M_PAGES]!, m]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1]) p.add(`mappings ${ranges[i - 1]![2]} and ${ranges[i]![2]} overlap in the address space`);
  }

  // ---- Port packets: free list; queued packets per port. ----
  const freePkt = new Uint8Array(L.maxPortPackets);
  const nFreePkt = walkFreeList(w, p, 'port packet', H_FREE_PORT_PACKET, L.packets, PACKET_WORDS, E_NEXT_FREE, L.maxPortPackets, freePkt);
  let nUsedPkt = 0;
  const queuedPkt = new Uint8Array(L.maxPortPackets);
  for (let e = 0; e < L.maxPortPackets; e++) {
    const kind = w[k.pkt(e) + E_KIND]!;
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
    const o = k.obj(v);
    switch (w[o + O_TYPE]) {
      case ObjType.Port: {
        let n = 0;
        let users = 0;
        let prev = -1;
        for (let e = w[o + PT_HEAD]!; e !== -1; e = w[k.pkt(e) + E_NEXT]!) {
          if (e < 0 || e >= L.maxPortPackets || queuedPkt[e] === 1 || ++n > L.maxPortPackets) {
            p.add(`port ${v}: queue is broken at packet ${e}`);
            break;
          }
          queuedPkt[e] = 1;
          const pe = k.pkt(e);
          if (w[pe + E_QUEUED] !== 1 || w[pe + E_PORT] !== v || w[pe + E_PREV] !== prev) p.add(`port ${v}: packet ${e} links or flags are wrong`);
          if (w[pe + E_KIND] === PacketKind.User) users++;
          else if (w[pe + E_KIND] === PacketKind.Pager) {
            const vmo = w[pe + E_VMO]!;
            if (!isType(vmo, ObjType.Vmo) || w[k.obj(vmo) + PX_PACKET] !== e) p.add(`port ${v}: pager packet ${e} is not its VMO's (${vmo})`);
            else {
              expectedRecordRefs[vmo]!++; // a queued packet holds its VMO's record
              if (w[k.obj(vmo) + PX_BUSY] !== 1 || w[k.obj(vmo) + PX_ACTIVE] === -1) p.add(`VMO ${vmo}: packet queued but the proxy is not busy with a request`);
            }
          } else p.add(`port ${v}: free packet ${e} is queued`);
          prev = e;
        }
        if (w[o + PT_TAIL] !== prev) p.add(`port ${v}: tail ${w[o + PT_TAIL]} != last packet ${prev}`);
        if (users !== w[o + PT_USER_COUNT]) p.add(`port ${v}: ${users} user packets queued, count says ${w[o + PT_USER_COUNT]}`);
        userQueued += users;
        break;
      }
      case ObjType.Vmo: {
        const pager = w[o + V_PAGER]!;
        const port = w[o + V_PORT]!;
        const pagerBacked = (w[o + V_FLAGS]! & VmoFlag.PagerBacked) !== 0;
        if (pager >= 0) {
          if (!isType(pager, ObjType.Pager)) p.add(`VMO ${v} names dead pager ${pager}`);
          else expectedRefs[pager]!++;
        }
        if (port >= 0) {
          if (!isType(port, ObjType.Port)) p.add(`VMO ${v} names dead port ${port}`);
          else expectedRefs[port]!++;
        }
        if (pagerBacked) {
          pagerPackets++;
          const e = w[o + PX_PACKET]!;
          if (e < 0 || e >= L.maxPortPackets || w[k.pkt(e) + E_KIND] !== PacketKind.Pager || w[k.pkt(e) + E_VMO] !== v) p.add(`VMO ${v}: its packet ${e} is not a pager packet of it`);
        }
        if (mapCount[v] !== Atomics.load(w, o + V_MAP_COUNT)) p.add(`VMO ${v}: ${mapCount[v]} mappings, V_MAP_COUNT ${w[o + V_MAP_COUNT]}`);
        checkRequestsOfVmo(k, p, v);
        const pages = checkPageList(k, p, v, frameSeen, usedNode);
        if (pages.committed !== w[o + V_COMMITTED_PAGES]) p.add(`VMO ${v}: ${pages.committed} pages present, V_COMMITTED_PAGES ${w[o + V_COMMITTED_PAGES]}`);
        if (!pagerBacked && (pages.dirty > 0 || pages.markers > 0)) p.add(`anonymous VMO ${v} has ${pages.dirty} dirty pages and ${pages.markers} markers`);
        committedTotal += pages.committed;
        dontNeedSlots += pages.dontNeed;
        checkIntervals(k, p, v, usedInterval);
        break;
      }
    }
  }
  for (let e = 0; e < L.maxPortPackets; e++) {
    if (w[k.pkt(e) + E_QUEUED] === 1 && queuedPkt[e] === 0 && freePkt[e] === 0) p.add(`packet ${e} is marked queued but is in no port's queue`);
  }
  if (nFreePkt + nUsedPkt !== L.maxPortPackets) p.add(`packets: ${nFreePkt} free + ${nUsedPkt} used != ${L.maxPortPackets}`);
  if (nUsedPkt !== pagerPackets + userQueued) p.add(`packets: ${nUsedPkt} in use, but ${pagerPackets} pager VMOs and ${userQueued} queued user packets`);

  // ---- References and handle counts. ----
  for (let v = 0; v < L.maxObjects; v++) {
    if (!live(v)) continue;
    const o = k.obj(v);
    const type = w[o + O_TYPE]!;
    const refs = Atomics.load(w, o + O_REFS);
    if (Atomics.load(w, o + O_HANDLES) !== handles[v]) p.add(`object ${v}: ${handles[v]} handles in the table, O_HANDLES ${w[o + O_HANDLES]}`);
    if (type === ObjType.Process) {
      if (processThreads[v] !== w[o + PR_THREADS]) p.add(`process ${v}: ${processThreads[v]} threads, PR_THREADS ${w[o + PR_THREADS]}`);
      if (refs < 1) p.add(`process ${v} is live with no reference`);
      continue;
    }
    if (refs < expectedRefs[v]! || refs > expectedRefs[v]! + allowedExtra[v]!) {
      p.add(`object ${v} (type ${type}): ${refs} references, expected ${expectedRefs[v]}${allowedExtra[v] ? ` to ${expectedRefs[v]! + allowedExtra[v]!}` : ''}`);
    }
    if (type === ObjType.Vmo) {
      const records = Atomics.load(w, o + V_RECORD_REFS);
      const expected = expectedRecordRefs[v]! + (refs > 0 ? 1 : 0);
      if (records < expected || records > expected + allowedExtra[v]!) p.add(`VMO ${v}: ${records} record references, expected ${expected}${allowedExtra[v] ? ` to ${expected + allowedExtra[v]!}` : ''}`);
      if (refs === 0 && (w[o + V_COMMITTED_PAGES] !== 0 || w[o + V_ROOT_NODE] !== -1)) p.add(`dead VMO ${v} still holds pages`);
    } else if (refs === 0) p.add(`object ${v} is live with no reference`);
  }

  // ---- Frames: every frame is free xor owned by exactly one slot. ----
  const freeFrames = Atomics.load(w, H_FREE_FRAMES);
  const onStack = new Uint8Array(L.frameCount);
  for (let i = 0; i < freeFrames; i++) {
    const f = w[L.freeFrames + i]!;
    if (f < 0 || f >= L.frameCount || onStack[f] === 1) {
      p.add(`free-frame stack entry ${i} is ${f} (out of range or twice)`);
      continue;
    }
    onStack[f] = 1;
    if (w[L.frameOwnerVmo + f] !== -1) p.add(`free frame ${f} has owner ${w[L.frameOwnerVmo + f]}`);
    if (frameSeen[f] !== -1) p.add(`free frame ${f} is also in VMO ${frameSeen[f]}'s page list`);
  }
  if (freeFrames + committedTotal !== L.frameCount) p.add(`frames: ${freeFrames} free + ${committedTotal} committed != ${L.frameCount} (a frame leaked or is counted twice)`);

  // ---- Heap free lists against what the page lists and intervals use. ----
  const freeNode = new Uint8Array(L.maxNodes);
  const nFreeNodes = walkFreeList(w, p, 'page-list node', H_FREE_NODE, L.nodes, NODE_WORDS, N_NEXT_FREE, L.maxNodes, freeNode);
  let nUsedNodes = 0;
  for (let n = 0; n < L.maxNodes; n++) {
    if (usedNode[n] === 1) {
      nUsedNodes++;
      if (freeNode[n] === 1) p.add(`page-list node ${n} is in a tree and on the free list`);
    }
  }
  if (nFreeNodes + nUsedNodes !== L.maxNodes && !p.full) p.add(`page-list nodes: ${nFreeNodes} free + ${nUsedNodes} in trees != ${L.maxNodes} (leaked)`);
  const freeZ = new Uint8Array(L.maxIntervals);
  const nFreeZ = walkFreeList(w, p, 'zero interval', H_FREE_INTERVAL, L.intervals, INTERVAL_WORDS, Z_NEXT_FREE, L.maxIntervals, freeZ);
  let nUsedZ = 0;
  for (let z = 0; z < L.maxIntervals; z++) {
    if (usedInterval[z] === 1) {
      nUsedZ++;
      if (freeZ[z] === 1) p.add(`zero interval ${z} is in a VMO's list and on the free list`);
    }
  }
  if (nFreeZ + nUsedZ !== L.maxIntervals && !p.full) p.add(`zero intervals: ${nFreeZ} free + ${nUsedZ} in lists != ${L.maxIntervals} (leaked)`);

  // The DONT_NEED counter may run ahead of the hinted pages (reclaim then scans for nothing), never behind.
  if (Atomics.load(w, H_DONT_NEED_PAGES) < dontNeedSlots) p.add(`H_DONT_NEED_PAGES ${w[H_DONT_NEED_PAGES]} < ${dontNeedSlots} hinted pages`);
  return p.list;
}

/** Outstanding leaders (sorted by end, disjoint, each a live leader of this VMO), followers and the proxy FIFO. */
function checkRequestsOfVmo(k: KernelState, p: Problems, v: number): void {
  const w = k.w;
  const o = k.obj(v);
  const L = k.layout;
  for (const [head, type] of [
    [V_OUT_READ, PageRequestType.Read],
    [V_OUT_DIRTY, PageRequestType.Dirty],
  ] as const) {
    let prev = -1;
    let prevEnd = -1;
    let n = 0;
    for (let r = w[o + head]!; r !== -1; r = w[k.thr(r) + R_OUT_NEXT]!) {
      if (r < 0 || r >= L.maxThreads || ++n > L.maxThreads) {
        p.add(`VMO ${v}: outstanding list broken at ${r}`);
        break;
      }
      const t = k.thr(r);
      if (w[t + T_IN_USE] !== 1) p.add(`VMO ${v}: outstanding request of dead thread slot ${r}`);
      if (w[t + R_STATE] !== RequestState.Leader || w[t + R_VMO] !== v || w[t + R_TYPE] !== type) p.add(`VMO ${v}: outstanding entry ${r} is not a ${type === 0 ? 'READ' : 'DIRTY'} leader of this VMO`);
      if (w[t + R_OUT_PREV] !== prev) p.add(`VMO ${v}: outstanding entry ${r} has a wrong back link`);
      const off = w[t + R_OFFSET]!;
      const end = off + w[t + R_LEN]!;
      if (off < prevEnd) p.add(`VMO ${v}: outstanding requests overlap or are unsorted at ${r}`);
      let fprev = -1;
      let fn = 0;
      for (let f = w[t + R_FOL_HEAD]!; f !== -1; f = w[k.thr(f) + R_FOL_NEXT]!) {
        if (f < 0 || f >= L.maxThreads || ++fn > L.maxThreads) {
          p.add(`VMO ${v}: follower list of ${r} broken`);
          break;
        }
        const ft = k.thr(f);
        if (w[ft + R_STATE] !== RequestState.Follower || w[ft + R_LEADER] !== r || w[ft + R_FOL_PREV] !== fprev) p.add(`VMO ${v}: follower ${f} of ${r} is inconsistent`);
        fprev = f;
      }
      if (w[t + R_FOL_TAIL] !== fprev) p.add(`VMO ${v}: follower tail of ${r} is ${w[t + R_FOL_TAIL]}, last is ${fprev}`);
      prev = r;
      prevEnd = end;
    }
    if ((w[o + V_FLAGS]! & VmoFlag.Detached) !== 0 && w[o + head] !== -1) p.add(`VMO ${v}: detached with requests outstanding`);
  }
  // Proxy: FIFO entries are leaders of this VMO, the active one is not in the FIFO.
  let prev = -1;
  let n = 0;
  const active = w[o + PX_ACTIVE]!;
  for (let r = w[o + PX_FIFO_HEAD]!; r !== -1; r = w[k.thr(r) + R_FIFO_NEXT]!) {
    if (r < 0 || r >= L.maxThreads || ++n > L.maxThreads) {
      p.add(`VMO ${v}: proxy FIFO broken at ${r}`);
      break;
    }
    const t = k.thr(r);
    if (w[t + R_IN_FIFO] !== 1 || w[t + R_FIFO_PREV] !== prev || w[t + R_STATE] !== RequestState.Leader || w[t + R_VMO] !== v) p.add(`VMO ${v}: FIFO entry ${r} is not a queued leader of this VMO`);
    if (r === active) p.add(`VMO ${v}: request ${r} is both active and in the FIFO`);
    prev = r;
  }
  if (w[o + PX_FIFO_TAIL] !== prev) p.add(`VMO ${v}: FIFO tail ${w[o + PX_FIFO_TAIL]} != last entry ${prev}`);
  if (active >= 0 && (w[k.thr(active) + R_STATE] !== RequestState.Leader || w[k.thr(active) + R_VMO] !== v)) p.add(`VMO ${v}: active request ${active} is not a leader of this VMO`);
  if (active !== -1 && w[o + PX_BUSY] !== 1) p.add(`VMO ${v}: a request is active but the packet is not busy`);
  if (w[o + PX_BUSY] === 0 && n > 0) p.add(`VMO ${v}: packet idle while ${n} requests wait in the FIFO`);
}

interface PageCounts {
  committed: number;
  dirty: number;
  markers: number;
  dontNeed: number;
}

/** The radix tree of VMO v: exact summary masks, parent links, slots inside the size, frames owned once. */
function checkPageList(k: KernelState, p: Problems, v: number, frameSeen: Int32Array, usedNode: Uint8Array): PageCounts {
  const w = k.w;
  const o = k.obj(v);
  const L = k.layout;
  const counts: PageCounts = { committed: 0, dirty: 0, markers: 0, dontNeed: 0 };
  const root = w[o + V_ROOT_NODE]!;
  if (root === -1) return counts;
  const height = w[o + V_TREE_HEIGHT]!;
  const size = w[o + V_SIZE_PAGES]!;
  const stack: [number, number, number][] = [[root, height - 1, 0]]; // node, level, first page
  while (stack.length > 0 && !p.full) {
    const [n, level, first] = stack.pop()!;
    if (n < 0 || n >= L.maxNodes || usedNode[n] === 1) {
      p.add(`VMO ${v}: page-list node ${n} out of range or shared`);
      continue;
    }
    usedNode[n] = 1;
    const b = k.node(n);
    if (w[b + N_LEVEL] !== level) p.add(`VMO ${v}: node ${n} has level ${w[b + N_LEVEL]}, expected ${level}`);
    let used = 0;
    let dirty = 0;
    const span = NODE_FANOUT ** level;
    for (let i = 0; i < NODE_FANOUT; i++) {
      const entry = w[b + i]!;
      if (level === 0) {
        if (!isPresent(entry)) {
          if (entry !== 0) p.add(`VMO ${v}: empty slot at page ${first + i} has bits ${entry}`);
          continue;
        }
        const page = first + i;
        used |= 1 << i;
        if (isDirtyTracked(entry)) {
          dirty |= 1 << i;
          counts.dirty++;
        }
        if ((entry & DONT_NEED_BIT) !== 0) counts.dontNeed++;
        if (page >= size) p.add(`VMO ${v}: slot at page ${page} beyond the size ${size}`);
        if (slotKind(entry) === SlotKind.Marker) {
          counts.markers++;
          if (slotDirtyState(entry) !== DirtyState.Clean) p.add(`VMO ${v}: marker at page ${page} is not Clean`);
        } else if (slotKind(entry) === SlotKind.Page) {
          counts.committed++;
          const f = slotFrame(entry);
          if (f >= L.frameCount) p.add(`VMO ${v}: page ${page} names frame ${f} out of range`);
          else if (frameSeen[f] !== -1) p.add(`frame ${f} is in VMO ${frameSeen[f]} and VMO ${v} (page ${page})`);
          else {
            frameSeen[f] = v;
            if (w[L.frameOwnerVmo + f] !== v || w[L.frameOwnerPage + f] !== page) p.add(`frame ${f} at VMO ${v} page ${page} has owner (${w[L.frameOwnerVmo + f]}, ${w[L.frameOwnerPage + f]})`);
          }
        } else p.add(`VMO ${v}: slot at page ${page} has kind ${slotKind(entry)}`);
      } else {
        if (entry === 0) continue;
        const child = entry - 1;
        used |= 1 << i;
        if (child >= 0 && child < L.maxNodes) {
          const cb = k.node(child);
          if (w[cb + N_PARENT] !== n || w[cb + N_PARENT_SLOT] !== i) p.add(`VMO ${v}: node ${child}'s parent link is wrong`);
          if (w[b + N_CHILD_DIRTY + i] !== w[cb + N_MASK_DIRTY]) p.add(`VMO ${v}: node ${n} keeps a stale dirty mask of child ${i}`);
          if (w[cb + N_MASK_DIRTY] !== 0) dirty |= 1 << i;
          if (w[cb + N_MASK_USED] === 0) p.add(`VMO ${v}: empty node ${child} is still linked`);
        }
        stack.push([child, level - 1, first + i * span]);
      }
    }
    if (w[b + N_MASK_USED] !== used) p.add(`VMO ${v}: node ${n} used mask ${w[b + N_MASK_USED]} != ${used}`);
    if (w[b + N_MASK_DIRTY] !== dirty) p.add(`VMO ${v}: node ${n} dirty mask ${w[b + N_MASK_DIRTY]} != ${dirty}`);
  }
  return counts;
}

/** Zero intervals: sorted and disjoint, inside the size, no page inside one. */
function checkIntervals(k: KernelState, p: Problems, v: number, usedInterval: Uint8Array): void {
  const w = k.w;
  const o = k.obj(v);
  const L = k.layout;
  let prevEnd = -1;
  let n = 0;
  for (let z = w[o + V_ZERO_HEAD]!; z !== -1; z = w[k.zint(z) + Z_NEXT]!) {
    if (z < 0 || z >= L.maxIntervals || usedInterval[z] === 1 || ++n > L.maxIntervals) {
      p.add(`VMO ${v}: zero-interval list broken at ${z}`);
      return;
    }
    usedInterval[z] = 1;
    const zi = k.zint(z);
    const start = w[zi + Z_START]!;
    const end = w[zi + Z_END]!;
    if (start >= end) p.add(`VMO ${v}: empty zero interval [${start}, ${end})`);
    if (start < prevEnd) p.add(`VMO ${v}: zero intervals overlap or are unsorted at [${start}, ${end})`);
    if (end > w[o + V_SIZE_PAGES]!) p.add(`VMO ${v}: zero interval [${start}, ${end}) beyond the size`);
    // The awaiting-clean length may exceed a truncated interval: it is kept so that END still cleans a
    // regrown tail (Zircon's ClipIntervalEnd), so only its sign is checked.
    const awaiting = w[zi + Z_AWAITING_CLEAN]!;
    if (awaiting < 0) p.add(`VMO ${v}: zero interval [${start}, ${end}) awaits clean of ${awaiting} pages`);
    if (nextPresentPage(k, v, start, end) < end) p.add(`VMO ${v}: a page is present inside zero interval [${start}, ${end})`);
    prevEnd = end;
  }
}
