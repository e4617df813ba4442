//! The cached probe verdicts: the lifecycle phase and the health verdicts in one byte.
//!
//! A probe (`/livez`, `/readyz`, `/startupz`) answers from one atomic load of this byte: no
//! lock, no check is run, nothing is recomputed. The writers keep it current when something
//! changes: the lifecycle stores the phase as it moves ([`Lifecycle::advance`]), health stores
//! the verdicts after a check run, a latch, the end of start-up or a task panic
//! ([`Health`](crate::health::Health)). Both write with read-modify-write operations on their
//! own bits, so neither loses the other's update.
//!
//! [`Lifecycle::advance`]: crate::lifecycle::Lifecycle::advance

use std::sync::atomic::{AtomicU8, Ordering};

use crate::check::CheckKind;
use crate::state::Phase;

/// Bits 0–1: the phase (`Phase as u8`).
const PHASE_MASK: u8 = 0b11;
/// Bits 2–4: one verdict per [`CheckKind`].
const VERDICT_MASK: u8 = 0b1_1100;

/// The bit of `kind`'s verdict. The readiness bit holds "start-up complete and every
/// readiness check passes"; the phase (not draining) is applied when it is read.
pub(crate) const fn flag(kind: CheckKind) -> u8 {
    match kind {
        CheckKind::Liveness => 1 << 2,
        CheckKind::Readiness => 1 << 3,
        CheckKind::Startup => 1 << 4,
    }
}

/// The published phase and verdicts; see the module documentation.
pub(crate) struct Verdicts(AtomicU8);

impl Verdicts {
    /// `Starting`, every verdict failing until health publishes its first ones.
    pub fn new() -> Verdicts {
        Verdicts(AtomicU8::new(Phase::Starting as u8))
    }

    /// The phase and verdicts as they are now: one atomic load.
    #[inline]
    pub fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// Publishes the phase (the lifecycle's writer).
    pub fn set_phase(&self, phase: Phase) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some((w & !PHASE_MASK) | phase as u8)
            });
    }

    /// Publishes the verdicts, a set of [`flag`] bits (health's writer).
    pub fn set_verdicts(&self, verdicts: u8) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some((w & !VERDICT_MASK) | (verdicts & VERDICT_MASK))
            });
    }
}

/// One reading of [`Verdicts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(u8);

impl Snapshot {
    /// The lifecycle phase.
    #[inline]
    pub fn phase(self) -> Phase {
        Phase::ALL[usize::from(self.0 & PHASE_MASK)]
    }

    /// Whether the probe of `kind` passes: its verdict, and for readiness also a phase
    /// before `Draining` (readiness fails from the stop request on).
    #[inline]
    pub fn passes(self, kind: CheckKind) -> bool {
        self.0 & flag(kind) != 0 && (kind != CheckKind::Readiness || self.phase() < Phase::Draining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_and_verdicts_are_written_independently() {
        let v = Verdicts::new();
        assert_eq!(v.load().phase(), Phase::Starting);
        assert!(!v.load().passes(CheckKind::Liveness));
        v.set_verdicts(flag(CheckKind::Liveness) | flag(CheckKind::Readiness));
        v.set_phase(Phase::Ready);
        let now = v.load();
        assert_eq!(now.phase(), Phase::Ready);
        assert!(now.passes(CheckKind::Liveness) && now.passes(CheckKind::Readiness));
        assert!(!now.passes(CheckKind::Startup));
        v.set_verdicts(flag(CheckKind::Startup) | 0b11); // phase bits are not health's
        assert_eq!(v.load().phase(), Phase::Ready);
        assert!(v.load().passes(CheckKind::Startup));
        assert!(!v.load().passes(CheckKind::Liveness));
        v.set_verdicts(flag(CheckKind::Readiness));
        for phase in [Phase::Draining, Phase::Stopped] {
            v.set_phase(phase);
            assert_eq!(v.load().phase(), phase);
            assert!(!v.load().passes(CheckKind::Readiness), "{phase}");
        }
    }
}
