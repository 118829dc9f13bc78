// Handle-lifecycle races (docs/conformance/pager-tests.md §2.6): stress loops where another thread uses the port
// or the pager handle while the main thread destroys the pager. The only requirement is that nothing
// corrupts or panics; both loops are bounded (iterations here, plus the fixtures' own time limits).

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_TIMED_OUT, ZX_OK } from '../../core/index.js';
import { statusName } from '../../shared/status.js';
import {
  LOOP_ATTEMPTS,
  LOOP_PAGER,
  LOOP_SLOTS,
  LOOP_STOP,
  RACE_GO,
  RACE_READY,
} from '../fixtures/threads.js';
import { ensure, expectPageRead } from '../helpers/check.js';
import { fixture } from '../helpers/test_thread.js';
import { checkContent, statusOf, yieldToEventLoop } from '../helpers/user_pager.js';
import { pagerTest } from '../helpers/writeback.js';

const READY_TIMEOUT_MS = 10_000;
/** How long the main thread spins for the racing worker to use a new pager handle. */
const HANDOFF_SPIN_MS = 2;

/** Waits (yielding) until `cells[index]` differs from `from`; false at the deadline. */
async function waitForChange(cells: Int32Array, index: number, from: number, timeoutMs = READY_TIMEOUT_MS): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (Atomics.load(cells, index) === from) {
    if (performance.now() >= end) return false;
    await yieldToEventLoop();
  }
  return true;
}

// Tests that destroying a pager races safely with a zx_port_wait that may dequeue its COMPLETE packet.
pagerTest(t, 'RacyPortDequeue', async (t, pager) => {
  const ITERATIONS = 100;
  const { sys } = pager;
  const statuses = new Map<string, number>();
  for (let i = 0; i < ITERATIONS; i++) {
    const rawPager = sys.pagerCreate(0);
    const port = sys.portCreate(0);
    const vmo = sys.pagerCreateVmo(rawPager, 0, port, 0n, PAGE_SIZE);
    sys.handleClose(vmo);

    const sync = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const racer = pager.startThread(fixture('racePortWait'), { port, sync });
    if (!(await waitForChange(sync, RACE_READY, 0))) ensure(t, false, `iteration ${i}: racer ready`);
    Atomics.store(sync, RACE_GO, 1);
    const closeStatus = statusName(statusOf(() => sys.handleClose(rawPager)));
    if (closeStatus !== 'ZX_OK') ensure(t, false, `iteration ${i}: closing the pager returned ${closeStatus}`);
    const waitStatus = await racer.wait<number>();
    if (waitStatus !== ZX_OK && waitStatus !== ZX_ERR_TIMED_OUT) {
      ensure(t, false, `iteration ${i}: zx_port_wait returned ${statusName(waitStatus)}`);
    }
    const name = statusName(waitStatus);
    statuses.set(name, (statuses.get(name) ?? 0) + 1);
    sys.handleClose(port);
  }
  t.pass(`${ITERATIONS} races: closing the pager returned ZX_OK; zx_port_wait returned ${[...statuses].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
});

// Tests that zx_pager_create_vmo with a pager handle that is being closed and recreated never corrupts the kernel.
pagerTest(t, 'ZeroHandlesRace', async (t, pager) => {
  const ITERATIONS = 300;
  const { sys } = pager;
  const cells = new Int32Array(new SharedArrayBuffer(LOOP_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  // A port of its own, so the COMPLETE packets of the racing VMOs stay off the harness's port.
  const racePort = sys.portCreate(0);
  let current = sys.pagerCreate(0);
  Atomics.store(cells, LOOP_PAGER, current);
  const creator = pager.startThread(fixture('createVmoLoop'), { port: racePort, pageSize: PAGE_SIZE, cells, timeLimitMs: 60_000 });
  ensure(t, await waitForChange(cells, LOOP_ATTEMPTS, 0), 'the background creator is running');

  for (let i = 0; i < ITERATIONS; i++) {
    // Let the creator use the live handle, then close it under its feet and publish a new one.
    const seen = Atomics.load(cells, LOOP_ATTEMPTS);
    const spinEnd = performance.now() + HANDOFF_SPIN_MS;
    while (Atomics.load(cells, LOOP_ATTEMPTS) === seen && performance.now() < spinEnd);
    sys.handleClose(current);
    current = sys.pagerCreate(0);
    Atomics.store(cells, LOOP_PAGER, current);
    if (i % 16 === 0) await yieldToEventLoop();
  }
  Atomics.store(cells, LOOP_STOP, 1);
  const { attempts, created } = await creator.wait<{ attempts: number; created: number }>();
  sys.handleClose(current);
  sys.handleClose(racePort);
  t.ok(attempts > 0, `the creator made ${attempts} attempts (${created} VMOs) during ${ITERATIONS} pager replacements`);

  // The kernel still pages: a fresh VMO on the harness's pager faults, is supplied and reads back.
  const vmo = pager.createVmo(1);
  const reader = pager.startRead(vmo, 0, 1);
  await expectPageRead(t, pager, vmo, 0, 1, 'R(0,1) after the race');
  pager.supplyPages(vmo, 0, 1);
  t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'the reader sees the supplied content');
});
