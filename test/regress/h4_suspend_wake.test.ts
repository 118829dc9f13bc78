// Regression (found while hunting defect 10): zx_task_suspend could be lost. A waiter in
// waitOnRequest() checks T_SUSPEND and then parks with Atomics.wait(R_EVENT, 0). A suspend landing
// between the two stored T_SUSPEND and notified R_EVENT while nobody was parked yet; the waiter then
// parked on an unchanged word and slept on - shown BLOCKED_PAGER, not SUSPENDED - until its page
// happened to arrive. The suspend must change the futex word, so a wait that begins after it returns
// at once. Driven from this thread in exactly that order: deterministic.

import t from 'tap';
import { Kernel, PAGE_SIZE, ZX_THREAD_STATE_BLOCKED_PAGER } from '../../core/index.js';
import { allocThread, freeThread } from '../../core/object/handle_table.js';
import { R_EVENT, T_STATE } from '../../shared/layout.js';

t.test('a suspend between the waiter’s check and its park is not lost', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 16 * PAGE_SIZE });
  t.teardown(() => kernel.close());
  const k = kernel.state;
  const thread = allocThread(k);
  if (typeof thread === 'number') throw new Error('no kernel thread');
  t.teardown(() => freeThread(k, thread.slot));
  const tt = k.thr(thread.slot);
  // The waiter has found its event unsignalled and T_SUSPEND clear, and is about to park.
  Atomics.store(k.w, tt + T_STATE, ZX_THREAD_STATE_BLOCKED_PAGER);
  t.equal(Atomics.exchange(k.w, tt + R_EVENT, 0), 0, 'no signal yet');
  kernel.threadSuspend(thread.tid); // lands now: nobody is parked to be notified
  // The waiter parks, as waitOnRequest() does, on the value it saw.
  t.equal(Atomics.wait(k.w, tt + R_EVENT, 0, 0), 'not-equal', 'the park returns at once: the suspend is seen');
});
