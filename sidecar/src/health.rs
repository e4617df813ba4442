//! Health: start-up latches, the registered checks and their cached results, task panics,
//! and the reports behind `/livez`, `/readyz` and `/startupz`.
//!
//! Health completes start-up (it moves the lifecycle to `Ready`) and reads the phase for the
//! readiness `shutdown` line; it knows nothing about the servers or the drivers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::check::{Check, CheckFn, CheckKind, run_once};
use crate::lifecycle::Lifecycle;
use crate::metrics::{CheckLabels, Metrics};
use crate::state::Phase;
use crate::verdict::flag;

/// Why a built-in line of a probe report fails; formatted only for the report.
enum Failing<'a> {
    StartupIncomplete,
    Draining,
    MarkReadyPending,
    LatchesHeld(usize),
    TaskPanicked(&'a str),
}

impl std::fmt::Display for Failing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failing::StartupIncomplete => f.write_str("start-up not complete"),
            Failing::Draining => f.write_str("draining"),
            Failing::MarkReadyPending => f.write_str("mark_ready() not called yet"),
            Failing::LatchesHeld(n) => write!(f, "{n} start-up latch(es) held"),
            Failing::TaskPanicked(message) => f.write_str(message),
        }
    }
}

/// Start-up checks stop counting once start-up completed: their lines pass from then on.
fn startup_settled(kind: CheckKind, started: bool) -> bool {
    kind == CheckKind::Startup && started
}

/// One line of a probe report: name and verdict.
pub(crate) struct Line {
    pub name: String,
    pub result: Result<(), String>,
}

/// The health state of one sidecar.
pub(crate) struct Health {
    lifecycle: Arc<Lifecycle>,
    /// Unreleased start-up latches (the `mark_ready` latch included).
    latches: AtomicUsize,
    main_latch: AtomicBool,
    startup_done: AtomicBool,
    checks: Vec<Registered>,
    fail_liveness_on_task_panic: bool,
    task_panic: Mutex<Option<String>>,
    /// Serialises [`Health::refresh`], so the last verdicts published are computed after
    /// the last change (off the probe path: taken when something changes, never per probe).
    refresh: Mutex<()>,
}

