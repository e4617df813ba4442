//! node-agent: the berth example DaemonSet.
//!
//! Reads the node's load average from `<NODE_AGENT_PROC>/loadavg` (the host's `/proc`, mounted
//! read-only at `/host/proc` through a hostPath volume) every `interval`, and exposes it with
//! the node's name (`NODE_NAME`, from the downward API) on the sidecar's `/metrics`. The
//! configuration file is reloaded on change, without a restart.
#![warn(missing_docs)]

pub mod config;
pub mod loadavg;
pub mod metrics;

pub use config::{Config, ConfigError};
pub use loadavg::LoadAvg;
pub use metrics::Metrics;
