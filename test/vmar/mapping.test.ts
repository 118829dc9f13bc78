// VMAR-specific fault behaviour (docs/conformance/pager-tests.md §2.8): a fault retried after its wait looks the
// mapping up again (so an unmapped address crashes with ZX_ERR_NOT_FOUND), and ZX_VM_MAP_RANGE maps
// only what is present without requesting anything.

import t from 'tap';
import { PAGE_SIZE, ZX_ERR_NOT_FOUND, ZX_VM_MAP_RANGE, ZX_VM_PERM_READ } from '../../core/index.js';
import { ensure, expectNoRequest, expectPageRead } from '../helpers/check.js';
import { checkContent } from '../helpers/user_pager.js';
import { mapVmo, startMemRead, startMemReadPages, vmarFixture } from '../helpers/vmar.js';
import { pagerTest } from '../helpers/writeback.js';

// Tests that unmapping the address under a blocked fault makes the retried fault crash with ZX_ERR_NOT_FOUND.
pagerTest(t, 'VmarUnmapTest', async (t, pager) => {
  const vmo = pager.createVmo(1);
  const address = mapVmo(pager, vmo, ZX_VM_PERM_READ);
  const reader = startMemRead(pager, address, PAGE_SIZE);
  ensure(t, await reader.waitForBlocked(), 'reader blocked');
  pager.sys.vmarUnmap(address, PAGE_SIZE);
  pager.supplyPages(vmo, 0, 1);
  await reader.waitForCrash(address, ZX_ERR_NOT_FOUND);
  t.pass('crash(A, ZX_ERR_NOT_FOUND)');
});

// Tests that mapping with ZX_VM_MAP_RANGE does not fault, and reading both pages then requests only R(1,1).
pagerTest(t, 'VmarMapRangeTest', async (t, pager) => {
  const vmo = pager.createVmo(2);
  pager.supplyPages(vmo, 0, 1);
  const mapper = pager.startThread(vmarFixture('mapVmo'), {
    vmo: vmo.handle,
    options: ZX_VM_PERM_READ | ZX_VM_MAP_RANGE,
    offset: 0,
    length: 2 * PAGE_SIZE,
  });
  const address = await mapper.wait<number>();
  t.pass('the MAP_RANGE mapping returned without blocking');
  expectNoRequest(t, pager, vmo, 'mapping requested nothing');

  const reader = startMemReadPages(pager, address, 0, 2);
  await expectPageRead(t, pager, vmo, 1, 1, 'R(1,1)');
  pager.supplyPages(vmo, 1, 1);
  t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'both pages hold the supplied content');
  expectNoRequest(t, pager, vmo, 'no other READ (in particular no R(0,1))');
});
