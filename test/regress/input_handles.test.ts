// Regression tests for the address space, handle reuse and VMO lifetime defects of the outside
// tester's report: mapping addresses are allocated first fit and reused (never aliased, never
// exhausted by map/unmap cycles, a failed map leaks nothing); a closed handle value is BAD_HANDLE
// for at least maxHandles * 2^genBits closes; a VMO whose last handle closes while a vmo_read waits
// stays alive (its page source open) until that syscall's reference goes.
// Argument validation of every syscall lives in h1_bad_input.test.ts.

import t from 'tap';
import type { Test } from 'tap';
import {
  Kernel,
  PAGE_SIZE,
  ZX_ERR_BAD_HANDLE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_NO_MEMORY,
  ZX_ERR_NO_RESOURCES,
  ZX_ERR_NOT_FOUND,
  ZX_OBJ_TYPE_VMO,
  ZX_VM_PERM_READ,
  ZX_VM_PERM_WRITE,
} from '../../core/index.js';
import { lookupHandle, threadSlotOf } from '../../core/object/handle_table.js';
import { supplyPages } from '../../core/vm/vm_object.js';
import { T_BLOCKED_VMO } from '../../shared/layout.js';
import { statusName } from '../../shared/status.js';
import { ensure } from '../helpers/check.js';
import { UserPager, checkContent, statusOf } from '../helpers/user_pager.js';
import { fillExpected } from '../helpers/content.js';
import { mapVmo, startMemReadPages } from '../helpers/vmar.js';
import { kernelCounts } from '../helpers/object_counts.js';

const RW = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
const GiB = 2 ** 30;

// ---- Address space (defect 6) ----

/** True if [a, a + aLen) and [b, b + bLen) share a byte. */
function overlaps(a: number, aLen: number, b: number, bLen: number): boolean {
  return a < b + bLen && b < a + aLen;
}

t.test('10,000 map/unmap cycles of a 1 GiB VMO all succeed and reuse the range', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const sys = kernel.sys;
  const vmo = sys.vmoCreate(GiB, 0);
  let first = -1;
  let failures = 0;
  for (let i = 0; i < 10_000; i++) {
    const status = statusOf(() => {
      const addr = sys.vmarMap(RW, 0, vmo, GiB);
      if (first < 0) first = addr;
      else if (addr !== first) throw new Error(`cycle ${i}: mapped at 0x${addr.toString(16)}, not the freed 0x${first.toString(16)}`);
      sys.vmarUnmap(addr, GiB);
    });
    if (status !== 0) failures++;
  }
  t.equal(failures, 0, 'every cycle maps at the freed address and unmaps');
  t.equal(kernelCounts(kernel).mappings, 0, 'no mapping left');
  sys.handleClose(vmo);
});

t.test('two live mappings never alias, across 10,000 cycles of a third', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const sys = kernel.sys;
  const a = sys.vmoCreate(PAGE_SIZE, 0);
  const b = sys.vmoCreate(GiB, 0);
  const keep = sys.vmarMap(RW, 0, a, PAGE_SIZE);
  sys.memWrite(keep, new Uint8Array([0xaa]));
  let aliased = 0;
  let last = -1;
  for (let i = 0; i < 10_000; i++) {
    const addr = sys.vmarMap(RW, 0, b, GiB);
    if (overlaps(addr, GiB, keep, PAGE_SIZE)) aliased++;
    last = addr;
    if (i % 1000 === 0) {
      sys.memWrite(addr, new Uint8Array([i & 0xff]));
      const through = new Uint8Array(1);
      sys.memRead(keep, through);
      if (through[0] !== 0xaa) aliased++;
    }
    if (i < 9_999) sys.vmarUnmap(addr, GiB);
  }
  t.equal(aliased, 0, 'no new mapping overlaps the live one, and writes through it never show there');
  const second = sys.vmarMap(RW, 0, a, PAGE_SIZE);
  t.notOk(overlaps(second, PAGE_SIZE, keep, PAGE_SIZE) || overlaps(second, PAGE_SIZE, last, GiB), 'a third live mapping overlaps neither');
  sys.handleClose(a);
  sys.handleClose(b);
});

