// Regression tests for thread, pool, process and worker death (the defects 1 and 2): a
// thread dies only at a syscall boundary, ThreadPool.close never terminates a worker inside the
// kernel nor frees a thread slot whose request is still linked, a dead pager's process closes its
// handles, a dead worker's kernel thread is freed, and a worker killed inside a critical section
// panics the kernel instead of hanging it. Every wait has a deadline; no assertion depends on timing.

import t from 'tap';
import { Worker } from 'node:worker_threads';
import {
  Kernel,
  KernelPanic,
  PAGE_SIZE,
  ThreadKilled,
  ThreadPool,
  ZxError,
  ZX_ERR_BAD_HANDLE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_IO,
  ZX_ERR_TIMED_OUT,
  ZX_INFO_VMO,
  ZX_PAGER_OP_FAIL,
  ZX_THREAD_STATE_BLOCKED_PAGER,
  ZX_THREAD_STATE_BLOCKED_PORT,
  ZX_THREAD_STATE_DEAD,
  type SimThread,
} from '../../core/index.js';
import { forEachLockWord } from '../../core/panic.js';
import { withTimeout } from '../helpers/test_thread.js';
import type { DeathWorkerData } from '../fixtures/death_worker.js';

const DEADLINE_MS = 20_000;
const THREADS_URL = new URL('../fixtures/death_threads.js', import.meta.url).href;
const WORKER_URL = new URL('../fixtures/death_worker.js', import.meta.url);

/** What fn throws (undefined if it returns). */
function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The thread's outcome within the deadline: its value, its error, or 'hung'. */
async function outcomeOf(thread: SimThread): Promise<unknown> {
  return withTimeout(
    thread.join().then(
      (v) => ({ value: v }),
      (e: unknown) => e,
    ),
    DEADLINE_MS,
    'hung',
  );
}

function startReader(pool: ThreadPool, vmo: number, page: number): SimThread {
  return pool.spawn('vmoRead', { vmo, offset: page * PAGE_SIZE, length: PAGE_SIZE });
}

async function allBlocked(threads: SimThread[]): Promise<boolean> {
  for (const th of threads) if (!(await th.waitForState(ZX_THREAD_STATE_BLOCKED_PAGER, { timeoutMs: DEADLINE_MS }))) return false;
  return true;
}

/** Every kernel lock word (leaf locks and object locks) is free. */
function heldLocks(kernel: Kernel): number {
  let held = 0;
  forEachLockWord(kernel.state, (lock) => {
    if (Atomics.load(kernel.state.w, lock) !== 0) held++;
  });
  return held;
}

function pagerSetup(kernel: Kernel, pages: number): { pager: number; port: number; vmo: number } {
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmo = sys.pagerCreateVmo(pager, 0, port, 1n, pages * PAGE_SIZE);
  return { pager, port, vmo };
}

