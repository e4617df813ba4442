//! What the Rust peers share: their command line, the application router (the very router
//! of `examples/echo-daemon`, so only the runtime around it differs) and the probe routes.
//!
//! A peer is stopped the way its documentation shows, plus the pre-stop delay a careful
//! user adds by hand: on SIGTERM or SIGINT `/readyz` answers 503, the daemon keeps serving
//! for `--pre-stop-delay`, then the graceful shutdown starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use berth_sidecar::contract::parse_duration;
use echo_daemon::{AppState, Config};
use tokio::net::TcpListener;

use crate::BenchError;

/// The command line of a peer:
/// `--app ADDR --admin ADDR [--pre-stop-delay DURATION] [--drain-timeout DURATION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerArgs {
    /// Where the application routes are served.
    pub app: SocketAddr,
    /// Where `/livez`, `/readyz` and `/startupz` are served.
    pub admin: SocketAddr,
    /// Time between the signal and the start of the graceful shutdown (default 0s).
    pub pre_stop_delay: Duration,
    /// Deadline of the graceful shutdown, for peers that have one (default 5s).
    pub drain_timeout: Duration,
}

impl PeerArgs {
    /// Parses the arguments after the program name.
    ///
    /// ```
    /// use berth_bench::peer::PeerArgs;
    /// let a = PeerArgs::parse(["--app", "127.0.0.1:1", "--admin", "127.0.0.1:2", "--pre-stop-delay", "1s"]
    ///     .map(String::from)).unwrap();
    /// assert_eq!(a.pre_stop_delay, std::time::Duration::from_secs(1));
    /// assert!(PeerArgs::parse(["--app".to_owned()]).is_err());
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<PeerArgs, BenchError> {
        let mut app = None;
        let mut admin = None;
        let mut pre_stop_delay = Duration::ZERO;
        let mut drain_timeout = Duration::from_secs(5);
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
            let addr = |v: &str| {
                v.parse::<SocketAddr>()
                    .map_err(|e| BenchError::Usage(format!("{flag} {v}: {e}")))
            };
            let duration =
                |v: &str| parse_duration(v).map_err(|e| BenchError::Usage(format!("{flag}: {e}")));
            match flag.as_str() {
                "--app" => app = Some(addr(&value)?),
                "--admin" => admin = Some(addr(&value)?),
                "--pre-stop-delay" => pre_stop_delay = duration(&value)?,
                "--drain-timeout" => drain_timeout = duration(&value)?,
                other => return Err(BenchError::Usage(format!("unknown argument {other}"))),
            }
        }
        Ok(PeerArgs {
            app: app.ok_or_else(|| BenchError::Usage("--app is required".into()))?,
            admin: admin.ok_or_else(|| BenchError::Usage("--admin is required".into()))?,
            pre_stop_delay,
            drain_timeout,
        })
    }

    /// Parses the process's own arguments.
    pub fn from_env() -> Result<PeerArgs, BenchError> {
        PeerArgs::parse(std::env::args().skip(1))
    }
}

/// What both Rust peers start from: their command line, the two listeners, and the
/// readiness flag (set) that [`pre_stop`] clears.
pub struct Peer {
    /// The parsed command line.
    pub args: PeerArgs,
    /// Bound to `args.app`.
    pub app: TcpListener,
    /// Bound to `args.admin`.
    pub admin: TcpListener,
    /// `/readyz` answers 200 while it is set.
    pub ready: Arc<AtomicBool>,
}

impl Peer {
    /// Parses the process's arguments and binds both ports. On failure the error is printed
    /// and the process exits: 2 for a bad command line, 1 when a port cannot be bound.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let berth_bench::peer::Peer { args, app, admin, ready } = berth_bench::peer::Peer::start().await;
    /// # }
    /// ```
    pub async fn start() -> Peer {
        let args = PeerArgs::from_env().unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        });
        match (
            TcpListener::bind(args.app).await,
            TcpListener::bind(args.admin).await,
        ) {
            (Ok(app), Ok(admin)) => Peer {
                args,
                app,
                admin,
                ready: Arc::new(AtomicBool::new(true)),
            },
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: cannot bind: {e}");
                std::process::exit(1)
            }
        }
    }
}

/// The application router of `examples/echo-daemon` (`/`, `/echo`, `/slow`), default
/// configuration, no debug routes.
pub fn app_router() -> Router {
    echo_daemon::router(AppState::new(Config::default(), false))
}

/// `/livez` and `/startupz` always 200; `/readyz` 200 while `ready` is set, 503 after.
pub fn admin_router(ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/startupz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(ready)
}

async fn readyz(State(ready): State<Arc<AtomicBool>>) -> (StatusCode, &'static str) {
    if ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    }
}

/// The readiness flip and the pre-stop delay: resolves `delay` after `signal` resolved,
/// with `ready` cleared in between.
pub async fn pre_stop(
    signal: impl std::future::Future<Output = ()>,
    ready: Arc<AtomicBool>,
    delay: Duration,
) {
    signal.await;
    ready.store(false, Ordering::Relaxed);
    tokio::time::sleep(delay).await;
}

/// Resolves on the first SIGTERM or SIGINT.
pub async fn terminate_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("error: cannot install the signal handlers");
        std::process::exit(1);
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        let a = PeerArgs::parse(
            [
                "--admin",
                "127.0.0.1:2",
                "--app",
                "127.0.0.1:1",
                "--drain-timeout",
                "250ms",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(
            a,
            PeerArgs {
                app: "127.0.0.1:1".parse().unwrap(),
                admin: "127.0.0.1:2".parse().unwrap(),
                pre_stop_delay: Duration::ZERO,
                drain_timeout: Duration::from_millis(250),
            }
        );
        for bad in [
            &["--app", "nope", "--admin", "127.0.0.1:2"][..],
            &["--admin", "127.0.0.1:2"],
            &[
                "--app",
                "127.0.0.1:1",
                "--admin",
                "127.0.0.1:2",
                "--pre-stop-delay",
                "5",
            ],
            &["--app", "127.0.0.1:1", "--admin", "127.0.0.1:2", "--x", "1"],
        ] {
            assert!(
                PeerArgs::parse(bad.iter().map(|s| s.to_string())).is_err(),
                "{bad:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pre_stop_flips_readiness_then_waits() {
        let ready = Arc::new(AtomicBool::new(true));
        let start = tokio::time::Instant::now();
        pre_stop(async {}, ready.clone(), Duration::from_secs(3)).await;
        assert!(!ready.load(Ordering::Relaxed));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
