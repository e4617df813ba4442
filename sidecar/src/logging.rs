//! One-line tracing setup.
//!
//! ```no_run
//! berth_sidecar::logging::init();
//! tracing::info!("hello");
//! ```

use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::TryInitError;

use crate::contract::ENV_LOG_FORMAT;

/// Installs a global tracing subscriber: JSON lines when `BERTH_LOG_FORMAT=json`, human
/// readable otherwise; the filter comes from `RUST_LOG` (default `info`). Does nothing if a
/// subscriber is already installed.
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

    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var(ENV_LOG_FORMAT).is_ok_and(|v| v.trim().eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    // Colour only on a terminal: the journal, `docker logs` and
                    // `kubectl logs` get plain text.
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init()
    }
}
