//! The HTTP application: `/`, `/echo`, `/slow` and, with `ECHO_DEBUG=true`, `/debug/*`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::config::Config;

/// The longest `GET /slow` sleeps, whatever it is asked.
pub const MAX_SLOW: Duration = Duration::from_millis(120_000);

/// State shared by the handlers, the reload hook and the checks.
#[derive(Debug, Clone)]
pub struct AppState {
    config: Arc<RwLock<Config>>,
    debug: bool,
    liveness_failing: Arc<AtomicBool>,
}

impl AppState {
    /// State serving `config`; `debug` enables the `/debug/*` endpoints.
    pub fn new(config: Config, debug: bool) -> AppState {
        AppState {
            config: Arc::new(RwLock::new(config)),
            debug,
            liveness_failing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The current greeting.
    pub fn greeting(&self) -> String {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .greeting
            .clone()
    }

    /// Replaces the configuration (the reload hook calls this).
    pub fn set_config(&self, config: Config) {
        *self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = config;
    }

    /// The `debug` liveness check: fails only after `POST /debug/liveness?fail=true`.
    pub fn liveness(&self) -> Result<(), String> {
        if self.liveness_failing.load(Ordering::Relaxed) {
            Err("failing on request (POST /debug/liveness?fail=true)".to_owned())
        } else {
            Ok(())
        }
    }
}

/// The application router (the admin port is the sidecar's, not this).
pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/", get(root))
        .route("/echo", get(echo))
        .route("/slow", get(slow));
    if state.debug {
        app = app
            .route("/debug/liveness", post(debug_liveness))
            .route("/debug/write", post(debug_write))
            .route("/debug/identity", get(debug_identity));
    }
    app.with_state(state)
}

async fn root() -> &'static str {
    "echo-daemon: try GET /echo?msg=hello or GET /slow?ms=500\n"
}

#[derive(Deserialize)]
struct EchoQuery {
    #[serde(default)]
    msg: String,
}

async fn echo(State(state): State<AppState>, Query(q): Query<EchoQuery>) -> String {
    format!("{} {}", state.greeting(), q.msg)
}

#[derive(Deserialize)]
struct SlowQuery {
    #[serde(default)]
    ms: u64,
}

/// The sleep `GET /slow?ms=N` does: N ms, at most [`MAX_SLOW`].
pub fn slow_duration(ms: u64) -> Duration {
    Duration::from_millis(ms).min(MAX_SLOW)
}

async fn slow(Query(q): Query<SlowQuery>) -> String {
    let d = slow_duration(q.ms);
    tokio::time::sleep(d).await;
    format!("slept {} ms", d.as_millis())
}

#[derive(Deserialize)]
struct FailQuery {
    fail: bool,
}

async fn debug_liveness(State(state): State<AppState>, Query(q): Query<FailQuery>) -> String {
    state.liveness_failing.store(q.fail, Ordering::Relaxed);
    tracing::warn!(fail = q.fail, "debug: liveness check forced");
    format!("liveness fail={}", q.fail)
}

#[derive(Deserialize)]
struct WriteQuery {
    path: String,
}

async fn debug_write(Query(q): Query<WriteQuery>) -> (StatusCode, String) {
    let result = tokio::task::spawn_blocking(move || {
        std::fs::write(&q.path, b"written by echo-daemon\n").map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok(())) => (StatusCode::OK, "ok".to_owned()),
        Ok(Err(err)) => (StatusCode::INTERNAL_SERVER_ERROR, err),
        Err(join) => (StatusCode::INTERNAL_SERVER_ERROR, join.to_string()),
    }
}

async fn debug_identity() -> (StatusCode, String) {
    match process_ids() {
        Ok((uid, gid)) => (StatusCode::OK, format!("uid={uid} gid={gid}")),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err),
    }
}

/// The real uid and gid of this process, from `/proc/self/status` (no `unsafe`, no libc).
pub fn process_ids() -> Result<(u32, u32), String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    parse_ids(&status).ok_or_else(|| "no Uid/Gid lines in /proc/self/status".to_owned())
}

fn parse_ids(status: &str) -> Option<(u32, u32)> {
    let field = |name: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("Uid:")?, field("Gid:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_is_capped() {
        assert_eq!(slow_duration(250), Duration::from_millis(250));
        assert_eq!(slow_duration(u64::MAX), MAX_SLOW);
    }

    #[test]
    fn parses_proc_status_ids() {
        let s = "Name:\tx\nUid:\t65532\t65532\t65532\t65532\nGid:\t100\t100\t100\t100\n";
        assert_eq!(parse_ids(s), Some((65532, 100)));
        assert_eq!(parse_ids("Name: x\n"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn process_ids_are_those_of_proc_self() {
        // /proc/self belongs to the process's effective ids (real = effective here).
        use std::os::unix::fs::MetadataExt;
        let (uid, gid) = process_ids().unwrap();
        let meta = std::fs::metadata("/proc/self").unwrap();
        assert_eq!((uid, gid), (meta.uid(), meta.gid()));
    }

    #[test]
    fn liveness_follows_the_flag() {
        let s = AppState::new(Config::default(), true);
        assert!(s.liveness().is_ok());
        s.liveness_failing.store(true, Ordering::Relaxed);
        assert!(s.liveness().is_err());
    }

    #[test]
    fn set_config_changes_the_greeting() {
        let s = AppState::new(Config::default(), false);
        assert_eq!(s.greeting(), "echo");
        s.set_config(Config {
            greeting: "hi".into(),
        });
        assert_eq!(s.greeting(), "hi");
    }
}