impl Health {
    /// Health for `checks`; with `auto_ready` start-up does not wait for `mark_ready`.
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        checks: &[Check],
        auto_ready: bool,
        fail_liveness_on_task_panic: bool,
    ) -> Health {
        let health = Health {
            lifecycle,
            latches: AtomicUsize::new(usize::from(!auto_ready)),
            main_latch: AtomicBool::new(!auto_ready),
            startup_done: AtomicBool::new(false),
            checks: checks.iter().map(Registered::new).collect(),
            fail_liveness_on_task_panic,
            task_panic: Mutex::new(None),
            refresh: Mutex::new(()),
        };
        health.refresh();
        health
    }

    /// The metric labels of every check (to create their series up front).
    pub fn check_labels(&self) -> Vec<&CheckLabels> {
        self.checks.iter().map(|c| &c.labels).collect()
    }

    /// Starts the background loop of every check; they end with the lifecycle.
    pub fn start_checks(self: &Arc<Self>, checks: Vec<Check>, metrics: Arc<Metrics>) {
        for (index, check) in checks.into_iter().enumerate() {
            let interval = check.effective_interval();
            tokio::spawn(run_loop(
                self.clone(),
                metrics.clone(),
                index,
                check.run,
                check.timeout,
                interval,
            ));
        }
    }

    /// The report behind `/livez`, `/readyz` and `/startupz`.
    pub fn report(&self, kind: CheckKind) -> Vec<Line> {
        let started = self.startup_complete();
        let mut lines = Vec::new();
        self.builtin_lines(kind, started, true, |name, failing| {
            lines.push(Line {
                name: name.to_owned(),
                result: failing.map_or(Ok(()), |why| Err(why.to_string())),
            });
        });
        let settled = startup_settled(kind, started);
        for check in self.checks.iter().filter(|c| c.has(kind)) {
            let result = if settled {
                Ok(())
            } else {
                match check.verdict(kind) {
                    Verdict::Ok => Ok(()),
                    Verdict::Failed(reason) => Err(reason),
                }
            };
            lines.push(Line {
                name: check.name.clone(),
                result,
            });
        }
        lines
    }

    /// The built-in lines of a probe, in report order: each line's name and, when it fails,
    /// why. The one statement of their rules, for [`Health::report`] (which formats the
    /// reasons) and [`Health::evaluate`] (which only counts them, allocation-free).
    /// `started`: the caller's one reading of [`Health::startup_complete`]; `with_phase`:
    /// include readiness's `shutdown` line (the cached verdict applies the phase itself when
    /// it is read).
    fn builtin_lines(
        &self,
        kind: CheckKind,
        started: bool,
        with_phase: bool,
        mut line: impl FnMut(&'static str, Option<Failing<'_>>),
    ) {
        match kind {
            CheckKind::Liveness => {
                line("ping", None);
                if self.fail_liveness_on_task_panic {
                    let panic = self.task_panic.lock().unwrap_or_else(|e| e.into_inner());
                    line("tasks", panic.as_deref().map(Failing::TaskPanicked));
                }
            }
            CheckKind::Readiness => {
                line("startup", (!started).then_some(Failing::StartupIncomplete));
                if with_phase {
                    let draining = self.lifecycle.phase() >= Phase::Draining;
                    line("shutdown", draining.then_some(Failing::Draining));
                }
            }
            CheckKind::Startup => {
                let pending = self.latches.load(Ordering::SeqCst);
                line(
                    "latches",
                    if started || pending == 0 {
                        None
                    } else if self.main_latch.load(Ordering::SeqCst) && pending == 1 {
                        Some(Failing::MarkReadyPending)
                    } else {
                        Some(Failing::LatchesHeld(pending))
                    },
                );
            }
        }
    }

    /// Whether every line of [`Health::report`] passes: the cached verdict (one atomic load;
    /// the probe fast path).
    pub fn passes(&self, kind: CheckKind) -> bool {
        self.lifecycle.verdicts().load().passes(kind)
    }

    /// Recomputes the verdict of every probe and publishes them in the lifecycle's
    /// [`Verdicts`](crate::verdict::Verdicts). Called on every change a verdict depends on:
    /// a check run, a latch taken or released, the end of start-up, a task panic (the phase
    /// is published by the lifecycle itself).
    fn refresh(&self) {
        let _serial = self.refresh.lock().unwrap_or_else(|e| e.into_inner());
        let verdicts = [
            CheckKind::Liveness,
            CheckKind::Readiness,
            CheckKind::Startup,
        ]
        .into_iter()
        .filter(|&kind| self.evaluate(kind))
        .fold(0, |bits, kind| bits | flag(kind));
        self.lifecycle.verdicts().set_verdicts(verdicts);
    }

    /// Whether every line of [`Health::report`] passes, apart from readiness's phase line
    /// (applied when the verdict is read), computed from the checks' state.
    fn evaluate(&self, kind: CheckKind) -> bool {
        let started = self.startup_complete();
        let mut passes = true;
        self.builtin_lines(kind, started, false, |_, failing| {
            passes &= failing.is_none()
        });
        let settled = startup_settled(kind, started);
        passes
            && self
                .checks
                .iter()
                .filter(|c| c.has(kind))
                .all(|c| settled || c.ok(kind))
    }

    /// Whether start-up completed.
    pub fn startup_complete(&self) -> bool {
        self.startup_done.load(Ordering::SeqCst)
    }

    /// Completes start-up once every latch is released and every start-up check passed:
    /// the lifecycle enters `Ready` (unless a stop came first).
    pub fn try_complete_startup(&self) {
        if self.startup_done.load(Ordering::SeqCst) || self.latches.load(Ordering::SeqCst) > 0 {
            return;
        }
        let all_passed = self
            .checks
            .iter()
            .filter(|c| c.has(CheckKind::Startup))
            .all(|c| c.status().ever_passed);
        if !all_passed || self.startup_done.swap(true, Ordering::SeqCst) {
            return;
        }
        self.refresh();
        tracing::info!("start-up complete");
        self.lifecycle.advance(Phase::Ready);
    }

    /// Releases the daemon's own latch (`Handle::mark_ready`); idempotent.
    pub fn mark_ready(&self) {
        if self.main_latch.swap(false, Ordering::SeqCst) {
            self.release_latch();
        }
    }

    /// Takes an extra latch; `false` (nothing taken) once start-up completed.
    pub fn take_latch(&self) -> bool {
        if self.startup_done.load(Ordering::SeqCst) {
            return false;
        }
        self.latches.fetch_add(1, Ordering::SeqCst);
        self.refresh();
        true
    }

    /// Releases a latch taken with [`Health::take_latch`] (or the main latch).
    pub fn release_latch(&self) {
        if self.latches.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.try_complete_startup();
        }
        self.refresh();
    }

    /// Records a panic of a tracked task (it fails liveness if the builder asked for that).
    pub fn record_task_panic(&self, name: &str, message: String) {
        tracing::error!(task = name, panic = %message, "tracked task panicked");
        if self.fail_liveness_on_task_panic {
            let mut slot = self.task_panic.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert_with(|| format!("task {name} panicked: {message}"));
            drop(slot);
            self.refresh();
        }
    }

    /// The registered checks, in registration order.
    #[cfg(test)]
    pub fn checks(&self) -> &[Registered] {
        &self.checks
    }
}

