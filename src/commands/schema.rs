//! `berth schema`.

use super::{CommandError, CommandResult};

/// Runs `berth schema`.
pub fn run() -> CommandResult {
    Err(CommandError::Runtime("berth schema: not built yet".into()))
}
