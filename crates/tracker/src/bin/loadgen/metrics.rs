//! Counters, a latency histogram shared by all connections, and /proc readers.

use std::sync::atomic::{AtomicU64, Ordering};

/// Event counts, bumped by every connection task.
#[derive(Default)]
pub(crate) struct Counters {
    pub announces_sent: AtomicU64,
    pub answers_sent: AtomicU64,
    pub replies: AtomicU64,
    pub offers: AtomicU64,
    pub answers: AtomicU64,
    pub failures: AtomicU64,
    pub other: AtomicU64,
    pub conn_errors: AtomicU64,
    /// Largest reply latency (µs) since the last `--trace` line.
    pub max_latency_us: AtomicU64,
}

/// A plain copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Snapshot {
    pub announces_sent: u64,
    pub answers_sent: u64,
    pub replies: u64,
    pub offers: u64,
    pub answers: u64,
    pub failures: u64,
    pub other: u64,
    pub conn_errors: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Snapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            announces_sent: l(&self.announces_sent),
            answers_sent: l(&self.answers_sent),
            replies: l(&self.replies),
            offers: l(&self.offers),
            answers: l(&self.answers),
            failures: l(&self.failures),
            other: l(&self.other),
            conn_errors: l(&self.conn_errors),
        }
    }
}

impl Snapshot {
    /// Messages the tracker sent (everything the clients received).
    pub(crate) fn received(&self) -> u64 {
        self.replies + self.offers + self.answers + self.failures + self.other
    }

    pub(crate) fn minus(&self, b: &Snapshot) -> Snapshot {
        Snapshot {
            announces_sent: self.announces_sent - b.announces_sent,
            answers_sent: self.answers_sent - b.answers_sent,
            replies: self.replies - b.replies,
            offers: self.offers - b.offers,
            answers: self.answers - b.answers,
            failures: self.failures - b.failures,
            other: self.other - b.other,
            conn_errors: self.conn_errors - b.conn_errors,
        }
    }
}

/// Latency histogram in microseconds: 10 µs buckets below 10 ms, 1 ms buckets up to 60 s.
pub(crate) struct Histogram {
    buckets: Vec<AtomicU64>,
}

const FINE: u64 = 1000; // buckets of 10 µs up to 10 ms
const COARSE: u64 = 60_000 - 10; // buckets of 1 ms from 10 ms to 60 s

impl Histogram {
    pub(crate) fn new() -> Histogram {
        Histogram {
            buckets: (0..FINE + COARSE + 1).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn index(us: u64) -> usize {
        let i = if us < 10_000 {
            us / 10
        } else {
            (FINE + (us - 10_000) / 1000).min(FINE + COARSE)
        };
        // Bounded by FINE + COARSE, far below u32::MAX.
        usize::try_from(i).unwrap_or(usize::MAX)
    }

    /// Upper bound of bucket `i`, microseconds.
    fn upper(i: u64) -> u64 {
        if i < FINE {
            (i + 1) * 10
        } else {
            10_000 + (i - FINE + 1) * 1000
        }
    }

    pub(crate) fn record(&self, us: u64) {
        if let Some(b) = self.buckets.get(Self::index(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) in milliseconds, by bucket upper bound; 0 when empty.
    pub(crate) fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let rank = ((total as f64) * q).ceil().max(1.0);
        let mut seen = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen as f64 >= rank {
                return Self::upper(i as u64) as f64 / 1000.0;
            }
        }
        Self::upper(FINE + COARSE) as f64 / 1000.0
    }
}

/// CPU time (user + system) of a process in seconds, from `/proc/PID/stat`.
pub(crate) fn cpu_secs(pid: &str) -> Option<f64> {
    cpu_split(pid).map(|(u, s)| u + s)
}

/// (user, system) CPU time of a process in seconds, from `/proc/PID/stat`.
pub(crate) fn cpu_split(pid: &str) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture we run on.
    Some((utime / 100.0, stime / 100.0))
}

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
pub(crate) fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The soft limit on open files, from `/proc/self/limits`.
pub(crate) fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles() {
        let h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(us * 10); // 10 µs .. 10 ms
        }
        h.record(5_000_000);
        assert_eq!(h.count(), 1001);
        let p50 = h.quantile_ms(0.5);
        assert!((4.9..=5.1).contains(&p50), "{p50}");
        assert!(h.quantile_ms(0.99) <= 10.1);
        assert!((4999.0..=5001.0).contains(&h.quantile_ms(1.0)));
    }

    #[test]
    fn reads_own_proc_entries() {
        let me = std::process::id().to_string();
        assert!(cpu_secs(&me).is_some());
        assert!(status_kib(&me, "VmHWM").unwrap() > 0);
        assert!(open_files_limit().unwrap() > 0);
    }
}
