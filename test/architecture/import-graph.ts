// Reads the import graph of the TypeScript sources and checks it against the layer rules below.
// A regex over import statements is enough here: the code base writes one import per statement at the start of a
// line, and `import type` counts like any other import (a type-only import still ties the two files' designs).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, posix, relative, sep } from 'node:path';

/** Each file (a path relative to the repository root, with forward slashes) and the project files it imports. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

export interface Layer {
  readonly name: string;
  /** Folders (ending in '/') or single files, relative to the repository root. */
  readonly members: readonly string[];
}

/**
 * From the bottom up: a file may import files of its own layer and of the layers before it, never of a layer after
 * it. Feature modules may import each other (without circles); everything below them receives feature behaviour
 * through an interface and an injection token it declares itself.
 */
export const LAYERS: readonly Layer[] = [
  { name: 'common', members: ['src/common/'] },
  { name: 'config', members: ['src/config/'] },
  { name: 'infrastructure', members: ['src/database/', 'src/metrics/'] },
  { name: 'rate-limit', members: ['src/rate-limit/'] },
  {
    name: 'feature',
    members: [
      'src/account/', 'src/admin/', 'src/audit/', 'src/authorization/', 'src/console/', 'src/discovery/', 'src/health/', 'src/identity-providers/',
      'src/introspection/', 'src/keys/', 'src/registration/', 'src/resources/', 'src/tokens/',
    ],
  },
  { name: 'application', members: ['src/fast-lane/', 'src/app.module.ts', 'src/entities.ts', 'src/bootstrap.ts', 'src/main.ts', 'src/cli.ts', 'src/cli/'] },
];

/**
 * Published packages (npm workspaces): they ship on their own, so they import nothing from outside their folder, and
 * the rest of the repository uses them by package name (`gatehouse-guard`), never through a relative path.
 */
export const SELF_CONTAINED: readonly string[] = ['packages/guard/', 'packages/client/'];

const IMPORT_STATEMENT = /^(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]*?\s*from\s*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT_IMPORT = /^import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The specifiers a TypeScript source imports, in the order written (packages included). */
export function importSpecifiers(source: string): string[] {
  const found: Array<{ at: number; specifier: string }> = [];
  for (const pattern of [IMPORT_STATEMENT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT]) {
    for (const match of source.matchAll(pattern)) found.push({ at: match.index, specifier: match[1] ?? '' });
  }
  return found.sort((a, b) => a.at - b.at).map(({ specifier }) => specifier);
}

function toPosix(path: string): string {
  return path.split(sep).join(posix.sep);
}

/** The project file a relative specifier names (`./x.js` is compiled from `./x.ts`), or undefined for a package. */
function resolveSpecifier(root: string, fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = join(root, dirname(fromFile), specifier);
  const candidates = [target.replace(/\.js$/, '.ts'), target, join(target, 'index.ts')];
  const found = candidates.find((candidate) => candidate.endsWith('.ts') && existsSync(candidate));
  if (found === undefined) throw new Error(`${fromFile}: cannot resolve import '${specifier}'`);
  return toPosix(relative(root, found));
}

function typeScriptFiles(root: string, dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...typeScriptFiles(root, path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files.sort();
}

/** The folders whose sources are checked: src/ and each workspace package's src/. */
export function sourceDirs(root: string): string[] {
  const packages = join(root, 'packages');
  const packageDirs = existsSync(packages)
    ? readdirSync(packages, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(packages, entry.name, 'src')))
        .map((entry) => posix.join('packages', entry.name, 'src'))
        .sort()
    : [];
  return ['src', ...packageDirs];
}

