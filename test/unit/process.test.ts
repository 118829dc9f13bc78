// Unit tests of core/object/process.ts, calling its functions directly on an in-process kernel: a
// process's thread count, its death when its last thread goes (its handles close), kill of a process
// with and without threads, tokens, and the reap of a thread that died holding a lock (a panic).

import t from 'tap';
import type { Test } from 'tap';
import { Kernel, KernelPanic, PAGE_SIZE, ZxError, type Process } from '../../core/index.js';
import type { KernelState } from '../../core/kernel_state.js';
import { allocThread, freeThread, lookupHandle, threadTidOf } from '../../core/object/handle_table.js';
import { exitThread, processExit, processFromToken, reapDeadThread, threadInKernel } from '../../core/object/process.js';
import { H_HEAP_LOCK, ProcessState, R_EVENT_POKED } from '../../shared/layout.js';
import { ZX_ERR_BAD_HANDLE, ZX_ERR_BAD_STATE } from '../../shared/status.js';

function setUp(): { kernel: Kernel; k: KernelState; proc: Process } {
  const kernel = Kernel.create({ physicalMemory: 16 * PAGE_SIZE, maxThreads: 8, maxHandles: 16, maxObjects: 16 });
  return { kernel, k: kernel.state, proc: kernel.processCreate() };
}

/** A kernel thread of process `proc`, allocated as a thread attached to it would be. */
function threadOf(k: KernelState, proc: Process): number {
  const saved = k.process;
  k.process = proc.slot;
  const thread = allocThread(k);
  k.process = saved;
  if (typeof thread === 'number') throw new Error(`allocThread: ${thread}`);
  return thread.slot;
}

/** A VMO handle created by the root process, then moved into `proc`. */
function handleOf(kernel: Kernel, proc: Process): number {
  const h = kernel.sys.vmoCreate(PAGE_SIZE, 0);
  proc.transferHandle(h);
  return h;
}

function isLive(t: Test, k: KernelState, handle: number): boolean {
  const obj = lookupHandle(k, handle, 0, 0);
  if (obj < 0) return false;
  k.release(obj);
  t.pass(`handle ${handle} is live`);
  return true;
}

t.test('a process counts its threads and dies with its last one, closing its handles', (t) => {
  const { kernel, k, proc } = setUp();
  const h = handleOf(kernel, proc);
  t.notOk(proc.started, 'not started before its first thread');
  const a = threadOf(k, proc);
  const b = threadOf(k, proc);
  t.equal(k.processes.threads(proc.slot), 2, 'two threads');
  t.ok(proc.started, 'started');
  t.equal(freeThread(k, a), -1, 'the first thread to go is not the last');
  t.equal(k.processes.threads(proc.slot), 1, 'one thread');
  t.notOk(proc.exited, 'still alive');
  t.ok(isLive(t, k, h), 'its handle still works');
  t.equal(freeThread(k, b), proc.slot, 'the last thread reports its process');
  t.equal(k.processes.state(proc.slot), ProcessState.Dead, 'which is dead');
  t.ok(proc.exited, 'exited');
  processExit(k, proc.slot);
  t.equal(lookupHandle(k, h, 0, 0), ZX_ERR_BAD_HANDLE, 'its handle closed');
  t.same(kernel.checkInvariants(), [], 'invariants hold');
  t.end();
});

t.test('kill of a process with no thread: it dies at once, its handles close, it takes nothing new', (t) => {
  const { kernel, k, proc } = setUp();
  const token = proc.token;
  t.equal(processFromToken(k, token), proc.slot, 'a live token');
  t.equal(processFromToken(k, { slot: token.slot, koid: token.koid + 1 }), ZX_ERR_BAD_HANDLE, 'a wrong koid');
  t.equal(processFromToken(k, { slot: k.layout.maxObjects, koid: token.koid }), ZX_ERR_BAD_HANDLE, 'a slot out of range');
  const h = handleOf(kernel, proc);
  k.addRef(proc.slot); // keep the record past the death, to read it
  proc.kill();
  t.ok(proc.exited, 'a process with no thread dies at once');
  t.equal(lookupHandle(k, h, 0, 0), ZX_ERR_BAD_HANDLE, 'its handle closed');
  t.equal(processFromToken(k, token), ZX_ERR_BAD_STATE, 'its token is refused');
  k.process = proc.slot;
  t.equal(allocThread(k), ZX_ERR_BAD_STATE, 'no thread for a dead process');
  k.process = -1;
  const other = kernel.sys.vmoCreate(PAGE_SIZE, 0);
  let status = 0;
  try {
    proc.transferHandle(other);
  } catch (err) {
    status = err instanceof ZxError ? err.status : 0;
  }
  t.equal(status, ZX_ERR_BAD_STATE, 'a dead process takes no handle');
  t.ok(isLive(t, k, other), 'which stays where it was');
  k.release(proc.slot);
  t.same(kernel.checkInvariants(), [], 'invariants hold');
  t.end();
});

t.test('kill of a process with a thread flags and pokes it; the process dies when it exits', (t) => {
  const { kernel, k, proc } = setUp();
  const h = handleOf(kernel, proc);
  const slot = threadOf(k, proc);
  proc.kill();
  t.equal(k.threads.killed(slot), 1, 'the thread is flagged killed');
  t.equal(k.requests.event(slot), R_EVENT_POKED, 'its request event is poked, so a wait about to begin returns');
  t.notOk(threadInKernel(k, slot), 'it is not inside a syscall');
  t.notOk(proc.exited, 'the process lives until its thread exits');
  t.ok(isLive(t, k, h), 'and so does its handle');
  exitThread(k, slot);
  t.ok(proc.exited, 'the thread exited: the process died');
  t.equal(lookupHandle(k, h, 0, 0), ZX_ERR_BAD_HANDLE, 'and its handle closed');
  t.same(kernel.checkInvariants(), [], 'invariants hold');
  t.end();
});

t.test('reaping a thread that died holding a lock panics the kernel, naming thread and lock', (t) => {
  const { k, proc } = setUp();
  const slot = threadOf(k, proc);
  const actor = k.actor;
  k.actor = slot; // act as the thread: take a leaf lock and "die" with it
  k.lockLeaf(H_HEAP_LOCK);
  k.actor = actor;
  const panic = reapDeadThread(k, slot);
  t.ok(panic instanceof KernelPanic, 'a KernelPanic');
  t.equal(panic?.lock, 'H_HEAP_LOCK', 'naming the lock');
  t.equal(panic?.tid, threadTidOf(k, slot), 'and the thread');
  t.equal(reapDeadThread(k, slot)?.message, panic?.message, 'a later reap reports the same panic');
  t.end();
});

t.test('reaping a thread that held no lock frees it and runs its process exit', (t) => {
  const { kernel, k, proc } = setUp();
  const slot = threadOf(k, proc);
  t.equal(reapDeadThread(k, slot), null, 'no panic');
  t.equal(k.threads.inUse(slot), 0, 'the thread is freed');
  t.ok(proc.exited, 'its process died with it');
  t.same(kernel.checkInvariants(), [], 'invariants hold');
  t.end();
});
