//! The lifecycle: one phase, the stop requests, the drain, and the work the drain waits for.
//!
//! Nothing here knows about signals, systemd, metrics or HTTP. Those are *drivers* around
//! the lifecycle, and every driver uses the same small API:
//!
//! | a driver wants to | call |
//! |---|---|
//! | follow the phases, none skipped: `Starting → Ready → Draining → Stopped` | [`Lifecycle::transitions`] (or [`Lifecycle::subscribe`] for the latest phase only) |
//! | know how it ended (exit code) once `Stopped` | [`Lifecycle::exit`] |
//! | stop gracefully — exactly what the first SIGTERM does | [`Lifecycle::request_stop`] |
//! | stop at once — exactly what a second SIGTERM does | [`Lifecycle::request_abort`] |
//! | reload the configuration — exactly what SIGHUP does | [`Lifecycle::request_reload`] |
//! | report how long a stop may take (wait hints, `EXTEND_TIMEOUT_USEC`) | [`Lifecycle::budget`], [`Lifecycle::drain_deadline`] |
//! | run a task that ends with the process | [`Lifecycle::spawn_driver`] |
//!
//! The control calls are synchronous and thread-safe: a Windows service control handler or a
//! signal thread may call them from outside the Tokio runtime. Drivers are attached with
//! `Builder::driver` (crate-internal), which hands them an `Arc<Lifecycle>` while the sidecar
//! starts. The drivers in this crate: `signals` (SIGTERM/SIGINT/SIGHUP), `systemd`
//! (notify, watchdog, stop-timeout extension); the metrics read the phase when scraped.

use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::contract;
use crate::exit::{Exit, Signal};
use crate::state::Phase;
use crate::verdict::Verdicts;

/// How long a stop may take: the pre-stop delay, then at most the drain timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopBudget {
    /// Serving on, readiness failing, after the stop request.
    pub pre_stop_delay: Duration,
    /// Then the longest wait for in-flight requests and tracked tasks.
    pub drain_timeout: Duration,
}

impl StopBudget {
    /// The longest a graceful stop takes, request to exit: pre-stop delay + drain timeout.
    #[cfg_attr(not(test), allow(dead_code))] // driver API (the Windows service's wait hint)
    pub fn total(self) -> Duration {
        self.pre_stop_delay.saturating_add(self.drain_timeout)
    }
}

type ReloadFn = Box<dyn Fn() + Send + Sync>;

/// The lifecycle of one sidecar; shared (`Arc`) by the facade, the servers and the drivers.
pub(crate) struct Lifecycle {
    phase: watch::Sender<Phase>,
    /// One bit per phase ever entered (bit = `Phase as u8`), set before the watch is updated.
    visited: AtomicU8,
    /// The phase (and health's verdicts) for lock-free readers such as the probes; written
    /// with the watch, under its lock.
    verdicts: Verdicts,
    exit: OnceLock<Exit>,
    budget: StopBudget,
    /// A graceful stop was requested (first signal, `Handle::shutdown`, a service manager).
    stop: CancellationToken,
    /// A forced stop was requested (second signal); `abort_signal` says which.
    abort: CancellationToken,
    abort_signal: OnceLock<Signal>,
    /// Fires when draining begins: readiness fails, `Connection: close` is sent.
    draining: CancellationToken,
    /// Fires after the pre-stop delay: listeners stop, tasks must finish.
    shutdown: CancellationToken,
    /// Fires when the lifecycle is over: everything left is cancelled.
    stopped: CancellationToken,
    drain_deadline: OnceLock<Instant>,
    /// Tracked tasks (`Handle::spawn`, `Handle::drain_guard`): the drain waits for them.
    tasks: TaskTracker,
    /// Accept loops and connections (`Handle::serve`): the drain waits for them.
    servers: TaskTracker,
    /// Drivers: `Sidecar::run` gives them a moment to send their last word.
    drivers: TaskTracker,
    inflight: AtomicUsize,
    /// Duration of the last drain in nanoseconds (`u64::MAX`: none yet).
    last_drain: AtomicU64,
    reload: OnceLock<ReloadFn>,
}

