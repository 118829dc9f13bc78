// Encoding of one page-list slot (a leaf entry of a VMO's radix tree), in the style of Zircon's
// VmPageOrMarker: one Int32, written only under the owning VMO's lock.
//
//   bits 0..1   SlotKind      Empty (absent) | Page (owns a frame) | Marker (clean zero page, no frame)
//   bits 2..3   DirtyState    Clean | Dirty | AwaitingClean          (pager VMOs; anonymous: Clean)
//   bit  4      ALWAYS_NEED   sticky hint (ZX_VMO_OP_ALWAYS_NEED)
//   bit  5      ACCESSED      touched since it became an eviction candidate (clock second chance)
//   bit  6      DONT_NEED     hinted by ZX_VMO_OP_DONT_NEED: reclaimed before normal aging
//   bits 8..30  frame index   (Page only)
//
// DirtyState transitions (VmCowPages::DirtyState, docs/semantics.md §3.10), checked by assertDirtyTransition:
//   1. supply:                          (none) -> Clean
//   2. write / OP_DIRTY:                Clean -> Dirty, AwaitingClean -> Dirty, (none) -> Dirty
//   3. WRITEBACK_BEGIN:                 Dirty -> AwaitingClean
//   4. WRITEBACK_END:                   AwaitingClean -> Clean
//   5. eviction, detach (Clean only), resize, ZERO, destruction: any -> (gone)

import { assert } from './assert.js';

export const SlotKind = { Empty: 0, Page: 1, Marker: 2 } as const;
export type SlotKind = (typeof SlotKind)[keyof typeof SlotKind];
export const DirtyState = { Clean: 0, Dirty: 1, AwaitingClean: 2 } as const;
export type DirtyState = (typeof DirtyState)[keyof typeof DirtyState];

export const KIND_BITS = 2;
export const DIRTY_SHIFT = KIND_BITS;
export const DIRTY_BITS = 2;
export const ALWAYS_NEED_BIT = 1 << (DIRTY_SHIFT + DIRTY_BITS);
export const ACCESSED_BIT = ALWAYS_NEED_BIT << 1;
export const DONT_NEED_BIT = ACCESSED_BIT << 1;
/** Hint and aging flags: they never change a slot's kind, state or the page list's summary masks. */
export const AGE_FLAGS = ALWAYS_NEED_BIT | ACCESSED_BIT | DONT_NEED_BIT;
export const FRAME_SHIFT = 8;
export const MAX_FRAMES = 1 << (31 - FRAME_SHIFT);

const KIND_MASK = (1 << KIND_BITS) - 1;
const DIRTY_MASK = ((1 << DIRTY_BITS) - 1) << DIRTY_SHIFT;
assert(Object.keys(SlotKind).length <= 1 << KIND_BITS, 'SlotKind must fit KIND_BITS');
assert(Object.keys(DirtyState).length <= 1 << DIRTY_BITS, 'DirtyState must fit DIRTY_BITS');
assert(DONT_NEED_BIT < 1 << FRAME_SHIFT, 'flag bits must not overlap the frame index');

export const EMPTY_SLOT = 0;

export function slotKind(slot: number): SlotKind {
  return (slot & KIND_MASK) as SlotKind;
}
export function slotDirtyState(slot: number): DirtyState {
  return ((slot & DIRTY_MASK) >> DIRTY_SHIFT) as DirtyState;
}
export function slotFrame(slot: number): number {
  return slot >>> FRAME_SHIFT;
}
export function isPresent(slot: number): boolean {
  return (slot & KIND_MASK) !== SlotKind.Empty;
}
/** Dirty or AwaitingClean: reported by query_dirty_ranges, never evicted. */
export function isDirtyTracked(slot: number): boolean {
  return (slot & DIRTY_MASK) !== 0;
}
export function makePageSlot(frame: number, state: DirtyState): number {
  assert(frame >= 0 && frame < MAX_FRAMES, 'frame index out of range');
  return (frame << FRAME_SHIFT) | (state << DIRTY_SHIFT) | SlotKind.Page;
}
/** The same frame as a fresh Clean page with `flags` (supply's hot loop: no range assert needed). */
export function asCleanPage(slot: number, flags: number): number {
  return (slot & ~((1 << FRAME_SHIFT) - 1)) | flags | SlotKind.Page;
}
export function makeMarkerSlot(): number {
  return SlotKind.Marker;
}
export function withDirtyState(slot: number, state: DirtyState): number {
  assertDirtyTransition(slotDirtyState(slot), state);
  return (slot & ~DIRTY_MASK) | (state << DIRTY_SHIFT);
}

const LEGAL: ReadonlySet<number> = new Set([
  DirtyState.Clean * 4 + DirtyState.Dirty,
  DirtyState.AwaitingClean * 4 + DirtyState.Dirty,
  DirtyState.Dirty * 4 + DirtyState.AwaitingClean,
  DirtyState.AwaitingClean * 4 + DirtyState.Clean,
  DirtyState.Dirty * 4 + DirtyState.Dirty,
  DirtyState.Clean * 4 + DirtyState.Clean,
]);

/** The transition table of the comment above; an illegal transition is a kernel bug. */
export function assertDirtyTransition(from: DirtyState, to: DirtyState): void {
  assert(LEGAL.has(from * 4 + to), `illegal dirty transition ${from} -> ${to}`);
}
