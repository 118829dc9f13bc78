// Regression (defect 10): the stress watchdog reported "its request already completed: the wake-up
// was lost" for threads that had lost nothing. It took a thread sampled blocked at every 50 ms tick
// for one continuous wait (on a loaded machine a faulting thread is parked almost all the time, in
// many successive waits), and it took a thread whose request had completed and which had been woken
// but not yet scheduled (the pager starved along with it, hence "the pager idle") for one that slept
// through its wake-up. These tests drive the kernel functions directly from this thread, in the racy
// order, and sample the watchdog with explicit times: deterministic, no timing involved. The last one
// proves the watchdog still reports a real lost wake-up (a dropped signal, with a thread parked).

import t, { type Test } from 'tap';
import { Kernel, PAGE_SIZE, ThreadPool, ZX_ERR_SHOULD_WAIT, ZX_THREAD_STATE_BLOCKED_PAGER, ZX_THREAD_STATE_RUNNING } from '../../core/index.js';
import { BUG_NAMES } from '../../core/bugs.js';
import { allocThread, freeThread, lookupHandle } from '../../core/object/handle_table.js';
import { populateRequestLocked } from '../../core/vm/page_source.js';
import { ObjType, PageRequestType, T_BLOCKED_VMO, T_STATE } from '../../shared/layout.js';
import { HangWatch } from '../../cli/stress/watchdog.js';

const IDLE_PAGER = { quietMs: 10_000, busy: false };

function setup(t: Test, injectBugs = 0) {
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, injectBugs });
  const k = kernel.state;
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmo = sys.pagerCreateVmo(pager, 0, port, 1n, 8 * PAGE_SIZE);
  const aux = sys.vmoCreate(PAGE_SIZE, 0);
  const vmoSlot = lookupHandle(k, vmo, ObjType.Vmo, 0);
  k.release(vmoSlot); // the handle keeps it alive
  t.teardown(() => kernel.close());
  /** The pager's side: read the next packet, supply page `page`. */
  const supply = (page: number): void => {
    sys.portWait(port, 0n);
    sys.vmoWrite(aux, new Uint8Array(PAGE_SIZE).fill(7), 0);
    sys.pagerSupplyPages(pager, vmo, page * PAGE_SIZE, PAGE_SIZE, aux, 0);
  };
  return { kernel, k, sys, vmo, vmoSlot, supply };
}

/**
 * A simulated faulting thread with no JS thread behind it: it raises a READ for `page` and enters the
 * blocked state exactly as waitOnRequest() does, then never runs (as if the OS gave it no CPU).
 */
function parkedThread(env: ReturnType<typeof setup>) {
  const { k, vmoSlot } = env;
  const thread = allocThread(k);
  if (typeof thread === 'number') throw new Error('no kernel thread');
  const tt = k.thr(thread.slot);
  Atomics.store(k.w, tt + T_STATE, ZX_THREAD_STATE_RUNNING);
  const fault = (page: number): number => {
    k.lockObject(vmoSlot);
    const status = populateRequestLocked(k, vmoSlot, thread.slot, PageRequestType.Read, page, 1, false);
    k.unlockObject(vmoSlot);
    k.w[tt + T_BLOCKED_VMO] = vmoSlot;
    Atomics.store(k.w, tt + T_STATE, ZX_THREAD_STATE_BLOCKED_PAGER);
    return status;
  };
  return { tid: thread.tid, fault, free: () => freeThread(k, thread.slot) };
}

t.test('a thread woken but not yet scheduled has not lost its wake-up', async (t) => {
  const env = setup(t);
  const th = parkedThread(env);
  t.teardown(th.free);
  t.equal(th.fault(0), ZX_ERR_SHOULD_WAIT, 'the fault raised a READ');
  const watch = new HangWatch(env.kernel, 100);
  t.same(watch.sample([th.tid], 0, IDLE_PAGER), [], 'first sample: nothing yet');
  // The pager supplies: the request completes and the thread is signalled. It is runnable, but the
  // machine is loaded and it has not run yet; the pager goes quiet (it has nothing left to do).
  env.supply(0);
  t.same(watch.sample([th.tid], 150, IDLE_PAGER), [], 'signalled, not yet run: no hang');
  t.same(watch.sample([th.tid], 400, IDLE_PAGER), [], 'still only waiting for a CPU: no hang');
  t.equal(watch.lateWakes, 1, 'counted once as a late wake-up (the report shows it)');
});

t.test('many short waits are not one long one', async (t) => {
  const env = setup(t);
  const th = parkedThread(env);
  t.teardown(th.free);
  const watch = new HangWatch(env.kernel, 100);
  // Each sample finds the thread blocked, each time in a new wait: it was woken, ran, and faulted
  // again in between (here: its request completes and it faults on the next page).
  for (let i = 0; i < 5; i++) {
    t.equal(th.fault(i), ZX_ERR_SHOULD_WAIT, `fault ${i} raised a READ`);
    t.same(watch.sample([th.tid], i * 80, IDLE_PAGER), [], `sample ${i}: a fresh wait, no hang`);
    env.supply(i);
  }
});

t.test('a thread still parked after its request completed did lose its wake-up', async (t) => {
  const env = setup(t, BUG_NAMES['drop-one-wake']);
  const pool = new ThreadPool(env.kernel, { maxThreads: 1 });
  t.teardown(() => pool.close());
  const reader = pool.spawn('vmoRead', { vmo: env.vmo, offset: 0, length: PAGE_SIZE });
  t.ok(await reader.waitForState(ZX_THREAD_STATE_BLOCKED_PAGER), 'the reader blocked on its READ');
  env.supply(0); // the injected bug drops this signal: the request completes, the reader sleeps on
  const watch = new HangWatch(env.kernel, 100);
  t.same(watch.sample([reader.tid], 0, IDLE_PAGER), [], 'first sample: nothing yet');
  const hangs = watch.sample([reader.tid], 300, IDLE_PAGER);
  t.equal(hangs.length, 1, 'the lost wake-up is reported');
  t.match(hangs[0]?.detail ?? '', /wake-up was lost/);
});
