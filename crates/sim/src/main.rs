//! `tabswarm-sim`: swarm scenarios over the real tabswarm engine, in virtual time.
//!
//! ```text
//! tabswarm-sim run --n 100 [--profile homogeneous|heterogeneous] [--seed 1] [--picker rarest|random]
//!                  [--size-mib 64] [--piece-kib 256] [--no-super-seeding] [--progress] [--json]
//! tabswarm-sim sweep [--out bench/results] [--profile homogeneous] [--points 1,2,5,...] [--threads 2]
//! tabswarm-sim freerider [--contributors 20] [--seeds 8 | --seed S]
//! tabswarm-sim seed-leaves [--n 100] [--seed 1]
//! tabswarm-sim report [--out bench/results] [--threads 2]   # everything, writes sim.md/json/svg
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use tabswarm_sim::report::{self, Row, SWEEP_POINTS};
use tabswarm_sim::scenario::{
    self, free_rider, seed_leaves, AfterDone, Outcome, Params, PickModeName, Profile, MIB,
};

/// `println!` that ends the process quietly when stdout is closed (`tabswarm-sim ... | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("usage: tabswarm-sim run|sweep|freerider|seed-leaves|report [--options]");
        return ExitCode::FAILURE;
    };
    let opts = match parse_opts(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cmd.as_str() {
        "run" => cmd_run(&opts),
        "sweep" => cmd_sweep(&opts),
        "freerider" => cmd_freerider(&opts).map(|_| ()),
        "seed-leaves" => cmd_seed_leaves(&opts).map(|_| ()),
        "report" => cmd_report(&opts),
        other => Err(format!("unknown command {other}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Opts = HashMap<String, String>;

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut opts = HashMap::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let key = a
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {a}"))?;
        let value = match it.peek() {
            Some(v) if !v.starts_with("--") => it.next().cloned().unwrap_or_default(),
            _ => "true".to_string(),
        };
        opts.insert(key.to_string(), value);
    }
    Ok(opts)
}

fn num<T: std::str::FromStr>(opts: &Opts, key: &str, default: T) -> Result<T, String> {
    match opts.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("--{key}: not a number: {v}")),
    }
}

fn profile(opts: &Opts) -> Result<Profile, String> {
    match opts.get("profile").map(String::as_str) {
        None | Some("homogeneous") => Ok(Profile::HOMOGENEOUS),
        Some("heterogeneous") => Ok(Profile::HETEROGENEOUS),
        Some(p) => Err(format!("unknown profile {p}")),
    }
}

fn params(opts: &Opts, n: usize) -> Result<Params, String> {
    let mut p = Params::standard(n, profile(opts)?);
    p.seed = num(opts, "seed", p.seed)?;
    p.file_size = num(opts, "size-mib", p.file_size / MIB)? * MIB;
    p.piece_len = num(opts, "piece-kib", p.piece_len / 1024)? * 1024;
    p.super_seeding = !opts.contains_key("no-super-seeding");
    p.progress = opts.contains_key("progress");
    p.pick_mode = match opts.get("picker").map(String::as_str) {
        None | Some("rarest") => PickModeName::RarestFirst,
        Some("random") => PickModeName::Random,
        Some(other) => return Err(format!("unknown picker {other}")),
    };
    Ok(p)
}

fn summary(o: &Outcome) -> String {
    format!(
        "N={:<5} T={:>8} D_cs={:>9.2} D_P2P={:>6.2} T/D_P2P={:>6} done={}/{} wall={:.1}s",
        o.params.n,
        o.t.map_or("-".into(), |t| format!("{t:.2}")),
        o.d_cs,
        o.d_p2p,
        o.ratio.map_or("-".into(), |r| format!("{r:.3}")),
        o.completed,
        o.params.n,
        o.wall_secs
    )
}

fn cmd_run(opts: &Opts) -> Result<(), String> {
    let n = num(opts, "n", 10)?;
    let o = scenario::run(&params(opts, n)?);
    if opts.contains_key("json") {
        out!(
            "{}",
            serde_json::to_string_pretty(&o).map_err(|e| e.to_string())?
        );
    } else {
        out!("{}", summary(&o));
    }
    Ok(())
}

fn points(opts: &Opts) -> Result<Vec<usize>, String> {
    match opts.get("points") {
        None => Ok(SWEEP_POINTS.to_vec()),
        Some(list) => list
            .split(',')
            .map(|v| v.trim().parse().map_err(|_| format!("bad point {v}")))
            .collect(),
    }
}

