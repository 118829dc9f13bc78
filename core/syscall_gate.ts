// The syscall gate: kernel entry and exit around every ThreadSys method (Zircon's syscall glue plus
// the thread's exit check). At entry a killed thread stops (ThreadKilled) and a panicked kernel
// refuses (KernelPanic); the thread then records which syscall it is in (threads.syscall = id, 0 outside
// the kernel: two plain stores per syscall), so the main thread can tell whether a thread is inside
// the kernel and name the syscall a dead thread died in. At exit a kill that arrived meanwhile takes
// effect: whatever the syscall returned or threw (ZX_ERR_INTERNAL_INTR_KILLED out of an interrupted
// wait), the thread gets ThreadKilled. Runs on the thread that makes the syscall; threads.syscall is only
// written by that thread.
// A documented hot leaf: the two threads.syscall stores per syscall are plain word stores. The field is
// declared atomic (the main thread reads it with Atomics.load), so its accessor would use
// Atomics.store, which measured ~15x a plain store here; the store needs no ordering of its own (a
// reader that races with it sees either value, both of which it handles).

import { ThreadKilled } from './errors.js';
import type { KernelState } from './kernel_state.js';
import { threadTidOf } from './object/handle_table.js';
import { kernelPanicOf } from './panic.js';
import { ThreadSys } from './sys.js';
import { SYSCALLS, syscallName } from './sys_types.js';

/** ThreadSys with the kernel entry/exit checks; what kernel.sys and pool threads use. */
export class GatedSys extends ThreadSys {
  /** @internal the kernel words and this thread's words the gate reads and writes. */
  readonly gateState: KernelState;
  /** @internal */
  readonly gateWords: Int32Array;
  /** @internal the word of this thread's kill flag (threads.killed). */
  readonly gateKilledWord: number;
  /** @internal the word of the syscall this thread is in (threads.syscall). */
  readonly gateSyscallWord: number;
  /** @internal the kernel's panic word (header.panic). */
  readonly gatePanicWord: number;

  constructor(k: KernelState, threadSlot: number) {
    super(k, threadSlot);
    this.gateState = k;
    this.gateWords = k.w;
    this.gateKilledWord = k.threads.killedWord(threadSlot);
    this.gateSyscallWord = k.threads.syscallWord(threadSlot);
    this.gatePanicWord = k.header.panicWord();
  }
}

/** The error a thread gets at kernel entry or exit: ThreadKilled if killed, KernelPanic if panicked. */
function stopError(sys: GatedSys, id: number): Error | null {
  const k = sys.gateState;
  if (k.threads.killed(sys.threadSlot) !== 0) return new ThreadKilled(threadTidOf(k, sys.threadSlot), syscallName(id));
  if (k.header.panic() !== 0) return kernelPanicOf(k);
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
    `return function ${SYSCALLS[id - 1]?.[0]}(a, b, c, d, e, f) {
      const w = this.gateWords;
      const inSyscall = this.gateSyscallWord;
      if (Atomics.load(w, this.gateKilledWord) !== 0 || Atomics.load(w, this.gatePanicWord) !== 0) throw stopError(this, 0);
      w[inSyscall] = ${id}; // hot leaf: plain store (module header)
      let result;
      try {
        result = inner.call(this, a, b, c, d, e, f);
      } catch (err) {
        w[inSyscall] = 0;
        throw stopError(this, ${id}) ?? err;
      }
      w[inSyscall] = 0;
      if (Atomics.load(w, this.gateKilledWord) !== 0) throw stopError(this, ${id});
      return result;
    };`,
  ) as (...deps: unknown[]) => AnySyscall;
  return make(inner, stopError);
}

const proto = GatedSys.prototype as unknown as Record<string, AnySyscall>;
const base = ThreadSys.prototype as unknown as Record<string, AnySyscall>;
SYSCALLS.forEach(([method], i) => {
  proto[method] = gate(base[method] as AnySyscall, i + 1);
});
