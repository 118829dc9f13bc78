// The process's one handle table, the object table and the thread table (Zircon's Handle,
// Dispatcher lifetime and ThreadDispatcher, reduced to what the pager needs). All three are guarded
// by H_HANDLE_LOCK, a leaf lock: nothing else is taken while it is held. Object lifetime is a
// reference count (O_REFS, Atomics): each handle, each syscall in flight and each internal link holds
// one. Handle count reaching zero runs the object's on_zero_handles; references reaching zero destroy
// it (both hooks live on KernelState, installed by core/object/lifecycle.ts).
// Handles and threads belong to a process (core/object/process.ts): handleProcess / T_PROCESS hold
// its object slot, -1 for the kernel's implicit root process, which never exits.

import {
  H_FREE_HANDLE,
  H_FREE_HANDLE_TAIL,
  H_FREE_OBJECT,
  H_FREE_THREAD,
  H_HANDLE_LOCK,
  H_NEXT_KOID,
  H_NEXT_TID,
  O_HANDLES,
  O_KOID,
  O_LOCK,
  O_LOCK_OWNER,
  OBJ_WORDS,
  O_NEXT_FREE,
  O_REFS,
  O_TYPE,
  ObjType,
  PR_STATE,
  PR_THREADS,
  ProcessState,
  T_JS_THREAD,
  T_PROCESS,
  R_LEADER,
  R_STATE,
  RequestState,
  T_BLOCKED_VMO,
  T_IN_USE,
  T_NEXT_FREE,
  T_STATE,
  T_TID,
  THREAD_WORDS,
} from '../../shared/layout.js';
import { ZX_RIGHT_DUPLICATE, ZX_RIGHT_SAME_RIGHTS, ZX_THREAD_STATE_DEAD, ZX_THREAD_STATE_NEW } from '../../shared/constants.js';
import {
  ZX_ERR_ACCESS_DENIED,
  ZX_ERR_BAD_HANDLE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_INVALID_ARGS,
  ZX_ERR_NO_MEMORY,
  ZX_ERR_NO_RESOURCES,
  ZX_ERR_WRONG_TYPE,
  ZX_OK,
} from '../../shared/status.js';
import type { KernelState } from '../kernel_state.js';

const TID_SLOT_RANGE = 65536;

// ---- Objects ----