fn run_sweep(opts: &Opts, profile_opts: &Opts) -> Result<(Vec<Outcome>, f64), String> {
    let pts = points(opts)?;
    let threads = num(opts, "threads", 2)?;
    let base = params(profile_opts, 1)?;
    let (outcomes, wall) = report::timed(|| {
        report::sweep(
            &pts,
            threads,
            |n| Params { n, ..base.clone() },
            |o| eprintln!("{}", summary(o)),
        )
    });
    Ok((outcomes, wall))
}

fn cmd_sweep(opts: &Opts) -> Result<(), String> {
    let out = PathBuf::from(opts.get("out").map_or("bench/results", String::as_str));
    let (outcomes, wall) = run_sweep(opts, opts)?;
    let rows: Vec<Row> = outcomes.iter().map(Row::of).collect();
    out!("{}", report::table(&rows));
    out!("sweep wall time: {wall:.1} s");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let json = serde_json::json!({ "sweep_wall_secs": wall, "rows": rows, "runs": outcomes });
    write(&out.join("sim-sweep.json"), &json.to_string())?;
    report::chart(&out.join("sim-sweep.svg"), "tabswarm-sim sweep", &rows)
}

fn cmd_freerider(opts: &Opts) -> Result<Vec<scenario::FreeRider>, String> {
    let contributors = num(opts, "contributors", 20)?;
    // One run per simulation seed: the ratio depends a lot on who draws whom.
    let seeds: Vec<u64> = match opts.get("seed") {
        Some(_) => vec![num(opts, "seed", 1)?],
        None => (1..=num(opts, "seeds", FREE_RIDER_SEEDS)?).collect(),
    };
    let mut runs = Vec::new();
    for after in [AfterDone::Replaced, AfterDone::Leave, AfterDone::Stay] {
        for &seed in &seeds {
            let r = free_rider(contributors, seed, after);
            print_free_rider(contributors, seed, &r);
            runs.push(r);
        }
    }
    Ok(runs)
}

/// Simulation seeds the free-rider report runs by default (1..=this).
const FREE_RIDER_SEEDS: u64 = 16;

fn print_free_rider(contributors: usize, seed: u64, r: &scenario::FreeRider) {
    out!(
        "free rider among {contributors} contributors ({}), seed {seed}: median \
         contributor {:.2} s, free rider {}, ratio {}",
        after_done_label(r.after),
        r.median_contributor.unwrap_or(f64::NAN),
        r.free_rider
            .map_or("did not finish".into(), |t| format!("{t:.2} s")),
        r.ratio.map_or("-".into(), |v| format!("{v:.2}")),
    );
}

fn after_done_label(after: AfterDone) -> &'static str {
    match after {
        AfterDone::Stay => "contributors stay and seed",
        AfterDone::Leave => "contributors leave when done",
        AfterDone::Replaced => "contributors leave when done and are replaced",
    }
}

fn cmd_seed_leaves(opts: &Opts) -> Result<Vec<Outcome>, String> {
    let n = num(opts, "n", 100)?;
    let seed = num(opts, "seed", 1)?;
    let runs = seed_leaves(n, seed);
    for o in &runs {
        out!(
            "{:?} super_seeding={}: seed left at {} s, {} of {} finished, T = {}",
            o.params.pick_mode,
            o.params.super_seeding,
            o.seed_left_at.map_or("-".into(), |t| format!("{t:.2}")),
            o.completed,
            n,
            o.t.map_or("-".into(), |t| format!("{t:.2} s")),
        );
    }
    Ok(runs)
}

fn cmd_report(opts: &Opts) -> Result<(), String> {
    let out = PathBuf::from(opts.get("out").map_or("bench/results", String::as_str));
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let mut homog = opts.clone();
    homog.insert("profile".into(), "homogeneous".into());
    let (sweep, sweep_wall) = run_sweep(opts, &homog)?;
    let mut het = opts.clone();
    het.insert("profile".into(), "heterogeneous".into());
    het.insert("points".into(), "10,100,1000".into());
    let (hetero, hetero_wall) = run_sweep(&het, &het)?;
    let fr = cmd_freerider(opts)?;
    let sl = cmd_seed_leaves(opts)?;
    let rows: Vec<Row> = sweep.iter().map(Row::of).collect();
    let het_rows: Vec<Row> = hetero.iter().map(Row::of).collect();
    let mut md = String::new();
    md.push_str(&markdown(
        &rows,
        sweep_wall,
        &het_rows,
        hetero_wall,
        &fr,
        &sl,
    ));
    write(&out.join("sim.md"), &md)?;
    let json = serde_json::json!({
        "sweep_wall_secs": sweep_wall,
        "homogeneous": rows,
        "heterogeneous_wall_secs": hetero_wall,
        "heterogeneous": het_rows,
        "free_rider": fr.iter().map(|r| serde_json::json!({
            "after_done": r.after,
            "seed": r.outcome.params.seed,
            "median_contributor": r.median_contributor,
            "free_rider": r.free_rider,
            "ratio": r.ratio,
            "contributor_times": r.outcome.contributor_times,
        })).collect::<Vec<_>>(),
        "seed_leaves": sl.iter().map(|o| serde_json::json!({
            "picker": o.params.pick_mode,
            "super_seeding": o.params.super_seeding,
            "seed_left_at": o.seed_left_at,
            "completed": o.completed,
            "n": o.params.n,
            "t": o.t,
        })).collect::<Vec<_>>(),
    });
    write(
        &out.join("sim.json"),
        &serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?,
    )?;
    report::chart(
        &out.join("sim.svg"),
        "tabswarm-sim: F = 64 MiB, u_s = 4 MiB/s, u_i = 2 MiB/s, d_i = 8 MiB/s",
        &rows,
    )?;
    out!("{md}");
    Ok(())
}