/** Waits until the worker's kernel thread is parked in zx_port_wait (idle: it holds no lock). */
async function idleInPortWait(kernel: Kernel, tid: number): Promise<boolean> {
  const deadline = Date.now() + DEADLINE_MS;
  while (kernel.threadState(tid) !== ZX_THREAD_STATE_BLOCKED_PORT) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

function startWorker(data: DeathWorkerData): { worker: Worker; ready: Promise<{ tid: number }> } {
  const worker = new Worker(WORKER_URL, { workerData: data, execArgv: [] });
  const ready = new Promise<{ tid: number }>((resolve, reject) => {
    worker.once('message', (m: { tid: number }) => resolve(m));
    worker.once('error', reject);
  });
  return { worker, ready };
}

t.test('ThreadPool.close withdraws blocked requests before freeing slots; new threads on another VMO are not woken by a FAIL of the first', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: 8 });
  const sys = kernel.sys;
  const a = pagerSetup(kernel, 4);
  const b = sys.pagerCreateVmo(a.pager, 0, a.port, 2n, 4 * PAGE_SIZE);
  const first = new ThreadPool(kernel, { maxThreads: 3 });
  const second = new ThreadPool(kernel, { maxThreads: 3 });
  t.teardown(async () => {
    await first.close().catch(() => {});
    await second.close().catch(() => {});
  });
  const onA = [0, 1, 2].map((p) => startReader(first, a.vmo, p));
  t.ok(await allBlocked(onA), 'three readers block on VMO A');
  const outstandingOnA = kernel.debugOutstandingRequests(); // leaders, plus those queued in the proxy FIFO
  t.ok(outstandingOnA >= 3, 'the readers\' requests are outstanding on A');
  await withTimeout(first.close(), DEADLINE_MS, 'hung');
  t.equal(kernel.debugOutstandingRequests(), 0, 'close withdrew every request before freeing the slots');
  for (const th of onA) t.ok((await outcomeOf(th)) instanceof ThreadKilled, 'a closed pool reports its threads killed');

  const onB = [0, 1, 2].map((p) => startReader(second, b, p)); // reuses the freed slots
  t.ok(await allBlocked(onB), 'three readers on VMO B block (slots reused)');
  t.equal(kernel.debugOutstandingRequests(), outstandingOnA, 'only B\'s requests are outstanding');
  sys.pagerOpRange(a.pager, ZX_PAGER_OP_FAIL, a.vmo, 0, 4 * PAGE_SIZE, ZX_ERR_IO);
  t.equal(kernel.debugOutstandingRequests(), outstandingOnA, 'a FAIL on A resolves nothing of B');
  const aux = sys.vmoCreate(4 * PAGE_SIZE, 0);
  sys.vmoWrite(aux, new Uint8Array(4 * PAGE_SIZE).fill(7), 0);
  sys.pagerSupplyPages(a.pager, b, 0, 4 * PAGE_SIZE, aux, 0);
  for (const th of onB) {
    const o = (await outcomeOf(th)) as { value?: Uint8Array };
    t.ok(o.value instanceof Uint8Array && o.value.every((x) => x === 7), 'each B reader gets B\'s supplied content, not A\'s FAIL');
  }
  t.equal(heldLocks(kernel), 0, 'no lock is left held');
});

t.test('ThreadPool.close while threads are inside syscalls never leaves a lock held (20 runs)', async (t) => {
  for (let run = 0; run < 20; run++) {
    const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: 8 });
    const vmo = kernel.sys.vmoCreate(4 * PAGE_SIZE, 0);
    const pool = new ThreadPool(kernel, { maxThreads: 4 });
    const counter = new SharedArrayBuffer(8);
    const threads = [0, 1, 2, 3].map(() => pool.spawn({ module: THREADS_URL, export: 'syscallLoop' }, { vmo, counter }));
    const c = new Int32Array(counter);
    const deadline = Date.now() + DEADLINE_MS;
    while (Atomics.load(c, 0) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const closed = await withTimeout(
      pool.close().then(
        () => 'ok',
        (e: unknown) => e,
      ),
      DEADLINE_MS,
      'hung',
    );
    if (closed !== 'ok') t.fail(`run ${run}: close ended with ${String(closed)}`);
    for (const th of threads) {
      const o = await outcomeOf(th);
      if (!(o instanceof ThreadKilled)) t.fail(`run ${run}: a thread ended with ${String(o)}, not ThreadKilled`);
      if (kernel.threadState(th.tid) !== ZX_THREAD_STATE_DEAD) t.fail(`run ${run}: a thread is not dead`);
    }
    const held = heldLocks(kernel);
    if (held !== 0) t.fail(`run ${run}: ${held} kernel locks held after close`);
    kernel.sys.vmoRead(vmo, new Uint8Array(16), 0); // the kernel still works
    kernel.close();
  }
  t.pass('20 closes, no lock held, every thread killed');
});

