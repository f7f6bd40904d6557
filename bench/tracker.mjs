// Runs tabswarm-loadgen against our tracker and against npm bittorrent-tracker, same machine,
// same run. For each connection count C:
//   1. saturation: every peer re-announces as soon as its reply arrives (closed loop), which
//      gives the announce rate each tracker sustains;
//   2. fixed load: both trackers are offered the rate bittorrent-tracker sustained in step 1
//      (the issue's "p99 at 10 000 connections while offered the load bittorrent-tracker
//      sustains").
// Every run starts a fresh tracker process (so peak RSS is per run) and measures the
// tracker's CPU time per message it sent, the same way for both trackers: the generator
// counts every WebSocket message its peers receive (replies, forwarded offers, relayed
// answers, failures) and reads utime+stime of the tracker's process (all its threads) from
// /proc/PID/stat at both ends of the same window. Both trackers are spawned directly (no
// shell or npm wrapper), so PID is the tracker itself.
//
// Environment: TRACKER_BENCH_CONNS (default "1000,10000"), TRACKER_BENCH_DURATION (s, 15),
// TRACKER_BENCH_WARMUP (s, 8; peers start over the first min(period, 5 s)), TRACKER_BENCH_TORRENTS (100), CARGO_TARGET_DIR.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, printTable, writeResult } from './lib.mjs';

const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const BIN = path.join(TARGET, 'release');
const CONNS = (process.env.TRACKER_BENCH_CONNS ?? '1000,10000').split(',').map(Number);
const DURATION = Number(process.env.TRACKER_BENCH_DURATION ?? 15);
const WARMUP = Number(process.env.TRACKER_BENCH_WARMUP ?? 8);
const TORRENTS = Number(process.env.TRACKER_BENCH_TORRENTS ?? 100);

// Our tracker's per-connection flood limit and pending-offer memory are sized for real
// clients (an announce every 120 s); a load generator peer announces many times a second,
// so both are raised for the benchmark. bittorrent-tracker has neither limit.
const OURS_ENV = {
  RUST_LOG: 'warn',
  TABSWARM_RATE_PER_SEC: '100000',
  TABSWARM_RATE_BURST: '100000',
  TABSWARM_MAX_PENDING_OFFERS: '1000'
};

/** Starts a tracker; resolves to { proc, url } once it printed its address. */
function startTracker (kind) {
  const [cmd, args, env] = kind === 'ours'
    ? [path.join(BIN, 'tabswarm-tracker'), ['--listen', '127.0.0.1:0', '--static-dir', ROOT], OURS_ENV]
    : ['node', [path.join(ROOT, 'bench/tracker-npm-server.mjs'), '0'], {}];
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${kind} tracker did not start: ${out}`)), 15000);
    const onData = (d) => {
      out += d;
      const m = /listening on (?:http|ws):\/\/([\d.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: kind === 'ours' ? `ws://${m[1]}/announce` : `ws://${m[1]}` });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`${kind} tracker exited (${code}): ${out}`)));
  });
}

async function stopTracker (proc) {
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(t);
}

/** One load run against a fresh tracker; returns the generator's JSON report. */
async function run (kind, conns, rate) {
  const { proc, url } = await startTracker(kind);
  const args = ['--url', url, '--connections', String(conns), '--torrents', String(TORRENTS),
    '--rate', String(rate), '--warmup', String(WARMUP), '--duration', String(DURATION),
    '--pid', String(proc.pid), '--label', kind];
  process.stderr.write(`\n== ${kind}: ${conns} connections, ${rate ? `${rate} announces/s` : 'saturation'}\n`);
  const lg = spawnSync(path.join(BIN, 'tabswarm-loadgen'), args, {
    encoding: 'utf8', timeout: (DURATION + WARMUP + 120) * 1000, stdio: ['ignore', 'pipe', 'inherit']
  });
  await stopTracker(proc);
  const line = (lg.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`load generator failed (${lg.status ?? lg.signal}): ${lg.error ?? ''}`);
  return { tracker: kind, mode: rate ? 'fixed' : 'saturation', ...JSON.parse(line) };
}

const fmt = (v, d = 0) => (v == null ? '-' : Number(v).toFixed(d));
const runs = [];
const started = Date.now();
for (const c of CONNS) {
  const satNpm = await run('bittorrent-tracker', c, 0);
  runs.push(satNpm);
  runs.push(await run('ours', c, 0));
  const rate = Math.max(100, Math.round(satNpm.replies_per_sec / 100) * 100);
  runs.push(await run('bittorrent-tracker', c, rate));
  runs.push(await run('ours', c, rate));
}

const rows = runs.map((r) => ({
  tracker: r.tracker,
  conns: `${r.connected}/${r.connections}`,
  load: r.mode === 'fixed' ? `${r.offered_announces_per_sec}/s` : 'saturation',
  'replies/s': fmt(r.replies_per_sec),
  'relayed/s': fmt(r.relayed_per_sec),
  'p50 ms': fmt(r.latency_p50_ms, 2),
  'p99 ms': fmt(r.latency_p99_ms, 1),
  'CPU µs/msg': fmt(r.tracker_cpu_us_per_out_msg, 2),
  'user+sys': `${fmt(r.tracker_user_us_per_out_msg, 1)}+${fmt(r.tracker_sys_us_per_out_msg, 1)}`,
  'CPU util': fmt(r.tracker_cpu_util, 2),
  'peak RSS MiB': fmt(r.tracker_peak_rss_mib, 1),
  failures: r.failures,
  'conn errors': r.conn_errors
}));
printTable('Tracker load (tabswarm-loadgen; 5 offers of ~500 B per announce, every offer answered)', rows);

const ratios = CONNS.map((c) => {
  const pick = (t, m) => runs.find((r) => r.tracker === t && r.connections === c && r.mode === m);
  const npm = pick('bittorrent-tracker', 'fixed');
  const ours = pick('ours', 'fixed');
  return {
    connections: c,
    offered_announces_per_sec: ours.offered_announces_per_sec,
    cpu_per_msg_ratio_ours_over_npm: ours.tracker_cpu_us_per_out_msg / npm.tracker_cpu_us_per_out_msg,
    ours_p99_ms: ours.latency_p99_ms,
    npm_p99_ms: npm.latency_p99_ms,
    ours_peak_rss_mib: ours.tracker_peak_rss_mib,
    npm_peak_rss_mib: npm.tracker_peak_rss_mib
  };
});
for (const r of ratios) {
  console.log(`C=${r.connections}: our CPU per message = ${(100 * r.cpu_per_msg_ratio_ours_over_npm).toFixed(0)}% of bittorrent-tracker's; ` +
    `p99 ${r.ours_p99_ms} ms vs ${r.npm_p99_ms} ms; peak RSS ${fmt(r.ours_peak_rss_mib, 0)} MiB vs ${fmt(r.npm_peak_rss_mib, 0)} MiB`);
}
const loadavg = fs.readFileSync('/proc/loadavg', 'utf8').trim();
writeResult('tracker', {
  machine: { cpus: os.cpus().length, loadavg_after: loadavg },
  settings: { connections: CONNS, duration_s: DURATION, warmup_s: WARMUP, torrents: TORRENTS, ours_env: OURS_ENV },
  summary: ratios,
  runs,
  wall_secs: (Date.now() - started) / 1000
});
