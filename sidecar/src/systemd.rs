//! The systemd notify protocol (`sd_notify(3)`), implemented over std's `UnixDatagram`.
//!
//! The sidecar uses it on its own when `NOTIFY_SOCKET` is set: `READY=1` when start-up
//! completes, `STATUS=` on every phase change, `STOPPING=1` on the first signal,
//! `EXTEND_TIMEOUT_USEC=` every 2 s while the drain is within its deadline, and `WATCHDOG=1`
//! every `WATCHDOG_USEC / 2` while liveness holds. Abstract sockets (`@name`) work.
//! Without `NOTIFY_SOCKET` (containers, plain runs) nothing is sent.
//!
//! ```
//! use berth_sidecar::systemd::Notifier;
//! // Not under systemd here: no socket, nothing to do.
//! # if std::env::var_os("NOTIFY_SOCKET").is_none() {
//! assert!(Notifier::from_env().is_none());
//! # }
//! ```

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::check::CheckKind;
use crate::health::Health;
use crate::lifecycle::Lifecycle;
use crate::state::Phase;

/// The `NOTIFY_SOCKET` environment variable.
///
/// ```
/// assert_eq!(berth_sidecar::systemd::ENV_NOTIFY_SOCKET, "NOTIFY_SOCKET");
/// ```
pub const ENV_NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// The `WATCHDOG_USEC` environment variable.
///
/// ```
/// assert_eq!(berth_sidecar::systemd::ENV_WATCHDOG_USEC, "WATCHDOG_USEC");
/// ```
pub const ENV_WATCHDOG_USEC: &str = "WATCHDOG_USEC";
/// The `WATCHDOG_PID` environment variable.
///
/// ```
/// assert_eq!(berth_sidecar::systemd::ENV_WATCHDOG_PID, "WATCHDOG_PID");
/// ```
pub const ENV_WATCHDOG_PID: &str = "WATCHDOG_PID";

/// A connection to systemd's notification socket.
///
/// ```no_run
/// use berth_sidecar::systemd::Notifier;
/// if let Some(n) = Notifier::from_env() {
///     n.notify("STATUS=warming the cache");
/// }
/// ```
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Connects to `NOTIFY_SOCKET` if it is set (and reads `WATCHDOG_USEC` /
    /// `WATCHDOG_PID`). Returns `None` when not running under systemd or when the socket
    /// address is unusable (logged).
    ///
    /// ```
    /// let _maybe = berth_sidecar::systemd::Notifier::from_env();
    /// ```
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var(ENV_NOTIFY_SOCKET).ok()?;
        let watchdog = watchdog_from(
            std::env::var(ENV_WATCHDOG_USEC).ok().as_deref(),
            std::env::var(ENV_WATCHDOG_PID).ok().as_deref(),
            std::process::id(),
        );
        match Notifier::connect(&path, watchdog) {
            Ok(n) => Some(n),
            Err(err) => {
                tracing::warn!(socket = %path, error = %err, "cannot use NOTIFY_SOCKET");
                None
            }
        }
    }

    /// A notifier for an explicit socket: a path, or `@name` for an abstract socket.
    ///
    /// ```no_run
    /// let n = berth_sidecar::systemd::Notifier::connect("/run/systemd/notify", None).unwrap();
    /// n.notify("READY=1");
    /// ```
    pub fn connect(socket: &str, watchdog: Option<Duration>) -> io::Result<Notifier> {
        let addr = if let Some(name) = socket.strip_prefix('@') {
            abstract_addr(name.as_bytes())?
        } else if socket.starts_with('/') {
            SocketAddr::from_pathname(socket)?
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "NOTIFY_SOCKET must be an absolute path or start with @",
            ));
        };
        Ok(Notifier {
            socket: UnixDatagram::unbound()?,
            addr,
            watchdog,
        })
    }

    /// Sends one notification (`READY=1`, `STATUS=...`, several lines joined by `\n`).
    /// Errors are logged at debug level: systemd notifications are best effort.
    ///
    /// ```no_run
    /// # let n = berth_sidecar::systemd::Notifier::connect("@x", None).unwrap();
    /// n.notify("STATUS=ready\nREADY=1");
    /// ```
    pub fn notify(&self, state: &str) {
        if let Err(err) = self.socket.send_to_addr(state.as_bytes(), &self.addr) {
            tracing::debug!(error = %err, state, "sd_notify failed");
        }
    }

    /// The watchdog period (`WATCHDOG_USEC`) if the watchdog is enabled for this process.
    ///
    /// ```no_run
    /// # let n = berth_sidecar::systemd::Notifier::connect("@x", None).unwrap();
    /// assert_eq!(n.watchdog(), None);
    /// ```
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets exist only on Linux",
    ))
}

