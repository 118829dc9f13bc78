// Reference model of the user-pager syscalls, for the differential test (issue 7).
//
// What it models: one process with one pager, one port and up to four pager VMOs (with or without
// ZX_VMO_TRAP_DIRTY, resizable or not), and the simulated threads that read, write, commit and zero
// them: supply (pages and zero markers), FAIL, OP_DIRTY, WRITEBACK_BEGIN (plain and IS_ZERO) / END,
// ZX_VMO_OP_ZERO (whole and partial pages), COMMIT, DECOMMIT, page-aligned resize, detach,
// query_dirty_ranges, query_vmo_stats, and the argument, handle and rights errors of each, in the
// check order of docs/semantics.md §2. It is single-threaded plain data (Maps, arrays,
// Uint8Arrays): a slot per page offset (page with its dirty state, or zero marker), a list of zero
// intervals, one PageRequest per thread (leader with followers, pending count, wake point, status),
// a per-VMO packet slot with its FIFO, and the port queue.
//
// Sources: docs/semantics.md §2–§3 and docs/conformance/writeback-tests.md §1. Where the spec summarises a
// rule too loosely to predict a packet or a status, the Zircon sources it cites were read and the
// rule is marked "(Zircon: ...)": the FAIL status rule and early wake (page_source.cc), awaiting-clean
// lengths of split and merged zero intervals (vm_page_list.cc), the order of ZERO's parts
// (vm_object_paged.cc) and the order of some checks. None of it comes from core/.
//
// Threads are state machines: a thread runs its syscall loop until it must wait on a page request
// (it is then "blocked") or until the syscall returns. Pager-side operations signal waiters; after
// each step every signalled thread runs its retry. When two or more threads wake in one step the
// real kernel runs their retries concurrently, so the model tries every order; a step whose result
// depends on the order (or whose woken threads touch the same pages) is reported as `skipped` and
// is run on neither side.
//
// Deliberately left out: eviction (the test boots a large physicalMemory, so no page is ever
// reclaimed and every Clean page stays), clones/slices/references, mappings and hardware faults,
// pinning, thread suspension, the overtime timeout, closing the pager / port / VMO handles, unbounded
// VMOs and stream/content size, unaligned set_size (its tail zeroing may wait on a request, and
// set_size runs on the main thread), DONT_NEED/ALWAYS_NEED/PREFETCH, and memory exhaustion.

import {
  PAGE_SIZE,
  ZX_ERR_ACCESS_DENIED,
  ZX_ERR_BAD_HANDLE,
  ZX_ERR_BAD_STATE,
  ZX_ERR_BUFFER_TOO_SMALL,
  ZX_ERR_INVALID_ARGS,
  ZX_ERR_IO,
  ZX_ERR_IO_DATA_INTEGRITY,
  ZX_ERR_NO_SPACE,
  ZX_ERR_NOT_FOUND,
  ZX_ERR_NOT_SUPPORTED,
  ZX_ERR_OUT_OF_RANGE,
  ZX_ERR_UNAVAILABLE,
  ZX_ERR_WRONG_TYPE,
  ZX_OK,
  ZX_PAGER_VMO_COMPLETE,
  ZX_PAGER_VMO_DIRTY,
  ZX_PAGER_VMO_READ,
  ZX_VMO_DIRTY_RANGE_IS_ZERO,
} from '../../core/index.js';

export const PAGE = PAGE_SIZE;
/** A wake offset that never matches: requests that do not wake early (Zircon's UINT64_MAX). */
const NO_WAKE = Number.MAX_SAFE_INTEGER;
export const MAX_VMOS = 4;
export const MAX_BLOCKED_THREADS = 4;

// ---------------------------------------------------------------------------------------------
// Operations (shared with the driver and the generator)

/** What an op passes in its VMO handle slot. */
export type VmoSel = 'ok' | 'ro' | 'wo' | 'port' | 'bad' | 'plain' | 'pager';
/** What an op passes in its pager handle slot. */
export type PagerSel = 'ok' | 'other' | 'port' | 'bad' | 'vmo';
/** What a supply passes as its aux VMO. */
export type AuxSel = 'ok' | 'ro' | 'small' | 'pagerVmo' | 'port';
/** 0: aligned; 1: offset off by 512 bytes; 2: length off by 512; 3: aux offset off by 512 (supply). */
export type Misalign = 0 | 1 | 2 | 3;

/**
 * How an op picks its range before it runs (PagerModel.concretize): `fit` folds page/pages (or
 * offset/length) into the VMO; `target` aims at live state instead - an outstanding request
 * (supply: READ, fail: any, dirty: DIRTY) or a dirty range (writeback) - and `part` selects the
 * whole range (0), its first page (1), all but its first page (2), one page more (3), its last page (4).
 * Concrete ops, the ones that run and get printed, have neither.
 */
export interface Aim {
  fit?: boolean;
  target?: { which: number; part: number };
}

export interface PagerSide extends Aim {
  vmo: number;
  page: number;
  pages: number;
  pager: PagerSel;
  handle: VmoSel;
  misalign: Misalign;
}

export type Op =
  | { kind: 'create'; pages: number; trap: boolean; resizable: boolean; bad: 'none' | 'options' | 'portSlot' | 'pagerSlot' }
  | ({ kind: 'read'; vmo: number; offset: number; length: number; handle: VmoSel } & Aim)
  | ({ kind: 'write'; vmo: number; offset: number; length: number; fill: number; handle: VmoSel } & Aim)
  | ({ kind: 'commit'; vmo: number; offset: number; length: number; handle: VmoSel } & Aim)
  | ({ kind: 'zero'; vmo: number; offset: number; length: number; handle: VmoSel } & Aim)
  | ({ kind: 'vmoOp'; vmo: number; op: 'decommit' | 'invalid'; page: number; pages: number } & Aim)
  | ({ kind: 'supply'; data: number; aux: AuxSel } & PagerSide)
  | ({ kind: 'fail'; code: number | bigint } & PagerSide)
  | ({ kind: 'dirty'; data: number } & PagerSide)
  | ({ kind: 'wbBegin'; data: number } & PagerSide)
  | ({ kind: 'wbEnd'; data: number } & PagerSide)
  | { kind: 'badOp'; vmo: number; op: number }
  | { kind: 'detach'; vmo: number; pager: PagerSel; handle: VmoSel }
  | { kind: 'resize'; vmo: number; pages: number; handle: VmoSel }
  | { kind: 'query'; vmo: number; offset: number; length: number; max: number; pager: PagerSel; handle: VmoSel }
  | { kind: 'stats'; vmo: number; options: number; pager: PagerSel; handle: VmoSel }
  | { kind: 'drain'; count: number };

export const THREAD_OPS: ReadonlySet<Op['kind']> = new Set(['read', 'write', 'commit', 'zero', 'vmoOp']);

/** Byte i of the data an op with `fill` writes (never 0, so a write is always visible). */
export function writeByte(fill: number, i: number): number {
  return ((fill * 31 + i * 7) % 251) + 1;
}

/** The content the driver supplies for `page` of the VMO with `key`, in supply number `gen`. */
export function supplyPageData(key: number, page: number, gen: number): Uint8Array {
  const d = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) d[i] = ((key * 53 + page * 29 + gen * 17 + i * 3) % 253) + 1;
  d[0] = key;
  d[1] = page;
  d[2] = gen & 0xff;
  return d;
}

// ---------------------------------------------------------------------------------------------
// State

type DirtyState = 'clean' | 'dirty' | 'awaiting';
type Slot = { kind: 'page'; data: Uint8Array; state: DirtyState } | { kind: 'marker' };

/**
 * A dirty zero interval [start, end) in pages. awaitLen is the awaiting-clean length kept on its
 * start sentinel, relative to start; it may reach past end (Zircon does not trim it when the
 * interval is split or clipped, and WRITEBACK_END carries it over to later intervals).
 */
interface Interval {
  start: number;
  end: number;
  awaitLen: number;
}

type ReqType = 'READ' | 'DIRTY';
type ProxyRef = number | 'COMPLETE'; // a leader thread id, or the VMO's COMPLETE request

/** A thread's PageRequest (it owns exactly one, as a Zircon thread owns the one on its stack). */
interface Req {
  init: boolean;
  type: ReqType;
  offset: number; // pages
  len: number;
  earlyWake: boolean;
  wake: number; // relative to offset; NO_WAKE when the request does not wake early
  status: number; // complete_status_
  pending: number; // leaders only
  followers: number[]; // leaders only: thread ids, in arrival order
  role: 'none' | 'leader' | 'follower';
  leader: number; // followers only
}

