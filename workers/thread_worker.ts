// Worker entry of ThreadPool: runs one simulated thread per task. It attaches the kernel (once per
// kernel instance), acts as the kernel thread the pool allocated, runs the op and reports the
// outcome as plain data (errors cannot cross threads as objects). Syscalls run right here, in this
// worker, against shared memory: no message passing on a syscall path.

import { Kernel } from '../core/kernel.js';
import { KernelPanic, ThreadKilled, ZxError, ZxException } from '../core/errors.js';
import type { Sys } from '../core/sys_types.js';
import { H_INSTANCE, T_KILLED, T_STATE } from '../shared/layout.js';
import { ZX_THREAD_STATE_DEAD, ZX_THREAD_STATE_RUNNING } from '../shared/constants.js';
import type { ThreadOutcome, ThreadTask } from '../core/thread_protocol.js';

let attached: { instance: number; kernel: Kernel } | null = null;

function kernelFor(task: ThreadTask): Kernel {
  const instance = new Int32Array(task.share.meta)[H_INSTANCE];
  if (attached?.instance !== instance) attached = { instance, kernel: Kernel.attach(task.share) };
  return attached.kernel;
}

interface OpArgs {
  vmo: number;
  address: number;
  offset: number;
  length: number;
  data: Uint8Array;
  op: number;
  size: number;
}

function runBuiltin(sys: Sys, op: string, a: OpArgs): unknown {
  switch (op) {
    case 'vmoRead': {
      const buffer = new Uint8Array(a.length);
      sys.vmoRead(a.vmo, buffer, a.offset);
      return buffer;
    }
    case 'vmoWrite':
      sys.vmoWrite(a.vmo, a.data, a.offset);
      return undefined;
    case 'vmoOpRange':
      return sys.vmoOpRange(a.vmo, a.op, a.offset, a.size);
    case 'memRead': {
      const buffer = new Uint8Array(a.length);
      sys.memRead(a.address, buffer);
      return buffer;
    }
    case 'memWrite':
      sys.memWrite(a.address, a.data);
      return undefined;
    default:
      throw new Error(`unknown built-in op ${op}`);
  }
}

export async function runThread(task: ThreadTask): Promise<ThreadOutcome> {
  const kernel = kernelFor(task);
  const w = kernel.state.w;
  const stateWord = kernel.state.thr(task.threadSlot) + T_STATE;
  const killedWord = kernel.state.thr(task.threadSlot) + T_KILLED;
  const sys = kernel.sysForThread(task.threadSlot);
  Atomics.store(w, stateWord, ZX_THREAD_STATE_RUNNING);
  try {
    let value: unknown;
    if (typeof task.op === 'string') {
      value = runBuiltin(sys, task.op, task.args as OpArgs);
    } else {
      const mod = (await import(task.op.module)) as Record<string, unknown>;
      const fn = mod[task.op.export];
      if (typeof fn !== 'function') throw new Error(`${task.op.module} has no export ${task.op.export}`);
      value = await (fn as (sys: Sys, args: unknown) => unknown)(sys, task.args);
    }
    // A killed thread ends killed even if its code swallowed the ThreadKilled.
    if (Atomics.load(w, killedWord) !== 0) return { ok: false, kind: 'ThreadKilled', tid: task.tid, syscall: '' };
    return { ok: true, value };
  } catch (e) {
    if (e instanceof ThreadKilled) return { ok: false, kind: 'ThreadKilled', tid: e.tid, syscall: e.syscall };
    if (Atomics.load(w, killedWord) !== 0) return { ok: false, kind: 'ThreadKilled', tid: task.tid, syscall: '' };
    if (e instanceof KernelPanic) return { ok: false, kind: 'KernelPanic', message: e.message, tid: e.tid, syscall: e.syscall, lock: e.lock };
    if (e instanceof ZxError) return { ok: false, kind: 'ZxError', status: e.status, syscall: e.syscall, message: e.message };
    if (e instanceof ZxException) return { ok: false, kind: 'ZxException', type: e.type, status: e.status, address: e.address };
    const err = e instanceof Error ? e : new Error(String(e));
    return { ok: false, kind: 'Error', message: err.message, stack: err.stack };
  } finally {
    Atomics.store(w, stateWord, ZX_THREAD_STATE_DEAD);
  }
}
