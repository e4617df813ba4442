//! The built binary as a process, with a fake host /proc: the load average and the node name
//! in /metrics, a configuration reload (interval and labels) without a restart, SIGTERM → 0.

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

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
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

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn metrics_contain(admin: u16, needle: &str) -> bool {
    get(admin, "/metrics").is_some_and(|(s, b)| s == 200 && b.contains(needle))
}

#[test]
fn exports_the_host_load_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir(&proc_dir).unwrap();
    std::fs::write(proc_dir.join("loadavg"), "1.25 0.50 0.75 1/100 42\n").unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "interval = \"10s\"\n[labels]\nrole = \"test\"\n").unwrap();
    let admin = free_port();
    let mut daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_node-agent"))
            .env("NODE_AGENT_PROC", &proc_dir)
            .env("NODE_NAME", "node-7")
            .env("BERTH_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("BERTH_CONFIG_FILE", &config)
            .env("BERTH_PRE_STOP_DELAY", "0s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("/readyz 200", Duration::from_secs(20), || {
        matches!(get(admin, "/readyz"), Some((200, _)))
    });
    let text = get(admin, "/metrics").unwrap().1;
    assert!(text.contains("node_agent_load1 1.25\n"), "{text}");
    assert!(text.contains("node_agent_load15 0.75\n"), "{text}");
    assert!(
        text.contains("node_agent_info{node=\"node-7\",role=\"test\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("node_agent_config_reloads_total 0\n"),
        "{text}"
    );

    // With a 10 s interval a new value is not read yet; after the reload to 100ms it is.
    std::fs::write(proc_dir.join("loadavg"), "4.00 3.00 2.00 1/100 42\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(metrics_contain(admin, "node_agent_load1 1.25\n"));
    let tmp = dir.path().join(".agent.toml.new");
    std::fs::write(&tmp, "interval = \"100ms\"\n[labels]\nrole = \"changed\"\n").unwrap();
    std::fs::rename(&tmp, &config).unwrap();
    wait_for("the reloaded labels", Duration::from_secs(10), || {
        metrics_contain(
            admin,
            "node_agent_info{node=\"node-7\",role=\"changed\"} 1\n",
        )
    });
    wait_for("the new load sample", Duration::from_secs(5), || {
        metrics_contain(admin, "node_agent_load1 4.0\n")
    });
    let text = get(admin, "/metrics").unwrap().1;
    assert!(
        text.contains("node_agent_config_reloads_total 1\n"),
        "{text}"
    );
    assert!(!text.contains("role=\"test\""), "{text}");

    // An unreadable loadavg makes the agent unready (the readiness check runs every 10 s).
    std::fs::remove_file(proc_dir.join("loadavg")).unwrap();
    wait_for("read errors", Duration::from_secs(5), || {
        get(admin, "/metrics").is_some_and(|(_, b)| !b.contains("node_agent_read_errors_total 0\n"))
    });

    let status = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
}

#[test]
fn invalid_config_at_start_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "interval = \"fast\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_node-agent"))
        .env("BERTH_CONFIG_FILE", &config)
        .env("BERTH_ADMIN_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interval"));
}
