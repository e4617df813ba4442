//! The load client of the SIGTERM-under-load table.
//!
//! Each worker keeps one HTTP/1.1 keep-alive connection and sends `GET <path>` on it, one
//! request at a time, the way a connection pool does. Every request ends in exactly one of:
//!
//! - **ok** / **other status**: a complete response arrived;
//! - **failed**: the request was written on a connection the server had accepted (the TCP
//!   handshake completed), and no complete response came back: end of stream, reset, write
//!   error or no answer within the request timeout. This is the request a user loses;
//! - **refused**: a new connection was refused: `ECONNREFUSED` (the listener is closed), or
//!   `ECONNRESET` from `connect(2)` itself (the listener closed while this handshake was still in
//!   its SYN queue: `connect` only returns once the handshake completes, so no request was ever
//!   sent and the server never accepted it). A real client tries another instance. The worker
//!   then stops.
//!
//! A response with `Connection: close` makes the worker reconnect for the next request. Before
//! reusing a pooled connection the worker checks whether the server closed it while it was
//! idle (as hyper's and Go's pools do); such a connection is replaced without counting a
//! failure.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a load run sends.
#[derive(Debug, Clone)]
pub struct Load {
    /// The daemon's application address.
    pub addr: SocketAddr,
    /// Path and query of every request, e.g. `/echo?msg=hi`.
    pub path: String,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// A request without a complete response after this long counts as failed.
    pub request_timeout: Duration,
    /// "Behind a Service": new connections made this long after the signal go to this other
    /// instance, as they do once the endpoint removal reached the load balancer.
    pub reroute: Option<(Duration, SocketAddr)>,
}

/// When the daemon was signalled, and how long the window after it is whose successful
/// responses are counted separately (the pre-stop delay).
#[derive(Debug)]
pub struct SignalClock {
    signalled: OnceLock<Instant>,
    window: Duration,
}

impl SignalClock {
    /// A clock whose window after the signal lasts `window`.
    ///
    /// ```
    /// let clock = berth_bench::client::SignalClock::new(std::time::Duration::from_secs(1));
    /// assert!(clock.signalled_at().is_none());
    /// clock.mark();
    /// assert!(clock.signalled_at().is_some());
    /// ```
    pub fn new(window: Duration) -> SignalClock {
        SignalClock {
            signalled: OnceLock::new(),
            window,
        }
    }

    /// Records "now" as the moment of the signal (the first call wins).
    pub fn mark(&self) {
        let _ = self.signalled.set(Instant::now());
    }

    /// The moment of the signal, once [`mark`](SignalClock::mark) was called.
    pub fn signalled_at(&self) -> Option<Instant> {
        self.signalled.get().copied()
    }
}

/// Counts of one load run (see the module documentation for the categories).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// 2xx responses.
    pub ok: u64,
    /// 2xx responses completed after the signal (by the signalled instance).
    pub ok_after_signal: u64,
    /// 2xx responses completed within the window after the signal (the pre-stop delay), by
    /// the signalled instance.
    pub ok_in_window: u64,
    /// Of [`ok`](Tally::ok): answered by the other instance ([`Load::reroute`]).
    pub ok_rerouted: u64,
    /// Complete responses with another status.
    pub other_status: u64,
    /// Requests written on an accepted connection that got no complete response.
    pub failed: u64,
    /// Of [`failed`](Tally::failed): the request timed out.
    pub timeouts: u64,
    /// New connections refused (listener closed).
    pub refused: u64,
    /// New connections that failed otherwise (not refused).
    pub connect_errors: u64,
    /// Responses carrying `Connection: close` (the worker reconnected).
    pub closed_by_response: u64,
    /// Pooled connections found closed by the server before reuse (replaced, not failed).
    pub closed_idle: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.ok += o.ok;
        self.ok_after_signal += o.ok_after_signal;
        self.ok_in_window += o.ok_in_window;
        self.ok_rerouted += o.ok_rerouted;
        self.other_status += o.other_status;
        self.failed += o.failed;
        self.timeouts += o.timeouts;
        self.refused += o.refused;
        self.connect_errors += o.connect_errors;
        self.closed_by_response += o.closed_by_response;
        self.closed_idle += o.closed_idle;
    }
}

/// Runs `load.connections` workers until each has been refused a connection, hit a connect
/// error, or `stop` is set; returns their summed counts.
pub async fn run(load: Load, clock: Arc<SignalClock>, stop: Arc<AtomicBool>) -> Tally {
    let load = Arc::new(load);
    let workers: Vec<_> = (0..load.connections)
        .map(|_| tokio::spawn(worker(load.clone(), clock.clone(), stop.clone())))
        .collect();
    let mut total = Tally::default();
    for w in workers {
        if let Ok(t) = w.await {
            total.add(&t);
        }
    }
    total
}