t.test('kill() of a blocked thread withdraws its request and join reports ThreadKilled', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: 8 });
  const sys = kernel.sys;
  const { port, vmo } = pagerSetup(kernel, 2);
  const pool = new ThreadPool(kernel, { maxThreads: 2 });
  t.teardown(() => pool.close().catch(() => {}));
  const reader = startReader(pool, vmo, 0);
  t.ok(await allBlocked([reader]), 'the reader blocks');
  t.equal(kernel.debugOutstandingRequests(), 1, 'one outstanding request');
  const withdrawnBefore = kernel.stats().withdrawn;
  reader.kill();
  const o = await outcomeOf(reader);
  t.ok(o instanceof ThreadKilled && o.syscall === 'zx_vmo_read', `join reports ThreadKilled in zx_vmo_read (${String(o)})`);
  t.equal(kernel.debugOutstandingRequests(), 0, 'the request was withdrawn');
  t.equal(kernel.stats().withdrawn, withdrawnBefore + 1, 'its unread packet was withdrawn');
  const empty = caught(() => sys.portWait(port, 0n));
  t.ok(empty instanceof ZxError && empty.status === ZX_ERR_TIMED_OUT, 'no packet is left in the port');
  t.equal(kernel.threadState(reader.tid), ZX_THREAD_STATE_DEAD, 'the thread is dead');

  // A thread in user code is killed at its next syscall entry.
  const counter = new SharedArrayBuffer(8);
  const spinner = pool.spawn({ module: THREADS_URL, export: 'userSpinThenSyscall' }, { vmo, counter });
  const c = new Int32Array(counter);
  const deadline = Date.now() + DEADLINE_MS;
  while (Atomics.load(c, 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  spinner.kill();
  Atomics.store(c, 1, 1);
  const s = await outcomeOf(spinner);
  t.ok(s instanceof ThreadKilled && s.syscall === '', `killed at syscall entry (${String(s)})`);
  t.equal(heldLocks(kernel), 0, 'no lock is left held');
});

for (const death of ['returns', 'is terminated', 'is killed with its process (zx_task_kill)'] as const) {
  t.test(`a pager worker that ${death} while idle: its process's handles close and blocked readers wake with BAD_STATE`, async (t) => {
    const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: 8 });
    const sys = kernel.sys;
    const { pager, port, vmo } = pagerSetup(kernel, 2);
    const proc = kernel.processCreate();
    proc.transferHandle(pager);
    proc.transferHandle(port);
    const pool = new ThreadPool(kernel, { maxThreads: 2 });
    const { worker, ready } = startWorker({ role: 'idle-pager', share: kernel.shareable(), process: proc.token, handle: port });
    const reaped = kernel.watchWorker(worker);
    t.teardown(async () => {
      await worker.terminate();
      await pool.close().catch(() => {});
    });
    const r = await withTimeout(ready, DEADLINE_MS, null);
    t.ok(r && (await idleInPortWait(kernel, r.tid)), 'the pager worker is idle in zx_port_wait');
    const reader = startReader(pool, vmo, 0);
    t.ok(await allBlocked([reader]), 'the reader blocks on the pager');
    t.notOk(proc.exited, 'the process is alive');
    if (death === 'returns') sys.portQueue(port, { key: 9n });
    else if (death === 'is terminated') await worker.terminate();
    else proc.kill(); // its zx_port_wait is interrupted and throws ThreadKilled out of the worker
    t.equal(await withTimeout(reaped, DEADLINE_MS, 'hung'), null, 'the worker was reaped without a panic');
    t.ok(proc.exited, 'its last thread died: the process is dead');
    const o = await outcomeOf(reader);
    t.ok(o instanceof ZxError && o.status === ZX_ERR_BAD_STATE, `the blocked reader woke with BAD_STATE (${String(o)})`);
    const closed = caught(() => sys.handleClose(pager));
    t.ok(closed instanceof ZxError && closed.status === ZX_ERR_BAD_HANDLE, 'the pager handle was closed');
    t.equal(kernel.debugOutstandingRequests(), 0, 'nothing outstanding');
    t.equal(heldLocks(kernel), 0, 'no lock is left held');
  });
}

