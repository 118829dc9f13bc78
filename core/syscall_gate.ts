// The syscall gate: kernel entry and exit around every ThreadSys method (Zircon's syscall glue plus
// the thread's exit check). At entry a killed thread stops (ThreadKilled) and a panicked kernel
// refuses (KernelPanic); the thread then records which syscall it is in (T_SYSCALL = id, 0 outside
// the kernel: two plain stores per syscall), so the main thread can tell whether a thread is inside
// the kernel and name the syscall a dead thread died in. At exit a kill that arrived meanwhile takes
// effect: whatever the syscall returned or threw (ZX_ERR_INTERNAL_INTR_KILLED out of an interrupted
// wait), the thread gets ThreadKilled. Runs on the thread that makes the syscall; T_SYSCALL is only
// written by that thread.

import { H_PANIC, T_KILLED, T_SYSCALL } from '../shared/layout.js';
import { ThreadKilled } from './errors.js';
import type { KernelState } from './kernel_state.js';
import { threadTidOf } from './object/handle_table.js';
import { kernelPanicOf } from './panic.js';
import { ThreadSys } from './sys.js';
import { SYSCALLS, syscallName } from './sys_types.js';

/** ThreadSys with the kernel entry/exit checks; what kernel.sys and pool threads use. */
export class GatedSys extends ThreadSys {
  /** @internal the kernel words and this thread's record, for the gate. */
  readonly gateState: KernelState;
  /** @internal */
  readonly gateWords: Int32Array;
  /** @internal */
  readonly gateThread: number;

  constructor(k: KernelState, threadSlot: number) {
    super(k, threadSlot);
    this.gateState = k;
    this.gateWords = k.w;
    this.gateThread = k.thr(threadSlot);
  }
}

/** The error a thread gets at kernel entry or exit: ThreadKilled if killed, KernelPanic if panicked. */
function stopError(sys: GatedSys, id: number): Error | null {
  const w = sys.gateWords;
  if (Atomics.load(w, sys.gateThread + T_KILLED) !== 0) return new ThreadKilled(threadTidOf(sys.gateState, sys.threadSlot), syscallName(id));
  if (Atomics.load(w, H_PANIC) !== 0) return kernelPanicOf(sys.gateState);
  return null;
}

type AnySyscall = (this: ThreadSys, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown) => unknown;

/**
 * The gate of one syscall. Each is compiled separately (new Function) so that V8 keeps separate type
 * feedback per syscall and inlines `inner` into it: closures of one shared literal would share one
 * megamorphic call site and cost every syscall a few hundred nanoseconds.
 */
function gate(inner: AnySyscall, id: number): AnySyscall {
  const make = new Function(
    'inner',
    'stopError',
    'T_KILLED',
    'T_SYSCALL',
    'H_PANIC',
    `return function ${SYSCALLS[id - 1]![0]}(a, b, c, d, e, f) {
      const w = this.gateWords;
      const t = this.gateThread;
      if (Atomics.load(w, t + T_KILLED) !== 0 || Atomics.load(w, H_PANIC) !== 0) throw stopError(this, 0);
      w[t + T_SYSCALL] = ${id};
      let result;
      try {
        result = inner.call(this, a, b, c, d, e, f);
      } catch (err) {
        w[t + T_SYSCALL] = 0;
        throw stopError(this, ${id}) ?? err;
      }
      w[t + T_SYSCALL] = 0;
      if (Atomics.load(w, t + T_KILLED) !== 0) throw stopError(this, ${id});
      return result;
    };`,
  ) as (...deps: unknown[]) => AnySyscall;
  return make(inner, stopError, T_KILLED, T_SYSCALL, H_PANIC);
}

const proto = GatedSys.prototype as unknown as Record<string, AnySyscall>;
const base = ThreadSys.prototype as unknown as Record<string, AnySyscall>;
SYSCALLS.forEach(([method], i) => {
  proto[method] = gate(base[method]!, i + 1);
});
