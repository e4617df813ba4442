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
/// directory is created; a Windows service has no console). Does nothing if a subscriber is
/// already installed.
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
    let registry = tracing_subscriber::registry().with(filter);
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
