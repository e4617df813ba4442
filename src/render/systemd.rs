//! The `systemd` target.

use super::{FileSet, RenderError};
use crate::spec::Spec;

/// Renders the `systemd` files of `spec` into `out`.
pub fn render(_spec: &Spec, _out: &mut FileSet) -> Result<(), RenderError> {
    Ok(())
}
