// The arrows in src/ point one way. The layers, from the inside out:
//   config, secrets  →  core (pure)  →  adapters  →  daemon  →  status  →  cli  →  main.ts
// with the simulated world (sim/) and the benchmark (bench/) on the side. Each folder may import
// only the folders its row of LAYERS names; there is no import cycle (type-only imports and dynamic
// import() count too, since they couple modules just the same). The graph is read from the import
// lines of every source file.
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

/**
 * What each folder of src/ may import besides itself (a folder, or one file of a folder). Read it
 * as the architecture: the core sees only the config's types; adapters implement the core's ports;
 * the daemon drives the core through adapters; status publishes what a tick reports; the commands
 * put everything together (cli/wiring.ts is the composition root). The simulated world is a fake of
 * the outside (GitHub, tart, guests): it never reaches into the daemon, the status or the commands.
 */
const LAYERS: Record<string, string[]> = {
  'config': [],
  'secrets': [],
  'core': ['config/types.ts'],
  'adapters': ['config', 'secrets', 'core'],
  'daemon': ['config', 'secrets', 'core', 'adapters'],
  'status': ['config', 'secrets', 'core', 'adapters', 'daemon'],
  'launchd': ['config', 'secrets'],
  'sim': ['config', 'secrets', 'core', 'adapters', 'launchd'],
  'cli': ['config', 'secrets', 'core', 'adapters', 'daemon', 'status', 'launchd', 'sim'],
  'bench': ['config', 'secrets', 'core', 'adapters', 'daemon', 'status', 'launchd', 'sim'],
  'main.ts': ['config', 'cli'],
};

const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : path);

/** Every import that crosses folders in a direction LAYERS does not allow. */
function layerViolations(edges: Map<string, string[]>): string[] {
  return [...edges].flatMap(([from, tos]) => {
    const allowed = LAYERS[folderOf(from)];
    if (!allowed) return [`${from}: its folder has no row in LAYERS`];
    return tos
      .filter((to) => folderOf(to) !== folderOf(from) && !allowed.some((a) => to === a || to.startsWith(`${a}/`)))
      .map((to) => `${from} -> ${to}`);
  });
}

test('only main.ts sits loose in src/; every folder is a layer', () => {
  expect([...graph.keys()].filter((f) => !f.includes('/'))).toEqual(['main.ts']);
  expect([...new Set([...graph.keys()].map(folderOf))].sort()).toEqual(Object.keys(LAYERS).sort());
});

test('every import points inwards, as the layer table says', () => {
  expect(layerViolations(graph)).toEqual([]);
});

test('the layer check catches an arrow pointing outwards (the check itself can fail)', () => {
  const planted = new Map(graph);
  planted.set('adapters/state-file.ts', [...(graph.get('adapters/state-file.ts') ?? []), 'daemon/host-memory.ts']);
  planted.set('core/plan.ts', [...(graph.get('core/plan.ts') ?? []), 'config/load.ts']);
  planted.set('sim/world.ts', [...(graph.get('sim/world.ts') ?? []), 'cli/wiring.ts']);
  expect(layerViolations(planted)).toEqual(['adapters/state-file.ts -> daemon/host-memory.ts', 'core/plan.ts -> config/load.ts', 'sim/world.ts -> cli/wiring.ts']);
});
