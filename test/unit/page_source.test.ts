// Unit tests of core/vm/page_source.ts, calling its functions directly on an in-process kernel: thread
// slots stand for the faulting threads (each owns one PageRequest), and nothing waits - a test reads a
// request's event to see whether it was signalled. Supplies and fails are reported to the PageSource
// without moving pages, which is all it counts. The PagerProxy is there (Kernel installs it), so every
// leader also posts a packet; test/unit/pager_proxy.test.ts checks those.

import t from 'tap';
import { Kernel, PAGE_SIZE, ZX_ERR_BAD_STATE, ZX_ERR_IO, ZX_ERR_IO_DATA_INTEGRITY, ZX_ERR_SHOULD_WAIT, ZX_OK, ZX_ERR_TIMED_OUT, ZX_PAGER_VMO_COMPLETE } from '../../core/index.js';
import { allocThread, lookupHandle } from '../../core/object/handle_table.js';
import {
  cancelRequestLocked,
  detachSourceLocked,
  inspectRequest,
  inspectRequests,
  onPagesDirtiedLocked,
  onPagesFailedLocked,
  onPagesSuppliedLocked,
  populateRequestLocked,
  requestEndPages,
  requestLeader,
  requestLengthPages,
  requestOffsetPages,
  requestRole,
} from '../../core/vm/page_source.js';
import { PageRequestType, RequestState } from '../../shared/layout.js';
import { ZX_OBJ_TYPE_VMO } from '../../shared/constants.js';
import type { KernelState } from '../../core/kernel_state.js';

const READ = PageRequestType.Read;
const DIRTY = PageRequestType.Dirty;

interface Source {
  kernel: Kernel;
  k: KernelState;
  port: number; // handle
  vmo: number; // object slot
  r: number[]; // thread slots: one PageRequest each
  populate(r: number, type: number, offsetPages: number, lengthPages: number, earlyWake?: boolean): number;
  supply(offsetPages: number, lengthPages: number): void;
  fail(offsetPages: number, lengthPages: number, status: number): void;
  /** Thread i populates request i of `asks` ([type, offsetPages, lengthPages]); returns the slots. */
  populateAll(...asks: [number, number, number][]): number[];
  cancel(r: number): void;
  detach(): void;
  /** The status r was signalled with since the last call, or null (consumes the signal). */
  signal(r: number): number | null;
}

function source(threads = 4): Source {
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: threads + 2, maxHandles: 64, maxObjects: 32, maxPortPackets: 32, maxPageListNodes: 64 });
  const { sys } = kernel;
  const k = kernel.state;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const handle = sys.pagerCreateVmo(pager, 0, port, 7n, 32 * PAGE_SIZE);
  const vmo = lookupHandle(k, handle, ZX_OBJ_TYPE_VMO, 0);
  k.release(vmo); // the handle keeps it alive
  const r = Array.from({ length: threads }, () => {
    const thread = allocThread(k);
    if (typeof thread === 'number') throw new Error(`allocThread: ${thread}`);
    return thread.slot;
  });
  const locked = <T>(fn: () => T): T => {
    k.lockObject(vmo);
    try {
      return fn();
    } finally {
      k.unlockObject(vmo);
    }
  };
  return {
    kernel,
    k,
    port,
    vmo,
    r,
    populate: (slot, type, offsetPages, lengthPages, earlyWake = false) => locked(() => populateRequestLocked(k, vmo, slot, type, offsetPages, lengthPages, earlyWake)),
    supply: (offsetPages, lengthPages) => locked(() => onPagesSuppliedLocked(k, vmo, offsetPages, lengthPages)),
    fail: (offsetPages, lengthPages, status) => locked(() => onPagesFailedLocked(k, vmo, offsetPages, lengthPages, status)),
    populateAll: (...asks) => asks.map(([type, offsetPages, lengthPages], i) => {
      const slot = r[i] as number;
      locked(() => populateRequestLocked(k, vmo, slot, type, offsetPages, lengthPages, false));
      return slot;
    }),
    cancel: (slot) => locked(() => cancelRequestLocked(k, slot)),
    detach: () => locked(() => detachSourceLocked(k, vmo)),
    signal: (slot) => (Atomics.exchange(k.w, k.requests.eventWord(slot), 0) === 1 ? k.requests.eventStatus(slot) : null),
  };
}

