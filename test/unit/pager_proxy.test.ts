// Unit tests of core/object/pager_proxy.ts (the PageProvider of pager VMOs) and the port side of its
// packet, on an in-process kernel: requests are made with page_source's populateRequestLocked for
// thread slots that never wait, and the pager is this test reading the port with a zero deadline.
// What is checked: one reusable packet per VMO, the FIFO behind it (order, withdraw, drop, handover),
// COMPLETE after detach and close, and what the request-introspection API reports along the way.

import t from 'tap';
import { Kernel, PAGE_SIZE, ZX_ERR_TIMED_OUT, ZX_PAGER_VMO_COMPLETE, ZX_PAGER_VMO_DIRTY, ZX_PAGER_VMO_READ, type PortPacket } from '../../core/index.js';
import { allocThread, lookupHandle } from '../../core/object/handle_table.js';
import { PagerProxy } from '../../core/object/pager_proxy.js';
import { cancelRequestLocked, inspectRequest, onPagesSuppliedLocked, populateRequestLocked } from '../../core/vm/page_source.js';
import { PageRequestType, PX_COMPLETE, PX_NONE } from '../../shared/layout.js';
import { ZX_OBJ_TYPE_VMO } from '../../shared/constants.js';

function proxyWorld(threads = 5) {
  const kernel = Kernel.create({ physicalMemory: 64 * PAGE_SIZE, maxThreads: threads + 2, maxHandles: 64, maxObjects: 32, maxPortPackets: 32, maxPageListNodes: 64 });
  const sys = kernel.sys;
  const k = kernel.state;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmoHandle = sys.pagerCreateVmo(pager, 0, port, 42n, 64 * PAGE_SIZE);
  const vmo = lookupHandle(k, vmoHandle, ZX_OBJ_TYPE_VMO, 0);
  k.release(vmo);
  const slots: number[] = [];
  for (let i = 0; i < threads; i++) {
    const th = allocThread(k);
    if (typeof th === 'number') throw new Error(`allocThread: ${th}`);
    slots.push(th.slot);
  }
  /** Runs fn with the VMO lock held. */
  const underLock = (fn: () => void): void => {
    k.lockObject(vmo);
    fn();
    k.unlockObject(vmo);
  };
  const ask = (r: number, offsetPages: number, lengthPages = 1, type: number = PageRequestType.Read): void => underLock(() => void populateRequestLocked(k, vmo, r, type, offsetPages, lengthPages, false));
  /** The next packet as [command, offsetPages, lengthPages], or null if the port is empty. */
  const next = (): [number, number, number] | null => {
    let p: PortPacket;
    try {
      p = sys.portWait(port, 0n);
    } catch (e) {
      if ((e as { status?: number }).status === ZX_ERR_TIMED_OUT) return null;
      throw e;
    }
    if (p.key !== 42n || !p.pageRequest) throw new Error('not this VMO\'s packet');
    return [p.pageRequest.command, p.pageRequest.offset / PAGE_SIZE, p.pageRequest.length / PAGE_SIZE];
  };
  const packetOf = (r: number): string => inspectRequest(k, r)?.packet ?? 'no request';
  return { kernel, sys, k, pager, port, vmoHandle, vmo, r: slots, underLock, ask, next, packetOf };
}

t.test('the provider installed on KernelState is the PagerProxy', async (t) => {
  const w = proxyWorld(1);
  t.ok(w.k.pageProvider instanceof PagerProxy);
});

t.test('one reusable packet: requests wait in FIFO order behind it', async (t) => {
  const w = proxyWorld();
  const [a, b, c] = w.r as [number, number, number];
  const packet = w.k.vmos.pxPacket(w.vmo);
  w.ask(a, 0);
  w.ask(b, 10, 2, PageRequestType.Dirty);
  w.ask(c, 20);
  t.same([w.packetOf(a), w.packetOf(b), w.packetOf(c)], ['queued in port, unread', 'waiting in the VMO FIFO', 'waiting in the VMO FIFO']);
  t.equal(w.k.vmos.pxActive(w.vmo), a);
  t.equal(w.k.lists.proxyFifo.first(w.k.vmos.pxFifoHeadWord(w.vmo)), b);
  t.same(w.next(), [ZX_PAGER_VMO_READ, 0, 1]);
  t.same([w.packetOf(a), w.packetOf(b)], ['none', 'queued in port, unread'], 'dequeuing frees the packet (PagerProxy::Free) and posts the next');
  t.same(w.next(), [ZX_PAGER_VMO_DIRTY, 10, 2]);
  t.same(w.next(), [ZX_PAGER_VMO_READ, 20, 1]);
  t.equal(w.next(), null);
  t.equal(w.k.vmos.pxPacket(w.vmo), packet, 'always the same packet record');
  t.same([w.k.vmos.pxBusy(w.vmo), w.k.vmos.pxActive(w.vmo)], [0, PX_NONE], 'idle once the last one was read');
  t.same([w.kernel.stats().packets, w.kernel.stats().dequeued], [3, 3]);
  // Answering a delivered request withdraws nothing: its packet is already free.
  w.underLock(() => onPagesSuppliedLocked(w.k, w.vmo, 20, 1));
  t.equal(w.kernel.stats().withdrawn, 0);
  t.equal(w.packetOf(a), 'none');
  t.same(w.kernel.checkInvariants(), []);
});

