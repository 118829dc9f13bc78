// Early wake (docs/conformance/pager-tests.md §2.3): a zx_vmo_read blocked on a request makes progress as soon as
// the page it waits on is supplied, copying the contiguous present prefix before blocking again. The
// readers here read into buffers over SharedArrayBuffers, so the test watches the data land while
// the syscall is still blocked (Zircon's WaitForData).

import t from 'tap';
import { PAGE_SIZE } from '../../core/index.js';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { TestThread } from '../helpers/test_thread.js';
import { checkContent, expectedContent, isZero, sharedBytes, waitForData } from '../helpers/user_pager.js';
import type { Vmo } from '../helpers/user_pager.js';
import { pagerTest } from '../helpers/writeback.js';

/** True once the reader's buffer (which starts at VMO page `firstPage`) holds pages [from, to). */
function dataUpTo(buffer: Uint8Array, vmo: Vmo, firstPage: number, from: number, to: number): Promise<boolean> {
  return waitForData(buffer, (from - firstPage) * PAGE_SIZE, expectedContent(vmo.key, from, to - from));
}

// Tests that each supplied 32-page quarter of one 128-page read is copied before the rest is supplied.
pagerTest(t, 'EarlyWakeOnSupply', async (t, pager) => {
  const vmo = pager.createVmo(130);
  const buffer = sharedBytes(128 * PAGE_SIZE);
  const reader = pager.startReadInto(vmo, 2, buffer);
  await expectPageRead(t, pager, vmo, 2, 128, 'R(2,128)');
  for (let i = 0; i < 128; i += 32) {
    ensure(t, await reader.waitForBlocked(), `reader blocked before supply(${2 + i},32)`);
    pager.supplyPages(vmo, 2 + i, 32);
    ensure(t, await dataUpTo(buffer, vmo, 2, 2 + i, 2 + i + 32), `pages [${2 + i}, ${2 + i + 32}) reached the buffer`);
  }
  await reader.wait();
  t.ok(checkContent(buffer, vmo.key, 2), 'the whole buffer matches');
  expectNoRequest(t, pager, vmo, 'no further READ');
});

// Tests that supplies out of order wake the reader only when the page it waits on arrives, up to the next gap.
pagerTest(t, 'EarlyWakeNonLinearSupply', async (t, pager) => {
  const vmo = pager.createVmo(128);
  const buffer = sharedBytes(128 * PAGE_SIZE);
  const reader = pager.startReadInto(vmo, 0, buffer);
  await expectPageRead(t, pager, vmo, 0, 128, 'R(0,128)');

  pager.setPageFaultSupplyLimit(vmo, 0);
  pager.startTaggedPageFaultHandler();
  pager.supplyPages(vmo, 16, 16);
  pager.supplyPages(vmo, 48, 16);
  ensure(t, await reader.waitForBlocked(), 'reader still blocked on page 0');
  t.ok(isZero(buffer), 'no progress while page 0 is missing');

  pager.setPageFaultSupplyLimit(vmo, 32);
  pager.supplyPages(vmo, 0, 16);
  ensure(t, await dataUpTo(buffer, vmo, 0, 0, 32), 'pages [0, 32) reached the buffer');

  pager.setPageFaultSupplyLimit(vmo, 64);
  pager.supplyPages(vmo, 32, 16);
  ensure(t, await dataUpTo(buffer, vmo, 0, 0, 64), 'pages [0, 64) reached the buffer');

  pager.setPageFaultSupplyLimit(vmo, 128);
  pager.supplyPages(vmo, 64, 64);
  await reader.wait();
  t.ok(checkContent(buffer, vmo.key, 0), 'the whole buffer matches');

  await pager.stopPageFaultHandler();
  t.same(pager.handledRequests(vmo), [], 'the reader sent no further READ');
  expectNoRequest(t, pager, vmo, 'no READ left on the port');
  t.same(pager.handlerErrors, [], 'the handler supplied without errors');
});

// Tests early wake of five overlapping readers: followers progress with the leader and re-request their tails.
pagerTest(t, 'EarlyWakeOverlappingRequests', async (t, pager) => {
  const vmo = pager.createVmo(128);
  const ranges = { A: [0, 92], B: [16, 42], C: [0, 32], D: [48, 64], E: [82, 128] } as const;
  type Name = keyof typeof ranges;
  const names: Name[] = ['A', 'B', 'C', 'D', 'E'];
  const buffers = {} as Record<Name, Uint8Array>;
  const readers = {} as Record<Name, TestThread>;
  for (const name of names) {
    const [start, end] = ranges[name];
    buffers[name] = sharedBytes((end - start) * PAGE_SIZE);
    readers[name] = pager.startReadInto(vmo, start, buffers[name]);
    if (name === 'A') await expectPageRead(t, pager, vmo, 0, 92, 'R(0,92)');
    else ensure(t, await readers[name].waitForBlocked(), `reader ${name} blocked`);
  }
  expectNoRequest(t, pager, vmo, 'readers B–E sent no packet');

  // Every reader that covers pages [start, upTo) shows them.
  const showsUpTo = async (upTo: number, which: readonly Name[]): Promise<void> => {
    for (const name of which) {
      const [start, end] = ranges[name];
      const to = Math.min(upTo, end);
      if (to <= start) continue;
      ensure(t, await dataUpTo(buffers[name], vmo, start, start, to), `reader ${name} shows pages [${start}, ${to})`);
    }
  };

  pager.setPageFaultSupplyLimit(vmo, 0);
  pager.startTaggedPageFaultHandler();

  pager.setPageFaultSupplyLimit(vmo, 8);
  pager.supplyPages(vmo, 0, 8);
  await showsUpTo(8, ['A', 'C']);

  pager.supplyPages(vmo, 16, 1);
  pager.setPageFaultSupplyLimit(vmo, 17);
  pager.supplyPages(vmo, 8, 8);
  await showsUpTo(17, ['A', 'C']);

  pager.setPageFaultSupplyLimit(vmo, 18);
  pager.supplyPages(vmo, 17, 1);
  await showsUpTo(18, names);

  pager.supplyPages(vmo, 30, 2);
  pager.setPageFaultSupplyLimit(vmo, 32);
  pager.supplyPages(vmo, 18, 12);
  await showsUpTo(32, names);
  await readers.C.wait();
  t.pass('C completed');

  pager.setPageFaultSupplyLimit(vmo, 50);
  pager.supplyPages(vmo, 32, 18);
  await showsUpTo(50, names);
  await readers.B.wait();
  t.pass('B completed');

  pager.setPageFaultSupplyLimit(vmo, 100);
  pager.supplyPages(vmo, 50, 50);
  await showsUpTo(100, names);
  await readers.A.wait();
  await readers.D.wait();
  t.pass('A and D completed');
  ensure(t, await readers.E.waitForBlocked(), 'E blocked again on its tail');

  pager.setPageFaultSupplyLimit(vmo, 128);
  pager.supplyPages(vmo, 100, 28);
  await readers.E.wait();
  t.pass('E completed');
  for (const name of names) t.ok(checkContent(buffers[name], vmo.key, ranges[name][0]), `reader ${name}'s buffer matches`);
  t.same(pager.handlerErrors, [], 'the handler supplied without errors');
});
