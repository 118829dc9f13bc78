// The record declarations (shared/records.ts) and the intrusive lists (shared/intrusive_list.ts): offsets
// come from the field list and must fit, each accessor touches exactly its word, and the lists agree
// with a plain array model over a seeded random sequence of operations.

import t from 'tap';
import { declareColumns, declareRecord, declareSingleton, extendRecord } from '../../shared/records.js';
import { IntrusiveList } from '../../shared/intrusive_list.js';
import { HeaderRecord, NodeRecord, ObjectRecord, OBJ_WORDS, PacketRecord, PagerRecord, PortRecord, ProcessRecord, RequestRecord, THREAD_WORDS, VmoRecord } from '../../shared/layout.js';
import { seededRandom } from '../helpers/random.js';

t.test('offsets follow the field list; a record that does not fit is refused', async (t) => {
  const R = declareRecord('r', 6, [
    { name: 'a', guard: 'test' },
    { name: 'b', guard: 'test', words: 3 },
    { name: 'c', guard: 'test', atomic: true },
  ]);
  t.same({ ...R.offset }, { a: 0, b: 1, c: 4 });
  t.equal(R.used, 5);
  t.throws(() => declareRecord('tight', 2, [{ name: 'a', guard: 'test', words: 2 }, { name: 'b', guard: 'test' }]), /use 3 words, more than its 2/);
  t.throws(() => declareRecord('twice', 4, [{ name: 'a', guard: 'test' }, { name: 'a', guard: 'test' }]), /declared twice/);
  t.throws(() => declareRecord('bad array', 4, [{ name: 'a', guard: 'test', words: 0 }]), /positive integer/);
  const E = extendRecord(R, 'e', [{ name: 'd', guard: 'test' }]);
  t.equal(E.offset.d, 5, 'an extension starts after its base');
  t.throws(() => extendRecord(R, 'e2', [{ name: 'd', guard: 'test' }, { name: 'e', guard: 'test' }]), /more than its 6/);
});

t.test('each accessor reads and writes exactly its word', async (t) => {
  const R = declareRecord('r', 8, [
    { name: 'a', guard: 'test' },
    { name: 'arr', guard: 'test', words: 3 },
    { name: 'c', guard: 'test', atomic: true },
  ]);
  const w = new Int32Array(new SharedArrayBuffer(4 * (10 + 3 * 8)));
  const table = new R.Table(w, 10);
  table.setA(2, 7);
  table.setArr(2, 1, 9);
  t.equal(table.addC(2, 5), 0, 'add returns the old value');
  t.equal(table.addC(2, 1), 5);
  const nonzero = [...w.entries()].filter(([, v]) => v !== 0);
  t.same(nonzero, [
    [10 + 2 * 8 + 0, 7],
    [10 + 2 * 8 + 2, 9],
    [10 + 2 * 8 + 4, 6],
  ]);
  t.equal(table.a(2), 7);
  t.equal(table.arr(2, 1), 9);
  t.equal(table.c(2), 6);
  t.equal(table.cWord(2), 10 + 2 * 8 + 4, 'the word index, for futexes');
  t.equal(table.a(1), 0, 'another slot is untouched');

  const H = declareSingleton('h', 4, [{ name: 'x', guard: 'test' }, { name: 'y', guard: 'test', atomic: true }]);
  const header = new H.Table(w, 0);
  header.setX(3);
  header.addY(2);
  t.same([w[0], w[1]], [3, 2]);
  t.throws(() => declareSingleton('h2', 4, [{ name: 'x', guard: 'test', words: 2 }]), /no array fields/);

  const C = declareColumns('c', [{ name: 'p', guard: 'test' }, { name: 'q', guard: 'test' }]);
  const w2 = new Int32Array(new SharedArrayBuffer(4 * 16));
  const cols = new C.Table(w2, { p: 2, q: 9 });
  cols.setP(3, 11);
  cols.setQ(3, 12);
  t.same([w2[5], w2[12]], [11, 12]);
  t.equal(cols.qWord(3), 12);
  t.throws(() => new C.Table(w2, { p: 0 } as unknown as { p: number; q: number }), /no base for q/);
});

