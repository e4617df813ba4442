//! Named health checks: what a daemon registers. Running them and caching their results is
//! the health module's job.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub(crate) type CheckFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Which probe endpoint(s) a check feeds.
///
/// ```
/// use berth_sidecar::CheckKind;
/// assert_eq!(CheckKind::Readiness.path(), "/readyz");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// `/livez` (and the systemd watchdog). Keep external dependencies out of it.
    Liveness,
    /// `/readyz`.
    Readiness,
    /// `/startupz`: must pass once for start-up to complete; it is not run afterwards.
    Startup,
}

impl CheckKind {
    /// The admin endpoint this kind feeds.
    ///
    /// ```
    /// assert_eq!(berth_sidecar::CheckKind::Liveness.path(), "/livez");
    /// ```
    pub fn path(self) -> &'static str {
        match self {
            CheckKind::Liveness => crate::contract::PATH_LIVEZ,
            CheckKind::Readiness => crate::contract::PATH_READYZ,
            CheckKind::Startup => crate::contract::PATH_STARTUPZ,
        }
    }

    /// `liveness`, `readiness` or `startup` (used as a metrics label).
    ///
    /// ```
    /// assert_eq!(berth_sidecar::CheckKind::Startup.as_str(), "startup");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Liveness => "liveness",
            CheckKind::Readiness => "readiness",
            CheckKind::Startup => "startup",
        }
    }
}

/// A named asynchronous health check.
///
/// The check runs in the background every [`interval`](Check::interval) (first run at
/// start-up); probes only read its cached result, so a slow dependency never makes a probe
/// hang. A run that errors, exceeds its [`timeout`](Check::timeout) or panics is a failure;
/// the check reports failed after [`failure_threshold`](Check::failure_threshold)
/// consecutive failures (and until it first succeeds).
///
/// Defaults: timeout 1 s, interval 10 s (1 s for start-up checks), failure threshold 2 (1
/// for start-up checks).
///
/// ```
/// use berth_sidecar::{Check, CheckKind};
/// use std::time::Duration;
///
/// let check = Check::readiness("db", || async { Ok::<(), std::io::Error>(()) })
///     .timeout(Duration::from_millis(500))
///     .interval(Duration::from_secs(5))
///     .failure_threshold(3)
///     .also(CheckKind::Startup);
/// assert_eq!(check.name(), "db");
/// ```
#[must_use = "register the check with Builder::check"]
pub struct Check {
    pub(crate) name: String,
    pub(crate) kinds: Vec<CheckKind>,
    pub(crate) run: CheckFn,
    pub(crate) timeout: Duration,
    pub(crate) interval: Option<Duration>,
    pub(crate) failure_threshold: Option<u32>,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("kinds", &self.kinds)
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .field("failure_threshold", &self.failure_threshold)
            .finish_non_exhaustive()
    }
}