/// Whether a failed `connect` means the server never accepted the connection: refused, or
/// reset before the handshake completed.
fn refused(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

async fn worker(load: Arc<Load>, clock: Arc<SignalClock>, stop: Arc<AtomicBool>) -> Tally {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: berth-bench\r\n\r\n",
        load.path, load.addr
    )
    .into_bytes();
    let mut tally = Tally::default();
    // The connection, and whether it goes to the other instance.
    let mut pooled: Option<(TcpStream, bool)> = None;
    let mut buf = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        let (mut stream, rerouted) = match pooled.take() {
            Some((s, _)) if closed_while_idle(&s) => {
                tally.closed_idle += 1;
                continue;
            }
            Some(pooled) => pooled,
            None => match connect(&load, &clock).await {
                Ok(pooled) => pooled,
                Err(e) if refused(&e) => {
                    tally.refused += 1;
                    break;
                }
                Err(e) => {
                    // Counted as failed; named, since a local cause (e.g. no ephemeral port
                    // left after many reconnects) is not the daemon's.
                    eprintln!("[bench] connect error (not refused): {e}");
                    tally.connect_errors += 1;
                    break;
                }
            },
        };
        let exchanged = tokio::time::timeout(
            load.request_timeout,
            exchange(&mut stream, &request, &mut buf),
        )
        .await;
        match exchanged {
            Ok(Ok(response)) => {
                if (200..300).contains(&response.status) {
                    tally.ok += 1;
                    if rerouted {
                        tally.ok_rerouted += 1;
                    } else if let Some(at) = clock.signalled_at() {
                        let now = Instant::now();
                        if now >= at {
                            tally.ok_after_signal += 1;
                            if now - at < clock.window {
                                tally.ok_in_window += 1;
                            }
                        }
                    }
                } else {
                    tally.other_status += 1;
                }
                if response.close {
                    tally.closed_by_response += 1;
                } else {
                    pooled = Some((stream, rerouted));
                }
            }
            Ok(Err(_)) => tally.failed += 1,
            Err(_) => {
                tally.failed += 1;
                tally.timeouts += 1;
            }
        }
    }
    tally
}

/// A new connection: to the other instance once [`Load::reroute`] says so.
async fn connect(load: &Load, clock: &SignalClock) -> io::Result<(TcpStream, bool)> {
    let rerouted = match (load.reroute, clock.signalled_at()) {
        (Some((after, other)), Some(at)) if at.elapsed() >= after => Some(other),
        _ => None,
    };
    let stream = TcpStream::connect(rerouted.unwrap_or(load.addr)).await?;
    let _ = stream.set_nodelay(true);
    Ok((stream, rerouted.is_some()))
}

/// Whether the peer has closed (or reset) an idle pooled connection: a non-blocking read
/// sees end of stream or an error. Data on an idle connection is a protocol error; the
/// connection is not reused either.
fn closed_while_idle(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    !matches!(stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// The parts of a response the client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The server closes the connection after it (`Connection: close`, or HTTP/1.0 without
    /// keep-alive, or a body delimited by the end of the stream).
    pub close: bool,
}

enum Framing {
    Length(usize),
    Chunked,
    UntilEof,
}

/// Writes `request` and reads one complete response (any framing HTTP/1.1 allows).
pub async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> io::Result<Response> {
    stream.write_all(request).await?;
    buf.clear();
    let (head_len, status, mut close, framing) = loop {
        if stream.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(head) = parse_head(buf)? {
            break head;
        }
    };
    match framing {
        Framing::Length(len) => {
            while buf.len() < head_len + len {
                if stream.read_buf(buf).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
        Framing::Chunked => {
            while !chunked_complete(&buf[head_len..])? {
                if stream.read_buf(buf).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
        Framing::UntilEof => {
            while stream.read_buf(buf).await? != 0 {}
            close = true;
        }
    }
    Ok(Response { status, close })
}

/// Parses the response head once it is complete: (head length, status, close, framing).
fn parse_head(buf: &[u8]) -> io::Result<Option<(usize, u16, bool, Framing)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    };
    let status = response.code.unwrap_or(0);
    let mut close = response.version == Some(0);
    let mut framing = Framing::UntilEof;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let len = value
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            framing = Framing::Length(len);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().ends_with("chunked")
        {
            framing = Framing::Chunked;
        }
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        framing = Framing::Length(0);
    }
    Ok(Some((head_len, status, close, framing)))
}

/// Whether a chunked body is complete (its zero-size last chunk and final CRLF arrived).
fn chunked_complete(mut body: &[u8]) -> io::Result<bool> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return Ok(false);
        };
        let size_text = std::str::from_utf8(&body[..eol]).map_err(|_| invalid("chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("chunk size"))?;
        let rest = &body[eol + 2..];
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            return Ok(rest.windows(2).any(|w| w == b"\r\n"));
        }
        if rest.len() < size + 2 {
            return Ok(false);
        }
        body = &rest[size + 2..];
    }
}

