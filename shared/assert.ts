// Always-on assertions for kernel invariants (TigerStyle): a failed assert is a simulator bug,
// never a user error. User errors are ZX_ERR_* statuses. Imported by every thread.

export class KernelPanic extends Error {
  override name = 'KernelPanic';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new KernelPanic(`kernel assertion failed: ${message}`);
}
