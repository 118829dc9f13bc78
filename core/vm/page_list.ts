// VmPageList: a VMO's sparse page slots as a radix tree of NODE_FANOUT-way nodes in shared memory.
// Metadata grows with the pages a VMO holds, not with its size: an absent range costs nothing, and
// every node keeps two summary bitmasks (entries in use, entries Dirty/AwaitingClean) so that
// "next present page" and "next dirty page" cost O(height) per hit instead of O(pages scanned), and
// every interior node keeps a copy of each child's dirty mask, so the dirty-run walk reads leaf bits
// from level-1 nodes and never visits a leaf.
// Interior entries hold child node index + 1 (0 = no child); leaf entries are page slot words
// (shared/page_slot.ts). All functions require the VMO lock (the callers are *Locked paths).
//
// A documented hot leaf (shared/records.ts): slotIndex / slotAt / setSlotInPlace hand out a slot's
// word index, so that a read or write loop looks a page up once and updates its age flags in place.
// Everything else goes through the k.nodes / k.vmos accessors (forEachDirtyRun, the inner loop of
// query_dirty_ranges, included: bench/query_dirty_ranges.ts measured it as fast as inline addresses).

import { assert } from '../../shared/assert.js';
import { NODE_FANOUT, NODE_SHIFT } from '../../shared/layout.js';
import { EMPTY_SLOT, isDirtyTracked, isPresent } from '../../shared/page_slot.js';
import type { KernelState } from '../kernel_state.js';

const INDEX_MASK = NODE_FANOUT - 1;
/** vmos.rootNode of an empty tree, and nodes.parent of a root. */
const NO_NODE = -1;
/** An interior entry with no child (entries hold child node + 1). */
const NO_CHILD = 0;
/** A page bound past every page of any VMO (page indices are < 2^30): forEachPresent(k, v, 0, PAST_ANY_PAGE) walks a whole VMO. */
export const PAST_ANY_PAGE = 2 ** 31;

/** Pages covered by one entry of a node at `level` (leaf = level 0 → 1 page). */
function span(level: number): number {
  return SPANS[level];
}

/** Index of `page`'s entry in a node at `level`: page indices are < 2^30, so shifts are exact. */
function entryIndex(page: number, level: number): number {
  return (page >>> (NODE_SHIFT * level)) & INDEX_MASK;
}

const SPANS = Array.from({ length: 8 }, (_, level) => 2 ** (NODE_SHIFT * level));

/** Smallest tree height (>= 1) whose root covers `pages` pages. */
export function treeHeightFor(pages: number): number {
  let h = 1;
  while (span(h) < pages) h++;
  return h;
}

/** The slot word at `page`, EMPTY_SLOT when nothing is there. */
export function lookupSlot(k: KernelState, vmo: number, page: number): number {
  const leaf = leafFor(k, vmo, page);
  return leaf === NO_NODE ? EMPTY_SLOT : k.nodes.entry(leaf, page & INDEX_MASK);
}

/**
 * Word index of the slot at `page` in the shared words, or -1 if its leaf does not exist. Lets a
 * caller update AGE_FLAGS in place (they do not touch the summary masks); anything else goes through
 * setSlot().
 */
export function slotIndex(k: KernelState, vmo: number, page: number): number {
  const leaf = leafFor(k, vmo, page);
  return leaf < 0 ? -1 : k.node(leaf) + (page & INDEX_MASK);
}

/** The slot word at index `at` (from slotIndex), EMPTY_SLOT for -1 (no leaf). */
export function slotAt(k: KernelState, at: number): number {
  return at < 0 ? EMPTY_SLOT : (k.w[at] as number);
}

/**
 * Rewrites the slot at index `at` (from slotIndex, >= 0) in place: only its age flags (ACCESSED,
 * DONT_NEED, ALWAYS_NEED) may change, since the summary masks are not updated.
 */
export function setSlotInPlace(k: KernelState, at: number, slot: number): void {
  k.w[at] = slot;
}

/**
 * Writes the slot at `page`, allocating nodes as needed, and keeps the summary masks exact.
 * Returns false only when a node could not be allocated (kernel heap exhausted → ZX_ERR_NO_MEMORY);
 * writing EMPTY_SLOT never allocates and frees nodes that become empty.
 */
