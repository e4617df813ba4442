//! systemd notify, probe mode and configuration reload, with real processes.
// Unix only: real signals, Unix datagram sockets and `/proc`. The Windows build is driven for real by tests/e2e/windows.sh.
#![cfg(unix)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DAEMON, Daemon, get};

const SECOND: Duration = Duration::from_secs(1);

/// Collects datagrams with their arrival time until `until` returns true or `limit` passes.
fn collect(
    sock: &UnixDatagram,
    limit: Duration,
    mut until: impl FnMut(&str) -> bool,
) -> Vec<(Instant, String)> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let stop = until(&msg);
                out.push((Instant::now(), msg));
                if stop {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out
}

/// The datagrams already queued on `sock`, without waiting for more.
fn drain(sock: &UnixDatagram) -> Vec<String> {
    sock.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    sock.set_nonblocking(false).unwrap();
    out
}

fn run_systemd_scenario(notify_socket: &str, sock: &UnixDatagram) {
    let mut d = Daemon::spawn(
        &[
            ("NOTIFY_SOCKET", notify_socket),
            ("WATCHDOG_USEC", "200000"),
            ("BERTH_PRE_STOP_DELAY", "0s"),
        ],
        &["--ready-after-ms", "300", "--live-interval-ms", "20"],
    );
    // READY=1 arrives after mark_ready(), not before.
    let spawned = Instant::now();
    let msgs = collect(sock, 5 * SECOND, |m| m == "READY=1");
    assert!(msgs.iter().any(|(_, m)| m == "STATUS=starting"), "{msgs:?}");
    let (ready_at, _) = msgs.iter().find(|(_, m)| m == "READY=1").expect("READY=1");
    assert!(ready_at.duration_since(spawned) >= Duration::from_millis(250));

    // WATCHDOG=1 every WATCHDOG_USEC/2 = 100 ms. The times are those at which this thread
    // read each datagram: on a loaded machine one late read stretches a gap and shortens the
    // next, so the cadence is judged by the median gap; the longest gap must stay below the
    // watchdog timeout plus the scheduling slack (a loop that stalls or stops fails it).
    let mut count = 0;
    let window = collect(sock, 10 * SECOND, |m| {
        count += usize::from(m == "WATCHDOG=1");
        count == 11
    });
    let pings: Vec<Instant> = window
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1")
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(pings.len(), 11, "{window:?}");
    let mut gaps: Vec<Duration> = pings
        .windows(2)
        .map(|p| p[1].duration_since(p[0]))
        .collect();
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    eprintln!(
        "measured: 11 WATCHDOG=1 in {:?}, gaps {:?}..{:?}, median {median:?}",
        pings[10].duration_since(pings[0]),
        gaps[0],
        gaps[gaps.len() - 1]
    );
    assert!(
        median > Duration::from_millis(60) && median < Duration::from_millis(160),
        "median watchdog gap {median:?}: {gaps:?}"
    );
    assert!(
        gaps[gaps.len() - 1] < Duration::from_millis(200) + common::LOAD_SLACK,
        "watchdog gap {:?} (WATCHDOG_USEC 200 ms)",
        gaps[gaps.len() - 1]
    );

    // Liveness fails → no more WATCHDOG=1 (after one in-flight tick at most). The datagrams
    // queued while /livez was polled are read first (they were sent before the failure);
    // then six watchdog periods pass, in which a daemon still petting would send six.
    assert_eq!(get(d.app, "/sick").unwrap().status, 200);
    d.wait_admin("/livez", 503, 5 * SECOND);
    let queued = drain(sock);
    let after = collect(sock, Duration::from_millis(600), |_| false);
    let late = after.iter().filter(|(_, m)| m == "WATCHDOG=1").count();
    assert!(
        late <= 1,
        "watchdog still petted after liveness failed: {after:?} (queued before: {queued:?})"
    );

    // SIGTERM → STOPPING=1, then the process exits.
    d.signal("TERM");
    let stopping = collect(sock, 10 * SECOND, |m| m == "STOPPING=1");
    assert!(
        stopping.iter().any(|(_, m)| m == "STOPPING=1"),
        "{stopping:?}"
    );
    let (status, _) = d.wait_exit(10 * SECOND).expect("exit");
    assert_eq!(status.code(), Some(0));
    let rest = collect(sock, Duration::from_millis(200), |_| false);
    assert!(
        rest.iter()
            .all(|(_, m)| m != "READY=1" && m != "WATCHDOG=1"),
        "{rest:?}"
    );
}

