// Unit tests of core/object/handle_table.ts, calling its functions directly on an in-process kernel:
// handle allocation and close, FIFO reuse of freed slots, generation bits that make a stale value
// ZX_ERR_BAD_HANDLE, duplicate/replace rights, object records and thread records. Each test ends
// with the invariant checker, so a leaked reference or a broken free list fails it too.

import t from 'tap';
import type { Test } from 'tap';
import { Kernel, PAGE_SIZE } from '../../core/index.js';
import {
  addHandle,
  allocObject,
  allocThread,
  closeHandle,
  duplicateHandle,
  freeObject,
  freeThread,
  handleRights,
  lookupHandle,
  objectKoid,
  objectType,
  replaceHandle,
  threadSlotOf,
  threadState,
  threadTidOf,
} from '../../core/object/handle_table.js';
import type { KernelState } from '../../core/kernel_state.js';
import { ObjType } from '../../shared/layout.js';
import {
  ZX_OBJ_TYPE_PORT,
  ZX_OBJ_TYPE_VMO,
  ZX_RIGHT_DUPLICATE,
  ZX_RIGHT_READ,
  ZX_RIGHT_SAME_RIGHTS,
  ZX_RIGHT_TRANSFER,
  ZX_RIGHT_WRITE,
  ZX_THREAD_STATE_DEAD,
  ZX_THREAD_STATE_NEW,
} from '../../shared/constants.js';
import { ZX_ERR_ACCESS_DENIED, ZX_ERR_BAD_HANDLE, ZX_ERR_INVALID_ARGS, ZX_ERR_NO_RESOURCES, ZX_ERR_WRONG_TYPE, ZX_OK } from '../../shared/status.js';

const MAX_HANDLES = 8;

/** A small kernel and one VMO (object slot) with no handle: the tests add their own. */
function setUp(t: Test): { kernel: Kernel; k: KernelState; vmo: number } {
  const kernel = Kernel.create({ physicalMemory: 16 * PAGE_SIZE, maxThreads: 8, maxHandles: MAX_HANDLES, maxObjects: 16 });
  const k = kernel.state;
  const handle = kernel.sys.vmoCreate(PAGE_SIZE, 0);
  const vmo = lookupHandle(k, handle, ZX_OBJ_TYPE_VMO, 0);
  k.addRef(vmo); // the test's own reference, so closing every handle does not destroy it
  k.release(vmo); // the lookup's
  t.equal(closeHandle(k, handle), ZX_OK, 'set-up handle closed');
  return { kernel, k, vmo };
}

/** Drops the test's reference on the VMO and checks the kernel's bookkeeping is whole. */
function tearDown(t: Test, kernel: Kernel, vmo: number): void {
  kernel.state.release(vmo);
  t.same(kernel.checkInvariants(), [], 'invariants hold');
}

/** The handle-table slot a handle value names (the layout's encoding). */
function slotOf(k: KernelState, value: number): number {
  return (value >>> k.layout.handleSlotShift) - 1;
}

t.test('a handle names its object until it is closed', (t) => {
  const { kernel, k, vmo } = setUp(t);
  const rights = ZX_RIGHT_READ | ZX_RIGHT_DUPLICATE;
  const h = addHandle(k, vmo, rights);
  t.ok(h > 0, 'a handle value');
  t.equal(k.objects.handles(vmo), 1, 'the object counts its handle');
  t.equal(handleRights(k, h), rights, 'its rights');
  const found = lookupHandle(k, h, ZX_OBJ_TYPE_VMO, ZX_RIGHT_READ);
  t.equal(found, vmo, 'lookup finds the object');
  k.release(found);
  t.equal(lookupHandle(k, h, ZX_OBJ_TYPE_PORT, 0), ZX_ERR_WRONG_TYPE, 'wrong type');
  t.equal(lookupHandle(k, h, ZX_OBJ_TYPE_VMO, ZX_RIGHT_WRITE), ZX_ERR_ACCESS_DENIED, 'missing right');
  t.equal(closeHandle(k, h), ZX_OK);
  t.equal(k.objects.handles(vmo), 0, 'no handle left');
  t.equal(lookupHandle(k, h, ZX_OBJ_TYPE_VMO, 0), ZX_ERR_BAD_HANDLE, 'a closed handle is bad');
  t.equal(closeHandle(k, h), ZX_ERR_BAD_HANDLE, 'closing it again is bad');
  t.equal(closeHandle(k, 0), ZX_OK, 'closing ZX_HANDLE_INVALID is a no-op');
  for (const bad of [-1, 1, 2, 0x7fffffff, 1.5]) t.equal(lookupHandle(k, bad, 0, 0), ZX_ERR_BAD_HANDLE, `value ${bad} names no handle`);
  tearDown(t, kernel, vmo);
  t.end();
});

