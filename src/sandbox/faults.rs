//! Fault injection: what can go wrong between a client and the real service, on demand
//! and reproducibly. A request to one of the API routes (either path family, and
//! `GET /api/accounts`) may be delayed, refused by a burst of 429s, answered by a
//! crashing app (500) or a proxy's HTML page (502), or have its connection closed
//! without an answer, either before the sandbox applies its change or after. Every decision for the request numbered `n` depends only on the
//! seed and `n`, so a seeded run is reproducible. The default injects nothing.
//!
//! This file holds the configuration and the decisions; `http` acts on them, and the
//! connection wrapper here lets a handler close its own socket without answering.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The faults a sandbox injects. Each is independent and off by default.
///
/// For every request to an API route, in this order: the latency (plus jitter) is
/// waited; a request inside a 429 burst is refused; otherwise one roll in `[0, 1)`
/// picks at most one of drop-before, HTML 502, 500 and drop-after, so each rate is the
/// exact fraction of requests outside bursts that get that fault (the four rates must
/// add up to at most 1). `redirect_to` answers every request, API route or not, with a
/// redirect and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Seeds every decision: request `n` meets the same faults on every run.
    pub seed: u64,
    /// Fraction answered `500 {"error":"Internal Server Error"}`, nothing changed.
    pub failure_rate: f64,
    /// Wait before answering (or dropping) each request.
    pub latency: Duration,
    /// A uniform extra wait in `[0, latency_jitter)` on top of `latency`.
    pub latency_jitter: Duration,
    /// Periodic bursts of `429 {"errors":"Rate limit exceeded"}` with `Retry-After: 1`,
    /// whatever the real limiter says.
    pub burst_429: Option<Burst429>,
    /// Fraction whose connection is closed without an answer before anything is done.
    pub drop_before_rate: f64,
    /// Fraction whose connection is closed without an answer after the request was
    /// carried out: a write is applied, the client only sees a broken connection.
    pub drop_after_rate: f64,
    /// Fraction answered by a proxy's `502 Bad Gateway` HTML page, nothing changed.
    pub html_rate: f64,
    /// Answer every request with `307 Temporary Redirect` to this base URL plus the
    /// request's path and query, and do nothing else.
    pub redirect_to: Option<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::none()
    }
}

/// `length` consecutive API requests refused with 429 at the end of every `every`:
/// with `3/10`, requests 8, 9, 10, then 18, 19, 20, and so on (counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst429 {
    pub length: u32,
    pub every: u32,
}

/// Which fault, if any, a recorded request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InjectedFault {
    /// Answered 307 to `redirect_to`; nothing done.
    Redirect,
    /// Answered 429 by a burst; nothing done.
    Burst429,
    /// Answered 500; nothing done.
    ServerError,
    /// Answered a 502 HTML page; nothing done.
    HtmlPage,
    /// Connection closed before anything was done.
    DropBefore,
    /// Connection closed after the request was carried out.
    DropAfter,
}

/// What happens to one API request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decision {
    pub delay: Duration,
    pub fault: Option<InjectedFault>,
}

impl Decision {
    pub fn none() -> Decision {
        Decision {
            delay: Duration::ZERO,
            fault: None,
        }
    }
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Faults {
        Faults {
            seed: 0,
            failure_rate: 0.0,
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            burst_429: None,
            drop_before_rate: 0.0,
            drop_after_rate: 0.0,
            html_rate: 0.0,
            redirect_to: None,
        }
    }

    /// Rates within `[0, 1]` adding up to at most 1, a burst shorter than its period,
    /// a redirect target that is an absolute http(s) URL.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("failure rate", self.failure_rate),
            ("drop-before rate", self.drop_before_rate),
            ("drop-after rate", self.drop_after_rate),
            ("HTML page rate", self.html_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("the {name} must be between 0 and 1, not {rate}"));
            }
        }
        let total: f64 = rates.iter().map(|(_, rate)| rate).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "the failure, drop and HTML page rates add up to {total}, more than 1"
            ));
        }
        if let Some(burst) = self.burst_429 {
            burst.check()?;
        }
        if let Some(target) = &self.redirect_to {
            let url = url::Url::parse(target)
                .map_err(|err| format!("invalid redirect target {target:?}: {err}"))?;
            if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
                return Err(format!(
                    "invalid redirect target {target:?}: it must be an http(s) URL"
                ));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(format!(
                    "invalid redirect target {target:?}: it must not have a query or fragment"
                ));
            }
        }
        Ok(())
    }

    /// The fate of API request number `index` (counted from 0).
    pub(crate) fn decide(&self, index: u64) -> Decision {
        // A generator of its own per request: the outcome of request n does not depend
        // on how many random numbers the requests before it consumed.
        let mut rng = StdRng::seed_from_u64(
            self.seed
                .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .rotate_left(17),
        );
        let jitter = if self.latency_jitter.is_zero() {
            Duration::ZERO
        } else {
            self.latency_jitter.mul_f64(rng.random::<f64>())
        };
        let roll = rng.random::<f64>();
        let delay = self.latency + jitter;
        if self.burst_429.is_some_and(|burst| burst.refuses(index)) {
            return Decision {
                delay,
                fault: Some(InjectedFault::Burst429),
            };
        }
        let bands = [
            (self.drop_before_rate, InjectedFault::DropBefore),
            (self.html_rate, InjectedFault::HtmlPage),
            (self.failure_rate, InjectedFault::ServerError),
            (self.drop_after_rate, InjectedFault::DropAfter),
        ];
        let mut upper = 0.0;
        let mut fault = None;
        for (rate, kind) in bands {
            upper += rate;
            if roll < upper {
                fault = Some(kind);
                break;
            }
        }
        Decision { delay, fault }
    }
}