interface Proxy {
  busy: boolean;
  active: ProxyRef | null;
  fifo: ProxyRef[];
}

interface VmoState {
  key: number;
  size: number; // pages
  trap: boolean;
  resizable: boolean;
  detached: boolean;
  modified: boolean;
  slots: Map<number, Slot>;
  intervals: Interval[]; // sorted, disjoint, never adjacent
  outstanding: { READ: number[]; DIRTY: number[] }; // leader thread ids, sorted by request end
  proxy: Proxy;
}

type ThreadKind = 'read' | 'write' | 'commit' | 'zero' | 'vmoOp';

const ZERO_FILL = -1;

/**
 * ZX_VMO_OP_ZERO's progress (VmObjectPaged::ZeroRangeInternal): a partial head page, then a partial
 * tail page, each written with zeros through the vmo_write loop unless it already reads as zero,
 * then the whole pages in between.
 */
interface ZeroProgram {
  start: number; // bytes still to zero
  end: number;
  stage: 'head' | 'tail' | 'whole';
  /** A partial page is being written (t.start/t.pos/t.end); `last` if nothing follows it. */
  writing: boolean;
  last: boolean;
}

interface ThreadState {
  tid: number;
  kind: ThreadKind;
  vmo: number;
  start: number; // bytes for read/write, pages for commit
  end: number;
  pos: number;
  fill: number; // write pattern; ZERO_FILL writes zeros
  out: Uint8Array | null;
  zero: ZeroProgram | null;
  req: Req;
  phase: 'blocked' | 'done';
  signaled: boolean;
  sigStatus: number;
  result: ThreadResult | null;
}

export interface ThreadResult {
  status: number;
  data?: Uint8Array;
}

interface PortEntry {
  vmo: number;
  ref: ProxyRef;
  packet: PacketView;
}

export interface PacketView {
  key: number;
  command: number;
  offset: number; // bytes
  length: number;
}

export interface DirtyRangeView {
  offset: number; // bytes
  length: number;
  options: number;
}

export interface VmoView {
  size: number; // bytes
  committed: number; // bytes
  modified: boolean;
  dirty: DirtyRangeView[];
}

interface State {
  vmos: VmoState[];
  threads: ThreadState[]; // indexed by tid
  port: PortEntry[];
  supplies: number; // supply generation counter (content identity)
  /** What the run exercised (coverage only: not part of the compared state). */
  counters: Record<string, number>;
}

function bump(s: State, what: string): void {
  s.counters[what] = (s.counters[what] ?? 0) + 1;
}

export interface StepExpect {
  /** Why the op runs on neither side (no VMO yet, thread limit, a race between woken threads). */
  skipped?: string;
  /** The main-thread syscall's status (absent for thread ops and drains). */
  status?: number;
  /** The syscall's result, for queries. */
  value?: unknown;
  /** The model thread id this step started. */
  spawned?: number;
  /** Threads that returned during this step. */
  finished: { tid: number; result: ThreadResult }[];
  /** Threads still waiting on a page request after the step. */
  blocked: number[];
  /** Packets this step dequeued (drain). */
  packets?: PacketView[];
}

// ---------------------------------------------------------------------------------------------
// The model

/** What an exclusion rule may look at: the VMO an op names (if any). */
export interface VmoFacts {
  size: number; // pages
  trap: boolean;
  resizable: boolean;
  detached: boolean;
  /** What each offset holds: absent, a page (with its dirty state), a zero marker, or a zero interval. */
  slots: ('absent' | 'clean' | 'dirty' | 'awaiting' | 'marker' | 'zero')[];
  /** Outstanding (leader) requests. */
  requests: { type: 'READ' | 'DIRTY'; page: number; pages: number }[];
}

/** Returns why `op` must not run (a known kernel divergence), or undefined. */
export type Exclusion = (op: Op, vmo: VmoFacts | undefined) => string | undefined;

export class PagerModel {
  #s: State = { vmos: [], threads: [], port: [], supplies: 0, counters: {} };
  readonly #exclude: Exclusion | undefined;

  constructor(exclude?: Exclusion) {
    this.#exclude = exclude;
  }

  get vmoCount(): number {
    return this.#s.vmos.length;
  }

  vmoKey(i: number): number {
    return this.#s.vmos[i].key;
  }

  /** Number of supplies so far: the next supply's content generation. */
  get supplyGen(): number {
    return this.#s.supplies;
  }

  /** Coverage counters of the steps run so far. */
  get counters(): Readonly<Record<string, number>> {
    return this.#s.counters;
  }

  blockedThreads(): number[] {
    return this.#s.threads.filter((t) => t.phase === 'blocked').map((t) => t.tid);
  }

  /** The VMO index an op's `vmo` field names (ops carry a free number reduced modulo the count). */
  resolveVmo(n: number): number {
    return n % this.#s.vmos.length;
  }

  /** The op with its VMO index resolved and its range aimed (see Aim); unchanged without VMOs. */
  concretize(op: Op): Op {
    const s = this.#s;
    if (!('vmo' in op) || s.vmos.length === 0) return op;
    const c = structuredClone(op) as Op & Aim & { vmo: number };
    c.vmo %= s.vmos.length;
    const aim = { fit: c.fit, target: c.target };
    delete c.fit;
    delete c.target;
    if (aim.target && 'page' in c && 'pager' in c) {
      const hit = targets(s, c.kind, c.vmo, c.kind === 'wbBegin' && c.data === ZX_VMO_DIRTY_RANGE_IS_ZERO);
      if (hit.length > 0) {
        const t = hit[aim.target.which % hit.length];
        const [page, pages] = part(t.page, t.pages, aim.target.part);
        return { ...c, vmo: t.vmo, page, pages };
      }
      aim.fit = true;
    }
    if (aim.target && 'offset' in c && c.kind !== 'query') {
      // A thread op aimed at an outstanding request: it will follow it, or overlap its start.
      const hit = targets(s, 'fail', c.vmo, false);
      if (hit.length > 0) {
        const t = hit[aim.target.which % hit.length];
        const [page, pages] = part(t.page, t.pages, aim.target.part);
        return { ...c, vmo: t.vmo, offset: page * PAGE + (c.offset % PAGE), length: pages * PAGE };
      }
      aim.fit = true;
    }
    if (!aim.fit) return c;
    const size = s.vmos[c.vmo].size;
    if ('offset' in c && c.kind !== 'query') {
      const bytes = size * PAGE;
      c.offset = bytes > 0 ? c.offset % bytes : 0;
      c.length = Math.min(c.length, bytes - c.offset);
    } else if ('page' in c) {
      c.page = size > 0 ? c.page % size : 0;
      c.pages = Math.min(c.pages, Math.max(size - c.page, 1));
    }
    return c;
  }

  /** Reads of every run of offsets that hold content (pages, markers, zero intervals): they never wait. */
  contentReads(): Op[] {
    const out: Op[] = [];
    this.#s.vmos.forEach((v, vi) => {
      let run = -1;
      for (let p = 0; p <= v.size; p++) {
        const present = p < v.size && slotKind(v, p) !== 'absent';
        if (present && run < 0) run = p;
        if (!present && run >= 0) {
          out.push({ kind: 'read', vmo: vi, offset: run * PAGE, length: (p - run) * PAGE, handle: 'ok' });
          run = -1;
        }
      }
    });
    return out;
  }

  /** Runs one op; the state only changes if the step is not skipped. `force` ignores the thread limit. */
  step(op: Op, force = false): StepExpect {
    const before = this.#s;
    if (op.kind !== 'create' && op.kind !== 'drain' && before.vmos.length === 0) return skip('no VMO yet');
    if (!force && THREAD_OPS.has(op.kind) && this.blockedThreads().length >= MAX_BLOCKED_THREADS) return skip('thread limit');
    if (op.kind === 'create' && before.vmos.length >= MAX_VMOS) return skip('VMO limit');
    if (this.#exclude) {
      const v = 'vmo' in op && before.vmos.length > 0 ? before.vmos[op.vmo % before.vmos.length] : undefined;
      const why = this.#exclude(op, v && facts(before, v));
      if (why) return skip(`excluded: ${why}`);
    }
    const s = structuredClone(before);
    const ex: StepExpect = { finished: [], blocked: [] };
    applyOp(s, op, ex);
    const settled = runWoken(s);
    if (typeof settled === 'string') return skip(settled);
    for (const t of settled.threads) {
      if (t.phase === 'done' && before.threads[t.tid]?.phase !== 'done') ex.finished.push({ tid: t.tid, result: t.result! });
      if (t.phase === 'blocked') ex.blocked.push(t.tid);
    }
    this.#s = settled;
    return ex;
  }

  /** Dirty ranges, stats, size and committed bytes of every VMO, as the driver observes them. */
  views(): VmoView[] {
    return this.#s.vmos.map((v) => ({
      size: v.size * PAGE,
      committed: [...v.slots.values()].filter((x) => x.kind === 'page').length * PAGE,
      modified: v.modified,
      dirty: dirtyRanges(v, 0, v.size),
    }));
  }
}

