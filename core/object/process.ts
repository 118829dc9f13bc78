// ProcessDispatcher and the thread-death half of ThreadDispatcher (zircon kernel/object/
// process_dispatcher.cc, thread_dispatcher.cc), reduced to what thread and worker death need.
//
// Processes. Every kernel thread and every handle belongs to a process: threads.process and the handle
// table's handleProcess hold its object slot, or -1 for the kernel's implicit root process, which
// never exits (every thread not attached to a process - the main thread, ThreadPool threads, a
// worker's plain Kernel.attach(share).sys - lives in it, so single-process programs are unchanged).
// A process made with kernel.processCreate() runs once its first thread exists; when its last
// thread exits it dies and its handles close, exactly as if each were zx_handle_close'd: a dead
// pager's pager handle closes and its faulting threads wake with ZX_ERR_BAD_STATE.
//
//   main:   const proc = kernel.processCreate();
//           proc.transferHandle(pager);                  // the pager handle now belongs to proc
//           const worker = new Worker(url, { workerData: { share, process: proc.token } });
//           kernel.watchWorker(worker);                  // the main thread runs its death
//   worker: const sys = Kernel.attach(share, { process: token }).sys;
//
// Thread death. A thread is killed only at a syscall boundary, as in Zircon: killThread() sets
// threads.killed and wakes whatever the thread parks on; a blocked wait withdraws its request and returns
// ZX_ERR_INTERNAL_INTR_KILLED, the syscall unwinds, and the syscall gate (core/syscall_gate.ts)
// throws ThreadKilled at kernel exit (or at the next entry, for a thread in user code). A worker that
// dies without unwinding (terminate(), a crash) runs no code at all, so the main thread reaps its
// kernel threads when it notices (reapDeadThread, from the Worker 'exit' event or a ThreadPool
// task's rejection): if the thread owned a kernel lock (the owner words, shared/layout.ts) the
// kernel panics (core/panic.ts) naming thread, syscall and lock; otherwise its request is withdrawn,
// the reference its blocked wait held is dropped, and its slot freed - never before the withdrawal.
// Limits: a worker terminated in the few instructions between a lock's acquire and its owner store
// (or between the owner clear and the release) leaves the lock held but unattributed; one terminated
// inside a syscall outside any wait leaks the references that syscall held (objects stay allocated).
//
// Threads: the kill and reap run on the main thread; the process exit runs wherever the last thread
// is freed. Protected by H_HANDLE_LOCK (processes.threads, processes.state, thread slots) and the VMO lock (the
// request). The Process object holds one reference, dropped when the process dies.

import { mutexIsHeld } from '../../shared/futex.js';
import { H_HANDLE_LOCK, OBJ_WORDS, ObjType, ProcessState } from '../../shared/layout.js';
import { ZX_ERR_BAD_HANDLE, ZX_ERR_BAD_STATE, ZX_OK } from '../../shared/status.js';
import type { KernelPanic } from '../errors.js';
import { ZxError } from '../errors.js';
import type { KernelState } from '../kernel_state.js';
import { forEachLockWord, isPanicked, kernelPanicOf, lockOwnerOf, raiseKernelPanic } from '../panic.js';
import { cancelRequestLocked, isRequestInitialized } from '../vm/page_source.js';
import { allocObject, closeProcessHandles, freeThread, objectKoid, pokeThread, threadTidOf, transferHandle } from './handle_table.js';

export { pokeThread };

/** What a worker needs to attach to a process (postMessage-safe): Kernel.attach(share, { process }). */
export interface ProcessToken {
  readonly slot: number;
  readonly koid: number;
}

/** Creates a process with no threads yet; -1 when the object table is full. */
export function processCreate(k: KernelState): number {
  const p = allocObject(k, ObjType.Process);
  if (p < 0) return -1;
  k.addRef(p); // the process's own reference, dropped at its death
  return p;
}

/** The slot a token names if it is a live (not yet dead) process, else a status. */
export function processFromToken(k: KernelState, token: ProcessToken): number {
  const { slot, koid } = token;
  if (!Number.isInteger(slot) || slot < 0 || slot >= k.layout.maxObjects) return ZX_ERR_BAD_HANDLE;
  if (k.objects.type(slot) !== ObjType.Process || objectKoid(k, slot) !== koid) return ZX_ERR_BAD_HANDLE;
  return k.processes.state(slot) === ProcessState.Dead ? ZX_ERR_BAD_STATE : slot;
}

/** The process dies: its handles close and its own reference goes. */
export function processExit(k: KernelState, process: number): void {
  closeProcessHandles(k, process);
  k.release(process);
}

/**
 * zx_task_kill of a thread: sets its kill flag and wakes it wherever it parks in the kernel (its
 * request event - poked, so a wait that has not begun yet returns at once - its suspension, or the
 * port it waits on). Callers re-poke (pokeThread) until it ends: a port wait checks the flag before
 * parking, but a notify can still fall just between the two.
 */
