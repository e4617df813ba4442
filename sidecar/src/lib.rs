//! berth-sidecar: the runtime half of berth.
//!
//! The manifests `berth generate` writes promise things only the process itself can keep: a
//! pre-stop delay with readiness failing, a drain deadline, health endpoints on an admin
//! port, `READY=1` and watchdog pings for systemd, a probe that needs no curl. This crate keeps
//! those promises. See `docs/sidecar.md` for the lifecycle, the exit codes and why liveness
//! excludes dependencies.
//!
//! ```no_run
//! use berth_sidecar::Check;
//!
//! fn main() -> std::process::ExitCode {
//!     // Probe mode (`<bin> --berth-probe readyz`), logging, the BERTH_* environment (exit 2
//!     // when malformed), the runtime and the exit code (0 / 124 / 130 / 143) are run's job.
//!     berth_sidecar::run(|builder| async move {
//!         let sidecar = builder
//!             .check(Check::readiness("db", || async { Ok::<(), String>(()) }))
//!             .start()
//!             .await?; // binds the admin port: exit 1 with the OS reason if it cannot
//!         let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
//!         sidecar.serve(berth_sidecar::bind("0.0.0.0:8080").await?, app);
//!         sidecar.mark_ready();
//!         Ok(sidecar) // run waits for SIGTERM, the pre-stop delay and the drain
//!     })
//! }
//! ```
//!
//! A daemon that owns its runtime uses [`run_async`], or the parts: [`probe::run_if_requested`],
//! [`logging::init`], [`Builder::from_env`], [`Builder::start`], [`Sidecar::run`].
//!
//! # Inside
//!
//! The crate is split by concern, and the dependencies point one way: the facade
//! ([`Builder`], [`Sidecar`], [`Handle`]) wires the *lifecycle* (phase, stop requests,
//! drain deadline, tracked work), *health* (start-up latches, checks, reports), the servers
//! (admin port, application) and the *drivers* — Unix signals, systemd — which only follow
//! the lifecycle's phases and make its control calls (stop, forced stop, reload).

//! # Windows services
//!
//! With the `windows` feature, the same `main` runs as a Windows service: on Windows, [`run`]
//! hands the main thread to the Service Control Manager's dispatcher when the SCM started the
//! process, and the SCM drives the lifecycle — START_PENDING until [`Handle::mark_ready`],
//! RUNNING, STOP / PRESHUTDOWN / SHUTDOWN drain exactly like SIGTERM (STOP_PENDING with an
//! increasing checkpoint and a wait hint covering the rest of the budget), PARAMCHANGE reloads
//! like SIGHUP, STOPPED carries the exit code (0, or the service-specific 124 after a forced
//! drain). Started from a console, it runs as usual: Ctrl-C, Ctrl-Break or closing the console
//! drain, a second one exits at once. The feature changes nothing on other platforms.
//!
//! ```no_run
//! // Cargo.toml: berth-sidecar = { version = "0.1", features = ["windows"] }
//! fn main() -> std::process::ExitCode {
//!     berth_sidecar::run(|builder| async move {
//!         let sidecar = builder
//!             .on_reload(|_reload: berth_sidecar::Reload| async { Ok::<(), String>(()) }) // PARAMCHANGE
//!             .start()
//!             .await?;
//!         sidecar.mark_ready(); // SERVICE_RUNNING from here on
//!         Ok(sidecar)
//!     })
//! }
//! ```
//!
//! `berth generate` writes the `cmd.exe` scripts that install such a service
//! (`deploy/windows/`); a service has no console, so they set
//! [`contract::ENV_EVENT_LOG_SOURCE`] (and register that event source) and
//! [`contract::ENV_LOG_FILE`]: [`logging::init`] reports each log line to the Windows Event
//! Log under the service's own source and appends it to the log file.
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
//! | `windows` | no | run as a Windows service: the Service Control Manager drives the lifecycle (the `windows` module, documented on Windows builds); log lines to the Windows Event Log ([`contract::ENV_EVENT_LOG_SOURCE`]) | windows-service, windows-sys, on Windows only (nothing elsewhere) |
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
mod entry;
#[cfg(feature = "runtime")]
mod error;
#[cfg(all(feature = "windows", windows))]
mod eventlog;
#[cfg(feature = "runtime")]
mod exit;
#[cfg(feature = "runtime")]
mod health;
#[cfg(feature = "runtime")]
mod lifecycle;
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
mod signals;
#[cfg(feature = "runtime")]
mod state;
#[cfg(all(feature = "systemd", unix))]
pub mod systemd;
#[cfg(feature = "runtime")]
mod verdict;
#[cfg(all(feature = "windows", windows))]
pub mod windows;

#[cfg(feature = "runtime")]
pub use crate::{
    check::{Check, CheckKind},
    entry::{BoxError, UsageError, run, run_async},
    error::Error,
    exit::{EXIT_DRAIN_TIMEOUT, Exit, Signal},
    serve::bind,
    sidecar::{Builder, DrainGuard, Handle, Sidecar, StartupLatch},
    state::Phase,
};

#[cfg(feature = "reload")]
pub use crate::reload::{Reload, ReloadTrigger};

#[cfg(feature = "metrics")]
pub use prometheus_client;

#[cfg(feature = "runtime")]
pub use tokio_util::sync::CancellationToken;
