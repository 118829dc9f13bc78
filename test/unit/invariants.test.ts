// kernel.checkInvariants() (core/invariants.ts): a kernel holding one of everything (pager VMO with
// clean, dirty and zero-marker pages, a zero interval, an outstanding request with its packet queued,
// a user packet, a mapping, an anonymous VMO) passes; then each corruption, applied on a fresh copy of
// that kernel, must be reported. This is the proof that every check can fail.

import t from 'tap';
import { Kernel, PAGE_SIZE, ZX_PAGER_OP_DIRTY, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VMO_OP_ZERO, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { populateRequestLocked } from '../../core/vm/page_source.js';
import { slotIndex } from '../../core/vm/page_list.js';
import { lookupHandle } from '../../core/object/handle_table.js';
import {
  H_FREE_FRAMES,
  H_FREE_HANDLE,
  H_FREE_NODE,
  H_HEAP_LOCK,
  M_BASE_PAGE,
  N_MASK_DIRTY,
  N_NEXT_FREE,
  O_HANDLES,
  O_LOCK,
  O_REFS,
  PageRequestType,
  PT_USER_COUNT,
  R_LEADER,
  R_STATE,
  RequestState,
  T_IN_USE,
  V_COMMITTED_PAGES,
  V_MAP_COUNT,
  V_OUT_READ,
  V_ROOT_NODE,
  V_ZERO_HEAD,
  Z_END,
} from '../../shared/layout.js';
import { ZX_OBJ_TYPE_PORT, ZX_OBJ_TYPE_VMO } from '../../shared/constants.js';
import { slotFrame } from '../../shared/page_slot.js';

interface World {
  kernel: Kernel;
  vmo: number; // object slots
  anon: number;
  port: number;
  mapping: number; // mapping record index of the first mapping
}

/** One of everything, built from the main thread only. */
function buildWorld(): World {
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: 8, maxHandles: 64, maxObjects: 32, maxPortPackets: 32, maxZeroIntervals: 16, maxMappings: 8, maxPageListNodes: 64 });
  const { sys } = kernel;
  const k = kernel.state;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmo = sys.pagerCreateVmo(pager, ZX_VMO_RESIZABLE | ZX_VMO_TRAP_DIRTY, port, 1n, 16 * PAGE_SIZE);
  const aux = sys.vmoCreate(4 * PAGE_SIZE, 0);
  sys.vmoWrite(aux, new Uint8Array(2 * PAGE_SIZE).fill(7), 0); // pages 0-1 committed, 2-3 become zero markers
  sys.pagerSupplyPages(pager, vmo, 0, 4 * PAGE_SIZE, aux, 0);
  sys.pagerOpRange(pager, ZX_PAGER_OP_DIRTY, vmo, PAGE_SIZE, 2 * PAGE_SIZE); // page 1 Dirty, marker 2 a Dirty zero page
  sys.vmoWrite(vmo, new Uint8Array(16).fill(9), PAGE_SIZE);
  sys.vmoSetSize(vmo, 20 * PAGE_SIZE); // grown tail: a dirty zero interval
  sys.vmoOpRange(vmo, ZX_VMO_OP_ZERO, 8 * PAGE_SIZE, 2 * PAGE_SIZE);
  const addr = sys.vmarMap(ZX_VM_PERM_READ | ZX_VM_PERM_WRITE, 0, vmo, 4 * PAGE_SIZE);
  sys.vmarMap(ZX_VM_PERM_READ, 0, vmo, PAGE_SIZE);
  const anon = sys.vmoCreate(4 * PAGE_SIZE, 0);
  sys.vmoWrite(anon, new Uint8Array(3 * PAGE_SIZE).fill(1), 0);
  sys.portQueue(port, { key: 5n });
  const v = lookupHandle(k, vmo, ZX_OBJ_TYPE_VMO, 0);
  const a = lookupHandle(k, anon, ZX_OBJ_TYPE_VMO, 0);
  const pt = lookupHandle(k, port, ZX_OBJ_TYPE_PORT, 0);
  for (const o of [v, a, pt]) k.release(o);
  // An outstanding READ for pages 12-13 with its packet queued, as a thread about to wait leaves it.
  k.lockObject(v);
  populateRequestLocked(k, v, kernel.sysThreadSlot, PageRequestType.Read, 12, 2, false);
  k.unlockObject(v);
  let mapping = -1;
  for (let m = 0; m < k.layout.maxMappings && mapping < 0; m++) if (k.w[k.map(m) + M_BASE_PAGE] === addr / PAGE_SIZE) mapping = m;
  return { kernel, vmo: v, anon: a, port: pt, mapping };
}

