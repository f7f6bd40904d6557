// The npm package in pkg/ (built by scripts/build.sh): its TypeScript declarations type the
// whole public API (no `any`), the README's example compiles under `tsc --strict` against the
// package as a user installs it, wrong uses do not compile, and `npm pack` ships exactly the
// package's files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = join(root, 'pkg');
const dts = readFileSync(join(pkg, 'tabswarm.d.ts'), 'utf8');

/** The first ```js block of the README's "Using the JS API" section. */
function readmeExample() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using the JS API'));
  const m = section.match(/```js\n([\s\S]*?)```/);
  assert.ok(m, 'the README has a ```js example under "Using the JS API"');
  return m[1];
}

test('the declarations name every API type and contain no any', () => {
  for (const name of ['ClientOptions', 'SeedOptions', 'AddOptions', 'TorrentStats', 'PeerInfo', 'PeerStats',
    'TorrentEventMap', 'ErrorCode', 'TabswarmError']) {
    assert.match(dts, new RegExp(`export (interface|type) ${name}\\b`), name);
  }
  for (const name of ['Client', 'Torrent', 'TorrentFile']) assert.match(dts, new RegExp(`export class ${name}\\b`), name);
  assert.match(dts, /seed\(input: SeedInput, opts\?: SeedOptions( \| null)?\): Promise<Torrent>;/);
  assert.match(dts, /add\(input: TorrentId, opts\?: AddOptions( \| null)?\): Promise<Torrent>;/);
  assert.match(dts, /constructor\(opts\?: ClientOptions( \| null)?\);/);
  const anys = dts.split('\n').filter((line) => /\bany\b/.test(line.replace(/\/\/.*|\/\*.*?\*\/|^\s*\*.*/g, '')));
  assert.deepEqual(anys, [], 'no `any` outside comments');
});

test('the README example type-checks with tsc --strict, and wrong uses do not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabswarm-types-'));
  try {
    // The package as a user's project sees it: node_modules/tabswarm, resolved by `exports`.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(pkg, join(dir, 'node_modules', 'tabswarm'), 'dir');
    writeFileSync(join(dir, 'readme-example.ts'), readmeExample());
    copyFileSync(join(root, 'tests', 'types', 'misuse.ts'), join(dir, 'misuse.ts'));
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext',
      '--moduleResolution', 'bundler', '--lib', 'es2022,esnext.disposable,dom,dom.iterable', '--types', ''];
    const run = (files) => spawnSync(tsc, [...args, ...files], { cwd: dir, encoding: 'utf8' });
    const ok = run(['readme-example.ts', 'misuse.ts']);
    assert.equal(ok.status, 0, `tsc failed:\n${ok.stdout}${ok.stderr}`);
    // The check is not vacuous: the same misuse without its @ts-expect-error lines fails, once
    // per marked line.
    const marked = readFileSync(join(dir, 'misuse.ts'), 'utf8');
    const expected = marked.split('\n').filter((l) => /^\s*\/\/ @ts-expect-error/.test(l)).length;
    writeFileSync(join(dir, 'misuse.ts'), marked.replace(/^\s*\/\/ @ts-expect-error.*\n/gm, ''));
    const bad = run(['misuse.ts']);
    assert.notEqual(bad.status, 0);
    const errors = (bad.stdout.match(/error TS\d+/g) ?? []).length;
    assert.equal(errors, expected, `one error per wrong use:\n${bad.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pkg/ is an npm package and npm pack ships its files', () => {
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const cargo = readFileSync(join(root, 'Cargo.toml'), 'utf8');
  assert.equal(manifest.name, 'tabswarm');
  assert.equal(manifest.version, cargo.match(/\[workspace\.package\]\nversion = "([^"]+)"/)[1]);
  assert.equal(manifest.types, './tabswarm.d.ts');
  assert.equal(manifest.exports['.'].types, './tabswarm.d.ts');
  assert.ok(manifest.license);
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'],
    { cwd: pkg, encoding: 'utf8' }));
  const files = packed.files.map((f) => f.path).sort();
  const expected = ['README.md', 'package.json', 'tabswarm.d.ts', 'tabswarm.js', 'tabswarm_bg.wasm', 'tabswarm_bg.wasm.d.ts'];
  assert.deepEqual(files.filter((f) => !f.startsWith('snippets/')), expected);
  for (const f of files) assert.ok(manifest.files.some((entry) => f === entry || f.startsWith(entry) || f === 'package.json'), f);
  assert.equal(packed.name, 'tabswarm');
});