export function setSlot(k: KernelState, vmo: number, page: number, slot: number): boolean {
  const n = slot === EMPTY_SLOT ? leafFor(k, vmo, page) : ensureLeaf(k, vmo, page);
  if (n < 0) return slot === EMPTY_SLOT; // writing EMPTY where no leaf exists changes nothing
  const nodes = k.nodes;
  const idx = page & INDEX_MASK;
  nodes.setEntry(n, idx, slot);
  const bit = 1 << idx;
  const used = isPresent(slot) ? nodes.maskUsed(n) | bit : nodes.maskUsed(n) & ~bit;
  const dirty = isDirtyTracked(slot) ? nodes.maskDirty(n) | bit : nodes.maskDirty(n) & ~bit;
  updateMasks(k, vmo, n, used, dirty);
  return true;
}

/** Sets a node's masks and carries any change of "non-empty" to its ancestors; frees empty nodes. */
function updateMasks(k: KernelState, vmo: number, n: number, used: number, dirty: number): void {
  const nodes = k.nodes;
  for (;;) {
    const wasUsed = nodes.maskUsed(n) !== 0;
    const wasDirty = nodes.maskDirty(n) !== 0;
    nodes.setMaskUsed(n, used);
    nodes.setMaskDirty(n, dirty);
    const parent = nodes.parent(n);
    const parentSlot = nodes.parentSlot(n);
    if (parent !== NO_NODE) nodes.setChildDirty(parent, parentSlot, dirty);
    if (used === 0) {
      // An empty node is returned to the heap at once, so metadata tracks the pages held. Its
      // fields are read above: once freed, another thread may reuse it.
      if (parent === NO_NODE) {
        k.vmos.setRootNode(vmo, NO_NODE);
        k.freeNode(n);
        return;
      }
      nodes.setEntry(parent, parentSlot, NO_CHILD);
      k.freeNode(n);
    }
    if (parent === NO_NODE || (wasUsed === (used !== 0) && wasDirty === (dirty !== 0))) return;
    const bit = 1 << parentSlot;
    used = used !== 0 ? nodes.maskUsed(parent) | bit : nodes.maskUsed(parent) & ~bit;
    dirty = dirty !== 0 ? nodes.maskDirty(parent) | bit : nodes.maskDirty(parent) & ~bit;
    n = parent;
  }
}

function growRoot(k: KernelState, vmo: number): boolean {
  const nodes = k.nodes;
  const old = k.vmos.rootNode(vmo);
  const root = k.allocNode();
  if (root < 0) return false;
  const h = k.vmos.treeHeight(vmo);
  nodes.setLevel(root, h);
  nodes.setParent(root, NO_NODE);
  nodes.setEntry(root, 0, old + 1);
  nodes.setMaskUsed(root, nodes.maskUsed(old) !== 0 ? 1 : 0);
  nodes.setMaskDirty(root, nodes.maskDirty(old) !== 0 ? 1 : 0);
  nodes.setChildDirty(root, 0, nodes.maskDirty(old));
  nodes.setParent(old, root);
  nodes.setParentSlot(old, 0);
  k.vmos.setRootNode(vmo, root);
  k.vmos.setTreeHeight(vmo, h + 1);
  return true;
}

/** First page in [from, limit) whose slot is present, or `limit`. O(height) per call. */
export function nextPresentPage(k: KernelState, vmo: number, from: number, limit: number): number {
  return nextMarked(k, vmo, from, limit, false);
}

/** First page in [from, limit) that is Dirty or AwaitingClean, or `limit`. */
export function nextDirtyPage(k: KernelState, vmo: number, from: number, limit: number): number {
  return nextMarked(k, vmo, from, limit, true);
}

/** First page in [from, limit) marked in the used (dirty = false) or the dirty summary masks. */
function nextMarked(k: KernelState, vmo: number, from: number, limit: number, dirty: boolean): number {
  const root = k.vmos.rootNode(vmo);
  if (root === NO_NODE || from >= limit) return limit;
  const h = k.vmos.treeHeight(vmo);
  if (from >= span(h)) return limit;
  const found = searchMarked(k, root, h - 1, 0, from, dirty);
  return found < 0 || found >= limit ? limit : found;
}

