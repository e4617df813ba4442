//! node-agent: the berth example DaemonSet (see README.md).
//!
//! Environment: `NODE_NAME` (the downward API's `spec.nodeName`; default: the host name),
//! `NODE_AGENT_PROC` (default `/host/proc`), and berth's `BERTH_*` contract.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use berth_sidecar::{Check, Reload, UsageError};
use node_agent::{Config, LoadAvg, Metrics};
use tokio::sync::watch;

const DEFAULT_PROC: &str = "/host/proc";

fn node_name() -> String {
    if let Some(name) = std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()) {
        return name;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let name = if host.is_empty() {
        "unknown".to_owned()
    } else {
        host
    };
    tracing::warn!(node = %name, "NODE_NAME is not set: using the host name");
    name
}

fn initial_config(path: Option<&Path>) -> Result<Config, String> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    match Config::load(path) {
        Ok(config) => Ok(config),
        Err(err) if err.is_not_found() => {
            tracing::warn!(path = %path.display(), "configuration file missing: using the defaults");
            Ok(Config::default())
        }
        Err(err) => Err(err.to_string()),
    }
}

/// Reads the load average once: updates the gauges and the `loadavg` readiness state.
fn sample(proc_dir: &Path, metrics: &Metrics, last_error: &Mutex<Option<String>>) {
    let result = LoadAvg::read(proc_dir);
    let mut error = last_error.lock().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(load) => {
            metrics.observe(load);
            if error.take().is_some() {
                tracing::info!("loadavg readable again");
            }
        }
        Err(err) => {
            metrics.read_errors.inc();
            if error.as_deref() != Some(err.as_str()) {
                tracing::warn!(error = %err, "cannot read the host's loadavg");
            }
            *error = Some(err);
        }
    }
}

fn main() -> ExitCode {
    // Probe mode, logging, the BERTH_* environment and the exit code: berth_sidecar::run.
    berth_sidecar::run(|builder| async move {
        let proc_dir = PathBuf::from(
            std::env::var("NODE_AGENT_PROC")
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_PROC.to_owned()),
        );
        let node = node_name();
        // An invalid file at start is fatal: there is no previous configuration to keep.
        let config = initial_config(builder.config_path()).map_err(UsageError::new)?;

        let metrics = Metrics::default();
        metrics.set_info(&node, &config.labels);
        let (config_tx, config_rx) = watch::channel(config.clone());
        let last_error = Arc::new(Mutex::new(None::<String>));

        let readiness_error = last_error.clone();
        let reload_metrics = metrics.clone();
        let reload_node = node.clone();
        let sidecar = builder
            .check(Check::readiness("loadavg", move || {
                let error = readiness_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                async move { error.map_or(Ok(()), Err) }
            }))
            .on_reload(move |reload: Reload| {
                let metrics = reload_metrics.clone();
                let node = reload_node.clone();
                let tx = config_tx.clone();
                async move {
                    let Some(path) = reload.path() else {
                        return Ok(());
                    };
                    let config = Config::load(path).map_err(|e| e.to_string())?;
                    tracing::info!(
                        interval = %berth_sidecar::contract::format_duration(config.interval),
                        labels = ?config.labels,
                        "config reloaded"
                    );
                    metrics.set_info(&node, &config.labels);
                    metrics.reloads.inc();
                    tx.send_replace(config);
                    Ok::<(), String>(())
                }
            })
            .start()
            .await?;
        metrics.register(&mut sidecar.metrics_registry());

        // The first sample before start-up completes, so /readyz reflects the hostPath at once.
        sample(&proc_dir, &metrics, &last_error);
        tracing::info!(
            node = %node,
            proc = %proc_dir.display(),
            interval = %berth_sidecar::contract::format_duration(config.interval),
            admin = %sidecar.admin_addr(),
            "node-agent sampling"
        );
        let sampler_metrics = metrics.clone();
        let sampler_error = last_error.clone();
        sidecar.spawn("sampler", move |token| async move {
            let mut rx = config_rx;
            loop {
                let interval = rx.borrow_and_update().interval;
                tokio::select! {
                    _ = token.cancelled() => break,
                    // A new interval applies at once, not after the old one ran out.
                    changed = rx.changed() => if changed.is_err() { break } else { continue },
                    _ = tokio::time::sleep(interval) => {}
                }
                sample(&proc_dir, &sampler_metrics, &sampler_error);
            }
        });
        sidecar.mark_ready();
        Ok(sidecar)
    })
}
