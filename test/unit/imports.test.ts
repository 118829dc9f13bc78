// The import graph of the source tree (core/, shared/, workers/, cli/: the .ts sources, not dist/),
// read as text: (a) it has no cycle, (b) every arrow is allowed (shared/ imports only shared/; core/
// only core/ and shared/; workers/ only core/, shared/ and workers/; cli/ anything but test/ and
// bench/), and (c) only shared/futex.ts calls Atomics.wait / Atomics.notify / Atomics.waitAsync. Type-only
// imports count too: a cycle of types is still a cycle a reader has to untangle.
// The checkers are tested first on small made-up graphs and sources, so each check is seen to fail.

import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/test/unit/imports.test.js. */
const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'));
const SCANNED = ['core', 'shared', 'workers', 'cli'];
/** The one module allowed to call the futex primitives of Atomics. */
const FUTEX_MODULE = 'shared/futex.ts';

/**
 * `source` with comments removed. keepStrings: leave string literals as they are (to read import
 * specifiers); otherwise blank their text (to look for calls), keeping template ${ } expressions.
 */
export function stripComments(source: string, keepStrings: boolean): string {
  let out = '';
  let i = 0;
  const n = source.length;
  // Stack of open template literals: the brace depth of the ${ } expression each is inside.
  const templates: number[] = [];
  let braceDepth = 0;
  while (i < n) {
    const c = source[i] as string;
    const d = source[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && d === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      out += ' ';
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      out += keepStrings ? source.slice(i, j + 1) : c + c;
      i = j + 1;
      continue;
    }
    if (c === '`' || (c === '}' && templates.length > 0 && templates[templates.length - 1] === braceDepth)) {
      // A template's text up to its end or its next ${.
      if (c === '}') templates.pop();
      let j = i + 1;
      while (j < n && source[j] !== '`' && !(source[j] === '$' && source[j + 1] === '{')) j += source[j] === '\\' ? 2 : 1;
      out += '``';
      if (source[j] === '$') {
        templates.push(braceDepth);
        i = j + 2;
      } else i = j + 1;
      continue;
    }
    if (c === '{') braceDepth++;
    else if (c === '}') braceDepth--;
    out += c;
    i++;
  }
  return out;
}

/** The relative specifiers `source` imports or re-exports (static and dynamic). */
export function importSpecifiers(source: string, runtimeOnly = false): string[] {
  let code = stripComments(source, true);
  // A type-only import is erased by the compiler: it orders no module evaluation, so it cannot close
  // a cycle (every core module names KernelState's type, which imports a few of them at run time).
  if (runtimeOnly) code = code.replace(/(?:^|[;\n}])\s*(?:import|export)\s+type\s[^;'"]*?\sfrom\s*(['"])[^'"]+\1/g, '');
  const specs: string[] = [];
  const patterns = [
    /(?:^|[;\n}])\s*(?:import|export)\s[^;'"]*?\sfrom\s*(['"])([^'"]+)\1/g,
    /(?:^|[;\n}])\s*import\s*(['"])([^'"]+)\1/g,
    /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[2] as string);
  return specs;
}

/** True if `source` (comments and strings aside) calls Atomics.wait, .notify or .waitAsync. */
export function callsFutexPrimitives(source: string): boolean {
  return /\bAtomics\s*\.\s*(?:wait|notify|waitAsync)\b/.test(stripComments(source, false));
}

/** A cycle of the graph as a path [a, b, ..., a], or null. Deterministic: nodes in sorted order. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1: on the DFS stack, 2: done
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 1);
    stack.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      const s = state.get(next);
      if (s === 1) return [...stack.slice(stack.indexOf(next)), next];
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 2);
    return null;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

/** The top folder of a repository path. */
function topOf(path: string): string {
  return path.split('/')[0] as string;
}

