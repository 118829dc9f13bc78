// Kernel panic: pagersim's fail stop. Zircon cannot lose a thread inside a critical section, but a
// user's worker.terminate() can: the lock that worker held would stay taken forever and every thread
// that later wanted it would hang. Instead the main thread, noticing the death (a Worker 'exit'
// event, core/object/process.ts) of a thread that owns a lock (the owner words beside every lock,
// shared/layout.ts), panics the kernel: it records who died where (H_PANIC_*), then marks every held
// lock PANICKED (shared/futex.ts) and wakes every waiter, so each blocked thread and every later
// syscall throws the same KernelPanic. Threads: raised on the main thread (or by ThreadPool.close),
// observed by any thread. Protected by nothing: H_PANIC is written once with compareExchange.

import { futexWait, futexWake, mutexMarkPanicked } from '../shared/futex.js';
import { H_HANDLE_LOCK, H_HEAP_LOCK, H_PMM_LOCK, H_VMAR_LOCK, HEADER_WORDS, OBJ_WORDS, ObjType, leafLockOwnerWord } from '../shared/layout.js';
import { KernelPanic } from './errors.js';
import type { KernelState } from './kernel_state.js';
import { pokeThread } from './object/handle_table.js';
import { syscallName } from './sys_types.js';

/** header.panic: 0 no panic, PANIC_WRITING while the panicking thread writes panicTid/Syscall/Lock. */
const PANIC_WRITING = 2;
const PANIC_SET = 1;
/** How long a reader of a panic being written sleeps before it looks again. */
const PANIC_WRITING_POLL_MS = 1;

const LEAF_LOCKS: ReadonlyArray<readonly [number, string]> = [
  [H_HANDLE_LOCK, 'H_HANDLE_LOCK'],
  [H_PMM_LOCK, 'H_PMM_LOCK'],
  [H_HEAP_LOCK, 'H_HEAP_LOCK'],
  [H_VMAR_LOCK, 'H_VMAR_LOCK'],
];

const TYPE_NAMES: Readonly<Record<number, string>> = { [ObjType.Vmo]: 'VMO', [ObjType.Port]: 'port', [ObjType.Pager]: 'pager', [ObjType.Process]: 'process' };

/** The word indices of every kernel lock: the leaf locks, then each object's lock. */
export function forEachLockWord(k: KernelState, fn: (lock: number) => void): void {
  for (const [lock] of LEAF_LOCKS) fn(lock);
  for (let obj = 0; obj < k.layout.maxObjects; obj++) fn(k.objects.lockWord(obj));
}

/** The object slot whose lock is word `lock` (an object lock word, not a leaf lock). */
function objectOfLockWord(k: KernelState, lock: number): number {
  return Math.floor((lock - k.objects.lockWord(0)) / OBJ_WORDS);
}

/** The owner recorded for lock word `lock`: thread slot + 1, 0 none. */
export function lockOwnerOf(k: KernelState, lock: number): number {
  return lock < HEADER_WORDS ? Atomics.load(k.w, leafLockOwnerWord(lock)) : k.objects.lockOwner(objectOfLockWord(k, lock));
}

/** Names a lock word for a panic report: a leaf lock's name or "lock of VMO koid N". */
function describeLock(k: KernelState, lock: number): string {
  if (lock < 0) return '';
  if (lock < HEADER_WORDS) return LEAF_LOCKS.find(([l]) => l === lock)?.[1] ?? `header lock ${lock}`;
  const obj = objectOfLockWord(k, lock);
  return `lock of ${TYPE_NAMES[k.objects.type(obj)] ?? 'object'} koid ${k.objects.koid(obj)} (object slot ${obj})`;
}

export function isPanicked(k: KernelState): boolean {
  return k.header.panic() !== 0;
}

/** The KernelPanic this kernel is in (waits out the few stores of a panic being raised). */
export function kernelPanicOf(k: KernelState): KernelPanic {
  const header = k.header;
  while (header.panic() === PANIC_WRITING) futexWait(k.w, header.panicWord(), PANIC_WRITING, PANIC_WRITING_POLL_MS);
  const tid = header.panicTid();
  const syscall = syscallName(header.panicSyscall());
  const lock = describeLock(k, header.panicLock());
  const where = syscall ? ` in ${syscall}` : ' outside any syscall';
  const what = lock ? `died${where} holding the ${lock}` : `was killed but never left the kernel (${syscall || 'no syscall'})`;
  return new KernelPanic(`kernel panic: thread ${tid} ${what}`, tid, syscall, lock);
}

/**
 * Panics the kernel on behalf of dead (or stuck) thread `tid`, which was in syscall id `syscall`
 * (threads.syscall) holding lock word `lock` (-1 none). Idempotent: the first panic is the one reported.
 */
export function raiseKernelPanic(k: KernelState, tid: number, syscall: number, lock: number): KernelPanic {
  const header = k.header;
  if (Atomics.compareExchange(k.w, header.panicWord(), 0, PANIC_WRITING) === 0) {
    header.setPanicTid(tid);
    header.setPanicSyscall(syscall);
    header.setPanicLock(lock);
    header.setPanic(PANIC_SET);
    futexWake(k.w, header.panicWord());
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
  forEachLockWord(k, (lock) => mutexMarkPanicked(k.w, lock));
  for (let slot = 0; slot < k.layout.maxThreads; slot++) {
    if (k.threads.inUse(slot) === 1) pokeThread(k, slot); // a wait that begins after this returns at once
  }
}
