//! Client-side pacing under the per-token rate limit: at most N requests start in any
//! window of W, counted over a sliding window so that there is never a burst beyond the
//! window (Mailtrap counts 150 per 10 s per token, on every endpoint).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::rate::RateLimit;

pub struct Pacer {
    limit: RateLimit,
    /// Start times of the requests inside the current window, oldest first.
    started: Mutex<VecDeque<Instant>>,
}

impl Pacer {
    pub fn new(limit: RateLimit) -> Pacer {
        Pacer {
            limit,
            started: Mutex::new(VecDeque::with_capacity(limit.requests as usize)),
        }
    }

    /// Wait until one more request may start without exceeding the limit, and count it.
    pub async fn acquire(&self) {
        // The server counts arrivals, we count departures: a small margin keeps jitter
        // on the wire from pushing one request into a full window.
        let window = self.limit.window + self.limit.window / 50;
        loop {
            let wait = {
                let mut started = self.started.lock().await;
                let now = Instant::now();
                while started
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    started.pop_front();
                }
                if started.len() < self.limit.requests as usize {
                    started.push_back(now);
                    return;
                }
                let oldest = *started.front().expect("a full window has an oldest entry");
                (oldest + window).saturating_duration_since(now)
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_any_window() {
        let limit = RateLimit {
            requests: 5,
            window: Duration::from_secs(1),
        };
        let pacer = Pacer::new(limit);
        let begin = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..17 {
            pacer.acquire().await;
            starts.push(Instant::now().duration_since(begin));
        }
        for (i, start) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .filter(|later| **later - *start < limit.window)
                .count();
            assert!(
                in_window <= 5,
                "{in_window} requests within a window from {start:?}"
            );
        }
        // 17 requests at 5 per second: the last waits for the fourth window.
        assert!(starts[16] >= Duration::from_secs(3), "{:?}", starts[16]);
        assert!(starts[16] < Duration::from_millis(3200), "{:?}", starts[16]);
    }
}
