// Benchmark 7: what a page downloads to run a peer. tabswarm = the wasm module plus its JS
// glue, which is all a developer embedding the peer library ships; WebTorrent = its browser
// bundle. Both gzipped at level 9, as a server would send them. tabswarm's own page (index.html,
// www/: UI, QR code) is not part of the library and is reported apart, for the record.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT, printTable, writeResult } from './lib.mjs';

const gz = (files) => files.reduce((sum, f) => sum + zlib.gzipSync(fs.readFileSync(path.join(ROOT, f)), { level: 9 }).length, 0);
const raw = (files) => files.reduce((sum, f) => sum + fs.statSync(path.join(ROOT, f)).size, 0);
const row = (name, files) => ({ bundle: name, files: files.join(' + '), bytes: raw(files), gzipped: gz(files) });

const rows = [
  row('tabswarm', ['pkg/tabswarm_bg.wasm', 'pkg/tabswarm.js']),
  row('webtorrent', ['node_modules/webtorrent/dist/webtorrent.min.js']),
];
printTable('Bundle size (target: tabswarm gzipped smaller than webtorrent.min.js gzipped)', rows);
const ratio = rows[0].gzipped / rows[1].gzipped;
console.log(`tabswarm / WebTorrent (gzipped) = ${ratio.toFixed(2)}`);

const page = [
  row('page: QR code', ['www/qr.js']),
  row('page: everything else', ['index.html', 'www/app.js', 'www/style.css', 'www/icon.svg']),
];
printTable('tabswarm page assets (not part of the library, not compared)', page);
writeResult('bundle-size', { rows, ratio, page });
