// Property test of the all-or-nothing rule under memory pressure: with the frame pool squeezed to a few
// frames and interval records to two, random sequences of supply / write / OP_DIRTY / OP_ZERO /
// writeback / resize on two pager VMOs (one TRAP_DIRTY, one not) run on the main thread against a
// byte-array model of each VMO (content and dirty kind per page). After every step: the op either
// succeeded and the model was updated, or returned ZX_ERR_NO_MEMORY (or its documented error) and
// nothing changed; the dirty ranges match the model and every page reads back as modelled (a Clean
// page that reclaim evicted is resupplied from the model's backing copy first, as a pager would).
// Deterministic: fixed seed, single thread, no timing.

import t from 'tap';
import fc from 'fast-check';
import { ZX_PAGER_OP_WRITEBACK_BEGIN, ZX_PAGER_OP_WRITEBACK_END, ZX_VMO_OP_ZERO, ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY } from '../../core/index.js';
import { KernelEnv, P, statusNameOf } from '../helpers/kernel_env.js';

const FRAMES = 5;
const MAX_PAGES = 8;

type Kind = 'clean' | 'dirtyPage' | 'dirtyZero';

/** One VMO's model: the bytes a read returns per page, its dirty kind, and the pager's backing copy. */
interface VmoModel {
  handle: number;
  trap: boolean;
  pages: number;
  content: Uint8Array[];
  kind: Kind[];
  backing: Uint8Array[];
}

type Op =
  | { op: 'supply'; v: number; page: number; count: number }
  | { op: 'write'; v: number; page: number; at: number; byte: number }
  | { op: 'dirty'; v: number; page: number; count: number }
  | { op: 'zero'; v: number; page: number; count: number }
  | { op: 'writeback'; v: number }
  | { op: 'resize'; v: number; pages: number };

const vmoSel = fc.integer({ min: 0, max: 1 });
const page = fc.integer({ min: 0, max: MAX_PAGES - 1 });
const count = fc.integer({ min: 1, max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('supply' as const), v: vmoSel, page, count }),
  fc.record({ op: fc.constant('write' as const), v: vmoSel, page, at: fc.integer({ min: 0, max: P - 1 }), byte: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('dirty' as const), v: vmoSel, page, count }),
  fc.record({ op: fc.constant('zero' as const), v: vmoSel, page, count }),
  fc.record({ op: fc.constant('writeback' as const), v: vmoSel }),
  fc.record({ op: fc.constant('resize' as const), v: vmoSel, pages: fc.integer({ min: 1, max: MAX_PAGES }) }),
);

function initialPage(v: number, p: number): Uint8Array {
  const out = new Uint8Array(P);
  out.fill((v * 64 + p * 5 + 3) & 0xff);
  out[p] = 0x5a;
  return out;
}

class Harness {
  readonly env = new KernelEnv({ physicalMemory: FRAMES * P, maxZeroIntervals: 2 });
  readonly vmos: VmoModel[] = [];

  constructor() {
    for (let v = 0; v < 2; v++) {
      const trap = v === 0;
      const { handle } = this.env.createVmo(4, ZX_VMO_RESIZABLE | (trap ? ZX_VMO_TRAP_DIRTY : 0));
      const m: VmoModel = { handle, trap, pages: 4, content: [], kind: [], backing: [] };
      for (let p = 0; p < 4; p++) {
        m.backing.push(initialPage(v, p));
        m.content.push(m.backing[p].slice());
        m.kind.push('clean');
      }
      this.vmos.push(m);
    }
  }

  /** The pager's resupply: Clean pages of [page, page + n) from the backing copy; a status name. */
  resupply(m: VmoModel, page: number, n: number): string {
    const { sys } = this.env;
    let aux: number;
    try {
      aux = sys.vmoCreate(n * P, 0);
    } catch {
      return 'ZX_ERR_NO_MEMORY';
    }
    try {
      for (let i = 0; i < n; i++) {
        if (m.kind[page + i] !== 'clean') continue;
        const status = statusNameOf(() => sys.vmoWrite(aux, m.backing[page + i], i * P));
        if (status !== 'ZX_OK') return status;
      }
      return statusNameOf(() => sys.pagerSupplyPages(this.env.pager, m.handle, page * P, n * P, aux, 0));
    } finally {
      sys.handleClose(aux);
    }
  }

