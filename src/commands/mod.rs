//! One function per `berth` subcommand. Each returns a [`CommandError`] that maps to the exit
//! code contract: 0 success, 1 runtime failure, 2 invalid input or usage.

use std::io::Write as _;
use std::path::Path;

use crate::spec::Spec;

pub use crate::error::Error as CommandError;

/// Result of a command.
pub type CommandResult = Result<(), CommandError>;

pub mod apply;
pub mod build;
pub mod cargo_project;
pub mod debug;
pub mod generate;
pub mod init;
pub mod schema;
pub mod status;
pub mod validate;

/// Loads and checks a description for a command that consumes it: warnings go to stderr,
/// errors become exit code 2 with every diagnostic, a count and `error_suffix` (e.g. what the
/// command did not do).
pub(crate) fn load_spec(file: &Path, error_suffix: &str) -> Result<Spec, CommandError> {
    match crate::spec::load(file) {
        Ok(loaded) => {
            let mut stderr = std::io::stderr().lock();
            for warning in &loaded.warnings {
                let _ = writeln!(stderr, "{warning}");
            }
            Ok(loaded.spec)
        }
        Err(diagnostics) => {
            let count = diagnostics.error_count();
            Err(CommandError::Diagnostics(format!(
                "{diagnostics}\n{count} error{} in {}{error_suffix}",
                if count == 1 { "" } else { "s" },
                file.display()
            )))
        }
    }
}
