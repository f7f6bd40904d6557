//! Swarm scenarios: who has which capacities, who connects to whom, who leaves when, and the
//! figures a run reports.
//!
//! A run builds a torrent of random content, one seed (peer 0) and `n` leechers (peers
//! `1..=n`), all joining at time zero as through a tracker: in a random order, each peer
//! connects to up to `connect_to` random peers that joined before it, skipping peers that
//! already hold `max_conns` connections (WebTorrent's default is 55). One-way latency per pair
//! is uniform in `latency_ms`. Peers stay and seed after they finish unless
//! `leave_when_done` is set; with `replace_when_done` as well, a fresh contributor joins for
//! each one that leaves, so the swarm keeps `n` downloading peers (a steady state).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tabswarm_core::bencode::{self, Value};
use tabswarm_core::engine::{Config, Engine, Torrent};
use tabswarm_core::ids::PeerId;
use tabswarm_core::metainfo::Metainfo;
use tabswarm_core::picker::PickMode;
use tabswarm_core::rng::Rng;
use tabswarm_core::time::Time;

use crate::net::{Notice, Sim, SimStore};

pub const MIB: u64 = 1 << 20;

/// Capacities of the leechers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Profile {
    /// Every leecher uploads `up` and downloads `down` bytes/s.
    Homogeneous { up: u64, down: u64 },
    /// `up` uniform in `up_min..=up_max`, `down = down_factor * up`.
    Heterogeneous {
        up_min: u64,
        up_max: u64,
        down_factor: u64,
    },
}

impl Profile {
    /// u_i = 2 MiB/s, d_i = 8 MiB/s.
    pub const HOMOGENEOUS: Profile = Profile::Homogeneous {
        up: 2 * MIB,
        down: 8 * MIB,
    };
    /// u_i uniform in 1-4 MiB/s, d_i = 4 u_i.
    pub const HETEROGENEOUS: Profile = Profile::Heterogeneous {
        up_min: MIB,
        up_max: 4 * MIB,
        down_factor: 4,
    };
}

/// When the seed leaves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum SeedLeaves {
    Never,
    /// The moment the leechers jointly hold every piece.
    WhenCovered,
    /// Once it has uploaded this many bytes.
    AfterUpload(u64),
}

/// Everything a run depends on.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub n: usize,
    pub file_size: u64,
    pub piece_len: u32,
    pub seed_up: u64,
    pub profile: Profile,
    pub latency_ms: (u64, u64),
    pub connect_to: usize,
    pub max_conns: usize,
    pub seed: u64,
    pub pick_mode: PickModeName,
    pub seed_leaves: SeedLeaves,
    /// The last `free_riders` leechers upload nothing.
    pub free_riders: usize,
    pub leave_when_done: bool,
    /// With `leave_when_done`: a new contributor (same capacity draw) joins for each one that
    /// leaves. The run still ends when the first `n` leechers are done.
    pub replace_when_done: bool,
    pub time_limit_secs: u64,
    pub trace: bool,
    pub max_send_buffer: u64,
    /// The seed starts in initial-seeding mode (BEP 16).
    pub super_seeding: bool,
    /// Print a timeline to stderr every two simulated seconds.
    #[serde(skip)]
    pub progress: bool,
}

/// [`PickMode`] for serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PickModeName {
    RarestFirst,
    Random,
}