impl fmt::Display for Faults {
    /// A one-line summary for the sandbox command's banner.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let percent = |rate: f64| format!("{}%", (rate * 1000.0).round() / 10.0);
        if let Some(target) = &self.redirect_to {
            parts.push(format!("every request redirected to {target}"));
        }
        if !self.latency.is_zero() || !self.latency_jitter.is_zero() {
            let mut latency = format!("{}ms latency", self.latency.as_millis());
            if !self.latency_jitter.is_zero() {
                latency.push_str(&format!(" + up to {}ms", self.latency_jitter.as_millis()));
            }
            parts.push(latency);
        }
        if let Some(burst) = self.burst_429 {
            parts.push(format!(
                "429 bursts of {} in every {} requests",
                burst.length, burst.every
            ));
        }
        for (rate, what) in [
            (self.failure_rate, "500s"),
            (self.html_rate, "502 HTML pages"),
            (self.drop_before_rate, "dropped before applying"),
            (self.drop_after_rate, "dropped after applying"),
        ] {
            if rate > 0.0 {
                parts.push(format!("{} {what}", percent(rate)));
            }
        }
        if parts.is_empty() {
            return f.write_str("no faults");
        }
        write!(f, "faults: {} (seed {})", parts.join(", "), self.seed)
    }
}

impl Burst429 {
    fn check(self) -> Result<(), String> {
        if self.length == 0 || self.every == 0 || self.length > self.every {
            return Err(format!(
                "invalid 429 burst {}/{}: write N/M with 1 <= N <= M (N requests refused in every M)",
                self.length, self.every
            ));
        }
        Ok(())
    }

    /// Whether API request `index` (from 0) falls inside a burst.
    fn refuses(self, index: u64) -> bool {
        let every = u64::from(self.every.max(1));
        index % every >= every - u64::from(self.length.min(self.every))
    }
}

impl FromStr for Burst429 {
    type Err = String;

    /// `N/M`: N requests refused in every M.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid 429 burst {text:?}: write N/M, e.g. 3/10 (3 requests refused in every 10)"
            )
        };
        let (length, every) = text.trim().split_once('/').ok_or_else(bad)?;
        let burst = Burst429 {
            length: length.trim().parse().map_err(|_| bad())?,
            every: every.trim().parse().map_err(|_| bad())?,
        };
        burst.check()?;
        Ok(burst)
    }
}

impl fmt::Display for Burst429 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.length, self.every)
    }
}

/// A fraction from 0 to 1, for the command's rate flags.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate {text:?}: write a fraction such as 0.3"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("invalid rate {text:?}: it must be between 0 and 1"));
    }
    Ok(rate)
}

// ------------------------------------------------------------ closing a connection

/// The listener the sandbox serves on: plain TCP, each connection wrapped so that the
/// handler of a request on it can close it without answering.
pub(crate) struct DroppableListener(pub TcpListener);

impl Listener for DroppableListener {
    type Io = DroppableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        let stream = DroppableStream {
            inner: stream,
            dropped: Arc::new(AtomicBool::new(false)),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP connection that fails every write once its [`Connection`] handle says so.
/// The HTTP server then gives up on it and closes the socket, so the client gets no
/// status line at all.
pub(crate) struct DroppableStream {
    inner: TcpStream,
    dropped: Arc<AtomicBool>,
}

/// Handed to each request (as connect info): closes the connection it came on.
#[derive(Debug, Clone)]
pub(crate) struct Connection(Arc<AtomicBool>);

impl Connection {
    /// From now on nothing more is written: the answer being prepared is never sent.
    pub fn drop_without_answer(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, DroppableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, DroppableListener>) -> Self {
        Connection(Arc::clone(&stream.io().dropped))
    }
}

impl DroppableStream {
    fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }
}

fn dropped_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "sandbox fault: connection dropped",
    )
}

