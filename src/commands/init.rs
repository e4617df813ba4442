//! `berth init`.

use std::path::PathBuf;

use super::{CommandError, CommandResult};

/// Options of `berth init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Directory to write `berth.yaml` into.
    pub dir: PathBuf,
    /// Daemon name.
    pub name: String,
    /// DaemonSet instead of Deployment.
    pub daemonset: bool,
    /// Image reference.
    pub image: Option<String>,
}

/// Runs `berth init`.
pub fn run(_options: &InitOptions) -> CommandResult {
    Err(CommandError::Runtime("berth init: not built yet".into()))
}