function facts(s: State, v: VmoState): VmoFacts {
  const slots: VmoFacts['slots'] = [];
  for (let p = 0; p < v.size; p++) {
    const slot = v.slots.get(p);
    slots.push(slot?.kind === 'page' ? slot.state : (slotKind(v, p) as 'absent' | 'marker' | 'zero'));
  }
  const requests: VmoFacts['requests'] = [];
  for (const type of ['READ', 'DIRTY'] as const) {
    for (const tid of v.outstanding[type]) requests.push({ type, page: s.threads[tid].req.offset, pages: s.threads[tid].req.len });
  }
  return { size: v.size, trap: v.trap, resizable: v.resizable, detached: v.detached, slots, requests };
}

/** What a targeted op can aim at: outstanding requests (by leader) or dirty ranges, in order. */
function targets(s: State, kind: Op['kind'], vi: number, zeroOnly: boolean): { vmo: number; page: number; pages: number }[] {
  const v = s.vmos[vi];
  const runs = (pred: (p: number) => boolean): { vmo: number; page: number; pages: number }[] => {
    const out: { vmo: number; page: number; pages: number }[] = [];
    for (let p = 0; p < v.size; p++) {
      if (!pred(p)) continue;
      const last = out[out.length - 1];
      if (last && last.page + last.pages === p) last.pages++;
      else out.push({ vmo: vi, page: p, pages: 1 });
    }
    return out;
  };
  if (kind === 'wbEnd') {
    // Whatever a WRITEBACK_BEGIN marked: AwaitingClean pages and intervals with an awaiting length.
    const awaiting = runs((p) => {
      const slot = v.slots.get(p);
      return slot?.kind === 'page' && slot.state === 'awaiting';
    });
    for (const iv of v.intervals) if (iv.awaitLen > 0) awaiting.push({ vmo: vi, page: iv.start, pages: Math.min(iv.awaitLen, iv.end - iv.start) });
    if (awaiting.length > 0) return awaiting;
  }
  if (kind === 'wbBegin' || kind === 'wbEnd') {
    return dirtyRanges(v, 0, v.size)
      .filter((r) => !zeroOnly || r.options === ZX_VMO_DIRTY_RANGE_IS_ZERO)
      .map((r) => ({ vmo: vi, page: r.offset / PAGE, pages: r.length / PAGE }));
  }
  const types: ReqType[] = kind === 'supply' ? ['READ'] : kind === 'dirty' ? ['DIRTY'] : ['READ', 'DIRTY'];
  const out: { vmo: number; page: number; pages: number }[] = [];
  s.vmos.forEach((w, i) => {
    for (const type of types) for (const tid of w.outstanding[type]) out.push({ vmo: i, page: s.threads[tid].req.offset, pages: s.threads[tid].req.len });
  });
  // With no DIRTY request to answer, OP_DIRTY aims at present content that is not Dirty yet.
  if (out.length === 0 && kind === 'dirty') return runs((p) => slotKind(v, p) !== 'absent' && !isDirtyPage(v, p));
  return out;
}

function part(page: number, pages: number, which: number): [number, number] {
  switch (which % 5) {
    case 1:
      return [page, 1];
    case 2:
      return pages > 1 ? [page + 1, pages - 1] : [page, pages];
    case 3:
      return [page, pages + 1];
    case 4:
      return [page + pages - 1, 1];
    default:
      return [page, pages];
  }
}

function skip(reason: string): StepExpect {
  return { skipped: reason, finished: [], blocked: [] };
}

// ---------------------------------------------------------------------------------------------
// Handles (docs/semantics.md §2 general rules: BAD_HANDLE, WRONG_TYPE, ACCESS_DENIED, in order)

const R_READ = 1;
const R_WRITE = 2;

function vmoHandle(sel: VmoSel, rights: number): number {
  switch (sel) {
    case 'bad':
      return ZX_ERR_BAD_HANDLE;
    case 'port':
    case 'pager':
      return ZX_ERR_WRONG_TYPE;
    case 'ro':
      return rights & R_WRITE ? ZX_ERR_ACCESS_DENIED : ZX_OK;
    case 'wo':
      return rights & R_READ ? ZX_ERR_ACCESS_DENIED : ZX_OK;
    default:
      return ZX_OK;
  }
}

function pagerHandle(sel: PagerSel): number {
  if (sel === 'bad') return ZX_ERR_BAD_HANDLE;
  if (sel === 'port' || sel === 'vmo') return ZX_ERR_WRONG_TYPE;
  return ZX_OK;
}

/** Pager handle, then VMO handle, then "VMO created by this pager" (sys_pager_* in pager.cc). */
function pagerVmoHandles(pager: PagerSel, handle: VmoSel, vmoRights: number): number {
  const p = pagerHandle(pager);
  if (p !== ZX_OK) return p;
  const v = vmoHandle(handle, vmoRights);
  if (v !== ZX_OK) return v;
  if (pager === 'other' || handle === 'plain') return ZX_ERR_INVALID_ARGS;
  return ZX_OK;
}

// ---------------------------------------------------------------------------------------------
// Ops

function applyOp(s: State, op: Op, ex: StepExpect): void {
  switch (op.kind) {
    case 'create':
      ex.status = create(s, op);
      return;
    case 'read':
    case 'write':
    case 'commit':
    case 'zero':
    case 'vmoOp':
      ex.spawned = startThread(s, op);
      return;
    case 'supply':
      ex.status = supply(s, op);
      return;
    case 'fail':
      ex.status = failOp(s, op);
      return;
    case 'dirty':
      ex.status = dirtyOp(s, op);
      return;
    case 'wbBegin':
    case 'wbEnd':
      ex.status = writebackOp(s, op);
      return;
    case 'badOp': {
      ex.status = ZX_ERR_NOT_SUPPORTED; // PagerDispatcher::RangeOp default case
      return;
    }
    case 'detach':
      ex.status = detach(s, op);
      return;
    case 'resize':
      ex.status = resize(s, op);
      return;
    case 'query': {
      const r = query(s, op);
      ex.status = r.status;
      ex.value = r.value;
      return;
    }
    case 'stats': {
      const r = stats(s, op);
      ex.status = r.status;
      ex.value = r.value;
      return;
    }
    case 'drain':
      ex.packets = drain(s, op.count);
      return;
  }
}

function create(s: State, op: Extract<Op, { kind: 'create' }>): number {
  // sys_pager_create_vmo: pager handle, port handle, then the options.
  if (op.bad === 'pagerSlot' || op.bad === 'portSlot') return ZX_ERR_WRONG_TYPE;
  if (op.bad === 'options') return ZX_ERR_INVALID_ARGS;
  s.vmos.push({
    key: s.vmos.length + 1,
    size: op.pages,
    trap: op.trap,
    resizable: op.resizable,
    detached: false,
    modified: false,
    slots: new Map(),
    intervals: [],
    outstanding: { READ: [], DIRTY: [] },
    proxy: { busy: false, active: null, fifo: [] },
  });
  return ZX_OK;
}