t.test('2 x maxThreads pager worker restarts do not exhaust kernel thread slots', async (t) => {
  const maxThreads = 4;
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads });
  const sys = kernel.sys;
  for (let i = 0; i < 2 * maxThreads; i++) {
    const port = sys.portCreate(0);
    const proc = i % 2 === 0 ? kernel.processCreate() : undefined;
    if (proc) proc.transferHandle(port);
    const { worker, ready } = startWorker({ role: 'idle-pager', share: kernel.shareable(), process: proc?.token, handle: port });
    const reaped = kernel.watchWorker(worker);
    const r = await withTimeout(ready, DEADLINE_MS, null);
    if (r === null) {
      await worker.terminate();
      t.fail(`restart ${i}: the worker did not start`);
      return;
    }
    if (!(await idleInPortWait(kernel, r.tid))) t.fail(`restart ${i}: the worker never went idle`);
    if (i % 4 < 2) await worker.terminate();
    else sys.portQueue(port, { key: 1n });
    t.equal(await withTimeout(reaped, DEADLINE_MS, 'hung'), null, `restart ${i}: reaped`);
    t.equal(kernel.threadState(r.tid), ZX_THREAD_STATE_DEAD, `restart ${i}: its kernel thread is freed`);
    if (!proc) sys.handleClose(port);
  }
  const pool = new ThreadPool(kernel, { maxThreads: maxThreads - 1 });
  t.teardown(() => pool.close().catch(() => {}));
  const vmo = sys.vmoCreate(PAGE_SIZE, 0);
  const threads = [0, 1, 2].map(() => pool.spawn('vmoRead', { vmo, offset: 0, length: 8 }));
  for (const th of threads) t.ok(((await outcomeOf(th)) as { value?: unknown }).value instanceof Uint8Array, 'every other slot still serves a thread');
});

t.test('a worker terminated while holding a VMO lock panics the kernel; threads blocked on that lock are released with the panic', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: 8 });
  const sys = kernel.sys;
  const vmo = sys.vmoCreate(PAGE_SIZE, 0);
  const koid = sys.objectGetInfo(vmo, ZX_INFO_VMO).koid;
  const pool = new ThreadPool(kernel, { maxThreads: 2 });
  const { worker, ready } = startWorker({ role: 'lock-holder', share: kernel.shareable(), handle: vmo });
  const reaped = kernel.watchWorker(worker);
  t.teardown(async () => {
    await worker.terminate();
    await pool.close().catch(() => {});
  });
  const r = await withTimeout(ready, DEADLINE_MS, null);
  t.ok(r, 'the worker holds the lock');
  const blocked = [0, 1].map(() => pool.spawn('vmoRead', { vmo, offset: 0, length: 8 }));
  await worker.terminate();
  const panic = await withTimeout(reaped, DEADLINE_MS, 'hung');
  t.ok(panic instanceof KernelPanic, 'the reap raised a KernelPanic');
  const p = panic as KernelPanic;
  t.equal(p.tid, r!.tid, 'it names the dead thread');
  t.match(p.lock, `VMO koid ${koid}`, 'it names the lock');
  t.match(p.message, `thread ${r!.tid} died`, 'the message names the thread');
  for (const th of blocked) {
    const o = await outcomeOf(th);
    t.ok(o instanceof KernelPanic, `a thread blocked on the dead lock is released with the panic (${String(o)})`);
  }
  const later = caught(() => sys.vmoGetSize(vmo));
  t.ok(later instanceof KernelPanic && later.tid === r!.tid, 'every later syscall throws the KernelPanic');
});

t.test('assertLockHeld checks that the calling thread owns the lock', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 16 * PAGE_SIZE, maxThreads: 4 });
  const vmo = kernel.sys.vmoCreate(PAGE_SIZE, 0);
  const slot = (await import('../../core/object/handle_table.js')).lookupHandle(kernel.state, vmo, 0, 0);
  t.throws(() => kernel.assertLockHeld(slot), 'not held');
  kernel.state.lockObject(slot);
  t.doesNotThrow(() => kernel.assertLockHeld(slot), 'held by us');
  kernel.state.unlockObject(slot);
  t.throws(() => kernel.assertLockHeld(slot), 'released');
  kernel.state.release(slot);
});
