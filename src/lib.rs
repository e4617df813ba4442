//! berth: one description (`berth.yaml`) in, every deployment artifact of a Rust daemon out.
//!
//! The crate is a library first so that tests and tools can call each stage:
//!
//! 1. [`spec`] reads a `berth.yaml`, keeps the line and column of every value, validates it and
//!    resolves defaults into a [`spec::Spec`].
//! 2. [`render`] turns a [`spec::Spec`] into an in-memory [`render::FileSet`]: pure, no I/O.
//! 3. [`output`] writes a file set atomically, detects hand-edited files and computes diffs.
//!
//! The `berth` binary ([`commands`]) wires these together; `cli` (in the binary) only parses
//! arguments.

pub mod cluster;
pub mod commands;
pub mod error;
pub mod image;
pub mod output;
pub mod render;
pub mod spec;
pub mod util;
pub mod yaml;
