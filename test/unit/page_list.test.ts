// VmPageList (core/vm/page_list.ts) against a plain map: random slot writes on trees of height 1 to 6,
// then, after every batch, the summary invariants (each node's used/dirty masks and each interior
// node's copy of its children's dirty masks) and forEachDirtyRun / nextDirtyPage / nextPresentPage
// over random windows, compared with the same answers computed from the map.

import t from 'tap';
import { Kernel, PAGE_SIZE } from '../../core/index.js';
import type { KernelState } from '../../core/kernel_state.js';
import { lookupHandle } from '../../core/object/handle_table.js';
import { forEachDirtyRun, nextDirtyPage, nextPresentPage, setSlot } from '../../core/vm/page_list.js';
import { N_CHILD_DIRTY, N_LEVEL, N_MASK_DIRTY, N_MASK_USED, NODE_FANOUT, V_ROOT_NODE, V_TREE_HEIGHT } from '../../shared/layout.js';
import { DirtyState, EMPTY_SLOT, isDirtyTracked, isPresent, makeMarkerSlot, makePageSlot } from '../../shared/page_slot.js';

/** A deterministic generator (xorshift32) so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Walks the tree and returns the first broken invariant, or '' when all hold. */
function checkTree(k: KernelState, vmo: number, slots: Map<number, number>): string {
  const w = k.w;
  const root = w[k.obj(vmo) + V_ROOT_NODE];
  if (root < 0) return slots.size === 0 ? '' : 'empty tree but the map holds slots';
  const h = w[k.obj(vmo) + V_TREE_HEIGHT];
  let seen = 0;
  const visit = (n: number, level: number, base: number): string => {
    const nb = k.node(n);
    if (w[nb + N_LEVEL] !== level) return `node ${n}: level ${w[nb + N_LEVEL]} != ${level}`;
    let used = 0;
    let dirty = 0;
    for (let j = 0; j < NODE_FANOUT; j++) {
      const e = w[nb + j];
      if (level === 0) {
        const want = slots.get(base + j) ?? EMPTY_SLOT;
        if (e !== want) return `page ${base + j}: slot ${e} != ${want}`;
        if (isPresent(e)) {
          used |= 1 << j;
          seen++;
        }
        if (isDirtyTracked(e)) dirty |= 1 << j;
        continue;
      }
      if (e === 0) {
        if (w[nb + N_CHILD_DIRTY + j] !== 0) return `node ${n}: child-dirty copy ${j} set for no child`;
        continue;
      }
      const child = e - 1;
      const cb = k.node(child);
      if (w[cb + N_MASK_USED] === 0) return `node ${child}: empty node left in the tree`;
      if (w[nb + N_CHILD_DIRTY + j] !== w[cb + N_MASK_DIRTY]) return `node ${n}: child-dirty copy ${j} = ${w[nb + N_CHILD_DIRTY + j]}, child's mask ${w[cb + N_MASK_DIRTY]}`;
      used |= 1 << j;
      if (w[cb + N_MASK_DIRTY] !== 0) dirty |= 1 << j;
      const r = visit(child, level - 1, base + j * NODE_FANOUT ** level);
      if (r) return r;
    }
    if (w[nb + N_MASK_USED] !== used) return `node ${n}: used mask ${w[nb + N_MASK_USED]} != ${used}`;
    if (w[nb + N_MASK_DIRTY] !== dirty) return `node ${n}: dirty mask ${w[nb + N_MASK_DIRTY]} != ${dirty}`;
    return '';
  };
  const r = visit(root, h - 1, 0);
  if (r) return r;
  return seen === slots.size ? '' : `tree holds ${seen} slots, map ${slots.size}`;
}

function expectedRuns(slots: Map<number, number>, from: number, limit: number): Array<[number, number]> {
  const pages = [...slots].filter(([p, s]) => p >= from && p < limit && isDirtyTracked(s)).map(([p]) => p).sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const p of pages) {
    const last = runs[runs.length - 1];
    if (last && last[1] === p) last[1] = p + 1;
    else runs.push([p, p + 1]);
  }
  return runs;
}

