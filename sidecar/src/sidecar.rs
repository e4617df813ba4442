//! The builder, the running sidecar, its handle and the lifecycle driver.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Error;
use crate::check::{Check, CheckKind, Registered, Verdict};
use crate::contract::{self, Settings};
use crate::exit::{Exit, Signal};
use crate::metrics::Metrics;
use crate::state::Phase;

/// State shared by the handle, the admin server, the check loops and the lifecycle driver.
pub(crate) struct Shared {
    pub pre_stop_delay: Duration,
    pub drain_timeout: Duration,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub metrics_enabled: bool,
    pub phase: watch::Sender<Phase>,
    /// Unreleased start-up latches (the `mark_ready` latch included).
    pub latches: AtomicUsize,
    pub main_latch: AtomicBool,
    pub startup_done: AtomicBool,
    pub checks: Vec<Registered>,
    /// Programmatic shutdown request ([`Handle::shutdown`]).
    pub requested: CancellationToken,
    /// Fires on the first signal: readiness fails, `Connection: close` is sent.
    pub draining: CancellationToken,
    /// Fires after the pre-stop delay: listeners stop, tasks must finish.
    pub shutdown: CancellationToken,
    /// Fires when [`Sidecar::run`] returns: everything left is cancelled.
    pub stopped: CancellationToken,
    pub tasks: TaskTracker,
    pub servers: TaskTracker,
    pub inflight: AtomicUsize,
    pub fail_liveness_on_task_panic: bool,
    pub task_panic: Mutex<Option<String>>,
    pub metrics: Metrics,
    #[cfg(feature = "systemd")]
    pub notifier: Option<crate::systemd::Notifier>,
}

/// One line of a probe report: name and verdict.
pub(crate) struct Line {
    pub name: String,
    pub result: Result<(), String>,
}

impl Shared {
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    fn set_phase(&self, next: Phase) -> bool {
        let changed = self.phase.send_if_modified(|p| {
            if *p < next {
                *p = next;
                true
            } else {
                false
            }
        });
        if changed {
            tracing::info!(phase = next.as_str(), "lifecycle phase changed");
            self.metrics.phase(next);
            self.notify_status();
            self.update_ready_metric();
        }
        changed
    }

