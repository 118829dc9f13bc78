// The standard page content of the pager tests and the CLI's pager service: in a pager VMO with key
// K, the 8-byte little-endian word at byte offset o holds K + o/8 (mod 2^64). A clone's key is its
// parent's key plus offset/8, so an unmodified clone shows its parent's words. Pure functions with no
// kernel imports (any thread; no state).

const WORD_BYTES = 8;

/** The standard word of the VMO with `key` at word index `wordIndex` (byte offset / 8). */
export function standardWord(key: bigint, wordIndex: number): bigint {
  return BigInt.asUintN(64, key + BigInt(wordIndex));
}

/** Fills `target` with the standard content of the VMO with `key` from byte `offsetBytes` (8-aligned). */
export function fillStandardContent(target: Uint8Array, key: bigint, offsetBytes: number): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  const firstWord = offsetBytes / WORD_BYTES;
  for (let i = 0; i * WORD_BYTES + WORD_BYTES <= target.byteLength; i++) {
    view.setBigUint64(i * WORD_BYTES, standardWord(key, firstWord + i), true);
  }
}

/**
 * Byte index of the first whole word of `buffer` that differs from the standard content of the VMO
 * with `key` from byte `offsetBytes`, or -1 if every whole word matches.
 */
export function firstStandardMismatch(buffer: Uint8Array, key: bigint, offsetBytes: number): number {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const firstWord = offsetBytes / WORD_BYTES;
  for (let i = 0; i * WORD_BYTES + WORD_BYTES <= buffer.byteLength; i++) {
    if (view.getBigUint64(i * WORD_BYTES, true) !== standardWord(key, firstWord + i)) return i * WORD_BYTES;
  }
  return -1;
}
