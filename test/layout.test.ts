/**
 * The layout is the architecture: shared/ is the bottom layer both sides import, agents/ and cloud/ never
 * import each other, and only app/ (the CLI root and the demo) composes them. The suite reads nothing
 * outside the repository: a clone with nothing beside it must pass.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

/** Every module a file imports by relative path, static or dynamic, resolved to a path below ROOT. */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => relative(ROOT, resolve(dirname(file), s)));
}

const LAYERS = ['app', 'agents', 'cloud', 'shared', 'scripts'] as const;
/** What each layer may not import. */
const FORBIDDEN: Record<(typeof LAYERS)[number], string[]> = {
  shared: ['agents', 'cloud', 'app', 'scripts'],
  agents: ['cloud', 'app'],
  cloud: ['agents', 'app'],
  app: [],
  scripts: ['app'],
};

function violations(layer: (typeof LAYERS)[number]): string[] {
  const bad: string[] = [];
  for (const file of sourceFiles(join(ROOT, layer))) {
    for (const target of relativeImports(file)) {
      const top = target.split('/')[0]!;
      if (FORBIDDEN[layer].includes(top)) bad.push(`${relative(ROOT, file)} imports ${target}`);
    }
  }
  return bad;
}

describe('layering', () => {
  it.each(LAYERS)('%s/ imports only what its layer may', (layer) => {
    expect(violations(layer)).toEqual([]);
  });

  it('finds a violation where there is one (the check itself works)', () => {
    // app/demo composes both sides: seen from shared/'s rules, it would be three violations at least.
    const demoTargets = relativeImports(join(ROOT, 'app/demo/demo-world.ts')).map((t) => t.split('/')[0]);
    expect(demoTargets).toContain('agents');
    expect(demoTargets).toContain('cloud');
  });
});

describe('the suite stands alone', () => {
  it('no test, helper or script names a path outside the repository', () => {
    const outside: string[] = [];
    for (const file of [...sourceFiles(join(ROOT, 'test')), ...sourceFiles(join(ROOT, 'scripts'))]) {
      const text = readFileSync(file, 'utf8');
      // new URL('../x', import.meta.url) resolves against the file itself.
      for (const m of text.matchAll(/new URL\(\s*['"`]((?:\.\.\/)+[^'"`]*)['"`]/g)) {
        if (relative(ROOT, resolve(dirname(file), m[1]!)).startsWith('..')) outside.push(`${relative(ROOT, file)}: ${m[1]}`);
      }
      // The team folder beside the checkout, named in any way.
      for (const m of text.matchAll(/(?:\.\.\/)+shared\/(?:captures|vectors|DESIGN)[^'"`\s]*/g)) outside.push(`${relative(ROOT, file)}: ${m[0]}`);
    }
    expect(outside).toEqual([]);
  });

  it('the fixtures are in the repository, with their licences', () => {
    for (const path of ['test/fixtures/vectors/identity-v1.json', 'test/fixtures/captures/README.md', 'test/fixtures/captures/probes-labelled/README.md', 'test/fixtures/captures/licenses']) {
      expect(statSync(join(ROOT, path)), path).toBeTruthy();
    }
  });
});
