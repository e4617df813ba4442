//! Fault suite for the runtime: bad clients, signal storms, reload storms and panics, with
//! real sockets against the real test daemon (`tests/support/test_daemon.rs`).
//!
//! Every case ends with a SIGTERM and asserts the exit code, the stop time and that no
//! request the daemon accepted failed, and prints one line with its figure
//! (`PASS slowloris: exit 0 in 212 ms ...`; see them with `-- --nocapture`). The cases run one
//! at a time (a process-wide lock) so that one case's load does not eat another's time
//! budget; the limits are generous multiples of what the promise needs, never of a
//! measured mean.
// Unix only: real signals (`kill`). The Windows build is driven for real by tests/e2e/windows.sh.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{Daemon, get};

/// A keep-alive HTTP/1.1 client that reads `Content-Length` and chunked bodies.
struct Conn {
    r: std::io::BufReader<TcpStream>,
}

impl Conn {
    fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(Conn {
            r: std::io::BufReader::new(s),
        })
    }

    fn line(&mut self) -> std::io::Result<String> {
        use std::io::BufRead;
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end().to_owned())
    }

    /// GET `path`; the status and the body.
    fn get(&mut self, path: &str) -> std::io::Result<(u16, String)> {
        write!(self.r.get_mut(), "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let status_line = self.line()?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let h = self.line()?;
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((&h, ""));
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let size = usize::from_str_radix(self.line()?.trim(), 16)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                let mut chunk = vec![0; size + 2];
                self.r.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            self.r.read_exact(&mut body)?;
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// One case at a time: timing promises are measured on a quiet daemon.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// SIGTERM, then waits at most `limit`; asserts exit 0 and returns the stop time.
fn stop_clean(daemon: &mut Daemon, limit: Duration, case: &str) -> Duration {
    daemon.signal("TERM");
    let (status, took) = daemon
        .wait_exit(limit)
        .unwrap_or_else(|| panic!("{case}: no exit within {limit:?} of SIGTERM"));
    assert_eq!(status.code(), Some(0), "{case}: exit status {status:?}");
    took
}

/// A metric's value from `/metrics` (the first sample whose line starts with `prefix`).
fn metric(daemon: &Daemon, prefix: &str) -> f64 {
    let text = get(daemon.admin, "/metrics").expect("GET /metrics").body;
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {prefix} in\n{text}"))
}

/// Resident set size of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Sets this process's open-file soft limit to `want` (at most the hard limit; children
/// inherit it); returns the new soft limit. Uses util-linux `prlimit`, as the crate forbids
/// unsafe code.
fn set_nofile(want: u64) -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("read limits");
    let hard: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let want = hard.min(want);
    let status = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={want}:{hard}"),
        ])
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit failed");
    want
}