/** zx_pager_supply_pages (docs/semantics.md §2.4): checks in pager.cc order, then fill only absent offsets. */
function supply(s: State, op: Extract<Op, { kind: 'supply' }>): number {
  if (op.misalign !== 0) return ZX_ERR_INVALID_ARGS;
  const h = pagerVmoHandles(op.pager, op.handle, R_WRITE);
  if (h !== ZX_OK) return h;
  if (op.aux === 'port') return ZX_ERR_WRONG_TYPE;
  if (op.aux === 'ro') return ZX_ERR_ACCESS_DENIED; // aux needs READ and WRITE
  // "length 0 is a no-op success" (docs/semantics.md §2.4): nothing is taken from aux (VmObjectPaged::TakePages
  // loops over an empty range) and nothing is supplied.
  if (op.pages === 0) return ZX_OK;
  if (op.aux === 'small') return ZX_ERR_OUT_OF_RANGE; // TakePages outside the aux VMO
  if (op.aux === 'pagerVmo') return ZX_ERR_NOT_SUPPORTED; // aux has a page source
  const vi = s.vmos.length ? op.vmo % s.vmos.length : 0;
  const v = s.vmos[vi];
  // The aux VMO's pages were taken before this point; a failure below loses them, as in Zircon.
  const gen = s.supplies++;
  if (op.page + op.pages > v.size) return ZX_ERR_OUT_OF_RANGE;
  if (v.detached) return ZX_ERR_BAD_STATE;
  let runStart = -1;
  const flush = (end: number): void => {
    if (runStart >= 0) resolveRequests(s, vi, 'READ', runStart, end - runStart, ZX_OK);
    runStart = -1;
  };
  for (let p = op.page; p < op.page + op.pages; p++) {
    if (slotKind(v, p) !== 'absent') {
      flush(p); // an offset that holds content is skipped and its supplied page freed
      continue;
    }
    const withData = (op.data >> (p - op.page)) & 1;
    v.slots.set(p, withData ? { kind: 'page', data: supplyPageData(v.key, p, gen), state: 'clean' } : { kind: 'marker' });
    if (runStart < 0) runStart = p;
  }
  flush(op.page + op.pages);
  return ZX_OK;
}

/** Common checks of zx_pager_op_range (docs/semantics.md §2.5): alignment, handles, then the op's own checks. */
function opRangeChecks(op: PagerSide): number {
  if (op.misalign !== 0) return ZX_ERR_INVALID_ARGS;
  return pagerVmoHandles(op.pager, op.handle, R_WRITE);
}

const EXTERNAL_FAIL_CODES = new Set([ZX_ERR_IO, ZX_ERR_IO_DATA_INTEGRITY, ZX_ERR_BAD_STATE, ZX_ERR_NO_SPACE, ZX_ERR_BUFFER_TOO_SMALL]);

/** ZX_PAGER_OP_FAIL (docs/semantics.md §2.5, §3.7). */
function failOp(s: State, op: Extract<Op, { kind: 'fail' }>): number {
  const c = opRangeChecks(op);
  if (c !== ZX_OK) return c;
  const code = typeof op.code === 'bigint' ? op.code : BigInt(op.code);
  if (code < -(2n ** 31n) || code >= 2n ** 31n || !EXTERNAL_FAIL_CODES.has(Number(code))) return ZX_ERR_INVALID_ARGS;
  const vi = op.vmo % s.vmos.length;
  const v = s.vmos[vi];
  if (op.page + op.pages > v.size) return ZX_ERR_OUT_OF_RANGE;
  if (v.detached) return ZX_ERR_BAD_STATE;
  for (const type of ['READ', 'DIRTY'] as const) resolveRequests(s, vi, type, op.page, op.pages, Number(code));
  return ZX_OK;
}

/** ZX_PAGER_OP_DIRTY (docs/semantics.md §2.5): all or nothing; failures still resolve DIRTY requests in range. */
function dirtyOp(s: State, op: Extract<Op, { kind: 'dirty' }>): number {
  const c = opRangeChecks(op);
  if (c !== ZX_OK) return c;
  if (op.data !== 0) return ZX_ERR_INVALID_ARGS;
  const vi = op.vmo % s.vmos.length;
  const v = s.vmos[vi];
  if (!v.trap) return ZX_ERR_NOT_SUPPORTED;
  const start = op.page;
  const end = op.page + op.pages;
  if (start > v.size) return ZX_ERR_OUT_OF_RANGE;
  if (end > v.size) {
    invalidateDirtyRequests(s, vi, start, v.size);
    return ZX_ERR_OUT_OF_RANGE;
  }
  if (v.detached) return ZX_ERR_BAD_STATE;
  for (let p = start; p < end; p++) {
    if (slotKind(v, p) === 'absent') {
      invalidateDirtyRequests(s, vi, start, end);
      return ZX_ERR_NOT_FOUND;
    }
  }
  // Zero markers and zero intervals get real zero pages; then every non-Dirty page becomes Dirty,
  // and DIRTY requests are resolved run by run (DirtyPages in vm_cow_pages.cc).
  for (let p = start; p < end; p++) {
    const k = slotKind(v, p);
    if (k === 'zero') splitIntervalAt(v, p);
    if (k === 'zero' || k === 'marker') v.slots.set(p, { kind: 'page', data: new Uint8Array(PAGE), state: 'clean' });
  }
  let runStart = -1;
  for (let p = start; p <= end; p++) {
    const slot = p < end ? (v.slots.get(p) as Extract<Slot, { kind: 'page' }>) : undefined;
    if (slot && slot.state !== 'dirty') {
      slot.state = 'dirty';
      if (runStart < 0) runStart = p;
      continue;
    }
    if (runStart >= 0) resolveRequests(s, vi, 'DIRTY', runStart, p - runStart, ZX_OK);
    runStart = -1;
  }
  return ZX_OK;
}

/** ZX_PAGER_OP_WRITEBACK_BEGIN / _END (docs/semantics.md §3.10–§3.12; interval bookkeeping as vm_cow_pages.cc does it). */
function writebackOp(s: State, op: Extract<Op, { kind: 'wbBegin' | 'wbEnd' }>): number {
  const c = opRangeChecks(op);
  if (c !== ZX_OK) return c;
  const begin = op.kind === 'wbBegin';
  if (begin ? op.data !== 0 && op.data !== ZX_VMO_DIRTY_RANGE_IS_ZERO : op.data !== 0) return ZX_ERR_INVALID_ARGS;
  const v = s.vmos[op.vmo % s.vmos.length];
  const start = op.page;
  const end = op.page + op.pages;
  if (end > v.size) return ZX_ERR_OUT_OF_RANGE;
  if (begin) {
    const isZero = op.data === ZX_VMO_DIRTY_RANGE_IS_ZERO;
    for (const [p, slot] of v.slots) {
      if (p >= start && p < end && slot.kind === 'page' && !isZero && slot.state === 'dirty') slot.state = 'awaiting';
    }
    // An interval is marked only if the range covers its start; its length is never shortened.
    for (const iv of v.intervals) {
      if (iv.start >= start && iv.start < end) iv.awaitLen = Math.max(iv.awaitLen, Math.min(end, iv.end) - iv.start);
    }
    return ZX_OK;
  }
  for (const [p, slot] of v.slots) {
    if (p >= start && p < end && slot.kind === 'page' && slot.state === 'awaiting') slot.state = 'clean';
  }
  // Intervals whose start lies in the range, in order, with a running awaiting-clean end: a wholly
  // covered interval is deleted (its offsets become absent), a partly covered one loses its head
  // (docs/semantics.md §3.11). (Zircon: WritebackEndLocked carries the awaiting-clean end from one interval to the next.)
  let awaitEnd = start;
  for (const iv of [...v.intervals]) {
    if (iv.start < start || iv.start >= end) continue;
    awaitEnd = Math.max(awaitEnd, iv.start + iv.awaitLen);
    if (iv.end <= end) {
      bump(s, iv.end <= awaitEnd ? 'model: WRITEBACK_END removes a zero interval' : 'model: WRITEBACK_END clips a zero interval');
      if (iv.end <= awaitEnd) v.intervals.splice(v.intervals.indexOf(iv), 1);
      else clipIntervalStart(iv, awaitEnd - iv.start);
    } else {
      clipIntervalStart(iv, Math.min(awaitEnd, end) - iv.start);
    }
  }
  return ZX_OK;
}

function clipIntervalStart(iv: Interval, n: number): void {
  if (n <= 0) return;
  iv.start += n;
  iv.awaitLen = Math.max(0, iv.awaitLen - n);
}

