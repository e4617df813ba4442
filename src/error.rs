//! The one error type of the `berth` commands, its exit code, and the one place that turns an
//! error and its sources into the text the user reads.
//!
//! Exit codes: 0 success, 1 runtime failure (I/O, cluster, a renderer bug), 2 invalid input
//! or usage. Errors of the library's stages stay typed ([`RenderError`], [`OutputError`],
//! [`ClusterError`]) and convert with `?`; [`Error::report`] prints the chain.

use crate::cluster::ClusterError;
use crate::output::OutputError;
use crate::render::RenderError;

/// What went wrong in a command, and so which exit code the process ends with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input (description, arguments) is invalid: exit code 2. The message is complete
    /// (diagnostics, `error:` and `hint:` lines).
    #[error("{0}")]
    Invalid(String),
    /// I/O or another runtime failure: exit code 1. The message is complete.
    #[error("{0}")]
    Runtime(String),
    /// A renderer failed (a bug in berth's own templates): exit code 1.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Planning or writing the output directory failed: exit code 1.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The cluster could not be reached or refused a request: exit code 1.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) => 2,
            Error::Runtime(_) | Error::Render(_) | Error::Output(_) | Error::Cluster(_) => 1,
        }
    }

    /// The text printed on stderr: the error and its sources ([`chain`]).
    pub fn report(&self) -> String {
        chain(self)
    }
}

/// `message: cause: cause ...` of an error and all its sources; a source whose text the
/// message already holds is not repeated (kube's own Display often says only
/// "ServiceError: client error (Connect)", its sources say why).
///
/// ```
/// let io = std::io::Error::other("disk full");
/// let err = berth::error::Error::Runtime("could not write".into());
/// assert_eq!(berth::error::chain(&err), "could not write");
/// assert_eq!(berth::error::chain(&io), "disk full");
/// ```
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chains_sources_once_and_maps_exit_codes() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&err), "outer: inner");
        assert_eq!(Error::Invalid("x".into()).exit_code(), 2);
        assert_eq!(Error::Runtime("x".into()).exit_code(), 1);
        let render = Error::from(RenderError::DuplicatePath("a".into()));
        assert_eq!(render.exit_code(), 1);
        assert_eq!(render.report(), "two files were rendered at 'a'");
    }
}
