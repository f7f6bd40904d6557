// Makes pkg/ (wasm-pack's output, built with --no-pack) a publishable npm package: writes
// pkg/package.json and copies this directory's README.md. Deterministic: the version, license
// and description come from the root Cargo.toml, nothing from the clock or the machine.
import { readFileSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const pkg = join(root, 'pkg');
const cargo = readFileSync(join(root, 'Cargo.toml'), 'utf8');

/** `key = "value"` inside the TOML table `[table]`. */
function tomlString(table, key) {
  const start = cargo.indexOf(`\n[${table}]\n`);
  if (start < 0) throw new Error(`Cargo.toml has no [${table}]`);
  const body = cargo.slice(start + table.length + 4).split(/\n\[/)[0];
  const m = body.match(new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, 'm'));
  if (!m) throw new Error(`Cargo.toml [${table}] has no ${key}`);
  return m[1];
}

// wasm-bindgen declares the raw wasm exports (`InitOutput`, what `init()` resolves to, and
// tabswarm_bg.wasm.d.ts) with `any` for JS values: declare them `unknown`, so no public
// declaration is `any` (no user calls these; `unknown` keeps a stray call type-safe).
for (const file of ['tabswarm.d.ts', 'tabswarm_bg.wasm.d.ts']) {
  const path = join(pkg, file);
  const text = readFileSync(path, 'utf8').split('\n').map((line) =>
    /^\s*(readonly|export const) \w+: \(/.test(line) ? line.replace(/\bany\b/g, 'unknown') : line);
  writeFileSync(path, text.join('\n'));
}

const snippets = existsSync(join(pkg, 'snippets'));
const manifest = {
  name: 'tabswarm',
  version: tomlString('workspace.package', 'version'),
  description: tomlString('package', 'description'),
  license: tomlString('workspace.package', 'license'),
  type: 'module',
  main: './tabswarm.js',
  types: './tabswarm.d.ts',
  exports: {
    '.': { types: './tabswarm.d.ts', default: './tabswarm.js' },
    './tabswarm_bg.wasm': './tabswarm_bg.wasm',
  },
  files: [
    'tabswarm.js',
    'tabswarm.d.ts',
    'tabswarm_bg.wasm',
    'tabswarm_bg.wasm.d.ts',
    ...(snippets ? ['snippets/'] : []),
    'README.md',
  ],
  sideEffects: snippets ? ['./snippets/*'] : false,
  keywords: ['bittorrent', 'webtorrent', 'webrtc', 'wasm', 'p2p'],
};
writeFileSync(join(pkg, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
copyFileSync(join(here, 'README.md'), join(pkg, 'README.md'));