/** Allocates an object record of `type` with no references yet; -1 when the table is full. */
export function allocObject(k: KernelState, type: number): number {
  const w = k.w;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = w[H_FREE_OBJECT]!;
  if (slot >= 0) {
    const o = k.obj(slot);
    w[H_FREE_OBJECT] = w[o + O_NEXT_FREE]!;
    // Zero the record but never its lock word: reclaim may be holding a freed record's lock through
    // a try-lock, and resetting it would let two threads in; nor the lock's owner word beside it.
    w.fill(0, o, o + O_LOCK);
    w.fill(0, o + O_LOCK_OWNER + 1, o + OBJ_WORDS);
    w[o + O_TYPE] = type;
    w[o + O_KOID] = w[H_NEXT_KOID]!;
    w[H_NEXT_KOID] = w[H_NEXT_KOID]! + 1;
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return slot;
}

/** Returns a destroyed object's record to the free list. */
export function freeObject(k: KernelState, slot: number): void {
  const w = k.w;
  k.lockLeaf(H_HANDLE_LOCK);
  const o = k.obj(slot);
  w[o + O_TYPE] = ObjType.Free;
  w[o + O_NEXT_FREE] = w[H_FREE_OBJECT]!;
  w[H_FREE_OBJECT] = slot;
  k.unlockLeaf(H_HANDLE_LOCK);
}

export function objectType(k: KernelState, slot: number): number {
  return k.w[k.obj(slot) + O_TYPE]!;
}

export function objectKoid(k: KernelState, slot: number): number {
  return k.w[k.obj(slot) + O_KOID]!;
}

// ---- Handles ----

function encodeHandle(k: KernelState, slot: number, gen: number): number {
  return ((slot + 1) << k.layout.handleSlotShift) | (gen << 2) | 3;
}

/** The handle-table slot a value names, or -1 if it names none (checked under the lock). */
function decodeHandleLocked(k: KernelState, value: number): number {
  if (typeof value !== 'number' || (value | 0) !== value || value <= 0 || (value & 3) !== 3) return -1;
  const L = k.layout;
  const slot = (value >>> L.handleSlotShift) - 1;
  const gen = (value >>> 2) & L.handleGenMask;
  if (slot < 0 || slot >= L.maxHandles) return -1;
  if (k.w[L.handleGen + slot] !== gen || k.w[L.handleObject + slot]! < 0) return -1;
  return slot;
}

/** Creates a handle to `obj` with `rights`, taking a reference. Returns the value or a status. */
export function addHandle(k: KernelState, obj: number, rights: number): number {
  const w = k.w;
  const L = k.layout;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = w[H_FREE_HANDLE]!;
  let value: number = ZX_ERR_NO_RESOURCES;
  if (slot >= 0) {
    const next = w[L.handleNextFree + slot]!;
    w[H_FREE_HANDLE] = next;
    if (next < 0) w[H_FREE_HANDLE_TAIL] = -1;
    w[L.handleObject + slot] = obj;
    w[L.handleRights + slot] = rights;
    w[L.handleProcess + slot] = k.process;
    Atomics.add(w, k.obj(obj) + O_HANDLES, 1);
    Atomics.add(w, k.obj(obj) + O_REFS, 1);
    value = encodeHandle(k, slot, w[L.handleGen + slot]!);
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return value;
}

/**
 * Looks a handle up in Zircon's order: BAD_HANDLE, WRONG_TYPE (type 0 = any), ACCESS_DENIED.
 * On success returns the object slot with a reference the caller must release.
 */
export function lookupHandle(k: KernelState, value: number, type: number, rights: number): number {
  const w = k.w;
  const L = k.layout;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  let result: number;
  if (slot < 0) {
    result = ZX_ERR_BAD_HANDLE;
  } else {
    const obj = w[L.handleObject + slot]!;
    if (type !== 0 && w[k.obj(obj) + O_TYPE] !== type) {
      result = ZX_ERR_WRONG_TYPE;
    } else if ((w[L.handleRights + slot]! & rights) !== rights) {
      result = ZX_ERR_ACCESS_DENIED;
    } else {
      Atomics.add(w, k.obj(obj) + O_REFS, 1);
      result = obj;
    }
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return result;
}

/** The rights of a live handle, or a status. */
export function handleRights(k: KernelState, value: number): number {
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  const rights = slot < 0 ? ZX_ERR_BAD_HANDLE : k.w[k.layout.handleRights + slot]! >>> 0;
  k.unlockLeaf(H_HANDLE_LOCK);
  return rights;
}

/** Removes a handle; the caller then runs on_zero_handles (if it was the last) and drops the ref. */
function takeHandleLocked(k: KernelState, slot: number): { obj: number; lastHandle: boolean } {
  const w = k.w;
  const L = k.layout;
  const obj = w[L.handleObject + slot]!;
  w[L.handleObject + slot] = -1;
  w[L.handleGen + slot] = (w[L.handleGen + slot]! + 1) & L.handleGenMask;
  // FIFO: the slot is reused only after every other free slot, so its generation advances slowly.
  w[L.handleNextFree + slot] = -1;
  const tail = w[H_FREE_HANDLE_TAIL]!;
  if (tail >= 0) w[L.handleNextFree + tail] = slot;
  else w[H_FREE_HANDLE] = slot;
  w[H_FREE_HANDLE_TAIL] = slot;
  const lastHandle = Atomics.sub(w, k.obj(obj) + O_HANDLES, 1) === 1;
  return { obj, lastHandle };
}

function finishClose(k: KernelState, obj: number, lastHandle: boolean): void {
  if (lastHandle) k.onZeroHandles(obj);
  k.release(obj);
}

export function closeHandle(k: KernelState, value: number): number {
  if (value === 0) return ZX_OK; // zx_handle_close(ZX_HANDLE_INVALID) is a no-op
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  if (slot < 0) {
    k.unlockLeaf(H_HANDLE_LOCK);
    return ZX_ERR_BAD_HANDLE;
  }
  const { obj, lastHandle } = takeHandleLocked(k, slot);
  k.unlockLeaf(H_HANDLE_LOCK);
  finishClose(k, obj, lastHandle);
  return ZX_OK;
}

/** New rights for duplicate/replace: SAME_RIGHTS keeps them; others must be a subset. */
function derivedRights(current: number, requested: number): number {
  if ((requested >>> 0) === ZX_RIGHT_SAME_RIGHTS) return current;
  if (((requested >>> 0) & ~current) !== 0) return -1;
  return requested >>> 0;
}

export function duplicateHandle(k: KernelState, value: number, rights: number): number {
  const w = k.w;
  const L = k.layout;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  let obj = -1;
  let newRights = 0;
  let status: number = ZX_OK;
  if (slot < 0) status = ZX_ERR_BAD_HANDLE;
  else if ((w[L.handleRights + slot]! & ZX_RIGHT_DUPLICATE) === 0) status = ZX_ERR_ACCESS_DENIED;
  else {
    newRights = derivedRights(w[L.handleRights + slot]! >>> 0, rights);
    if (newRights < 0) status = ZX_ERR_INVALID_ARGS;
    else {
      obj = w[L.handleObject + slot]!;
      Atomics.add(w, k.obj(obj) + O_REFS, 1); // keeps obj alive until addHandle takes its own
    }
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  if (status !== ZX_OK) return status;
  const dup = addHandle(k, obj, newRights);
  k.release(obj);
  return dup;
}

/** zx_handle_replace: the old handle is consumed whether or not the call succeeds. */
export function replaceHandle(k: KernelState, value: number, rights: number): number {
  const w = k.w;
  const L = k.layout;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  if (slot < 0) {
    k.unlockLeaf(H_HANDLE_LOCK);
    return ZX_ERR_BAD_HANDLE;
  }
  const newRights = derivedRights(w[L.handleRights + slot]! >>> 0, rights);
  if (newRights >= 0) {
    // Swap rights in place and re-issue the value under a new generation: same object, no gap in
    // which the handle count could reach zero.
    w[L.handleRights + slot] = newRights;
    w[L.handleGen + slot] = (w[L.handleGen + slot]! + 1) & L.handleGenMask;
    const value = encodeHandle(k, slot, w[L.handleGen + slot]!);
    k.unlockLeaf(H_HANDLE_LOCK);
    return value;
  }
  const { obj, lastHandle } = takeHandleLocked(k, slot);
  k.unlockLeaf(H_HANDLE_LOCK);
  finishClose(k, obj, lastHandle);
  return ZX_ERR_INVALID_ARGS;
}

// ---- Threads ----

/** Allocates a kernel thread (with its PageRequest); returns its slot or a status. */
export function allocThread(k: KernelState): { slot: number; tid: number } | number {
  const w = k.w;
  k.lockLeaf(H_HANDLE_LOCK);
  if (k.process >= 0 && w[k.obj(k.process) + PR_STATE] === ProcessState.Dead) {
    k.unlockLeaf(H_HANDLE_LOCK);
    return ZX_ERR_BAD_STATE; // a dead process gets no new threads
  }
  const slot = w[H_FREE_THREAD]!;
  let tid = 0;
  if (slot >= 0) {
    const t = k.thr(slot);
    w[H_FREE_THREAD] = w[t + T_NEXT_FREE]!;
    w.fill(0, t, t + THREAD_WORDS);
    const serial = w[H_NEXT_TID]!;
    w[H_NEXT_TID] = (serial + 1) & 0x7fffffff;
    w[t + T_TID] = serial;
    w[t + T_IN_USE] = 1;
    w[t + T_BLOCKED_VMO] = -1;
    w[t + R_STATE] = RequestState.None;
    w[t + R_LEADER] = -1;
    w[t + T_PROCESS] = k.process;
    w[t + T_JS_THREAD] = k.jsThread;
    if (k.process >= 0) {
      const p = k.obj(k.process);
      w[p + PR_THREADS] = w[p + PR_THREADS]! + 1;
      w[p + PR_STATE] = ProcessState.Running;
    }
    Atomics.store(w, t + T_STATE, ZX_THREAD_STATE_NEW);
    tid = serial * TID_SLOT_RANGE + slot;
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return slot >= 0 ? { slot, tid } : ZX_ERR_NO_MEMORY;
}

/**
 * Frees a kernel thread whose request is not outstanding (callers withdraw it first). Returns the
 * slot of its process if this was the process's last thread (the caller runs the process exit,
 * core/object/process.ts), else -1.
 */
export function freeThread(k: KernelState, slot: number): number {
  const w = k.w;
  k.lockLeaf(H_HANDLE_LOCK);
  const t = k.thr(slot);
  Atomics.store(w, t + T_STATE, ZX_THREAD_STATE_DEAD);
  w[t + T_IN_USE] = 0;
  w[t + T_NEXT_FREE] = w[H_FREE_THREAD]!;
  w[H_FREE_THREAD] = slot;
  const process = w[t + T_PROCESS]!;
  let exited = -1;
  if (process >= 0) {
    const p = k.obj(process);
    w[p + PR_THREADS] = w[p + PR_THREADS]! - 1;
    if (w[p + PR_THREADS] === 0 && w[p + PR_STATE] === ProcessState.Running) {
      w[p + PR_STATE] = ProcessState.Dead;
      exited = process;
    }
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return exited;
}

/** The thread id of a live thread slot. */
export function threadTidOf(k: KernelState, slot: number): number {
  return k.w[k.thr(slot) + T_TID]! * TID_SLOT_RANGE + slot;
}

/** Closes every handle process `process` owns (its exit), as if each were zx_handle_close'd. */
export function closeProcessHandles(k: KernelState, process: number): void {
  const w = k.w;
  const L = k.layout;
  const closed: Array<{ obj: number; lastHandle: boolean }> = [];
  k.lockLeaf(H_HANDLE_LOCK);
  for (let slot = 0; slot < L.maxHandles; slot++) {
    if (w[L.handleProcess + slot] === process && w[L.handleObject + slot]! >= 0) closed.push(takeHandleLocked(k, slot));
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  for (const { obj, lastHandle } of closed) finishClose(k, obj, lastHandle);
}

/** Moves a live handle into process `process` (-1: the root process); a status. */
export function transferHandle(k: KernelState, value: number, process: number): number {
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  if (slot >= 0) k.w[k.layout.handleProcess + slot] = process;
  k.unlockLeaf(H_HANDLE_LOCK);
  return slot < 0 ? ZX_ERR_BAD_HANDLE : ZX_OK;
}

/** The slot of a live thread id, or -1 (a finished thread's slot may already serve another). */
export function threadSlotOf(k: KernelState, tid: number): number {
  if (!Number.isInteger(tid) || tid < 0) return -1;
  const slot = tid % TID_SLOT_RANGE;
  const serial = Math.floor(tid / TID_SLOT_RANGE);
  if (slot >= k.layout.maxThreads) return -1;
  const t = k.thr(slot);
  if (Atomics.load(k.w, t + T_IN_USE) !== 1 || k.w[t + T_TID] !== serial) return -1;
  return slot;
}

export function threadState(k: KernelState, tid: number): number {
  const slot = threadSlotOf(k, tid);
  return slot < 0 ? ZX_THREAD_STATE_DEAD : Atomics.load(k.w, k.thr(slot) + T_STATE);
}