    /// The report behind `/livez`, `/readyz` and `/startupz`.
    pub fn report(&self, kind: CheckKind) -> Vec<Line> {
        let mut lines = Vec::new();
        let phase = self.phase();
        match kind {
            CheckKind::Liveness => {
                lines.push(Line {
                    name: "ping".to_owned(),
                    result: Ok(()),
                });
                if self.fail_liveness_on_task_panic {
                    let panic = self.task_panic.lock().unwrap_or_else(|e| e.into_inner());
                    lines.push(Line {
                        name: "tasks".to_owned(),
                        result: match &*panic {
                            None => Ok(()),
                            Some(msg) => Err(msg.clone()),
                        },
                    });
                }
            }
            CheckKind::Readiness => {
                lines.push(Line {
                    name: "startup".to_owned(),
                    result: if self.startup_complete() {
                        Ok(())
                    } else {
                        Err("start-up not complete".to_owned())
                    },
                });
                lines.push(Line {
                    name: "shutdown".to_owned(),
                    result: if phase >= Phase::Draining {
                        Err("draining".to_owned())
                    } else {
                        Ok(())
                    },
                });
            }
            CheckKind::Startup => {
                let pending = self.latches.load(Ordering::SeqCst);
                lines.push(Line {
                    name: "latches".to_owned(),
                    result: if self.startup_complete() || pending == 0 {
                        Ok(())
                    } else if self.main_latch.load(Ordering::SeqCst) && pending == 1 {
                        Err("mark_ready() not called yet".to_owned())
                    } else {
                        Err(format!("{pending} start-up latch(es) held"))
                    },
                });
            }
        }
        for check in self.checks.iter().filter(|c| c.has(kind)) {
            let result = if kind == CheckKind::Startup && self.startup_complete() {
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

    /// Whether every line of [`Shared::report`] passes, without building the report (the
    /// probe fast path).
    pub fn passes(&self, kind: CheckKind) -> bool {
        let started = self.startup_complete();
        let builtin = match kind {
            CheckKind::Liveness => {
                !self.fail_liveness_on_task_panic
                    || self
                        .task_panic
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .is_none()
            }
            CheckKind::Readiness => started && self.phase() < Phase::Draining,
            CheckKind::Startup => started || self.latches.load(Ordering::SeqCst) == 0,
        };
        builtin
            && self
                .checks
                .iter()
                .filter(|c| c.has(kind))
                .all(|c| (kind == CheckKind::Startup && started) || c.ok(kind))
    }

    pub fn startup_complete(&self) -> bool {
        self.startup_done.load(Ordering::SeqCst)
    }

    /// Completes start-up once every latch is released and every start-up check passed.
    pub fn try_complete_startup(&self) {
        if self.startup_done.load(Ordering::SeqCst) || self.latches.load(Ordering::SeqCst) > 0 {
            return;
        }
        let all_passed = self
            .checks
            .iter()
            .filter(|c| c.has(CheckKind::Startup))
            .all(|c| c.status().ever_passed);
        if !all_passed {
            return;
        }
        if self.startup_done.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!("start-up complete");
        #[cfg(feature = "systemd")]
        if let Some(n) = &self.notifier
            && self.phase() == Phase::Starting
        {
            n.notify("READY=1");
        }
        self.set_phase(Phase::Ready);
    }

    pub fn on_check_change(&self) {
        self.try_complete_startup();
        self.update_ready_metric();
    }

    fn update_ready_metric(&self) {
        self.metrics.ready(self.passes(CheckKind::Readiness));
    }

    pub fn notify_status(&self) {
        #[cfg(feature = "systemd")]
        if let Some(n) = &self.notifier {
            let phase = self.phase();
            let status = match phase {
                Phase::Draining => format!(
                    "STATUS=draining: {} request(s) in flight, {} task(s)",
                    self.inflight.load(Ordering::Relaxed),
                    self.tasks.len()
                ),
                other => format!("STATUS={other}"),
            };
            n.notify(&status);
        }
    }

    pub fn release_latch(&self) {
        if self.latches.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.try_complete_startup();
            self.update_ready_metric();
        }
    }

    fn begin_draining(&self) {
        if self.draining.is_cancelled() {
            return;
        }
        self.draining.cancel();
        #[cfg(feature = "systemd")]
        if let Some(n) = &self.notifier {
            n.notify("STOPPING=1");
        }
        self.set_phase(Phase::Draining);
    }

    pub fn record_task_panic(&self, name: &str, message: String) {
        tracing::error!(task = name, panic = %message, "tracked task panicked");
        self.metrics.task_panic();
        if self.fail_liveness_on_task_panic {
            let mut slot = self.task_panic.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert_with(|| format!("task {name} panicked: {message}"));
        }
    }
}

#[cfg(feature = "reload")]
type ReloadHook = crate::reload::ReloadHook;
#[cfg(not(feature = "reload"))]
type ReloadHook = ();

/// Configures and starts a [`Sidecar`]. Obtain one with [`Sidecar::builder`] (defaults) or
/// [`Builder::from_env`] (the `BERTH_*` contract), override in code, then
/// [`start`](Builder::start).
///
/// ```no_run
/// use berth_sidecar::{Builder, Check};
/// use std::time::Duration;
///
/// # async fn demo() -> Result<(), berth_sidecar::Error> {
/// let sidecar = Builder::from_env()?
///     .pre_stop_delay(Duration::from_secs(2))
///     .drain_timeout(Duration::from_secs(10))
///     .admin_addr("127.0.0.1:9090")
///     .check(Check::readiness("db", || async { Ok::<(), String>(()) }))
///     .start()
///     .await?;
/// # drop(sidecar); Ok(()) }
/// ```
#[must_use = "call .start().await to run the sidecar"]
pub struct Builder {
    admin_addr: String,
    pre_stop_delay: Duration,
    drain_timeout: Duration,
    metrics: bool,
    config_file: Option<PathBuf>,
    checks: Vec<Check>,
    auto_ready: bool,
    fail_liveness_on_task_panic: bool,
    signals: bool,
    #[cfg_attr(not(feature = "reload"), allow(dead_code))]
    reload: Option<ReloadHook>,
    #[cfg_attr(not(feature = "reload"), allow(dead_code))]
    reload_debounce: Duration,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("admin_addr", &self.admin_addr)
            .field("pre_stop_delay", &self.pre_stop_delay)
            .field("drain_timeout", &self.drain_timeout)
            .field("metrics", &self.metrics)
            .field("config_file", &self.config_file)
            .field("checks", &self.checks)
            .field("auto_ready", &self.auto_ready)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    /// The contract's defaults, ignoring the environment.
    ///
    /// ```
    /// let b = berth_sidecar::Builder::default();
    /// # drop(b);
    /// ```
    fn default() -> Self {
        Builder::from_settings(Settings::default())
    }
}

impl Builder {
    /// Reads the `BERTH_*` environment contract ([`contract::Settings::from_env`]); a
    /// malformed value is an [`Error::Env`] naming the variable.
    ///
    /// ```
    /// let builder = berth_sidecar::Builder::from_env();
    /// # drop(builder);
    /// ```
    pub fn from_env() -> Result<Builder, Error> {
        Ok(Builder::from_settings(Settings::from_env()?))
    }

    /// Starts from already parsed settings.
    ///
    /// ```
    /// use berth_sidecar::{Builder, contract::Settings};
    /// let b = Builder::from_settings(Settings::default());
    /// # drop(b);
    /// ```
    pub fn from_settings(settings: Settings) -> Builder {
        Builder {
            admin_addr: settings.admin_addr,
            pre_stop_delay: settings.pre_stop_delay,
            drain_timeout: settings.drain_timeout,
            metrics: settings.metrics,
            config_file: settings.config_file.map(PathBuf::from),
            checks: Vec::new(),
            auto_ready: false,
            fail_liveness_on_task_panic: false,
            signals: true,
            reload: None,
            reload_debounce: Duration::from_millis(200),
        }
    }

    /// `HOST:PORT` of the admin server (port 0 picks a free port; see
    /// [`Handle::admin_addr`]).
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().admin_addr("127.0.0.1:0");
    /// # drop(b);
    /// ```
    pub fn admin_addr(mut self, addr: impl ToString) -> Builder {
        self.admin_addr = addr.to_string();
        self
    }

    /// How long to keep serving, with readiness failing, after the first signal.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().pre_stop_delay(std::time::Duration::ZERO);
    /// # drop(b);
    /// ```
    pub fn pre_stop_delay(mut self, delay: Duration) -> Builder {
        self.pre_stop_delay = delay;
        self
    }

    /// How long in-flight requests and tracked tasks may take after the pre-stop delay.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().drain_timeout(std::time::Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn drain_timeout(mut self, timeout: Duration) -> Builder {
        self.drain_timeout = timeout;
        self
    }

    /// Serve `/metrics` on the admin port (the registry exists either way).
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().metrics(false);
    /// # drop(b);
    /// ```
    pub fn metrics(mut self, enabled: bool) -> Builder {
        self.metrics = enabled;
        self
    }

    /// The configuration file passed to the reload hook and watched for changes.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().config_file("/etc/echo/config.yaml");
    /// # drop(b);
    /// ```
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Builder {
        self.config_file = Some(path.into());
        self
    }

    /// Registers a health check.
    ///
    /// ```
    /// use berth_sidecar::{Check, Sidecar};
    /// let b = Sidecar::builder().check(Check::readiness("db", || async { Ok::<(), String>(()) }));
    /// # drop(b);
    /// ```
    pub fn check(mut self, check: Check) -> Builder {
        self.checks.push(check);
        self
    }

    /// Complete start-up without [`Handle::mark_ready`]: as soon as every start-up check
    /// passed and every [`StartupLatch`] is released (default false: the daemon must call
    /// `mark_ready()`).
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().auto_ready(true);
    /// # drop(b);
    /// ```
    pub fn auto_ready(mut self, auto: bool) -> Builder {
        self.auto_ready = auto;
        self
    }

    /// Fail liveness (and stop the systemd watchdog) once a task started with
    /// [`Handle::spawn`] panicked (default false: the panic is logged and counted).
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().fail_liveness_on_task_panic(true);
    /// # drop(b);
    /// ```
    pub fn fail_liveness_on_task_panic(mut self, fail: bool) -> Builder {
        self.fail_liveness_on_task_panic = fail;
        self
    }

    /// Install the SIGTERM/SIGINT (and, with a reload hook, SIGHUP) handlers (default true).
    /// Without them only [`Handle::shutdown`] starts the drain; meant for tests that run
    /// several sidecars in one process.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().signals(false);
    /// # drop(b);
    /// ```
    pub fn signals(mut self, install: bool) -> Builder {
        self.signals = install;
        self
    }

    /// Calls `hook` on SIGHUP and whenever the configuration file's content changes (the
    /// parent directory is watched, so rename-replace and Kubernetes ConfigMap `..data`
    /// symlink swaps are seen; events are debounced). An `Err` is logged and counted
    /// (`berth_reloads_total{result="failure"}`) and the daemon keeps its old configuration.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder()
    ///     .config_file("/etc/echo/config.yaml")
    ///     .on_reload(|reload: berth_sidecar::Reload| async move {
    ///         let path = reload.path().ok_or("no config file")?;
    ///         let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    ///         println!("new config: {} bytes", text.len());
    ///         Ok::<(), String>(())
    ///     });
    /// # drop(b);
    /// ```
    #[cfg(feature = "reload")]
    #[cfg_attr(docsrs, doc(cfg(feature = "reload")))]
    pub fn on_reload<F, Fut, E>(mut self, hook: F) -> Builder
    where
        F: Fn(crate::Reload) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        self.reload = Some(crate::reload::hook(hook));
        self
    }