function firstMatching(slots: Map<number, number>, from: number, limit: number, pred: (slot: number) => boolean): number {
  let best = limit;
  for (const [p, s] of slots) if (p >= from && p < best && pred(s)) best = p;
  return best;
}

const SIZES = [20, 1000, 30_000, 2 ** 20, 2 ** 26];

for (const pages of SIZES) {
  t.test(`a ${pages}-page tree agrees with a map`, async (t) => {
    const seed = 0x9e3779b9 ^ pages;
    const rand = rng(seed);
    const kernel = Kernel.create({ physicalMemory: 16 * 2 ** 20 });
    const k = kernel.state;
    const sys = kernel.sys;
    const pager = sys.pagerCreate(0);
    const port = sys.portCreate(0);
    const handle = sys.pagerCreateVmo(pager, 0, port, 1n, pages * PAGE_SIZE);
    const vmo = lookupHandle(k, handle, 0, 0);
    const slots = new Map<number, number>();
    // A few clusters, so runs cross leaf and interior-node boundaries; the rest spread thin.
    const centers = Array.from({ length: 4 }, () => Math.floor(rand() * pages));
    const pickPage = (): number => {
      if (rand() < 0.3) return Math.floor(rand() * pages);
      const c = centers[Math.floor(rand() * centers.length)];
      return Math.min(pages - 1, Math.max(0, c + Math.floor((rand() - 0.5) * 200)));
    };
    const states = [DirtyState.Clean, DirtyState.Dirty, DirtyState.AwaitingClean];
    let failures = 0;
    try {
      // Dirty pages at growing offsets first, so the root grows over dirty subtrees (growRoot).
      for (let p = 0; p < pages; p = p * 37 + 1) {
        const slot = makePageSlot(1 + (p % 1000), DirtyState.Dirty);
        k.lockObject(vmo);
        setSlot(k, vmo, p, slot);
        k.unlockObject(vmo);
        slots.set(p, slot);
      }
      for (let batch = 0; batch < 40 && failures === 0; batch++) {
        for (let i = 0; i < 60; i++) {
          const p = pickPage();
          const r = rand();
          // Frame numbers are made up: every slot is emptied again before the kernel closes.
          const slot = r < 0.3 ? EMPTY_SLOT : r < 0.4 ? makeMarkerSlot() : makePageSlot(1 + (p % 1000), states[Math.floor(rand() * 3)]);
          k.lockObject(vmo);
          setSlot(k, vmo, p, slot);
          k.unlockObject(vmo);
          if (slot === EMPTY_SLOT) slots.delete(p);
          else slots.set(p, slot);
        }
        k.lockObject(vmo);
        const broken = checkTree(k, vmo, slots);
        for (let q = 0; q < 8 && !broken; q++) {
          const a = Math.floor(rand() * pages);
          const b = Math.floor(rand() * pages);
          const [from, limit] = q === 0 ? [0, pages] : [Math.min(a, b), Math.max(a, b) + 1];
          const got: Array<[number, number]> = [];
          forEachDirtyRun(k, vmo, from, limit, (s, e) => got.push([s, e]));
          const want = expectedRuns(slots, from, limit);
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            failures++;
            t.same(got, want, `seed ${seed} batch ${batch}: dirty runs in [${from}, ${limit})`);
          }
          const nd = nextDirtyPage(k, vmo, from, limit);
          const np = nextPresentPage(k, vmo, from, limit);
          if (nd !== firstMatching(slots, from, limit, isDirtyTracked) || np !== firstMatching(slots, from, limit, isPresent)) {
            failures++;
            t.fail(`seed ${seed} batch ${batch}: next dirty/present in [${from}, ${limit}) = ${nd}/${np}`);
          }
        }
        k.unlockObject(vmo);
        if (broken) {
          failures++;
          t.fail(`seed ${seed} batch ${batch}: ${broken}`);
        }
      }
      if (failures === 0) t.pass(`${slots.size} slots; tree invariants and walks agree after every batch`);
    } finally {
      k.lockObject(vmo);
      for (const p of slots.keys()) setSlot(k, vmo, p, EMPTY_SLOT);
      k.unlockObject(vmo);
      k.release(vmo);
      for (const h of [handle, port, pager]) sys.handleClose(h);
      kernel.close();
    }
  });
}