impl Lifecycle {
    /// A lifecycle in `Starting`.
    pub fn new(budget: StopBudget) -> Lifecycle {
        let (phase, _) = watch::channel(Phase::Starting);
        Lifecycle {
            phase,
            visited: AtomicU8::new(bit(Phase::Starting)),
            verdicts: Verdicts::new(),
            exit: OnceLock::new(),
            budget,
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            abort_signal: OnceLock::new(),
            draining: CancellationToken::new(),
            shutdown: CancellationToken::new(),
            stopped: CancellationToken::new(),
            drain_deadline: OnceLock::new(),
            tasks: TaskTracker::new(),
            servers: TaskTracker::new(),
            drivers: TaskTracker::new(),
            inflight: AtomicUsize::new(0),
            last_drain: AtomicU64::new(u64::MAX),
            reload: OnceLock::new(),
        }
    }

    // ---- observing -------------------------------------------------------------------

    /// The current phase (one atomic load, no lock).
    pub fn phase(&self) -> Phase {
        self.verdicts.load().phase()
    }

    /// The phase and health's verdicts as one atomic word, for the probes.
    pub fn verdicts(&self) -> &Verdicts {
        &self.verdicts
    }

    /// A receiver of the latest phase (intermediate phases may be coalesced).
    pub fn subscribe(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }

    /// Every phase this lifecycle enters, in order, from `Starting` (already entered) on —
    /// none skipped, none repeated, even when the phases change faster than the driver runs.
    /// Ends after `Stopped`.
    #[cfg_attr(not(any(test, feature = "systemd")), allow(dead_code))]
    pub fn transitions(self: &Arc<Self>) -> Transitions {
        Transitions {
            rx: self.phase.subscribe(),
            lifecycle: self.clone(),
            next: 0,
        }
    }

    /// How the lifecycle ended; `Some` from the moment the phase is `Stopped`.
    #[cfg_attr(not(test), allow(dead_code))] // driver API (the Windows service's exit code)
    pub fn exit(&self) -> Option<Exit> {
        self.exit.get().copied()
    }

    /// The stop budget (pre-stop delay, drain timeout).
    #[cfg_attr(not(test), allow(dead_code))] // driver API (the Windows service's wait hints)
    pub fn budget(&self) -> StopBudget {
        self.budget
    }

