// Record declarations: the one mechanism every shared-memory record of shared/layout.ts is declared
// with. A record is a list of named fields; their word offsets are computed from the list (never
// written by hand), the total is asserted against the record's size, and each field says what guards
// it. From a declaration come named accessors, installed once per process on a table class:
//
//   const t = new VmoTable(w, layout.objects);   // one per KernelState
//   t.sizePages(v); t.setSizePages(v, n);         // plain field: read/written under its lock
//   t.refs(v); t.addRefs(v, 1);                   // atomic field: Atomics.load/store/add
//   t.lockWord(v);                                // word index, for futexes and compareExchange
//   t.entry(n, i); t.setEntry(n, i, x);           // array field: `words` consecutive words
//
// Units are part of the name (offsetPages, lengthPages, sizePages), so an accessor says whether it
// counts bytes or pages. Each accessor is generated once per process with its offsets as literals and
// shared by every table of its record, so V8 inlines it at a monomorphic call site: it costs what the
// raw access did.
// This module and the few hot leaves that document it (shared/intrusive_list.ts, core/vm/page_list.ts)
// are the only places that index the word array directly.
//
// Threads: every thread, read-only after module load. Nothing here touches shared memory by itself.

import { assert } from './assert.js';

/** What a field holds and how it is accessed. */
export interface FieldSpec {
  /** Accessor name, with its unit where it has one (offsetPages, lengthPages). */
  readonly name: string;
  /** What protects the field: a lock, "atomic" (read and written with Atomics only), or "owner" (one thread). */
  readonly guard: string;
  /** true: accessors use Atomics.load/store and an `add…` accessor exists. */
  readonly atomic?: boolean;
  /** An array field of this many words (accessors take an index). */
  readonly words?: number;
}

type Cap<S extends string> = Capitalize<S>;
type ArrayField = { readonly words: number };
type AtomicField = { readonly atomic: true };

/** The accessors a declaration yields for records addressed by slot. */
export type SlotAccessors<F extends FieldSpec> = {
  readonly [K in F as K['name']]: K extends ArrayField ? (slot: number, i: number) => number : (slot: number) => number;
} & {
  readonly [K in F as `set${Cap<K['name']>}`]: K extends ArrayField ? (slot: number, i: number, value: number) => void : (slot: number, value: number) => void;
} & {
  readonly [K in F as K extends AtomicField ? `add${Cap<K['name']>}` : never]: (slot: number, delta: number) => number;
} & {
  readonly [K in F as `${K['name']}Word`]: (slot: number) => number;
};

/** The accessors of a singleton record (the header): no slot argument. */
export type SingletonAccessors<F extends FieldSpec> = {
  readonly [K in F as K['name']]: () => number;
} & {
  readonly [K in F as `set${Cap<K['name']>}`]: (value: number) => void;
} & {
  readonly [K in F as K extends AtomicField ? `add${Cap<K['name']>}` : never]: (delta: number) => number;
} & {
  readonly [K in F as `${K['name']}Word`]: () => number;
};

/** A table of records: the word array and the word index of slot 0. */
export class RecordTable {
  readonly w: Int32Array;
  readonly base: number;
  constructor(w: Int32Array, base: number) {
    this.w = w;
    this.base = base;
  }
}

/** A declared record: its plan and the table class whose instances carry accessors `A`. */
interface Declared<F extends FieldSpec, A> {
  readonly name: string;
  /** Words per record (the stride of its table). */
  readonly words: number;
  /** Words the fields use (<= words). */
  readonly used: number;
  readonly fields: readonly F[];
  /** Word offset of each field within the record. */
  readonly offset: { readonly [K in F as K['name']]: number };
  /** The table class: `new decl.Table(w, base)` has the accessors. */
  readonly Table: new (w: Int32Array, base: number) => RecordTable & A;
}

export type RecordDecl<F extends FieldSpec> = Declared<F, SlotAccessors<F>>;

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Assigns the fields' offsets in order and checks that they fit in `words`. */
function planRecord(name: string, words: number, fields: readonly FieldSpec[]): { offset: Record<string, number>; used: number } {
  const offset: Record<string, number> = {};
  let cursor = 0;
  for (const f of fields) {
    assert(!(f.name in offset), `record ${name}: field ${f.name} declared twice`);
    assert(f.words === undefined || (Number.isInteger(f.words) && f.words > 0), `record ${name}: ${f.name}.words must be a positive integer`);
    offset[f.name] = cursor;
    cursor += f.words ?? 1;
  }
  assert(cursor <= words, `record ${name}: fields use ${cursor} words, more than its ${words}`);
  return { offset, used: cursor };
}

/**
 * Installs the accessors of `fields` on `proto`. Each is generated once per process with its offset
 * as a literal, so it compiles to the raw access it replaces. `addr` is the source of the field's
 * word index given `off` (a slot record, a singleton or a column).
 */