function searchMarked(k: KernelState, n: number, level: number, base: number, from: number, dirty: boolean): number {
  const nodes = k.nodes;
  const s = span(level);
  const first = from > base ? Math.floor((from - base) / s) : 0;
  if (first >= NODE_FANOUT) return -1;
  let mask = (dirty ? nodes.maskDirty(n) : nodes.maskUsed(n)) & (-1 << first);
  while (mask !== 0) {
    const j = 31 - Math.clz32(mask & -mask);
    const childBase = base + j * s;
    if (level === 0) return childBase;
    const r = searchMarked(k, nodes.entry(n, j) - 1, level - 1, childBase, Math.max(from, childBase), dirty);
    if (r >= 0) return r;
    mask &= mask - 1;
  }
  return -1;
}

/** Calls fn for every present slot in [from, limit), in order; fn may rewrite the slot it is given. */
export function forEachPresent(
  k: KernelState,
  vmo: number,
  from: number,
  limit: number,
  fn: (page: number, slot: number) => void,
): void {
  for (let p = nextPresentPage(k, vmo, from, limit); p < limit; p = nextPresentPage(k, vmo, p + 1, limit)) {
    fn(p, lookupSlot(k, vmo, p));
  }
}

export function assertTreeEmpty(k: KernelState, vmo: number): void {
  assert(k.vmos.rootNode(vmo) === NO_NODE, 'page list not empty');
}

/** The leaf node holding `page`, or -1 when there is none. */
function leafFor(k: KernelState, vmo: number, page: number): number {
  let n = k.vmos.rootNode(vmo);
  if (n === NO_NODE) return NO_NODE;
  const h = k.vmos.treeHeight(vmo);
  if (page >= span(h)) return NO_NODE;
  const nodes = k.nodes;
  for (let level = h - 1; level > 0; level--) {
    const child = nodes.entry(n, entryIndex(page, level));
    if (child === NO_CHILD) return NO_NODE;
    n = child - 1;
  }
  return n;
}

/**
 * Calls fn(start, end) for every maximal run of Dirty/AwaitingClean pages in [from, limit), in order,
 * with one in-order walk of the tree that descends only into subtrees whose dirty summary bit is set
 * and takes whole runs of bits at a time from the leaf masks that level-1 nodes keep (no leaf is
 * visited): O(interior nodes on dirty paths + runs). The hot loop of query_dirty_ranges.
 */
