//! Rates: a [`TokenBucket`] to cap them and a [`RateEstimator`] to measure them.
//!
//! Both are pure: every method takes the current [`Time`], and neither ever reads a clock. All
//! arithmetic is integer (micro-bytes), so the same inputs give the same answers on every
//! platform, which the simulator's bit-for-bit replay relies on.

use std::time::Duration;

use crate::time::Time;

const MICROS_PER_SEC: u128 = 1_000_000;

/// A token bucket: `rate` bytes per second flow in, at most `burst` bytes are kept.
///
/// [`try_take`](TokenBucket::try_take) spends tokens if enough are there; when they are not,
/// [`available_at`](TokenBucket::available_at) says when they will be, so the engine can set
/// its `Output::Timeout` to exactly that moment instead of polling. A request larger than
/// `burst` is allowed once the bucket is full and leaves it in debt, so no size can starve.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    /// Tokens in micro-bytes (bytes × 10⁶); negative after an oversized take.
    level: i128,
    last: Time,
}

impl TokenBucket {
    /// A full bucket. A `rate` of zero is treated as one byte per second (a cap of zero would
    /// never let anything through; callers that want "nothing" should not send at all).
    pub fn new(rate: u64, burst: u64, now: Time) -> TokenBucket {
        let burst = burst.max(1);
        TokenBucket {
            rate: rate.max(1),
            burst,
            level: i128::from(burst) * MICROS_PER_SEC as i128,
            last: now,
        }
    }

    /// A bucket whose burst is `max(rate / 4, 64 KiB)`: a quarter second of traffic, and never
    /// less than four 16 KiB blocks.
    pub fn with_rate(rate: u64, now: Time) -> TokenBucket {
        TokenBucket::new(rate, (rate / 4).max(64 * 1024), now)
    }

    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Changes the rate and burst, keeping the tokens already there (clamped to the new burst).
    pub fn set_rate(&mut self, rate: u64, burst: u64, now: Time) {
        self.refill(now);
        self.rate = rate.max(1);
        self.burst = burst.max(1);
        self.level = self.level.min(self.cap());
    }

    /// Whole bytes available now (zero while in debt).
    pub fn available(&mut self, now: Time) -> u64 {
        self.refill(now);
        u64::try_from(self.level / MICROS_PER_SEC as i128).unwrap_or(0)
    }

    /// Spends `n` bytes if the bucket holds `min(n, burst)`; returns whether it did.
    pub fn try_take(&mut self, now: Time, n: u64) -> bool {
        self.refill(now);
        if self.level >= self.need(n) {
            self.level -= i128::from(n) * MICROS_PER_SEC as i128;
            true
        } else {
            false
        }
    }

    /// Spends `n` bytes unconditionally (bytes that arrived whether we wanted them or not).
    pub fn take(&mut self, now: Time, n: u64) {
        self.refill(now);
        self.level -= i128::from(n) * MICROS_PER_SEC as i128;
    }

    /// The earliest time at which [`try_take`](TokenBucket::try_take) of `n` bytes succeeds:
    /// `now` if it would succeed now.
    pub fn available_at(&mut self, now: Time, n: u64) -> Time {
        self.refill(now);
        let missing = self.need(n) - self.level;
        if missing <= 0 {
            return now;
        }
        // missing micro-bytes at `rate` bytes/s take missing / rate microseconds; round up.
        let rate = i128::from(self.rate);
        let us = (missing + rate - 1) / rate;
        now + Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    fn cap(&self) -> i128 {
        i128::from(self.burst) * MICROS_PER_SEC as i128
    }

    fn need(&self, n: u64) -> i128 {
        i128::from(n.min(self.burst)) * MICROS_PER_SEC as i128
    }

    fn refill(&mut self, now: Time) {
        if now <= self.last {
            return;
        }
        let us = i128::from(now.as_micros() - self.last.as_micros());
        self.level = (self.level + us * i128::from(self.rate)).min(self.cap());
        self.last = now;
    }
}

/// Bytes per second over a rolling window (20 s for the choker), in `SLOTS` time slots.
///
/// Until a full window has passed since the estimator was made, the rate is the bytes so far
/// divided by the time so far (at least one slot), so a new peer is not judged by zeros from
/// before it existed.
#[derive(Debug, Clone)]
pub struct RateEstimator {
    slot_us: u64,
    start: Time,
    /// `(slot number, bytes)`; a slot whose number is older than the window counts as empty.
    slots: [(u64, u64); SLOTS],
    total: u64,
}

const SLOTS: usize = 20;

impl RateEstimator {
    /// An estimator over `window` (at least 20 µs), starting at `now`.
    pub fn new(window: Duration, now: Time) -> RateEstimator {
        let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        RateEstimator {
            slot_us: (window_us / SLOTS as u64).max(1),
            start: now,
            slots: [(u64::MAX, 0); SLOTS],
            total: 0,
        }
    }