impl Params {
    /// The acceptance setting: F = 64 MiB, 256 KiB pieces, u_s = 4 MiB/s, 20-80 ms.
    pub fn standard(n: usize, profile: Profile) -> Params {
        Params {
            n,
            file_size: 64 * MIB,
            piece_len: 256 * 1024,
            seed_up: 4 * MIB,
            profile,
            latency_ms: (20, 80),
            connect_to: 40,
            max_conns: 55,
            seed: 1,
            pick_mode: PickModeName::RarestFirst,
            seed_leaves: SeedLeaves::Never,
            free_riders: 0,
            leave_when_done: false,
            replace_when_done: false,
            time_limit_secs: 3600,
            trace: false,
            max_send_buffer: 32 * 1024,
            super_seeding: true,
            progress: false,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub params: Params,
    /// Distribution time: the last leecher done (seconds), if all finished in time.
    pub t: Option<f64>,
    /// Each leecher's finish time in seconds (`None`: did not finish).
    pub finish: Vec<Option<f64>>,
    /// Download time (join to done, seconds) of every contributor that finished, replacements
    /// included, in finishing order.
    pub contributor_times: Vec<f64>,
    pub completed: usize,
    pub d_cs: f64,
    pub d_p2p: f64,
    pub ratio: Option<f64>,
    /// Leecher upload capacities, bytes/s.
    pub up: Vec<u64>,
    /// Block bytes each peer uploaded (index 0 is the seed).
    pub uploaded: Vec<u64>,
    pub seed_left_at: Option<f64>,
    /// Simulated time at the end of the run.
    pub end: f64,
    pub wall_secs: f64,
    pub events: u64,
    pub trace_hash: u64,
    pub trace_len: u64,
}

impl Outcome {
    /// Median download time of the contributors (leechers that are not free riders) that
    /// finished.
    pub fn median_contributor(&self) -> Option<f64> {
        let mut t = self.contributor_times.clone();
        t.sort_by(f64::total_cmp);
        t.get(t.len() / 2).copied()
    }
}

/// Random content and its torrent (256 KiB pieces for the standard setting).
pub fn make_torrent(size: u64, piece_len: u32, seed: u64) -> (Metainfo, Arc<Vec<u8>>) {
    let mut data = vec![0u8; usize::try_from(size).unwrap_or(0)];
    Rng::new(seed ^ 0xc0ff_ee00).fill(&mut data);
    let pieces: Vec<u8> = data
        .chunks(piece_len as usize)
        .flat_map(tabswarm_core::sha1)
        .collect();
    let info = Value::dict([
        ("name", Value::str("sim.bin")),
        ("piece length", Value::Int(i64::from(piece_len))),
        ("pieces", Value::Bytes(pieces)),
        (
            "length",
            Value::Int(i64::try_from(size).unwrap_or(i64::MAX)),
        ),
    ]);
    let m = Metainfo::from_info_bytes(bencode::encode(&info)).unwrap_or_else(|e| {
        panic!("the simulator's own torrent must parse: {e}");
    });
    (m, Arc::new(data))
}

/// Runs one scenario to completion (or the time limit).
pub fn run(params: &Params) -> Outcome {
    let wall = Instant::now();
    let (meta, content) = make_torrent(params.file_size, params.piece_len, params.seed);
    let mut rng = Rng::new(params.seed);
    let mut sim = Sim::new(params.max_send_buffer / 2);
    let n = params.n;
    // Capacities.
    let capacity = |rng: &mut Rng| match params.profile {
        Profile::Homogeneous { up, down } => (up, down),
        Profile::Heterogeneous {
            up_min,
            up_max,
            down_factor,
        } => {
            let u = up_min + rng.below(up_max - up_min + 1);
            (u, u * down_factor)
        }
    };
    let (up, down): (Vec<u64>, Vec<u64>) = (0..n).map(|_| capacity(&mut rng)).unzip();
    let free_from = n - params.free_riders.min(n);
    let mode = match params.pick_mode {
        PickModeName::RarestFirst => PickMode::RarestFirst,
        PickModeName::Random => PickMode::Random,
    };
    let engine_config = |i: usize, rng: &mut Rng| {
        let mut id = *b"-TS0100-000000000000";
        id[8..20].copy_from_slice(format!("{i:012}").as_bytes());
        let mut c = Config::new(PeerId(id), rng.next_u64());
        c.pick_mode = mode;
        c.trace = params.trace;
        c.max_send_buffer = params.max_send_buffer;
        c
    };
    let mut seed_config = engine_config(0, &mut rng);
    seed_config.super_seeding = params.super_seeding;
    let seed_engine = Engine::new(
        seed_config,
        Torrent::Seed(meta.clone()),
        SimStore::new(content.clone(), true),
    )
    .unwrap_or_else(|e| panic!("seed engine: {e}"));
    sim.add_peer(seed_engine, params.seed_up, 8 * MIB);
    let leecher = |c: Config| {
        Engine::new(
            c,
            Torrent::Download(meta.clone()),
            SimStore::new(content.clone(), false),
        )
        .unwrap_or_else(|e| panic!("leecher engine: {e}"))
    };
    for i in 0..n {
        let mut c = engine_config(i + 1, &mut rng);
        if i >= free_from {
            c.upload_limit = Some(0);
        }
        sim.add_peer(leecher(c), up[i], down[i]);
    }
    // Sim indices of the free riders; every other leecher (replacements too) contributes.
    let free_riders = free_from + 1..=n;
    let contributes = |peer: usize| peer != 0 && !free_riders.contains(&peer);
    let mut joined_at = vec![0.0; n + 1];
    let mut contributor_times = Vec::new();
    // Topology: a random graph. In a random order, each peer connects to peers drawn
    // uniformly from the whole swarm (as a tracker hands out random peers) until it has
    // `connect_to` connections, skipping peers that already hold `max_conns`.
    let mut order: Vec<usize> = (0..=n).collect();
    rng.shuffle(&mut order);
    for &i in &order {
        connect_random(&mut sim, i, params, &mut rng);
    }
    // Run.
    let pieces = meta.info.lengths().num_pieces() as usize;
    let mut holders = vec![0u32; pieces];
    let mut covered = 0usize;
    let mut done = 0usize;
    let mut seed_left_at = None;
    let until = Time::from_millis(params.time_limit_secs * 1000);
    let leave_when_done = params.leave_when_done;
    let seed_leaves = params.seed_leaves;
    let mut next_progress = 0.0;
    sim.run(until, |sim| {
        if params.progress && sim.now.as_secs_f64() >= next_progress {
            next_progress += 2.0;
            print_progress(sim, done, covered);
        }
        for notice in std::mem::take(&mut sim.notices) {
            match notice {
                // Coverage counts pieces at leechers that share them (not free riders).
                Notice::Verified { peer, piece } if contributes(peer) => {
                    let h = &mut holders[piece as usize];
                    *h += 1;
                    if *h == 1 {
                        covered += 1;
                    }
                }
                Notice::Verified { .. } => {}
                Notice::Done { peer } => {
                    if peer <= n {
                        done += 1;
                    }
                    if contributes(peer) {
                        contributor_times.push(sim.now.as_secs_f64() - joined_at[peer]);
                    }
                    if leave_when_done && peer != 0 {
                        // Its neighbors look for new peers, as they would at the tracker.
                        let neighbors = sim.neighbors(peer);
                        sim.leave(peer);
                        for nb in neighbors {
                            connect_random(sim, nb, params, &mut rng);
                        }
                        if params.replace_when_done && contributes(peer) {
                            let (u, d) = capacity(&mut rng);
                            let c = engine_config(sim.peers.len(), &mut rng);
                            let fresh = sim.add_peer(leecher(c), u, d);
                            joined_at.push(sim.now.as_secs_f64());
                            connect_random(sim, fresh, params, &mut rng);
                        }
                    }
                }
            }
        }
        if seed_left_at.is_none() && sim.peers[0].alive {
            let leave = match seed_leaves {
                SeedLeaves::Never => false,
                SeedLeaves::WhenCovered => covered == pieces,
                SeedLeaves::AfterUpload(bytes) => sim.peers[0].engine.stats().uploaded >= bytes,
            };
            if leave {
                seed_left_at = Some(sim.now.as_secs_f64());
                sim.leave(0);
            }
        }
        done == n
    });
    let finish: Vec<Option<f64>> = sim.peers[1..=n]
        .iter()
        .map(|p| p.done_at.map(Time::as_secs_f64))
        .collect();
    let completed = finish.iter().flatten().count();
    let t = (completed == n).then(|| finish.iter().flatten().copied().fold(0.0, f64::max));
    let (d_cs, d_p2p) = bounds(params, &up[..free_from], &down);
    Outcome {
        params: params.clone(),
        t,
        ratio: t.map(|t| t / d_p2p),
        finish,
        contributor_times,
        completed,
        d_cs,
        d_p2p,
        up,
        uploaded: sim
            .peers
            .iter()
            .map(|p| p.engine.stats().uploaded)
            .collect(),
        seed_left_at,
        end: sim.now.as_secs_f64(),
        wall_secs: wall.elapsed().as_secs_f64(),
        events: sim.events_processed,
        trace_hash: sim.trace_hash,
        trace_len: sim.trace_len,
    }
}

fn print_progress(sim: &Sim, done: usize, covered: usize) {
    let mib = |b: u64| b as f64 / MIB as f64;
    let (mut up, mut wasted) = (0, 0);
    for p in &sim.peers {
        let c = p.engine.stats();
        up += c.uploaded;
        wasted += c.wasted;
    }
    let busy = sim.peers.iter().filter(|p| sim.uplink_busy(p)).count();
    eprintln!(
        "t={:6.1}s done={done:5} pieces in swarm={covered:5} seed up={:8.1} MiB \
         all up={:10.1} MiB wasted={:8.1} MiB busy uplinks={busy}",
        sim.now.as_secs_f64(),
        mib(sim.peers[0].engine.stats().uploaded),
        mib(up),
        mib(wasted),
    );
}

/// Connects `i` to peers drawn uniformly from the live swarm until it has `connect_to`
/// connections, skipping peers that already hold `max_conns` (bounded attempts).
fn connect_random(sim: &mut Sim, i: usize, params: &Params, rng: &mut Rng) {
    let total = sim.peers.len();
    let (lat_lo, lat_hi) = params.latency_ms;
    let mut attempts = 0;
    while sim.degree(i) < params.connect_to.min(total - 1) && attempts < 20 * params.connect_to {
        attempts += 1;
        let c = rng.index(total);
        if c == i
            || !sim.peers[c].alive
            || sim.is_connected(i, c)
            || sim.degree(c) >= params.max_conns
        {
            continue;
        }
        let lat_us = (lat_lo + rng.below(lat_hi - lat_lo + 1)) * 1000 + rng.below(1000);
        sim.connect(i, c, Duration::from_micros(lat_us));
    }
}

/// The classic lower bounds: `D_cs = max(N F / u_s, F / d_min)` and
/// `D_P2P = max(F / u_s, F / d_min, N F / (u_s + Σ u_i))`, in seconds. Free riders count in N
/// and d_min but contribute no upload (`contributor_up` lists only the others).
pub fn bounds(params: &Params, contributor_up: &[u64], down: &[u64]) -> (f64, f64) {
    let f = params.file_size as f64;
    let n = params.n as f64;
    let us = params.seed_up as f64;
    let d_min = down.iter().copied().min().unwrap_or(u64::MAX) as f64;
    let sum_u: f64 = contributor_up.iter().map(|&u| u as f64).sum();
    let d_cs = (n * f / us).max(f / d_min);
    let d_p2p = (f / us).max(f / d_min).max(n * f / (us + sum_u));
    (d_cs, d_p2p)
}

/// The tit-for-tat scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct FreeRider {
    pub after: AfterDone,
    pub outcome: Outcome,
    pub median_contributor: Option<f64>,
    pub free_rider: Option<f64>,
    /// Free rider's finish time over the median contributor's.
    pub ratio: Option<f64>,
}

/// What the contributors do once they finish, in the free-rider scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AfterDone {
    /// They stay and seed: the free rider is then served by every seed.
    Stay,
    /// They leave: at the end the free rider is left with the seed alone.
    Leave,
    /// They leave and a new contributor joins for each: the free rider always shares the
    /// swarm with `contributors` downloading peers.
    Replaced,
}

