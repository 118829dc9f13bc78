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
