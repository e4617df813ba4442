//! The berth-sidecar benchmark (`bash sidecar/bench/run.sh`): `examples/echo-daemon` against
//! the same routes served by bare axum, by tokio-graceful-shutdown and by Go `net/http`.
//!
//! The crate holds the two Rust peers (`bench-bare-axum`, `bench-tgs`), the driver
//! (`berth-bench`) and, in [`client`], the load client of the SIGTERM-under-load table that
//! tells a request lost on an accepted connection from a connection refused after the
//! listener closed.
//!
//! ```
//! let stats = berth_bench::stats::Spread::of(&[3.0, 1.0, 2.0]).unwrap();
//! assert_eq!((stats.median, stats.min, stats.max), (2.0, 1.0, 3.0));
//! ```

pub mod client;
pub mod peer;
pub mod procfs;
pub mod stats;
pub mod wrk;

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A command line or environment setting is malformed.
    #[error("{0}")]
    Usage(String),
    /// A process could not be started, signalled or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A daemon or the load generator misbehaved (did not start, did not stop, bad output).
    #[error("{0}")]
    Run(String),
}

impl BenchError {
    /// An [`BenchError::Io`] with a description of what failed.
    ///
    /// ```
    /// let e = berth_bench::BenchError::io("reading /proc/1/stat", std::io::Error::other("x"));
    /// assert_eq!(e.to_string(), "reading /proc/1/stat: x");
    /// ```
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }
}
