//! `berth generate` and `berth diff`.

use std::path::PathBuf;

use super::{CommandError, CommandResult};
use crate::render::Target;

/// Options of `berth generate` / `berth diff`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The description.
    pub file: PathBuf,
    /// Output directory; `deploy/` beside the description when `None`.
    pub out: Option<PathBuf>,
    /// Targets; empty means all.
    pub only: Vec<Target>,
    /// Overwrite hand-edited files.
    pub force: bool,
}

/// Runs `berth generate`.
pub fn run(_options: &GenerateOptions) -> CommandResult {
    Err(CommandError::Runtime("berth generate: not built yet".into()))
}

/// Runs `berth diff`.
pub fn diff(_options: &GenerateOptions) -> CommandResult {
    Err(CommandError::Runtime("berth diff: not built yet".into()))
}