    /// Quiet period after a file event before the content is compared and the hook runs
    /// (default 200 ms).
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().reload_debounce(std::time::Duration::from_millis(50));
    /// # drop(b);
    /// ```
    #[cfg(feature = "reload")]
    #[cfg_attr(docsrs, doc(cfg(feature = "reload")))]
    pub fn reload_debounce(mut self, debounce: Duration) -> Builder {
        self.reload_debounce = debounce;
        self
    }

    /// Binds the admin server and installs the signal handlers — the only fallible step —
    /// then starts the check loops, the admin server and the lifecycle driver.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), berth_sidecar::Error> {
    /// let sidecar = berth_sidecar::Sidecar::builder().admin_addr("127.0.0.1:0").start().await?;
    /// println!("admin on {}", sidecar.admin_addr());
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<Sidecar, Error> {
        contract::validate_host_port(&self.admin_addr).map_err(|reason| Error::AdminAddr {
            addr: self.admin_addr.clone(),
            reason,
        })?;
        let admin_listener =
            TcpListener::bind(self.admin_addr.as_str())
                .await
                .map_err(|source| Error::Bind {
                    addr: self.admin_addr.clone(),
                    source,
                })?;
        let admin_addr = admin_listener.local_addr().map_err(|source| Error::Bind {
            addr: self.admin_addr.clone(),
            source,
        })?;
        let signals = if self.signals {
            Some(Signals::install()?)
        } else {
            None
        };

        let registered: Vec<Registered> = self.checks.iter().map(Registered::new).collect();
        let metrics = Metrics::new(&registered);
        let (phase, _) = watch::channel(Phase::Starting);
        let shared = Arc::new(Shared {
            pre_stop_delay: self.pre_stop_delay,
            drain_timeout: self.drain_timeout,
            metrics_enabled: self.metrics,
            phase,
            latches: AtomicUsize::new(usize::from(!self.auto_ready)),
            main_latch: AtomicBool::new(!self.auto_ready),
            startup_done: AtomicBool::new(false),
            checks: registered,
            requested: CancellationToken::new(),
            draining: CancellationToken::new(),
            shutdown: CancellationToken::new(),
            stopped: CancellationToken::new(),
            tasks: TaskTracker::new(),
            servers: TaskTracker::new(),
            inflight: AtomicUsize::new(0),
            fail_liveness_on_task_panic: self.fail_liveness_on_task_panic,
            task_panic: Mutex::new(None),
            metrics,
            #[cfg(feature = "systemd")]
            notifier: crate::systemd::Notifier::from_env(),
        });
        shared.metrics.phase(Phase::Starting);

        #[cfg(feature = "reload")]
        if let Some(hook) = self.reload {
            crate::reload::start(
                shared.clone(),
                hook,
                self.config_file.clone(),
                self.reload_debounce,
                self.signals,
            )?;
        }
        #[cfg(not(feature = "reload"))]
        let _ = &self.config_file;

        for (index, check) in self.checks.into_iter().enumerate() {
            let interval = check.effective_interval();
            tokio::spawn(crate::check::run_loop(
                shared.clone(),
                index,
                check.run,
                check.timeout,
                interval,
                shared.stopped.clone(),
            ));
        }
        tokio::spawn(crate::admin::serve(admin_listener, shared.clone()));
        #[cfg(feature = "systemd")]
        crate::systemd::start_watchdog(shared.clone());

        tracing::info!(
            admin = %admin_addr,
            pre_stop_delay = %contract::format_duration(shared.pre_stop_delay),
            drain_timeout = %contract::format_duration(shared.drain_timeout),
            "sidecar started"
        );
        shared.notify_status();
        shared.try_complete_startup();
        shared.update_ready_metric();

        let lifecycle = tokio::spawn(lifecycle(shared.clone(), signals));
        Ok(Sidecar {
            handle: Handle { shared, admin_addr },
            lifecycle,
        })
    }
}