/// One `GET` on a fresh connection; the status code (used to wait for `/readyz`).
pub async fn get_status(addr: SocketAddr, path: &str) -> io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut buf = Vec::new();
    let response = tokio::time::timeout(
        Duration::from_secs(2),
        exchange(&mut stream, request.as_bytes(), &mut buf),
    )
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    Ok(response.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// After the reroute delay, new connections go to the other instance.
    #[tokio::test]
    async fn reroutes_new_connections_after_the_signal() {
        let dying = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other_addr = other.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = other.accept().await.unwrap();
                let mut buf = vec![0u8; 1024];
                let _ = s.read(&mut buf).await.unwrap();
                s.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
            }
        });
        let clock = Arc::new(SignalClock::new(Duration::from_secs(60)));
        clock.mark();
        let load = Load {
            addr: dying.local_addr().unwrap(),
            path: "/x".into(),
            connections: 1,
            request_timeout: Duration::from_secs(2),
            reroute: Some((Duration::ZERO, other_addr)),
        };
        let tally = run(load, clock, Arc::new(AtomicBool::new(false))).await;
        server.await.unwrap();
        assert_eq!(
            (tally.ok, tally.ok_rerouted, tally.ok_after_signal),
            (2, 2, 0)
        );
        assert_eq!(tally.refused, 1);
        drop(dying);
    }

    #[test]
    fn chunked_bodies() {
        assert!(chunked_complete(b"5\r\nhello\r\n0\r\n\r\n").unwrap());
        assert!(!chunked_complete(b"5\r\nhello\r\n0\r\n").unwrap());
        assert!(!chunked_complete(b"5\r\nhel").unwrap());
        assert!(chunked_complete(b"0\r\n\r\n").unwrap());
        assert!(chunked_complete(b"zz\r\n").is_err());
    }

    #[test]
    fn heads() {
        let (len, status, close, framing) =
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: close\r\n\r\nok")
                .unwrap()
                .unwrap();
        assert_eq!((len, status, close), (57, 200, true));
        assert!(matches!(framing, Framing::Length(2)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
        let (_, _, close, _) = parse_head(b"HTTP/1.0 503 x\r\n\r\n").unwrap().unwrap();
        assert!(close);
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    /// A server that answers one request per connection and then closes it without saying
    /// so, and stops listening after `accepts` connections: every category is exercised.
    #[tokio::test]
    async fn classifies_failures_and_refusals() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut listener = Some(listener);
            for i in 0..4 {
                let (mut s, _) = listener.as_ref().unwrap().accept().await.unwrap();
                if i == 3 {
                    // Closed before the last answer: the next connection is refused.
                    listener = None;
                }
                let mut buf = vec![0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                assert!(buf[..n].starts_with(b"GET /x HTTP/1.1"));
                if i < 2 {
                    // Answer keep-alive, then close after the client's next request arrives
                    // (the keep-alive race: a request lost on an accepted connection).
                    s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                    let _ = s.read(&mut buf).await;
                } else if i == 2 {
                    s.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
                    )
                    .await
                    .unwrap();
                } else {
                    s.write_all(
                        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                    )
                    .await
                    .unwrap();
                }
                drop(s);
            }
            assert!(listener.is_none());
        });
        let clock = Arc::new(SignalClock::new(Duration::from_secs(60)));
        clock.mark();
        let load = Load {
            addr,
            path: "/x".into(),
            connections: 1,
            request_timeout: Duration::from_secs(2),
            reroute: None,
        };
        let tally = run(load, clock, Arc::new(AtomicBool::new(false))).await;
        server.await.unwrap();
        assert_eq!(
            tally,
            Tally {
                ok: 3,
                ok_after_signal: 3,
                ok_in_window: 3,
                ok_rerouted: 0,
                other_status: 1,
                failed: 2,
                timeouts: 0,
                refused: 1,
                connect_errors: 0,
                closed_by_response: 2,
                closed_idle: 0,
            }
        );
    }
}