export function killThread(k: KernelState, slot: number): void {
  k.threads.setKilled(slot, 1);
  pokeThread(k, slot);
}

/** True while the thread runs inside a syscall (the gate's threads.syscall). */
export function threadInKernel(k: KernelState, slot: number): boolean {
  return k.threads.syscall(slot) !== 0;
}

/**
 * A thread that ended by itself (it left the kernel): withdraws any request it still has, frees
 * it, and runs its process's exit if it was the last thread.
 */
export function exitThread(k: KernelState, slot: number): void {
  if (isRequestInitialized(k, slot)) {
    const vmo = k.requests.vmo(slot);
    k.lockObject(vmo);
    cancelRequestLocked(k, slot);
    k.unlockObject(vmo);
  }
  const exited = freeThread(k, slot);
  if (exited >= 0) processExit(k, exited);
}

/** A kernel lock dead thread `slot` holds, or -1. */
function lockHeldBy(k: KernelState, slot: number): number {
  let held = -1;
  forEachLockWord(k, (lock) => {
    if (held < 0 && lockOwnerOf(k, lock) === slot + 1 && mutexIsHeld(k.w, lock)) held = lock;
  });
  return held;
}

/**
 * Reaps a kernel thread whose JS thread died without unwinding (terminated, crashed). Returns the
 * KernelPanic if it died holding a kernel lock (or the kernel had already panicked: then nothing
 * is touched), else null after freeing it. Main thread only.
 */
export function reapDeadThread(k: KernelState, slot: number): KernelPanic | null {
  if (isPanicked(k)) return kernelPanicOf(k);
  const lock = lockHeldBy(k, slot);
  if (lock >= 0) return raiseKernelPanic(k, threadTidOf(k, slot), k.threads.syscall(slot), lock);
  // The reference its blocked syscall held on the VMO or port it waited for: it will never drop it.
  let waitRef = k.threads.blockedVmo(slot);
  const word = k.threads.waitWord(slot);
  if (waitRef < 0 && word > 0) waitRef = (word - k.ports.seqWord(0)) / OBJ_WORDS; // the port whose seq word it is
  exitThread(k, slot);
  if (waitRef >= 0) k.release(waitRef);
  return null;
}

/** Reaps every kernel thread JS thread `jsThread` (a worker's threadId, never 0) ran. */
export function reapJsThread(k: KernelState, jsThread: number): KernelPanic | null {
  let panic: KernelPanic | null = null;
  for (let slot = 0; slot < k.layout.maxThreads && jsThread !== 0; slot++) {
    if (k.threads.inUse(slot) === 1 && k.threads.jsThread(slot) === jsThread) panic = reapDeadThread(k, slot) ?? panic;
  }
  return panic;
}

/**
 * A process (ProcessDispatcher) seen from the thread that created it. Its threads are the kernel
 * threads of workers attached with Kernel.attach(share, { process: proc.token }).
 */
export class Process {
  readonly #k: KernelState;
  readonly slot: number;
  readonly koid: number;

  constructor(k: KernelState, slot: number) {
    this.#k = k;
    this.slot = slot;
    this.koid = objectKoid(k, slot);
  }

  /** Pass it to the worker: Kernel.attach(share, { process: token }). */
  get token(): ProcessToken {
    return { slot: this.slot, koid: this.koid };
  }

  /**
   * Moves a handle into this process, as zx_process_start's bootstrap handle or a channel write
   * would: its value stays valid in every thread, but it now closes when this process dies.
   */
  transferHandle(handle: number): void {
    if (this.exited) throw new ZxError(ZX_ERR_BAD_STATE, 'zx_process_start', 'the process is dead');
    const status = transferHandle(this.#k, handle, this.slot);
    if (status !== ZX_OK) throw new ZxError(status, 'zx_process_start');
  }

  /** True once the process's first thread exists (it ran); stays true after it died. */
  get started(): boolean {
    return this.#k.processes.state(this.slot) !== ProcessState.Initial;
  }

  /** True once the process died (its last thread exited, or kill() of a process that never ran). */
  get exited(): boolean {
    return this.#k.processes.state(this.slot) === ProcessState.Dead;
  }

  /** zx_task_kill of the process: kills its threads; a process with no thread dies at once. */
  kill(): void {
    const k = this.#k;
    const processes = k.processes;
    k.lockLeaf(H_HANDLE_LOCK);
    let dieNow = false;
    if (processes.state(this.slot) !== ProcessState.Dead && processes.threads(this.slot) === 0) {
      processes.setState(this.slot, ProcessState.Dead);
      dieNow = true;
    }
    k.unlockLeaf(H_HANDLE_LOCK);
    if (dieNow) processExit(k, this.slot);
    for (let slot = 0; slot < k.layout.maxThreads; slot++) {
      if (k.threads.inUse(slot) === 1 && k.threads.process(slot) === this.slot) killThread(k, slot);
    }
  }
}