t.test('a full table says NO_RESOURCES; freed slots are reused first in, first out', (t) => {
  const { kernel, k, vmo } = setUp(t);
  const values: number[] = [];
  for (let h = addHandle(k, vmo, ZX_RIGHT_READ); h > 0; h = addHandle(k, vmo, ZX_RIGHT_READ)) values.push(h);
  t.equal(values.length, MAX_HANDLES, 'every slot handed out');
  t.equal(addHandle(k, vmo, ZX_RIGHT_READ), ZX_ERR_NO_RESOURCES, 'then NO_RESOURCES');
  const [a, b, c] = values as [number, number, number];
  closeHandle(k, b);
  closeHandle(k, a);
  closeHandle(k, c);
  const reused = [addHandle(k, vmo, ZX_RIGHT_READ), addHandle(k, vmo, ZX_RIGHT_READ), addHandle(k, vmo, ZX_RIGHT_READ)];
  t.same(
    reused.map((h) => slotOf(k, h)),
    [b, a, c].map((h) => slotOf(k, h)),
    'slots come back in the order they were freed',
  );
  for (const h of [...values.slice(3), ...reused]) closeHandle(k, h);
  tearDown(t, kernel, vmo);
  t.end();
});

t.test('a reused slot has a new generation: the stale value is BAD_HANDLE', (t) => {
  const { kernel, k, vmo } = setUp(t);
  const stale = addHandle(k, vmo, ZX_RIGHT_READ);
  closeHandle(k, stale);
  // FIFO reuse: the stale slot comes back after every other free slot.
  const live: number[] = [];
  let again = -1;
  for (let i = 0; i < MAX_HANDLES && again < 0; i++) {
    const h = addHandle(k, vmo, ZX_RIGHT_READ);
    if (slotOf(k, h) === slotOf(k, stale)) again = h;
    else live.push(h);
  }
  t.ok(again > 0, 'the slot was reused');
  t.not(again, stale, 'under a new value');
  t.equal(lookupHandle(k, stale, 0, 0), ZX_ERR_BAD_HANDLE, 'the stale value names nothing');
  t.equal(closeHandle(k, stale), ZX_ERR_BAD_HANDLE, 'and cannot close the new handle');
  const found = lookupHandle(k, again, 0, 0);
  t.equal(found, vmo, 'the new value works');
  k.release(found);
  for (const h of [...live, again]) closeHandle(k, h);
  tearDown(t, kernel, vmo);
  t.end();
});

t.test('duplicate: needs DUPLICATE, keeps or narrows rights, never widens them', (t) => {
  const { kernel, k, vmo } = setUp(t);
  const rights = ZX_RIGHT_READ | ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER;
  const h = addHandle(k, vmo, rights);
  const same = duplicateHandle(k, h, ZX_RIGHT_SAME_RIGHTS);
  t.ok(same > 0 && same !== h, 'a new handle');
  t.equal(handleRights(k, same), rights, 'SAME_RIGHTS keeps them');
  const narrow = duplicateHandle(k, h, ZX_RIGHT_READ);
  t.equal(handleRights(k, narrow), ZX_RIGHT_READ, 'a subset');
  t.equal(duplicateHandle(k, h, ZX_RIGHT_READ | ZX_RIGHT_WRITE), ZX_ERR_INVALID_ARGS, 'a right it lacks');
  t.equal(duplicateHandle(k, narrow, ZX_RIGHT_SAME_RIGHTS), ZX_ERR_ACCESS_DENIED, 'no DUPLICATE right');
  t.equal(duplicateHandle(k, 12345, ZX_RIGHT_SAME_RIGHTS), ZX_ERR_BAD_HANDLE, 'a bad handle');
  t.equal(k.objects.handles(vmo), 3, 'three handles');
  for (const x of [h, same, narrow]) t.equal(closeHandle(k, x), ZX_OK);
  tearDown(t, kernel, vmo);
  t.end();
});