/// A running sidecar: the admin server is up and the signal handlers are installed.
/// Dereferences to its [`Handle`]; finish `main` with [`Sidecar::run`].
///
/// ```no_run
/// use berth_sidecar::Sidecar;
///
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     let sidecar = Sidecar::builder().start().await.expect("admin server");
///     sidecar.mark_ready();
///     sidecar.shutdown_requested().await; // a non-HTTP daemon's main loop goes here
///     sidecar.run().await.into()
/// }
/// ```
#[must_use = "call .run().await at the end of main"]
pub struct Sidecar {
    handle: Handle,
    lifecycle: JoinHandle<Exit>,
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sidecar")
            .field("admin_addr", &self.handle.admin_addr)
            .field("phase", &self.handle.state())
            .finish_non_exhaustive()
    }
}

impl Sidecar {
    /// A builder with the contract's defaults (the environment is not read; use
    /// [`Builder::from_env`] for that).
    ///
    /// ```
    /// let builder = berth_sidecar::Sidecar::builder();
    /// # drop(builder);
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A cloneable handle for the rest of the daemon.
    ///
    /// ```no_run
    /// # async fn demo(sidecar: berth_sidecar::Sidecar) {
    /// let handle = sidecar.handle();
    /// tokio::spawn(async move { handle.mark_ready() });
    /// # }
    /// ```
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Waits for the end of the lifecycle — first signal (or [`Handle::shutdown`]),
    /// pre-stop delay, drain — and returns how it ended. A second signal returns
    /// [`Exit::Aborted`] at once. Everything still running is cancelled before it returns.
    ///
    /// ```no_run
    /// # async fn demo(sidecar: berth_sidecar::Sidecar) -> std::process::ExitCode {
    /// sidecar.run().await.into()
    /// # }
    /// ```
    pub async fn run(self) -> Exit {
        let shared = self.handle.shared.clone();
        let exit = match self.lifecycle.await {
            Ok(exit) => exit,
            Err(_) => Exit::DrainTimeout,
        };
        shared.set_phase(Phase::Stopped);
        match exit {
            Exit::Clean => tracing::info!(code = exit.code(), "drained cleanly; exiting"),
            Exit::DrainTimeout => tracing::warn!(
                code = exit.code(),
                in_flight = shared.inflight.load(Ordering::Relaxed),
                tasks = shared.tasks.len(),
                "drain timeout expired; cancelling what is left and exiting"
            ),
            Exit::Aborted(signal) => tracing::warn!(
                code = exit.code(),
                signal = signal.name(),
                "second signal; exiting at once"
            ),
        }
        shared.stopped.cancel();
        exit
    }
}