export function forEachDirtyRun(k: KernelState, vmo: number, from: number, limit: number, fn: (start: number, end: number) => void): void {
  const t = k.nodes;
  const root = k.vmos.rootNode(vmo);
  if (root === NO_NODE || from >= limit) return;
  const h = k.vmos.treeHeight(vmo);
  const nodes = walkNodes;
  const masks = walkMasks;
  const bases = walkBases;
  let depth = 0;
  nodes[0] = root;
  bases[0] = 0;
  masks[0] = entryMask(t.maskDirty(root), 0, h - 1, from, limit);
  let runStart = -1;
  let runEnd = -1;
  while (depth >= 0) {
    let mask = masks[depth];
    if (mask === 0) {
      depth--;
      continue;
    }
    const level = h - 1 - depth;
    const base = bases[depth];
    if (level <= 2) {
      // The bottom of the tree - a level-2 node, or a level-1 or leaf root - is walked here with
      // nested loops and no stack push: level-2 bits pick level-1 nodes, whose childDirty words
      // are the leaves' dirty masks; each leaf mask yields its runs of set bits.
      masks[depth] = 0;
      const n2 = nodes[depth];
      let m2 = level === 2 ? mask : 1;
      while (m2 !== 0) {
        let n1 = n2;
        let base1 = base;
        let m1 = mask;
        if (level === 2) {
          const j2 = 31 - Math.clz32(m2 & -m2);
          m2 &= m2 - 1;
          n1 = t.entry(n2, j2) - 1;
          base1 = base + j2 * SPAN_2;
          m1 = t.childDirty(n2, j2);
          if (base1 < from || base1 + SPAN_2 > limit) m1 = entryMask(m1, base1, 1, from, limit);
        } else m2 = 0;
        let m0 = level === 0 ? 1 : m1;
        while (m0 !== 0) {
          let leafBase = base1;
          let leafMask = m1;
          if (level !== 0) {
            const j1 = 31 - Math.clz32(m0 & -m0);
            m0 &= m0 - 1;
            leafBase = base1 + j1 * NODE_FANOUT;
            leafMask = t.childDirty(n1, j1);
            if (leafBase < from || leafBase + NODE_FANOUT > limit) leafMask = entryMask(leafMask, leafBase, 0, from, limit);
          } else m0 = 0;
          while (leafMask !== 0) {
            const s = 31 - Math.clz32(leafMask & -leafMask);
            const rest = ~leafMask & (-1 << s);
            const e = rest === 0 ? 32 : 31 - Math.clz32(rest & -rest);
            if (leafBase + s === runEnd) runEnd = leafBase + e;
            else {
              if (runStart >= 0) fn(runStart, runEnd);
              runStart = leafBase + s;
              runEnd = leafBase + e;
            }
            leafMask = e === 32 ? 0 : leafMask & (-1 << e);
          }
        }
      }
      continue;
    }
    const j = 31 - Math.clz32(mask & -mask);
    masks[depth] = mask & (mask - 1);
    const n = nodes[depth];
    const childBase = base + j * SPANS[level];
    const childMask = t.childDirty(n, j);
    depth++;
    nodes[depth] = t.entry(n, j) - 1;
    bases[depth] = childBase;
    // Only the first and last child on the walk can straddle [from, limit).
    masks[depth] = childBase >= from && childBase + SPANS[level] <= limit ? childMask : entryMask(childMask, childBase, level - 1, from, limit);
  }
  if (runStart >= 0) fn(runStart, runEnd);
}

/** Pages under one entry of a level-2 node (one level-1 node). */
const SPAN_2 = NODE_FANOUT * NODE_FANOUT;
const walkNodes = new Int32Array(16);
const walkMasks = new Int32Array(16);
const walkBases = new Float64Array(16);

/** `mask` restricted to the entries of a node (at `level`, first page `base`) that meet [from, limit). */
function entryMask(mask: number, base: number, level: number, from: number, limit: number): number {
  const s = SPANS[level];
  const first = from > base ? Math.floor((from - base) / s) : 0;
  const lastExcl = Math.ceil((limit - base) / s);
  if (first >= NODE_FANOUT || lastExcl <= 0) return 0;
  let m = mask & (-1 << first);
  if (lastExcl < NODE_FANOUT) m &= (1 << lastExcl) - 1;
  return m;
}

/**
 * Moves the slots of [from, from + count) out of the tree into out[0..count) (EMPTY_SLOT where there
 * is none) and leaves them empty: a leaf at a time, one summary update and at most one node freed per
 * leaf (supply's TakePages from the aux VMO).
 */
export function takeSlots(k: KernelState, vmo: number, from: number, count: number, out: Int32Array): void {
  const nodes = k.nodes;
  for (let i = 0; i < count; ) {
    const page = from + i;
    const first = page & INDEX_MASK;
    const n = Math.min(NODE_FANOUT - first, count - i);
    const leaf = leafFor(k, vmo, page);
    if (leaf < 0) {
      out.fill(EMPTY_SLOT, i, i + n);
      i += n;
      continue;
    }
    for (let j = 0; j < n; j++) {
      out[i + j] = nodes.entry(leaf, first + j);
      nodes.setEntry(leaf, first + j, EMPTY_SLOT);
    }
    const bits = n === NODE_FANOUT ? -1 : ((1 << n) - 1) << first;
    updateMasks(k, vmo, leaf, nodes.maskUsed(leaf) & ~bits, nodes.maskDirty(leaf) & ~bits);
    i += n;
  }
}