/// True when the peer closed `stream` (EOF or reset) within `limit`.
fn closed_by_peer(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. a 408 before the close
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Reads one HTTP/1.1 response head from a raw stream and returns its status.
fn read_status(stream: &mut TcpStream, limit: Duration) -> std::io::Result<u16> {
    stream.set_read_timeout(Some(limit))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {text:?}")))
}

/// A slowloris client (half a request head, then silence), a raw idle connection and an
/// idle keep-alive connection must not hold the stop: nothing is in flight, so the daemon
/// exits 0 right after the pre-stop delay. Requests accepted during the pre-stop delay are
/// still served.
#[test]
fn slowloris_and_idle_connections_do_not_hold_the_drain() {
    let _serial = serial();
    let pre_stop = Duration::from_millis(200);
    let mut d = Daemon::spawn(
        &[
            ("BERTH_PRE_STOP_DELAY", "200ms"),
            ("BERTH_DRAIN_TIMEOUT", "3s"),
        ],
        &[],
    );
    let mut slowloris = TcpStream::connect(d.app).unwrap();
    slowloris
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let mut raw_idle = TcpStream::connect(d.app).unwrap();
    let mut keep_alive = Conn::connect(d.app).unwrap();
    assert_eq!(keep_alive.get("/").unwrap().0, 200);
    // Let the daemon accept and start reading all of them.
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    d.signal("TERM");
    // Accepted during the pre-stop delay: served.
    let during = get(d.app, "/ok").expect("request during the pre-stop delay");
    assert_eq!(during.status, 200);
    let (status, _) = d
        .wait_exit(Duration::from_secs(10))
        .expect("no exit within 10 s");
    let took = started.elapsed();
    assert_eq!(
        status.code(),
        Some(0),
        "slowloris: the stop was forced ({status:?}) although nothing was in flight"
    );
    assert!(
        took <= pre_stop + Duration::from_millis(500),
        "slowloris: exit took {took:?}, more than the pre-stop delay {pre_stop:?} + 500 ms"
    );
    assert!(closed_by_peer(&mut slowloris, Duration::from_secs(2)));
    assert!(closed_by_peer(&mut raw_idle, Duration::from_secs(2)));
    println!(
        "PASS slowloris: exit 0 in {} ms (pre-stop delay 200 ms; a half-sent request head, a raw idle and a keep-alive connection open)",
        ms(took)
    );
}

/// 10,000 idle connections, which is the connection limit here (the open-file limit is set
/// to 10,256): the admin port keeps answering,
/// a new application connection waits for a free slot and is served when one frees, memory
/// stays bounded, and the stop closes them all quickly.
#[test]
fn ten_thousand_idle_connections() {
    let _serial = serial();
    const N: usize = 10_000;
    // The daemon inherits the limit: its connection limit is the soft limit - 256 = N.
    let limit = set_nofile(N as u64 + 256);
    assert_eq!(
        limit,
        N as u64 + 256,
        "need {} open files, the hard limit is lower",
        N + 256
    );
    let mut d = Daemon::spawn(
        &[
            ("BERTH_PRE_STOP_DELAY", "0s"),
            ("BERTH_DRAIN_TIMEOUT", "10s"),
        ],
        &[],
    );
    let rss_before = rss_kib(d.pid());
    let fds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let fds_before = fds(d.pid());
    let opening = Instant::now();
    let mut conns = Vec::with_capacity(N);
    for i in 0..N {
        match TcpStream::connect_timeout(&d.app, Duration::from_secs(5)) {
            Ok(s) => conns.push(s),
            Err(e) => panic!("connection {i} failed: {e}"),
        }
    }
    let opened = opening.elapsed();
    // Wait until the daemon holds them all (its open descriptors).
    let deadline = Instant::now() + Duration::from_secs(60);
    while fds(d.pid()) < fds_before + N {
        assert!(
            Instant::now() < deadline,
            "the daemon accepted only {} connections",
            fds(d.pid())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss_after = rss_kib(d.pid());
    // At the connection limit (N): the admin port still answers, a new application
    // connection waits in the backlog, and is served as soon as one idle connection goes.
    assert_eq!(get(d.admin, "/livez").unwrap().status, 200);
    let app = d.app;
    let pending = std::thread::spawn(move || get(app, "/"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !pending.is_finished(),
        "a connection beyond the limit was served at once"
    );
    drop(conns.remove(0));
    let served_after = Instant::now();
    let r = pending
        .join()
        .unwrap()
        .expect("the queued request once a slot freed");
    assert_eq!(r.status, 200);
    let freed = served_after.elapsed();
    assert!(freed < Duration::from_secs(10), "{freed:?}");
    let took = stop_clean(&mut d, Duration::from_secs(8), "10k idle");
    assert!(
        took < Duration::from_secs(5),
        "10k idle: stop took {took:?}"
    );
    let mut closed = 0;
    for s in conns.iter_mut().take(100) {
        if closed_by_peer(s, Duration::from_millis(500)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 100, "connections left open after the exit");
    println!(
        "PASS 10k idle connections: exit 0 in {} ms; RSS {} KiB idle -> {} KiB with {N} connections ({:.2} KiB each); opened in {} ms; at the limit a new connection waited and was served {} ms after one idle connection closed; /livez 200 throughout",
        ms(took),
        rss_before,
        rss_after,
        rss_after.saturating_sub(rss_before) as f64 / N as f64,
        ms(opened),
        ms(freed)
    );
}

/// HTTP/2 rapid reset (CVE-2023-44487): streams opened and reset at once, on several
/// connections. The daemon keeps serving a well-behaved client, the in-flight gauge returns
/// to 0 (no leaked request), and the stop is clean.
#[test]
fn http2_rapid_reset() {
    let _serial = serial();
    let mut d = Daemon::spawn(
        &[
            ("BERTH_PRE_STOP_DELAY", "0s"),
            ("BERTH_DRAIN_TIMEOUT", "5s"),
        ],
        &[],
    );
    let app = d.app;
    let stop = Arc::new(AtomicBool::new(false));
    // A well-behaved HTTP/1.1 client throughout.
    let good = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut conn = Conn::connect(app).unwrap();
            let mut served = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let r = conn.get("/").expect("good client request failed");
                assert_eq!(r.0, 200);
                served += 1;
            }
            served
        })
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let (reset, goaways) = rt.block_on(async move {
        let mut reset = 0usize;
        let mut goaways = 0usize;
        for _ in 0..10 {
            let tcp = tokio::net::TcpStream::connect(app).await.unwrap();
            let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
            let conn = tokio::spawn(conn);
            let mut next = Some(client);
            for _ in 0..1_000 {
                let Some(ready) = next.take() else { break };
                let Ok(mut client) = ready.ready().await else {
                    break;
                };
                let req = axum::http::Request::get(format!("http://{app}/slow?ms=2000"))
                    .body(())
                    .unwrap();
                let Ok((_response, mut stream)) = client.send_request(req, true) else {
                    break;
                };
                stream.send_reset(h2::Reason::CANCEL);
                reset += 1;
                next = Some(client);
            }
            drop(next);
            // The server may end an abusive connection with GOAWAY (ENHANCE_YOUR_CALM).
            if let Ok(Ok(Err(_))) = tokio::time::timeout(Duration::from_secs(5), conn).await {
                goaways += 1;
            }
        }
        (reset, goaways)
    });
    let attack = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let served = good.join().expect("good client");
    assert!(served > 0);
    // Every reset stream's request is released.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let inflight = metric(&d, "berth_in_flight_requests ");
        if inflight == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rapid reset: {inflight} requests still counted in flight"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(get(d.admin, "/livez").unwrap().status, 200);
    let took = stop_clean(&mut d, Duration::from_secs(5), "h2 rapid reset");
    assert!(
        took < Duration::from_secs(2),
        "h2 rapid reset: stop took {took:?}"
    );
    println!(
        "PASS h2 rapid reset: exit 0 in {} ms; {reset} streams reset on 10 connections in {} ms ({goaways} ended by the server); {served} good requests served, none failed",
        ms(took),
        ms(attack)
    );
}

/// Oversized request heads answer 431 on both ports, oversized bodies 413 on the app port;
/// the admin port does not read a large body it has no use for; the daemon keeps serving.
#[test]
fn oversized_headers_and_bodies() {
    let _serial = serial();
    let mut d = Daemon::spawn(&[], &[]);
    let header = |addr: SocketAddr, size: usize| -> u16 {
        let mut s = TcpStream::connect(addr).unwrap();
        let big = "a".repeat(size);
        let req = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
        // The server may answer and close before reading everything.
        let _ = s.write_all(req.as_bytes());
        read_status(&mut s, Duration::from_secs(5)).expect("a status for an oversized head")
    };
    let many_headers = |addr: SocketAddr| -> u16 {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut req = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..200 {
            req.push_str(&format!("X-H{i}: v\r\n"));
        }
        req.push_str("\r\n");
        let _ = s.write_all(req.as_bytes());
        read_status(&mut s, Duration::from_secs(5)).expect("a status for 200 headers")
    };
    assert_eq!(header(d.app, 1 << 20), 431, "1 MiB header on the app port");
    assert_eq!(many_headers(d.app), 431, "200 headers on the app port");
    assert_eq!(
        header(d.admin, 64 << 10),
        431,
        "64 KiB header on the admin port"
    );
    assert_eq!(many_headers(d.admin), 431, "200 headers on the admin port");

    // 3 MiB body against the 2 MiB default limit.
    let body_status = |addr: SocketAddr, path: &str, size: usize| -> (u16, Duration) {
        let mut s = TcpStream::connect(addr).unwrap();
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let mut writer = s.try_clone().unwrap();
        let started = Instant::now();
        let sender = std::thread::spawn(move || {
            let chunk = vec![b'x'; 64 << 10];
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                if writer.write_all(&chunk[..n]).is_err() {
                    return;
                }
                left -= n;
            }
        });
        let status = read_status(&mut s, Duration::from_secs(10)).expect("a status");
        let took = started.elapsed();
        drop(s);
        let _ = sender.join();
        (status, took)
    };
    let (small, _) = body_status(d.app, "/echo", 1 << 20);
    assert_eq!(small, 200, "1 MiB body within the limit");
    let (app_big, _) = body_status(d.app, "/echo", 3 << 20);
    assert_eq!(app_big, 413, "3 MiB body on the app port");
    let (admin_big, admin_took) = body_status(d.admin, "/livez", 64 << 20);
    assert!(
        matches!(admin_big, 405 | 413),
        "64 MiB body on the admin port answered {admin_big}"
    );
    assert!(
        admin_took < Duration::from_secs(5),
        "the admin port took {admin_took:?} to refuse a 64 MiB body"
    );
    // Still serving on both ports.
    assert_eq!(get(d.app, "/").unwrap().status, 200);
    assert_eq!(get(d.admin, "/readyz").unwrap().status, 200);
    let took = stop_clean(&mut d, Duration::from_secs(5), "oversized");
    assert!(
        took < Duration::from_secs(2),
        "oversized: stop took {took:?}"
    );
    println!(
        "PASS oversized headers and bodies: exit 0 in {} ms; 431 for 1 MiB / 200 headers (app) and 64 KiB / 200 headers (admin); 413 for a 3 MiB body (app); admin answered {admin_big} to a 64 MiB body in {} ms",
        ms(took),
        ms(admin_took)
    );
}

/// SIGTERM before the daemon became ready: no waiting for start-up, a clean exit after the
/// pre-stop delay.
#[test]
fn sigterm_during_startup_before_ready() {
    let _serial = serial();
    let mut d = Daemon::spawn(
        &[
            ("BERTH_PRE_STOP_DELAY", "200ms"),
            ("BERTH_DRAIN_TIMEOUT", "3s"),
        ],
        &["--ready-after-ms", "30000"],
    );
    assert_eq!(get(d.admin, "/readyz").unwrap().status, 503);
    assert_eq!(get(d.admin, "/startupz").unwrap().status, 503);
    let took = stop_clean(&mut d, Duration::from_secs(5), "startup");
    assert!(
        took < Duration::from_millis(200 + 1000),
        "startup: stop took {took:?}"
    );
    println!(
        "PASS sigterm during start-up: exit 0 in {} ms (pre-stop delay 200 ms, ready only after 30 s)",
        ms(took)
    );
}

/// SIGTERM × 100 in one burst, then one more: never death by signal, never a hang. A burst
/// that arrives before the runtime looked at the first signal is one signal to it (Unix does
/// not queue standard signals, and tokio folds deliveries it has not read yet): then the stop
/// runs its normal course; the next SIGTERM is a second signal and ends the process at once
/// with 143 (the documented escape hatch).
#[test]
fn sigterm_storm() {
    let _serial = serial();
    let mut d = Daemon::spawn(
        &[
            ("BERTH_PRE_STOP_DELAY", "5s"),
            ("BERTH_DRAIN_TIMEOUT", "5s"),
        ],
        &[],
    );
    let kill = |pid: &str, n: usize| {
        let mut args = vec!["-TERM".to_owned()];
        args.extend(std::iter::repeat_n(pid.to_owned(), n));
        // Some kill(2) calls may find the process already gone: the status is not the point.
        let _ = std::process::Command::new("kill").args(&args).status();
    };
    let pid = d.pid().to_string();
    let started = Instant::now();
    kill(&pid, 100);
    let (status, path) = match d.wait_exit(Duration::from_millis(500)) {
        Some((status, _)) => (status, "the burst held two signals"),
        None => {
            // Folded into one: the daemon is draining (readiness fails), not dead.
            assert_eq!(get(d.admin, "/readyz").unwrap().status, 503);
            kill(&pid, 1);
            let (status, _) = d
                .wait_exit(Duration::from_secs(3))
                .expect("storm: no exit within 3 s of the SIGTERM after the burst");
            (
                status,
                "the burst was folded into one signal; the next SIGTERM aborted",
            )
        }
    };
    let took = started.elapsed();
    assert_eq!(
        status.code(),
        Some(143),
        "storm: expected exit 143 (second signal), got {status:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "storm: took {took:?}, the pre-stop delay (5 s) was not cut short"
    );
    println!(
        "PASS sigterm storm (x100 + 1): exit 143 in {} ms, pre-stop delay 5 s cut short ({path})",
        ms(took)
    );
}

fn write_atomically(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// What the test daemon reported about its reloads.
#[derive(Default)]
struct Reloads {
    ok: usize,
    failed: usize,
    /// The configuration of the last successful reload.
    in_use: String,
}

/// Waits for a stdout line containing `needle`; tallies every RELOADED / RELOAD-FAILED line
/// seen on the way.
fn wait_for_line(d: &Daemon, needle: &str, limit: Duration, r: &mut Reloads) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        match d.lines.recv_timeout(left) {
            Ok(line) => {
                if line.starts_with("RELOADED ") {
                    r.ok += 1;
                    r.in_use = line.splitn(3, ' ').nth(2).unwrap_or_default().to_owned();
                } else if line.starts_with("RELOAD-FAILED ") {
                    r.failed += 1;
                }
                if line.contains(needle) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
}

/// The configuration file rewritten 1,000 times (in 10 rounds, every third ending on a broken
/// version) with SIGHUP storms in between, under request load: no crash, no failed request, the last good
/// version is the one in use, a broken file keeps the old configuration, and the metrics
/// count every success and failure the hook reported.
#[test]
fn reload_storm_under_load() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.conf");
    std::fs::write(&path, "v-initial\n").unwrap();
    let path_str = path.to_str().unwrap().to_owned();
    let mut d = Daemon::spawn(
        &[
            ("BERTH_CONFIG_FILE", &path_str),
            ("BERTH_PRE_STOP_DELAY", "0s"),
            ("BERTH_DRAIN_TIMEOUT", "5s"),
        ],
        &[],
    );
    let app = d.app;
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            let served = served.clone();
            std::thread::spawn(move || {
                let mut conn = Conn::connect(app).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let r = conn.get("/").expect("request under reload load failed");
                    assert_eq!(r.0, 200);
                    served.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let pid = d.pid().to_string();
    let started = Instant::now();
    let (mut hups, mut rewrites) = (0, 0);
    let mut r = Reloads {
        in_use: "v-initial".to_owned(),
        ..Reloads::default()
    };
    // 10 rounds of 100 rewrites with SIGHUP bursts; every third round ends on a broken file.
    // After each round (a quiet moment longer than the debounce) the last version must be
    // the one tried: nothing lost.
    for round in 0..10 {
        let mut last = String::new();
        for i in 0..100 {
            last = if round % 3 == 2 && i == 99 {
                format!("bad-{round}")
            } else {
                format!("v-{round}-{i}")
            };
            write_atomically(&path, &format!("{last}\n"));
            rewrites += 1;
            if i % 25 == 0 {
                let mut args = vec!["-HUP".to_owned()];
                args.extend(std::iter::repeat_n(pid.clone(), 20));
                let s = std::process::Command::new("kill")
                    .args(&args)
                    .status()
                    .unwrap();
                assert!(s.success(), "the daemon died during the SIGHUP storm");
                hups += 20;
            }
        }
        assert!(
            wait_for_line(&d, &last, Duration::from_secs(10), &mut r),
            "round {round}: the last rewrite ({last}) was never tried"
        );
        // A broken file keeps the configuration of the last good reload (which may be one
        // from the middle of the round: a SIGHUP reloads at once).
        assert_eq!(get(app, "/config").unwrap().body, r.in_use, "round {round}");
        if last.starts_with("bad") {
            assert!(!r.in_use.starts_with("bad"), "round {round}");
        } else {
            assert_eq!(r.in_use, last, "round {round}");
        }
    }
    let storm = started.elapsed();
    // Collect the outcome of any reload still queued (a SIGHUP folded in late).
    let _ = wait_for_line(&d, "\u{0}", Duration::from_millis(700), &mut r);
    let (ok, failed) = (r.ok, r.failed);
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().expect("load thread");
    }
    // Every outcome the hook reported is counted (the counter moves just after the hook
    // printed its line).
    let counted = |result: &str, want: usize| {
        let prefix = format!("berth_reloads_total{{result=\"{result}\"}}");
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let got = metric(&d, &prefix) as usize;
            if got == want || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(counted("success", ok), ok, "successful reloads counted");
    assert_eq!(counted("failure", failed), failed, "failed reloads counted");
    assert!(failed >= 1 && ok >= 1);
    let took = stop_clean(&mut d, Duration::from_secs(5), "reload storm");
    assert!(
        took < Duration::from_secs(2),
        "reload storm: stop took {took:?}"
    );
    println!(
        "PASS reload storm: exit 0 in {} ms; {rewrites} rewrites and {hups} SIGHUPs in {} ms -> {ok} reloads, {failed} failures (metrics agree), the last version of every round tried, broken files kept the old one; {} requests, none failed",
        ms(took),
        ms(storm),
        served.load(Ordering::Relaxed)
    );
}

/// A panicking handler and a panicking readiness check under load: panics become 500s and a
/// failing check, the process lives, every other request succeeds, the stop is clean.
#[test]
fn panicking_handler_and_check_under_load() {
    let _serial = serial();
    let mut d = Daemon::spawn(
        &[
            ("BERTH_PRE_STOP_DELAY", "0s"),
            ("BERTH_DRAIN_TIMEOUT", "5s"),
            ("RUST_BACKTRACE", "0"),
        ],
        &["--panic-check"],
    );
    let app = d.app;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut conn = Conn::connect(app).unwrap();
                let (mut ok, mut panics) = (0usize, 0usize);
                for i in 0..250 {
                    if i % 5 == 0 {
                        let r = conn.get("/panic").expect("request to /panic failed");
                        assert_eq!(r.0, 500);
                        panics += 1;
                    } else {
                        let r = conn.get("/").expect("request next to panics failed");
                        assert_eq!(r.0, 200);
                        ok += 1;
                    }
                }
                (ok, panics)
            })
        })
        .collect();
    let (mut ok, mut panics) = (0, 0);
    for w in workers {
        let (o, p) = w.join().expect("worker");
        ok += o;
        panics += p;
    }
    assert_eq!(
        metric(&d, "berth_handler_panics_total ") as usize,
        panics,
        "handler panics counted"
    );
    assert_eq!(get(d.admin, "/livez").unwrap().status, 200);
    let ready = get(d.admin, "/readyz?verbose").unwrap();
    assert_eq!(ready.status, 503);
    assert!(ready.body.contains("[-]boom failed"), "{}", ready.body);
    let check_failures = metric(
        &d,
        "berth_check_failures_total{check=\"boom\",kind=\"readiness\"}",
    );
    assert!(check_failures >= 1.0);
    let took = stop_clean(&mut d, Duration::from_secs(5), "panics");
    assert!(took < Duration::from_secs(2), "panics: stop took {took:?}");
    println!(
        "PASS panics under load: exit 0 in {} ms; {panics} handler panics answered 500 and counted, {ok} other requests all 200, check panicked {check_failures} times (readiness 503, liveness 200)",
        ms(took)
    );
}