impl Check {
    /// A check of the given kind. `check` is called for every run; its error is shown as the
    /// failure reason (`[-]name failed: reason`).
    ///
    /// ```
    /// use berth_sidecar::{Check, CheckKind};
    /// let c = Check::new("cache", CheckKind::Readiness, || async { Err::<(), _>("cold") });
    /// assert_eq!(c.kinds(), &[CheckKind::Readiness]);
    /// ```
    pub fn new<F, Fut, E>(name: impl Into<String>, kind: CheckKind, check: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let run: CheckFn = Arc::new(move || {
            let fut = check();
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        Check {
            name: name.into(),
            kinds: vec![kind],
            run,
            timeout: Duration::from_secs(1),
            interval: None,
            failure_threshold: None,
        }
    }

    /// A readiness check (`/readyz`): the place for dependencies such as a database.
    ///
    /// ```
    /// let c = berth_sidecar::Check::readiness("db", || async { Ok::<(), String>(()) });
    /// # let _ = c;
    /// ```
    pub fn readiness<F, Fut, E>(name: impl Into<String>, check: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        Check::new(name, CheckKind::Readiness, check)
    }

    /// A liveness check (`/livez` and the systemd watchdog). Only for conditions a restart
    /// fixes (a wedged worker, a poisoned state), never for external dependencies.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicBool, Ordering}};
    /// let healthy = Arc::new(AtomicBool::new(true));
    /// let c = berth_sidecar::Check::liveness("worker", move || {
    ///     let ok = healthy.load(Ordering::Relaxed);
    ///     async move { if ok { Ok(()) } else { Err("worker wedged") } }
    /// });
    /// # let _ = c;
    /// ```
    pub fn liveness<F, Fut, E>(name: impl Into<String>, check: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        Check::new(name, CheckKind::Liveness, check)
    }

    /// A start-up check (`/startupz`): start-up completes (readiness, `READY=1`) only after
    /// it passed once; it is not run afterwards.
    ///
    /// ```
    /// let c = berth_sidecar::Check::startup("migrations", || async { Ok::<(), String>(()) });
    /// # let _ = c;
    /// ```
    pub fn startup<F, Fut, E>(name: impl Into<String>, check: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        Check::new(name, CheckKind::Startup, check)
    }

    /// Also feed another endpoint with the same check.
    ///
    /// ```
    /// use berth_sidecar::{Check, CheckKind};
    /// let c = Check::startup("warm", || async { Ok::<(), String>(()) }).also(CheckKind::Readiness);
    /// assert_eq!(c.kinds().len(), 2);
    /// ```
    pub fn also(mut self, kind: CheckKind) -> Check {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
        self
    }

    /// How long one run may take before it counts as failed (default 1 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let c = berth_sidecar::Check::readiness("db", || async { Ok::<(), String>(()) })
    ///     .timeout(Duration::from_millis(300));
    /// # let _ = c;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Check {
        self.timeout = timeout;
        self
    }

    /// Time between the start of two runs (default 10 s; 1 s for start-up checks).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let c = berth_sidecar::Check::readiness("db", || async { Ok::<(), String>(()) })
    ///     .interval(Duration::from_secs(2));
    /// # let _ = c;
    /// ```
    pub fn interval(mut self, interval: Duration) -> Check {
        self.interval = Some(interval.max(Duration::from_millis(1)));
        self
    }

    /// Consecutive failed runs before the check reports failed (default 2; 1 for start-up
    /// checks). A check that never succeeded reports failed regardless.
    ///
    /// ```
    /// let c = berth_sidecar::Check::readiness("db", || async { Ok::<(), String>(()) })
    ///     .failure_threshold(3);
    /// # let _ = c;
    /// ```
    pub fn failure_threshold(mut self, threshold: u32) -> Check {
        self.failure_threshold = Some(threshold.max(1));
        self
    }

    /// The check's name.
    ///
    /// ```
    /// assert_eq!(berth_sidecar::Check::readiness("db", || async { Ok::<(), String>(()) }).name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The endpoints the check feeds.
    ///
    /// ```
    /// use berth_sidecar::{Check, CheckKind};
    /// let c = Check::liveness("loop", || async { Ok::<(), String>(()) });
    /// assert_eq!(c.kinds(), &[CheckKind::Liveness]);
    /// ```
    pub fn kinds(&self) -> &[CheckKind] {
        &self.kinds
    }

    fn only_startup(&self) -> bool {
        self.kinds.iter().all(|k| *k == CheckKind::Startup)
    }

    pub(crate) fn effective_interval(&self) -> Duration {
        self.interval.unwrap_or(if self.only_startup() {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(10)
        })
    }

    pub(crate) fn effective_threshold(&self) -> u32 {
        self.failure_threshold
            .unwrap_or(if self.only_startup() { 1 } else { 2 })
    }
}

/// Runs one check once: timeout and panics count as failures.
pub(crate) async fn run_once(run: &CheckFn, timeout: Duration) -> Result<(), String> {
    let task = tokio::spawn((run)());
    let abort = task.abort_handle();
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) if join.is_panic() => {
            Err(format!("panicked: {}", panic_message(&*join.into_panic())))
        }
        Ok(Err(_)) => Err("cancelled".to_owned()),
        Err(_) => {
            abort.abort();
            Err(format!(
                "timed out after {}",
                crate::contract::format_duration(timeout)
            ))
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
