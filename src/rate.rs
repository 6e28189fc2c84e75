//! The `N/Ws` rate-limit notation shared by the sandbox (the limit it enforces) and the
//! client (the pace it keeps), e.g. `150/10s`, Mailtrap's documented per-token limit.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// At most `requests` requests in any window of `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window: Duration,
}

impl RateLimit {
    /// Mailtrap's documented limit: 150 requests per 10 seconds per API token.
    pub const MAILTRAP: RateLimit = RateLimit {
        requests: 150,
        window: Duration::from_secs(10),
    };
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::MAILTRAP
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.requests, self.window.as_secs_f64())
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid rate limit {text:?}: expected N/Ws, for example 150/10s");
        let (count, window) = text.trim().split_once('/').ok_or_else(bad)?;
        let requests: u32 = count.trim().parse().map_err(|_| bad())?;
        let seconds: f64 = window
            .trim()
            .strip_suffix('s')
            .unwrap_or(window.trim())
            .parse()
            .map_err(|_| bad())?;
        if requests == 0 || !(seconds.is_finite() && seconds > 0.0) {
            return Err(bad());
        }
        Ok(RateLimit {
            requests,
            window: Duration::from_secs_f64(seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_notation() {
        assert_eq!("150/10s".parse::<RateLimit>().unwrap(), RateLimit::MAILTRAP);
        assert_eq!(
            "5/0.5s".parse::<RateLimit>().unwrap(),
            RateLimit {
                requests: 5,
                window: Duration::from_millis(500)
            }
        );
        assert_eq!(
            "150/10s".parse::<RateLimit>().unwrap().to_string(),
            "150/10s"
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "150", "0/10s", "x/10s", "10/0s", "10/-1s", "10/abc"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad} was accepted");
        }
    }
}
