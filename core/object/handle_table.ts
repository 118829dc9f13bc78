// The process's one handle table, the object table and the thread table (Zircon's Handle,
// Dispatcher lifetime and ThreadDispatcher, reduced to what the pager needs). All three are guarded
// by H_HANDLE_LOCK, a leaf lock: nothing else is taken while it is held. Object lifetime is a
// reference count (objects.refs, Atomics): each handle, each syscall in flight and each internal link holds
// one. Handle count reaching zero runs the object's on_zero_handles; references reaching zero destroy
// it (both hooks live on KernelState, installed by core/object/lifecycle.ts).
// Handles and threads belong to a process (core/object/process.ts): handles.process / threads.process hold
// its object slot, -1 for the kernel's implicit root process, which never exits.

import { futexWake } from '../../shared/futex.js';
import { H_HANDLE_LOCK, OBJ_WORDS, ObjType, ProcessState, R_EVENT_POKED, RequestState, THREAD_WORDS } from '../../shared/layout.js';
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

/** A thread id is serial * TID_SLOT_RANGE + slot: the slot is recovered from the id, the serial tells reuses apart. */
const TID_SLOT_RANGE = 65536;
/** Thread serials wrap within a positive Int32 word. */
const TID_SERIAL_MASK = 0x7fff_ffff;
/** The low two bits of every handle value are set (Zircon's handle values are odd and nonzero). */
const HANDLE_TAG_BITS = 2;
const HANDLE_TAG = 0b11;

// ---- Objects ----

