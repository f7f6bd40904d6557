//! The sweep over N and the files it writes: a markdown table, the raw outcomes as JSON, and an
//! SVG chart of T, D_cs and D_P2P against N.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use plotters::prelude::*;
use serde::Serialize;

use crate::scenario::{run, Outcome, Params};

/// The N values of the standard sweep (about ten points from 1 to 1000).
pub const SWEEP_POINTS: [usize; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/// One line of the sweep table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub n: usize,
    pub t: Option<f64>,
    pub d_cs: f64,
    pub d_p2p: f64,
    pub ratio: Option<f64>,
    pub median_finish: Option<f64>,
    pub first_finish: Option<f64>,
    pub completed: usize,
    pub wall_secs: f64,
}

impl Row {
    pub fn of(o: &Outcome) -> Row {
        let mut done: Vec<f64> = o.finish.iter().flatten().copied().collect();
        done.sort_by(f64::total_cmp);
        Row {
            n: o.params.n,
            t: o.t,
            d_cs: o.d_cs,
            d_p2p: o.d_p2p,
            ratio: o.ratio,
            median_finish: done.get(done.len() / 2).copied(),
            first_finish: done.first().copied(),
            completed: o.completed,
            wall_secs: o.wall_secs,
        }
    }
}

/// Runs `params_for(n)` for every `n` on `threads` threads (largest first, so the long runs
/// overlap); results come back in the order of `points`. Every run is deterministic, so the
/// thread count changes only the wall time.
/// One line of the chart: its legend, its colour and its points (N, seconds).
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

pub fn sweep(
    points: &[usize],
    threads: usize,
    params_for: impl Fn(usize) -> Params + Sync,
    progress: impl Fn(&Outcome) + Sync,
) -> Vec<Outcome> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(points[i]));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; points.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else {
                    return;
                };
                let o = run(&params_for(points[i]));
                progress(&o);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(o);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// A markdown table of a sweep.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| N | T (s) | D_cs (s) | D_P2P (s) | T / D_P2P | first done (s) | median done (s) | wall (s) |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.2} | {} | {} | {} | {:.1} |",
            r.n,
            opt(r.t),
            r.d_cs,
            r.d_p2p,
            r.ratio.map_or("-".to_string(), |v| format!("{v:.3}")),
            opt(r.first_finish),
            opt(r.median_finish),
            r.wall_secs
        );
    }
    s
}

/// Draws T, D_cs and D_P2P against N (both axes logarithmic) into an SVG file.
pub fn chart(path: &Path, title: &str, rows: &[Row]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let n_max = rows.iter().map(|r| r.n).max().unwrap_or(1).max(2) as f64;
    let y_max = rows
        .iter()
        .flat_map(|r| [r.d_cs, r.d_p2p, r.t.unwrap_or(0.0)])
        .fold(1.0, f64::max)
        * 1.5;
    let y_min = rows
        .iter()
        .flat_map(|r| [r.d_cs, r.d_p2p])
        .fold(f64::MAX, f64::min)
        .min(y_max)
        / 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((1f64..n_max).log_scale(), (y_min..y_max).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("N (leechers)")
        .y_desc("time (s)")
        .draw()
        .map_err(|e| err(&e))?;
    let series: [Series; 3] = [
        (
            "T (simulated)",
            RED,
            rows.iter()
                .filter_map(|r| r.t.map(|t| (r.n as f64, t)))
                .collect(),
        ),
        (
            "D_cs = max(NF/u_s, F/d_min)",
            BLUE,
            rows.iter().map(|r| (r.n as f64, r.d_cs)).collect(),
        ),
        (
            "D_P2P = max(F/u_s, F/d_min, NF/(u_s+Σu_i))",
            GREEN,
            rows.iter().map(|r| (r.n as f64, r.d_p2p)).collect(),
        ),
    ];
    for (label, color, points) in series {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Wall time of a closure, in seconds.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let v = f();
    (v, start.elapsed().as_secs_f64())
}
