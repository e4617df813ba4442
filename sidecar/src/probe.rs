//! Probe mode: `<bin> --berth-probe <livez|readyz|startupz> [--addr HOST:PORT]`.
//!
//! The generated Docker `HEALTHCHECK` and the `helm test` pod run the daemon's own binary in
//! probe mode, so images need neither curl nor a shell. The probe is a blocking HTTP/1.0
//! `GET` over std's `TcpStream` (no runtime is started) that exits 0 on a 200 answer and 1
//! otherwise, always within 2 seconds.
//!
//! ```no_run
//! // first line of `main`:
//! berth_sidecar::probe::run_if_requested(); // exits here in probe mode
//! // ... the daemon proper
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::contract::{
    DEFAULT_ADMIN_ADDR, ENV_ADMIN_ADDR, PATH_LIVEZ, PATH_READYZ, PATH_STARTUPZ, PROBE_ADDR_FLAG,
    PROBE_FLAG,
};

/// The whole probe, connect to last byte, takes at most this long.
///
/// ```
/// assert_eq!(berth_sidecar::probe::PROBE_TIMEOUT.as_secs(), 2);
/// ```
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed probe request.
///
/// ```
/// use berth_sidecar::probe::Probe;
/// let p = Probe::from_args(["app", "--berth-probe", "readyz", "--addr", "127.0.0.1:9091"])
///     .unwrap()
///     .unwrap();
/// assert_eq!(p.path, "/readyz");
/// assert_eq!(p.addr, "127.0.0.1:9091");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The endpoint, e.g. `/readyz`.
    pub path: &'static str,
    /// `HOST:PORT` to connect to (wildcard hosts already mapped to loopback).
    pub addr: String,
}

impl Probe {
    /// Parses the command line: `Ok(None)` when `--berth-probe` is not the first argument
    /// (normal start), `Err` with a usage message when the probe arguments are wrong.
    /// Without `--addr`, `BERTH_ADMIN_ADDR` (default `0.0.0.0:9090`) is used with `0.0.0.0`
    /// mapped to `127.0.0.1` and `[::]` to `[::1]`.
    ///
    /// ```
    /// use berth_sidecar::probe::Probe;
    /// assert_eq!(Probe::from_args(["app", "--port", "1"]).unwrap(), None);
    /// assert!(Probe::from_args(["app", "--berth-probe", "healthz"]).is_err());
    /// ```
    pub fn from_args<I, S>(args: I) -> Result<Option<Probe>, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<String> = args.into_iter().map(|s| s.as_ref().to_owned()).collect();
        if args.get(1).map(String::as_str) != Some(PROBE_FLAG) {
            return Ok(None);
        }
        let usage =
            || format!("usage: {PROBE_FLAG} <livez|readyz|startupz> [{PROBE_ADDR_FLAG} HOST:PORT]");
        let path = match args.get(2).map(String::as_str) {
            Some("livez") => PATH_LIVEZ,
            Some("readyz") => PATH_READYZ,
            Some("startupz") => PATH_STARTUPZ,
            _ => return Err(usage()),
        };
        let addr = match &args[3..] {
            [] => std::env::var(ENV_ADMIN_ADDR)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_ADMIN_ADDR.to_owned()),
            [flag, addr] if flag == PROBE_ADDR_FLAG => addr.clone(),
            _ => return Err(usage()),
        };
        Ok(Some(Probe {
            path,
            addr: loopback(addr.trim()),
        }))
    }

    /// Runs the probe: `Ok(())` on a 200 answer, `Err` with the reason otherwise. Never
    /// takes longer than [`PROBE_TIMEOUT`].
    ///
    /// ```
    /// use berth_sidecar::probe::Probe;
    /// // Nothing listens on port 1.
    /// let p = Probe { path: "/livez", addr: "127.0.0.1:1".into() };
    /// assert!(p.run().is_err());
    /// ```
    pub fn run(&self) -> Result<(), String> {
        let deadline = Instant::now() + PROBE_TIMEOUT;
        let addrs: Vec<SocketAddr> = self
            .addr
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.addr))?
            .collect();
        let mut last_err = format!("{} resolved to no address", self.addr);
        for addr in addrs {
            match self.try_addr(addr, deadline) {
                Ok(200) => return Ok(()),
                Ok(status) => {
                    return Err(format!(
                        "http://{}{}: status {status}",
                        self.addr, self.path
                    ));
                }
                Err(e) => last_err = format!("http://{}{}: {e}", self.addr, self.path),
            }
        }
        Err(last_err)
    }

    fn try_addr(&self, addr: SocketAddr, deadline: Instant) -> io::Result<u16> {
        let left = || {
            deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"))
        };
        let mut stream = TcpStream::connect_timeout(&addr, left()?)?;
        stream.set_write_timeout(Some(left()?))?;
        let host = self.addr.as_str();
        write!(
            stream,
            "GET {} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: berth-probe\r\n\r\n",
            self.path
        )?;
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        // Only the status line matters; stop reading once it is complete.
        while !buf.contains(&b'\n') && buf.len() < 4096 {
            stream.set_read_timeout(Some(left()?))?;
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        parse_status(&buf)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status line"))
    }
}