/** Why the arrow from → to breaks the layering, or null if it is allowed. */
export function forbiddenArrow(from: string, to: string): string | null {
  const a = topOf(from);
  const b = topOf(to);
  if ((b === 'test' || b === 'bench') && a !== 'test' && a !== 'bench') return `${a}/ must not import ${b}/`;
  const allowed: Record<string, readonly string[] | null> = {
    shared: ['shared'],
    core: ['core', 'shared'],
    workers: ['core', 'shared', 'workers'],
    cli: null, // anything but test/ and bench/ (above)
  };
  const list = allowed[a];
  if (list === undefined || list === null || list.includes(b)) return null;
  return `${a}/ may import only ${list.map((x) => `${x}/`).join(', ')}, not ${b}/`;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Repository path (with /) of the file a relative specifier of `from` names (.js -> .ts). */
function resolveSpecifier(from: string, spec: string): string {
  const target = normalize(join(dirname(join(ROOT, from)), spec)).replace(/\.js$/, '.ts');
  return relative(ROOT, target).split(sep).join('/');
}

/** path -> its source, for every .ts under the scanned folders. */
function readTree(): Map<string, string> {
  const tree = new Map<string, string>();
  for (const top of SCANNED) for (const file of sourceFiles(join(ROOT, top))) tree.set(relative(ROOT, file).split(sep).join('/'), readFileSync(file, 'utf8'));
  return tree;
}

// ---- The checkers, on made-up input: each must be able to fail. ----

t.test('the checkers', async (t) => {
  t.same(importSpecifiers("import { a } from './a.js';\nimport type { B } from '../b.js';\nexport { c } from './c.js';\nimport './d.js';\nconst e = await import('./e.js');"), ['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  t.same(importSpecifiers("import { a } from './a.js';\nimport type { B } from '../b.js';\nexport type { C } from './c.js';", true), ['./a.js'], 'runtime only: type-only imports left out');
  t.same(importSpecifiers("import {\n  a,\n  b,\n} from './multi.js';"), ['./multi.js']);
  t.same(importSpecifiers("// import { a } from './commented.js';\n/* import './block.js'; */\nconst s = \"import x from './in_string.js'\";"), []);
  t.same(importSpecifiers("import { z } from 'zod';"), ['zod'], 'bare specifiers are read (and skipped later as not relative)');
  t.equal(callsFutexPrimitives('Atomics.wait(w, 0, 0);'), true);
  t.equal(callsFutexPrimitives('Atomics . notify(w, 0)'), true);
  t.equal(callsFutexPrimitives('await Atomics.waitAsync(w, 0, 0).value;'), true);
  t.equal(callsFutexPrimitives('// Atomics.wait(w, 0, 0)\nconst s = "parks in Atomics.wait";\nconst u = `in Atomics.notify ${1}`;'), false);
  t.equal(callsFutexPrimitives('const u = `${Atomics.notify(w, 0)}`;'), true, 'code inside a template expression is code');
  t.equal(callsFutexPrimitives('Atomics.load(w, 0); Atomics.waiter;'), false);
  t.same(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), null);
  t.same(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), ['a', 'b', 'c', 'a']);
  t.same(findCycle(new Map([['x', ['x']]])), ['x', 'x']);
  t.equal(forbiddenArrow('core/a.ts', 'shared/b.ts'), null);
  t.equal(forbiddenArrow('cli/a.ts', 'workers/b.ts'), null);
  t.equal(forbiddenArrow('workers/a.ts', 'core/b.ts'), null);
  t.match(forbiddenArrow('shared/a.ts', 'core/b.ts'), /shared\/ may import only shared\//);
  t.match(forbiddenArrow('core/a.ts', 'workers/b.ts'), /core\/ may import only core\/, shared\//);
  t.match(forbiddenArrow('workers/a.ts', 'cli/b.ts'), /not cli\//);
  t.match(forbiddenArrow('cli/a.ts', 'test/helpers/x.ts'), /must not import test\//);
  t.match(forbiddenArrow('core/a.ts', 'bench/run.ts'), /must not import bench\//);
  t.equal(forbiddenArrow('test/a.ts', 'bench/x.ts'), null);
});

// ---- The tree. ----

const tree = readTree();
const graph = new Map<string, string[]>();
/** The arrows that order module evaluation (type-only imports left out): the cycle check's graph. */
const runtimeGraph = new Map<string, string[]>();
const badArrows: string[] = [];
const missing: string[] = [];
for (const [file, source] of tree) {
  const deps: string[] = [];
  for (const spec of importSpecifiers(source)) {
    if (!spec.startsWith('.')) continue; // node: built-ins and packages
    const target = resolveSpecifier(file, spec);
    deps.push(target);
    const why = forbiddenArrow(file, target);
    if (why) badArrows.push(`${file} -> ${target}: ${why}`);
    if (SCANNED.includes(topOf(target)) && !tree.has(target)) missing.push(`${file} -> ${target}`);
  }
  graph.set(file, deps);
  runtimeGraph.set(
    file,
    importSpecifiers(source, true)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => resolveSpecifier(file, spec)),
  );
}

t.test('the tree was read', async (t) => {
  t.ok(tree.size > 40, `${tree.size} source files`);
  t.ok(tree.has('core/vm/page_source.ts') && tree.has(FUTEX_MODULE), 'core/ and shared/ are in it');
  t.same(missing, [], 'every relative import names a source file');
  t.ok((graph.get('core/vm/page_source.ts') ?? []).includes('core/kernel_state.ts'), 'page_source imports kernel_state (the parse sees type imports)');
});

t.test('no import cycle', async (t) => {
  const cycle = findCycle(runtimeGraph);
  t.equal(cycle, null, cycle ? `import cycle: ${cycle.join(' -> ')}` : 'acyclic');
});

t.test('only allowed arrows', async (t) => {
  t.same(badArrows, [], 'no forbidden arrow (type-only imports included)');
});

t.test(`only ${FUTEX_MODULE} calls Atomics.wait / notify / waitAsync`, async (t) => {
  t.equal(callsFutexPrimitives(tree.get(FUTEX_MODULE) ?? ''), true, `${FUTEX_MODULE} is where they are`);
  const callers = [...tree].filter(([file, source]) => file !== FUTEX_MODULE && callsFutexPrimitives(source)).map(([file]) => file);
  t.same(callers, [], 'no other module calls them');
});
