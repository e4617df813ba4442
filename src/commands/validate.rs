//! `berth validate`: every problem of a description, each with its line and column.

use std::path::Path;

use super::{CommandError, CommandResult};
use crate::spec;

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Checks that `file` can be read at all: a missing file is invalid input (exit 2), any other
/// I/O failure a runtime failure (exit 1). Shared by the commands that read a description.
pub fn check_readable(file: &Path) -> CommandResult {
    match std::fs::metadata(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(CommandError::invalid("no such file")
                .at(file.display().to_string())
                .with_hint(
                    "`berth init --name NAME` writes a berth.yaml; -f FILE reads another file",
                ))
        }
        Err(e) => {
            Err(CommandError::runtime(format!("cannot read: {e}")).at(file.display().to_string()))
        }
    }
}

/// Runs `berth validate`: diagnostics go to stderr (notes first: what berth filled in); on
/// success `FILE: ok` goes to stdout. Errors make the exit code 2; warnings and notes do not.
pub fn run(file: &Path) -> CommandResult {
    check_readable(file)?;
    match spec::load(file) {
        Ok(loaded) => {
            for d in loaded.notes.iter().chain(&loaded.warnings) {
                eprintln!("{d}");
            }
            if loaded.warnings.is_empty() {
                println!("{}: ok", file.display());
            } else {
                println!(
                    "{}: ok ({})",
                    file.display(),
                    plural(loaded.warnings.len(), "warning")
                );
            }
            Ok(())
        }
        Err(diags) => {
            eprintln!("{diags}");
            let errors = diags.error_count();
            let warnings = diags.warning_count();
            let mut summary = format!("{}: {}", file.display(), plural(errors, "error"));
            if warnings > 0 {
                summary.push_str(&format!(", {}", plural(warnings, "warning")));
            }
            Err(CommandError::Diagnostics(summary))
        }
    }
}