/**
 * Writes slots[i] at page from + i wherever that slot is empty and skip[i] is 0, a leaf at a time;
 * sets inserted[i] to 1 where it wrote. Returns the number written, or -1 if a node could not be
 * allocated (the pages before that leaf were written; inserted[] says which).
 */
export function insertSlotsIfEmpty(k: KernelState, vmo: number, from: number, count: number, slots: Int32Array, skip: Uint8Array, inserted: Uint8Array): number {
  const nodes = k.nodes;
  let written = 0;
  inserted.fill(0, 0, count);
  for (let i = 0; i < count; ) {
    const page = from + i;
    const first = page & INDEX_MASK;
    const n = Math.min(NODE_FANOUT - first, count - i);
    let wanted = false;
    for (let j = 0; j < n && !wanted; j++) wanted = skip[i + j] === 0 && slots[i + j] !== EMPTY_SLOT;
    if (!wanted) {
      i += n;
      continue;
    }
    const leaf = ensureLeaf(k, vmo, page);
    if (leaf < 0) return -1;
    let used = nodes.maskUsed(leaf);
    let dirty = nodes.maskDirty(leaf);
    for (let j = 0; j < n; j++) {
      const slot = slots[i + j];
      if (skip[i + j] !== 0 || slot === EMPTY_SLOT || nodes.entry(leaf, first + j) !== EMPTY_SLOT) continue;
      nodes.setEntry(leaf, first + j, slot);
      used |= 1 << (first + j);
      if (isDirtyTracked(slot)) dirty |= 1 << (first + j);
      inserted[i + j] = 1;
      written++;
    }
    updateMasks(k, vmo, leaf, used, dirty);
    i += n;
  }
  return written;
}

/**
 * The leaf for `page`, created (with its path and, if needed, a taller root) when missing; -1 if out of
 * nodes, and then every node this call created is freed again, so a failed insertion leaves the tree
 * exactly as it was (all-or-nothing under ZX_ERR_NO_MEMORY). A root grown for a taller tree is kept:
 * it holds the old root, and a taller tree reads the same.
 */
function ensureLeaf(k: KernelState, vmo: number, page: number): number {
  const nodes = k.nodes;
  const vmos = k.vmos;
  if (vmos.rootNode(vmo) === NO_NODE) {
    const h = treeHeightFor(page + 1);
    const root = k.allocNode();
    if (root < 0) return NO_NODE;
    nodes.setLevel(root, h - 1);
    nodes.setParent(root, NO_NODE);
    vmos.setRootNode(vmo, root);
    vmos.setTreeHeight(vmo, h);
  }
  while (page >= span(vmos.treeHeight(vmo))) {
    if (!growRoot(k, vmo)) {
      pruneEmptyPath(k, vmo, vmos.rootNode(vmo));
      return NO_NODE;
    }
  }
  let n = vmos.rootNode(vmo);
  for (let level = vmos.treeHeight(vmo) - 1; level > 0; level--) {
    const idx = entryIndex(page, level);
    const child = nodes.entry(n, idx);
    if (child !== NO_CHILD) {
      n = child - 1;
      continue;
    }
    const c = k.allocNode();
    if (c < 0) {
      pruneEmptyPath(k, vmo, n);
      return NO_NODE;
    }
    nodes.setLevel(c, level - 1);
    nodes.setParent(c, n);
    nodes.setParentSlot(c, idx);
    nodes.setEntry(n, idx, c + 1);
    n = c;
  }
  return n;
}

/**
 * Frees `n` and then its ancestors while they hold nothing (no present slot, no child): the nodes a
 * failed ensureLeaf created. A node with content stops the walk at once.
 */
function pruneEmptyPath(k: KernelState, vmo: number, n: number): void {
  const nodes = k.nodes;
  while (n !== NO_NODE) {
    if (nodes.maskUsed(n) !== 0) return;
    for (let j = 0; j < NODE_FANOUT; j++) if (nodes.entry(n, j) !== NO_CHILD) return;
    const parent = nodes.parent(n);
    if (parent === NO_NODE) k.vmos.setRootNode(vmo, NO_NODE);
    else nodes.setEntry(parent, nodes.parentSlot(n), NO_CHILD);
    k.freeNode(n);
    n = parent;
  }
}