    /// When the drain gives up; `Some` once the pre-stop delay is over.
    #[cfg_attr(not(any(test, feature = "systemd")), allow(dead_code))]
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.drain_deadline.get().copied()
    }

    /// Requests being served right now.
    pub fn in_flight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Tracked tasks still running.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Duration of the last drain (after the pre-stop delay), if one ran.
    #[cfg_attr(not(any(test, feature = "metrics")), allow(dead_code))]
    pub fn last_drain(&self) -> Option<Duration> {
        match self.last_drain.load(Ordering::Relaxed) {
            u64::MAX => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    // ---- controlling -----------------------------------------------------------------

    /// Requests a graceful stop: draining begins (readiness fails), then after the pre-stop
    /// delay the drain. What the first SIGTERM does. Idempotent.
    pub fn request_stop(&self) {
        self.stop.cancel();
    }

    /// Whether a stop was requested (gracefully or not).
    pub fn stop_requested(&self) -> bool {
        self.stop.is_cancelled() || self.abort.is_cancelled()
    }

    /// Requests a forced stop: the lifecycle ends at once with [`Exit::Aborted`]. What a
    /// second SIGTERM does. The first call's signal wins.
    pub fn request_abort(&self, signal: Signal) {
        let _ = self.abort_signal.set(signal);
        self.abort.cancel();
    }

    /// Requests a configuration reload, as SIGHUP does; `false` when no reload hook is
    /// installed (nothing happens then).
    pub fn request_reload(&self) -> bool {
        match self.reload.get() {
            Some(reload) => {
                reload();
                true
            }
            None => false,
        }
    }

    /// Installs what [`Lifecycle::request_reload`] calls (the reload module does).
    #[cfg_attr(not(feature = "reload"), allow(dead_code))]
    pub fn set_reload(&self, reload: impl Fn() + Send + Sync + 'static) {
        let _ = self.reload.set(Box::new(reload));
    }

    /// Spawns a driver task; it should end when the phase is `Stopped` (or
    /// [`Lifecycle::stopped_token`] fires). `Sidecar::run` waits a moment for drivers so a
    /// final notification (`STATUS=stopped`, `SERVICE_STOPPED`) is not lost.
    pub fn spawn_driver<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.drivers.spawn(task);
    }

    // ---- tokens and trackers for the servers and the facade ----------------------------

    /// Fires when draining begins.
    pub fn draining_token(&self) -> &CancellationToken {
        &self.draining
    }

    /// Fires after the pre-stop delay.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Fires when the lifecycle is over.
    pub fn stopped_token(&self) -> &CancellationToken {
        &self.stopped
    }

    /// Tracked tasks.
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Servers and their connections.
    pub fn servers(&self) -> &TaskTracker {
        &self.servers
    }

    /// Counts one request in flight until the guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.inflight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    // ---- moving the phase ------------------------------------------------------------

    /// Moves the phase forward (never back); returns whether it changed.
    pub fn advance(&self, next: Phase) -> bool {
        let mut changed = false;
        self.phase.send_if_modified(|p| {
            if *p < next {
                self.visited.fetch_or(bit(next), Ordering::SeqCst);
                self.verdicts.set_phase(next);
                *p = next;
                changed = true;
            }
            changed
        });
        if changed {
            tracing::info!(phase = next.as_str(), "lifecycle phase changed");
        }
        changed
    }

    /// Waits for a stop request, then drains; a forced stop ends it at once.
    pub async fn run(self: Arc<Self>) -> Exit {
        tokio::select! {
            _ = self.stop.cancelled() => {}
            _ = self.abort.cancelled() => return self.aborted(),
        }
        let drain = self.drain();
        tokio::pin!(drain);
        tokio::select! {
            exit = &mut drain => exit,
            _ = self.abort.cancelled() => self.aborted(),
        }
    }

    fn aborted(&self) -> Exit {
        Exit::Aborted(self.abort_signal.get().copied().unwrap_or(Signal::Term))
    }

    /// The drain sequence after the stop request.
    async fn drain(&self) -> Exit {
        if !self.draining.is_cancelled() {
            self.draining.cancel();
            self.advance(Phase::Draining);
        }
        tokio::time::sleep(self.budget.pre_stop_delay).await;
        let started = Instant::now();
        let deadline = started + self.budget.drain_timeout;
        let _ = self.drain_deadline.set(deadline);
        self.shutdown.cancel();
        self.tasks.close();
        self.servers.close();
        tracing::info!(
            in_flight = self.in_flight(),
            tasks = self.tasks.len(),
            drain_timeout = %contract::format_duration(self.budget.drain_timeout),
            "pre-stop delay over; listeners closed, draining"
        );
        let wait = async {
            self.servers.wait().await;
            self.tasks.wait().await;
        };
        let exit = tokio::select! {
            _ = wait => Exit::Clean,
            _ = tokio::time::sleep_until(deadline) => Exit::DrainTimeout,
        };
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.last_drain.store(took, Ordering::Relaxed);
        exit
    }

    /// Ends the lifecycle: records the exit, enters `Stopped`, cancels what is left and
    /// gives the drivers a moment (at most 100 ms) to report it.
    pub async fn finish(&self, exit: Exit) {
        let _ = self.exit.set(exit);
        self.advance(Phase::Stopped);
        self.stopped.cancel();
        self.drivers.close();
        let _ = tokio::time::timeout(Duration::from_millis(100), self.drivers.wait()).await;
    }
}

fn bit(phase: Phase) -> u8 {
    1 << (phase as u8)
}

/// Keeps one request counted in flight; see [`Lifecycle::request_started`].
pub(crate) struct InFlight(Arc<Lifecycle>);