fn markdown(
    rows: &[Row],
    sweep_wall: f64,
    het: &[Row],
    het_wall: f64,
    fr: &[scenario::FreeRider],
    sl: &[Outcome],
) -> String {
    let mut md = String::from("# tabswarm-sim results\n\n");
    md.push_str(
        "Written by `tabswarm-sim report` (release build). One seed and N leechers running the \
         real engine over simulated links: F = 64 MiB, 256 KiB pieces, u_s = 4 MiB/s, one-way \
         latency 20-80 ms per pair, each peer connected to about 40 random others (at most 55); \
         the seed starts in initial-seeding mode; leechers stay and seed after they finish. \
         Simulation seed 1.\n\n",
    );
    md.push_str("## Homogeneous sweep (u_i = 2 MiB/s, d_i = 8 MiB/s)\n\n");
    md.push_str(&report::table(rows));
    md.push_str(&format!(
        "\nSweep wall time: {sweep_wall:.1} s on 2 threads.\n\n"
    ));
    md.push_str("## Heterogeneous (u_i uniform in 1-4 MiB/s, d_i = 4 u_i)\n\n");
    md.push_str(&report::table(het));
    md.push_str(&format!("\nWall time: {het_wall:.1} s.\n\n"));
    md.push_str("## Tit-for-tat: one free rider among contributors\n\n");
    md.push_str(
        "Contributors: u = 2 MiB/s, d = 8 MiB/s; the free rider (same d) never unchokes \
         anyone. Contributor times are join to done (replacements join later). Once the \
         contributors are done, whatever the choker does, the free rider gets its whole \
         download link from the seeds if they stay, or the seed's 4 MiB/s (F in 16 s) if \
         they leave, so there it cannot finish much later than the last contributor; only \
         the replaced setting keeps it among downloading contributors. One run per \
         simulation seed; ratio = free rider's time over the median contributor's.\n\n\
         | setting | seeds | ratio min | median | max | ratio per seed |\n\
         |---|---:|---:|---:|---:|---|\n",
    );
    for after in [AfterDone::Replaced, AfterDone::Leave, AfterDone::Stay] {
        let runs: Vec<&scenario::FreeRider> = fr.iter().filter(|r| r.after == after).collect();
        let Some(first) = runs.first() else {
            continue;
        };
        // A free rider that never finished counts as infinitely late.
        let mut ratios: Vec<f64> = runs
            .iter()
            .map(|r| r.ratio.unwrap_or(f64::INFINITY))
            .collect();
        let per_seed: Vec<String> = ratios.iter().map(|v| format!("{v:.2}")).collect();
        ratios.sort_by(f64::total_cmp);
        md.push_str(&format!(
            "| {} contributors; {} | {} | {:.2} | {:.2} | {:.2} | {} |\n",
            first.outcome.params.n - 1,
            after_done_label(after),
            ratios.len(),
            ratios[0],
            median(&ratios),
            ratios[ratios.len() - 1],
            per_seed.join(" "),
        ));
    }
    md.push('\n');
    md.push_str("## Rarest-first: the seed leaves once the leechers jointly hold every piece\n\n");
    md.push_str("| picker | initial seeding | seed left at (s) | finished | T (s) |\n|---|---|---:|---:|---:|\n");
    for o in sl {
        md.push_str(&format!(
            "| {:?} | {} | {} | {}/{} | {} |\n",
            o.params.pick_mode,
            if o.params.super_seeding { "on" } else { "off" },
            o.seed_left_at.map_or("-".into(), |t| format!("{t:.2}")),
            o.completed,
            o.params.n,
            o.t.map_or("-".into(), |t| format!("{t:.2}")),
        ));
    }
    md
}

/// The median of sorted, non-empty values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
