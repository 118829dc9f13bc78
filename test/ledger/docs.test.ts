// Keeps docs/ true and reachable: docs/api.md's syscall table names exactly the methods of `Sys` in
// core/sys_types.ts, with their parameters in order; every export docs/api.md lists is exported by
// core/index.ts and every named export there is listed; and every "docs/<file>.md §<n>" reference in
// the repository's .ts/.md/.json files names a file of docs/ with a heading numbered <n>. Main thread
// only; it reads the repository's files (and imports the compiled entry for its runtime exports).

import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as entry from '../../core/index.js';

/** The compiled file runs from dist/test/ledger/, so the repository root is three levels up. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

const API = read('docs/api.md');

/** The text of a '## <title>' section of a Markdown document, up to the next '## '. */
function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}`);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Parameter names of a signature's parameter list: 'a: number, b?: U64' or 'a, b = 0' → ['a', 'b']. */
function parameterNames(list: string): string[] {
  const names: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of list) {
    if (ch === '{' || ch === '(' || ch === '[') depth++;
    if (ch === '}' || ch === ')' || ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      names.push(current);
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') names.push(current);
  return names.map((p) => (/^\s*(\w+)/.exec(p)?.[1] ?? p.trim()));
}

// Tests that the syscall table of docs/api.md and the Sys interface name the same calls with the same parameters.
t.test('docs/api.md: the syscall table is the Sys interface', async (t) => {
  const source = read('core/sys_types.ts');
  const body = source.slice(source.indexOf('export interface Sys {'));
  const sys = new Map<string, string[]>();
  for (const m of body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}(\w+)\((.*)\): .*;$/gm)) sys.set(m[1] ?? '', parameterNames(m[2] ?? ''));
  t.ok(sys.size >= 20, `core/sys_types.ts declares ${sys.size} syscalls`);

  const documented = new Map<string, string[]>();
  for (const line of section(API, 'Syscalls').split('\n')) {
    if (!line.startsWith('| `')) continue;
    const callCell = line.split(' | ')[0] ?? '';
    for (const m of callCell.matchAll(/`(\w+)\(([^`]*)\)`/g)) documented.set(m[1] ?? '', parameterNames(m[2] ?? ''));
  }
  t.same([...documented.keys()].sort(), [...sys.keys()].sort(), 'the same syscall names');
  for (const [name, params] of sys) {
    if (documented.has(name)) t.same(documented.get(name), params, `${name}: the same parameters, in order`);
  }
});

// Tests that the export list of docs/api.md is what core/index.ts exports.
t.test('docs/api.md: the export list is core/index.ts', async (t) => {
  const listed = section(API, 'Package')
    .split('\n- ')
    .filter((item) => item.startsWith('The one entry exports'))
    .flatMap((item) => [...item.matchAll(/`(\w+)(?:\([^`]*\))?`/g)].map((m) => m[1] ?? ''));
  t.ok(listed.length > 20, `docs/api.md lists ${listed.length} exports`);
  const index = read('core/index.ts');
  const named = [...index.matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((m) => (m[1] ?? '').split(',').map((n) => n.trim()).filter((n) => n !== ''));
  const runtime = new Set(Object.keys(entry));
  t.same(listed.filter((name) => !named.includes(name) && !runtime.has(name)), [], 'every listed name is exported');
  t.same(named.filter((name) => !listed.includes(name)), [], 'every named export of core/index.ts is listed');
});

/** The repository's .ts, .md and .json files outside node_modules, dist and .git. */
function repositoryFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) repositoryFiles(path, out);
    else if (/\.(ts|md|json)$/.test(name)) out.push(path);
  }
  return out;
}

/** The section numbers of a Markdown file's headings: '2.4' for '### 2.4 Early wake', '1b' for '## 1b. …'. */
function headingNumbers(text: string): Set<string> {
  const numbers = new Set<string>();
  for (const m of text.matchAll(/^#{1,6} (\d+[a-z]?(?:\.\d+)*)\.?(?=\s|$)/gm)) numbers.add(m[1] ?? '');
  return numbers;
}

// Tests that every numbered reference into docs/ resolves: the file exists and has a heading with that number,
// including the further sections of a list ('docs/semantics.md §1.3, §1.4, §2.4–§2.6').
t.test('docs/: every "docs/<file>.md §<n>" reference resolves', async (t) => {
  const headings = new Map<string, Set<string> | null>();
  const headingsOf = (doc: string): Set<string> | null => {
    if (!headings.has(doc)) {
      let numbers: Set<string> | null = null;
      try {
        numbers = headingNumbers(read(doc));
      } catch {
        numbers = null;
      }
      headings.set(doc, numbers);
    }
    return headings.get(doc) ?? null;
  };
  const broken: string[] = [];
  let checked = 0;
  for (const file of repositoryFiles(ROOT)) {
    const text = readFileSync(file, 'utf8');
    const at = relative(ROOT, file);
    for (const m of text.matchAll(/(docs\/[\w/-]+\.md)`?((?:[\s,;–—-]|\band\b)*§ ?\d+[a-z]?(?:\.\d+)*)+/g)) {
      const doc = m[1] ?? '';
      const numbers = headingsOf(doc);
      for (const s of m[0].slice(doc.length).matchAll(/§ ?(\d+[a-z]?(?:\.\d+)*)/g)) {
        checked++;
        if (numbers === null) broken.push(`${at}: ${doc} does not exist`);
        else if (!numbers.has(s[1] ?? '')) broken.push(`${at}: ${doc} has no section ${s[1]}`);
      }
    }
  }
  t.ok(checked > 0, `${checked} section references checked`);
  t.same(broken, [], 'every referenced section exists');
});

// Tests that the repository stands alone: no file points at documents outside it (the reference
// material a clone does not have: a sibling shared/ folder's spec/ and seeds/, or its documents by name).
t.test('no file points outside the repository', async (t) => {
  const outside = /\bshared\/(?:spec|seeds)\b|\b(?:zircon-semantics|zircon-pager-tests|zircon-writeback-tests|NODE-NOTES|STYLE)\.md\b/;
  const found: string[] = [];
  for (const file of repositoryFiles(ROOT)) {
    if (relative(ROOT, file) === 'test/ledger/docs.test.ts') continue; // this test names them in its pattern
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (outside.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  t.same(found, [], 'no reference to documents outside the repository');
});
