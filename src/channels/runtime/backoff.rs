//! The one way Rathaus waits before trying again: pauses that double from a first one up to
//! a cap, unless the other side said how long to wait (a 429's `retry_after`), which always
//! wins. Used for every remote call a channel makes and for the outbox's redeliveries.

use std::time::Duration;

/// Doubling pauses from `first` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max }
    }

    /// The pause after the `failures`-th failure in a row (1 for the first): what the other
    /// side asked for, else `first` doubled for each earlier failure, at most `max`.
    pub fn pause(&self, failures: u32, asked: Option<Duration>) -> Duration {
        if let Some(asked) = asked {
            return asked;
        }
        let doublings = failures.saturating_sub(1).min(31);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// A count of failures in a row, for a loop that retries one call until it passes.
    pub fn start(&self) -> Retry {
        Retry {
            policy: *self,
            failures: 0,
        }
    }
}

/// The failures in a row of one loop under a [`Backoff`].
#[derive(Debug, Clone)]
pub struct Retry {
    policy: Backoff,
    failures: u32,
}

impl Retry {
    /// Counts a failure and gives the pause before the next attempt.
    pub fn failed(&mut self, asked: Option<Duration>) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.policy.pause(self.failures, asked)
    }

    /// The call passed: the next failure starts from the first pause again.
    pub fn passed(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_S_TO_15_MIN: Backoff =
        Backoff::new(Duration::from_secs(5), Duration::from_secs(15 * 60));

    #[test]
    fn pauses_double_up_to_the_cap() {
        let p = FIVE_S_TO_15_MIN;
        assert_eq!(p.pause(1, None), Duration::from_secs(5));
        assert_eq!(p.pause(2, None), Duration::from_secs(10));
        assert_eq!(p.pause(4, None), Duration::from_secs(40));
        assert_eq!(p.pause(12, None), Duration::from_secs(15 * 60));
        assert_eq!(p.pause(u32::MAX, None), Duration::from_secs(15 * 60));
    }

    #[test]
    fn what_the_other_side_asked_for_wins_even_beyond_the_cap() {
        let p = FIVE_S_TO_15_MIN;
        assert_eq!(
            p.pause(3, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.pause(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn a_pass_starts_the_pauses_over() {
        let mut r = FIVE_S_TO_15_MIN.start();
        assert_eq!(r.failed(None), Duration::from_secs(5));
        assert_eq!(r.failed(None), Duration::from_secs(10));
        r.passed();
        assert_eq!(r.failures(), 0);
        assert_eq!(r.failed(None), Duration::from_secs(5));
    }
}
