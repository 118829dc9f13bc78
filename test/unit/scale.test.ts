// Metadata grows with the pages a VMO holds, not with its size: a 1 TiB pager VMO inside a kernel
// of 64 MiB gets a few thousand pages touched, written back and queried (no timing asserted here;
// bench/ measures the query's cost against a per-page scan).

import t from 'tap';
import { Kernel, PAGE_SIZE, ZX_INFO_VMO, ZX_PAGER_OP_WRITEBACK_BEGIN, ZX_PAGER_OP_WRITEBACK_END } from '../../core/index.js';

t.test('a 1 TiB pager VMO with 3000 scattered dirty pages', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 64 * 2 ** 20 });
  t.teardown(() => kernel.close());
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const size = 2 ** 40;
  const vmo = sys.pagerCreateVmo(pager, 0, port, 1n, size);
  t.equal(sys.vmoGetSize(vmo), size);
  const aux = sys.vmoCreate(PAGE_SIZE, 0);
  const byte = new Uint8Array([0x5a]);
  const pages = new Set<number>();
  let x = 12345;
  while (pages.size < 3000) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    pages.add(Math.floor((x / 2 ** 32) * (size / PAGE_SIZE)));
  }
  for (const p of pages) {
    sys.vmoWrite(aux, byte, 0);
    sys.pagerSupplyPages(pager, vmo, p * PAGE_SIZE, PAGE_SIZE, aux, 0);
    sys.vmoWrite(vmo, byte, p * PAGE_SIZE + 1);
  }
  t.equal(sys.objectGetInfo(vmo, ZX_INFO_VMO).committedBytes, 3000 * PAGE_SIZE);
  const q = sys.pagerQueryDirtyRanges(pager, vmo, 0, size, 4000);
  t.equal(q.avail, 3000, 'every touched page is its own dirty run');
  const sorted = [...pages].sort((a, b) => a - b);
  t.same(q.ranges.map((r) => r.offset / PAGE_SIZE), sorted, 'runs come back in offset order');
  for (const r of q.ranges) {
    sys.pagerOpRange(pager, ZX_PAGER_OP_WRITEBACK_BEGIN, vmo, r.offset, r.length);
    sys.pagerOpRange(pager, ZX_PAGER_OP_WRITEBACK_END, vmo, r.offset, r.length);
  }
  t.equal(sys.pagerQueryDirtyRanges(pager, vmo, 0, size, 1).avail, 0, 'nothing dirty after writeback');
  const page = new Uint8Array(2);
  sys.vmoRead(vmo, page, sorted[1500] * PAGE_SIZE);
  t.same([...page], [0x5a, 0x5a], 'written-back pages keep their content');
  t.equal(sys.vmoGetSize(vmo), size);
});
