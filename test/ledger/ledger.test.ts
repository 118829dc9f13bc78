// The conformance ledger's own test (CONFORMANCE.md at the repository root): the ledger must never
// claim a port that does not exist. It parses the ledger's tables and checks that every test a row
// names is registered in the named .test.ts file under test/ (t.test / pagerTest / pagerTestWith with
// that name, trapDirtyTest for its XTrapDirty / XNoTrapDirty pair, or vmoVmarTest for its X / XVmar
// pair), that each row's status follows from the statuses of its cases, that the counts at the top
// are the counts of the rows, and that the rows, their registered cases and their tags are exactly
// the catalogs' (the index tables of docs/conformance/pager-tests.md and writeback-tests.md), in
// catalog order. Main thread only; it reads files of the repository and nothing outside it.

import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled file runs from dist/test/ledger/, so the repository root is three levels up. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LEDGER = join(ROOT, 'CONFORMANCE.md');
const CATALOG_DIR = join(ROOT, 'docs', 'conformance');

const SUITES = ['pager', 'writeback'] as const;
type Suite = (typeof SUITES)[number];
const STATUSES = ['ported', 'partly ported', 'not yet', 'not applicable'] as const;
type Status = (typeof STATUSES)[number];

const LEDGER_HEADER = ['#', 'suite', 'test', 'tags', 'status', 'where', 'note'];
const COUNTS_HEADER = ['suite', 'unit', ...STATUSES, 'total'];
const UNITS = ['definitions', 'cases'] as const;

/** A tap test that ports (part of) a case: the .test.ts file, relative to the root, and the test's name. */
interface Port {
  file: string;
  name: string;
}

interface Case {
  name: string;
  status: Status;
  ports: Port[];
}

interface Row {
  line: number;
  index: number;
  suite: Suite;
  test: string;
  tags: string;
  status: Status;
  cases: Case[];
}

/** One line of the counts table: the counts per status and the total. */
interface CountLine {
  line: number;
  suite: string;
  unit: string;
  counts: number[];
  total: number;
}

function isSuite(value: string): value is Suite {
  return (SUITES as readonly string[]).includes(value);
}

function isStatus(value: string): value is Status {
  return (STATUSES as readonly string[]).includes(value);
}

/** The cells of a Markdown table line ('| a | b |' → ['a', 'b']); the ledger's cells hold no '|'. */
function cells(line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim());
}

/** The body lines of every table whose header row is `header`, with their 1-based line numbers. */
function tableBodies(lines: readonly string[], header: readonly string[]): { line: number; cells: string[] }[] {
  const body: { line: number; cells: string[] }[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].trim().startsWith('|') || cells(lines[i]).join('|') !== header.join('|')) continue;
    for (let j = i + 2; j < lines.length && lines[j].trim().startsWith('|'); j++) body.push({ line: j + 1, cells: cells(lines[j]) });
  }
  return body;
}

const PORT = /^(test\/[\w/.-]+\.test\.ts) `([^`]+)`$/;
const PARTIAL = ' (partial)';

/** One `where` entry: `<case> → not yet`, `<case> → not applicable` or `<case> → <file> \`<name>\`[ + …][ (partial)]`. */
function parseCase(entry: string, problems: string[], at: string): Case | null {
  const arrow = entry.indexOf(' → ');
  if (arrow <= 0) {
    problems.push(`${at}: entry '${entry}' is not '<case> → <port>'`);
    return null;
  }
  const name = entry.slice(0, arrow);
  let target = entry.slice(arrow + ' → '.length);
  if (target === 'not yet' || target === 'not applicable') return { name, status: target, ports: [] };
  let status: Status = 'ported';
  if (target.endsWith(PARTIAL)) {
    status = 'partly ported';
    target = target.slice(0, -PARTIAL.length);
  }
  const ports: Port[] = [];
  for (const part of target.split(' + ')) {
    const m = PORT.exec(part);
    if (m === null || m[1].split('/').includes('..')) {
      problems.push(`${at}: '${part}' is not 'test/<path>.test.ts \`<test name>\`'`);
      return null;
    }
    ports.push({ file: m[1], name: m[2] });
  }
  return { name, status, ports };
}

/** A definition's status from its cases' (see CONFORMANCE.md, "Row format"), or null if they mix without a port. */
function statusOf(cases: readonly Case[]): Status | null {
  for (const uniform of ['ported', 'not yet', 'not applicable'] as const) if (cases.every((c) => c.status === uniform)) return uniform;
  return cases.some((c) => c.status === 'ported' || c.status === 'partly ported') ? 'partly ported' : null;
}

