// zx_status_t values, copied from Fuchsia's zircon/system/public/zircon/errors.h (exact values),
// plus statusName() in the role of zx_status_get_string(). Imported by every thread.
// ZX_ERR_STOP / NEXT / ASYNC are flow-control values that no syscall ever returns; SHOULD_WAIT is
// used inside the kernel between a lookup and the wait on its PageRequest, never returned either.

export const ZX_OK = 0;
export const ZX_ERR_INTERNAL = -1;
export const ZX_ERR_NOT_SUPPORTED = -2;
export const ZX_ERR_NO_RESOURCES = -3;
export const ZX_ERR_NO_MEMORY = -4;
export const ZX_ERR_INTERNAL_INTR_RETRY = -6;
export const ZX_ERR_INVALID_ARGS = -10;
export const ZX_ERR_BAD_HANDLE = -11;
export const ZX_ERR_WRONG_TYPE = -12;
export const ZX_ERR_BAD_SYSCALL = -13;
export const ZX_ERR_OUT_OF_RANGE = -14;
export const ZX_ERR_BUFFER_TOO_SMALL = -15;
export const ZX_ERR_BAD_STATE = -20;
export const ZX_ERR_TIMED_OUT = -21;
export const ZX_ERR_SHOULD_WAIT = -22;
export const ZX_ERR_CANCELED = -23;
export const ZX_ERR_PEER_CLOSED = -24;
export const ZX_ERR_NOT_FOUND = -25;
export const ZX_ERR_ALREADY_EXISTS = -26;
export const ZX_ERR_ALREADY_BOUND = -27;
export const ZX_ERR_UNAVAILABLE = -28;
export const ZX_ERR_ACCESS_DENIED = -30;
export const ZX_ERR_IO = -40;
export const ZX_ERR_IO_REFUSED = -41;
export const ZX_ERR_IO_DATA_INTEGRITY = -42;
export const ZX_ERR_IO_DATA_LOSS = -43;
export const ZX_ERR_IO_NOT_PRESENT = -44;
export const ZX_ERR_IO_OVERRUN = -45;
export const ZX_ERR_IO_MISSED_DEADLINE = -46;
export const ZX_ERR_IO_INVALID = -47;
export const ZX_ERR_BAD_PATH = -50;
export const ZX_ERR_NOT_DIR = -51;
export const ZX_ERR_NOT_FILE = -52;
export const ZX_ERR_FILE_BIG = -53;
export const ZX_ERR_NO_SPACE = -54;
export const ZX_ERR_NOT_EMPTY = -55;
export const ZX_ERR_STOP = -60;
export const ZX_ERR_NEXT = -61;
export const ZX_ERR_ASYNC = -62;
export const ZX_ERR_PROTOCOL_NOT_SUPPORTED = -70;
export const ZX_ERR_ADDRESS_UNREACHABLE = -71;
export const ZX_ERR_ADDRESS_IN_USE = -72;
export const ZX_ERR_NOT_CONNECTED = -73;
export const ZX_ERR_CONNECTION_REFUSED = -74;
export const ZX_ERR_CONNECTION_RESET = -75;
export const ZX_ERR_CONNECTION_ABORTED = -76;
export const ZX_ERR_INTERNAL_INTR_KILLED = -502;

export type ZxStatus = number;