t.test('leaders and followers: a request starting inside an outstanding one follows it', async (t) => {
  const s = source();
  const [a, b, c, d] = s.r as [number, number, number, number];
  t.equal(s.populate(a, READ, 4, 4), ZX_ERR_SHOULD_WAIT);
  t.equal(requestRole(s.k, a), RequestState.Leader);
  // [6, 10) starts inside [4, 8): a follower, trimmed to the leader's end.
  s.populate(b, READ, 6, 4);
  t.equal(requestRole(s.k, b), RequestState.Follower);
  t.equal(requestLeader(s.k, b), a);
  t.same([requestOffsetPages(s.k, b), requestLengthPages(s.k, b)], [6, 2]);
  // [0, 6) ends inside [4, 8): a leader of its own, trimmed to stop where the outstanding one starts.
  s.populate(c, READ, 0, 6);
  t.equal(requestRole(s.k, c), RequestState.Leader);
  t.same([requestOffsetPages(s.k, c), requestEndPages(s.k, c)], [0, 4]);
  // DIRTY requests are a separate list: the same range leads again.
  s.populate(d, DIRTY, 4, 4);
  t.equal(requestRole(s.k, d), RequestState.Leader);
  const infos = inspectRequests(s.k).map((i) => [i.thread, i.role, i.type, i.offsetPages, i.lengthPages, i.leader, i.outstandingPages]);
  t.same(infos, [
    [a, 'leader', 'READ', 4, 4, -1, 4],
    [b, 'follower', 'READ', 6, 2, a, 4],
    [c, 'leader', 'READ', 0, 4, -1, 4],
    [d, 'leader', 'DIRTY', 4, 4, -1, 4],
  ]);
  // The outstanding READ list is sorted by end: c [0,4) before a [4,8).
  t.equal(s.k.lists.outstanding.first(s.k.vmos.outReadWord(s.vmo)), c);
  t.equal(s.k.lists.outstanding.next(c), a);
  t.equal(s.k.lists.outstanding.next(a), -1);
  t.equal(s.kernel.stats().requests, 3, 'three leaders were sent to the provider; the follower was not');
  t.same(s.kernel.checkInvariants(), []);
});

t.test('onPagesSupplied counts pages in any order and completes at the last one', async (t) => {
  const s = source();
  const [a, b] = s.r as [number, number];
  s.populate(a, READ, 0, 4);
  s.populate(b, READ, 2, 2); // follower
  for (const page of [3, 1, 0]) {
    s.supply(page, 1);
    t.equal(s.signal(a), null, `page ${page}: not yet`);
    t.equal(s.k.requests.pendingPages(a), page === 0 ? 1 : page === 1 ? 2 : 3);
  }
  s.supply(2, 1);
  t.equal(s.signal(a), ZX_OK, 'the leader is woken with ZX_OK');
  t.equal(s.signal(b), ZX_OK, 'so is its follower');
  t.equal(requestRole(s.k, a), RequestState.None);
  t.equal(requestRole(s.k, b), RequestState.None);
  t.same(inspectRequests(s.k), []);
  // Supplies past every request, and DIRTY resolutions of READ requests, change nothing.
  s.populate(a, READ, 8, 2);
  s.supply(0, 8);
  s.k.lockObject(s.vmo);
  onPagesDirtiedLocked(s.k, s.vmo, 8, 2);
  s.k.unlockObject(s.vmo);
  t.equal(s.signal(a), null);
  t.equal(s.k.requests.pendingPages(a), 2);
  s.supply(6, 10); // one call covering it and more
  t.equal(s.signal(a), ZX_OK);
});

t.test('early wake: the waiter is woken when the page it waits for arrives, and asks again', async (t) => {
  const s = source();
  const [a, f] = s.r as [number, number];
  s.populate(a, READ, 0, 4, true);
  s.populate(f, READ, 1, 3, true); // an early-wake follower waiting for page 1
  s.supply(2, 1);
  t.equal(s.signal(a), null, 'page 2 is not the page the leader waits for (0)');
  t.equal(s.signal(f), null, 'nor the follower (1)');
  s.supply(0, 1);
  t.equal(s.signal(a), ZX_OK, 'page 0 wakes the leader early');
  t.equal(requestRole(s.k, a), RequestState.Leader, 'its request stays outstanding');
  t.equal(s.signal(f), null, 'page 0 is outside the follower');
  // The leader asks again inside its own range: it only moves its wake offset, no new request.
  const before = s.kernel.stats().requests;
  t.equal(s.populate(a, READ, 1, 3, true), ZX_ERR_SHOULD_WAIT);
  t.equal(s.k.requests.wakeOffsetPages(a), 1);
  t.equal(s.kernel.stats().requests, before);
  s.supply(1, 1);
  t.equal(s.signal(a), ZX_OK, 'page 1 wakes the leader again');
  t.equal(s.signal(f), ZX_OK, 'and the follower, whose page it is');
  t.equal(s.k.requests.pendingPages(a), 1);
  s.supply(3, 1);
  t.equal(s.signal(a), ZX_OK, 'the last page completes it');
  t.equal(requestRole(s.k, a), RequestState.None);
  t.equal(requestRole(s.k, f), RequestState.None);
});

