//! `berth schema`: the JSON Schema of `berth.yaml` on stdout.

use std::io::Write;

use super::{CommandError, CommandResult};
use crate::spec::schema;

/// Runs `berth schema`. A closed pipe (`berth schema | head`) is not an error.
pub fn run() -> CommandResult {
    let text = schema::schema_string();
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CommandError::runtime(format!(
            "cannot write the schema: {e}"
        ))),
    }
}