t.test('replace: the old value is consumed whether or not it succeeds', (t) => {
  const { kernel, k, vmo } = setUp(t);
  const h = addHandle(k, vmo, ZX_RIGHT_READ | ZX_RIGHT_WRITE);
  const r = replaceHandle(k, h, ZX_RIGHT_READ);
  t.ok(r > 0 && r !== h, 'a new value');
  t.equal(handleRights(k, r), ZX_RIGHT_READ, 'with the narrowed rights');
  t.equal(handleRights(k, h), ZX_ERR_BAD_HANDLE, 'the old value is gone');
  t.equal(k.objects.handles(vmo), 1, 'still one handle: no gap where the count reached zero');
  t.equal(replaceHandle(k, r, ZX_RIGHT_READ | ZX_RIGHT_WRITE), ZX_ERR_INVALID_ARGS, 'widening fails');
  t.equal(handleRights(k, r), ZX_ERR_BAD_HANDLE, 'and consumed the handle');
  t.equal(k.objects.handles(vmo), 0, 'no handle left');
  t.equal(replaceHandle(k, r, ZX_RIGHT_SAME_RIGHTS), ZX_ERR_BAD_HANDLE, 'a bad handle');
  tearDown(t, kernel, vmo);
  t.end();
});

t.test('object records: fresh koids, freed records return to the free list', (t) => {
  const { kernel, k, vmo } = setUp(t);
  const a = allocObject(k, ObjType.Process);
  const b = allocObject(k, ObjType.Process);
  t.ok(a >= 0 && b >= 0 && a !== b, 'two records');
  t.equal(objectType(k, a), ObjType.Process);
  t.ok(objectKoid(k, b) > objectKoid(k, a), 'koids increase');
  t.equal(k.objects.refs(a), 0, 'no reference yet');
  freeObject(k, b);
  freeObject(k, a);
  t.equal(objectType(k, a), ObjType.Free, 'freed');
  t.equal(allocObject(k, ObjType.Process), a, 'the last freed record is reused first');
  freeObject(k, a);
  tearDown(t, kernel, vmo);
  t.end();
});

t.test('thread records: ids name a live slot until it is freed', (t) => {
  const { kernel, k, vmo } = setUp(t);
  const first = allocThread(k);
  if (typeof first === 'number') throw new Error(`allocThread: ${first}`);
  t.equal(threadTidOf(k, first.slot), first.tid, 'the id encodes the slot');
  t.equal(threadSlotOf(k, first.tid), first.slot, 'and names it');
  t.equal(threadState(k, first.tid), ZX_THREAD_STATE_NEW, 'a new thread');
  t.equal(freeThread(k, first.slot), -1, 'no process exits (the root process)');
  t.equal(threadSlotOf(k, first.tid), -1, 'a freed thread id names nothing');
  t.equal(threadState(k, first.tid), ZX_THREAD_STATE_DEAD, 'and reads as dead');
  const second = allocThread(k);
  if (typeof second === 'number') throw new Error(`allocThread: ${second}`);
  t.equal(second.slot, first.slot, 'the slot is reused');
  t.not(second.tid, first.tid, 'under a new id');
  t.equal(threadSlotOf(k, first.tid), -1, 'the old id still names nothing');
  freeThread(k, second.slot);
  tearDown(t, kernel, vmo);
  t.end();
});
