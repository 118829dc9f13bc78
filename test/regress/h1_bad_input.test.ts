// Regression tests for bad syscall input (the outside tester's report): every syscall checks the type
// and range of every argument before it touches state, and refuses a value that is not one of its C
// type with a ZxError (BAD_HANDLE for handles, INVALID_ARGS otherwise) - never a TypeError or
// RangeError, never a leaked reference, handle, packet or mapping. Also the cases the report named:
// inexact bigints, fractional options, rightless duplicates, vmo_set_size's rights check, and
// Kernel.create options whose tables do not fit.

import t from 'tap';
import {
  Kernel,
  PAGE_SIZE,
  ZX_ERR_ACCESS_DENIED,
  ZX_ERR_BAD_HANDLE,
  ZX_ERR_INVALID_ARGS,
  ZX_ERR_OUT_OF_RANGE,
  ZX_ERR_UNAVAILABLE,
  ZX_INFO_VMO,
  ZX_PAGER_OP_FAIL,
  ZX_RIGHT_SAME_RIGHTS,
  ZX_RIGHT_READ,
  ZX_RIGHT_WRITE,
  ZX_VMO_OP_COMMIT,
  ZX_VMO_RESIZABLE,
  ZX_VM_PERM_READ,
  ZX_VM_PERM_WRITE,
  ZxError,
} from '../../core/index.js';
import type { Sys } from '../../core/index.js';
import { statusName } from '../../shared/status.js';
import { kernelCounts } from '../helpers/object_counts.js';

const P = PAGE_SIZE;
const RW = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;

/** Values no argument of any C type takes. */
const NEVER: unknown[] = [2.5, NaN, Infinity, undefined, null, '4', {}, [], -1, -1n, 2n ** 64n, Symbol('x')];

/** What an argument position is, the ill-typed values it is tried with, and the status they get. */
const KINDS = {
  handle: { values: [...NEVER, 2 ** 32 + 2, 5n, 0.5], status: ZX_ERR_BAD_HANDLE },
  u32: { values: [...NEVER, 2 ** 32 + 2, 2 ** 32, 1n], status: ZX_ERR_INVALID_ARGS },
  u64: { values: [...NEVER, 2 ** 65, -0.5], status: ZX_ERR_INVALID_ARGS },
  key: { values: [...NEVER], status: ZX_ERR_INVALID_ARGS },
  data: { values: [2.5, NaN, Infinity, null, '4', {}, 2n ** 64n, -(2n ** 63n) - 1n], status: ZX_ERR_INVALID_ARGS },
  buffer: { values: [undefined, null, '4', {}, 2.5, [1, 2, 3], new Uint16Array(4), new ArrayBuffer(4)], status: ZX_ERR_INVALID_ARGS },
  deadline: { values: [2.5, NaN, undefined, null, '4', {}, 5, 2n ** 63n, -(2n ** 63n) - 1n], status: ZX_ERR_INVALID_ARGS },
  packet: {
    values: [undefined, null, '4', 2.5, {}, { key: 2.5 }, { key: -1 }, { key: 2n ** 64n }, { key: 1n, status: 2.5 }, { key: 1n, status: '0' }, { key: 1n, user: 'x' }, { key: 1n, user: new Uint8Array(33) }],
    status: ZX_ERR_INVALID_ARGS,
  },
} as const;
type Kind = keyof typeof KINDS;

interface Fixture {
  sys: Sys;
  pager: number;
  port: number;
  vmo: number; // a 4-page pager VMO of `pager` with page 0 supplied
  anon: number; // a resizable 4-page anonymous VMO
  address: number; // a mapping of `anon`
}

/** One syscall: its well-formed arguments and the kind of each position. */
interface Row {
  name: keyof Sys;
  kinds: Kind[];
  args: (f: Fixture) => unknown[];
}

