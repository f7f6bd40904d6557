//! Virtual time. The core never reads a clock: drivers pass the current [`Time`] in.

use std::ops::{Add, AddAssign};
use std::time::Duration;

/// A point in time, in microseconds since an epoch the driver chooses (page load, simulation
/// start). Monotonic by contract: drivers never pass a smaller value than before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

impl Time {
    /// The driver's epoch.
    pub const ZERO: Time = Time(0);
    /// Later than any time a driver will pass.
    pub const NEVER: Time = Time(u64::MAX);

    pub const fn from_micros(us: u64) -> Time {
        Time(us)
    }
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1000))
    }
    /// From a floating-point millisecond count (`performance.now()`); negative becomes zero.
    pub fn from_millis_f64(ms: f64) -> Time {
        // `as` saturates for floats: NaN and negatives become 0, huge values u64::MAX.
        #[allow(clippy::cast_possible_truncation)]
        let us = (ms * 1000.0) as u64;
        Time(us)
    }
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }
    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Time(self.0.saturating_add(us))
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_millis(5);
        assert_eq!((t + Duration::from_millis(7)).as_micros(), 12_000);
        assert_eq!(t.saturating_since(Time::from_millis(9)), Duration::ZERO);
        assert_eq!(Time::NEVER + Duration::from_secs(1), Time::NEVER);
        assert_eq!(Time::from_millis_f64(-3.0), Time::ZERO);
        assert_eq!(Time::from_millis_f64(1.5).as_micros(), 1500);
    }
}
