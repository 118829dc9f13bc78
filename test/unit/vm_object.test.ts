// VmObjectPaged bookkeeping (core/vm/vm_object.ts) on an in-process kernel, calling the module
// directly under the VMO lock: the absent-page predicate against each kind of offset, and
// releasePagesLocked's three modes against the page list, the committed-page count and the frame pool.
// The kernel's invariants (committed counts against page lists and frame owners) hold after each step.

import t from 'tap';
import { Kernel, PAGE_SIZE, ZX_VMO_RESIZABLE } from '../../core/index.js';
import type { KernelState } from '../../core/kernel_state.js';
import { lookupHandle } from '../../core/object/handle_table.js';
import { lookupSlot } from '../../core/vm/page_list.js';
import { freeFrameCount } from '../../core/vm/pmm.js';
import { committedPages, isAbsentLocked, releasePagesLocked, ReleaseKeep } from '../../core/vm/vm_object.js';
import { ZX_OBJ_TYPE_VMO } from '../../shared/constants.js';
import { DirtyState, SlotKind, slotDirtyState, slotKind } from '../../shared/page_slot.js';

interface World {
  kernel: Kernel;
  k: KernelState;
  vmo: number;
  anon: number;
}

/**
 * A pager VMO of 16 pages: 0-1 Clean pages, 2-3 zero markers, 4 a page supplied and then dirtied,
 * 5-15 absent, then grown to 20 (16-19 a zero interval); and an anonymous VMO with pages 0-2 committed.
 */
function build(): World {
  const kernel = Kernel.create({ physicalMemory: 32 * PAGE_SIZE, maxThreads: 4, maxHandles: 32, maxObjects: 16, maxPortPackets: 8, maxZeroIntervals: 8, maxMappings: 4, maxPageListNodes: 32 });
  const { sys } = kernel;
  const k = kernel.state;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const h = sys.pagerCreateVmo(pager, ZX_VMO_RESIZABLE, port, 1n, 16 * PAGE_SIZE);
  const aux = sys.vmoCreate(5 * PAGE_SIZE, 0);
  sys.vmoWrite(aux, new Uint8Array(2 * PAGE_SIZE).fill(7), 0); // aux pages 0-1 committed, 2-3 markers
  sys.vmoWrite(aux, new Uint8Array(PAGE_SIZE).fill(8), 4 * PAGE_SIZE);
  sys.pagerSupplyPages(pager, h, 0, 5 * PAGE_SIZE, aux, 0);
  sys.vmoWrite(h, new Uint8Array([9]), 4 * PAGE_SIZE); // a write makes the page Dirty (no TRAP_DIRTY)
  sys.vmoSetSize(h, 20 * PAGE_SIZE);
  const a = sys.vmoCreate(4 * PAGE_SIZE, 0);
  sys.vmoWrite(a, new Uint8Array(3 * PAGE_SIZE).fill(1), 0);
  const vmo = lookupHandle(k, h, ZX_OBJ_TYPE_VMO, 0);
  const anon = lookupHandle(k, a, ZX_OBJ_TYPE_VMO, 0);
  k.release(vmo);
  k.release(anon);
  return { kernel, k, vmo, anon };
}

function kinds(k: KernelState, vmo: number, pages: number): string {
  let s = '';
  for (let p = 0; p < pages; p++) {
    const slot = lookupSlot(k, vmo, p);
    const kind = slotKind(slot);
    s += kind === SlotKind.Empty ? '.' : kind === SlotKind.Marker ? 'm' : slotDirtyState(slot) === DirtyState.Clean ? 'c' : 'd';
  }
  return s;
}

t.test('the world is what build() says', async (t) => {
  const { kernel, k, vmo, anon } = build();
  t.equal(kinds(k, vmo, 8), 'ccmmd...');
  t.equal(committedPages(k, vmo), 3);
  t.equal(committedPages(k, anon), 3);
  kernel.assertInvariants();
  kernel.close();
});

t.test('isAbsentLocked: only an empty offset of a pager VMO outside every zero interval', async (t) => {
  const { kernel, k, vmo, anon } = build();
  k.lockObject(vmo);
  const absent = (p: number): boolean => isAbsentLocked(k, vmo, p, lookupSlot(k, vmo, p));
  t.same([0, 2, 4, 5, 15, 16, 19].map(absent), [false, false, false, true, true, false, false], 'page, marker, dirty page, gaps, zero interval');
  k.unlockObject(vmo);
  k.lockObject(anon);
  t.notOk(isAbsentLocked(k, anon, 3, lookupSlot(k, anon, 3)), 'an anonymous hole reads as zeros');
  k.unlockObject(anon);
  kernel.close();
});

t.test('releasePagesLocked: each mode keeps what it names, frees frames and keeps the count', async (t) => {
  for (const [mode, want, freedWant] of [
    [ReleaseKeep.Nothing, '........', 3],
    [ReleaseKeep.Markers, '..mm....', 3],
    [ReleaseKeep.DirtyPages, '....d...', 2],
  ] as const) {
    const { kernel, k, vmo } = build();
    const free = freeFrameCount(k);
    k.lockObject(vmo);
    const freed = releasePagesLocked(k, vmo, 0, 20, mode);
    k.unlockObject(vmo);
    t.equal(kinds(k, vmo, 8), want, `mode ${mode}: page list`);
    t.equal(freed, freedWant, `mode ${mode}: frames freed`);
    t.equal(freeFrameCount(k), free + freedWant, `mode ${mode}: frames back in the pool`);
    t.equal(committedPages(k, vmo), 3 - freedWant, `mode ${mode}: committed count`);
    t.same(kernel.checkInvariants(), [], `mode ${mode}: invariants`);
    kernel.close();
  }
});

t.test('a sub-range release touches nothing outside it', async (t) => {
  const { kernel, k, vmo, anon } = build();
  k.lockObject(anon);
  t.equal(releasePagesLocked(k, anon, 1, 2, ReleaseKeep.Nothing), 1);
  k.unlockObject(anon);
  t.equal(kinds(k, anon, 4), 'c.c.');
  t.equal(committedPages(k, anon), 2);
  t.equal(kinds(k, vmo, 8), 'ccmmd...', 'the other VMO is untouched');
  kernel.assertInvariants();
  kernel.close();
});