t.test('a kernel holding one of everything passes', async (t) => {
  const { kernel } = buildWorld();
  t.same(kernel.checkInvariants(), []);
  kernel.close();
});

const corruptions: [string, RegExp, (w: World) => void][] = [
  ['an extra VMO reference', /references, expected/, ({ kernel: { state: k }, vmo }) => void Atomics.add(k.w, k.obj(vmo) + O_REFS, 1)],
  ['a lost handle count', /handles in the table/, ({ kernel: { state: k }, anon }) => void Atomics.sub(k.w, k.obj(anon) + O_HANDLES, 1)],
  ['a held VMO lock', /lock is held/, ({ kernel: { state: k }, vmo }) => void (k.w[k.obj(vmo) + O_LOCK] = 1)],
  ['a held heap lock', /H_HEAP_LOCK is held/, ({ kernel: { state: k } }) => void (k.w[H_HEAP_LOCK] = 1)],
  ['a wrong committed count', /vmos.committedPages/, ({ kernel: { state: k }, vmo }) => void (k.w[k.obj(vmo) + V_COMMITTED_PAGES] += 1)],
  ['a frame with the wrong owner page', /has owner/, ({ kernel: { state: k }, vmo }) => {
    const f = slotFrame(k.w[slotIndex(k, vmo, 0)]);
    k.w[k.layout.frameOwnerPage + f] = 5;
  }],
  ['a leaked frame', /frames: .* != /, ({ kernel: { state: k } }) => void (k.w[H_FREE_FRAMES] -= 1)],
  ['a stale dirty summary', /dirty mask/, ({ kernel: { state: k }, vmo }) => void (k.w[k.node(k.w[k.obj(vmo) + V_ROOT_NODE]) + N_MASK_DIRTY] ^= 1)],
  ['a leaked page-list node', /page-list nodes: .*leaked/, ({ kernel: { state: k } }) => {
    const n = k.w[H_FREE_NODE];
    k.w[H_FREE_NODE] = k.w[k.node(n) + N_NEXT_FREE];
  }],
  ['a zero interval past the end', /beyond the size/, ({ kernel: { state: k }, vmo }) => void (k.w[k.zint(k.w[k.obj(vmo) + V_ZERO_HEAD]) + Z_END] = 1000)],
  ['a wrong mapping count', /vmos.mapCount/, ({ kernel: { state: k }, vmo }) => void Atomics.add(k.w, k.obj(vmo) + V_MAP_COUNT, 1)],
  ['two mappings at one address', /overlap in the address space/, ({ kernel: { state: k }, mapping }) => {
    for (let m = 0; m < k.layout.maxMappings; m++) if (m !== mapping) k.w[k.map(m) + M_BASE_PAGE] = k.w[k.map(mapping) + M_BASE_PAGE];
  }],
  ['a wrong user-packet count', /user packets queued/, ({ kernel: { state: k }, port }) => void (k.w[k.obj(port) + PT_USER_COUNT] += 1)],
  ['a cycle in the handle free list', /cycle|free \+ .* live/, ({ kernel: { state: k } }) => {
    const h = k.w[H_FREE_HANDLE];
    k.w[k.layout.handleNextFree + h] = h;
  }],
  ['a freed thread whose request is still linked', /free thread .* still has|dead thread slot/, ({ kernel }) => {
    const k = kernel.state;
    const t = k.thr(kernel.sysThreadSlot);
    k.w[t + T_IN_USE] = 0; // freed without withdrawing its request (the ThreadPool.close defect)
  }],
  ['a follower with no leader', /follower .* has no leader/, ({ kernel }) => {
    const k = kernel.state;
    const t = k.thr(kernel.sysThreadSlot);
    k.w[t + R_STATE] = RequestState.Follower;
    k.w[t + R_LEADER] = -1;
  }],
  ['an outstanding list naming a non-leader', /not a READ leader/, ({ kernel: { state: k }, anon, vmo }) => {
    const r = k.w[k.obj(vmo) + V_OUT_READ];
    k.w[k.obj(anon) + V_OUT_READ] = r; // the anonymous VMO now claims vmo's request
  }],
];

for (const [name, pattern, corrupt] of corruptions) {
  t.test(`detects ${name}`, async (t) => {
    const world = buildWorld();
    corrupt(world);
    const problems = world.kernel.checkInvariants();
    t.ok(problems.some((p) => pattern.test(p)), `${pattern} in ${JSON.stringify(problems)}`);
  });
}