impl AsyncRead for DroppableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_dropped() {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for DroppableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_dropped() {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_dropped() {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_dropped() {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults() -> Faults {
        Faults {
            seed: 42,
            ..Faults::none()
        }
    }

    #[test]
    fn the_default_injects_nothing() {
        let none = Faults::default();
        for index in 0..1000 {
            assert_eq!(
                none.decide(index),
                Decision {
                    delay: Duration::ZERO,
                    fault: None
                }
            );
        }
        assert_eq!(none.to_string(), "no faults");
    }

    #[test]
    fn decisions_depend_only_on_seed_and_index() {
        let config = Faults {
            failure_rate: 0.3,
            drop_after_rate: 0.2,
            latency: Duration::from_millis(5),
            latency_jitter: Duration::from_millis(10),
            ..faults()
        };
        let first: Vec<_> = (0..200).map(|index| config.decide(index)).collect();
        let backwards: Vec<_> = (0..200).rev().map(|index| config.decide(index)).collect();
        assert_eq!(first, backwards.into_iter().rev().collect::<Vec<_>>());
        let other_seed = Faults { seed: 43, ..config };
        assert_ne!(
            first,
            (0..200)
                .map(|index| other_seed.decide(index))
                .collect::<Vec<_>>()
        );
        assert!(first.iter().all(|decision| {
            decision.delay >= Duration::from_millis(5) && decision.delay < Duration::from_millis(15)
        }));
    }

    #[test]
    fn rates_are_met_and_exclusive() {
        let config = Faults {
            failure_rate: 0.3,
            html_rate: 0.1,
            drop_before_rate: 0.2,
            drop_after_rate: 0.15,
            ..faults()
        };
        let count = 20_000;
        let mut seen = std::collections::HashMap::new();
        for index in 0..count {
            *seen.entry(config.decide(index).fault).or_insert(0u32) += 1;
        }
        let share = |fault| f64::from(seen.get(&fault).copied().unwrap_or(0)) / count as f64;
        for (fault, rate) in [
            (Some(InjectedFault::ServerError), 0.3),
            (Some(InjectedFault::HtmlPage), 0.1),
            (Some(InjectedFault::DropBefore), 0.2),
            (Some(InjectedFault::DropAfter), 0.15),
            (None, 0.25),
        ] {
            assert!((share(fault) - rate).abs() < 0.02, "{fault:?}: {seen:?}");
        }
        let always = Faults {
            failure_rate: 1.0,
            ..faults()
        };
        assert!((0..100).all(|i| always.decide(i).fault == Some(InjectedFault::ServerError)));
    }

    #[test]
    fn bursts_refuse_the_end_of_every_period() {
        let config = Faults {
            burst_429: Some("3/10".parse().unwrap()),
            failure_rate: 1.0,
            ..faults()
        };
        let refused: Vec<u64> = (0..30)
            .filter(|&index| config.decide(index).fault == Some(InjectedFault::Burst429))
            .map(|index| index + 1)
            .collect();
        assert_eq!(refused, [8, 9, 10, 18, 19, 20, 28, 29, 30]);
        let every: Burst429 = "2/2".parse().unwrap();
        assert!((0..10).all(|index| every.refuses(index)));
    }

    #[test]
    fn parses_and_validates() {
        assert_eq!(
            "3/10".parse::<Burst429>(),
            Ok(Burst429 {
                length: 3,
                every: 10
            })
        );
        for bad in ["", "3", "0/10", "11/10", "3/0", "a/b", "3/10s"] {
            assert!(bad.parse::<Burst429>().is_err(), "{bad}");
        }
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        for bad in ["-0.1", "1.5", "x", "NaN"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        let too_much = Faults {
            failure_rate: 0.6,
            html_rate: 0.6,
            ..faults()
        };
        assert!(too_much.validate().unwrap_err().contains("more than 1"));
        let nan = Faults {
            drop_after_rate: f64::NAN,
            ..faults()
        };
        assert!(nan.validate().is_err());
        for bad in ["ftp://x", "not a url", "http://127.0.0.1:1/?a=b"] {
            let redirect = Faults {
                redirect_to: Some(bad.into()),
                ..faults()
            };
            assert!(redirect.validate().is_err(), "{bad}");
        }
        let good = Faults {
            redirect_to: Some("http://127.0.0.1:9/base".into()),
            burst_429: Some("1/5".parse().unwrap()),
            failure_rate: 0.5,
            html_rate: 0.5,
            ..faults()
        };
        assert_eq!(good.validate(), Ok(()));
        assert_eq!(
            good.to_string(),
            "faults: every request redirected to http://127.0.0.1:9/base, \
             429 bursts of 1 in every 5 requests, 50% 500s, 50% 502 HTML pages (seed 42)"
        );
    }
}
