//! The built binary as a process: health on the admin port, the endpoints, a configuration
//! reload without a restart, probe mode, and a clean drain on SIGTERM with a request in flight.
// Unix only: SIGTERM (`kill`). The Windows build is driven for real by tests/e2e/windows.sh.
#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 GET (no client dependency): returns (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn serves_reloads_and_drains() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("echo.toml");
    std::fs::write(&config, "greeting = \"hi\"\n").unwrap();
    let (app, admin) = (free_port(), free_port());
    let bin = env!("CARGO_BIN_EXE_echo-daemon");
    let mut daemon = Daemon {
        child: Command::new(bin)
            .env("ECHO_LISTEN", format!("127.0.0.1:{app}"))
            .env("BERTH_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("BERTH_CONFIG_FILE", &config)
            .env("BERTH_PRE_STOP_DELAY", "300ms")
            .env("BERTH_DRAIN_TIMEOUT", "10s")
            .env("ECHO_STARTUP_DELAY", "200ms")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    wait_for("/readyz 200", Duration::from_secs(20), || {
        matches!(get(admin, "/readyz"), Some((200, _)))
    });
    assert_eq!(
        get(app, "/echo?msg=there"),
        Some((200, "hi there".to_owned()))
    );
    let metrics = get(admin, "/metrics").unwrap().1;
    assert!(metrics.contains("echo_config_reloads_total 0"), "{metrics}");

    // Probe mode of the same binary, against the admin port.
    let probe = Command::new(bin)
        .args([
            "--berth-probe",
            "readyz",
            "--addr",
            &format!("127.0.0.1:{admin}"),
        ])
        .output()
        .unwrap();
    assert!(probe.status.success(), "{probe:?}");

    // Reload: replace the file; the greeting changes without a restart.
    let tmp = dir.path().join(".echo.toml.new");
    std::fs::write(&tmp, "greeting = \"hello\"\n").unwrap();
    std::fs::rename(&tmp, &config).unwrap();
    wait_for("the new greeting", Duration::from_secs(10), || {
        get(app, "/echo?msg=x").is_some_and(|(_, b)| b == "hello x")
    });
    assert!(
        get(admin, "/metrics")
            .unwrap()
            .1
            .contains("echo_config_reloads_total 1")
    );
    // An invalid file keeps the old configuration.
    std::fs::write(&tmp, "greeting = \n").unwrap();
    std::fs::rename(&tmp, &config).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(get(app, "/echo?msg=x").unwrap().1, "hello x");
    assert!(matches!(get(admin, "/readyz"), Some((200, _))));

    // SIGTERM with a slow request in flight: it completes, then the process exits 0.
    let slow = std::thread::spawn(move || get(app, "/slow?ms=1500"));
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    kill(daemon.child.id(), "-TERM");
    wait_for("readiness to fail", Duration::from_secs(5), || {
        matches!(get(admin, "/readyz"), Some((503, _)))
    });
    assert_eq!(
        slow.join().unwrap(),
        Some((200, "slept 1500 ms".to_owned()))
    );
    let status = daemon.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[test]
fn bad_environment_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_echo-daemon"))
        .env("ECHO_LISTEN", "not-an-address")
        .env("BERTH_ADMIN_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ECHO_LISTEN"));
}

fn spawn(app: u16, admin: u16, env: &[(&str, &std::ffi::OsStr)]) -> Daemon {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_echo-daemon"));
    cmd.env("ECHO_LISTEN", format!("127.0.0.1:{app}"))
        .env("BERTH_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env_remove("BERTH_CONFIG_FILE")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Daemon {
        child: cmd.spawn().unwrap(),
    }
}

/// #14: `BERTH_CONFIG_FILE` in a directory that does not exist (`docker run` without the
/// mount): the daemon starts with the defaults and is ready — the sidecar agrees — and reads
/// the file once the directory and the file appear.
#[test]
fn a_missing_config_directory_starts_with_defaults_and_is_picked_up_later() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("etc/echo-daemon/echo.toml");
    let (app, admin) = (free_port(), free_port());
    let mut daemon = spawn(
        app,
        admin,
        &[
            ("BERTH_CONFIG_FILE", config.as_os_str()),
            ("BERTH_PRE_STOP_DELAY", "0s".as_ref()),
        ],
    );
    wait_for("/readyz 200", Duration::from_secs(20), || {
        matches!(get(admin, "/readyz"), Some((200, _)))
    });
    assert_eq!(get(app, "/echo?msg=x"), Some((200, "echo x".to_owned())));
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "greeting = \"mounted\"\n").unwrap();
    wait_for("the mounted greeting", Duration::from_secs(10), || {
        get(app, "/echo?msg=x").is_some_and(|(_, b)| b == "mounted x")
    });
    kill(daemon.child.id(), "-TERM");
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));
}

/// #14: a slowloris client (half a request head) and a raw idle connection do not hold the
/// stop: with a 200 ms pre-stop delay and a 3 s drain, exit 0 within the delay + 500 ms.
#[test]
fn slowloris_and_idle_connections_do_not_hold_the_stop() {
    let (app, admin) = (free_port(), free_port());
    let mut daemon = spawn(
        app,
        admin,
        &[
            ("BERTH_PRE_STOP_DELAY", "200ms".as_ref()),
            ("BERTH_DRAIN_TIMEOUT", "3s".as_ref()),
        ],
    );
    wait_for("/readyz 200", Duration::from_secs(20), || {
        matches!(get(admin, "/readyz"), Some((200, _)))
    });
    let mut slowloris = TcpStream::connect(("127.0.0.1", app)).unwrap();
    slowloris
        .write_all(b"GET /echo?msg=x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let _raw = TcpStream::connect(("127.0.0.1", app)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    kill(daemon.child.id(), "-TERM");
    let status = daemon.child.wait().unwrap();
    let took = t0.elapsed();
    eprintln!("measured: slowloris stop (pre-stop 200ms, drain 3s) exit {status:?} after {took:?}");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(took < Duration::from_millis(700), "{took:?}");
}