fn parse_status(buf: &[u8]) -> Option<u16> {
    let line = buf.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Maps wildcard bind hosts to the loopback address a client can connect to.
fn loopback(addr: &str) -> String {
    if let Some(port) = addr.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = addr.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        addr.to_owned()
    }
}

/// Call first thing in `main`: in probe mode (`--berth-probe` as the first argument) it
/// probes the admin endpoint and exits the process with 0 (200) or 1 (anything else, or a
/// usage error); otherwise it returns and the daemon starts normally.
///
/// ```no_run
/// berth_sidecar::probe::run_if_requested();
/// ```
pub fn run_if_requested() {
    match Probe::from_args(std::env::args()) {
        Ok(None) => {}
        Ok(Some(probe)) => match probe.run() {
            Ok(()) => std::process::exit(0),
            Err(err) => {
                eprintln!("berth probe: {err}");
                std::process::exit(1);
            }
        },
        Err(usage) => {
            eprintln!("berth probe: {usage}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn maps_wildcards_to_loopback() {
        assert_eq!(loopback("0.0.0.0:9090"), "127.0.0.1:9090");
        assert_eq!(loopback("[::]:9090"), "[::1]:9090");
        assert_eq!(loopback("10.0.0.1:9090"), "10.0.0.1:9090");
    }

    #[test]
    fn parses_status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"garbage\r\n"), None);
    }

    #[test]
    fn args() {
        let p = Probe::from_args(["x", "--berth-probe", "livez", "--addr", "0.0.0.0:1"])
            .unwrap()
            .unwrap();
        assert_eq!(p.addr, "127.0.0.1:1");
        assert!(Probe::from_args(["x", "--berth-probe"]).is_err());
        assert!(Probe::from_args(["x", "--berth-probe", "livez", "--addr"]).is_err());
        assert!(Probe::from_args(["x", "--berth-probe", "livez", "extra", "1"]).is_err());
    }

    fn one_shot_server(response: &'static [u8], delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                std::thread::sleep(delay);
                let _ = s.write_all(response);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        addr
    }

    #[test]
    fn ok_on_200_and_error_otherwise() {
        let addr = one_shot_server(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            Duration::ZERO,
        );
        assert!(
            Probe {
                path: "/readyz",
                addr
            }
            .run()
            .is_ok()
        );
        let addr = one_shot_server(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", Duration::ZERO);
        let err = Probe {
            path: "/readyz",
            addr,
        }
        .run()
        .unwrap_err();
        assert!(err.contains("503"), "{err}");
    }

    #[test]
    fn a_silent_server_times_out_within_two_seconds() {
        let addr = one_shot_server(b"HTTP/1.1 200 OK\r\n\r\n", Duration::from_secs(5));
        let start = Instant::now();
        assert!(
            Probe {
                path: "/livez",
                addr
            }
            .run()
            .is_err()
        );
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(2300),
            "{took:?}"
        );
    }
}
