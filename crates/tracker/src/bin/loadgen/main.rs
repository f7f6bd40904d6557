//! `tabswarm-loadgen`: load for a WebTorrent WebSocket tracker on loopback.
//!
//! Opens C connections (one peer each, spread over T torrents) and, once all are open,
//! announces with 5 offers
//! (~500-byte SDPs) at a fixed total rate (or, with `--rate 0`, each peer again as soon as its
//! reply arrives), answers every offer it gets, and after a warm-up measures for a bounded
//! time: announce replies/s, relayed offers and answers/s, reply latency p50/p99, and, with
//! `--pid`, the tracker's CPU time per outgoing message and peak RSS from /proc.
//!
//! ```text
//! tabswarm-loadgen --url ws://127.0.0.1:8080/announce --connections 1000 --torrents 100 \
//!     --rate 5000 --warmup 5 --duration 20 --pid 1234 --label ours --json out.jsonl
//! ```

mod metrics;
mod peer;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tabswarm_core::rng::Rng;
use tabswarm_core::tracker_proto::InfoHash;
use tokio::sync::{watch, Semaphore};

use metrics::{Counters, Histogram};
use peer::Plan;

struct Args {
    url: String,
    connections: u64,
    torrents: u64,
    offers: usize,
    rate: f64,
    warmup: f64,
    duration: f64,
    pid: Option<String>,
    label: String,
    json: Option<String>,
    seed: u64,
    connect_parallel: usize,
    threads: usize,
    trace: bool,
}