t.test('a failed map leaves mapping records and references unchanged', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20, maxMappings: 3 });
  const sys = kernel.sys;
  const huge = sys.vmoCreate(2 ** 30 * PAGE_SIZE, 0); // 4 TiB: two do not fit the address space
  const small = sys.vmoCreate(PAGE_SIZE, 0);
  const first = sys.vmarMap(RW, 0, huge, 2 ** 30 * PAGE_SIZE);
  let before = kernelCounts(kernel);
  t.equal(statusName(statusOf(() => sys.vmarMap(RW, 0, huge, 2 ** 30 * PAGE_SIZE))), statusName(ZX_ERR_NO_RESOURCES), 'no room left: NO_RESOURCES');
  t.same(kernelCounts(kernel), before, 'nothing leaked by the failed map');
  const a = sys.vmarMap(RW, 0, small, PAGE_SIZE);
  const b = sys.vmarMap(RW, 0, small, PAGE_SIZE);
  t.ok(a + PAGE_SIZE <= b || b + PAGE_SIZE <= a, 'small mappings still fit and do not overlap');
  before = kernelCounts(kernel);
  t.equal(statusName(statusOf(() => sys.vmarMap(RW, 0, small, PAGE_SIZE))), statusName(ZX_ERR_NO_MEMORY), 'mapping table full: NO_MEMORY');
  t.same(kernelCounts(kernel), before, 'nothing leaked by the failed map');
  t.equal(statusName(statusOf(() => sys.vmarUnmap(first + PAGE_SIZE, PAGE_SIZE))), statusName(ZX_ERR_NO_MEMORY), 'a split with the table full: NO_MEMORY');
  t.same(kernelCounts(kernel), before, 'and the address space is unchanged');
  sys.vmarUnmap(first, 2 ** 30 * PAGE_SIZE);
  const again = sys.vmarMap(RW, 0, huge, 2 ** 30 * PAGE_SIZE);
  t.ok(again > 0, 'the freed range serves a new 4 TiB mapping');
  sys.handleClose(huge);
  sys.handleClose(small);
});

// ---- Handle reuse (defect 7) ----

/** Creates and closes a VMO `cycles` times; checks every closed value at once and all at the end. */
function closeCreateCycles(t: Test, kernel: Kernel, cycles: number): { reused: number; staleOk: number; wrongStatus: string[] } {
  const sys = kernel.sys;
  const seen = new Set<number>();
  const live = sys.vmoCreate(PAGE_SIZE, 0); // one long-lived object a stale value could name
  seen.add(live);
  let reused = 0;
  let staleOk = 0;
  const wrongStatus: string[] = [];
  const recent: number[] = []; // closed values, newest last (at most 256)
  for (let i = 0; i < cycles; i++) {
    const h = sys.vmoCreate(PAGE_SIZE, 0);
    if (seen.has(h)) reused++;
    seen.add(h);
    // While h is live, the values closed 1 and 128 cycles ago (a 7-bit generation's period) must
    // name nothing.
    for (const back of [1, 128]) {
      const stale = recent[recent.length - back];
      if (stale === undefined) continue;
      const s = statusOf(() => sys.vmoGetSize(stale));
      if (s !== ZX_ERR_BAD_HANDLE && wrongStatus.length < 5) wrongStatus.push(`cycle ${i}: value closed ${back} ago gave ${statusName(s)}`);
    }
    sys.handleClose(h);
    recent.push(h);
    if (recent.length > 256) recent.shift();
    const status = statusOf(() => sys.vmoGetSize(h));
    if (status === ZX_ERR_BAD_HANDLE) staleOk++;
    else if (wrongStatus.length < 5) wrongStatus.push(`cycle ${i}: ${statusName(status)}`);
  }
  seen.delete(live);
  for (const h of seen) {
    const status = statusOf(() => sys.vmoGetSize(h));
    if (status !== ZX_ERR_BAD_HANDLE && wrongStatus.length < 10) wrongStatus.push(`late 0x${h.toString(16)}: ${statusName(status)}`);
  }
  t.equal(sys.vmoGetSize(live), PAGE_SIZE, 'the long-lived handle still works');
  sys.handleClose(live);
  return { reused, staleOk, wrongStatus };
}

t.test('a closed handle value stays BAD_HANDLE over 100,000 close/create cycles', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const { reused, staleOk, wrongStatus } = closeCreateCycles(t, kernel, 100_000);
  t.equal(reused, 0, 'no handle value was issued twice');
  t.equal(staleOk, 100_000, 'every closed value gave BAD_HANDLE at once');
  t.same(wrongStatus, [], 'and still does after all cycles');
});

