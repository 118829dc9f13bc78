// Kernel panic: pagersim's fail stop. Zircon cannot lose a thread inside a critical section, but a
// user's worker.terminate() can: the lock that worker held would stay taken forever and every thread
// that later wanted it would hang. Instead the main thread, noticing the death (a Worker 'exit'
// event, core/object/process.ts) of a thread that owns a lock (the owner words beside every lock,
// shared/layout.ts), panics the kernel: it records who died where (H_PANIC_*), then marks every held
// lock PANICKED (shared/futex.ts) and wakes every waiter, so each blocked thread and every later
// syscall throws the same KernelPanic. Threads: raised on the main thread (or by ThreadPool.close),
// observed by any thread. Protected by nothing: H_PANIC is written once with compareExchange.

import { mutexMarkPanicked } from '../shared/futex.js';
import {
  H_HANDLE_LOCK,
  H_HEAP_LOCK,
  H_PANIC,
  H_PANIC_LOCK,
  H_PANIC_SYSCALL,
  H_PANIC_TID,
  H_PMM_LOCK,
  H_VMAR_LOCK,
  HEADER_WORDS,
  O_KOID,
  O_LOCK,
  O_TYPE,
  OBJ_WORDS,
  ObjType,
  R_EVENT,
  R_EVENT_POKED,
  T_IN_USE,
  T_SUSPEND,
  T_WAIT_WORD,
} from '../shared/layout.js';
import { KernelPanic } from './errors.js';
import type { KernelState } from './kernel_state.js';
import { syscallName } from './sys_types.js';

const PANIC_WRITING = 2;
const PANIC_SET = 1;

const LEAF_LOCKS: ReadonlyArray<readonly [number, string]> = [
  [H_HANDLE_LOCK, 'H_HANDLE_LOCK'],
  [H_PMM_LOCK, 'H_PMM_LOCK'],
  [H_HEAP_LOCK, 'H_HEAP_LOCK'],
  [H_VMAR_LOCK, 'H_VMAR_LOCK'],
];

const TYPE_NAMES: Readonly<Record<number, string>> = { [ObjType.Vmo]: 'VMO', [ObjType.Port]: 'port', [ObjType.Pager]: 'pager', [ObjType.Process]: 'process' };

/** The word indices of every kernel lock: the leaf locks, then each object's O_LOCK. */
export function forEachLockWord(k: KernelState, fn: (lock: number) => void): void {
  for (const [lock] of LEAF_LOCKS) fn(lock);
  for (let obj = 0; obj < k.layout.maxObjects; obj++) fn(k.obj(obj) + O_LOCK);
}

/** Names a lock word for a panic report: a leaf lock's name or "lock of VMO koid N". */
export function describeLock(k: KernelState, lock: number): string {
  if (lock < 0) return '';
  if (lock < HEADER_WORDS) return LEAF_LOCKS.find(([l]) => l === lock)?.[1] ?? `header lock ${lock}`;
  const obj = Math.floor((lock - k.layout.objects) / OBJ_WORDS);
  const o = k.obj(obj);
  return `lock of ${TYPE_NAMES[k.w[o + O_TYPE]!] ?? 'object'} koid ${k.w[o + O_KOID]!} (object slot ${obj})`;
}

export function isPanicked(k: KernelState): boolean {
  return Atomics.load(k.w, H_PANIC) !== 0;
}

/** The KernelPanic this kernel is in (waits out the few stores of a panic being raised). */
export function kernelPanicOf(k: KernelState): KernelPanic {
  const w = k.w;
  while (Atomics.load(w, H_PANIC) === PANIC_WRITING) Atomics.wait(w, H_PANIC, PANIC_WRITING, 1);
  const tid = w[H_PANIC_TID]!;
  const syscall = syscallName(w[H_PANIC_SYSCALL]!);
  const lock = describeLock(k, w[H_PANIC_LOCK]!);
  const where = syscall ? ` in ${syscall}` : ' outside any syscall';
  const what = lock ? `died${where} holding the ${lock}` : `was killed but never left the kernel (${syscall || 'no syscall'})`;
  return new KernelPanic(`kernel panic: thread ${tid} ${what}`, tid, syscall, lock);
}

/**
 * Panics the kernel on behalf of dead (or stuck) thread `tid`, which was in syscall id `syscall`
 * (T_SYSCALL) holding lock word `lock` (-1 none). Idempotent: the first panic is the one reported.
 */
export function raiseKernelPanic(k: KernelState, tid: number, syscall: number, lock: number): KernelPanic {
  const w = k.w;
  if (Atomics.compareExchange(w, H_PANIC, 0, PANIC_WRITING) === 0) {
    w[H_PANIC_TID] = tid;
    w[H_PANIC_SYSCALL] = syscall;
    w[H_PANIC_LOCK] = lock;
    Atomics.store(w, H_PANIC, PANIC_SET);
    Atomics.notify(w, H_PANIC);
  }
  sweepLocksAfterPanic(k);
  return kernelPanicOf(k);
}

/**
 * Marks every held kernel lock PANICKED and wakes every parked thread, so that whoever waits on a lock
 * (even one a thread that saw the panic will now never release) or on a page request or a port
 * returns and throws the KernelPanic. Run by the panicking thread and again by every thread that
 * meets the panic inside the kernel (it may have taken a lock after the first sweep).
 */
export function sweepLocksAfterPanic(k: KernelState): void {
  const w = k.w;
  forEachLockWord(k, (lock) => mutexMarkPanicked(w, lock));
  for (let slot = 0; slot < k.layout.maxThreads; slot++) {
    const t = k.thr(slot);
    if (Atomics.load(w, t + T_IN_USE) !== 1) continue;
    Atomics.compareExchange(w, t + R_EVENT, 0, R_EVENT_POKED); // a wait that begins after this returns at once
    Atomics.notify(w, t + R_EVENT);
    Atomics.notify(w, t + T_SUSPEND);
    const word = Atomics.load(w, t + T_WAIT_WORD);
    if (word > 0) Atomics.notify(w, word);
  }
}
