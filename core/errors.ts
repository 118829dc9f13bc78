// The two exceptions of the public surface. The kernel itself never throws for user input: the
// syscall layer (core/sys.ts) turns a non-OK status into a ZxError in one place, and a fatal page
// fault of a user-mode access (memRead/memWrite) into a ZxException.

import { statusName } from '../shared/status.js';
import { ZX_EXCP_FATAL_PAGE_FAULT } from '../shared/constants.js';

export class ZxError extends Error {
  override name = 'ZxError';
  readonly status: number;
  readonly code: string;
  readonly syscall: string;

  constructor(status: number, syscall: string, detail?: string) {
    const code = statusName(status);
    super(`${syscall}: ${code}${detail ? ` (${detail})` : ''}`);
    this.status = status;
    this.code = code;
    this.syscall = syscall;
  }
}

/** A fatal exception of a simulated thread, as a Zircon exception report describes it. */
export class ZxException extends Error {
  override name = 'ZxException';
  readonly type: number;
  readonly status: number;
  readonly address: number;

  constructor(type: number, status: number, address: number) {
    super(`${type === ZX_EXCP_FATAL_PAGE_FAULT ? 'ZX_EXCP_FATAL_PAGE_FAULT' : `exception ${type}`} at 0x${address.toString(16)}: ${statusName(status)}`);
    this.type = type;
    this.status = status;
    this.address = address;
  }
}

/** What stops a simulated thread for good: its thread id and the syscall it was in ('' if none). */
abstract class ThreadStop extends Error {
  /** The kernel thread concerned (for a KernelPanic, the one whose death caused it; 0 if none). */
  readonly tid: number;
  /** The syscall it was in ('' if none). */
  readonly syscall: string;

  constructor(message: string, tid: number, syscall: string) {
    super(message);
    this.tid = tid;
    this.syscall = syscall;
  }
}

/**
 * The kernel fail-stopped (core/panic.ts): a worker died inside a kernel critical section, or a killed
 * thread never left the kernel. Every later syscall on that kernel throws it; nothing waits forever.
 */
export class KernelPanic extends ThreadStop {
  override name = 'KernelPanic';
  /** The lock it held ('' if none), e.g. 'lock of VMO koid 1030' or 'H_PMM_LOCK'. */
  readonly lock: string;

  constructor(message: string, tid: number, syscall: string, lock: string) {
    super(message, tid, syscall);
    this.lock = lock;
  }
}

/**
 * What a killed simulated thread reports (zx_task_kill): thrown out of the syscall at whose exit the
 * kill took effect (or at the next syscall entry), and by SimThread.join(). Its syscall is the one
 * the kill interrupted or refused ('' if the thread ended outside the kernel).
 */
export class ThreadKilled extends ThreadStop {
  override name = 'ThreadKilled';

  constructor(tid: number, syscall: string) {
    super(`thread ${tid} was killed${syscall ? ` (in ${syscall})` : ''}`, tid, syscall);
  }
}
