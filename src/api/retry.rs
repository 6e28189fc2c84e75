//! When and how long to wait before trying a request again: on 429, 5xx, timeouts and
//! connection errors, with exponential backoff and full jitter, honouring `Retry-After`.
//! Every request the tool sends is idempotent (a bulk upsert, a DELETE whose 404 counts
//! as done), so a retry can never do more than the plan says.

use std::time::Duration;

use super::ApiError;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (1-based) after `error`, or None
    /// when it must not be retried. `jitter` is a uniform sample in [0, 1).
    pub fn delay(&self, retry: u32, error: &ApiError, jitter: f64) -> Option<Duration> {
        if retry > self.max_retries {
            return None;
        }
        let retry_after = match error {
            ApiError::RateLimited { retry_after, .. } => *retry_after,
            ApiError::Server { .. }
            | ApiError::Timeout { .. }
            | ApiError::Connect { .. }
            | ApiError::NoAnswer { .. }
            | ApiError::CutOff { .. } => None,
            _ => return None,
        };
        if let Some(wait) = retry_after {
            // The server said when; a little jitter spreads concurrent retries.
            return Some(wait.min(self.cap) + self.base.mul_f64(jitter / 2.0));
        }
        let exponential = self
            .base
            .saturating_mul(1 << (retry - 1).min(16))
            .min(self.cap);
        Some(exponential.mul_f64(0.5 + jitter / 2.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error() -> ApiError {
        ApiError::Server {
            request: "GET /".into(),
            status: 503,
            detail: String::new(),
        }
    }

    #[test]
    fn backs_off_exponentially_within_jitter_and_cap() {
        let policy = RetryPolicy::default();
        let low: Vec<_> = (1..=4)
            .map(|n| policy.delay(n, &server_error(), 0.0).unwrap())
            .collect();
        let high: Vec<_> = (1..=4)
            .map(|n| policy.delay(n, &server_error(), 0.999).unwrap())
            .collect();
        assert_eq!(low, [250, 500, 1000, 2000].map(Duration::from_millis));
        assert!(high[3] < Duration::from_millis(4000) && high[3] > Duration::from_millis(3990));
        let capped = RetryPolicy {
            max_retries: 20,
            ..policy
        };
        assert!(capped.delay(20, &server_error(), 0.999).unwrap() <= policy.cap);
    }

    #[test]
    fn honours_retry_after_and_stops() {
        let policy = RetryPolicy::default();
        let limited = ApiError::RateLimited {
            request: "PUT /".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(policy.delay(1, &limited, 0.0), Some(Duration::from_secs(3)));
        assert_eq!(policy.delay(5, &limited, 0.0), None);
        let denied = ApiError::Unauthorized {
            request: "GET /".into(),
        };
        assert_eq!(policy.delay(1, &denied, 0.0), None);
        let invalid = ApiError::Validation {
            request: "PUT /".into(),
            detail: String::new(),
        };
        assert_eq!(policy.delay(1, &invalid, 0.0), None);
    }
}