/** The graph of every .ts file under `dirs` (specs included), with the project files each one imports. */
export function readImportGraph(root: string, dirs: readonly string[] = sourceDirs(root)): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const file of dirs.flatMap((dir) => typeScriptFiles(root, dir))) {
    const targets = importSpecifiers(readFileSync(join(root, file), 'utf8'))
      .map((specifier) => resolveSpecifier(root, file, specifier))
      .filter((target): target is string => target !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

function isMember(file: string, member: string): boolean {
  return member.endsWith('/') ? file.startsWith(member) : file === member;
}

function layerIndexOf(file: string, layers: readonly Layer[]): number | undefined {
  const index = layers.findIndex((layer) => layer.members.some((member) => isMember(file, member)));
  return index === -1 ? undefined : index;
}

/** Files that belong to no layer and no self-contained library: a new folder must be placed before it is checked. */
export function findUnplacedFiles(graph: ImportGraph, layers: readonly Layer[] = LAYERS, selfContained: readonly string[] = SELF_CONTAINED): string[] {
  return [...graph.keys()].filter((file) => layerIndexOf(file, layers) === undefined && !selfContained.some((folder) => isMember(file, folder)));
}

/**
 * Every import that points from a layer to a layer above it, out of a self-contained package, or into one through a
 * relative path (which would bypass its public entry point and its build).
 */
export function findUpwardImports(graph: ImportGraph, layers: readonly Layer[] = LAYERS, selfContained: readonly string[] = SELF_CONTAINED): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    const library = selfContained.find((folder) => isMember(file, folder));
    const fromLayer = layerIndexOf(file, layers);
    for (const target of targets) {
      if (library !== undefined) {
        if (!isMember(target, library)) problems.push(`${file} -> ${target} (${library} is a published package and imports nothing outside it)`);
        continue;
      }
      const targetLibrary = selfContained.find((folder) => isMember(target, folder));
      if (targetLibrary !== undefined) {
        problems.push(`${file} -> ${target} (${targetLibrary} is a published package: import it by its package name)`);
        continue;
      }
      const toLayer = layerIndexOf(target, layers);
      if (fromLayer === undefined || toLayer === undefined || toLayer <= fromLayer) continue;
      const from = layers[fromLayer]?.name;
      const to = layers[toLayer]?.name;
      problems.push(`${file} -> ${target} (layer ${from} imports from the higher layer ${to})`);
    }
  }
  return problems;
}

/**
 * The graph of src/'s folders (a module each: `src/tokens`, `src/audit`, …; a file directly in src/ stands for
 * itself; a package is `packages/<name>`): one folder imports another when any of its files does. A circle here is two modules that each need the
 * other, even when no file-level circle ties them.
 */
export function folderGraph(graph: ImportGraph): ImportGraph {
  const folderOf = (file: string) => file.split('/').slice(0, 2).join('/');
  const folders = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    const imported = folders.get(from) ?? new Set<string>();
    folders.set(from, imported);
    for (const target of targets) if (graph.has(target) && folderOf(target) !== from) imported.add(folderOf(target));
  }
  return new Map([...folders].map(([folder, imported]) => [folder, [...imported].sort()]));
}

/**
 * The import circles among the graph's own files, each written as the path that closes it (a -> b -> a). One
 * circle is reported per strongly connected group of files, which is enough to name what to cut first.
 */
export function findCircles(graph: ImportGraph): string[] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let counter = 0;

  // Tarjan's algorithm; the graph is small enough (a few hundred files) for recursion.
  const visit = (file: string): void => {
    index.set(file, counter);
    lowLink.set(file, counter);
    counter += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        lowLink.set(file, Math.min(lowLink.get(file) ?? 0, lowLink.get(target) ?? 0));
      } else if (onStack.has(target)) {
        lowLink.set(file, Math.min(lowLink.get(file) ?? 0, index.get(target) ?? 0));
      }
    }
    if (lowLink.get(file) !== index.get(file)) return;
    const group: string[] = [];
    for (;;) {
      const member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      group.push(member);
      if (member === file) break;
    }
    const importsItself = (graph.get(file) ?? []).includes(file);
    if (group.length > 1 || importsItself) groups.push(group);
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);

  return groups.map((group) => cyclePath(graph, new Set(group)).join(' -> '));
}

/** A shortest path from the group's first file (alphabetically) back to itself, through the group only. */
function cyclePath(graph: ImportGraph, group: ReadonlySet<string>): string[] {
  const start = [...group].sort()[0] ?? '';
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift() ?? '';
    for (const target of graph.get(file) ?? []) {
      if (!group.has(target)) continue;
      if (target === start) {
        const between: string[] = [];
        for (let at: string | undefined = file; at !== undefined && at !== start; at = cameFrom.get(at)) between.unshift(at);
        return [start, ...between, start];
      }
      if (!cameFrom.has(target)) {
        cameFrom.set(target, file);
        queue.push(target);
      }
    }
  }
  return [start];
}

/** The packages a TypeScript source names: `@scope/name` or `name`, without subpaths, builtins left out. */
function packageNames(specifiers: readonly string[]): string[] {
  return specifiers
    .filter((specifier) => !specifier.startsWith('.') && !isBuiltin(specifier))
    .map((specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/'));
}

/**
 * The imports of a package's shipped sources (specs excluded) that its package.json declares neither as a
 * dependency nor as a peer dependency: they resolve here through the repository's node_modules, but not once the
 * package is installed elsewhere.
 */
export function findUndeclaredImports(root: string, packageDir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, packageDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  const problems: string[] = [];
  for (const file of typeScriptFiles(root, posix.join(packageDir, 'src')).filter((path) => !path.endsWith('.spec.ts'))) {
    for (const name of packageNames(importSpecifiers(readFileSync(join(root, file), 'utf8')))) {
      if (!declared.has(name)) problems.push(`${file} imports ${name}, which ${packageDir}/package.json does not declare`);
    }
  }
  return [...new Set(problems)];
}
