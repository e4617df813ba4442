//! The `berth.yaml` description: model, parsing with positions, validation and defaults.

pub mod duration;
pub mod model;

pub use duration::Duration;
pub use model::*;
#[doc(hidden)]
pub mod sample;
