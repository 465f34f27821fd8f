import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const VARIABLE_NAME = /^[A-Z][A-Z0-9_]*$/;

/** The variables a configuration page documents: every backticked name in the first cell of its table rows. */
export function documentedVariables(markdown: string): string[] {
  const names = new Set<string>();
  for (const line of withoutCodeBlocks(markdown)) {
    if (!line.startsWith('|')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const [, name] of firstCell.matchAll(/`([^`]+)`/g)) if (name && VARIABLE_NAME.test(name)) names.add(name);
  }
  return [...names].sort();
}

/** Names that `process.env.NAME` or `process.env['NAME']` reads in a source file. */
export function environmentReads(source: string): string[] {
  const names = new Set<string>();
  for (const match of source.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\])/g)) {
    names.add((match[1] ?? match[2])!);
  }
  return [...names].sort();
}

/** What one side has and the other lacks. */
export function difference(read: readonly string[], documented: readonly string[]): { undocumented: string[]; unread: string[] } {
  return {
    undocumented: read.filter((name) => !documented.includes(name)).sort(),
    unread: documented.filter((name) => !read.includes(name)).sort(),
  };
}

/** Lines outside fenced code blocks. */
function withoutCodeBlocks(markdown: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes; repeats get -1, -2, … */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The relative link targets of a markdown file: `[text](target)` and `<img src="target">`, outside code. */
export function relativeLinks(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of withoutCodeBlocks(markdown)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) targets.push(target!);
    for (const [, target] of prose.matchAll(/<img\s[^>]*src="([^"]+)"/g)) targets.push(target!);
  }
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** Each relative link in the given files (paths from root) that leads to no file, or to no heading of it. */
export function brokenLinks(root: string, files: readonly string[]): string[] {
  const broken: string[] = [];
  for (const file of files) {
    const markdown = readFileSync(join(root, file), 'utf8');
    for (const link of relativeLinks(markdown)) {
      const [path = '', anchor] = link.split('#', 2);
      const target = path === '' ? join(root, file) : join(root, dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) {
        broken.push(`${file}: ${link} (no file ${relative(root, target)})`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!target.endsWith('.md') || statSync(target).isDirectory()) {
        broken.push(`${file}: ${link} (an anchor into a file that is not markdown)`);
      } else if (!headingAnchors(readFileSync(target, 'utf8')).has(anchor)) {
        broken.push(`${file}: ${link} (no heading #${anchor} in ${relative(root, target)})`);
      }
    }
  }
  return broken;
}

/** TypeScript files under a folder, specs left out (relative to root). */
export function sourceFiles(root: string, dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) files.push(...sourceFiles(root, path));
    else if (entry.name.endsWith('.ts') && !/\.(spec|e2e-spec)\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}