t.test("the kernel's records fit and share their common header", async (t) => {
  for (const R of [VmoRecord, PagerRecord, PortRecord, ProcessRecord]) {
    t.ok(R.used <= OBJ_WORDS, `${R.name}: ${R.used} of ${OBJ_WORDS} words`);
    for (const f of ObjectRecord.fields) t.equal((R.offset as Record<string, number>)[f.name], (ObjectRecord.offset as Record<string, number>)[f.name], `${R.name}.${f.name} is the common field`);
  }
  t.ok(RequestRecord.used <= THREAD_WORDS);
  t.ok(PacketRecord.used <= PacketRecord.words && NodeRecord.used <= NodeRecord.words && HeaderRecord.used <= HeaderRecord.words);
  for (const R of [VmoRecord, RequestRecord, PacketRecord, NodeRecord, HeaderRecord]) {
    for (const f of R.fields) t.ok(f.guard.length > 0, `${R.name}.${f.name} says what guards it`);
  }
});

t.test('IntrusiveList agrees with an array model (seeded random operations)', async (t) => {
  const STRIDE = 4;
  const SLOTS = 12;
  const random = seededRandom(Number(process.env.SEED ?? 20261203));
  const w = new Int32Array(new SharedArrayBuffer(4 * (2 + SLOTS * STRIDE)));
  const HEAD = 0;
  const TAIL = 1;
  w[HEAD] = -1;
  w[TAIL] = -1;
  const list = new IntrusiveList(w, 2, STRIDE, 1, 2);
  const model: number[] = [];
  const walk = (): number[] => {
    const out: number[] = [];
    for (let e = list.first(HEAD); e >= 0 && out.length <= SLOTS; e = list.next(e)) out.push(e);
    return out;
  };
  const walkBack = (): number[] => {
    const out: number[] = [];
    for (let e = w[TAIL] as number; e >= 0 && out.length <= SLOTS; e = list.prev(e)) out.push(e);
    return out.reverse();
  };
  for (let step = 0; step < 2000; step++) {
    const free = [...Array(SLOTS).keys()].filter((e) => !model.includes(e));
    const op = Math.floor(random() * 5);
    const pick = (from: number[]): number => from[Math.floor(random() * from.length)] as number;
    if (op === 0 && free.length > 0) {
      const e = pick(free);
      list.pushBack(HEAD, TAIL, e);
      model.push(e);
    } else if (op === 1 && free.length > 0) {
      const e = pick(free);
      list.pushFront(HEAD, TAIL, e);
      model.unshift(e);
    } else if (op === 2 && free.length > 0 && model.length > 0) {
      const at = pick(model);
      const e = pick(free);
      list.insertBefore(HEAD, TAIL, at, e);
      model.splice(model.indexOf(at), 0, e);
    } else if (op === 3 && model.length > 0) {
      const e = pick(model);
      list.remove(HEAD, TAIL, e);
      model.splice(model.indexOf(e), 1);
      if (list.next(e) !== -1 || list.prev(e) !== -1) t.fail(`step ${step}: a removed element keeps its links`);
    } else if (op === 4 && model.length > 0 && free.length > 0) {
      const old = pick(model);
      const nw = pick(free);
      list.replace(HEAD, TAIL, old, nw);
      model[model.indexOf(old)] = nw;
    } else if (model.length > 0) {
      const e = list.popFront(HEAD, TAIL);
      if (e !== model.shift()) t.fail(`step ${step}: popFront returned ${e}`);
    }
    const forward = walk();
    if (forward.join() !== model.join() || walkBack().join() !== model.join()) {
      t.fail(`step ${step}: list ${forward.join()} / backwards ${walkBack().join()}, model ${model.join()}`);
      return;
    }
  }
  t.pass('2000 operations, forward and backward walks always equal the model');
});

t.test('a list kept without a tail inserts at its end given the last element', async (t) => {
  const w = new Int32Array(new SharedArrayBuffer(4 * (1 + 4 * 2)));
  w[0] = -1;
  const list = new IntrusiveList(w, 1, 2, 0, 1);
  list.insertBefore(0, -1, -1, 2);
  list.insertBefore(0, -1, -1, 0, 2);
  list.insertBefore(0, -1, 2, 3);
  const out: number[] = [];
  for (let e = list.first(0); e >= 0; e = list.next(e)) out.push(e);
  t.same(out, [3, 2, 0]);
});
