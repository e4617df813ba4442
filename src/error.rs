//! The one error type of the `berth` commands, its exit code, and the one place that turns an
//! error, its sources and its hint into the text the user reads.
//!
//! Exit codes: 0 success, 1 runtime failure (I/O, cluster, a renderer bug), 2 invalid input
//! or usage. Errors of the library's stages stay typed ([`RenderError`], [`OutputError`],
//! [`ClusterError`]) and convert with `?`. No message spells `error:` or `hint:`: a message
//! says what went wrong, [`Error::hint`] what to do, and [`Error::report`] prints both as
//!
//! ```text
//! [LOCATION: ]error: MESSAGE: SOURCE: ...
//!   hint: HINT
//! ```

use std::borrow::Cow;

use crate::cluster::ClusterError;
use crate::output::OutputError;
use crate::render::RenderError;

/// What went wrong in a command, and so which exit code the process ends with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input (arguments, files) is invalid: exit code 2.
    #[error("{0}")]
    Invalid(Problem),
    /// I/O or another runtime failure: exit code 1.
    #[error("{0}")]
    Runtime(Problem),
    /// The description is invalid: exit code 2. The text is the validator's report (each
    /// diagnostic with its position, expectation and hint), printed as it is.
    #[error("{0}")]
    Diagnostics(String),
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

/// A failure the command itself describes: what went wrong, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    /// What went wrong (one line, or several for details such as `expected:`).
    pub message: String,
    /// The file or argument it is about, printed before `error:` (`berth.yaml: error: ...`).
    pub at: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Error {
    /// Invalid input (exit code 2).
    ///
    /// ```
    /// let e = berth::error::Error::invalid("--name is required").with_hint("pass --name NAME");
    /// assert_eq!(e.report(), "error: --name is required\n  hint: pass --name NAME");
    /// assert_eq!(e.exit_code(), 2);
    /// ```
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(Problem::new(message))
    }

    /// A runtime failure (exit code 1).
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::Runtime(Problem::new(message))
    }

    /// The same error with `hint` (for a problem the command describes; other errors keep
    /// their own).
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        if let Error::Invalid(p) | Error::Runtime(p) = &mut self {
            p.hint = Some(hint.into());
        }
        self
    }

    /// The same error about `location` (a file or an argument).
    #[must_use]
    pub fn at(mut self, location: impl Into<String>) -> Error {
        if let Error::Invalid(p) | Error::Runtime(p) = &mut self {
            p.at = Some(location.into());
        }
        self
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) | Error::Diagnostics(_) => 2,
            Error::Runtime(_) | Error::Render(_) | Error::Output(_) | Error::Cluster(_) => 1,
        }
    }

    /// What the user can do about it, when berth knows.
    pub fn hint(&self) -> Option<Cow<'_, str>> {
        match self {
            Error::Invalid(p) | Error::Runtime(p) => p.hint.as_deref().map(Cow::Borrowed),
            Error::Output(e) => e.hint().map(Cow::Borrowed),
            Error::Cluster(e) => e.hint(),
            Error::Diagnostics(_) | Error::Render(_) => None,
        }
    }

    /// The text printed on stderr: `[LOCATION: ]error: ` and the error with its sources
    /// ([`chain`]), then its hint; the validator's report as it is.
    pub fn report(&self) -> String {
        if let Error::Diagnostics(text) = self {
            return text.clone();
        }
        let mut text = String::new();
        if let Error::Invalid(Problem { at: Some(at), .. })
        | Error::Runtime(Problem { at: Some(at), .. }) = self
        {
            text.push_str(at);
            text.push_str(": ");
        }
        text.push_str("error: ");
        text.push_str(&chain(self));
        if let Some(hint) = self.hint() {
            text.push_str("\n  hint: ");
            text.push_str(&hint);
        }
        text
    }
}

impl Problem {
    fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            at: None,
            hint: None,
        }
    }
}

/// `message: cause: cause ...` of an error and all its sources; a source whose text the
/// message already holds is not repeated (kube's own Display often says only
/// "ServiceError: client error (Connect)", its sources say why).
///
/// ```
/// let io = std::io::Error::other("disk full");
/// let err = berth::error::Error::runtime("could not write");
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
        assert_eq!(Error::invalid("x").exit_code(), 2);
        assert_eq!(Error::runtime("x").exit_code(), 1);
        assert_eq!(Error::Diagnostics("x".into()).exit_code(), 2);
        let render = Error::from(RenderError::DuplicatePath("a".into()));
        assert_eq!(render.exit_code(), 1);
        assert_eq!(render.report(), "error: two files were rendered at 'a'");
    }

    #[test]
    fn one_printer_renders_location_message_and_hint() {
        let e = Error::invalid("no such file")
            .at("berth.yaml")
            .with_hint("-f FILE reads another file");
        assert_eq!(
            e.to_string(),
            "no such file",
            "no error:/hint: in the message"
        );
        assert_eq!(
            e.report(),
            "berth.yaml: error: no such file\n  hint: -f FILE reads another file"
        );
        assert_eq!(Error::runtime("x").hint(), None);
        assert_eq!(
            Error::Diagnostics("a:1:1: error: y".into()).report(),
            "a:1:1: error: y"
        );
        // A typed error keeps its own hint.
        let cluster = Error::from(ClusterError::NotFound {
            reference: "deployment.apps/x".into(),
            namespace: "n".into(),
        });
        assert_eq!(
            cluster.report(),
            "error: deployment.apps/x not found in namespace n\n  hint: `berth apply` (or helm install) creates it"
        );
    }
}
