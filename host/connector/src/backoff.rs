//! The one exponential backoff of weft: route retries and connector reconnects.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Exponential backoff with "equal jitter": the n-th delay (n = 0 first) is drawn uniformly
/// from `[d/2, d]` where `d = min(initial × multiplier^n, max)`. Half of every delay is
/// kept, so a delay never collapses to zero, and the other half is random, so retries of
/// many events or reconnects of many connections do not synchronise.
///
/// ```
/// use std::time::Duration;
/// use weft_connector::Backoff;
/// let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// let first = b.next_delay();
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// assert_eq!(b.without_jitter().delay(10), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: bool,
    attempt: u32,
}

impl Backoff {
    /// Starts at `initial` (at least 1 ms), doubles per attempt, never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff {
            initial,
            max: max.max(initial),
            multiplier: 2.0,
            jitter: true,
            attempt: 0,
        }
    }

    /// Grows by `multiplier` per attempt instead of 2 (values below 1 count as 1).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// Every delay is exactly its ceiling `d` (for tests and strict schedules).
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// The ceiling `d` of delay number `attempt` (0 = the first delay).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = self.multiplier.powi(attempt.min(64) as i32);
        let secs = (self.initial.as_secs_f64() * factor).min(self.max.as_secs_f64());
        Duration::from_secs_f64(secs).min(self.max)
    }

    /// Delay number `attempt` (0 = the first delay), jittered unless switched off.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        if self.jitter {
            ceiling.mul_f64(0.5 + rand::random::<f64>() * 0.5)
        } else {
            ceiling
        }
    }

    /// The next delay; counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// How many delays were handed out since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts over (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Sleeps for the next delay; `false` if `cancel` fired first.
    pub async fn wait(&mut self, cancel: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ceilings_grow_by_the_multiplier_and_stop_at_max() {
        let b = Backoff::new(ms(100), ms(10_000)).without_jitter();
        let got: Vec<u128> = (0..9).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(b.delay(u32::MAX), ms(10_000));
        let tripling = Backoff::new(ms(10), ms(1000))
            .with_multiplier(3.0)
            .without_jitter();
        assert_eq!(tripling.delay(2), ms(90));
        let flat = Backoff::new(ms(10), ms(1000)).with_multiplier(0.5);
        assert_eq!(flat.ceiling(5), ms(10));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_varies() {
        let b = Backoff::new(ms(100), ms(10_000));
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(1)).collect();
        assert!(delays.iter().all(|d| *d >= ms(100) && *d <= ms(200)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 50, "jitter draws should differ");
        assert!(delays.iter().any(|d| *d < ms(150)));
        assert!(delays.iter().any(|d| *d > ms(150)));
    }

    #[test]
    fn next_delay_counts_and_reset_starts_over() {
        let mut b = Backoff::new(ms(10), ms(80)).without_jitter();
        let got: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        assert_eq!(got, [ms(10), ms(20), ms(40), ms(80), ms(80)]);
        assert_eq!(b.attempt(), 5);
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.next_delay(), ms(10));
        // zero initial is raised to 1 ms; max below initial is raised to initial
        let z = Backoff::new(Duration::ZERO, Duration::ZERO).without_jitter();
        assert_eq!(z.delay(3), ms(1));
    }

    #[tokio::test]
    async fn wait_returns_false_when_cancelled() {
        let cancel = CancellationToken::new();
        let mut b = Backoff::new(ms(1), ms(1));
        assert!(b.wait(&cancel).await);
        cancel.cancel();
        let mut long = Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600));
        assert!(!long.wait(&cancel).await);
    }
}
