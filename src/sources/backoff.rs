//! When to poll next: the interval with jitter while healthy, exponential backoff after failures,
//! and never sooner than a server's `Retry-After`.

use std::time::Duration;

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Delay before the next poll. `failures` counts consecutive failed polls (0 = healthy).
pub fn next_delay(interval: Duration, failures: u32, retry_after: Option<Duration>) -> Duration {
    let base = if failures == 0 {
        interval
    } else {
        let factor = 1u32 << failures.min(8);
        (interval.max(Duration::from_secs(1)) * factor).min(MAX_BACKOFF)
    };
    // ±10 % jitter so many cockpits polling one Jenkins do not synchronise.
    let jitter = 0.9 + fastrand::f64() * 0.2;
    let delay = base.mul_f64(jitter);
    match retry_after {
        Some(r) if r > delay => r,
        _ => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let i = Duration::from_secs(10);
        assert!(next_delay(i, 0, None) <= Duration::from_secs(11));
        assert!(next_delay(i, 2, None) >= Duration::from_secs(36));
        assert!(next_delay(i, 30, None) <= MAX_BACKOFF.mul_f64(1.1));
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let d = next_delay(Duration::from_secs(1), 1, Some(Duration::from_secs(120)));
        assert_eq!(d, Duration::from_secs(120));
    }
}