/// One run's figures (one JSON line).
#[derive(Serialize)]
struct Report {
    label: String,
    connections: u64,
    connected: u64,
    torrents: u64,
    offers_per_announce: usize,
    offered_announces_per_sec: f64,
    measured_secs: f64,
    announces_per_sec: f64,
    answers_sent_per_sec: f64,
    replies_per_sec: f64,
    offers_relayed_per_sec: f64,
    answers_relayed_per_sec: f64,
    relayed_per_sec: f64,
    tracker_out_msgs_per_sec: f64,
    failures: u64,
    failure_reasons: Vec<(String, u64)>,
    conn_errors: u64,
    latency_samples: u64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    tracker_cpu_secs: Option<f64>,
    tracker_cpu_us_per_out_msg: Option<f64>,
    tracker_cpu_util: Option<f64>,
    /// User and kernel parts of `tracker_cpu_us_per_out_msg`.
    tracker_user_us_per_out_msg: Option<f64>,
    tracker_sys_us_per_out_msg: Option<f64>,
    tracker_peak_rss_mib: Option<f64>,
    tracker_rss_mib: Option<f64>,
    loadgen_cpu_secs: Option<f64>,
    connect_secs: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: tabswarm-loadgen --url ws://HOST:PORT/announce [--connections C] [--torrents T]\n\
         \x20      [--offers 5] [--rate ANNOUNCES_PER_SEC|0] [--warmup S] [--duration S]\n\
         \x20      [--pid TRACKER_PID] [--label NAME] [--json FILE] [--seed N] [--connect-parallel N] [--threads N] [--trace]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        url: String::new(),
        connections: 1000,
        torrents: 100,
        offers: 5,
        rate: 5000.0,
        warmup: 5.0,
        duration: 20.0,
        pid: None,
        label: "tracker".into(),
        json: None,
        seed: 1,
        connect_parallel: 256,
        threads: 1,
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--trace" {
            a.trace = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0);
        match k.as_str() {
            "--url" => a.url = v,
            "--connections" => a.connections = v.parse().unwrap_or_else(|_| usage()),
            "--torrents" => {
                a.torrents = v.parse().ok().filter(|&t| t > 0).unwrap_or_else(|| usage())
            }
            "--offers" => a.offers = v.parse().unwrap_or_else(|_| usage()),
            "--rate" => a.rate = num(&v).unwrap_or_else(|| usage()),
            "--warmup" => a.warmup = num(&v).unwrap_or_else(|| usage()),
            "--duration" => a.duration = num(&v).filter(|d| *d > 0.0).unwrap_or_else(|| usage()),
            "--pid" => a.pid = Some(v),
            "--label" => a.label = v,
            "--json" => a.json = Some(v),
            "--seed" => a.seed = v.parse().unwrap_or_else(|_| usage()),
            "--threads" => a.threads = v.parse().unwrap_or_else(|_| usage()),
            "--connect-parallel" => {
                a.connect_parallel = v.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    if a.url.is_empty() {
        usage();
    }
    a
}

fn main() {
    let args = parse_args();
    // One thread by default: the generator then uses at most one of the machine's cores.
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    match rt {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => eprintln!("cannot start the runtime: {e}"),
    }
}

async fn run(args: Args) {
    if let Some(limit) = metrics::open_files_limit() {
        if args.connections + 64 > limit {
            eprintln!(
                "warning: {} connections need more than the open-files limit {limit}",
                args.connections
            );
        }
    }
    let period =
        (args.rate > 0.0).then(|| Duration::from_secs_f64(args.connections as f64 / args.rate));
    let (window_tx, window_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (go_tx, go_rx) = watch::channel(false);
    let mut rng = Rng::new(args.seed);
    let (offer_sdps, answer_sdps) = Plan::sdp_pools(&mut rng, 64);
    let plan = Arc::new(Plan {
        url: args.url.clone(),
        offers: args.offers,
        period,
        counters: Counters::default(),
        latency: Histogram::new(),
        window: window_rx,
        go: go_rx,
        offer_sdps,
        answer_sdps,
        failures: Default::default(),
    });

    // Connect everyone (bounded parallelism), each peer starting as soon as it is connected.
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_parallel));
    let mut tasks = Vec::new();
    let (connected_tx, mut connected_rx) = tokio::sync::mpsc::channel::<bool>(1024);
    for i in 0..args.connections {
        let mut ih = InfoHash::default();
        ih.0[..8].copy_from_slice(&(i % args.torrents).to_be_bytes());
        ih.0[8..].copy_from_slice(&args.seed.to_be_bytes().repeat(2)[..12]);
        let seed = rng.next_u64();
        let (plan, gate, stop, done) = (
            plan.clone(),
            gate.clone(),
            stop_rx.clone(),
            connected_tx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let ws = tokio::time::timeout(Duration::from_secs(30), peer::connect(&plan.url)).await;
            drop(permit);
            match ws {
                Ok(Ok(ws)) => {
                    let _ = done.send(true).await;
                    peer::run(ws, plan, ih, seed, stop).await;
                }
                Ok(Err(e)) => {
                    eprintln!("connect failed: {e}");
                    plan.counters
                        .conn_errors
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let _ = done.send(false).await;
                }
                Err(_) => {
                    plan.counters
                        .conn_errors
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let _ = done.send(false).await;
                }
            }
        }));
    }
    drop(connected_tx);
    let mut connected = 0u64;
    let mut answered = 0u64;
    let mut progress = Instant::now();
    while answered < args.connections {
        match connected_rx.recv().await {
            Some(ok) => {
                answered += 1;
                connected += u64::from(ok);
            }
            None => break,
        }
        if progress.elapsed() > Duration::from_secs(5) {
            progress = Instant::now();
            eprintln!("[{}] {connected} connected so far", args.label);
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "[{}] {connected}/{} connected in {connect_secs:.1} s",
        args.label, args.connections
    );
    let _ = go_tx.send(true);

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let pid = args.pid.as_deref();
    let me = std::process::id().to_string();
    let c0 = plan.counters.snapshot();
    let cpu0 = pid.and_then(metrics::cpu_split);
    let own0 = metrics::cpu_secs(&me);
    let t0 = Instant::now();
    let _ = window_tx.send(true);
    if args.trace {
        // One line per second: replies and the worst reply latency in that second.
        let plan = plan.clone();
        let label = args.label.clone();
        tokio::spawn(async move {
            let mut last = plan.counters.snapshot();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = plan.counters.snapshot();
                let max = plan
                    .counters
                    .max_latency_us
                    .swap(0, std::sync::atomic::Ordering::Relaxed);
                eprintln!(
                    "[{label}] replies {} offers {} answers {} max latency {:.1} ms",
                    now.replies - last.replies,
                    now.offers - last.offers,
                    now.answers - last.answers,
                    max as f64 / 1000.0
                );
                last = now;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let _ = window_tx.send(false);
    let secs = t0.elapsed().as_secs_f64();
    let c1 = plan.counters.snapshot();
    let cpu1 = pid.and_then(metrics::cpu_split);
    let own1 = metrics::cpu_secs(&me);
    let peak = pid.and_then(|p| metrics::status_kib(p, "VmHWM"));
    let rss = pid.and_then(|p| metrics::status_kib(p, "VmRSS"));
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        for t in tasks {
            let _ = t.await;
        }
    })
    .await;

    let d = c1.minus(&c0);
    let out_msgs = d.received();
    let split = cpu0.zip(cpu1).map(|(a, b)| (b.0 - a.0, b.1 - a.1));
    let tracker_cpu = split.map(|(u, s)| u + s);
    let per_msg = |secs: f64| (out_msgs > 0).then(|| secs * 1e6 / out_msgs as f64);
    let report = Report {
        label: args.label.clone(),
        connections: args.connections,
        connected,
        torrents: args.torrents,
        offers_per_announce: args.offers,
        offered_announces_per_sec: args.rate,
        measured_secs: secs,
        announces_per_sec: d.announces_sent as f64 / secs,
        answers_sent_per_sec: d.answers_sent as f64 / secs,
        replies_per_sec: d.replies as f64 / secs,
        offers_relayed_per_sec: d.offers as f64 / secs,
        answers_relayed_per_sec: d.answers as f64 / secs,
        relayed_per_sec: (d.offers + d.answers) as f64 / secs,
        tracker_out_msgs_per_sec: out_msgs as f64 / secs,
        failures: d.failures,
        failure_reasons: {
            let mut v: Vec<(String, u64)> = plan
                .failures
                .lock()
                .map(|f| f.iter().map(|(k, n)| (k.clone(), *n)).collect())
                .unwrap_or_default();
            v.sort_by_key(|e| std::cmp::Reverse(e.1));
            v.truncate(5);
            v
        },
        conn_errors: c1.conn_errors,
        latency_samples: plan.latency.count(),
        latency_p50_ms: plan.latency.quantile_ms(0.50),
        latency_p99_ms: plan.latency.quantile_ms(0.99),
        latency_max_ms: plan.latency.quantile_ms(1.0),
        tracker_cpu_secs: tracker_cpu,
        tracker_cpu_us_per_out_msg: tracker_cpu
            .filter(|_| out_msgs > 0)
            .map(|c| c * 1e6 / out_msgs as f64),
        tracker_cpu_util: tracker_cpu.map(|c| c / secs),
        tracker_user_us_per_out_msg: split.and_then(|(u, _)| per_msg(u)),
        tracker_sys_us_per_out_msg: split.and_then(|(_, s)| per_msg(s)),
        tracker_peak_rss_mib: peak.map(|k| k as f64 / 1024.0),
        tracker_rss_mib: rss.map(|k| k as f64 / 1024.0),
        loadgen_cpu_secs: own0.zip(own1).map(|(a, b)| b - a),
        connect_secs,
    };
    let line = serde_json::to_string(&report).unwrap_or_default();
    println!("{line}");
    if let Some(path) = &args.json {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(mut f) => {
                let _ = writeln!(f, "{line}");
            }
            Err(e) => eprintln!("cannot write {path}: {e}"),
        }
    }
}
