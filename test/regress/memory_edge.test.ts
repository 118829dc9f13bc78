// Memory-pressure edges of the dirty-tracking operations (zircon vm_cow_pages.cc DirtyPagesLocked,
// ZeroRangeInternal, and the "wait for memory" path of AnonymousPageRequest): an operation that needs
// frames, radix nodes or zero-interval records either completes with every page's content intact or
// fails with ZX_ERR_NO_MEMORY having changed nothing; reclaim never evicts the range the operation
// works on; and reclaim waits for a busy VMO's lock instead of failing while clean pages exist.
// Everything runs on the main thread except the one test that needs a second thread.

import t from 'tap';
import { ThreadPool, ZX_VMO_OP_ZERO, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { lookupHandle } from '../../core/object/handle_table.js';
import { KernelEnv, P, bytesEqual, isZero, pageContent, statusNameOf } from '../helpers/kernel_env.js';

// Defect 3: memory is all Clean pages of the VMO being dirtied; nothing else is reclaimable.
t.test('OP_DIRTY with the pool empty and only its own Clean pages reclaimable: NO_MEMORY, nothing changed', async (t) => {
  const env = new KernelEnv({ physicalMemory: 16 * P });
  const vmo = env.createVmo(20, ZX_VMO_TRAP_DIRTY);
  t.equal(env.supply(vmo, 0, 16), 'ZX_OK', 'supply 16 Clean pages: the pool is empty');
  t.equal(env.supply(vmo, 16, 4, () => false), 'ZX_OK', 'supply 4 zero markers');
  const before = env.pools();
  t.equal(before.frames, 0, 'no free frame');
  t.equal(env.opDirty(vmo.handle, 0, 20), 'ZX_ERR_NO_MEMORY', 'OP_DIRTY needs 4 frames and only its own range could give them');
  t.same(env.dirtyRanges(vmo.handle, 20), [], 'nothing became Dirty');
  t.equal(env.committed(vmo.handle), 16, 'no page was evicted');
  for (let p = 0; p < 16; p++) {
    if (!bytesEqual(env.readPage(vmo.handle, p), pageContent(vmo.key, p))) t.fail(`page ${p} lost its content`);
  }
  for (let p = 16; p < 20; p++) t.ok(isZero(env.readPage(vmo.handle, p)), `marker ${p} still reads zero`);
  t.same(env.pools(), before, 'no frame, node or interval record leaked');
});

// Defect 3: reclaimable pages exist elsewhere; the dirtied range must keep its Clean content.
t.test('OP_DIRTY over Clean pages, markers and a zero interval with the pool empty reclaims elsewhere', async (t) => {
  const env = new KernelEnv({ physicalMemory: 20 * P });
  const vmo = env.createVmo(16, ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY);
  t.equal(env.supply(vmo, 0, 12), 'ZX_OK', 'supply 12 Clean pages');
  t.equal(env.supply(vmo, 12, 4, () => false), 'ZX_OK', 'supply 4 zero markers');
  env.sys.vmoSetSize(vmo.handle, 20 * P); // [16, 20) becomes a dirty zero interval
  const other = env.createVmo(8);
  t.equal(env.supply(other, 0, 8), 'ZX_OK', 'another VMO fills the rest of memory with Clean pages');
  t.equal(env.pools().frames, 0, 'no free frame');
  t.equal(env.opDirty(vmo.handle, 0, 20), 'ZX_OK', 'OP_DIRTY gets its 8 frames from the other VMO');
  t.same(env.dirtyRanges(vmo.handle, 20), [[0, 20, false]], 'the whole range is Dirty');
  let intact = true;
  for (let p = 0; p < 12; p++) intact &&= bytesEqual(env.readPage(vmo.handle, p), pageContent(vmo.key, p));
  t.ok(intact, 'every Clean page kept its content');
  let zeros = true;
  for (let p = 12; p < 20; p++) zeros &&= isZero(env.readPage(vmo.handle, p));
  t.ok(zeros, 'markers and interval pages read zero');
  t.equal(env.committed(other.handle), 0, 'the other VMO was evicted');
  t.equal(env.committed(vmo.handle), 20, 'every page of the range is committed');
});

// The radix-node heap: interval pages in a leaf that does not exist yet need a node.
t.test('OP_DIRTY that needs a radix node when none is free and nothing is reclaimable: NO_MEMORY, interval intact', async (t) => {
  const env = new KernelEnv({ physicalMemory: 16 * P, maxPageListNodes: 1 });
  const vmo = env.createVmo(4, ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY);
  t.equal(env.supply(vmo, 0, 4), 'ZX_OK', 'supply 4 pages: their leaf is the only node');
  t.equal(env.opDirty(vmo.handle, 0, 4), 'ZX_OK', 'the pages are Dirty: nothing is reclaimable');
  env.sys.vmoSetSize(vmo.handle, 64 * P); // [4, 64) a zero interval
  const before = env.pools();
  t.equal(before.nodes, 0, 'the node heap is empty');
  t.equal(env.opDirty(vmo.handle, 40, 4), 'ZX_ERR_NO_MEMORY', 'no node for the leaf of pages 32..63');
  t.same(env.dirtyRanges(vmo.handle, 64), [[0, 4, false], [4, 64, true]], 'the zero interval is intact');
  t.same(env.pools(), before, 'nothing leaked');
  t.equal(env.committed(vmo.handle), 4, 'no page was added');
});

t.test('OP_DIRTY that needs a radix node gets it by evicting Clean pages outside its range', async (t) => {
  const env = new KernelEnv({ physicalMemory: 16 * P, maxPageListNodes: 1 });
  const vmo = env.createVmo(0, ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY);
  env.sys.vmoSetSize(vmo.handle, 4 * P); // [0, 4) a zero interval, no page-list node
  const other = env.createVmo(4);
  t.equal(env.supply(other, 0, 4), 'ZX_OK', 'another VMO holds Clean pages (its leaf is the only node)');
  t.equal(env.pools().nodes, 0, 'the node heap is empty');
  t.equal(env.opDirty(vmo.handle, 1, 2), 'ZX_OK', 'reclaim freed the node by evicting the other VMO');
  t.same(env.dirtyRanges(vmo.handle, 4), [[0, 1, true], [1, 3, false], [3, 4, true]], 'pages 1..2 Dirty, the interval split');
  t.ok(isZero(env.readPage(vmo.handle, 2)), 'a dirtied interval page reads zero');
  t.equal(env.committed(other.handle), 0, 'the other VMO was evicted');
});

// Defect 4: OP_ZERO that cannot get an interval record must not drop the Dirty page first.
t.test('OP_ZERO with interval records exhausted: NO_MEMORY and the Dirty page keeps its bytes', async (t) => {
  const env = new KernelEnv({ physicalMemory: 32 * P, maxZeroIntervals: 1 });
  const vmo = env.createVmo(8);
  t.equal(env.supply(vmo, 0, 8), 'ZX_OK', 'supply 8 pages');
  const written = Uint8Array.from({ length: P }, (_, i) => (i * 13 + 5) & 0xff);
  env.sys.vmoWrite(vmo.handle, written, 2 * P);
  t.equal(statusNameOf(() => env.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_ZERO, 6 * P, P)), 'ZX_OK', 'ZERO page 6 takes the only interval record');
  const before = env.pools();
  t.equal(statusNameOf(() => env.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_ZERO, 2 * P, P)), 'ZX_ERR_NO_MEMORY', 'ZERO page 2 needs a second record');
  t.same(env.dirtyRanges(vmo.handle, 8), [[2, 3, false], [6, 7, true]], 'page 2 is still Dirty');
  t.ok(bytesEqual(env.readPage(vmo.handle, 2), written), 'page 2 still holds the unsaved write');
  t.same(env.pools(), before, 'nothing leaked');
  t.equal(statusNameOf(() => env.sys.vmoOpRange(vmo.handle, ZX_VMO_OP_ZERO, 5 * P, 2 * P)), 'ZX_OK', 'a ZERO that merges into the interval needs no record');
  t.same(env.dirtyRanges(vmo.handle, 8), [[2, 3, false], [5, 7, true]], 'merged');
});