const NAMES: ReadonlyMap<number, string> = new Map([
  [ZX_OK, 'ZX_OK'],
  [ZX_ERR_INTERNAL, 'ZX_ERR_INTERNAL'],
  [ZX_ERR_NOT_SUPPORTED, 'ZX_ERR_NOT_SUPPORTED'],
  [ZX_ERR_NO_RESOURCES, 'ZX_ERR_NO_RESOURCES'],
  [ZX_ERR_NO_MEMORY, 'ZX_ERR_NO_MEMORY'],
  [ZX_ERR_INTERNAL_INTR_RETRY, 'ZX_ERR_INTERNAL_INTR_RETRY'],
  [ZX_ERR_INVALID_ARGS, 'ZX_ERR_INVALID_ARGS'],
  [ZX_ERR_BAD_HANDLE, 'ZX_ERR_BAD_HANDLE'],
  [ZX_ERR_WRONG_TYPE, 'ZX_ERR_WRONG_TYPE'],
  [ZX_ERR_BAD_SYSCALL, 'ZX_ERR_BAD_SYSCALL'],
  [ZX_ERR_OUT_OF_RANGE, 'ZX_ERR_OUT_OF_RANGE'],
  [ZX_ERR_BUFFER_TOO_SMALL, 'ZX_ERR_BUFFER_TOO_SMALL'],
  [ZX_ERR_BAD_STATE, 'ZX_ERR_BAD_STATE'],
  [ZX_ERR_TIMED_OUT, 'ZX_ERR_TIMED_OUT'],
  [ZX_ERR_SHOULD_WAIT, 'ZX_ERR_SHOULD_WAIT'],
  [ZX_ERR_CANCELED, 'ZX_ERR_CANCELED'],
  [ZX_ERR_PEER_CLOSED, 'ZX_ERR_PEER_CLOSED'],
  [ZX_ERR_NOT_FOUND, 'ZX_ERR_NOT_FOUND'],
  [ZX_ERR_ALREADY_EXISTS, 'ZX_ERR_ALREADY_EXISTS'],
  [ZX_ERR_ALREADY_BOUND, 'ZX_ERR_ALREADY_BOUND'],
  [ZX_ERR_UNAVAILABLE, 'ZX_ERR_UNAVAILABLE'],
  [ZX_ERR_ACCESS_DENIED, 'ZX_ERR_ACCESS_DENIED'],
  [ZX_ERR_IO, 'ZX_ERR_IO'],
  [ZX_ERR_IO_REFUSED, 'ZX_ERR_IO_REFUSED'],
  [ZX_ERR_IO_DATA_INTEGRITY, 'ZX_ERR_IO_DATA_INTEGRITY'],
  [ZX_ERR_IO_DATA_LOSS, 'ZX_ERR_IO_DATA_LOSS'],
  [ZX_ERR_IO_NOT_PRESENT, 'ZX_ERR_IO_NOT_PRESENT'],
  [ZX_ERR_IO_OVERRUN, 'ZX_ERR_IO_OVERRUN'],
  [ZX_ERR_IO_MISSED_DEADLINE, 'ZX_ERR_IO_MISSED_DEADLINE'],
  [ZX_ERR_IO_INVALID, 'ZX_ERR_IO_INVALID'],
  [ZX_ERR_BAD_PATH, 'ZX_ERR_BAD_PATH'],
  [ZX_ERR_NOT_DIR, 'ZX_ERR_NOT_DIR'],
  [ZX_ERR_NOT_FILE, 'ZX_ERR_NOT_FILE'],
  [ZX_ERR_FILE_BIG, 'ZX_ERR_FILE_BIG'],
  [ZX_ERR_NO_SPACE, 'ZX_ERR_NO_SPACE'],
  [ZX_ERR_NOT_EMPTY, 'ZX_ERR_NOT_EMPTY'],
  [ZX_ERR_STOP, 'ZX_ERR_STOP'],
  [ZX_ERR_NEXT, 'ZX_ERR_NEXT'],
  [ZX_ERR_ASYNC, 'ZX_ERR_ASYNC'],
  [ZX_ERR_PROTOCOL_NOT_SUPPORTED, 'ZX_ERR_PROTOCOL_NOT_SUPPORTED'],
  [ZX_ERR_ADDRESS_UNREACHABLE, 'ZX_ERR_ADDRESS_UNREACHABLE'],
  [ZX_ERR_ADDRESS_IN_USE, 'ZX_ERR_ADDRESS_IN_USE'],
  [ZX_ERR_NOT_CONNECTED, 'ZX_ERR_NOT_CONNECTED'],
  [ZX_ERR_CONNECTION_REFUSED, 'ZX_ERR_CONNECTION_REFUSED'],
  [ZX_ERR_CONNECTION_RESET, 'ZX_ERR_CONNECTION_RESET'],
  [ZX_ERR_CONNECTION_ABORTED, 'ZX_ERR_CONNECTION_ABORTED'],
  [ZX_ERR_INTERNAL_INTR_KILLED, 'ZX_ERR_INTERNAL_INTR_KILLED'],
]);

/** zx_status_get_string(): the constant's name, or "(UNKNOWN)" as Zircon prints. */
export function statusName(status: number): string {
  return NAMES.get(status) ?? '(UNKNOWN)';
}

/**
 * Codes a pager may pass to ZX_PAGER_OP_FAIL (PageSource::IsValidExternalFailureCode): these are
 * the statuses that can surface from zx_vmo_read/write, commit and faults, so the list is closed.
 * The one declaration of the list: the CLI, the model and the tests take it from here.
 */
export const PAGER_FAIL_CODES = [ZX_ERR_IO, ZX_ERR_IO_DATA_INTEGRITY, ZX_ERR_BAD_STATE, ZX_ERR_NO_SPACE, ZX_ERR_BUFFER_TOO_SMALL] as const;
/** Their names, in the same order (zx_status_get_string). */
export const PAGER_FAIL_CODE_NAMES = ['ZX_ERR_IO', 'ZX_ERR_IO_DATA_INTEGRITY', 'ZX_ERR_BAD_STATE', 'ZX_ERR_NO_SPACE', 'ZX_ERR_BUFFER_TOO_SMALL'] as const;

export function isValidExternalFailureCode(status: number): boolean {
  return (PAGER_FAIL_CODES as readonly number[]).includes(status);
}

/** Codes a page request may complete with: the external ones plus the kernel's own NO_MEMORY. */
export function isValidInternalFailureCode(status: number): boolean {
  return status === ZX_ERR_NO_MEMORY || isValidExternalFailureCode(status);
}
