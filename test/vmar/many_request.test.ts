// ManyRequestTest's Vmar variant (zircon-pager-tests.md §2.1) on its own: 257 threads each fault one
// page through one mapping, all blocked at once, then are resolved one by one in order.

import t from 'tap';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import type { TestThread } from '../helpers/test_thread.js';
import { UserPager, checkContent } from '../helpers/user_pager.js';
import { mapVmo, startMemReadPages } from '../helpers/vmar.js';

const PAGE_COUNT = 257;

t.setTimeout(600_000);

// Tests that 257 simultaneously outstanding one-page faults are each delivered and resolved in order.
t.test('ManyRequestTestVmar', async (t) => {
  const pager = await UserPager.create({ maxThreads: 260 });
  try {
    const vmo = pager.createVmo(PAGE_COUNT);
    const base = mapVmo(pager, vmo);
    const readers: TestThread[] = [];
    for (let i = 0; i < PAGE_COUNT; i++) {
      const reader = startMemReadPages(pager, base, i, 1);
      readers.push(reader);
      ensure(t, await reader.waitForBlocked(), `reader ${i} blocked`);
    }
    let good = 0;
    for (let i = 0; i < PAGE_COUNT; i++) {
      await expectPageRead(t, pager, vmo, i, 1, `R(${i},1)`);
      pager.supplyPages(vmo, i, 1);
      if (checkContent(await readers[i]!.wait<Uint8Array>(), vmo.key, i)) good++;
    }
    t.equal(good, PAGE_COUNT, 'every reader saw its page through the mapping');
    expectNoRequest(t, pager, vmo, 'no further READ');
  } finally {
    await pager.close();
  }
});