impl std::ops::Deref for Sidecar {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

/// A cheap, cloneable handle to the running sidecar.
///
/// ```no_run
/// # async fn demo(sidecar: berth_sidecar::Sidecar) {
/// let handle: berth_sidecar::Handle = sidecar.handle();
/// handle.spawn("ticker", |token| async move {
///     token.cancelled().await;
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
    admin_addr: SocketAddr,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("admin_addr", &self.admin_addr)
            .field("phase", &self.state())
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// The address the admin server is bound to (useful with port 0).
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// println!("curl http://{}/readyz", h.admin_addr());
    /// # }
    /// ```
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Releases the daemon's own start-up latch. Start-up completes — `/startupz` 200,
    /// `/readyz` follows its checks, systemd `READY=1` — once this was called, every
    /// [`StartupLatch`] is released and every start-up check passed. Idempotent.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// // after the cache is warm:
    /// h.mark_ready();
    /// # }
    /// ```
    pub fn mark_ready(&self) {
        if self.shared.main_latch.swap(false, Ordering::SeqCst) {
            self.shared.release_latch();
        }
    }

    /// An extra start-up latch: start-up waits until it is released (or dropped). Taken
    /// after start-up completed it has no effect.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// let latch = h.startup_latch();
    /// tokio::spawn(async move {
    ///     // load the model ...
    ///     latch.release();
    /// });
    /// # }
    /// ```
    pub fn startup_latch(&self) -> StartupLatch {
        if self.shared.startup_done.load(Ordering::SeqCst) {
            return StartupLatch { shared: None };
        }
        self.shared.latches.fetch_add(1, Ordering::SeqCst);
        StartupLatch {
            shared: Some(self.shared.clone()),
        }
    }

    /// The current lifecycle phase.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// if h.state() == berth_sidecar::Phase::Draining { /* stop taking new jobs */ }
    /// # }
    /// ```
    pub fn state(&self) -> Phase {
        self.shared.phase()
    }

    /// A receiver that sees every phase change.
    ///
    /// ```no_run
    /// # async fn demo(h: berth_sidecar::Handle) {
    /// let mut rx = h.state_changes();
    /// while rx.changed().await.is_ok() {
    ///     println!("now {}", *rx.borrow());
    /// }
    /// # }
    /// ```
    pub fn state_changes(&self) -> watch::Receiver<Phase> {
        self.shared.phase.subscribe()
    }

    /// Whether `/readyz` would answer 200 right now.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { let _ = h.is_ready(); }
    /// ```
    pub fn is_ready(&self) -> bool {
        self.shared.passes(CheckKind::Readiness)
    }

    /// Whether `/livez` would answer 200 right now.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { let _ = h.is_live(); }
    /// ```
    pub fn is_live(&self) -> bool {
        self.shared.passes(CheckKind::Liveness)
    }

    /// The shutdown token: cancelled when the pre-stop delay is over and work must finish.
    /// Long-lived streams (WebSocket, SSE) and loops select on it to end cleanly.
    ///
    /// ```no_run
    /// # async fn demo(h: berth_sidecar::Handle) {
    /// let token = h.shutdown_token();
    /// tokio::select! {
    ///     _ = token.cancelled() => println!("closing the stream (1001 going away)"),
    ///     _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
    /// }
    /// # }
    /// ```
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// Cancelled at the first signal, before the pre-stop delay (readiness already fails).
    ///
    /// ```no_run
    /// # async fn demo(h: berth_sidecar::Handle) {
    /// h.draining_token().cancelled().await;
    /// # }
    /// ```
    pub fn draining_token(&self) -> CancellationToken {
        self.shared.draining.clone()
    }

    /// Resolves when the shutdown token fires: the main loop of a non-HTTP daemon.
    ///
    /// ```no_run
    /// # async fn demo(h: berth_sidecar::Handle) {
    /// let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    /// loop {
    ///     tokio::select! {
    ///         _ = h.shutdown_requested() => break,
    ///         _ = ticks.tick() => { /* work */ }
    ///     }
    /// }
    /// # }
    /// ```
    pub fn shutdown_requested(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shared.shutdown.clone().cancelled_owned()
    }

    /// Starts the shutdown sequence as a first signal would (pre-stop delay, then drain).
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { h.shutdown(); }
    /// ```
    pub fn shutdown(&self) {
        self.shared.requested.cancel();
    }

