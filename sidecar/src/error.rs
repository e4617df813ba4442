//! Start-up errors. Each message carries its cause (the operating system's reason), so
//! printing the error alone says everything; none has a separate `source()` to print twice.

use std::io;

use crate::contract::EnvError;

/// Why the sidecar could not start. Every variant is a start-up error: once
/// [`Builder::start`](crate::Builder::start) returned `Ok`, nothing else fails.
///
/// ```
/// use berth_sidecar::{contract::Settings, Error};
/// let env = Settings::from_lookup(|k| (k == "BERTH_METRICS").then(|| "perhaps".into()));
/// let err = Error::from(env.unwrap_err());
/// assert!(err.to_string().contains("BERTH_METRICS"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `BERTH_*` environment variable is malformed.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// The admin address given in code is not `HOST:PORT`.
    #[error("invalid admin address {addr:?}: {reason}")]
    AdminAddr {
        /// The rejected address.
        addr: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The admin server could not bind its address (port in use, no permission, ...). The
    /// message carries the operating system's reason.
    #[error("cannot bind the admin server to {addr}: {error}")]
    Bind {
        /// The address that could not be bound.
        addr: String,
        /// The operating system's error.
        error: io::Error,
    },
    /// The application's listener could not bind its address ([`bind`](crate::bind)). The
    /// message carries the operating system's reason.
    #[error("cannot bind the application listener to {addr}: {error}")]
    Listen {
        /// The address that could not be bound.
        addr: String,
        /// The operating system's error.
        error: io::Error,
    },
    /// A signal handler could not be installed.
    #[error("cannot install the {signal} handler: {error}")]
    Signal {
        /// The signal name, e.g. `SIGTERM`.
        signal: &'static str,
        /// The operating system's error.
        error: io::Error,
    },
    /// The configuration file's directory could not be watched.
    #[error("cannot watch the configuration file {path}: {error}")]
    Watch {
        /// The watched path.
        path: String,
        /// The watcher's error.
        error: io::Error,
    },
}
