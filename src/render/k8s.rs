//! The `k8s` target.

use super::{FileSet, RenderError};
use crate::spec::Spec;

/// Renders the `k8s` files of `spec` into `out`.
pub fn render(_spec: &Spec, _out: &mut FileSet) -> Result<(), RenderError> {
    Ok(())
}
