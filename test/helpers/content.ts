// The standard page content of the pager tests (docs/conformance/pager-tests.md §1.1), in pages: in a pager VMO
// with key K, the 8-byte little-endian word at byte offset o holds K + o/8 (defined once, in bytes, in
// workers/standard_content.ts, which the CLI's pager service shares). Pure functions with no kernel
// imports, so the worker fixtures in test/fixtures/ can check data themselves.

import { PAGE_SIZE } from '../../shared/constants.js';
import { fillStandardContent, firstStandardMismatch } from '../../workers/standard_content.js';

/** Writes the standard content of pages [pageOffset, …) of the VMO with `key` into `target`. */
export function fillExpected(target: Uint8Array, key: bigint, pageOffset: number): void {
  fillStandardContent(target, key, pageOffset * PAGE_SIZE);
}

/** The standard content of pages [pageOffset, pageOffset + pageCount) of the VMO with `key`. */
export function expectedContent(key: bigint, pageOffset: number, pageCount: number): Uint8Array {
  const buffer = new Uint8Array(pageCount * PAGE_SIZE);
  fillExpected(buffer, key, pageOffset);
  return buffer;
}

/**
 * Byte index of the first word of `buffer` that differs from the standard content of the VMO with
 * `key` starting at page `pageOffset`, or -1 if every whole word matches.
 */
export function firstMismatch(buffer: Uint8Array, key: bigint, pageOffset: number): number {
  return firstStandardMismatch(buffer, key, pageOffset * PAGE_SIZE);
}

/** True if `buffer` holds the standard content of the VMO with `key` starting at page `pageOffset`. */
export function checkContent(buffer: Uint8Array, key: bigint, pageOffset: number): boolean {
  return firstMismatch(buffer, key, pageOffset) === -1;
}

/** True if every byte of `buffer` is zero (what an uncommitted aux page supplies). */
export function isZero(buffer: Uint8Array): boolean {
  for (const byte of buffer) if (byte !== 0) return false;
  return true;
}

/** True if the two byte ranges are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
