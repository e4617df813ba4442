//! `berth validate`.

use std::path::Path;

use super::{CommandError, CommandResult};

/// Runs `berth validate`.
pub fn run(_file: &Path) -> CommandResult {
    Err(CommandError::Runtime("berth validate: not built yet".into()))
}