// Defect 5: the only reclaimable pages belong to a VMO whose lock another thread holds.
t.test('an allocation while another thread holds the only victim VMO lock waits for it and succeeds', async (t) => {
  const env = new KernelEnv({ physicalMemory: 16 * P });
  const pool = new ThreadPool(env.kernel, { maxThreads: 2 });
  t.teardown(() => pool.close());
  const victim = env.createVmo(16);
  t.equal(env.supply(victim, 0, 16), 'ZX_OK', 'Clean pages fill memory');
  const anon = env.sys.vmoCreate(4 * P, 0);
  const k = env.kernel.state;
  const obj = lookupHandle(k, victim.handle, 0, 0);
  t.ok(obj >= 0, 'victim object');
  k.lockObject(obj); // a reader of the victim VMO, as far as reclaim can tell
  let locked = true;
  try {
    const writer = pool.spawn('vmoWrite', { vmo: anon, data: Uint8Array.of(1), offset: 0 });
    // Wait (bounded) until the writer is parked on the victim's lock, or has already given up.
    const deadline = performance.now() + 10_000;
    while (!writer.finished && !k.objectLockContended(obj) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    t.notOk(writer.finished, 'the allocation did not fail while the lock was held');
    k.unlockObject(obj);
    locked = false;
    const status = await writer.join().then(
      () => 'ZX_OK',
      (e: unknown) => String(e),
    );
    t.equal(status, 'ZX_OK', 'the write got a frame once the lock was free');
    t.ok(env.committed(victim.handle) < 16, 'reclaim evicted pages of the victim');
  } finally {
    if (locked) k.unlockObject(obj);
    k.release(obj);
  }
});