/// The cached state of one registered check.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status {
    /// Number of completed runs.
    pub runs: u64,
    /// Whether any run succeeded yet.
    pub ever_passed: bool,
    pub consecutive_failures: u32,
    /// Reason of the last failed run.
    pub last_error: Option<String>,
}

pub(crate) struct Registered {
    pub name: String,
    pub kinds: Vec<CheckKind>,
    pub threshold: u32,
    pub status: Mutex<Status>,
    labels: CheckLabels,
}

/// Verdict of one check for one endpoint.
pub(crate) enum Verdict {
    Ok,
    Failed(String),
}

impl Registered {
    pub fn new(check: &Check) -> Registered {
        let kinds: Vec<&str> = check.kinds.iter().map(|k| k.as_str()).collect();
        Registered {
            name: check.name.clone(),
            kinds: check.kinds.clone(),
            threshold: check.effective_threshold(),
            status: Mutex::new(Status::default()),
            labels: CheckLabels::new(&check.name, &kinds.join(",")),
        }
    }

    pub fn has(&self, kind: CheckKind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The verdict for `kind`, with the reason when it fails. A check that has not run yet
    /// fails readiness and start-up but not liveness (a pending liveness check must not get the
    /// process restarted).
    pub fn verdict(&self, kind: CheckKind) -> Verdict {
        let s = self.status();
        if self.passes_with(&s, kind) {
            return Verdict::Ok;
        }
        let fallback = if kind == CheckKind::Startup || s.runs == 0 {
            "not run yet"
        } else {
            "failed"
        };
        Verdict::Failed(s.last_error.unwrap_or_else(|| fallback.to_owned()))
    }

    /// Allocation-free form of `matches!(self.verdict(kind), Verdict::Ok)`.
    pub fn ok(&self, kind: CheckKind) -> bool {
        self.passes_with(&self.status.lock().unwrap_or_else(|e| e.into_inner()), kind)
    }

    /// The one rule of [`verdict`](Self::verdict) and [`ok`](Self::ok).
    fn passes_with(&self, s: &Status, kind: CheckKind) -> bool {
        match kind {
            CheckKind::Startup => s.ever_passed,
            _ if s.runs == 0 => kind == CheckKind::Liveness,
            _ => s.ever_passed && s.consecutive_failures < self.threshold,
        }
    }

    fn record(&self, result: &Result<(), String>) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.runs += 1;
        match result {
            Ok(()) => {
                s.ever_passed = true;
                s.consecutive_failures = 0;
                s.last_error = None;
            }
            Err(e) => {
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                s.last_error = Some(e.clone());
            }
        }
    }
}

/// The background loop of one check; ends with the lifecycle, or after the first success
/// of a start-up-only check.
async fn run_loop(
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    index: usize,
    run: CheckFn,
    timeout: Duration,
    interval: Duration,
) {
    let stop = health.lifecycle.stopped_token().clone();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let only_startup = health.checks[index]
        .kinds
        .iter()
        .all(|k| *k == CheckKind::Startup);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = run_once(&run, timeout) => r,
        };
        let elapsed = started.elapsed();
        let entry = &health.checks[index];
        let before = entry.status();
        entry.record(&result);
        health.refresh();
        metrics.check_result(&entry.labels, result.is_ok(), elapsed);
        match &result {
            Ok(()) if before.consecutive_failures > 0 || before.runs == 0 => {
                tracing::info!(check = %entry.name, "check passed");
            }
            Err(e) if before.consecutive_failures == 0 => {
                tracing::warn!(check = %entry.name, error = %e, "check failed");
            }
            _ => {}
        }
        health.try_complete_startup();
        if only_startup && result.is_ok() {
            return;
        }
    }
}