t.test('with a tiny table the guarantee holds for 2^genBits reuses of each slot', async (t) => {
  // Three slots: genBits = 27. Each slot comes back every third close (FIFO), so 150,000 cycles
  // reuse each slot 50,000 times; a 7-bit generation recurred after 128.
  const maxHandles = 3;
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20, maxHandles });
  t.equal(kernel.state.layout.handleGenBits, 27, 'the plan leaves 27 generation bits to 3 slots');
  t.equal(Kernel.create({ physicalMemory: 4 * 2 ** 20 }).state.layout.handleGenBits, 14, 'and 14 to the default 16384');
  const { reused, staleOk, wrongStatus } = closeCreateCycles(t, kernel, 150_000);
  t.equal(reused, 0, 'no handle value was issued twice');
  t.equal(staleOk, 150_000, 'every closed value gave BAD_HANDLE');
  t.same(wrongStatus, [], 'and still does after all cycles');
});

// ---- VMO lifetime: the last reference, not the last handle, closes the page source (defect 9) ----

/** The object slot of the VMO thread `tid` is blocked on. */
function blockedVmoOf(pager: UserPager, tid: number): number {
  const k = pager.kernel.state;
  return k.w[k.thr(threadSlotOf(k, tid)) + T_BLOCKED_VMO];
}

t.test('last handle closed while vmo_read waits: a supply still reaches the reader (ZX_OK)', async (t) => {
  const pager = await UserPager.create();
  try {
    const k = pager.kernel.state;
    const vmo = pager.createVmo(1);
    const reader = pager.startRead(vmo, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    ensure(t, await reader.waitForBlocked(), 'reader blocked');
    const slot = blockedVmoOf(pager, reader.tid);
    pager.releaseVmo(vmo); // the last handle; the reader's syscall still holds a reference
    t.notOk(await pager.waitForPageComplete(vmo.key, 0), 'no COMPLETE while the read is in flight');
    // The pager's side of the supply, by object slot: no handle to the VMO is left to name it.
    const aux = pager.sys.vmoCreate(PAGE_SIZE, 0);
    const data = new Uint8Array(PAGE_SIZE);
    fillExpected(data, vmo.key, 0);
    pager.sys.vmoWrite(aux, data, 0);
    const auxSlot = lookupHandle(k, aux, ZX_OBJ_TYPE_VMO, 0);
    k.addRef(slot); // the reader holds one too, so this one is not the last
    const status = supplyPages(k, slot, 0, 1, auxSlot, 0);
    k.release(slot);
    k.release(auxSlot);
    pager.sys.handleClose(aux);
    t.equal(statusName(status), statusName(0), 'the page source was still open');
    t.ok(checkContent(await reader.wait<Uint8Array>(), vmo.key, 0), 'the reader gets its data');
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE once the last reference went');
  } finally {
    await pager.close();
  }
});

t.test('last handle closed while vmo_read waits: closing the pager fails it with BAD_STATE', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const reader = pager.startRead(vmo, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    ensure(t, await reader.waitForBlocked(), 'reader blocked');
    pager.releaseVmo(vmo);
    t.ok(await reader.waitForBlocked(0), 'still blocked after its last handle closed');
    pager.closePagerHandle();
    await reader.waitForFailure(ZX_ERR_BAD_STATE);
    t.pass('the read failed with BAD_STATE');
  } finally {
    await pager.close();
  }
});

t.test('a fault waiting on a VMO does not keep it alive: unmapped and closed, it dies and the fault finds no mapping', async (t) => {
  const pager = await UserPager.create();
  try {
    const vmo = pager.createVmo(1);
    const base = mapVmo(pager, vmo);
    const reader = startMemReadPages(pager, base, 0, 1);
    ensure(t, await pager.waitForPageRead(vmo, 0, 1), 'R(0,1)');
    ensure(t, await reader.waitForBlocked(), 'faulting reader blocked');
    pager.sys.vmarUnmap(base, PAGE_SIZE);
    pager.releaseVmo(vmo); // the last reference: the VMO dies and its source closes
    t.ok(await pager.waitForPageComplete(vmo.key), 'COMPLETE');
    await reader.waitForCrash(base, ZX_ERR_NOT_FOUND);
    t.pass('the retried fault found no mapping');
  } finally {
    await pager.close();
  }
});
