//! echo-daemon: the berth example Deployment.
//!
//! An axum HTTP service (`GET /echo`, `GET /slow`, `GET /`) on `ECHO_LISTEN`, run by
//! berth-sidecar: health endpoints on the admin port, the pre-stop delay and drain on
//! SIGTERM, `READY=1` for systemd, a `config` readiness check, a `debug` liveness check, and
//! the configuration file reloaded on change (`echo_config_reloads_total`).
#![warn(missing_docs)]

pub mod app;
pub mod config;

pub use app::{AppState, router};
pub use config::{Config, ConfigError};
