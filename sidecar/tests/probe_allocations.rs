//! A passing probe costs berth no allocation: the admin server's fast path answers from the
//! cached verdicts with a static body and the request's own header map.
//!
//! Heap allocations are counted by a counting global allocator (`stats_alloc`), with the
//! server and the client on one single-threaded runtime. The figure compared is the
//! allocations per request on a keep-alive connection once it is warm, against a plain hyper
//! server built like the admin server (same HTTP/1 builder, timer, header timeout and buffer
//! limit) whose service allocates nothing by construction: what that server allocates is
//! hyper's own per-request cost, and berth's probe must not add to it.
//!
//! Measured (hyper 1.12): hyper alone allocates 1 per request, the boxed sleep of its
//! header-read timer (`TokioTimer::sleep_until`, armed for every request head; the admin
//! server keeps the timer: it is what closes slow-header clients). berth's passing probe adds
//! 0 (it added 5 before the cached verdict: the boxed body, the response's header map and its
//! growth); a `?verbose` probe through the router costs about 23.
//! `cargo test -p berth-sidecar --test probe_allocations -- --nocapture` prints the figures.

use std::alloc::System;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use berth_sidecar::{Check, Sidecar};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations (and reallocations) so far, all threads: the test is alone in its binary and
/// its runtime is single-threaded, so they are the server's and the client's.
fn allocations() -> u64 {
    let stats = GLOBAL.stats();
    (stats.allocations + stats.reallocations) as u64
}

const WARM_UP: usize = 50;
const MEASURED: u64 = 500;

/// Sends `path` on one keep-alive connection, `WARM_UP` times then `MEASURED` times, and
/// returns the allocations per measured request (client included: it allocates nothing)
/// and the first response.
async fn allocations_per_request(addr: SocketAddr, path: &str) -> (f64, String) {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: probe\r\nUser-Agent: kube-probe/1.37\r\n\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    // The first response tells its length (every answer has the same length: same status,
    // headers, a `date` of fixed width and a fixed body).
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut first = vec![0u8; 4096];
    let mut len = 0;
    let total = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut first[len..]))
            .await
            .expect("the server did not answer")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
        len += n;
        let text = String::from_utf8_lossy(&first[..len]);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let body_len: usize = text[..head_end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("a content-length")
                .parse()
                .unwrap();
            if len >= head_end + 4 + body_len {
                break head_end + 4 + body_len;
            }
        }
    };
    let first = String::from_utf8_lossy(&first[..total]).into_owned();
    let mut buf = vec![0u8; total];
    let mut round = async |stream: &mut TcpStream| {
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.read_exact(&mut buf).await.unwrap();
    };
    for _ in 0..WARM_UP {
        round(&mut stream).await;
    }
    let before = allocations();
    for _ in 0..MEASURED {
        round(&mut stream).await;
    }
    let after = allocations();
    (((after - before) as f64) / MEASURED as f64, first)
}

/// A hyper server configured as the admin server, whose service allocates nothing: it
/// answers the probe's status, headers and body, writing the headers into the request's map.
async fn plain_hyper() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| {
                    let (parts, _) = req.into_parts();
                    let mut headers = parts.headers;
                    headers.clear();
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    );
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    headers.insert(
                        HeaderName::from_static("x-berth-phase"),
                        HeaderValue::from_static("ready"),
                    );
                    let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
                    *res.headers_mut() = headers;
                    async move { Ok::<_, Infallible>(res) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(2))
                    .max_buf_size(8 * 1024)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "current_thread")]
async fn a_passing_probe_allocates_nothing_beyond_hyper_itself() {
    let sidecar = Sidecar::builder()
        .admin_addr("127.0.0.1:0")
        .signals(false)
        .check(Check::readiness("db", || async { Ok::<(), String>(()) }))
        .start()
        .await
        .unwrap();
    sidecar.mark_ready();
    // Bounded wait for the readiness check's first run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !sidecar.handle().is_ready() {
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let admin = sidecar.admin_addr();
    let hyper_alone = plain_hyper().await;

    let (baseline, plain_first) = allocations_per_request(hyper_alone, "/readyz").await;
    let mut probes = Vec::new();
    for path in ["/readyz", "/livez", "/startupz"] {
        let (per_request, first) = allocations_per_request(admin, path).await;
        assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
        assert!(first.contains("\r\nx-berth-phase: ready\r\n"), "{first}");
        assert!(first.ends_with("\r\n\r\nok"), "{first}");
        probes.push((path, per_request));
    }
    let (routed, routed_first) = allocations_per_request(admin, "/readyz?verbose").await;
    assert!(
        routed_first.starts_with("HTTP/1.1 200 OK\r\n"),
        "{routed_first}"
    );
    assert!(
        plain_first.starts_with("HTTP/1.1 200 OK\r\n"),
        "{plain_first}"
    );

    println!("allocations per request on a warm keep-alive connection ({MEASURED} requests):");
    println!("  plain hyper, allocation-free service: {baseline:.2}");
    for (path, per_request) in &probes {
        println!("  berth {path}: {per_request:.2}");
    }
    println!("  berth /readyz?verbose (router, rendered report): {routed:.2}");

    // The counter sees what a request allocates: the routed path boxes, renders and routes.
    assert!(routed >= baseline + 3.0, "routed {routed} vs {baseline}");
    for (path, per_request) in probes {
        assert!(
            per_request <= baseline,
            "{path}: {per_request} allocations per request, hyper alone {baseline}"
        );
    }
}