/// `WATCHDOG_USEC` applies if `WATCHDOG_PID` is unset or names this process.
fn watchdog_from(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(me)
    {
        return None;
    }
    Some(Duration::from_micros(usec))
}

/// The systemd driver: notifications follow the lifecycle's phases, and the watchdog is
/// petted while liveness holds. Both tasks end with the lifecycle.
pub(crate) fn start(notifier: Notifier, lifecycle: Arc<Lifecycle>, health: Arc<Health>) {
    let notifier = Arc::new(notifier);
    if let Some(period) = notifier.watchdog() {
        lifecycle.spawn_driver(watchdog(
            notifier.clone(),
            period,
            lifecycle.clone(),
            health,
        ));
    }
    lifecycle.spawn_driver(follow_phases(notifier, lifecycle.clone()));
}

/// `STATUS=` for every phase, `READY=1` on entering `Ready`, `STOPPING=1` on entering
/// `Draining`, then `EXTEND_TIMEOUT_USEC=` every 2 s once the drain runs.
async fn follow_phases(n: Arc<Notifier>, lifecycle: Arc<Lifecycle>) {
    let mut phases = lifecycle.transitions();
    while let Some(phase) = phases.next().await {
        match phase {
            Phase::Ready => n.notify("READY=1"),
            Phase::Draining => n.notify("STOPPING=1"),
            Phase::Starting | Phase::Stopped => {}
        }
        n.notify(&status(&lifecycle, phase));
        if phase == Phase::Draining {
            let stopped = lifecycle.stopped_token().clone();
            tokio::select! {
                _ = extend_stop_timeout(&n, &lifecycle) => {}
                _ = stopped.cancelled() => {}
            }
        }
    }
}

fn status(lifecycle: &Lifecycle, phase: Phase) -> String {
    match phase {
        Phase::Draining => format!(
            "STATUS=draining: {} request(s) in flight, {} task(s)",
            lifecycle.in_flight(),
            lifecycle.task_count()
        ),
        other => format!("STATUS={other}"),
    }
}

/// Once the pre-stop delay is over, keeps systemd's stop timeout ahead of the drain deadline
/// (the time left + [`contract::STOP_MARGIN`](crate::contract::STOP_MARGIN)) and the `STATUS=` line current, every 2 s. Never returns.
async fn extend_stop_timeout(n: &Notifier, lifecycle: &Lifecycle) {
    lifecycle.shutdown_token().cancelled().await;
    let Some(deadline) = lifecycle.drain_deadline() else {
        return std::future::pending().await;
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let extend = left + crate::contract::STOP_MARGIN;
        n.notify(&format!("EXTEND_TIMEOUT_USEC={}", extend.as_micros()));
        n.notify(&status(lifecycle, Phase::Draining));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Pets the watchdog every half period while liveness holds.
async fn watchdog(
    n: Arc<Notifier>,
    period: Duration,
    lifecycle: Arc<Lifecycle>,
    health: Arc<Health>,
) {
    let every = (period / 2).max(Duration::from_millis(1));
    tracing::info!(every = ?every, "systemd watchdog enabled");
    let stopped = lifecycle.stopped_token().clone();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut petting = true;
    loop {
        tokio::select! {
            _ = stopped.cancelled() => return,
            _ = tick.tick() => {}
        }
        let live = health.passes(CheckKind::Liveness);
        if live {
            n.notify("WATCHDOG=1");
            if !petting {
                tracing::info!("liveness restored; petting the systemd watchdog again");
            }
        } else if petting {
            tracing::error!("liveness failing; no longer petting the systemd watchdog");
        }
        petting = live;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_env_rules() {
        assert_eq!(watchdog_from(None, None, 7), None);
        assert_eq!(
            watchdog_from(Some("30000000"), None, 7),
            Some(Duration::from_secs(30))
        );
        assert_eq!(watchdog_from(Some("30000000"), Some("8"), 7), None);
        assert_eq!(
            watchdog_from(Some("1000"), Some("7"), 7),
            Some(Duration::from_millis(1))
        );
        assert_eq!(watchdog_from(Some("0"), None, 7), None);
        assert_eq!(watchdog_from(Some("x"), None, 7), None);
    }

    #[test]
    fn sends_to_path_and_abstract_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::connect(path.to_str().unwrap(), None).unwrap();
        n.notify("READY=1");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");

        let name = format!("berth-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&abstract_addr(name.as_bytes()).unwrap()).unwrap();
        let n = Notifier::connect(&format!("@{name}"), None).unwrap();
        n.notify("STOPPING=1");
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");

        assert!(Notifier::connect("relative.sock", None).is_err());
    }
}