    /// Spawns a tracked background task. `task` receives the shutdown token and should
    /// return soon after it fires; the drain waits for it up to the drain timeout, then it
    /// is cancelled. A panic is logged, counted (`berth_task_panics_total`) and, with
    /// [`Builder::fail_liveness_on_task_panic`], fails liveness.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// h.spawn("flusher", |token| async move {
    ///     let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    ///     loop {
    ///         tokio::select! {
    ///             _ = token.cancelled() => break,
    ///             _ = tick.tick() => { /* flush */ }
    ///         }
    ///     }
    /// });
    /// # }
    /// ```
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let name = name.into();
        let fut = task(self.shared.shutdown.clone());
        let shared = self.shared.clone();
        let mut inner = tokio::spawn(fut);
        self.shared.tasks.spawn(async move {
            tokio::select! {
                result = &mut inner => {
                    if let Err(err) = result
                        && err.is_panic()
                    {
                        let msg = crate::check::panic_message(&*err.into_panic());
                        shared.record_task_panic(&name, msg);
                    }
                }
                _ = shared.stopped.cancelled() => inner.abort(),
            }
        });
    }

    /// A guard the drain waits for (up to the drain timeout) until it is dropped — for work
    /// the sidecar does not spawn itself, such as the task axum spawns for an upgraded
    /// WebSocket connection (hyper no longer sees that connection, axum#3003).
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// let guard = h.drain_guard();
    /// let token = h.shutdown_token();
    /// tokio::spawn(async move {
    ///     token.cancelled().await; // e.g. send a WebSocket close frame (1001) here
    ///     drop(guard);
    /// });
    /// # }
    /// ```
    pub fn drain_guard(&self) -> DrainGuard {
        DrainGuard {
            _token: self.shared.tasks.token(),
        }
    }

    /// Serves `router` on `listener` in the background with the lifecycle wired in: requests
    /// are counted in flight, a handler panic becomes a 500 (`berth_handler_panics_total`),
    /// HTTP/1 responses carry `Connection: close` once draining, and when the shutdown token
    /// fires the listener closes (new connections are refused), keep-alive connections are
    /// closed gracefully (HTTP/2 GOAWAY) and the drain waits for open requests.
    ///
    /// ```no_run
    /// # async fn demo(sidecar: berth_sidecar::Sidecar) {
    /// let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await.unwrap();
    /// sidecar.serve(listener, app);
    /// # }
    /// ```
    pub fn serve(&self, listener: TcpListener, router: axum::Router) {
        let shared = self.shared.clone();
        self.shared
            .servers
            .spawn(crate::serve::serve(listener, router, shared));
    }

    /// Ends `stream` when the shutdown token fires, so an SSE response (or any long-lived
    /// stream) finishes cleanly during the drain.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// use futures_util::stream;
    /// let events = h.until_shutdown(stream::repeat(1u8));
    /// # drop(events);
    /// # }
    /// ```
    pub fn until_shutdown<S: Stream + Send + 'static>(
        &self,
        stream: S,
    ) -> impl Stream<Item = S::Item> + Send + 'static {
        use futures_util::StreamExt;
        stream.take_until(self.shared.shutdown.clone().cancelled_owned())
    }

    /// Requests currently being served by [`Handle::serve`].
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { println!("{}", h.in_flight()); }
    /// ```
    pub fn in_flight(&self) -> usize {
        self.shared.inflight.load(Ordering::Relaxed)
    }

    /// The Prometheus registry served on `/metrics`; register the daemon's own metrics here.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) {
    /// use berth_sidecar::prometheus_client::metrics::counter::Counter;
    /// let echoes = Counter::<u64>::default();
    /// h.metrics_registry().register("echo_requests", "Echo requests served", echoes.clone());
    /// echoes.inc();
    /// # }
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_registry(
        &self,
    ) -> std::sync::MutexGuard<'_, prometheus_client::registry::Registry> {
        self.shared.metrics.registry()
    }
}

/// Keeps the drain waiting until dropped; see [`Handle::drain_guard`].
///
/// ```no_run
/// # fn demo(h: berth_sidecar::Handle) {
/// let guard: berth_sidecar::DrainGuard = h.drain_guard();
/// drop(guard);
/// # }
/// ```
#[must_use = "the drain waits only while the guard is alive"]
#[derive(Debug)]
pub struct DrainGuard {
    _token: tokio_util::task::task_tracker::TaskTrackerToken,
}

/// Holds start-up back until released or dropped; see [`Handle::startup_latch`].
///
/// ```no_run
/// # fn demo(h: berth_sidecar::Handle) {
/// let latch = h.startup_latch();
/// drop(latch); // same as latch.release()
/// # }
/// ```
#[must_use = "start-up completes when the latch is released or dropped"]
pub struct StartupLatch {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for StartupLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartupLatch")
            .field("held", &self.shared.is_some())
            .finish()
    }
}

impl StartupLatch {
    /// Releases the latch.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { h.startup_latch().release(); }
    /// ```
    pub fn release(mut self) {
        if let Some(shared) = self.shared.take() {
            shared.release_latch();
        }
    }
}

impl Drop for StartupLatch {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.release_latch();
        }
    }
}

/// The installed SIGTERM / SIGINT streams.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, Error> {
        let term = signal(SignalKind::terminate()).map_err(|source| Error::Signal {
            signal: "SIGTERM",
            source,
        })?;
        let int = signal(SignalKind::interrupt()).map_err(|source| Error::Signal {
            signal: "SIGINT",
            source,
        })?;
        Ok(Signals { term, int })
    }

    async fn recv(signals: &mut Option<Signals>) -> Signal {
        match signals {
            Some(s) => tokio::select! {
                _ = s.term.recv() => Signal::Term,
                _ = s.int.recv() => Signal::Int,
            },
            None => std::future::pending().await,
        }
    }
}

