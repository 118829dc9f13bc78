// ManyRequestTest (docs/conformance/pager-tests.md §2.1) on its own: 257 simulated threads, each blocked on
// its own page, are the heaviest setup of the suite, so this file gets its own process and time budget.
// A VMO_VMAR_TEST: it runs through zx_vmo_read and through one mapping of the VMO (vmoVmarTest).

import t from 'tap';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import type { TestThread } from '../helpers/test_thread.js';
import { checkContent } from '../helpers/user_pager.js';
import { vmoVmarTest } from '../helpers/vmo_vmar.js';

const PAGE_COUNT = 257;

t.setTimeout(600_000);

// Tests that 257 simultaneously outstanding requests are each delivered and resolved one by one, in order.
vmoVmarTest(
  t,
  'ManyRequestTest',
  async (t, pager, access) => {
    const vmo = pager.createVmo(PAGE_COUNT);
    const readers: TestThread[] = [];
    for (let i = 0; i < PAGE_COUNT; i++) {
      const reader = access.startRead(vmo, i, 1);
      readers.push(reader);
      ensure(t, await reader.waitForBlocked(), `reader ${i} blocked`);
    }
    let good = 0;
    for (let i = 0; i < PAGE_COUNT; i++) {
      await expectPageRead(t, pager, vmo, i, 1, `R(${i},1)`);
      pager.supplyPages(vmo, i, 1);
      if (checkContent(await readers[i].wait<Uint8Array>(), vmo.key, i)) good++;
    }
    t.equal(good, PAGE_COUNT, 'every reader saw its page');
    expectNoRequest(t, pager, vmo, 'no further READ');
  },
  { maxThreads: 260 },
);
