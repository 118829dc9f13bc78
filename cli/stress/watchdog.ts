// The stress run's hang watchdog, run by the orchestrator every sample (run.ts). A hang is one wait
// that lasts: a faulting thread blocked on the same page request (the serial of kernel.debugRequest,
// the kernel's request-introspection API) past hangTimeout, either
//   - with its request still outstanding while the pager idles, or is itself stuck on one packet; or
//   - with its request completed and the thread still parked on its event: a lost wake-up. The
//     verdict is the kernel's own futex: a thread that was signalled and notified is no longer parked
//     (it is only waiting for a CPU, which on a loaded machine can take a while, pager included), so
//     a notify from the watchdog wakes a sleeper only if the kernel's wake-up was lost.
// Sampling sees a thread blocked in many successive short waits as often as in one long one, so the
// serial, not the sampled state, decides continuity. Everything is read without locks and may be stale.

import { PAGE_SIZE, type Kernel } from '../../core/index.js';

export interface PagerActivity {
  /** ms since the pager last finished a packet. */
  quietMs: number;
  /** The pager is handling a packet (not waiting on its port). */
  busy: boolean;
}

export interface Hang {
  index: number;
  tid: number;
  /** When the wait became a hang (ms, the caller's clock). */
  at: number;
  detail: string;
}

interface Watched {
  serial: number;
  since: number;
  /** First sample that found the request completed (the thread not yet back), or -1. */
  completedAt: number;
}

export class HangWatch {
  readonly #kernel: Kernel;
  readonly #hangTimeout: number;
  readonly #watched = new Map<number, Watched>();
  /** Threads found signalled but not yet running for more than hangTimeout: slow CPUs, not hangs. */
  lateWakes = 0;

  constructor(kernel: Kernel, hangTimeout: number) {
    this.#kernel = kernel;
    this.#hangTimeout = hangTimeout;
  }

  /** One sample at `now` (ms, any monotonic clock): the hangs found. */
  sample(tids: readonly number[], now: number, pager: PagerActivity): Hang[] {
    const hangs: Hang[] = [];
    tids.forEach((tid, index) => {
      const req = this.#kernel.debugRequest(tid);
      const seen = this.#watched.get(tid);
      if (!req || !req.blocked) {
        this.#watched.delete(tid);
        return;
      }
      if (!seen || seen.serial !== req.serial) {
        this.#watched.set(tid, { serial: req.serial, since: now, completedAt: req.pending ? -1 : now });
        return;
      }
      if (!req.pending && seen.completedAt < 0) seen.completedAt = now;
      if (now - seen.since <= this.#hangTimeout) return;
      const blocked = `thread ${index} (tid ${tid}) blocked ${(now - seen.since).toFixed(0)} ms`;
      const at = seen.since + this.#hangTimeout;
      if (req.pending) {
        // Blocked past the bound while the pager idles, or while the pager itself is stuck.
        if (!(pager.busy ? pager.quietMs > this.#hangTimeout : pager.quietMs > Math.min(250, this.#hangTimeout))) return;
        const pagerState = pager.busy ? `the pager stuck on one packet for ${pager.quietMs} ms` : 'the pager idle';
        const range = `[0x${(req.offsetPages * PAGE_SIZE).toString(16)}, +0x${(req.lengthPages * PAGE_SIZE).toString(16)})`;
        const where = `${req.type} request ${range} of VMO koid ${req.vmoKoid} as ${req.role}; its packet: ${req.packet}`;
        hangs.push({ index, tid, at, detail: `${blocked} with ${pagerState}: ${where}` });
        return;
      }
      // Completed: give the waker time to get from its signal to its (deferred) notify.
      if (now - seen.completedAt < Math.min(250, this.#hangTimeout) || req.vmoLocked) return;
      if (this.#kernel.debugNotifyWaiter(tid) > 0) {
        hangs.push({ index, tid, at, detail: `${blocked}: its request completed at least ${(now - seen.completedAt).toFixed(0)} ms earlier but it was still parked on its event: the wake-up was lost` });
      } else if (seen.completedAt !== Infinity) {
        this.lateWakes++;
        seen.completedAt = Infinity; // counted once
      }
    });
    return hangs;
  }
}
