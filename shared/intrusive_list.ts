// Doubly linked intrusive lists over shared records (fbl::DoublyLinkedList's role): the elements are
// record slots whose next/prev words live in the records themselves; the list's head (and tail, for
// lists that keep one) is a word of its owner record. -1 ends a list. One implementation serves every
// list of the kernel: a PageSource's outstanding requests and a leader's followers, a PagerProxy's
// FIFO, a port's packet queue, a pager's VMOs.
//
// Threads: any; the caller holds the lock that guards the owner's head word and the links (the
// declaration of each field in shared/layout.ts names it). A hot leaf: it indexes words directly.

/** The links of one list kind: where slot `e`'s next and prev words are. */
export class IntrusiveList {
  readonly w: Int32Array;
  readonly #base: number;
  readonly #stride: number;
  readonly #next: number;
  readonly #prev: number;

  /**
   * @param base word index of slot 0 of the element table
   * @param stride words per element record
   * @param nextOffset word offset of the next link within a record
   * @param prevOffset word offset of the prev link
   */
  constructor(w: Int32Array, base: number, stride: number, nextOffset: number, prevOffset: number) {
    this.w = w;
    this.#base = base;
    this.#stride = stride;
    this.#next = nextOffset;
    this.#prev = prevOffset;
  }

  next(e: number): number {
    return this.w[this.#base + e * this.#stride + this.#next] as number;
  }
  prev(e: number): number {
    return this.w[this.#base + e * this.#stride + this.#prev] as number;
  }
  #setNext(e: number, v: number): void {
    this.w[this.#base + e * this.#stride + this.#next] = v;
  }
  #setPrev(e: number, v: number): void {
    this.w[this.#base + e * this.#stride + this.#prev] = v;
  }

  /** First element of the list whose head is word `head`, -1 if empty. */
  first(head: number): number {
    return this.w[head] as number;
  }

  /**
   * Links `e` before `at` (-1: at the end). `tail` is the word index of the list's tail, or -1 for a
   * list that keeps only a head (then inserting at the end needs `last`, the current last element).
   */
  insertBefore(head: number, tail: number, at: number, e: number, last = -1): void {
    const w = this.w;
    const prev = at >= 0 ? this.prev(at) : tail >= 0 ? (w[tail] as number) : last;
    this.#setPrev(e, prev);
    this.#setNext(e, at);
    if (prev >= 0) this.#setNext(prev, e);
    else w[head] = e;
    if (at >= 0) this.#setPrev(at, e);
    else if (tail >= 0) w[tail] = e;
  }

  pushBack(head: number, tail: number, e: number): void {
    this.insertBefore(head, tail, -1, e);
  }

  pushFront(head: number, tail: number, e: number): void {
    this.insertBefore(head, tail, this.w[head] as number, e);
  }

  /** Unlinks `e` and clears its links. */
  remove(head: number, tail: number, e: number): void {
    const w = this.w;
    const prev = this.prev(e);
    const next = this.next(e);
    if (prev >= 0) this.#setNext(prev, next);
    else w[head] = next;
    if (next >= 0) this.#setPrev(next, prev);
    else if (tail >= 0) w[tail] = prev;
    this.#setNext(e, -1);
    this.#setPrev(e, -1);
  }

  /** Unlinks and returns the first element, -1 if the list is empty. */
  popFront(head: number, tail: number): number {
    const e = this.w[head] as number;
    if (e >= 0) this.remove(head, tail, e);
    return e;
  }

  /** Puts `nw` (unlinked) in `old`'s place; `old` ends unlinked. */
  replace(head: number, tail: number, old: number, nw: number): void {
    const prev = this.prev(old);
    const next = this.next(old);
    this.remove(head, tail, old);
    this.insertBefore(head, tail, next, nw, prev);
  }
}
