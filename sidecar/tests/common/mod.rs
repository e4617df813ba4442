//! Shared helpers: spawn the test daemon, talk HTTP over plain std sockets, send signals.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const DAEMON: &str = env!("CARGO_BIN_EXE_berth-sidecar-test-daemon");

/// What a 2-core machine at load average 20 adds, at worst seen, to an interval these tests
/// measure across processes (scheduling of the daemon, of the test thread, loopback I/O).
/// Every upper bound is the promise plus this slack: still far below the time the failure it
/// guards against would take (a pre-stop delay, a drain timeout, a check that runs 5 s).
pub const LOAD_SLACK: Duration = Duration::from_millis(250);

pub struct Daemon {
    pub child: Child,
    pub admin: SocketAddr,
    pub app: SocketAddr,
    pub lines: mpsc::Receiver<String>,
}

impl Daemon {
    /// Spawns the daemon with `env` (on top of a clean BERTH_* set) and `args`, and waits
    /// until it printed its addresses.
    pub fn spawn(env: &[(&str, &str)], args: &[&str]) -> Daemon {
        let mut cmd = Command::new(DAEMON);
        cmd.args(args)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("BERTH_ADMIN_ADDR", "127.0.0.1:0")
            .env("BERTH_PRE_STOP_DELAY", "0s")
            .env("BERTH_DRAIN_TIMEOUT", "5s")
            .env_remove("BERTH_CONFIG_FILE")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn test daemon");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("daemon printed no LISTENING line");
        let fields: HashMap<&str, &str> = first
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .split(' ')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        Daemon {
            admin: fields["admin"].parse().unwrap(),
            app: fields["app"].parse().unwrap(),
            child,
            lines: rx,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIG{sig}` (`TERM`, `INT`, `HUP`, `KILL`, `STOP`, `CONT`) with one system call,
    /// so a measured interval that starts just before it holds no fork of `kill`.
    pub fn signal(&self, sig: &str) {
        use rustix::process::{Pid, Signal, kill_process};
        let signal = match sig {
            "TERM" => Signal::TERM,
            "INT" => Signal::INT,
            "HUP" => Signal::HUP,
            "KILL" => Signal::KILL,
            "STOP" => Signal::STOP,
            "CONT" => Signal::CONT,
            other => panic!("no such signal in the tests: {other}"),
        };
        let pid = Pid::from_raw(self.pid() as i32).expect("a child's pid is positive");
        kill_process(pid, signal).unwrap_or_else(|e| panic!("kill -{sig}: {e}"));
    }

    /// Waits for the exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some((status, start.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    /// Waits for a stdout line starting with `prefix`.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Some(line),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Polls `path` on the admin port until it answers `status`.
    pub fn wait_admin(&self, path: &str, status: u16, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if let Ok(r) = get(self.admin, path)
                && r.status == status
            {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "{path} did not answer {status} within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse(&raw)
}

/// A keep-alive HTTP/1.1 connection reused for several requests.
pub struct KeepAlive {
    stream: BufReader<TcpStream>,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> std::io::Result<KeepAlive> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(KeepAlive {
            stream: BufReader::new(s),
        })
    }

    /// Waits at most `limit` for the server to close the connection, sending nothing (a
    /// request would restart the server's idle timer); whether it closed.
    pub fn closed_by_server_within(&mut self, limit: Duration) -> bool {
        let stream = self.stream.get_mut();
        let _ = stream.set_read_timeout(Some(limit.max(Duration::from_millis(1))));
        let mut byte = [0u8; 1];
        let closed = match stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false, // the server sent something instead
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        closed
    }

    pub fn get(&mut self, path: &str) -> std::io::Result<Response> {
        write!(
            self.stream.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"
        )?;
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            head.extend_from_slice(line.as_bytes());
            if line == "\r\n" {
                break;
            }
        }
        let mut r = parse(&head)?;
        let len: usize = r
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body)?;
        r.body = String::from_utf8_lossy(&body).into_owned();
        Ok(r)
    }
}

fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response {text:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}