/// First signal → drain; second signal → abort.
async fn lifecycle(shared: Arc<Shared>, mut signals: Option<Signals>) -> Exit {
    tokio::select! {
        signal = Signals::recv(&mut signals) => {
            tracing::info!(signal = signal.name(), "shutdown signal received; draining");
        }
        _ = shared.requested.cancelled() => {
            tracing::info!("shutdown requested; draining");
        }
    }
    let drain = drain(shared.clone());
    tokio::pin!(drain);
    tokio::select! {
        exit = &mut drain => exit,
        signal = Signals::recv(&mut signals) => Exit::Aborted(signal),
    }
}

/// The drain sequence after the first signal.
pub(crate) async fn drain(shared: Arc<Shared>) -> Exit {
    shared.begin_draining();
    tokio::time::sleep(shared.pre_stop_delay).await;
    let started = Instant::now();
    shared.shutdown.cancel();
    shared.tasks.close();
    shared.servers.close();
    tracing::info!(
        in_flight = shared.inflight.load(Ordering::Relaxed),
        tasks = shared.tasks.len(),
        drain_timeout = %contract::format_duration(shared.drain_timeout),
        "pre-stop delay over; listeners closed, draining"
    );
    let deadline = started + shared.drain_timeout;
    let wait = async {
        shared.servers.wait().await;
        shared.tasks.wait().await;
    };
    let exit = tokio::select! {
        _ = wait => Exit::Clean,
        _ = tokio::time::sleep_until(deadline) => Exit::DrainTimeout,
        _ = extend_timeout(&shared, deadline) => Exit::DrainTimeout,
    };
    shared.metrics.drain_duration(started.elapsed());
    exit
}

