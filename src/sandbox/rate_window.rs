//! The sandbox's rate limiter: a sliding window per presented token, the way Mailtrap
//! limits each API token (150 requests in any 10 seconds by default). Refused requests
//! are not counted, so a client that waits as told by `Retry-After` gets through.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::rate::RateLimit;

/// Past this many distinct keys, forget the ones with no request left in the window, so
/// a client cycling through wrong tokens cannot grow the map forever.
const PRUNE_ABOVE_KEYS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Served; `remaining` requests are left in the current window.
    Allowed { remaining: u32 },
    /// Refused; a slot frees in `retry_after_secs` (rounded up, at least 1).
    Limited { retry_after_secs: u64 },
}

#[derive(Debug)]
pub struct SlidingWindowLimiter {
    limit: RateLimit,
    admitted: HashMap<String, VecDeque<Instant>>,
}

impl SlidingWindowLimiter {
    pub fn new(limit: RateLimit) -> Self {
        SlidingWindowLimiter {
            limit,
            admitted: HashMap::new(),
        }
    }

    pub fn admit(&mut self, key: &str, now: Instant) -> Admission {
        if self.admitted.len() > PRUNE_ABOVE_KEYS {
            let window = self.limit.window;
            self.admitted.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < window)
            });
        }
        let window = self.limit.window;
        let capacity = self.limit.requests as usize;
        let times = self.admitted.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|oldest| now.saturating_duration_since(*oldest) >= window)
        {
            times.pop_front();
        }
        if times.len() >= capacity {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.saturating_duration_since(oldest));
            return Admission::Limited {
                retry_after_secs: whole_seconds_at_least_one(wait),
            };
        }
        times.push_back(now);
        Admission::Allowed {
            remaining: (capacity - times.len()) as u32,
        }
    }
}

fn whole_seconds_at_least_one(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(text: &str) -> SlidingWindowLimiter {
        SlidingWindowLimiter::new(text.parse().unwrap())
    }

    #[test]
    fn counts_down_then_refuses_until_the_oldest_request_leaves_the_window() {
        let mut limiter = limiter("3/10s");
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(
            limiter.admit("t", at(0)),
            Admission::Allowed { remaining: 2 }
        );
        assert_eq!(
            limiter.admit("t", at(4000)),
            Admission::Allowed { remaining: 1 }
        );
        assert_eq!(
            limiter.admit("t", at(4500)),
            Admission::Allowed { remaining: 0 }
        );
        assert_eq!(
            limiter.admit("t", at(5000)),
            Admission::Limited {
                retry_after_secs: 5
            }
        );
        assert_eq!(
            limiter.admit("t", at(9999)),
            Admission::Limited {
                retry_after_secs: 1
            }
        );
        // The first request is now 10 s old: one slot is free again.
        assert_eq!(
            limiter.admit("t", at(10_000)),
            Admission::Allowed { remaining: 0 }
        );
        assert_eq!(
            limiter.admit("t", at(10_001)),
            Admission::Limited {
                retry_after_secs: 4
            }
        );
    }

    #[test]
    fn keys_are_independent() {
        let mut limiter = limiter("1/10s");
        let now = Instant::now();
        assert_eq!(limiter.admit("a", now), Admission::Allowed { remaining: 0 });
        assert!(matches!(limiter.admit("a", now), Admission::Limited { .. }));
        assert_eq!(limiter.admit("b", now), Admission::Allowed { remaining: 0 });
    }

    #[test]
    fn forgets_idle_keys() {
        let mut limiter = limiter("1/1s");
        let start = Instant::now();
        for index in 0..=PRUNE_ABOVE_KEYS {
            limiter.admit(&index.to_string(), start);
        }
        limiter.admit("late", start + Duration::from_secs(2));
        assert_eq!(limiter.admitted.len(), 1);
    }
}