#[test]
fn systemd_notify_over_a_path_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    run_systemd_scenario(path.to_str().unwrap(), &sock);
}

#[test]
fn systemd_notify_over_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("berth-sidecar-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    run_systemd_scenario(&format!("@{name}"), &sock);
}

#[test]
fn drain_extends_the_systemd_stop_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let mut d = Daemon::spawn(
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("BERTH_PRE_STOP_DELAY", "0s"),
            ("BERTH_DRAIN_TIMEOUT", "30s"),
        ],
        &["--task-ms", "2500"],
    );
    collect(&sock, 5 * SECOND, |m| m == "READY=1");
    d.signal("TERM");
    let msgs = collect(&sock, 4 * SECOND, |_| false);
    let extends: Vec<u64> = msgs
        .iter()
        .filter_map(|(_, m)| m.strip_prefix("EXTEND_TIMEOUT_USEC="))
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(extends.len() >= 2, "{msgs:?}");
    // 30 s drain + 5 s margin, shrinking as the deadline approaches.
    assert!(
        extends[0] <= 35_000_000 && extends[0] > 34_000_000,
        "{extends:?}"
    );
    assert!(extends[1] < extends[0], "{extends:?}");
    assert!(
        msgs.iter().any(|(_, m)| m.starts_with("STATUS=draining")),
        "{msgs:?}"
    );
    let (status, _) = d.wait_exit(5 * SECOND).expect("exit");
    assert_eq!(status.code(), Some(0));
}

