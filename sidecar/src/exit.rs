//! How the process ends.

use std::process::ExitCode;

/// How the lifecycle ended; returned by [`Sidecar::run`](crate::Sidecar::run). Convert it
/// into the process exit code with `.into()` (or [`Exit::code`]).
///
/// | exit | code | meaning |
/// |---|---|---|
/// | [`Exit::Clean`] | 0 | every request and tracked task finished within the drain timeout |
/// | [`Exit::DrainTimeout`] | 124 | the drain timeout expired with work still running; it was cancelled |
/// | [`Exit::Aborted`] with SIGINT | 130 | a second SIGINT arrived during the drain |
/// | [`Exit::Aborted`] with SIGTERM | 143 | a second SIGTERM arrived during the drain |
///
/// 1 is left for the daemon's own errors (and start-up errors), 2 for usage errors.
///
/// ```
/// use berth_sidecar::{Exit, Signal};
/// assert_eq!(Exit::Clean.code(), 0);
/// assert_eq!(Exit::DrainTimeout.code(), 124);
/// assert_eq!(Exit::Aborted(Signal::Term).code(), 143);
/// let _code: std::process::ExitCode = Exit::Clean.into();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "return the exit code from main"]
pub enum Exit {
    /// The drain completed before the deadline.
    Clean,
    /// The drain deadline expired; remaining requests and tasks were cancelled.
    DrainTimeout,
    /// A second shutdown signal arrived; the process exits at once.
    Aborted(Signal),
}

/// Exit code of [`Exit::DrainTimeout`] (the code `timeout(1)` uses).
///
/// ```
/// assert_eq!(berth_sidecar::Exit::DrainTimeout.code(), berth_sidecar::EXIT_DRAIN_TIMEOUT);
/// ```
pub const EXIT_DRAIN_TIMEOUT: u8 = 124;

/// A shutdown signal.
///
/// ```
/// use berth_sidecar::Signal;
/// assert_eq!(Signal::Int.name(), "SIGINT");
/// assert_eq!(Signal::Int.exit_code(), 130);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM (15): what Kubernetes, Docker and systemd send.
    Term,
    /// SIGINT (2): Ctrl-C.
    Int,
}

impl Signal {
    /// The conventional name, e.g. `SIGTERM`.
    ///
    /// ```
    /// assert_eq!(berth_sidecar::Signal::Term.name(), "SIGTERM");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
        }
    }

    /// The shell convention for death by this signal: 128 + its number (143, 130).
    ///
    /// ```
    /// assert_eq!(berth_sidecar::Signal::Term.exit_code(), 143);
    /// ```
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Term => 143,
            Signal::Int => 130,
        }
    }
}

impl Exit {
    /// The process exit code (see the table on [`Exit`]).
    ///
    /// ```
    /// assert_eq!(berth_sidecar::Exit::Clean.code(), 0);
    /// ```
    pub fn code(self) -> u8 {
        match self {
            Exit::Clean => 0,
            Exit::DrainTimeout => EXIT_DRAIN_TIMEOUT,
            Exit::Aborted(signal) => signal.exit_code(),
        }
    }

    /// Whether the drain completed cleanly.
    ///
    /// ```
    /// assert!(!berth_sidecar::Exit::DrainTimeout.is_clean());
    /// ```
    pub fn is_clean(self) -> bool {
        self == Exit::Clean
    }

    /// Exits the process now with [`Exit::code`], without waiting for blocking threads or
    /// running destructors — for daemons whose `spawn_blocking` work could hold the runtime's
    /// shutdown.
    ///
    /// ```no_run
    /// berth_sidecar::Exit::Clean.exit();
    /// ```
    pub fn exit(self) -> ! {
        std::process::exit(i32::from(self.code()))
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}
