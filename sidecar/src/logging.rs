//! One-line tracing setup.
//!
//! ```no_run
//! berth_sidecar::logging::init();
//! tracing::info!("hello");
//! ```

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::TryInitError;

use crate::contract::{ENV_LOG_FILE, ENV_LOG_FORMAT};

/// Installs a global tracing subscriber: JSON lines when `BERTH_LOG_FORMAT=json`, human
/// readable otherwise; the filter comes from `RUST_LOG` (default `info`). The lines go to
/// standard error and, when `BERTH_LOG_FILE` is set, are also appended to that file (its
/// directory is created; a Windows service has no console). On Windows with the `windows`
/// feature, when `BERTH_EVENT_LOG_SOURCE` is set, each line is also reported to the Event Log
/// under that source (ERROR as an error event, WARN as a warning, the rest as information).
/// Does nothing if a subscriber is already installed.
///
/// ```no_run
/// berth_sidecar::logging::init();
/// ```
pub fn init() {
    let _ = try_init();
}

/// Like [`init`], but reports whether a subscriber was already installed.
///
/// ```no_run
/// if berth_sidecar::logging::try_init().is_err() {
///     eprintln!("a tracing subscriber was already installed");
/// }
/// ```
pub fn try_init() -> Result<(), TryInitError> {
    use std::io::IsTerminal;

    use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var(ENV_LOG_FORMAT).is_ok_and(|v| v.trim().eq_ignore_ascii_case("json"));
    let file = log_file();
    // Colour only on a terminal and never into a file: the journal, `docker logs`,
    // `kubectl logs` and log files get plain text.
    let ansi = file.is_none() && std::io::stderr().is_terminal();
    let writer = match file {
        Some(file) => BoxMakeWriter::new(Mutex::new(file).and(std::io::stderr)),
        None => BoxMakeWriter::new(std::io::stderr),
    };
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(event_log_layer(json));
    if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(writer),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(writer),
            )
            .try_init()
    }
}

/// The Event Log layer when `BERTH_EVENT_LOG_SOURCE` names a source (Windows, feature
/// `windows`): the line without time and level (the event has both), or the JSON object.
#[cfg(all(feature = "windows", windows))]
fn event_log_layer<S>(json: bool) -> Option<Box<dyn tracing_subscriber::Layer<S> + Send + Sync>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use crate::contract::ENV_EVENT_LOG_SOURCE;
    let source = std::env::var(ENV_EVENT_LOG_SOURCE).ok()?;
    let source = source.trim();
    if source.is_empty() {
        return None;
    }
    let log = match crate::eventlog::EventLog::register(source) {
        Ok(log) => log,
        Err(err) => {
            eprintln!(
                "warning: {ENV_EVENT_LOG_SOURCE}={source}: cannot register the event source: {err}; not logging to the Event Log"
            );
            return None;
        }
    };
    let layer = tracing_subscriber::fmt::layer().with_ansi(false);
    Some(if json {
        Box::new(
            layer
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_writer(log),
        )
    } else {
        Box::new(layer.without_time().with_level(false).with_writer(log))
    })
}

/// Without the `windows` feature or off Windows, `BERTH_EVENT_LOG_SOURCE` changes nothing.
#[cfg(not(all(feature = "windows", windows)))]
fn event_log_layer(_json: bool) -> Option<tracing_subscriber::layer::Identity> {
    None
}

/// The file named by `BERTH_LOG_FILE`, opened for appending; `None` when unset or when it
/// cannot be opened (said on standard error: logging must not stop the daemon).
fn log_file() -> Option<File> {
    let path = std::env::var_os(ENV_LOG_FILE).filter(|p| !p.is_empty())?;
    let path = Path::new(&path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(file) => Some(file),
        Err(err) => {
            eprintln!(
                "warning: {ENV_LOG_FILE}={}: cannot open the log file: {err}; logging to standard error only",
                path.display()
            );
            None
        }
    }
}