function parseRows(lines: readonly string[], problems: string[]): Row[] {
  const rows: Row[] = [];
  for (const { line, cells: c } of tableBodies(lines, LEDGER_HEADER)) {
    const at = `CONFORMANCE.md:${line}`;
    if (c.length !== LEDGER_HEADER.length) {
      problems.push(`${at}: ${c.length} cells, not ${LEDGER_HEADER.length}`);
      continue;
    }
    const [index, suite, test, tags, status, where] = c as [string, string, string, string, string, string];
    if (!/^\d+$/.test(index) || !isSuite(suite) || !isStatus(status) || test === '' || tags === '') {
      problems.push(`${at}: bad #, suite, test, tags or status: '${c.slice(0, 5).join("', '")}'`);
      continue;
    }
    const cases: Case[] = [];
    for (const entry of where.split('; ')) {
      const parsed = parseCase(entry, problems, at);
      if (parsed !== null) cases.push(parsed);
    }
    rows.push({ line, index: Number(index), suite, test, tags, status, cases });
  }
  return rows;
}

function parseCounts(lines: readonly string[], problems: string[]): CountLine[] {
  const counts: CountLine[] = [];
  for (const { line, cells: c } of tableBodies(lines, COUNTS_HEADER)) {
    const numbers = c.slice(2).map(Number);
    if (c.length !== COUNTS_HEADER.length || numbers.some((n) => !Number.isInteger(n))) {
      problems.push(`CONFORMANCE.md:${line}: bad counts line '${c.join(' | ')}'`);
      continue;
    }
    counts.push({ line, suite: c[0], unit: c[1], counts: numbers.slice(0, STATUSES.length), total: numbers[STATUSES.length] });
  }
  return counts;
}