impl InFlight {
    /// The lifecycle the request is counted in.
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The phases a lifecycle enters, in order; see [`Lifecycle::transitions`].
#[cfg_attr(not(any(test, feature = "systemd")), allow(dead_code))]
pub(crate) struct Transitions {
    rx: watch::Receiver<Phase>,
    lifecycle: Arc<Lifecycle>,
    /// Index into [`Phase::ALL`] of the next phase to consider.
    next: usize,
}

#[cfg_attr(not(any(test, feature = "systemd")), allow(dead_code))]
impl Transitions {
    /// The next phase entered; `None` after `Stopped`.
    pub async fn next(&mut self) -> Option<Phase> {
        loop {
            let current = *self.rx.borrow_and_update();
            let visited = self.lifecycle.visited.load(Ordering::SeqCst);
            while self.next <= current as usize {
                let phase = Phase::ALL[self.next];
                self.next += 1;
                if visited & bit(phase) != 0 {
                    return Some(phase);
                }
            }
            if self.next >= Phase::ALL.len() || self.rx.changed().await.is_err() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifecycle(pre: u64, drain: u64) -> Arc<Lifecycle> {
        Arc::new(Lifecycle::new(StopBudget {
            pre_stop_delay: Duration::from_secs(pre),
            drain_timeout: Duration::from_secs(drain),
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn transitions_skip_nothing_even_when_coalesced() {
        let l = lifecycle(0, 1);
        let mut t = l.transitions();
        l.advance(Phase::Ready);
        l.advance(Phase::Draining);
        l.advance(Phase::Stopped);
        let mut seen = Vec::new();
        while let Some(p) = t.next().await {
            seen.push(p);
        }
        assert_eq!(seen, Phase::ALL);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_before_ready_never_reports_ready() {
        let l = lifecycle(0, 1);
        let mut t = l.transitions();
        assert_eq!(t.next().await, Some(Phase::Starting));
        l.advance(Phase::Draining);
        assert!(!l.advance(Phase::Ready), "the phase never goes back");
        l.advance(Phase::Stopped);
        assert_eq!(t.next().await, Some(Phase::Draining));
        assert_eq!(t.next().await, Some(Phase::Stopped));
        assert_eq!(t.next().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_request_drains_within_the_budget_and_abort_cuts_it_short() {
        let l = lifecycle(5, 20);
        assert_eq!(l.budget().total(), Duration::from_secs(25));
        let guard = l.tasks().token(); // work the drain waits for
        let run = tokio::spawn(l.clone().run());
        let t0 = Instant::now();
        assert!(!l.stop_requested());
        l.request_stop();
        assert!(l.stop_requested());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(l.phase(), Phase::Draining);
        assert!(l.draining_token().is_cancelled());
        assert_eq!(l.drain_deadline(), None);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(l.shutdown_token().is_cancelled());
        assert_eq!(l.drain_deadline(), Some(t0 + Duration::from_secs(25)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!run.is_finished(), "the drain waits for the task");
        l.request_abort(Signal::Int);
        l.request_abort(Signal::Term); // the first abort's signal wins
        assert_eq!(run.await.unwrap(), Exit::Aborted(Signal::Int));
        drop(guard);
        l.finish(Exit::Aborted(Signal::Int)).await;
        assert_eq!(l.phase(), Phase::Stopped);
        assert_eq!(l.exit(), Some(Exit::Aborted(Signal::Int)));
        assert!(l.stopped_token().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn reload_requests_reach_the_installed_hook_only() {
        let l = lifecycle(0, 1);
        assert!(!l.request_reload(), "no hook: nothing to do");
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        l.set_reload(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert!(l.request_reload());
        assert!(l.request_reload());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_guards_count_and_the_drain_records_its_duration() {
        let l = lifecycle(0, 10);
        let a = l.request_started();
        let b = l.request_started();
        assert_eq!(l.in_flight(), 2);
        drop(a);
        assert_eq!(l.in_flight(), 1);
        drop(b);
        assert_eq!(l.last_drain(), None);
        let token = l.tasks().token();
        let run = tokio::spawn(l.clone().run());
        l.request_stop();
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(token);
        assert_eq!(run.await.unwrap(), Exit::Clean);
        assert_eq!(l.last_drain(), Some(Duration::from_secs(3)));
    }
}
