//! echo-daemon: the berth example Deployment (see README.md).
//!
//! Environment: `ECHO_LISTEN` (default `0.0.0.0:8080`), `ECHO_STARTUP_DELAY` (default `0s`),
//! `ECHO_DEBUG` (`true` enables `/debug/*`), and berth's `BERTH_*` contract.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_sidecar::prometheus_client::metrics::counter::Counter;
use berth_sidecar::{Check, Reload, UsageError};
use echo_daemon::{AppState, Config, router};

const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

/// The daemon's own settings, from its environment.
struct Settings {
    listen: SocketAddr,
    startup_delay: Duration,
    debug: bool,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let listen_text = var("ECHO_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text
            .parse()
            .map_err(|e| format!("ECHO_LISTEN={listen_text:?}: {e} (expected HOST:PORT)"))?;
        let startup_delay = match var("ECHO_STARTUP_DELAY") {
            Some(text) => berth_sidecar::contract::parse_duration(&text)
                .map_err(|e| format!("ECHO_STARTUP_DELAY: {e}"))?,
            None => Duration::ZERO,
        };
        let debug = match var("ECHO_DEBUG").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => return Err(format!("ECHO_DEBUG={other:?}: expected true or false")),
        };
        Ok(Settings {
            listen,
            startup_delay,
            debug,
        })
    }
}

/// The configuration at start-up: a missing file — or a missing directory, e.g. `docker run`
/// without the mount — gives the defaults (with a warning), and the sidecar reads the file
/// when it appears; an invalid one gives the defaults too, but the `config` readiness check
/// fails until a reload succeeds.
fn initial_config(path: Option<&Path>) -> (Config, Option<String>) {
    let Some(path) = path else {
        return (Config::default(), None);
    };
    match Config::load(path) {
        Ok(config) => {
            tracing::info!(path = %path.display(), greeting = %config.greeting, "configuration loaded");
            (config, None)
        }
        Err(err) if err.is_not_found() => {
            tracing::warn!(path = %path.display(), "configuration file missing: using the defaults until it appears");
            (Config::default(), None)
        }
        Err(err) => {
            tracing::error!(error = %err, "configuration invalid: not ready until it is fixed");
            (Config::default(), Some(err.to_string()))
        }
    }
}

fn main() -> ExitCode {
    // Probe mode, logging, the BERTH_* environment and the exit code: berth_sidecar::run.
    berth_sidecar::run(|builder| async move {
        let settings = Settings::from_env().map_err(UsageError::new)?;
        let (config, config_error) = initial_config(builder.config_path());
        let state = AppState::new(config, settings.debug);
        // Set while no valid configuration has been read: the `config` readiness check fails.
        let config_error = Arc::new(Mutex::new(config_error));
        let reloads = Counter::<u64>::default();

        let readiness_error = config_error.clone();
        let liveness_state = state.clone();
        let reload_state = state.clone();
        let reload_error = config_error.clone();
        let reload_counter = reloads.clone();
        let sidecar = builder
            .check(Check::readiness("config", move || {
                let error = readiness_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                async move { error.map_or(Ok(()), Err) }
            }))
            .check(Check::liveness("debug", move || {
                let result = liveness_state.liveness();
                async move { result }
            }))
            .on_reload(move |reload: Reload| {
                let state = reload_state.clone();
                let error = reload_error.clone();
                let counter = reload_counter.clone();
                async move {
                    let Some(path) = reload.path() else {
                        return Ok(()); // SIGHUP without a configuration file: nothing to re-read
                    };
                    let config = Config::load(path).map_err(|e| e.to_string())?;
                    tracing::info!(greeting = %config.greeting, path = %path.display(), "config reloaded");
                    state.set_config(config);
                    *error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    counter.inc();
                    Ok::<(), String>(())
                }
            })
            .start()
            .await?;
        sidecar.metrics_registry().register(
            "echo_config_reloads",
            "Configuration reloads applied without a restart",
            reloads,
        );

        let listener = berth_sidecar::bind(settings.listen).await?;
        tracing::info!(addr = %settings.listen, admin = %sidecar.admin_addr(), debug = settings.debug, "echo-daemon serving");
        sidecar.serve(listener, router(state));

        if settings.startup_delay.is_zero() {
            sidecar.mark_ready();
        } else {
            let handle = sidecar.handle();
            let delay = settings.startup_delay;
            tracing::info!(delay = ?delay, "start-up delayed (ECHO_STARTUP_DELAY)");
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                handle.mark_ready();
            });
        }
        Ok(sidecar)
    })
}