const REGISTRATIONS = [
  { pattern: /\b(?:t|tap)\.test\(\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)")/g, names: (name: string) => [name] },
  { pattern: /\bpagerTest(?:With)?\(\s*\w+\s*,\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)")/g, names: (name: string) => [name] },
  { pattern: /\bvmoVmarTest\(\s*\w+\s*,\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)")/g, names: (name: string) => [name, `${name}Vmar`] },
  { pattern: /\btrapDirtyTest\(\s*\w+\s*,\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)")/g, names: (name: string) => [`${name}TrapDirty`, `${name}NoTrapDirty`] },
];

/** The names of the tests a .test.ts source registers (t.test, pagerTest, pagerTestWith, trapDirtyTest, vmoVmarTest). */
function registeredNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const { pattern, names: expand } of REGISTRATIONS) {
    for (const m of source.matchAll(pattern)) for (const name of expand(m[1] ?? m[2])) names.add(name);
  }
  return names;
}

const lines = readFileSync(LEDGER, 'utf8').split('\n');
const parseProblems: string[] = [];
const rows = parseRows(lines, parseProblems);
const countLines = parseCounts(lines, parseProblems);

// Tests that every table line of the ledger parses: fixed columns, known suites and statuses, well-formed ports.
t.test('ledger: every row parses', async (t) => {
  t.same(parseProblems, [], 'no malformed lines');
  t.ok(rows.length > 0, `${rows.length} rows`);
});

// Tests that each suite's rows are numbered 1..N in order and name each definition and case once.
t.test('ledger: rows are numbered in order, each definition and case once', async (t) => {
  for (const suite of SUITES) {
    const own = rows.filter((r) => r.suite === suite);
    t.same(own.map((r) => r.index), own.map((_, i) => i + 1), `${suite}: # runs 1..${own.length}`);
    const tests = own.map((r) => r.test);
    t.same(tests.filter((name, i) => tests.indexOf(name) !== i), [], `${suite}: no definition twice`);
    const cases = own.flatMap((r) => r.cases.map((c) => c.name));
    t.same(cases.filter((name, i) => cases.indexOf(name) !== i), [], `${suite}: no case twice`);
  }
});

// Tests that every named port exists: the .test.ts file is there and registers a test of that name.
t.test('ledger: every named test is registered in its file', async (t) => {
  const sources = new Map<string, Set<string> | null>();
  const missing: string[] = [];
  let checked = 0;
  for (const row of rows) {
    for (const port of row.cases.flatMap((c) => c.ports)) {
      if (!sources.has(port.file)) {
        const path = join(ROOT, port.file);
        sources.set(port.file, existsSync(path) ? registeredNames(readFileSync(path, 'utf8')) : null);
      }
      const names = sources.get(port.file)!;
      checked++;
      if (names === null) missing.push(`CONFORMANCE.md:${row.line}: ${port.file} does not exist`);
      else if (!names.has(port.name)) missing.push(`CONFORMANCE.md:${row.line}: ${port.file} registers no test '${port.name}'`);
    }
  }
  t.same(missing, [], `all ${checked} named tests exist`);
});

// Tests that each row's status is the one its cases imply.
t.test('ledger: statuses follow from the cases', async (t) => {
  const wrong = rows
    .map((r) => ({ r, implied: statusOf(r.cases) }))
    .filter(({ r, implied }) => implied !== r.status)
    .map(({ r, implied }) => `CONFORMANCE.md:${r.line}: ${r.test} is '${r.status}', its cases make it '${implied ?? 'inconsistent'}'`);
  t.same(wrong, [], 'every status agrees with its where cell');
});

// Tests that the counts at the top are the counts of the rows, per suite, for definitions and cases.
t.test('ledger: the counts at the top are the counts of the rows', async (t) => {
  const want: { suite: string; unit: string; counts: number[]; total: number }[] = [];
  for (const suite of SUITES) {
    const own = rows.filter((r) => r.suite === suite);
    for (const unit of UNITS) {
      const statuses = unit === 'definitions' ? own.map((r) => r.status) : own.flatMap((r) => r.cases.map((c) => c.status));
      want.push({ suite, unit, counts: STATUSES.map((s) => statuses.filter((x) => x === s).length), total: statuses.length });
    }
  }
  const got = countLines.map(({ suite, unit, counts, total }) => ({ suite, unit, counts, total }));
  t.same(got, want, 'counts table: ported, partly ported, not yet, not applicable, total');
  t.same(got.map((g) => g.counts.reduce((a, b) => a + b, 0)), got.map((g) => g.total), 'each line adds up to its total');
});

/** A row as the catalog defines it. */
interface Expected {
  index: number;
  test: string;
  cases: string[];
  tags: string;
}

const INDEX_HEADER = ['#', 'definition', 'registered cases', 'section', 'tags'];

/**
 * The index table of a catalog (docs/conformance/pager-tests.md Appendix B,
 * docs/conformance/writeback-tests.md §3.5): one row per definition, its registered cases
 * (comma-separated) and its tags.
 */
function catalogIndex(text: string, at: string, problems: string[]): Expected[] {
  const expected: Expected[] = [];
  for (const { line, cells: c } of tableBodies(text.split('\n'), INDEX_HEADER)) {
    const [index, test, cases, , tags] = c;
    if (c.length !== INDEX_HEADER.length || index === undefined || !/^\d+$/.test(index) || !test || !cases || !tags) {
      problems.push(`${at}:${line}: bad index row '${c.join(' | ')}'`);
      continue;
    }
    expected.push({ index: Number(index), test, cases: cases.split(',').map((name) => name.trim()), tags });
  }
  return expected;
}

// Tests that the ledger has exactly the catalogs' definitions, in catalog order, with their registered cases and
// tags.
const CATALOGS = [
  { suite: 'pager', file: 'pager-tests.md', definitions: 146, cases: 172 },
  { suite: 'writeback', file: 'writeback-tests.md', definitions: 114, cases: 178 },
] as const;
for (const { suite, file, definitions, cases } of CATALOGS) {
  t.test(`ledger: ${suite} rows are the catalog's definitions, cases and tags`, async (t) => {
    const path = join(CATALOG_DIR, file);
    const problems: string[] = [];
    const expected = catalogIndex(readFileSync(path, 'utf8'), `docs/conformance/${file}`, problems);
    t.same(problems, [], `docs/conformance/${file}: every index row parses`);
    t.same(expected.map((e) => e.index), expected.map((_, i) => i + 1), 'the index is numbered 1..N in order');
    t.equal(expected.length, definitions, `the catalog lists ${definitions} definitions`);
    t.equal(expected.flatMap((e) => e.cases).length, cases, `and ${cases} registered cases`);
    const got = rows
      .filter((r) => r.suite === suite)
      .map((r): Expected => ({ index: r.index, test: r.test, cases: r.cases.map((c) => c.name), tags: r.tags }));
    t.same(got, expected, `the ledger's ${suite} rows match docs/conformance/${file}`);
  });
}