const ROWS: Row[] = [
  { name: 'pagerCreate', kinds: ['u32'], args: () => [0] },
  { name: 'pagerCreateVmo', kinds: ['handle', 'u32', 'handle', 'key', 'u64'], args: (f) => [f.pager, 0, f.port, 7n, P] },
  { name: 'pagerDetachVmo', kinds: ['handle', 'handle'], args: (f) => [f.pager, f.vmo] },
  { name: 'pagerSupplyPages', kinds: ['handle', 'handle', 'u64', 'u64', 'handle', 'u64'], args: (f) => [f.pager, f.vmo, P, P, f.anon, 0] },
  { name: 'pagerOpRange', kinds: ['handle', 'u32', 'handle', 'u64', 'u64', 'data'], args: (f) => [f.pager, ZX_PAGER_OP_FAIL, f.vmo, P, P, -5] },
  { name: 'pagerQueryDirtyRanges', kinds: ['handle', 'handle', 'u64', 'u64', 'u64'], args: (f) => [f.pager, f.vmo, 0, P, 4] },
  { name: 'pagerQueryVmoStats', kinds: ['handle', 'handle', 'u32'], args: (f) => [f.pager, f.vmo, 0] },
  { name: 'portCreate', kinds: ['u32'], args: () => [0] },
  { name: 'portWait', kinds: ['handle', 'deadline'], args: (f) => [f.port, 0n] },
  { name: 'portQueue', kinds: ['handle', 'packet'], args: (f) => [f.port, { key: 1n }] },
  { name: 'vmoCreate', kinds: ['u64', 'u32'], args: () => [P, 0] },
  { name: 'vmoRead', kinds: ['handle', 'buffer', 'u64'], args: (f) => [f.anon, new Uint8Array(8), 0] },
  { name: 'vmoWrite', kinds: ['handle', 'buffer', 'u64'], args: (f) => [f.anon, new Uint8Array(8), 0] },
  { name: 'vmoGetSize', kinds: ['handle'], args: (f) => [f.anon] },
  { name: 'vmoSetSize', kinds: ['handle', 'u64'], args: (f) => [f.anon, 4 * P] },
  { name: 'vmoOpRange', kinds: ['handle', 'u32', 'u64', 'u64'], args: (f) => [f.anon, ZX_VMO_OP_COMMIT, 0, P] },
  { name: 'vmarMap', kinds: ['u32', 'u64', 'handle', 'u64'], args: (f) => [RW, 0, f.anon, P] },
  { name: 'vmarUnmap', kinds: ['u64', 'u64'], args: (f) => [f.address, P] },
  { name: 'memRead', kinds: ['u64', 'buffer'], args: (f) => [f.address, new Uint8Array(8)] },
  { name: 'memWrite', kinds: ['u64', 'buffer'], args: (f) => [f.address, new Uint8Array(8)] },
  { name: 'handleClose', kinds: ['handle'], args: () => [0] },
  { name: 'handleDuplicate', kinds: ['handle', 'u32'], args: (f) => [f.anon, ZX_RIGHT_SAME_RIGHTS] },
  { name: 'handleReplace', kinds: ['handle', 'u32'], args: (f) => [f.anon, ZX_RIGHT_SAME_RIGHTS] },
  { name: 'objectGetInfo', kinds: ['handle', 'u32'], args: (f) => [f.vmo, ZX_INFO_VMO] },
];

