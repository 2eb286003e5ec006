// The arrows in src/ point one way: no import cycle (type-only imports and dynamic import() count
// too, since they couple modules just the same), and the simulated world never imports the command
// layer. The graph is read from the import lines of every source file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../src/config/package.js';

const SRC = join(PACKAGE_ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of one file, as src-relative paths of .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gms),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
  ].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(SRC, resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
}

const graph = new Map(sources(SRC).map((f) => [relative(SRC, f), importsOf(f)]));

/** Every cycle, each as the path that closes it. */
function cycles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

test('the graph is read (sanity: known edges are seen)', () => {
  expect(graph.get('main.ts')).toEqual(expect.arrayContaining(['cli/context.ts', 'cli/validate.ts']));
  expect(graph.size).toBeGreaterThan(40);
});

test('no import cycle in src/', () => {
  expect(cycles().map((c) => c.join(' -> '))).toEqual([]);
});

test('src/sim/ does not import from src/cli/', () => {
  const wrong = [...graph].flatMap(([from, tos]) => (from.startsWith('sim/') ? tos.filter((t) => t.startsWith('cli/')).map((t) => `${from} -> ${t}`) : []));
  expect(wrong).toEqual([]);
});
