// Unit tests of the shared encodings: page-slot words round-trip and refuse illegal dirty
// transitions; the layout's regions are aligned and disjoint; the histogram's percentiles bound
// what was recorded.

import t from 'tap';
import {
  DirtyState,
  SlotKind,
  assertDirtyTransition,
  isDirtyTracked,
  isPresent,
  makeMarkerSlot,
  makePageSlot,
  slotDirtyState,
  slotFrame,
  slotKind,
  withDirtyState,
  ACCESSED_BIT,
  MAX_FRAMES,
} from '../../shared/page_slot.js';
import { planLayout } from '../../shared/layout.js';
import { HISTOGRAM_WORDS, histogramRecord, histogramSummary } from '../../shared/histogram.js';

t.test('page slots round-trip every kind, state and frame', async (t) => {
  for (const frame of [0, 1, 4095, MAX_FRAMES - 1]) {
    for (const state of [DirtyState.Clean, DirtyState.Dirty, DirtyState.AwaitingClean]) {
      const slot = makePageSlot(frame, state);
      t.equal(slotKind(slot), SlotKind.Page);
      t.equal(slotFrame(slot), frame);
      t.equal(slotDirtyState(slot), state);
      t.equal(slotFrame(slot | ACCESSED_BIT), frame, 'flags do not disturb the frame');
      t.equal(isDirtyTracked(slot), state !== DirtyState.Clean);
    }
  }
  t.equal(slotKind(makeMarkerSlot()), SlotKind.Marker);
  t.ok(isPresent(makeMarkerSlot()) && !isPresent(0));
  t.throws(() => makePageSlot(MAX_FRAMES, DirtyState.Clean), 'a frame index too large is a kernel bug');
});

t.test('the dirty transition table allows exactly the kernel transitions', async (t) => {
  const legal: Array<[number, number]> = [
    [DirtyState.Clean, DirtyState.Dirty],
    [DirtyState.AwaitingClean, DirtyState.Dirty],
    [DirtyState.Dirty, DirtyState.AwaitingClean],
    [DirtyState.AwaitingClean, DirtyState.Clean],
  ];
  for (const [from, to] of legal) t.doesNotThrow(() => assertDirtyTransition(from as DirtyState, to as DirtyState));
  t.throws(() => assertDirtyTransition(DirtyState.Clean, DirtyState.AwaitingClean), 'Clean cannot await clean');
  t.throws(() => assertDirtyTransition(DirtyState.Dirty, DirtyState.Clean), 'Dirty cannot skip writeback');
  t.throws(() => withDirtyState(makePageSlot(3, DirtyState.Dirty), DirtyState.Clean));
});

t.test('layout regions are 8-byte aligned and disjoint', async (t) => {
  const L = planLayout({ frameCount: 100, maxHandles: 10, maxObjects: 7, maxThreads: 5, maxNodes: 9, maxPortPackets: 11, maxIntervals: 3, maxMappings: 2, traceCapacity: 4 });
  const regions = Object.entries(L).filter(([k]) => !['frameCount', 'maxHandles', 'maxObjects', 'maxThreads', 'maxNodes', 'maxPortPackets', 'maxIntervals', 'maxMappings', 'traceCapacity', 'metaWords', 'frameBytes', 'handleGenBits', 'handleGenMask', 'handleSlotShift'].includes(k));
  const starts = regions.map(([, v]) => v as number).sort((a, b) => a - b);
  for (const s of starts) t.equal(s % 2, 0, 'each region starts on an even word (8 bytes)');
  t.ok(starts.every((s, i) => i === 0 || s > starts[i - 1]), 'regions do not start at the same word');
  t.ok(L.metaWords > starts[starts.length - 1], 'the plan covers every region');
  t.equal(L.frameBytes, 100 * 4096);
});

t.test('histogram percentiles bound the recorded values', async (t) => {
  const w = new Int32Array(new SharedArrayBuffer(HISTOGRAM_WORDS * 4));
  for (let i = 1; i <= 1000; i++) histogramRecord(w, 0, i * 1000);
  const s = histogramSummary(w, 0);
  t.equal(s.count, 1000);
  t.ok(Math.abs(s.p50 - 500_000) / 500_000 < 0.02, `p50 ${s.p50} within 2% of 500 µs`);
  t.ok(Math.abs(s.p99 - 990_000) / 990_000 < 0.02, `p99 ${s.p99} within 2% of 990 µs`);
  t.equal(s.max, 1_000_000);
  t.ok(s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max);
});
