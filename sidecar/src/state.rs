//! The lifecycle phase.

use std::fmt;

/// Where the daemon is in its lifecycle: `Starting → Ready → Draining → Stopped`.
///
/// `Ready` means start-up completed (every start-up latch released and every start-up check
/// passed once); `/readyz` additionally requires the readiness checks to pass. A daemon may
/// go from `Starting` straight to `Draining` when it is stopped before it became ready.
///
/// ```
/// use berth_sidecar::Phase;
/// assert_eq!(Phase::Draining.to_string(), "draining");
/// assert!(Phase::Starting < Phase::Ready);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Start-up has not completed: `/startupz` and `/readyz` answer 503.
    Starting,
    /// Start-up completed and no shutdown was requested.
    Ready,
    /// A shutdown was requested: `/readyz` answers 503, `/livez` stays 200, work drains.
    Draining,
    /// The drain finished (or was cut short); the process is about to exit.
    Stopped,
}

impl Phase {
    /// The lower-case name used in logs, metrics labels and systemd `STATUS=` lines.
    ///
    /// ```
    /// assert_eq!(berth_sidecar::Phase::Ready.as_str(), "ready");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Ready => "ready",
            Phase::Draining => "draining",
            Phase::Stopped => "stopped",
        }
    }

    /// All phases, in lifecycle order.
    ///
    /// ```
    /// assert_eq!(berth_sidecar::Phase::ALL.len(), 4);
    /// ```
    pub const ALL: [Phase; 4] = [
        Phase::Starting,
        Phase::Ready,
        Phase::Draining,
        Phase::Stopped,
    ];
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