t.test('fail: each waiter takes the error only if it covers its first page or its wake page', async (t) => {
  const s = source();
  // b follows a from page 4; c is another leader.
  const [a, b, c] = s.populateAll([READ, 0, 8], [READ, 4, 4], [READ, 16, 2]) as [number, number, number];
  s.fail(4, 2, ZX_ERR_IO);
  t.equal(s.k.requests.status(a), ZX_OK, 'the leader waits for page 0: not failed');
  t.equal(s.k.requests.status(b), ZX_ERR_IO, "the follower's first page failed");
  t.equal(s.k.requests.pendingPages(a), 6, 'the failed pages count as resolved');
  t.equal(s.signal(a), null);
  s.fail(16, 1, ZX_ERR_IO_DATA_INTEGRITY);
  t.equal(s.k.requests.status(c), ZX_ERR_IO_DATA_INTEGRITY, "c's first page failed");
  t.equal(s.signal(c), null, 'but c still waits for page 17');
  s.supply(17, 1);
  t.equal(s.signal(c), ZX_ERR_IO_DATA_INTEGRITY, 'c completes with the failure');
  s.supply(0, 4);
  s.supply(6, 2);
  t.equal(s.signal(a), ZX_OK, 'a completes OK');
  t.equal(s.signal(b), ZX_ERR_IO, 'its follower with the failure');
});

t.test('cancel: a leader hands its range, pending count and followers to its first follower', async (t) => {
  const s = source();
  const [a, b, c] = s.populateAll([READ, 0, 4], [READ, 1, 3], [READ, 2, 2]) as [number, number, number];
  s.supply(0, 1);
  s.cancel(a);
  t.equal(requestRole(s.k, a), RequestState.None);
  t.equal(requestRole(s.k, b), RequestState.Leader);
  t.same([requestOffsetPages(s.k, b), requestLengthPages(s.k, b), s.k.requests.pendingPages(b)], [0, 4, 3]);
  t.equal(requestLeader(s.k, c), b);
  t.equal(s.k.lists.outstanding.first(s.k.vmos.outReadWord(s.vmo)), b);
  t.equal(s.signal(a), null, 'a cancelled request is not signalled');
  s.supply(1, 3);
  t.equal(s.signal(b), ZX_OK);
  t.equal(s.signal(c), ZX_OK);
  t.same(s.kernel.checkInvariants(), []);
});

t.test('detach: every outstanding request completes, later requests get ZX_ERR_BAD_STATE, COMPLETE is posted', async (t) => {
  const s = source();
  const [a, b, c] = s.populateAll([READ, 0, 4], [READ, 2, 2], [DIRTY, 8, 1]) as [number, number, number];
  s.fail(0, 1, ZX_ERR_IO);
  s.detach();
  t.equal(s.signal(a), ZX_ERR_IO, 'each with its own status');
  t.equal(s.signal(b), ZX_OK);
  t.equal(s.signal(c), ZX_OK);
  t.same(inspectRequests(s.k), []);
  t.equal(s.populate(a, READ, 0, 1), ZX_ERR_BAD_STATE);
  t.equal(inspectRequest(s.k, a), null);
  // a's READ packet was unread: completing a withdrew it and posted c's DIRTY from the FIFO, which
  // completing c withdrew in turn. The port holds only the COMPLETE.
  t.same([s.kernel.stats().withdrawn, s.kernel.stats().fifoDropped], [2, 0]);
  const packet = s.kernel.sys.portWait(s.port, 0n);
  t.equal(packet.pageRequest?.command, ZX_PAGER_VMO_COMPLETE);
  let status: number = ZX_OK;
  try {
    s.kernel.sys.portWait(s.port, 0n);
  } catch (e) {
    status = (e as { status: number }).status;
  }
  t.equal(status, ZX_ERR_TIMED_OUT, 'and nothing else');
});