/** zx_pager_detach_vmo (docs/semantics.md §2.3, §3.9). */
function detach(s: State, op: Extract<Op, { kind: 'detach' }>): number {
  const h = pagerVmoHandles(op.pager, op.handle, R_WRITE);
  if (h !== ZX_OK) return h;
  const vi = op.vmo % s.vmos.length;
  const v = s.vmos[vi];
  if (v.detached) return ZX_OK;
  // PageSource::Detach: every outstanding READ then DIRTY request completes (smallest end first)
  // with the status it recorded, and the COMPLETE packet is queued; then clean content is dropped.
  for (const type of ['READ', 'DIRTY'] as const) {
    while (v.outstanding[type].length > 0) completeRequest(s, vi, type, v.outstanding[type][0]);
  }
  v.detached = true;
  proxySend(s, vi, 'COMPLETE');
  for (const [p, slot] of [...v.slots]) {
    if (slot.kind === 'marker' || slot.state === 'clean') v.slots.delete(p);
  }
  return ZX_OK;
}

/** zx_vmo_set_size with a page-aligned size (docs/semantics.md §2.11). */
function resize(s: State, op: Extract<Op, { kind: 'resize' }>): number {
  const h = vmoHandle(op.handle, R_WRITE);
  if (h !== ZX_OK) return h;
  const vi = op.vmo % s.vmos.length;
  const v = s.vmos[vi];
  if (!v.resizable) return ZX_ERR_UNAVAILABLE;
  const n = op.pages;
  if (n < v.size) {
    if (!v.detached) {
      for (const [a, b] of gaps(v, n, v.size)) resolveRequests(s, vi, 'READ', a, b - a, ZX_OK);
      if (v.trap) invalidateDirtyRequests(s, vi, n, v.size);
    }
    for (const iv of [...v.intervals]) {
      if (iv.start >= n) v.intervals.splice(v.intervals.indexOf(iv), 1);
      else if (iv.end > n) iv.end = n;
    }
    for (const p of [...v.slots.keys()]) if (p >= n) v.slots.delete(p);
  } else if (n > v.size) {
    addZeroInterval(v, v.size, n);
  }
  v.size = n;
  v.modified = true;
  return ZX_OK;
}

function query(s: State, op: Extract<Op, { kind: 'query' }>): { status: number; value?: unknown } {
  const h = pagerVmoHandles(op.pager, op.handle, R_READ);
  if (h !== ZX_OK) return { status: h };
  const v = s.vmos[op.vmo % s.vmos.length];
  if (op.offset + op.length > v.size * PAGE) return { status: ZX_ERR_OUT_OF_RANGE };
  const ranges = dirtyRanges(v, Math.floor(op.offset / PAGE), Math.ceil((op.offset + op.length) / PAGE));
  const actual = Math.min(ranges.length, op.max);
  return { status: ZX_OK, value: { ranges: ranges.slice(0, actual), actual, avail: ranges.length } };
}

function stats(s: State, op: Extract<Op, { kind: 'stats' }>): { status: number; value?: unknown } {
  const h = pagerVmoHandles(op.pager, op.handle, R_READ);
  if (h !== ZX_OK) return { status: h };
  if ((op.options & ~1) !== 0) return { status: ZX_ERR_INVALID_ARGS };
  const v = s.vmos[op.vmo % s.vmos.length];
  const value = { modified: v.modified };
  if (op.options & 1) v.modified = false;
  return { status: ZX_OK, value };
}