function makeFixture(kernel: Kernel): Fixture {
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmo = sys.pagerCreateVmo(pager, 0, port, 1n, 4 * P);
  const anon = sys.vmoCreate(4 * P, ZX_VMO_RESIZABLE);
  sys.pagerSupplyPages(pager, vmo, 0, P, anon, 0);
  const address = sys.vmarMap(RW, 0, anon, 4 * P);
  // Packets for any port_wait that wrongly accepted its deadline: it returns instead of hanging.
  for (let i = 0; i < 32; i++) sys.portQueue(port, { key: 100n + BigInt(i) });
  return { sys, pager, port, vmo, anon, address };
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'symbol') return 'Symbol';
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.constructor.name;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${describe(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/** The error a call threw, or null. */
function errorOf(fn: () => unknown): unknown {
  try {
    fn();
    return null;
  } catch (e) {
    return e;
  }
}

/** The status name a call ends with ('ZX_OK' if it returns), or the non-ZxError it threw. */
function statusOfCall(fn: () => unknown): string {
  const e = errorOf(fn);
  return e === null ? 'ZX_OK' : e instanceof ZxError ? statusName(e.status) : String(e);
}

t.test('every syscall refuses every ill-typed argument with its ZX_ERR_* and leaks nothing', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const f = makeFixture(kernel);
  const problems: string[] = [];
  let calls = 0;
  for (const row of ROWS) {
    const good = row.args(f);
    t.equal(good.length, row.kinds.length, `${row.name}: one kind per argument`);
    for (let position = 0; position < row.kinds.length; position++) {
      const kind = KINDS[row.kinds[position]];
      for (const value of kind.values) {
        const args = [...good];
        args[position] = value;
        const before = kernelCounts(kernel);
        const error = errorOf(() => (f.sys[row.name] as (...a: unknown[]) => unknown)(...args));
        const after = kernelCounts(kernel);
        calls++;
        const what = `${row.name} argument ${position} = ${describe(value)}`;
        if (!(error instanceof ZxError)) problems.push(`${what}: ${error === null ? 'accepted' : `threw ${String(error)}`}`);
        else if (error.status !== kind.status) problems.push(`${what}: ${statusName(error.status)}, expected ${statusName(kind.status)}`);
        if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`${what}: counts ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
      }
    }
  }
  t.same(problems, [], `${calls} ill-typed calls: each a ZxError with the expected status, nothing leaked`);
  t.equal(f.sys.vmoGetSize(f.anon), 4 * P, 'the fixture handles are intact');
});

t.test('zx_port_queue with no packet is INVALID_ARGS and keeps no port reference', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const sys = kernel.sys;
  const port = sys.portCreate(0);
  const before = kernelCounts(kernel);
  for (const packet of [null, undefined]) {
    const error = errorOf(() => sys.portQueue(port, packet as never));
    t.ok(error instanceof ZxError && error.status === ZX_ERR_INVALID_ARGS, `portQueue(port, ${packet}) is ZxError INVALID_ARGS`);
  }
  t.same(kernelCounts(kernel), before, 'references unchanged');
});

t.test('options and rights must be uint32 integers', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const sys = kernel.sys;
  t.equal(statusOfCall(() => sys.vmoCreate(P, 2.5)), 'ZX_ERR_INVALID_ARGS', 'vmoCreate options 2.5 (was a resizable VMO)');
  t.equal(statusOfCall(() => sys.vmoCreate(P, 2 ** 32 + 2)), 'ZX_ERR_INVALID_ARGS', 'vmoCreate options 2^32 + 2 (was a resizable VMO)');
  const vmo = sys.vmoCreate(P, 0);
  t.equal(statusOfCall(() => sys.handleDuplicate(vmo, undefined as never)), 'ZX_ERR_INVALID_ARGS', 'duplicate with undefined rights (was a rightless handle)');
  t.equal(statusOfCall(() => sys.handleDuplicate(vmo, '4' as never)), 'ZX_ERR_INVALID_ARGS', 'duplicate with "4"');
  t.equal(statusOfCall(() => sys.handleReplace(vmo, NaN)), 'ZX_ERR_INVALID_ARGS', 'replace with NaN');
  t.equal(sys.vmoGetSize(vmo), P, 'an ill-typed replace consumed nothing');
  t.equal(statusOfCall(() => sys.handleReplace(vmo, ZX_RIGHT_READ | 0x4000_0000)), 'ZX_ERR_INVALID_ARGS', 'replace with rights beyond the handle');
  t.equal(statusOfCall(() => sys.vmoGetSize(vmo)), 'ZX_ERR_BAD_HANDLE', 'a well-typed failed replace consumes the handle (Zircon)');
});

t.test('bigint offsets are exact: an unaligned one beyond 2^53 never passes as aligned', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const sys = kernel.sys;
  const pager = sys.pagerCreate(0);
  const port = sys.portCreate(0);
  const vmo = sys.pagerCreateVmo(pager, 0, port, 1n, 4 * P);
  const aux = sys.vmoCreate(4 * P, 0);
  const unaligned = 2n ** 53n + 1n; // Number() rounds it to 2^53, a multiple of the page size
  const aligned = 2n ** 53n;
  t.equal(statusOfCall(() => sys.pagerSupplyPages(pager, vmo, unaligned, P, aux, 0)), 'ZX_ERR_INVALID_ARGS', 'supply at 2^53 + 1: unaligned');
  t.equal(statusOfCall(() => sys.pagerSupplyPages(pager, vmo, aligned, P, aux, 0)), 'ZX_ERR_OUT_OF_RANGE', 'supply at 2^53: aligned, out of range');
  t.equal(statusOfCall(() => sys.pagerSupplyPages(pager, vmo, 0, P, aux, 2n ** 60n + 8n)), 'ZX_ERR_INVALID_ARGS', 'aux offset 2^60 + 8: unaligned');
  t.equal(statusOfCall(() => sys.pagerOpRange(pager, ZX_PAGER_OP_FAIL, vmo, unaligned, P, -5)), 'ZX_ERR_INVALID_ARGS', 'op_range at 2^53 + 1: unaligned');
  t.equal(statusOfCall(() => sys.vmarMap(RW, unaligned, vmo, P)), 'ZX_ERR_INVALID_ARGS', 'map at VMO offset 2^53 + 1: unaligned');
  t.equal(statusOfCall(() => sys.vmarMap(RW, aligned, vmo, P)), 'ZX_ERR_OUT_OF_RANGE', 'map at VMO offset 2^53: out of range');
  t.equal(statusOfCall(() => sys.vmoRead(aux, new Uint8Array(1), 2n ** 64n - 1n)), 'ZX_ERR_OUT_OF_RANGE', 'read at UINT64_MAX: out of range');
  t.equal(statusOfCall(() => sys.vmoRead(aux, new Uint8Array(1), 2 ** 53 + 2)), 'ZX_ERR_OUT_OF_RANGE', 'an inexact double is out of range, never a smaller offset');
  t.equal(statusOfCall(() => sys.pagerSupplyPages(pager, vmo, 2 ** 53 + 4096 * 2, P, aux, 0)), 'ZX_ERR_INVALID_ARGS', 'an inexact double never passes as aligned');
  t.equal(statusOfCall(() => sys.pagerSupplyPages(pager, vmo, BigInt(P), BigInt(P), aux, 0n)), 'ZX_OK', 'exact bigints in range work');
});

t.test('vmo_set_size: ACCESS_DENIED without RESIZE on a resizable VMO, UNAVAILABLE on a non-resizable one', async (t) => {
  const kernel = Kernel.create({ physicalMemory: 4 * 2 ** 20 });
  const sys = kernel.sys;
  const resizable = sys.vmoCreate(P, ZX_VMO_RESIZABLE);
  const noResize = sys.handleDuplicate(resizable, ZX_RIGHT_READ | ZX_RIGHT_WRITE);
  t.equal(statusOfCall(() => sys.vmoSetSize(noResize, 2 * P)), statusName(ZX_ERR_ACCESS_DENIED), 'resizable VMO, handle without RESIZE');
  t.equal(statusOfCall(() => sys.vmoSetSize(resizable, 2 * P)), 'ZX_OK', 'resizable VMO, handle with RESIZE');
  const fixed = sys.vmoCreate(P, 0);
  t.equal(statusOfCall(() => sys.vmoSetSize(fixed, 2 * P)), statusName(ZX_ERR_UNAVAILABLE), 'non-resizable VMO');
  const fixedNoResize = sys.handleDuplicate(fixed, ZX_RIGHT_READ | ZX_RIGHT_WRITE);
  t.equal(statusOfCall(() => sys.vmoSetSize(fixedNoResize, 2 * P)), statusName(ZX_ERR_UNAVAILABLE), 'non-resizable VMO, handle without RESIZE');
  const readOnly = sys.handleDuplicate(resizable, ZX_RIGHT_READ);
  t.equal(statusOfCall(() => sys.vmoSetSize(readOnly, 2 * P)), statusName(ZX_ERR_ACCESS_DENIED), 'no WRITE right');
  t.equal(statusOfCall(() => sys.vmoSetSize(resizable, 2 ** 64)), statusName(ZX_ERR_OUT_OF_RANGE), 'UINT64_MAX');
});

t.test('Kernel.create names the option whose tables do not fit, with a RangeError', async (t) => {
  const cases: [object, string][] = [
    [{ maxObjects: 2 ** 25 }, 'maxObjects'],
    [{ traceEvents: 40_000_000 }, 'traceEvents'],
    [{ maxPageListNodes: 2 ** 23 }, 'maxPageListNodes'],
    [{ maxPortPackets: 2 ** 25 }, 'maxPortPackets'],
  ];
  for (const [options, name] of cases) {
    const error = errorOf(() => Kernel.create(options));
    t.ok(error instanceof RangeError, `${JSON.stringify(options)}: a RangeError`);
    t.match(String((error as Error)?.message), `options.${name}`, `naming ${name}`);
  }
  t.ok(Kernel.create({ physicalMemory: 4 * 2 ** 20 }), 'a small kernel still boots');
});