    /// Counts `bytes` as transferred at `now`.
    pub fn record(&mut self, now: Time, bytes: u64) {
        let n = self.slot_of(now);
        let slot = &mut self.slots[Self::index(n)];
        if slot.0 != n {
            *slot = (n, 0);
        }
        slot.1 += bytes;
        self.total += bytes;
    }

    /// Bytes per second over the window ending at `now`.
    pub fn rate(&self, now: Time) -> u64 {
        let n = self.slot_of(now);
        let oldest = n.saturating_sub(SLOTS as u64 - 1);
        let bytes: u64 = self
            .slots
            .iter()
            .filter(|(s, _)| *s != u64::MAX && *s >= oldest && *s <= n)
            .map(|(_, b)| *b)
            .sum();
        // The window covers the full slots before `n` plus the elapsed part of slot `n`.
        let age = now.as_micros().saturating_sub(self.start.as_micros());
        let into_slot = age % self.slot_us;
        let covered = ((n - oldest) * self.slot_us + into_slot)
            .min(age)
            .max(self.slot_us);
        let rate = u128::from(bytes) * MICROS_PER_SEC / u128::from(covered);
        u64::try_from(rate).unwrap_or(u64::MAX)
    }

    /// Bytes recorded since the estimator was made.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn slot_of(&self, now: Time) -> u64 {
        now.as_micros().saturating_sub(self.start.as_micros()) / self.slot_us
    }

    fn index(n: u64) -> usize {
        // n % SLOTS < SLOTS, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let i = (n % SLOTS as u64) as usize;
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ms(v: u64) -> Time {
        Time::from_millis(v)
    }

    #[test]
    fn bucket_spends_refills_and_predicts() {
        // 1000 B/s, burst 500.
        let mut b = TokenBucket::new(1000, 500, ms(0));
        assert!(b.try_take(ms(0), 400));
        assert!(!b.try_take(ms(0), 200));
        // 100 left, 200 needed: 100 more bytes take 100 ms.
        assert_eq!(b.available_at(ms(0), 200), ms(100));
        assert!(!b.try_take(ms(99), 200));
        assert!(b.try_take(ms(100), 200));
        // Refill stops at the burst.
        assert_eq!(b.available(ms(10_000)), 500);
        // Oversized: allowed when full, leaves debt of 1500 bytes -> 1.5 s to get back to 0,
        // then 0.5 s more for a full 500-byte burst.
        assert!(b.try_take(ms(10_000), 2000));
        assert_eq!(b.available(ms(10_000)), 0);
        assert_eq!(b.available_at(ms(10_000), 2000), ms(12_000));
        assert_eq!(b.available_at(ms(10_000), 1), ms(11_501));
    }

    #[test]
    fn bucket_long_run_rate_is_exact() {
        // Taking 16 KiB whenever possible over 10 s at 100 KiB/s yields 10 s × rate + burst.
        let rate = 100 * 1024;
        let mut b = TokenBucket::with_rate(rate, ms(0));
        let mut now = ms(0);
        let mut sent = 0u64;
        while now < ms(10_000) {
            if b.try_take(now, 16_384) {
                sent += 16_384;
            } else {
                now = b.available_at(now, 16_384);
            }
        }
        let burst = 64 * 1024;
        assert!(sent <= 10 * rate + burst + 16_384, "{sent}");
        assert!(sent >= 10 * rate + burst - 16_384, "{sent}");
        b.set_rate(10, 10, now);
        assert!(b.available(now) <= 10);
    }

    #[test]
    fn estimator_window_and_young_peers() {
        let mut r = RateEstimator::new(Duration::from_secs(20), ms(0));
        // 1 MB in the first 2 s: a young estimator divides by the elapsed time.
        r.record(ms(500), 500_000);
        r.record(ms(1_500), 500_000);
        assert_eq!(r.rate(ms(2_000)), 500_000);
        // Near the end of the window, the same bytes count over (almost) 20 s.
        assert_eq!(r.rate(ms(19_999)), 1_000_000_000_000 / 19_999_000);
        // Once their slots leave the window they are gone.
        assert_eq!(r.rate(ms(20_000)), 500_000 * 1_000_000 / 19_000_000);
        assert_eq!(r.rate(ms(21_000)), 0);
        assert_eq!(r.total(), 1_000_000);
        // Steady 10 kB every 100 ms for a minute reads as 100 kB/s.
        let mut s = RateEstimator::new(Duration::from_secs(20), ms(0));
        for t in 0..600 {
            s.record(ms(t * 100), 10_000);
        }
        let rate = s.rate(ms(60_000));
        assert!((95_000..=105_000).contains(&rate), "{rate}");
        // A slot reused after wrapping does not keep old bytes.
        s.record(ms(200_000), 20_000_000);
        assert_eq!(s.rate(ms(200_500)), 20_000_000 * 1_000_000 / 19_500_000);
    }
}
