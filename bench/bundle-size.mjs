// Benchmark 7: what a page downloads to run a peer. tabswarm = the wasm module plus its JS
// glue; WebTorrent = its browser bundle. Both gzipped at level 9, as a server would send them.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT, printTable, writeResult } from './lib.mjs';

const gz = (files) => files.reduce((sum, f) => sum + zlib.gzipSync(fs.readFileSync(path.join(ROOT, f)), { level: 9 }).length, 0);
const raw = (files) => files.reduce((sum, f) => sum + fs.statSync(path.join(ROOT, f)).size, 0);
const sets = {
  tabswarm: ['pkg/tabswarm_bg.wasm', 'pkg/tabswarm.js'],
  webtorrent: ['node_modules/webtorrent/dist/webtorrent.min.js'],
};
const rows = Object.entries(sets).map(([name, files]) => ({ bundle: name, files: files.join(' + '), bytes: raw(files), gzipped: gz(files) }));
printTable('Bundle size (target: tabswarm gzipped smaller than webtorrent.min.js gzipped)', rows);
const ratio = rows[0].gzipped / rows[1].gzipped;
console.log(`tabswarm / WebTorrent (gzipped) = ${ratio.toFixed(2)}`);
writeResult('bundle-size', { rows, ratio });