t.test('a request completed while its packet is unread is withdrawn; one in the FIFO is dropped', async (t) => {
  const w = proxyWorld();
  const [a, b, c] = w.r as [number, number, number];
  w.ask(a, 0);
  w.ask(b, 5);
  w.ask(c, 9);
  w.underLock(() => onPagesSuppliedLocked(w.k, w.vmo, 0, 1)); // a's packet was never read
  t.equal(w.kernel.stats().withdrawn, 1);
  t.equal(w.packetOf(b), 'queued in port, unread', 'the next FIFO entry took the packet');
  w.underLock(() => cancelRequestLocked(w.k, c)); // c waits in the FIFO
  t.equal(w.kernel.stats().fifoDropped, 1);
  t.equal(w.k.requests.inFifo(c), 0);
  t.same(w.next(), [ZX_PAGER_VMO_READ, 5, 1], 'the pager sees only b');
  t.equal(w.next(), null);
});

t.test("a cancelled leader's follower takes over its FIFO place", async (t) => {
  const w = proxyWorld();
  const [a, b, c, d] = w.r as [number, number, number, number];
  w.ask(a, 0);
  w.ask(b, 4, 4);
  w.ask(c, 6, 2); // follows b
  w.ask(d, 12);
  w.underLock(() => cancelRequestLocked(w.k, b));
  t.same([w.packetOf(b), w.packetOf(c)], ['no request', 'waiting in the VMO FIFO']);
  const fifo = w.k.lists.proxyFifo;
  t.equal(fifo.first(w.k.vmos.pxFifoHeadWord(w.vmo)), c, 'c is where b was: before d');
  t.equal(fifo.next(c), d);
  t.equal(w.k.vmos.pxFifoTail(w.vmo), d);
  t.same(w.next(), [ZX_PAGER_VMO_READ, 0, 1]);
  t.same(w.next(), [ZX_PAGER_VMO_READ, 4, 4], "c is sent with b's whole range");
  t.same(w.next(), [ZX_PAGER_VMO_READ, 12, 1]);
  // And a cancelled leader whose packet is in flight hands the packet itself over.
  w.ask(a, 30, 2);
  w.ask(b, 31, 1);
  w.underLock(() => cancelRequestLocked(w.k, a));
  t.equal(w.k.vmos.pxActive(w.vmo), b);
  t.equal(w.packetOf(b), 'queued in port, unread');
});

t.test('detach: outstanding requests are taken back, then COMPLETE; the proxy is idle once it is read', async (t) => {
  const w = proxyWorld();
  const [a, b] = w.r as [number, number];
  w.ask(a, 0);
  w.ask(b, 8);
  t.same(w.next(), [ZX_PAGER_VMO_READ, 0, 1], "a is with the pager; b's packet is posted");
  w.sys.pagerDetachVmo(w.pager, w.vmoHandle);
  t.same([w.packetOf(a), w.packetOf(b)], ['no request', 'no request']);
  t.same([w.kernel.stats().withdrawn, w.kernel.stats().completes], [1, 1], "b's unread packet was withdrawn, COMPLETE posted");
  t.equal(w.k.vmos.pxCompletePending(w.vmo), 1);
  t.same(w.next(), [ZX_PAGER_VMO_COMPLETE, 0, 0]);
  t.same([w.k.vmos.pxCompletePending(w.vmo), w.k.vmos.pxActive(w.vmo), w.k.vmos.pxBusy(w.vmo)], [0, PX_NONE, 0]);
  t.equal(w.next(), null);
});

t.test('COMPLETE waits behind a packet still in the port', async (t) => {
  const w = proxyWorld();
  const [a] = w.r as [number];
  w.ask(a, 0);
  // A port that dropped a's packet leaves the proxy busy (it believes the packet is in flight and
  // cannot withdraw it), so the COMPLETE of a detach queues behind it.
  w.sys.handleClose(w.port);
  w.sys.pagerDetachVmo(w.pager, w.vmoHandle);
  t.equal(w.k.vmos.pxCompleteInFifo(w.vmo), 1, 'COMPLETE waits in the FIFO behind the packet');
  t.equal(w.k.vmos.pxActive(w.vmo), PX_NONE, 'a was taken back');
  t.equal(w.kernel.stats().completes, 0, 'never posted');
});

t.test('closing the VMO posts COMPLETE; dequeuing it leaves the proxy idle', async (t) => {
  const w = proxyWorld();
  const [a, b] = w.r as [number, number];
  w.ask(a, 0);
  w.ask(b, 8);
  w.sys.handleClose(w.vmoHandle);
  t.same(w.next(), [ZX_PAGER_VMO_COMPLETE, 0, 0], 'the pager sees only COMPLETE');
  // Completing a withdrew its unread packet and posted b from the FIFO; completing b withdrew that.
  t.same([w.kernel.stats().withdrawn, w.kernel.stats().fifoDropped, w.kernel.stats().completes], [2, 0, 1]);
  t.equal(w.next(), null);
  t.same(w.kernel.checkInvariants(), []);
});

t.test('closing the pager takes back a COMPLETE nobody read', async (t) => {
  const w = proxyWorld();
  w.sys.pagerDetachVmo(w.pager, w.vmoHandle);
  t.equal(w.k.vmos.pxActive(w.vmo), PX_COMPLETE, 'COMPLETE is in flight');
  w.sys.handleClose(w.pager);
  t.equal(w.k.vmos.pxActive(w.vmo), PX_NONE);
  t.equal(w.k.vmos.pxBusy(w.vmo), 0);
  t.equal(w.kernel.stats().withdrawn, 1);
  t.equal(w.next(), null, 'the pager never sees it');
});

t.test('a port whose last handle closed drops the queued packet; the proxy believes it in flight', async (t) => {
  const w = proxyWorld();
  const [a, b] = w.r as [number, number];
  w.ask(a, 0);
  w.sys.handleClose(w.port);
  t.equal(w.kernel.stats().portDropped, 1);
  t.equal(w.packetOf(a), 'delivered to the pager', 'not queued any more, never answered');
  w.ask(b, 3);
  t.equal(w.packetOf(b), 'waiting in the VMO FIFO', 'later requests pile up behind it');
});
