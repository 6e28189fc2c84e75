//! When and how long to wait before trying a request again: on 429, 5xx, timeouts and
//! connection errors, with exponential backoff and full jitter, honouring `Retry-After`.
//! The reads, a bulk upsert and a DELETE (whose 404 counts as done) are idempotent, so a
//! retry can never do more than the plan says. A POST (a token created or reset) is
//! not: it is retried only when the server cannot have acted on it (a 429, or no
//! connection made), never after an answer that may have come too late (a timeout, a
//! dropped connection, a 5xx), which would create a second token.

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
    /// when it must not be retried; `idempotent` says whether sending the request twice
    /// does no more than once. `jitter` is a uniform sample in [0, 1).
    pub fn delay(
        &self,
        retry: u32,
        error: &ApiError,
        idempotent: bool,
        jitter: f64,
    ) -> Option<Duration> {
        if retry > self.max_retries {
            return None;
        }
        let retry_after = match error {
            ApiError::RateLimited { retry_after, .. } => *retry_after,
            ApiError::Connect { .. } => None,
            ApiError::Server { .. }
            | ApiError::Timeout { .. }
            | ApiError::NoAnswer { .. }
            | ApiError::CutOff { .. }
                if idempotent =>
            {
                None
            }
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
            .map(|n| policy.delay(n, &server_error(), true, 0.0).unwrap())
            .collect();
        let high: Vec<_> = (1..=4)
            .map(|n| policy.delay(n, &server_error(), true, 0.999).unwrap())
            .collect();
        assert_eq!(low, [250, 500, 1000, 2000].map(Duration::from_millis));
        assert!(high[3] < Duration::from_millis(4000) && high[3] > Duration::from_millis(3990));
        let capped = RetryPolicy {
            max_retries: 20,
            ..policy
        };
        assert!(capped.delay(20, &server_error(), true, 0.999).unwrap() <= policy.cap);
    }

    #[test]
    fn honours_retry_after_and_stops() {
        let policy = RetryPolicy::default();
        let limited = ApiError::RateLimited {
            request: "PUT /".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            policy.delay(1, &limited, true, 0.0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(policy.delay(5, &limited, true, 0.0), None);
        let denied = ApiError::Unauthorized {
            request: "GET /".into(),
        };
        assert_eq!(policy.delay(1, &denied, true, 0.0), None);
        let invalid = ApiError::Validation {
            request: "PUT /".into(),
            detail: String::new(),
        };
        assert_eq!(policy.delay(1, &invalid, true, 0.0), None);
    }

    #[test]
    fn a_post_is_retried_only_where_the_server_cannot_have_acted() {
        let policy = RetryPolicy::default();
        let request = || "POST /api/api_tokens".to_string();
        let acted_maybe = [
            server_error(),
            ApiError::Timeout { request: request() },
            ApiError::NoAnswer {
                request: request(),
                detail: String::new(),
            },
            ApiError::CutOff {
                request: request(),
                detail: String::new(),
            },
        ];
        for error in &acted_maybe {
            assert_eq!(policy.delay(1, error, false, 0.0), None, "{error}");
            assert!(policy.delay(1, error, true, 0.0).is_some(), "{error}");
        }
        let not_acted = [
            ApiError::RateLimited {
                request: request(),
                retry_after: None,
            },
            ApiError::Connect {
                request: request(),
                detail: String::new(),
            },
        ];
        for error in &not_acted {
            assert!(policy.delay(1, error, false, 0.0).is_some(), "{error}");
        }
    }
}
