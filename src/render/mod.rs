//! Renderers: a resolved [`Spec`] in, an in-memory [`FileSet`] out. Pure: no file system, no
//! clock, no environment, so the same description always gives byte-identical files.
//!
//! One module per target. Templates are real files in the repository (`charts/`, `docker/`,
//! `templates/`), embedded at compile time by [`assets`].

pub mod assets;
pub mod ci;
pub mod docker;
pub mod helm;
pub mod k8s;
pub mod plan;
pub mod systemd;
mod template;
pub mod windows;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::spec::Spec;

/// An output target of `berth generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `docker/Dockerfile` and its `.dockerignore`.
    Docker,
    /// `helm/<name>/`: the Helm chart.
    Helm,
    /// `k8s/<name>.yaml`: plain manifests from k8s-openapi types.
    K8s,
    /// `systemd/<name>.service` and `systemd/<name>.env`.
    Systemd,
    /// `windows/`: install, upgrade and uninstall scripts for a Windows service, a README.
    Windows,
    /// `ci/<name>.yml`: a GitHub Actions workflow. Only with `--only ci`.
    Ci,
}

impl Target {
    /// Every target, in output order.
    pub const ALL: [Target; 6] = [
        Target::Docker,
        Target::Helm,
        Target::K8s,
        Target::Systemd,
        Target::Windows,
        Target::Ci,
    ];

    /// The targets `berth generate` writes when `--only` does not name any: all but `ci`.
    pub const DEFAULT: [Target; 5] = [
        Target::Docker,
        Target::Helm,
        Target::K8s,
        Target::Systemd,
        Target::Windows,
    ];

    /// The name used on the command line and as the output sub-directory.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Docker => "docker",
            Target::Helm => "helm",
            Target::K8s => "k8s",
            Target::Systemd => "systemd",
            Target::Windows => "windows",
            Target::Ci => "ci",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Target::ALL.iter().map(|t| t.as_str()).collect();
                format!(
                    "unknown target '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The target that produced it.
    pub target: Target,
    /// The file's contents (always UTF-8 text, ending in a newline).
    pub contents: String,
}

/// The files of one `generate` run, keyed by their path relative to the output directory
/// (forward slashes, e.g. `helm/echo-daemon/templates/workload.yaml`). Sorted, so iteration
/// order is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, GeneratedFile>,
}

impl FileSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file; a path given twice is a bug in a renderer.
    pub fn insert(
        &mut self,
        target: Target,
        path: impl Into<String>,
        contents: impl Into<String>,
    ) -> Result<(), RenderError> {
        let path = path.into();
        let mut contents = contents.into();
        if !contents.ends_with('\n') {
            contents.push('\n');
        }
        if self.files.contains_key(&path) {
            return Err(RenderError::DuplicatePath(path));
        }
        self.files.insert(path, GeneratedFile { target, contents });
        Ok(())
    }

    /// The file at `path`.
    pub fn get(&self, path: &str) -> Option<&GeneratedFile> {
        self.files.get(path)
    }

    /// All files in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &GeneratedFile)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no file was rendered.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A renderer failed. Renderers only fail on bugs in berth's own templates, never on a valid
/// description, so these messages are for berth's developers as much as for users.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template did not render.
    #[error("template '{name}' failed to render")]
    Template {
        /// Template file name.
        name: String,
        /// The template engine's error.
        #[source]
        source: minijinja::Error,
    },
    /// An object could not be serialized.
    #[error("could not serialize {what}: {message}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// The serializer's message.
        message: String,
    },
    /// Two renderers produced the same path.
    #[error("two files were rendered at '{0}'")]
    DuplicatePath(String),
}

/// Renders the requested targets (each once, in [`Target::ALL`] order).
pub fn render(spec: &Spec, targets: &[Target]) -> Result<FileSet, RenderError> {
    let mut files = FileSet::new();
    for target in Target::ALL {
        if !targets.contains(&target) {
            continue;
        }
        match target {
            Target::Docker => docker::render(spec, &mut files)?,
            Target::Helm => helm::render(spec, &mut files)?,
            Target::K8s => k8s::render(spec, &mut files)?,
            Target::Systemd => systemd::render(spec, &mut files)?,
            Target::Windows => windows::render(spec, &mut files)?,
            Target::Ci => ci::render(spec, &mut files)?,
        }
    }
    Ok(files)
}