function installAccessors(proto: Record<string, unknown>, fields: readonly FieldSpec[], offset: Record<string, number>, params: string, addr: (off: number, f: FieldSpec) => string): void {
  const comma = params === '' ? '' : ', ';
  for (const f of fields) {
    const at = addr(offset[f.name] as number, f);
    const cap = capitalize(f.name);
    const define = (key: string, args: string, body: string): void => {
      proto[key] = new Function(...args.split(',').map((a) => a.trim()).filter((a) => a !== ''), body);
    };
    if (f.words !== undefined) {
      define(f.name, `${params}${comma}i`, `return this.w[${at} + i];`);
      define(`set${cap}`, `${params}${comma}i, value`, `this.w[${at} + i] = value;`);
    } else if (f.atomic) {
      define(f.name, params, `return Atomics.load(this.w, ${at});`);
      define(`set${cap}`, `${params}${comma}value`, `Atomics.store(this.w, ${at}, value);`);
      define(`add${cap}`, `${params}${comma}delta`, `return Atomics.add(this.w, ${at}, delta);`);
    } else {
      define(f.name, params, `return this.w[${at}];`);
      define(`set${cap}`, `${params}${comma}value`, `this.w[${at}] = value;`);
    }
    define(`${f.name}Word`, params, `return ${at};`);
  }
}

/**
 * Declares a record of `words` words. Offsets are assigned in order (a record extending another lists
 * the other's fields first: see extendRecord); the fields must fit.
 */
export function declareRecord<const F extends FieldSpec>(name: string, words: number, fields: readonly F[]): RecordDecl<F> {
  const { offset, used } = planRecord(name, words, fields);
  class Table extends RecordTable {}
  installAccessors(Table.prototype as unknown as Record<string, unknown>, fields, offset, 'slot', (off) => `this.base + slot * ${words} + ${off}`);
  return Object.freeze({
    name,
    words,
    used,
    fields,
    offset: Object.freeze(offset) as RecordDecl<F>['offset'],
    Table: Table as unknown as RecordDecl<F>['Table'],
  });
}

/**
 * A record that shares `base`'s first fields and adds its own after them (Zircon's object kinds over
 * one object table: every kind has the common header, then its own fields in the same words).
 */
export function extendRecord<const B extends FieldSpec, const F extends FieldSpec>(base: RecordDecl<B>, name: string, fields: readonly F[]): RecordDecl<B | F> {
  return declareRecord<B | F>(name, base.words, [...base.fields, ...fields]);
}

export type SingletonDecl<F extends FieldSpec> = Declared<F, SingletonAccessors<F>>;

/** A record that exists once (the header at word 0 of meta): accessors take no slot. */
export function declareSingleton<const F extends FieldSpec>(name: string, words: number, fields: readonly F[]): SingletonDecl<F> {
  const { offset, used } = planRecord(name, words, fields);
  class Table extends RecordTable {}
  for (const f of fields) assert(f.words === undefined, `record ${name}: a singleton has no array fields (${f.name})`);
  installAccessors(Table.prototype as unknown as Record<string, unknown>, fields, offset, '', (off) => `this.base + ${off}`);
  return Object.freeze({
    name,
    words,
    used,
    fields,
    offset: Object.freeze(offset) as SingletonDecl<F>['offset'],
    Table: Table as unknown as SingletonDecl<F>['Table'],
  });
}

/**
 * Parallel arrays indexed by one slot (struct-of-arrays: the handle table, frame bookkeeping), each
 * column its own region of meta. Accessors as for records, over `bases[column]`.
 */
export interface ColumnsDecl<F extends FieldSpec> {
  readonly name: string;
  readonly fields: readonly F[];
  readonly Table: new (w: Int32Array, bases: { readonly [K in F as K['name']]: number }) => { readonly w: Int32Array } & SlotAccessors<F>;
}

export function declareColumns<const F extends FieldSpec>(name: string, fields: readonly F[]): ColumnsDecl<F> {
  class Table {
    readonly w: Int32Array;
    constructor(w: Int32Array, bases: Record<string, number>) {
      this.w = w;
      for (const f of fields) {
        assert(Number.isInteger(bases[f.name]), `columns ${name}: no base for ${f.name}`);
        (this as unknown as Record<string, number>)[`${f.name}Base`] = bases[f.name] as number;
      }
    }
  }
  const zero: Record<string, number> = {};
  for (const f of fields) {
    assert(f.words === undefined && !f.atomic, `columns ${name}: a column is one plain word per slot (${f.name})`);
    zero[f.name] = 0;
  }
  installAccessors(Table.prototype as unknown as Record<string, unknown>, fields, zero, 'slot', (_off, f) => `this.${f.name}Base + slot`);
  return Object.freeze({ name, fields, Table: Table as unknown as ColumnsDecl<F>['Table'] });
}
