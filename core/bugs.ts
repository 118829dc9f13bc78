// Deliberate kernel bugs, switched on only by `pagersim stress --inject-bug` to prove the stress
// checker can fail. Each KernelState reads the switches once at attach into a plain field, so a
// call site costs one test of a number that is 0 in every normal run.

export const Bug = {
  /** WRITEBACK_END cleans pages re-dirtied during the writeback (the lost-write race). */
  EndCleansRedirtied: 1 << 0,
  /** A failed request wakes its leader only; its followers sleep on. */
  FailWakesNoFollowers: 1 << 1,
  /** Supply overwrites a Dirty page with the pager's (stale) content. */
  SupplyOverwritesDirty: 1 << 2,
  /** One wake-up is dropped: a signalled waiter is never told. */
  DropOneWake: 1 << 3,
  /** Reclaim evicts Dirty pages too. */
  EvictDirty: 1 << 4,
} as const;

export const BUG_NAMES: Readonly<Record<string, number>> = {
  'end-cleans-redirtied': Bug.EndCleansRedirtied,
  'fail-wakes-no-followers': Bug.FailWakesNoFollowers,
  'supply-overwrites-dirty': Bug.SupplyOverwritesDirty,
  'drop-one-wake': Bug.DropOneWake,
  'evict-dirty': Bug.EvictDirty,
};
