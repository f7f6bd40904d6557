// Benchmark 4: one seed and 7 leechers in 8 isolated contexts, F = 32 MiB, every upload capped
// at 2 MiB/s with the engine's limiter, downloads uncapped. Compares the distribution time T
// with the classic bounds D_cs = max(N·F/u_s, F/d_min) and D_P2P = max(F/u_s, F/d_min,
// N·F/(u_s + Σu_i)), with d_min measured as the raw data-channel rate of benchmark 1 if present.
// Two runs: the seed in BEP 16 initial-seeding mode (`superSeed`, what a lone first seed should
// use, and the run the target applies to), and as a plain seed.
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, benchPeer, startTracker, printTable, writeResult, MiB, RESULTS, withTimeout } from './lib.mjs';

const N = Number(process.env.BENCH_SWARM_N ?? 7);
const F = Number(process.env.BENCH_SWARM_MB ?? 32) * MiB;
const U = 2 * MiB;
const limits = { upload: U };
let dMin = Infinity;
try {
  const raw = JSON.parse(fs.readFileSync(path.join(RESULTS, 'throughput.json'), 'utf8')).rows.find((r) => r.run === 'raw');
  if (raw && Number(raw['MB/s'])) dMin = Number(raw['MB/s']) * 1e6;
} catch { /* no throughput result yet: F/d_min is left out */ }
const dcs = Math.max((N * F) / U, F / dMin);
const dp2p = Math.max(F / U, F / dMin, (N * F) / (U + N * U));

async function run(superSeed) {
  const tracker = await startTracker();
  const browser = await launchBrowser();
  try {
    const seed = await benchPeer(browser, tracker.url, 'tabswarm.html', 'swarm-seed');
    const s = await seed.evaluate(([n, ann, lim, ss]) => window.tsSeed(n, 11, ann, { limits: lim, superSeed: ss }), [F, [tracker.announce], limits, superSeed]);
    const leechers = [];
    for (let i = 0; i < N; i++) leechers.push(await benchPeer(browser, tracker.url, 'tabswarm.html', `swarm-${i}`));
    const t0 = Date.now();
    const runs = await withTimeout(600_000, 'swarm', () => Promise.all(leechers.map((p) => p.evaluate(([m, ann, lim]) => window.tsDownload(m, ann, { limits: lim }), [s.magnet, [tracker.announce], limits]))));
    for (const r of runs) if (r.hash !== s.hash) throw new Error('a leecher got different bytes');
    const start = Math.min(...runs.map((r) => r.start));
    const finish = runs.map((r) => (r.end - start) / 1000).sort((a, b) => a - b);
    const T = finish[finish.length - 1];
    const since = (k) => runs.map((r) => (r[k] ? (r[k] - r.start) / 1000 : NaN)).sort((a, b) => a - b);
    const firstPiece = since('first');
    const seedUploaded = await seed.evaluate(() => window.tsSeeded.uploaded);
    return { seed: superSeed ? 'initial seeding' : 'plain', T, T_over_D_P2P: T / dp2p, finish, first_piece: firstPiece, seed_uploaded: seedUploaded, wall: (Date.now() - t0) / 1000 };
  } finally {
    await browser.close();
    await tracker.stop();
  }
}

const runs = [await run(true), await run(false)];
printTable(`Swarm: 1 seed + ${N} leechers, F = ${F / MiB} MiB, u_s = u_i = 2 MiB/s, D_P2P = ${dp2p.toFixed(1)} s, D_cs = ${dcs.toFixed(1)} s (target: T <= 1.3 x D_P2P)`,
  runs.map((r) => ({
    seed: r.seed, 'T s': r.T.toFixed(1), 'T / D_P2P': r.T_over_D_P2P.toFixed(2),
    'seed uploaded MiB': (r.seed_uploaded / MiB).toFixed(1),
    'first piece s (median)': r.first_piece[r.first_piece.length >> 1].toFixed(1), 'finish times s': r.finish.map((x) => x.toFixed(1)).join(' '),
  })));
writeResult('swarm', { N, F, u: U, D_cs: dcs, D_P2P: dp2p, runs });