fn probe(args: &[&str], env: &[(&str, &str)]) -> (i32, Duration, String) {
    let started = Instant::now();
    let mut cmd = Command::new(DAEMON);
    cmd.args(args).env_remove("BERTH_ADMIN_ADDR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn probe_mode_exits_0_on_200_and_1_otherwise() {
    let d = Daemon::spawn(&[], &["--ready-after-ms", "800"]);
    let addr = d.admin.to_string();
    let (code, _, err) = probe(&["--berth-probe", "readyz", "--addr", &addr], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("status 503"), "{err}");
    let (code, _, _) = probe(&["--berth-probe", "livez", "--addr", &addr], &[]);
    assert_eq!(code, 0);
    d.wait_admin("/readyz", 200, 5 * SECOND);
    for endpoint in ["livez", "readyz", "startupz"] {
        let (code, took, err) = probe(&["--berth-probe", endpoint, "--addr", &addr], &[]);
        assert_eq!(code, 0, "{endpoint}: {err}");
        assert!(took < SECOND);
    }
    // Default address from BERTH_ADMIN_ADDR, with 0.0.0.0 mapped to loopback.
    let env_addr = format!("0.0.0.0:{}", d.admin.port());
    let (code, _, err) = probe(
        &["--berth-probe", "readyz"],
        &[("BERTH_ADMIN_ADDR", &env_addr)],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn probe_mode_fails_fast_without_a_server_and_on_bad_usage() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (code, took, _) = probe(&["--berth-probe", "readyz", "--addr", &addr], &[]);
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(2));
    let (code, _, err) = probe(&["--berth-probe", "healthz"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("usage"), "{err}");
}

#[test]
fn probe_mode_gives_up_on_a_silent_server_within_2s() {
    // Accepts the connection but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let (code, took, err) = probe(&["--berth-probe", "livez", "--addr", &addr], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    drop(silent);
}

/// Whether `/metrics` shows `line` within 5 s (the sidecar counts a reload after the
/// hook returned, so just after the hook's line the count may still be the old one).
fn metric(d: &Daemon, line: &str) -> bool {
    let deadline = Instant::now() + 5 * SECOND;
    loop {
        let body = get(d.admin, "/metrics").unwrap().body;
        if body.lines().any(|l| l == line) {
            return true;
        }
        if Instant::now() > deadline {
            eprintln!("{line:?} not in /metrics:\n{body}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reload_on_sighup_and_on_rename_replace() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, "v1").unwrap();
    let d = Daemon::spawn(&[("BERTH_CONFIG_FILE", file.to_str().unwrap())], &[]);
    assert_eq!(get(d.app, "/config").unwrap().body, "v1");

    d.signal("HUP");
    let line = d.wait_line("RELOADED", 20 * SECOND).expect("SIGHUP reload");
    assert_eq!(line, "RELOADED Signal v1");

    // An editor replacing the file by rename.
    let tmp = dir.path().join(".config.yaml.swp");
    std::fs::write(&tmp, "v2").unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let line = d.wait_line("RELOADED", 20 * SECOND).expect("rename reload");
    assert_eq!(line, "RELOADED FileChanged v2");
    assert_eq!(get(d.app, "/config").unwrap().body, "v2");

    // An in-place write is seen too; a rejected config keeps the old one and is counted.
    // One write over the old bytes, no truncation first: the watcher cannot see an empty
    // file between a truncation and the write on a loaded machine.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.write_all(b"bad config").unwrap();
    }
    let line = d.wait_line("RELOAD", 20 * SECOND).expect("bad reload");
    assert!(line.starts_with("RELOAD-FAILED"), "{line}");
    assert_eq!(get(d.app, "/config").unwrap().body, "v2");
    assert!(metric(&d, "berth_reloads_total{result=\"failure\"} 1"));
    assert!(metric(&d, "berth_reloads_total{result=\"success\"} 2"));
    // The process is still healthy.
    assert_eq!(get(d.admin, "/readyz").unwrap().status, 200);
}

#[test]
fn reload_on_kubernetes_configmap_symlink_swap() {
    // The kubelet's layout: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let gen1 = root.join("..2026_11_27_00_00_00.1");
    std::fs::create_dir(&gen1).unwrap();
    std::fs::write(gen1.join("config.yaml"), "one").unwrap();
    std::os::unix::fs::symlink("..2026_11_27_00_00_00.1", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/config.yaml", root.join("config.yaml")).unwrap();
    let file = root.join("config.yaml");
    let d = Daemon::spawn(&[("BERTH_CONFIG_FILE", file.to_str().unwrap())], &[]);
    assert_eq!(get(d.app, "/config").unwrap().body, "one");

    let gen2 = root.join("..2026_11_27_00_01_00.2");
    std::fs::create_dir(&gen2).unwrap();
    std::fs::write(gen2.join("config.yaml"), "two").unwrap();
    std::os::unix::fs::symlink("..2026_11_27_00_01_00.2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    std::fs::remove_dir_all(&gen1).unwrap();

    // Bounded wait for the reload (debounce and a loaded machine; it comes in well under a
    // second on an idle one).
    let line = d
        .wait_line("RELOADED", 20 * SECOND)
        .expect("symlink swap reload");
    assert_eq!(line, "RELOADED FileChanged two");
    assert_eq!(get(d.app, "/config").unwrap().body, "two");
    // Only one reload for the whole swap (debounced, content compared).
    assert!(d.wait_line("RELOAD", Duration::from_millis(500)).is_none());
}

#[test]
fn admin_server_closes_slow_and_idle_clients_and_rejects_huge_headers() {
    use std::io::{Read, Write};
    let d = Daemon::spawn(&[], &[]);
    // Headers that never finish.
    let mut slow = std::net::TcpStream::connect(d.admin).unwrap();
    slow.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(5 * SECOND)).unwrap();
    // An idle keep-alive connection after one request.
    let mut idle = common::KeepAlive::connect(d.admin).unwrap();
    assert_eq!(idle.get("/livez").unwrap().status, 200);
    let started = Instant::now();
    // Probes are answered meanwhile.
    assert_eq!(get(d.admin, "/livez").unwrap().status, 200);
    let mut buf = [0u8; 1024];
    let n = slow.read(&mut buf).unwrap_or(0);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        took > Duration::from_millis(1500) && took < Duration::from_millis(3000),
        "{took:?}"
    );

    // 16 KiB of headers exceed the 8 KiB buffer.
    let mut big = std::net::TcpStream::connect(d.admin).unwrap();
    big.set_read_timeout(Some(5 * SECOND)).unwrap();
    let filler = "a".repeat(16 * 1024);
    let _ = big.write_all(
        format!("GET /livez HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n").as_bytes(),
    );
    let mut out = Vec::new();
    let _ = big.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(out.is_empty() || text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(!text.contains("200 OK"));
    // The idle keep-alive connection is closed by the same timeout (its 2 s ran from its
    // response, just before `started`; a bounded wait, nothing sent meanwhile).
    let left = (Duration::from_secs(2) + common::LOAD_SLACK).saturating_sub(started.elapsed());
    assert!(
        idle.closed_by_server_within(left),
        "idle admin connection still open {:?} after its last response",
        started.elapsed()
    );
}

/// Writes `request` on a fresh connection to `addr` and returns what comes back until the
/// server closes (or 5 s pass).
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(5 * SECOND)).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn admin_server_limits_headers_to_8k_and_bodies_to_1k() {
    let d = Daemon::spawn(&[], &[]);
    let filler = "a".repeat(16 * 1024);
    let big_head = exchange(
        d.admin,
        format!("GET /livez HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n").as_bytes(),
    );
    assert!(big_head.starts_with("HTTP/1.1 431"), "{big_head}");

    let declared = exchange(
        d.admin,
        b"POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
    );
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");

    let chunk = "b".repeat(800);
    let chunked = exchange(
        d.admin,
        format!(
            "POST /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
             320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");

    // A small body is read and ignored; the probe answers as usual.
    let small = exchange(
        d.admin,
        b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert!(small.starts_with("HTTP/1.1 200"), "{small}");
    assert_eq!(get(d.admin, "/livez").unwrap().status, 200);
}

/// #14: the admin port keeps answering probes within their timeout while the application
/// port is flooded with connections that dawdle over their headers and slow requests.
#[test]
fn admin_answers_probes_while_the_app_port_is_flooded() {
    use std::io::Write;
    let d = Daemon::spawn(&[("BERTH_HEADER_READ_TIMEOUT", "30s")], &[]);
    d.wait_admin("/readyz", 200, 5 * SECOND);
    let mut flood = Vec::new();
    for i in 0..400 {
        let mut s = match std::net::TcpStream::connect_timeout(&d.app, 5 * SECOND) {
            Ok(s) => s,
            Err(err) => {
                eprintln!("flood connection {i}: {err}");
                continue;
            }
        };
        let _ =
            s.write_all(format!("GET /slow?ms=5000 HTTP/1.1\r\nHost: x\r\nX-N: {i}").as_bytes());
        flood.push(s);
    }
    let app = d.app;
    let slow: Vec<_> = (0..50)
        .map(|_| std::thread::spawn(move || get(app, "/slow?ms=3000")))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let r = get(d.admin, "/livez").expect("probe failed during the flood");
        assert_eq!(r.status, 200);
        worst = worst.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(25));
    }
    let (code, took, _) = probe(
        &["--berth-probe", "readyz", "--addr", &d.admin.to_string()],
        &[],
    );
    eprintln!(
        "measured: {} dawdling + 50 slow app connections; worst /livez {worst:?}, probe mode {took:?}",
        flood.len()
    );
    assert_eq!(code, 0);
    assert!(flood.len() >= 300, "only {} flood connections", flood.len());
    assert!(worst < SECOND, "{worst:?}");
    for t in slow {
        assert_eq!(t.join().unwrap().unwrap().status, 200);
    }
}

#[test]
fn header_read_timeout_comes_from_the_environment() {
    use std::io::{Read, Write};
    let d = Daemon::spawn(&[("BERTH_HEADER_READ_TIMEOUT", "300ms")], &[]);
    let mut s = std::net::TcpStream::connect(d.app).unwrap();
    s.set_read_timeout(Some(5 * SECOND)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    let took = started.elapsed();
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[test]
fn bind_errors_carry_the_os_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let app = Command::new(DAEMON)
        .env("BERTH_ADMIN_ADDR", "127.0.0.1:0")
        .args(["--app-addr", &addr])
        .output()
        .unwrap();
    assert_eq!(app.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&app.stderr);
    assert!(
        stderr.contains(&format!(
            "error: cannot bind the application listener to {addr}: Address already in use"
        )),
        "{stderr}"
    );
}
