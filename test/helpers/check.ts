// Assertions for the scenario scripts. Zircon's tests ASSERT (stop the test) when a step they depend
// on fails; ensure() does the same in tap: it records the check, and if it failed it throws, so the
// test stops at the first broken step instead of running into a cascade of 10 s timeouts.

import type { Test } from 'tap';

export class StepFailed extends Error {
  override name = 'StepFailed';
}

/** t.ok(condition, message), and stop the test if it failed. */
export function ensure(t: Test, condition: unknown, message: string): void {
  if (!t.ok(condition, message)) throw new StepFailed(`stopped after a failed step: ${message}`);
}

/** What expectNoRequest needs from the harness (a UserPager). */
interface RequestSource<V> {
  noRequest(vmo: V): boolean;
  describeStash(): string;
}

/**
 * The "no spurious request" check: no READ for `vmo` is stashed or queued right now (deadline 0).
 * On failure the diagnostics list the packets the harness holds.
 */
export function expectNoRequest<V>(t: Test, pager: RequestSource<V>, vmo: V, message: string): boolean {
  const none = pager.noRequest(vmo);
  return t.ok(none, message, none ? {} : { packets: pager.describeStash() });
}

/** What expectPageRead needs from the harness (a UserPager). */
interface PageReadSource<V> extends RequestSource<V> {
  waitForPageRead(vmo: V, pageOffset: number, pageCount: number): Promise<boolean>;
}

/**
 * Waits (default deadline) for READ exactly [pageOffset, pageOffset + pageCount) and stops the test
 * if it does not come; the diagnostics then list the packets that did.
 */
export async function expectPageRead<V>(t: Test, pager: PageReadSource<V>, vmo: V, pageOffset: number, pageCount: number, message: string): Promise<void> {
  const found = await pager.waitForPageRead(vmo, pageOffset, pageCount);
  if (!t.ok(found, message, found ? {} : { packets: pager.describeStash() })) throw new StepFailed(`stopped after a failed step: ${message}`);
}