/** Allocates an object record of `type` with no references yet; -1 when the table is full. */
export function allocObject(k: KernelState, type: number): number {
  const objects = k.objects;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = k.header.freeObject();
  if (slot >= 0) {
    k.header.setFreeObject(objects.nextFree(slot));
    // Zero the record but never its lock word: reclaim may be holding a freed record's lock through
    // a try-lock, and resetting it would let two threads in; nor the lock's owner word beside it.
    const first = objects.typeWord(slot); // the record's word 0
    k.w.fill(0, first, objects.lockWord(slot));
    k.w.fill(0, objects.lockOwnerWord(slot) + 1, first + OBJ_WORDS);
    objects.setType(slot, type);
    objects.setKoid(slot, k.header.addNextKoid(1));
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return slot;
}

/** Returns a destroyed object's record to the free list. */
export function freeObject(k: KernelState, slot: number): void {
  k.lockLeaf(H_HANDLE_LOCK);
  k.objects.setType(slot, ObjType.Free);
  k.objects.setNextFree(slot, k.header.freeObject());
  k.header.setFreeObject(slot);
  k.unlockLeaf(H_HANDLE_LOCK);
}

export function objectType(k: KernelState, slot: number): number {
  return k.objects.type(slot);
}

export function objectKoid(k: KernelState, slot: number): number {
  return k.objects.koid(slot);
}

// ---- Handles ----

function encodeHandle(k: KernelState, slot: number, gen: number): number {
  return ((slot + 1) << k.layout.handleSlotShift) | (gen << HANDLE_TAG_BITS) | HANDLE_TAG;
}

/** The handle-table slot a value names, or -1 if it names none (checked under the lock). */
function decodeHandleLocked(k: KernelState, value: number): number {
  if (typeof value !== 'number' || (value | 0) !== value || value <= 0 || (value & HANDLE_TAG) !== HANDLE_TAG) return -1;
  const L = k.layout;
  const slot = (value >>> L.handleSlotShift) - 1;
  const gen = (value >>> HANDLE_TAG_BITS) & L.handleGenMask;
  if (slot < 0 || slot >= L.maxHandles) return -1;
  if (k.handles.gen(slot) !== gen || k.handles.object(slot) < 0) return -1;
  return slot;
}

/** Creates a handle to `obj` with `rights`, taking a reference. Returns the value or a status. */
export function addHandle(k: KernelState, obj: number, rights: number): number {
  const handles = k.handles;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = k.header.freeHandle();
  let value: number = ZX_ERR_NO_RESOURCES;
  if (slot >= 0) {
    const next = handles.nextFree(slot);
    k.header.setFreeHandle(next);
    if (next < 0) k.header.setFreeHandleTail(-1);
    handles.setObject(slot, obj);
    handles.setRights(slot, rights);
    handles.setProcess(slot, k.process);
    k.objects.addHandles(obj, 1);
    k.objects.addRefs(obj, 1);
    value = encodeHandle(k, slot, handles.gen(slot));
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return value;
}

/**
 * Looks a handle up in Zircon's order: BAD_HANDLE, WRONG_TYPE (type 0 = any), ACCESS_DENIED.
 * On success returns the object slot with a reference the caller must release.
 */
export function lookupHandle(k: KernelState, value: number, type: number, rights: number): number {
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  let result: number;
  if (slot < 0) {
    result = ZX_ERR_BAD_HANDLE;
  } else {
    const obj = k.handles.object(slot);
    if (type !== 0 && k.objects.type(obj) !== type) {
      result = ZX_ERR_WRONG_TYPE;
    } else if ((k.handles.rights(slot) & rights) !== rights) {
      result = ZX_ERR_ACCESS_DENIED;
    } else {
      k.objects.addRefs(obj, 1);
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
  const rights = slot < 0 ? ZX_ERR_BAD_HANDLE : k.handles.rights(slot) >>> 0;
  k.unlockLeaf(H_HANDLE_LOCK);
  return rights;
}

/** Removes a handle; the caller then runs on_zero_handles (if it was the last) and drops the ref. */
function takeHandleLocked(k: KernelState, slot: number): { obj: number; lastHandle: boolean } {
  const handles = k.handles;
  const obj = handles.object(slot);
  handles.setObject(slot, -1);
  handles.setGen(slot, (handles.gen(slot) + 1) & k.layout.handleGenMask);
  // FIFO: the slot is reused only after every other free slot, so its generation advances slowly.
  handles.setNextFree(slot, -1);
  const tail = k.header.freeHandleTail();
  if (tail >= 0) handles.setNextFree(tail, slot);
  else k.header.setFreeHandle(slot);
  k.header.setFreeHandleTail(slot);
  const lastHandle = k.objects.addHandles(obj, -1) === 1;
  return { obj, lastHandle };
}

function finishClose(k: KernelState, obj: number, lastHandle: boolean): void {
  if (lastHandle) k.onZeroHandles(obj);
  k.release(obj);
}

/** Removes live handle `slot`, drops H_HANDLE_LOCK (held on entry), then runs the close. */
function closeSlotAndUnlock(k: KernelState, slot: number): void {
  const { obj, lastHandle } = takeHandleLocked(k, slot);
  k.unlockLeaf(H_HANDLE_LOCK);
  finishClose(k, obj, lastHandle);
}

export function closeHandle(k: KernelState, value: number): number {
  if (value === 0) return ZX_OK; // zx_handle_close(ZX_HANDLE_INVALID) is a no-op
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  if (slot < 0) {
    k.unlockLeaf(H_HANDLE_LOCK);
    return ZX_ERR_BAD_HANDLE;
  }
  closeSlotAndUnlock(k, slot);
  return ZX_OK;
}

/** New rights for duplicate/replace: SAME_RIGHTS keeps them; others must be a subset. */
function derivedRights(current: number, requested: number): number {
  if ((requested >>> 0) === ZX_RIGHT_SAME_RIGHTS) return current;
  if (((requested >>> 0) & ~current) !== 0) return -1;
  return requested >>> 0;
}

export function duplicateHandle(k: KernelState, value: number, rights: number): number {
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  let obj = -1;
  let newRights = 0;
  let status: number = ZX_OK;
  if (slot < 0) status = ZX_ERR_BAD_HANDLE;
  else if ((k.handles.rights(slot) & ZX_RIGHT_DUPLICATE) === 0) status = ZX_ERR_ACCESS_DENIED;
  else {
    newRights = derivedRights(k.handles.rights(slot) >>> 0, rights);
    if (newRights < 0) status = ZX_ERR_INVALID_ARGS;
    else {
      obj = k.handles.object(slot);
      k.objects.addRefs(obj, 1); // keeps obj alive until addHandle takes its own
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
  const handles = k.handles;
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  const newRights = slot < 0 ? -1 : derivedRights(handles.rights(slot) >>> 0, rights);
  if (newRights >= 0) {
    // Swap rights in place and re-issue the value under a new generation: same object, no gap in
    // which the handle count could reach zero.
    handles.setRights(slot, newRights);
    handles.setGen(slot, (handles.gen(slot) + 1) & k.layout.handleGenMask);
    const replaced = encodeHandle(k, slot, handles.gen(slot));
    k.unlockLeaf(H_HANDLE_LOCK);
    return replaced;
  }
  if (slot < 0) {
    k.unlockLeaf(H_HANDLE_LOCK);
    return ZX_ERR_BAD_HANDLE;
  }
  closeSlotAndUnlock(k, slot);
  return ZX_ERR_INVALID_ARGS;
}

// ---- Threads ----

/** Allocates a kernel thread (with its PageRequest); returns its slot or a status. */
export function allocThread(k: KernelState): { slot: number; tid: number } | number {
  const threads = k.threads;
  k.lockLeaf(H_HANDLE_LOCK);
  if (k.process >= 0 && k.processes.state(k.process) === ProcessState.Dead) {
    k.unlockLeaf(H_HANDLE_LOCK);
    return ZX_ERR_BAD_STATE; // a dead process gets no new threads
  }
  const slot = k.header.freeThread();
  let tid = 0;
  if (slot >= 0) {
    k.header.setFreeThread(threads.nextFree(slot));
    const first = threads.inUseWord(slot); // the record's word 0
    k.w.fill(0, first, first + THREAD_WORDS);
    const serial = k.header.nextTid();
    k.header.setNextTid((serial + 1) & TID_SERIAL_MASK);
    threads.setTid(slot, serial);
    threads.setInUse(slot, 1);
    threads.setBlockedVmo(slot, -1);
    k.requests.setRequestState(slot, RequestState.None);
    k.requests.setLeader(slot, -1);
    threads.setProcess(slot, k.process);
    threads.setJsThread(slot, k.jsThread);
    if (k.process >= 0) {
      k.processes.setThreads(k.process, k.processes.threads(k.process) + 1);
      k.processes.setState(k.process, ProcessState.Running);
    }
    threads.setState(slot, ZX_THREAD_STATE_NEW);
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
  const threads = k.threads;
  k.lockLeaf(H_HANDLE_LOCK);
  threads.setState(slot, ZX_THREAD_STATE_DEAD);
  threads.setInUse(slot, 0);
  threads.setNextFree(slot, k.header.freeThread());
  k.header.setFreeThread(slot);
  const process = threads.process(slot);
  let exited = -1;
  if (process >= 0) {
    const left = k.processes.threads(process) - 1;
    k.processes.setThreads(process, left);
    if (left === 0 && k.processes.state(process) === ProcessState.Running) {
      k.processes.setState(process, ProcessState.Dead);
      exited = process;
    }
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  return exited;
}

/** The thread id of a live thread slot. */
export function threadTidOf(k: KernelState, slot: number): number {
  return k.threads.tid(slot) * TID_SLOT_RANGE + slot;
}

/** Closes every handle process `process` owns (its exit), as if each were zx_handle_close'd. */
export function closeProcessHandles(k: KernelState, process: number): void {
  const handles = k.handles;
  const closed: Array<{ obj: number; lastHandle: boolean }> = [];
  k.lockLeaf(H_HANDLE_LOCK);
  for (let slot = 0; slot < k.layout.maxHandles; slot++) {
    if (handles.process(slot) === process && handles.object(slot) >= 0) closed.push(takeHandleLocked(k, slot));
  }
  k.unlockLeaf(H_HANDLE_LOCK);
  for (const { obj, lastHandle } of closed) finishClose(k, obj, lastHandle);
}

/** Moves a live handle into process `process` (-1: the root process); a status. */
export function transferHandle(k: KernelState, value: number, process: number): number {
  k.lockLeaf(H_HANDLE_LOCK);
  const slot = decodeHandleLocked(k, value);
  if (slot >= 0) k.handles.setProcess(slot, process);
  k.unlockLeaf(H_HANDLE_LOCK);
  return slot < 0 ? ZX_ERR_BAD_HANDLE : ZX_OK;
}

/** The slot of a live thread id, or -1 (a finished thread's slot may already serve another). */
export function threadSlotOf(k: KernelState, tid: number): number {
  if (!Number.isInteger(tid) || tid < 0) return -1;
  const slot = tid % TID_SLOT_RANGE;
  const serial = Math.floor(tid / TID_SLOT_RANGE);
  if (slot >= k.layout.maxThreads) return -1;
  if (k.threads.inUse(slot) !== 1 || k.threads.tid(slot) !== serial) return -1;
  return slot;
}

/**
 * Wakes thread `slot` wherever it parks in the kernel: its request event (poked, never over a signal,
 * so a wait that has not begun yet returns at once), its suspension, and the futex word it waits on
 * (a port's). The woken thread re-checks its kill, suspend and panic flags.
 */
export function pokeThread(k: KernelState, slot: number): void {
  const event = k.requests.eventWord(slot);
  Atomics.compareExchange(k.w, event, 0, R_EVENT_POKED);
  futexWake(k.w, event);
  futexWake(k.w, k.threads.suspendWord(slot));
  const word = k.threads.waitWord(slot);
  if (word > 0) futexWake(k.w, word);
}

export function threadState(k: KernelState, tid: number): number {
  const slot = threadSlotOf(k, tid);
  return slot < 0 ? ZX_THREAD_STATE_DEAD : k.threads.state(slot);
}