/** Pager packets leave the port in FIFO order; each dequeue lets that VMO post its next request. */
function drain(s: State, count: number): PacketView[] {
  const out: PacketView[] = [];
  while (out.length < count && s.port.length > 0) {
    const e = s.port.shift()!;
    out.push(e.packet);
    const px = s.vmos[e.vmo].proxy;
    px.active = null;
    px.busy = false;
    if (e.ref !== 'COMPLETE') proxyFreed(s, e.vmo);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Page list: slots and zero intervals

type SlotKind = 'absent' | 'page' | 'marker' | 'zero';

function intervalAt(v: VmoState, p: number): Interval | undefined {
  return v.intervals.find((iv) => p >= iv.start && p < iv.end);
}

function slotKind(v: VmoState, p: number): SlotKind {
  const slot = v.slots.get(p);
  if (slot) return slot.kind;
  return intervalAt(v, p) ? 'zero' : 'absent';
}

function isDirtyPage(v: VmoState, p: number): boolean {
  const slot = v.slots.get(p);
  return slot?.kind === 'page' && slot.state === 'dirty';
}

/** Runs of absent offsets in [a, b). */
function gaps(v: VmoState, a: number, b: number): [number, number][] {
  const out: [number, number][] = [];
  let g = -1;
  for (let p = a; p <= b; p++) {
    const absent = p < b && slotKind(v, p) === 'absent';
    if (absent && g < 0) g = p;
    if (!absent && g >= 0) {
      out.push([g, p]);
      g = -1;
    }
  }
  return out;
}

/**
 * Adds the zero interval [a, b) over offsets that hold nothing. It merges with an interval ending at
 * a (whose awaiting-clean length is kept) and one starting at b (whose length is lost: the merged
 * interval's start is the earlier one). (Zircon: VmPageList::AddZeroInterval; the spec only says a
 * reshaped interval is left alone by a later WRITEBACK_END.)
 */
function addZeroInterval(v: VmoState, a: number, b: number): void {
  const prev = v.intervals.find((iv) => iv.end === a);
  const next = v.intervals.find((iv) => iv.start === b);
  if (prev && next) {
    prev.end = next.end;
    v.intervals.splice(v.intervals.indexOf(next), 1);
  } else if (prev) {
    prev.end = b;
  } else if (next) {
    next.start = a;
    next.awaitLen = 0;
  } else {
    v.intervals.push({ start: a, end: b, awaitLen: 0 });
    v.intervals.sort((x, y) => x.start - y.start);
  }
}

/**
 * Takes offset p out of its zero interval so a page can go there (docs/semantics.md §3.11: writes split intervals).
 * Splitting at the start carries the awaiting-clean length over to the new start, one page
 * shorter; splitting inside leaves the left part's length alone (it may now reach past its end) and
 * gives the right part none. (Zircon: VmPageList::LookupOrAllocateCheckForInterval.)
 */
function splitIntervalAt(v: VmoState, p: number): void {
  const iv = intervalAt(v, p)!;
  if (iv.end - iv.start === 1) {
    v.intervals.splice(v.intervals.indexOf(iv), 1);
  } else if (p === iv.start) {
    iv.start++;
    iv.awaitLen = Math.max(0, iv.awaitLen - 1);
  } else if (p === iv.end - 1) {
    iv.end--;
  } else {
    const right = { start: p + 1, end: iv.end, awaitLen: 0 };
    iv.end = p;
    v.intervals.splice(v.intervals.indexOf(iv) + 1, 0, right);
  }
}

/** Maximal runs of Dirty/AwaitingClean pages (options 0) and of zero intervals (IS_ZERO) in [a, b). */
function dirtyRanges(v: VmoState, a: number, b: number): DirtyRangeView[] {
  const out: DirtyRangeView[] = [];
  let cur: { start: number; zero: boolean } | null = null;
  for (let p = a; p <= b; p++) {
    let kind: 'page' | 'zero' | null = null;
    if (p < b) {
      const k = slotKind(v, p);
      const slot = v.slots.get(p);
      if (k === 'zero') kind = 'zero';
      else if (slot?.kind === 'page' && slot.state !== 'clean') kind = 'page';
    }
    if (cur && (kind === null || (kind === 'zero') !== cur.zero || (kind === 'zero' && intervalAt(v, p)!.start === p))) {
      out.push({ offset: cur.start * PAGE, length: (p - cur.start) * PAGE, options: cur.zero ? ZX_VMO_DIRTY_RANGE_IS_ZERO : 0 });
      cur = null;
    }
    if (kind && !cur) cur = { start: p, zero: kind === 'zero' };
  }
  return out;
}

/** ZERO over whole pages [a, b) (ZeroPagesPreservingContentLocked): pages and absent runs become
 *  dirty zero intervals, markers and intervals stay; absent runs resolve READ requests. */
function zeroPages(s: State, vi: number, a: number, b: number, log: PageLog): void {
  const v = s.vmos[vi];
  let p = a;
  while (p < b) {
    const k = slotKind(v, p);
    log.mod.add(`${vi}:${p}`);
    if (k === 'page') {
      v.slots.delete(p);
      addZeroInterval(v, p, p + 1);
      p++;
    } else if (k === 'absent') {
      let q = p;
      while (q < b && slotKind(v, q) === 'absent') log.mod.add(`${vi}:${q++}`);
      resolveRequests(s, vi, 'READ', p, q - p, ZX_OK);
      addZeroInterval(v, p, q);
      p = q;
    } else {
      p++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Page requests (page_source.cc; docs/semantics.md §3.4–§3.7)

function newReq(): Req {
  return { init: false, type: 'READ', offset: 0, len: 0, earlyWake: false, wake: NO_WAKE, status: ZX_OK, pending: 0, followers: [], role: 'none', leader: -1 };
}

function reqEnd(r: Req): number {
  return r.offset + r.len;
}

function insertOutstanding(s: State, vi: number, type: ReqType, tid: number): void {
  const list = s.vmos[vi].outstanding[type];
  list.push(tid);
  list.sort((x, y) => reqEnd(s.threads[x].req) - reqEnd(s.threads[y].req));
}

/** The outstanding request of `type` with the smallest end greater than p. */
function upperBound(s: State, vi: number, type: ReqType, p: number): number | undefined {
  return s.vmos[vi].outstanding[type].find((tid) => reqEnd(s.threads[tid].req) > p);
}

const WAIT = 1;

/**
 * PageSource::PopulateRequest for thread t: asks for [p, p + len) and returns WAIT, or BAD_STATE on
 * a detached VMO. An early-woken thread asking again inside its own request just moves its wake
 * point; asking elsewhere cancels that request first. A new request is clipped against the
 * outstanding one it overlaps and follows it if it starts inside it.
 */
function populateRequest(s: State, t: ThreadState, type: ReqType, p: number, len: number): number {
  const vi = t.vmo;
  if (s.vmos[vi].detached) return ZX_ERR_BAD_STATE;
  const r = t.req;
  if (r.init) {
    if (r.type === type && p >= r.offset && p < reqEnd(r)) {
      bump(s, 'model: early-woken reader waits again on its request');
      r.wake = p - r.offset;
      return WAIT;
    }
    cancelRequest(s, t);
  }
  Object.assign(r, newReq(), { init: true, type, offset: p, earlyWake: t.kind === 'read', status: ZX_OK });
  r.wake = r.earlyWake ? 0 : NO_WAKE;
  const nodeTid = upperBound(s, vi, type, p);
  if (nodeTid !== undefined) {
    const n = s.threads[nodeTid].req;
    if (p >= n.offset && p + len >= reqEnd(n)) len = reqEnd(n) - p;
    else if (p < n.offset && p + len >= n.offset) len = n.offset - p;
  }
  r.len = len;
  if (nodeTid !== undefined && s.threads[nodeTid].req.offset <= p) {
    bump(s, 'model: request follows another');
    r.role = 'follower';
    r.leader = nodeTid;
    s.threads[nodeTid].req.followers.push(t.tid);
  } else {
    r.role = 'leader';
    r.pending = len;
    insertOutstanding(s, vi, type, t.tid);
    proxySend(s, vi, t.tid);
  }
  return WAIT;
}

/** PageSource::CancelRequestLocked: followers leave; a leader hands its request to its first follower. */
function cancelRequest(s: State, t: ThreadState): void {
  const r = t.req;
  if (!r.init) return;
  const v = s.vmos[t.vmo];
  if (r.role === 'follower') {
    const l = s.threads[r.leader].req;
    l.followers.splice(l.followers.indexOf(t.tid), 1);
  } else if (r.followers.length > 0) {
    bump(s, 'model: cancelled leader hands over to a follower');
    const heirTid = r.followers[0];
    const h = s.threads[heirTid].req;
    h.followers = r.followers.slice(1);
    for (const f of h.followers) s.threads[f].req.leader = heirTid;
    h.offset = r.offset;
    h.len = r.len;
    h.pending = r.pending;
    h.role = 'leader';
    h.leader = -1;
    const list = v.outstanding[r.type];
    list[list.indexOf(t.tid)] = heirTid;
    proxySwap(s, t.vmo, t.tid, heirTid);
  } else {
    const list = v.outstanding[r.type];
    list.splice(list.indexOf(t.tid), 1);
    proxyClear(s, t.vmo, t.tid);
  }
  t.req = newReq();
}

function signal(s: State, tid: number, status: number): void {
  const t = s.threads[tid];
  t.signaled = true;
  t.sigStatus = status;
}

/** PageSource::CompleteRequestLocked: withdraw the packet, wake followers then the leader. */
function completeRequest(s: State, vi: number, type: ReqType, leaderTid: number): void {
  const list = s.vmos[vi].outstanding[type];
  list.splice(list.indexOf(leaderTid), 1);
  proxyClear(s, vi, leaderTid);
  const lt = s.threads[leaderTid];
  for (const f of lt.req.followers) {
    const ft = s.threads[f];
    signal(s, f, ft.req.status);
    ft.req = newReq();
  }
  signal(s, leaderTid, lt.req.status);
  lt.req = newReq();
}

/** Converts [a, b) to the part overlapping request r, relative to r.offset. */
function trim(r: Req, a: number, b: number): [number, number] {
  return [a >= r.offset ? a - r.offset : 0, b < reqEnd(r) ? b - r.offset : r.len];
}

function overlaps(r: Req, a: number, b: number): boolean {
  return b > r.offset && a < reqEnd(r);
}

/**
 * [off, off + len) was supplied (err = OK) or failed (docs/semantics.md §3.6, §3.7). Pending counts drop by the
 * overlap; a request whose count reaches zero completes and wakes everyone with their own status.
 * (Zircon: PageSource::ResolveRequestsLocked.) A failure records its status on the leader if its
 * overlap starts at the request's first page or exactly at its wake point - docs/semantics.md §3.7 says "covers",
 * the code compares the start - and likewise per follower. A run that starts exactly at the
 * leader's wake point wakes it early without completing the request.
 */
function resolveRequests(s: State, vi: number, type: ReqType, off: number, len: number, err: number): void {
  const v = s.vmos[vi];
  if (v.detached) return;
  const end = off + len;
  const hit = v.outstanding[type].filter((tid) => overlaps(s.threads[tid].req, off, end));
  for (const tid of hit) {
    const r = s.threads[tid].req;
    const [rs, re] = trim(r, off, end);
    if (err !== ZX_OK) {
      bump(s, rs === 0 || rs === r.wake ? 'model: FAIL sets a leader status' : 'model: FAIL overlaps without failing the leader');
      if (rs === 0 || rs === r.wake) r.status = err;
      for (const f of r.followers) {
        const fr = s.threads[f].req;
        if (!overlaps(fr, off, end)) continue;
        const [fs] = trim(fr, off, end);
        if (fs === 0 || fs === fr.wake) fr.status = err;
      }
    }
    const fulfill = re - rs;
    if (fulfill < r.pending) {
      if (rs === r.wake) earlyWake(s, tid, rs, re);
      r.pending -= fulfill;
      continue;
    }
    completeRequest(s, vi, type, tid);
  }
}

/**
 * Wakes the leader and the early-wake followers the run reaches (docs/semantics.md §3.6). (Zircon:
 * EarlyWakeRequestLocked: followers are only looked at when their leader wakes early, and one whose
 * wake point the run has already passed is woken once anyway.)
 */
function earlyWake(s: State, leaderTid: number, rs: number, re: number): void {
  const r = s.threads[leaderTid].req;
  bump(s, 'model: early wake');
  r.wake = re;
  signal(s, leaderTid, r.status);
  const ps = rs + r.offset;
  const pe = re + r.offset;
  for (const f of r.followers) {
    const fr = s.threads[f].req;
    if (!fr.earlyWake) continue;
    if (ps > fr.offset && ps - fr.offset > fr.wake) {
      // Pages were supplied out of order past this follower's wake point: wake it anyway, once.
      fr.wake = r.len;
      signal(s, f, fr.status);
      continue;
    }
    if (!overlaps(fr, ps, pe)) continue;
    const [os, oe] = trim(fr, ps, pe);
    if (os <= fr.wake && oe > fr.wake) {
      fr.wake = oe;
      signal(s, f, fr.status);
    }
  }
}

/** InvalidateDirtyRequestsLocked: resolve DIRTY requests over every non-Dirty run, then every gap. */
function invalidateDirtyRequests(s: State, vi: number, a: number, b: number): void {
  const v = s.vmos[vi];
  let run = -1;
  for (let p = a; p <= b; p++) {
    const inRun = p < b && slotKind(v, p) !== 'absent' && !isDirtyPage(v, p);
    if (inRun && run < 0) run = p;
    if (!inRun && run >= 0) {
      resolveRequests(s, vi, 'DIRTY', run, p - run, ZX_OK);
      run = -1;
    }
  }
  for (const [g, h] of gaps(v, a, b)) resolveRequests(s, vi, 'DIRTY', g, h - g, ZX_OK);
}

// ---------------------------------------------------------------------------------------------
// PagerProxy and the port (docs/semantics.md §3.5)

function packetFor(s: State, vi: number, ref: ProxyRef): PacketView {
  const key = s.vmos[vi].key;
  if (ref === 'COMPLETE') return { key, command: ZX_PAGER_VMO_COMPLETE, offset: 0, length: 0 };
  const r = s.threads[ref].req;
  return { key, command: r.type === 'READ' ? ZX_PAGER_VMO_READ : ZX_PAGER_VMO_DIRTY, offset: r.offset * PAGE, length: r.len * PAGE };
}

function proxySend(s: State, vi: number, ref: ProxyRef): void {
  const px = s.vmos[vi].proxy;
  if (px.busy) {
    bump(s, 'model: request waits in the VMO FIFO');
    px.fifo.push(ref);
    return;
  }
  px.busy = true;
  px.active = ref;
  s.port.push({ vmo: vi, ref, packet: packetFor(s, vi, ref) });
}

/** The request left tracking: withdraw its unread packet (posting the next one) or its FIFO entry. */
function proxyClear(s: State, vi: number, ref: ProxyRef): void {
  const px = s.vmos[vi].proxy;
  if (px.active === ref) {
    bump(s, 'model: unread packet withdrawn');
    px.active = null;
    s.port.splice(
      s.port.findIndex((e) => e.vmo === vi),
      1,
    );
    proxyFreed(s, vi);
    return;
  }
  const i = px.fifo.indexOf(ref);
  if (i >= 0) {
    bump(s, 'model: queued request dropped from the FIFO');
    px.fifo.splice(i, 1);
  }
}

function proxySwap(s: State, vi: number, old: number, heir: number): void {
  const px = s.vmos[vi].proxy;
  const i = px.fifo.indexOf(old);
  if (i >= 0) {
    px.fifo[i] = heir;
  } else if (px.active === old) {
    px.active = heir;
    s.port.find((e) => e.vmo === vi)!.ref = heir;
  }
}

function proxyFreed(s: State, vi: number): void {
  const px = s.vmos[vi].proxy;
  px.busy = false;
  const next = px.fifo.shift();
  if (next !== undefined) proxySend(s, vi, next);
}

// ---------------------------------------------------------------------------------------------
// Threads

/** Pages a thread's retry looked at and changed: woken threads that overlap cannot be ordered. */
interface PageLog {
  acc: Set<string>;
  mod: Set<string>;
}

function startThread(s: State, op: Extract<Op, { kind: ThreadKind }>): number {
  const tid = s.threads.length;
  const vi = op.vmo % s.vmos.length;
  const t: ThreadState = {
    tid,
    kind: op.kind,
    vmo: vi,
    start: 0,
    end: 0,
    pos: 0,
    fill: op.kind === 'write' ? op.fill : ZERO_FILL,
    out: null,
    zero: null,
    req: newReq(),
    phase: 'blocked',
    signaled: false,
    sigStatus: ZX_OK,
    result: null,
  };
  s.threads.push(t);
  const log: PageLog = { acc: new Set(), mod: new Set() };
  const status = threadEntry(s, t, op, log);
  if (status !== WAIT) finish(s, t, status);
  return tid;
}

/** The syscall's argument checks and first pass; returns WAIT, or the status it returns with. */
function threadEntry(s: State, t: ThreadState, op: Extract<Op, { kind: ThreadKind }>, log: PageLog): number {
  const v = s.vmos[t.vmo];
  const size = v.size * PAGE;
  switch (op.kind) {
    case 'read':
    case 'write': {
      const h = vmoHandle(op.handle, op.kind === 'read' ? R_READ : R_WRITE);
      if (h !== ZX_OK) return h;
      t.start = t.pos = op.offset;
      t.end = op.offset + op.length;
      if (op.kind === 'read') t.out = new Uint8Array(op.length);
      if (t.end > size) return ZX_ERR_OUT_OF_RANGE;
      return readWrite(s, t, log);
    }
    case 'commit': {
      const h = vmoHandle(op.handle, R_WRITE);
      if (h !== ZX_OK) return h;
      const end = op.offset + op.length;
      if (end > size) return ZX_ERR_OUT_OF_RANGE;
      // (Zircon: CommitRangeInternal rounds the offset down and the end up, even for length 0.)
      t.start = t.pos = Math.floor(op.offset / PAGE);
      t.end = Math.ceil(end / PAGE);
      return commit(s, t, log);
    }
    case 'zero': {
      const h = vmoHandle(op.handle, R_WRITE);
      if (h !== ZX_OK) return h;
      if (op.offset + op.length > size) return ZX_ERR_OUT_OF_RANGE;
      t.zero = { start: op.offset, end: op.offset + op.length, stage: 'head', writing: false, last: false };
      return zeroRange(s, t, log);
    }
    case 'vmoOp': {
      if (op.op === 'invalid') return ZX_ERR_INVALID_ARGS;
      // DECOMMIT is refused on pager VMOs (absence would not mean zero), after the range check
      // and the empty-range shortcut (Zircon: DecommitRangeLocked).
      if ((op.page + op.pages) * PAGE > size) return ZX_ERR_OUT_OF_RANGE;
      return op.pages === 0 ? ZX_OK : ZX_ERR_NOT_SUPPORTED;
    }
  }
}

function finish(s: State, t: ThreadState, status: number): void {
  cancelRequest(s, t); // the PageRequest on the stack goes away with the syscall
  if (t.kind === 'write' && t.pos > t.start) s.vmos[t.vmo].modified = true;
  t.phase = 'done';
  t.signaled = false;
  t.result = status === ZX_OK && t.out ? { status, data: t.out } : { status };
}

/** A woken thread's retry: revalidate, then continue its loop. */
function resume(s: State, t: ThreadState, log: PageLog): void {
  t.signaled = false;
  if (t.sigStatus !== ZX_OK) {
    finish(s, t, t.sigStatus);
    return;
  }
  const size = s.vmos[t.vmo].size;
  let status: number;
  if (t.kind === 'read' || t.kind === 'write') {
    status = t.end > size * PAGE ? ZX_ERR_OUT_OF_RANGE : readWrite(s, t, log);
  } else if (t.kind === 'zero') {
    status = t.end > size * PAGE ? ZX_ERR_OUT_OF_RANGE : zeroRange(s, t, log);
    if (status !== WAIT) zeroWriteDone(s, t);
  } else {
    // COMMIT: a shrink while waiting trims the range instead of failing.
    t.end = Math.min(t.end, size);
    status = t.pos >= t.end ? ZX_OK : commit(s, t, log);
  }
  if (status !== WAIT) finish(s, t, status);
}

/** Length of the run of absent offsets at p, at most max (LookupCursor::ReadRequest). */
function absentRun(v: VmoState, vi: number, p: number, max: number, log: PageLog): number {
  let n = 0;
  while (n < max && slotKind(v, p + n) === 'absent') log.acc.add(`${vi}:${p + n++}`);
  return n;
}

/** Length of the run of present, non-Dirty content at p, at most max (PrepareForWriteLocked). */
function dirtyRun(v: VmoState, vi: number, p: number, max: number, log: PageLog): number {
  let n = 0;
  while (n < max && p + n < v.size && slotKind(v, p + n) !== 'absent' && !isDirtyPage(v, p + n)) log.acc.add(`${vi}:${p + n++}`);
  return n;
}

/** Makes page p a real Dirty page (a write or commit materialising a marker or interval). */
function materializeDirty(v: VmoState, p: number): Extract<Slot, { kind: 'page' }> {
  const k = slotKind(v, p);
  if (k === 'zero') splitIntervalAt(v, p);
  let slot = v.slots.get(p);
  if (!slot || slot.kind === 'marker') {
    slot = { kind: 'page', data: new Uint8Array(PAGE), state: 'dirty' };
    v.slots.set(p, slot);
  }
  slot.state = 'dirty';
  return slot;
}

/**
 * zx_vmo_read / zx_vmo_write loop (VmObjectPaged::ReadWriteInternalLocked), page by page. A read
 * asks for every remaining page (and wakes early); a write for at most 16, and on a TRAP_DIRTY VMO
 * asks for a DIRTY ack of the run of non-Dirty content before writing a page that is not Dirty.
 */
function readWrite(s: State, t: ThreadState, log: PageLog): number {
  const v = s.vmos[t.vmo];
  const write = t.kind !== 'read';
  while (t.pos < t.end) {
    const p = Math.floor(t.pos / PAGE);
    const lastPage = Math.floor((t.end - 1) / PAGE);
    const maxPages = write ? Math.min(lastPage - p + 1, 16) : lastPage - p + 1;
    const inPage = t.pos % PAGE;
    const n = Math.min(PAGE - inPage, t.end - t.pos);
    const key = `${t.vmo}:${p}`;
    log.acc.add(key);
    const k = slotKind(v, p);
    if (k === 'absent') {
      const st = populateRequest(s, t, 'READ', p, absentRun(v, t.vmo, p, maxPages, log));
      return st;
    }
    if (!write) {
      const slot = v.slots.get(p);
      if (slot?.kind === 'page') t.out!.set(slot.data.subarray(inPage, inPage + n), t.pos - t.start);
      t.pos += n;
      continue;
    }
    if (!isDirtyPage(v, p)) {
      if (v.trap) return populateRequest(s, t, 'DIRTY', p, dirtyRun(v, t.vmo, p, maxPages, log));
      materializeDirty(v, p);
    }
    const slot = v.slots.get(p) as Extract<Slot, { kind: 'page' }>;
    for (let i = 0; i < n; i++) slot.data[inPage + i] = t.fill === ZERO_FILL ? 0 : writeByte(t.fill, t.pos - t.start + i);
    log.mod.add(key);
    t.pos += n;
  }
  return ZX_OK;
}

/** The partial-page write of a ZERO ended (done or failed): it marks modified if it wrote a byte. */
function zeroWriteDone(s: State, t: ThreadState): void {
  const z = t.zero!;
  if (z.writing && t.pos > t.start) s.vmos[t.vmo].modified = true;
  z.writing = false;
}

/** Zeroes the partial page [a, b) of the page at `base` through the write loop, unless it reads as zero. */
function zeroPartial(s: State, t: ThreadState, base: number, a: number, b: number, log: PageLog): number {
  const v = s.vmos[t.vmo];
  const k = slotKind(v, base / PAGE);
  log.acc.add(`${t.vmo}:${base / PAGE}`);
  if (k === 'marker' || k === 'zero') return ZX_OK; // PageWouldReadZeroLocked
  t.zero!.writing = true;
  t.start = t.pos = a;
  t.end = b;
  const st = readWrite(s, t, log);
  if (st !== WAIT) zeroWriteDone(s, t);
  return st;
}

/**
 * Runs (or, after a wait, continues) a ZERO; returns WAIT or its status. Partial pages take the
 * write path and whole pages become dirty zero intervals (docs/semantics.md §2.10). (Zircon: ZeroRangeInternal does
 * the head page, then the tail page, then the whole pages; the spec does not order them.)
 */
function zeroRange(s: State, t: ThreadState, log: PageLog): number {
  const z = t.zero!;
  const v = s.vmos[t.vmo];
  if (z.writing) {
    // Continuing a partial page after a wait.
    const st = readWrite(s, t, log);
    if (st === WAIT) return WAIT;
    zeroWriteDone(s, t);
    if (st !== ZX_OK || z.last) return st;
    // Revalidate as ZeroRangeInternal does: against the whole end after the head, the tail's end after it.
    if ((z.stage === 'tail' ? z.end : t.end) > v.size * PAGE) return ZX_ERR_OUT_OF_RANGE;
  }
  const startBase = Math.floor(z.start / PAGE) * PAGE;
  const endBase = Math.floor(z.end / PAGE) * PAGE;
  if (z.stage === 'head') {
    z.stage = 'tail';
    if (z.start !== startBase) {
      if (startBase === endBase) {
        z.last = true;
        return zeroPartial(s, t, startBase, z.start, z.end, log);
      }
      const head = z.start;
      z.start = startBase + PAGE;
      const st = zeroPartial(s, t, startBase, head, startBase + PAGE, log);
      if (st !== ZX_OK) return st;
      if (z.end > v.size * PAGE) return ZX_ERR_OUT_OF_RANGE;
    }
  }
  if (z.stage === 'tail') {
    z.stage = 'whole';
    if (z.end !== endBase) {
      const tail = z.end;
      z.end = endBase;
      const st = zeroPartial(s, t, endBase, endBase, tail, log);
      if (st !== ZX_OK) return st;
      if (tail > v.size * PAGE) return ZX_ERR_OUT_OF_RANGE;
    }
  }
  if (z.start < z.end) {
    zeroPages(s, t.vmo, z.start / PAGE, z.end / PAGE, log);
    v.modified = true; // any whole page processed counts (ZeroRangeInternal's mark_modified)
  }
  return ZX_OK;
}

/**
 * ZX_VMO_OP_COMMIT loop (CommitRangeLocked / RequireOwnedPage, not writing): absent runs need a READ,
 * a zero marker becomes a Clean page, a zero interval a Dirty page (after a DIRTY ack if trapping).
 */
function commit(s: State, t: ThreadState, log: PageLog): number {
  const v = s.vmos[t.vmo];
  while (t.pos < t.end) {
    const p = t.pos;
    log.acc.add(`${t.vmo}:${p}`);
    const k = slotKind(v, p);
    if (k === 'absent') return populateRequest(s, t, 'READ', p, absentRun(v, t.vmo, p, t.end - p, log));
    if (k === 'marker') {
      v.slots.set(p, { kind: 'page', data: new Uint8Array(PAGE), state: 'clean' });
      log.mod.add(`${t.vmo}:${p}`);
    } else if (k === 'zero') {
      if (v.trap) return populateRequest(s, t, 'DIRTY', p, dirtyRun(v, t.vmo, p, t.end - p, log));
      materializeDirty(v, p);
      log.mod.add(`${t.vmo}:${p}`);
    }
    t.pos++;
  }
  return ZX_OK;
}

// ---------------------------------------------------------------------------------------------
// Running woken threads

/**
 * Runs every signalled thread's retry. With two or more, every order is tried: if the orders end in
 * different states, or one thread changes a page another looks at, the outcome depends on timing
 * and the step is reported as skipped (the returned string says why). A retry can itself wake
 * threads (a ZERO that waited on a partial page resolves READ requests over its whole pages): those
 * run next, after it, as in the kernel where the waker holds the VMO lock while it signals - unless
 * the waker ran alongside other woken threads, which is again a race.
 */
function runWoken(s: State): State | string {
  for (;;) {
    const woken = s.threads.filter((t) => t.phase === 'blocked' && t.signaled).map((t) => t.tid);
    if (woken.length === 0) return s;
    if (woken.length === 1) {
      resume(s, s.threads[woken[0]], { acc: new Set(), mod: new Set() });
      continue;
    }
    let first: { state: State; snap: string } | null = null;
    for (const order of permutations(woken)) {
      const trial = structuredClone(s);
      const logs = new Map<number, PageLog>();
      for (const tid of order) {
        const log: PageLog = { acc: new Set(), mod: new Set() };
        logs.set(tid, log);
        resume(trial, trial.threads[tid], log);
      }
      if (first === null && conflicting(logs)) return `${woken.length} woken threads touch the same pages`;
      if (trial.threads.some((t) => t.phase === 'blocked' && t.signaled)) return `${woken.length} woken threads, one of which wakes others`;
      const snap = snapshot(trial);
      if (first === null) first = { state: trial, snap };
      else if (snap !== first.snap) return `${woken.length} woken threads race (order changes the outcome)`;
    }
    return first!.state;
  }
}

function conflicting(logs: Map<number, PageLog>): boolean {
  for (const [a, la] of logs) {
    for (const [b, lb] of logs) {
      if (a === b) continue;
      for (const k of la.mod) if (lb.acc.has(k) || lb.mod.has(k)) return true;
    }
  }
  return false;
}

function permutations(xs: number[]): number[][] {
  if (xs.length <= 1) return [xs];
  const out: number[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

function snapshot(s: State): string {
  return JSON.stringify(s, (k, v: unknown) => {
    if (k === 'counters') return undefined;
    if (v instanceof Uint8Array) return digest(v);
    if (v instanceof Map) return [...v.entries()].sort((a, b) => (a[0] as number) - (b[0] as number));
    return v;
  });
}

function digest(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return `${b.length}:${(h >>> 0).toString(16)}`;
}