  /** Runs one op on kernel and model; returns a description of a violation, or null. */
  step(o: Op): string | null {
    const m = this.vmos[o.v];
    const { sys, pager } = this.env;
    switch (o.op) {
      case 'supply': {
        if (o.page + o.count > m.pages) return null;
        const s = this.resupply(m, o.page, o.count);
        return s === 'ZX_OK' || s === 'ZX_ERR_NO_MEMORY' ? null : `supply: ${s}`;
      }
      case 'write': {
        if (o.page >= m.pages) return null;
        const kind = m.kind[o.page];
        // A TRAP_DIRTY VMO would raise a DIRTY request (a wait) unless the page is already a Dirty page.
        if (m.trap && kind !== 'dirtyPage') return null;
        if (kind === 'clean' && this.resupply(m, o.page, 1) !== 'ZX_OK') return null;
        const s = statusNameOf(() => sys.vmoWrite(m.handle, Uint8Array.of(o.byte), o.page * P + o.at));
        if (s === 'ZX_OK') {
          m.content[o.page][o.at] = o.byte;
          m.kind[o.page] = 'dirtyPage';
        } else if (s !== 'ZX_ERR_NO_MEMORY') return `write: ${s}`;
        return null;
      }
      case 'dirty': {
        if (!m.trap || o.page + o.count > m.pages) return null;
        this.resupply(m, o.page, o.count); // best effort: an absent page makes it NOT_FOUND
        const s = this.env.opDirty(m.handle, o.page, o.count);
        if (s === 'ZX_OK') {
          for (let p = o.page; p < o.page + o.count; p++) m.kind[p] = 'dirtyPage';
        } else if (s !== 'ZX_ERR_NO_MEMORY' && s !== 'ZX_ERR_NOT_FOUND') return `OP_DIRTY: ${s}`;
        return null;
      }
      case 'zero': {
        if (o.page + o.count > m.pages) return null;
        const s = statusNameOf(() => sys.vmoOpRange(m.handle, ZX_VMO_OP_ZERO, o.page * P, o.count * P));
        if (s === 'ZX_OK') {
          // Resupplies always commit frames (the backing copy is written to aux), so the model
          // never has a zero marker, the one thing ZERO leaves as it is.
          for (let p = o.page; p < o.page + o.count; p++) {
            m.content[p] = new Uint8Array(P);
            m.kind[p] = 'dirtyZero';
          }
        } else if (s !== 'ZX_ERR_NO_MEMORY') return `OP_ZERO: ${s}`;
        return null;
      }
      case 'writeback': {
        // The pager stores every dirty page, then BEGIN/END over the whole VMO.
        sys.pagerOpRange(pager, ZX_PAGER_OP_WRITEBACK_BEGIN, m.handle, 0, m.pages * P);
        sys.pagerOpRange(pager, ZX_PAGER_OP_WRITEBACK_END, m.handle, 0, m.pages * P);
        for (let p = 0; p < m.pages; p++) {
          if (m.kind[p] === 'clean') continue;
          m.backing[p] = m.content[p].slice();
          m.kind[p] = 'clean';
        }
        return null;
      }
      case 'resize': {
        const s = statusNameOf(() => sys.vmoSetSize(m.handle, o.pages * P));
        if (s === 'ZX_OK') {
          for (let p = m.pages; p < o.pages; p++) {
            m.content[p] = new Uint8Array(P);
            m.kind[p] = 'dirtyZero';
            m.backing[p] = new Uint8Array(P);
          }
          m.content.length = m.kind.length = m.backing.length = Math.max(o.pages, 0);
          m.pages = o.pages;
        } else if (s !== 'ZX_ERR_NO_MEMORY') return `resize: ${s}`;
        return null;
      }
    }
  }

  /** Compares the kernel with the model: dirty ranges, then every page's bytes. */
  check(): string | null {
    for (let v = 0; v < this.vmos.length; v++) {
      const m = this.vmos[v];
      const ranges = this.env.dirtyRanges(m.handle, m.pages);
      const dirty = new Array<boolean>(m.pages).fill(false);
      for (const [s, e] of ranges) for (let p = s; p < e; p++) dirty[p] = true;
      for (let p = 0; p < m.pages; p++) {
        if (dirty[p] !== (m.kind[p] !== 'clean')) return `vmo ${v} page ${p}: kernel dirty=${dirty[p]}, model ${m.kind[p]}`;
      }
      for (let p = 0; p < m.pages; p++) {
        if (m.kind[p] === 'clean' && this.resupply(m, p, 1) !== 'ZX_OK') continue; // no memory to read it back
        const got = this.env.readPage(m.handle, p);
        const want = m.content[p];
        for (let i = 0; i < P; i++) {
          if (got[i] !== want[i]) return `vmo ${v} page ${p} byte ${i}: kernel ${got[i]}, model ${want[i]} (${m.kind[p]})`;
        }
      }
    }
    return null;
  }
}

t.test('random supply / write / OP_DIRTY / OP_ZERO / writeback / resize under a squeezed pool match a byte model', async (t) => {
  const seed = Number(process.env.SEED ?? 0x5eed);
  let failure: string | null = null;
  try {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 20 }), (ops) => {
        const h = new Harness();
        for (let i = 0; i < ops.length; i++) {
          const bad = h.step(ops[i]) ?? h.check();
          if (bad !== null) {
            failure = `step ${i} ${JSON.stringify(ops[i])}: ${bad}`;
            return false;
          }
        }
        return true;
      }),
      { seed, numRuns: 200 },
    );
  } catch (e) {
    t.fail(`${failure ?? ''}\n${e instanceof Error ? e.message.split('\n').slice(0, 6).join('\n') : String(e)}`);
    return;
  }
  t.pass('200 sequences matched the model');
});
