//! The `berth.yaml` description: model, parsing with positions, validation and defaults.
//!
//! ```no_run
//! let loaded = berth::spec::load(std::path::Path::new("berth.yaml"))
//!     .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
//! println!("{} runs {}", loaded.spec.name, loaded.spec.image);
//! ```

pub mod diag;
pub mod duration;
pub mod model;
pub mod rules;
pub mod schema;
mod validate;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use duration::Duration;
pub use model::*;
pub use validate::{MAX_CONFIG_FILE_SIZE, MAX_DIAGNOSTICS, TOP_FIELDS};
#[doc(hidden)]
pub mod sample;

use std::path::Path;

use crate::yaml::{self, NodeKind, Pos};

/// Largest description [`load`] and [`load_str`] accept (1 MiB), checked before parsing.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// A description that passed validation: the resolved model and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The resolved model, every default filled in.
    pub spec: Spec,
    /// Problems that do not stop the description from being used.
    pub warnings: Vec<Diagnostic>,
    /// What berth chose where the description is silent (e.g. default resources).
    pub notes: Vec<Diagnostic>,
}

fn whole_file(
    origin: &str,
    message: String,
    expected: Option<&str>,
    hint: Option<&str>,
) -> Diagnostics {
    Diagnostics(vec![Diagnostic {
        severity: Severity::Error,
        file: origin.to_owned(),
        line: 1,
        column: 1,
        message,
        expected: expected.map(str::to_owned),
        hint: hint.map(str::to_owned),
    }])
}

/// Reads, validates and resolves the description at `path`. `config.file` is read relative to
/// the description's directory. Diagnostics name the file as `path` is written.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let origin = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        whole_file(
            &origin,
            format!("cannot read the description: {e}"),
            None,
            None,
        )
    })?;
    if meta.is_dir() {
        return Err(whole_file(
            &origin,
            "is a directory, not a description".into(),
            None,
            Some("name the berth.yaml file itself, e.g. -f DIR/berth.yaml"),
        ));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large(&origin, meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        whole_file(
            &origin,
            format!("cannot read the description: {e}"),
            None,
            None,
        )
    })?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(&origin, bytes.len() as u64));
    }
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            // The prefix is valid UTF-8 by construction.
            let prefix = String::from_utf8_lossy(valid);
            let line = prefix.matches('\n').count() + 1;
            let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let byte = e.as_bytes()[valid.len()];
            return Err(Diagnostics(vec![Diagnostic {
                severity: Severity::Error,
                file: origin,
                line,
                column,
                message: format!("the file is not UTF-8 text (byte 0x{byte:02x})"),
                expected: Some("a UTF-8 YAML document".into()),
                hint: None,
            }]));
        }
    };
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let base_dir = if base_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base_dir
    };
    load_str(&source, &origin, base_dir)
}

fn too_large(origin: &str, len: u64) -> Diagnostics {
    whole_file(
        origin,
        format!("the file is {len} bytes, larger than the 1 MiB a description may be"),
        Some("a berth.yaml of at most 1 MiB"),
        Some("is this the right file?"),
    )
}

/// Validates and resolves a description held in memory. `origin` names it in diagnostics;
/// `base_dir` is where `config.file` is looked up.
pub fn load_str(source: &str, origin: &str, base_dir: &Path) -> Result<Loaded, Diagnostics> {
    if source.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(origin, source.len() as u64));
    }
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let root = match yaml::parse(source) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(whole_file(
                origin,
                "the description is empty".into(),
                Some("a mapping with at least apiVersion, name, workload and image"),
                Some("`berth init --name NAME` writes a commented starting point"),
            ));
        }
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic {
                severity: Severity::Error,
                file: origin.to_owned(),
                line: e.pos.line,
                column: e.pos.column,
                message: e.message,
                expected: None,
                hint: e.hint,
            }]));
        }
    };
    resolve(&root, origin, base_dir)
}

/// Validates and resolves an already parsed description (see [`crate::yaml::parse`]).
pub fn resolve(root: &yaml::Node, origin: &str, base_dir: &Path) -> Result<Loaded, Diagnostics> {
    let mut cx = validate::Cx::new(origin);
    if !matches!(root.kind, NodeKind::Map(_)) && !root.is_null() {
        cx.err(
            root.pos,
            format!(
                "the description must be a mapping, found {}",
                root.describe()
            ),
            "a mapping with at least apiVersion, name, workload and image",
            None,
        );
        return Err(Diagnostics(cx.diags));
    }
    let spec = validate::resolve(&mut cx, root, base_dir);
    let dropped = cx.dropped_errors;
    let mut diags = cx.diags;
    diags.sort_by_key(|d| Pos::new(d.line, d.column));
    if dropped > 0 {
        diags.push(Diagnostic {
            severity: Severity::Error,
            file: origin.to_owned(),
            line: diags.last().map_or(1, |d| d.line),
            column: diags.last().map_or(1, |d| d.column),
            message: format!(
                "{dropped} more errors not shown (at most {MAX_DIAGNOSTICS} are reported)"
            ),
            expected: None,
            hint: Some("fix the errors above and run berth validate again".into()),
        });
    }
    match spec {
        Some(spec) if !diags.iter().any(Diagnostic::is_error) => {
            let (notes, warnings) = diags
                .into_iter()
                .partition(|d| d.severity == Severity::Note);
            Ok(Loaded {
                spec,
                warnings,
                notes,
            })
        }
        // A rejected description gets its errors and warnings; what berth would have filled
        // in is beside the point.
        _ => Err(Diagnostics(
            diags
                .into_iter()
                .filter(|d| d.severity != Severity::Note)
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests;