/// While the drain runs, keeps systemd's stop timeout ahead of the drain deadline and the
/// `STATUS=` line current. Never returns.
async fn extend_timeout(shared: &Shared, deadline: Instant) {
    #[cfg(feature = "systemd")]
    if let Some(n) = &shared.notifier {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let extend = left + Duration::from_secs(5);
            n.notify(&format!("EXTEND_TIMEOUT_USEC={}", extend.as_micros()));
            shared.notify_status();
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    let _ = (shared, deadline);
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn builder() -> Builder {
        Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .pre_stop_delay(Duration::from_secs(5))
            .drain_timeout(Duration::from_secs(20))
    }

    #[tokio::test(start_paused = true)]
    async fn drain_sequence_timing_is_exact() {
        let sidecar = builder().start().await.unwrap();
        let h = sidecar.handle();
        assert_eq!(h.state(), Phase::Starting);
        assert!(!h.is_ready());
        h.mark_ready();
        assert_eq!(h.state(), Phase::Ready);
        assert!(h.is_ready());
        // A task that needs 3 s after the token fires.
        h.spawn("worker", |token| async move {
            token.cancelled().await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        });
        let t0 = Instant::now();
        h.shutdown();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(h.state(), Phase::Draining);
        assert!(!h.is_ready());
        assert!(h.is_live(), "liveness stays up while draining");
        assert!(h.draining_token().is_cancelled());
        assert!(!h.shutdown_token().is_cancelled());
        tokio::time::sleep_until(t0 + Duration::from_millis(4999)).await;
        assert!(
            !h.shutdown_token().is_cancelled(),
            "token fired before the pre-stop delay"
        );
        let exit = sidecar.run().await;
        assert_eq!(exit, Exit::Clean);
        assert_eq!(t0.elapsed(), Duration::from_secs(8));
        assert_eq!(h.state(), Phase::Stopped);
        assert!(h.shutdown_token().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn drain_timeout_is_exact_and_forced() {
        let sidecar = builder().auto_ready(true).start().await.unwrap();
        assert_eq!(sidecar.state(), Phase::Ready);
        sidecar.spawn("stubborn", |_token| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let t0 = Instant::now();
        sidecar.shutdown();
        let exit = sidecar.run().await;
        assert_eq!(exit, Exit::DrainTimeout);
        assert_eq!(exit.code(), 124);
        assert_eq!(t0.elapsed(), Duration::from_secs(25));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_drain_with_zero_delay_is_immediate() {
        let sidecar = builder()
            .auto_ready(true)
            .pre_stop_delay(Duration::ZERO)
            .start()
            .await
            .unwrap();
        let t0 = Instant::now();
        sidecar.shutdown();
        assert_eq!(sidecar.run().await, Exit::Clean);
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn startup_waits_for_latches_and_startup_checks() {
        let passes = Arc::new(AtomicBool::new(false));
        let flag = passes.clone();
        let sidecar = builder()
            .check(
                Check::startup("warm", move || {
                    let ok = flag.load(Ordering::SeqCst);
                    async move { if ok { Ok(()) } else { Err("cold") } }
                })
                .interval(Duration::from_secs(1)),
            )
            .start()
            .await
            .unwrap();
        let h = sidecar.handle();
        let latch = h.startup_latch();
        h.mark_ready();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(h.state(), Phase::Starting);
        let report = h.shared.report(CheckKind::Startup);
        assert!(
            report
                .iter()
                .any(|l| l.name == "warm" && l.result == Err("cold".into()))
        );
        assert!(
            report
                .iter()
                .any(|l| l.name == "latches" && l.result.is_err())
        );
        passes.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(h.state(), Phase::Starting, "a latch is still held");
        latch.release();
        assert_eq!(h.state(), Phase::Ready);
        assert!(h.is_ready());
        assert!(h.shared.passes(CheckKind::Startup));
    }

    #[tokio::test(start_paused = true)]
    async fn failure_threshold_avoids_flapping() {
        let fail = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(AtomicU32::new(0));
        let (f, r) = (fail.clone(), runs.clone());
        let sidecar = builder()
            .auto_ready(true)
            .check(
                Check::readiness("db", move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    let failing = f.load(Ordering::SeqCst);
                    async move { if failing { Err("down") } else { Ok(()) } }
                })
                .interval(Duration::from_secs(10))
                .failure_threshold(2),
            )
            .start()
            .await
            .unwrap();
        let h = sidecar.handle();
        // Not run yet → not ready; the first run happens at once.
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(h.is_ready());
        fail.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await; // run 2: first failure
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(h.is_ready(), "one failure is below the threshold");
        tokio::time::sleep(Duration::from_secs(10)).await; // run 3: second failure
        assert!(!h.is_ready());
        fail.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(h.is_ready(), "one success restores readiness");
        assert!(h.is_live(), "a readiness check never touches liveness");
    }

    #[tokio::test(start_paused = true)]
    async fn checks_time_out_and_panics_count_as_failures() {
        let sidecar = builder()
            .auto_ready(true)
            .check(
                Check::readiness("slow", || async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok::<(), String>(())
                })
                .timeout(Duration::from_millis(250))
                .failure_threshold(1),
            )
            .check(
                Check::liveness("boom", || async {
                    if std::hint::black_box(true) {
                        panic!("kaboom");
                    }
                    Ok::<(), String>(())
                })
                .failure_threshold(1),
            )
            .start()
            .await
            .unwrap();
        let h = sidecar.handle();
        assert!(h.is_live(), "a liveness check that has not run yet passes");
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_millis(249)).await;
        let slow = &h.shared.checks[0];
        assert_eq!(slow.status().runs, 0, "timed out before its timeout");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(slow.status().runs, 1);
        assert_eq!(
            slow.status().last_error.as_deref(),
            Some("timed out after 250ms")
        );
        assert!(t0.elapsed() < Duration::from_millis(260));
        assert!(!h.is_ready());
        let lines = h.shared.report(CheckKind::Liveness);
        let boom = lines.iter().find(|l| l.name == "boom").unwrap();
        assert_eq!(boom.result, Err("panicked: kaboom".to_owned()));
        assert!(!h.is_live());
    }

    #[tokio::test(start_paused = true)]
    async fn task_panic_is_recorded() {
        let sidecar = builder()
            .auto_ready(true)
            .fail_liveness_on_task_panic(true)
            .start()
            .await
            .unwrap();
        sidecar.spawn("doomed", |_| async {
            if std::hint::black_box(true) {
                panic!("oops");
            }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!sidecar.is_live());
        let lines = sidecar.shared.report(CheckKind::Liveness);
        assert!(
            lines
                .iter()
                .any(|l| l.result == Err("task doomed panicked: oops".into()))
        );
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    fn slow(shared: &Shared, kind: CheckKind) -> bool {
        shared.report(kind).iter().all(|l| l.result.is_ok())
    }

    #[tokio::test(start_paused = true)]
    async fn passes_agrees_with_the_report_in_every_phase() {
        let fail = Arc::new(AtomicBool::new(true));
        let f = fail.clone();
        let sidecar = Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .pre_stop_delay(Duration::from_secs(1))
            .fail_liveness_on_task_panic(true)
            .check(
                Check::readiness("r", move || {
                    let failing = f.load(Ordering::SeqCst);
                    async move { if failing { Err("no") } else { Ok(()) } }
                })
                .interval(Duration::from_secs(1))
                .failure_threshold(2)
                .also(CheckKind::Liveness)
                .also(CheckKind::Startup),
            )
            .start()
            .await
            .unwrap();
        let h = sidecar.handle();
        let kinds = [
            CheckKind::Liveness,
            CheckKind::Readiness,
            CheckKind::Startup,
        ];
        let agree = |label: &str| {
            for kind in kinds {
                assert_eq!(
                    h.shared.passes(kind),
                    slow(&h.shared, kind),
                    "{label}: {kind:?}"
                );
            }
        };
        agree("before the first run");
        tokio::time::sleep(Duration::from_millis(1)).await;
        agree("failing, not ready");
        let latch = h.startup_latch();
        h.mark_ready();
        fail.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        agree("passing, latch held");
        drop(latch);
        agree("ready");
        fail.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        agree("one failure");
        tokio::time::sleep(Duration::from_secs(1)).await;
        agree("two failures");
        h.spawn("p", |_| async {
            if std::hint::black_box(true) {
                panic!("x")
            }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        agree("task panicked");
        h.shutdown();
        tokio::time::sleep(Duration::from_millis(1)).await;
        agree("draining");
        assert_eq!(sidecar.run().await, Exit::Clean);
        agree("stopped");
    }
}
