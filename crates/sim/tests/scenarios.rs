//! Simulator scenarios at small sizes (the full-size figures come from the release binary,
//! `tabswarm-sim report`). Each run is deterministic; a failing assertion prints its seed.

use tabswarm_sim::scenario::{
    bounds, free_rider, run, AfterDone, Outcome, Params, PickModeName, Profile, SeedLeaves, MIB,
};

/// A small version of the standard setting: 4 MiB in 64 KiB pieces, same capacities and
/// latencies, rates scaled down 8x so that the transfer still takes about as many seconds.
fn small(n: usize, seed: u64) -> Params {
    let mut p = Params::standard(n, Profile::HOMOGENEOUS);
    p.file_size = 4 * MIB;
    p.piece_len = 64 * 1024;
    p.seed_up = MIB / 2;
    p.profile = Profile::Homogeneous {
        up: MIB / 4,
        down: MIB,
    };
    p.connect_to = 8;
    p.max_conns = 12;
    p.seed = seed;
    p.time_limit_secs = 600;
    p
}

fn describe(o: &Outcome) -> String {
    format!(
        "seed {} n {}: T {:?} D_P2P {:.2} ratio {:?} done {}",
        o.params.seed, o.params.n, o.t, o.d_p2p, o.ratio, o.completed
    )
}

#[test]
fn one_leecher_is_limited_by_the_seed_upload() {
    let o = run(&small(1, 1));
    let t = o.t.expect("finished");
    // F / u_s = 8 s; latency and the first request round trips add well under a second.
    assert!((8.0..8.8).contains(&t), "{}", describe(&o));
    assert_eq!(o.d_p2p, 8.0);
    assert_eq!(o.uploaded[0], 4 * MIB, "the seed sent each byte once");
}

#[test]
fn small_swarm_finishes_near_the_p2p_bound() {
    for seed in [1, 2] {
        let o = run(&small(20, seed));
        assert_eq!(o.completed, 20, "{}", describe(&o));
        let ratio = o.ratio.expect("ratio");
        // Small files spend proportionally longer starting up; the full-size runs are tighter.
        assert!(ratio < 1.5, "{}", describe(&o));
        let leecher_upload: u64 = o.uploaded[1..].iter().sum();
        assert!(
            leecher_upload > 10 * 4 * MIB,
            "leechers must carry most of the load: {leecher_upload}"
        );
    }
}

#[test]
fn same_seed_same_decisions() {
    let trace = |seed| {
        let mut p = small(12, seed);
        p.trace = true;
        let o = run(&p);
        assert_eq!(o.completed, 12, "{}", describe(&o));
        (o.trace_hash, o.trace_len, o.finish)
    };
    let a = trace(7);
    assert!(a.1 > 1000, "trace too short: {}", a.1);
    assert_eq!(a, trace(7), "same seed, different run");
    assert_ne!(a.0, trace(8).0, "different seeds should decide differently");
}

#[test]
fn everyone_completes_after_the_seed_leaves() {
    // Seeds 1-4; the seed leaves once the leechers jointly hold every piece.
    let mut left = [0.0f64; 2];
    for seed in 1..=4 {
        for (i, pick_mode) in [PickModeName::RarestFirst, PickModeName::Random]
            .into_iter()
            .enumerate()
        {
            let mut p = small(16, seed);
            p.super_seeding = false;
            p.pick_mode = pick_mode;
            p.seed_leaves = SeedLeaves::WhenCovered;
            let o = run(&p);
            let at = o.seed_left_at.expect("the leechers covered the torrent");
            if pick_mode == PickModeName::RarestFirst {
                assert_eq!(o.completed, 16, "{}", describe(&o));
            }
            left[i] += at;
        }
    }
    // Rarest-first spreads distinct pieces sooner, so the leechers cover the torrent first
    // (57.8 s against 61.2 s summed over the four seeds, measured; single seeds can go the
    // other way).
    assert!(left[0] < left[1], "seed left at {left:?}");
}

/// One free rider among 20 contributors that leave when done and are replaced by new ones,
/// so that it always shares the swarm with downloading peers.
fn free_rider_run(seed: u64) -> Outcome {
    let mut p = small(21, seed);
    p.free_riders = 1;
    p.leave_when_done = true;
    p.replace_when_done = true;
    run(&p)
}

#[test]
fn free_rider_still_finishes_and_uploads_nothing() {
    for seed in [1, 4] {
        let o = free_rider_run(seed);
        let median = o.median_contributor().expect("contributors finished");
        let fr = o.finish[20].expect("the free rider still finishes");
        eprintln!("seed {seed}: free rider {fr:.2} s, median contributor {median:.2} s");
        assert_eq!(o.uploaded[21], 0, "seed {seed}: the free rider uploaded");
        assert!(
            fr > median,
            "seed {seed}: the free rider was not slowed down"
        );
    }
}

/// The tit-for-tat target at full size: a free rider finishes at least twice as late as the
/// median contributor (F = 64 MiB, 20 contributors that leave when done and are replaced).
/// Single runs vary a lot (seeds 1-16: 1.75-3.93x, median 2.36, bench/results/sim.md), so it
/// is checked on the median of four seeds.
#[test]
fn free_rider_takes_twice_as_long_in_the_median_run() {
    let mut ratios: Vec<f64> = (1..=4)
        .map(|seed| {
            let r = free_rider(20, seed, AfterDone::Replaced);
            let fr = r.free_rider.expect("the free rider still finishes");
            // Index 0 is the seed, 1-20 the contributors, 21 the free rider.
            assert_eq!(
                r.outcome.uploaded[21], 0,
                "seed {seed}: the free rider uploaded"
            );
            let ratio = r.ratio.expect("contributors finished");
            eprintln!("seed {seed}: free rider {fr:.2} s, ratio {ratio:.2}");
            assert!(ratio > 1.5, "seed {seed}: ratio {ratio:.2}");
            ratio
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = (ratios[1] + ratios[2]) / 2.0;
    assert!(median >= 2.0, "median ratio {median:.2} of {ratios:.2?}");
}

#[test]
fn bounds_follow_the_classic_formulas() {
    let p = Params::standard(10, Profile::HOMOGENEOUS);
    let up = vec![2 * MIB; 10];
    let down = vec![8 * MIB; 10];
    let (d_cs, d_p2p) = bounds(&p, &up, &down);
    // D_cs = max(10 * 64 / 4, 64 / 8) = 160 s; D_P2P = max(16, 8, 640 / 24) = 26.67 s.
    assert!((d_cs - 160.0).abs() < 1e-9);
    assert!((d_p2p - 640.0 / 24.0).abs() < 1e-9);
    let (_, one) = bounds(
        &Params::standard(1, Profile::HOMOGENEOUS),
        &up[..1],
        &down[..1],
    );
    assert!(
        (one - 16.0).abs() < 1e-9,
        "F / u_s dominates for one leecher"
    );
}