/// `contributors` leechers (homogeneous capacities) and one free rider that never unchokes
/// anyone (its upload limit is zero), with the standard seed; `after` says what contributors
/// do once done. With `Stay` or `Leave` the free rider cannot finish much later than the last
/// contributor whatever the choker does: afterwards the seeds (`Stay`: its whole download
/// link) or the seed (`Leave`: F / u_s = 16 s) serve it alone. `Replaced` measures what
/// tit-for-tat leaves it in a swarm that keeps trading.
pub fn free_rider(contributors: usize, seed: u64, after: AfterDone) -> FreeRider {
    let mut p = Params::standard(contributors + 1, Profile::HOMOGENEOUS);
    p.seed = seed;
    p.free_riders = 1;
    p.leave_when_done = after != AfterDone::Stay;
    p.replace_when_done = after == AfterDone::Replaced;
    p.time_limit_secs = 600;
    let outcome = run(&p);
    let median_contributor = outcome.median_contributor();
    let free_rider = outcome.finish.last().copied().flatten();
    FreeRider {
        after,
        ratio: free_rider.zip(median_contributor).map(|(f, m)| f / m),
        median_contributor,
        free_rider,
        outcome,
    }
}

/// The seed leaves the moment the leechers jointly hold every piece; once with rarest-first
/// and once with the random picker, each with and without initial seeding (which by itself
/// makes the seed upload every piece once before any twice, whatever the picker).
pub fn seed_leaves(n: usize, seed: u64) -> Vec<Outcome> {
    let mut runs = Vec::new();
    for super_seeding in [false, true] {
        for pick_mode in [PickModeName::RarestFirst, PickModeName::Random] {
            let mut p = Params::standard(n, Profile::HOMOGENEOUS);
            p.seed = seed;
            p.pick_mode = pick_mode;
            p.super_seeding = super_seeding;
            p.seed_leaves = SeedLeaves::WhenCovered;
            p.time_limit_secs = 600;
            runs.push(run(&p));
        }
    }
    runs
}
