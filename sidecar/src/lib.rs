//! berth-sidecar: the runtime half of berth.
//!
//! The manifests `berth generate` writes promise things only the process itself can keep: a
//! pre-stop delay with readiness failing, a drain deadline, health endpoints on an admin
//! port, `READY=1` and watchdog pings for systemd, a probe that needs no curl. This crate keeps
//! those promises. See `docs/sidecar.md` for the lifecycle, the exit codes and why liveness
//! excludes dependencies.
//!
//! ```no_run
//! use berth_sidecar::{Check, Sidecar};
//! use std::process::ExitCode;
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     berth_sidecar::probe::run_if_requested(); // `<bin> --berth-probe readyz`
//!     berth_sidecar::logging::init();
//!     let sidecar = match berth_sidecar::Builder::from_env() {
//!         Ok(builder) => builder,
//!         Err(err) => {
//!             eprintln!("{err}");
//!             return ExitCode::from(2);
//!         }
//!     }
//!     .check(Check::readiness("db", || async { Ok::<(), String>(()) }))
//!     .start()
//!     .await
//!     .expect("admin server");
//!     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await.unwrap();
//!     sidecar.serve(listener, app);
//!     sidecar.mark_ready();
//!     sidecar.run().await.into()
//! }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | adds | dependency cost |
//! |---|---|---|---|
//! | *(none)* | | [`contract`] only | none: std only, what the generator links |
//! | `runtime` | yes | admin server, lifecycle, drain, checks, [`probe`], [`logging`] | tokio, tokio-util, axum (no default features), hyper, hyper-util, tower, tracing, tracing-subscriber, thiserror, http-body-util, futures-util |
//! | `metrics` | yes | `/metrics`, [`Handle::metrics_registry`] | prometheus-client (+ its small deps: dtoa, itoa, parking_lot) |
//! | `systemd` | yes | `sd_notify` protocol and watchdog ([`systemd`]) | none: std's `UnixDatagram` |
//! | `reload` | yes | SIGHUP and `BERTH_CONFIG_FILE` watching ([`Builder::on_reload`]) | notify (inotify on Linux) |
//!
//! Trim a daemon with `default-features = false, features = ["runtime", "systemd"]`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod contract;

#[cfg(feature = "runtime")]
mod admin;
#[cfg(feature = "runtime")]
mod check;
#[cfg(feature = "runtime")]
mod error;
#[cfg(feature = "runtime")]
mod exit;
#[cfg(feature = "runtime")]
pub mod logging;
#[cfg(feature = "runtime")]
mod metrics;
#[cfg(feature = "runtime")]
pub mod probe;
#[cfg(feature = "reload")]
mod reload;
#[cfg(feature = "runtime")]
mod serve;
#[cfg(feature = "runtime")]
mod sidecar;
#[cfg(feature = "runtime")]
mod state;
#[cfg(feature = "systemd")]
pub mod systemd;

#[cfg(feature = "runtime")]
pub use crate::{
    check::{Check, CheckKind},
    error::Error,
    exit::{EXIT_DRAIN_TIMEOUT, Exit, Signal},
    sidecar::{Builder, DrainGuard, Handle, Sidecar, StartupLatch},
    state::Phase,
};

#[cfg(feature = "reload")]
pub use crate::reload::{Reload, ReloadTrigger};

#[cfg(feature = "metrics")]
pub use prometheus_client;

#[cfg(feature = "runtime")]
pub use tokio_util::sync::CancellationToken;
