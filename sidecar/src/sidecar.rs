//! The facade: [`Builder`] configures, [`Sidecar`] runs, [`Handle`] is what the daemon keeps.
//!
//! The work is done elsewhere: `lifecycle` (phase, stop requests, drain), `health` (latches,
//! checks, reports), the servers (`admin`, `serve`) and the drivers (`signals`, `systemd`,
//! `reload`). This module wires them together and owns none of their state.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::admin::Admin;
use crate::check::{Check, CheckKind};
use crate::contract::{self, Settings};
use crate::exit::Exit;
use crate::health::Health;
use crate::lifecycle::{Lifecycle, StopBudget};
use crate::metrics::Metrics;
use crate::serve::Limits;
use crate::signals::Signals;
use crate::state::Phase;

/// A lifecycle driver attached with `Builder::driver`: called once while the sidecar starts,
/// inside the runtime, with the lifecycle it drives.
pub(crate) type Driver = Box<dyn FnOnce(Arc<Lifecycle>) + Send>;

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
    limits: Limits,
    admin_header_read_timeout: Duration,
    drivers: Vec<Driver>,
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
            .field("limits", &self.limits)
            .field("admin_header_read_timeout", &self.admin_header_read_timeout)
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
            limits: Limits {
                header_read_timeout: Some(settings.header_read_timeout).filter(|t| !t.is_zero()),
                max_connections: crate::serve::default_max_connections(),
            },
            admin_header_read_timeout: crate::admin::HEADER_READ_TIMEOUT,
            drivers: Vec::new(),
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

    /// The configuration file: [`Builder::config_file`], else `BERTH_CONFIG_FILE` — the one
    /// the reload hook gets and the sidecar watches, so the daemon reads the same file.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().config_file("/etc/echo/config.yaml");
    /// assert_eq!(b.config_path(), Some(std::path::Path::new("/etc/echo/config.yaml")));
    /// ```
    pub fn config_path(&self) -> Option<&std::path::Path> {
        self.config_file.as_deref()
    }

    /// Longest time a client may take to send a request's headers to the application
    /// ([`Handle::serve`]), counted from their first byte; then the connection is closed.
    /// Idle keep-alive connections are not affected. Default 10 s
    /// (`BERTH_HEADER_READ_TIMEOUT`); `Duration::ZERO` turns the limit off.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().header_read_timeout(std::time::Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Builder {
        self.limits.header_read_timeout = Some(timeout).filter(|t| !t.is_zero());
        self
    }

    /// Open connections [`Handle::serve`] accepts per listener (at least 1). At the limit the
    /// accept loop waits and new connections queue in the kernel's backlog, so the admin
    /// server keeps file descriptors and answers probes. Default: the open-file limit
    /// (`RLIMIT_NOFILE`, soft) minus 256 (kept for the admin port, the daemon's own files and
    /// outgoing connections); 10 000 where it cannot be read.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().max_connections(2_000);
    /// # drop(b);
    /// ```
    pub fn max_connections(mut self, limit: usize) -> Builder {
        self.limits.max_connections = limit.max(1);
        self
    }

    /// Header read timeout of the admin server (default 2 s): a probe that has not sent its
    /// headers by then, or an idle admin connection, is closed.
    ///
    /// ```
    /// let b = berth_sidecar::Sidecar::builder().admin_header_read_timeout(std::time::Duration::from_secs(1));
    /// # drop(b);
    /// ```
    pub fn admin_header_read_timeout(mut self, timeout: Duration) -> Builder {
        self.admin_header_read_timeout = timeout.max(Duration::from_millis(1));
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
                .map_err(|error| Error::Bind {
                    addr: self.admin_addr.clone(),
                    error,
                })?;
        let admin_addr = admin_listener.local_addr().map_err(|error| Error::Bind {
            addr: self.admin_addr.clone(),
            error,
        })?;
        #[cfg(feature = "reload")]
        let reloads = self.reload.is_some();
        #[cfg(not(feature = "reload"))]
        let reloads = false;
        let signals = if self.signals {
            Some(Signals::install(reloads)?)
        } else {
            None
        };

        let lifecycle = Arc::new(Lifecycle::new(StopBudget {
            pre_stop_delay: self.pre_stop_delay,
            drain_timeout: self.drain_timeout,
        }));
        let health = Arc::new(Health::new(
            lifecycle.clone(),
            &self.checks,
            self.auto_ready,
            self.fail_liveness_on_task_panic,
        ));
        let metrics = Arc::new(Metrics::new(&health.check_labels()));

        #[cfg(feature = "reload")]
        if let Some(hook) = self.reload {
            crate::reload::start(
                lifecycle.clone(),
                metrics.clone(),
                hook,
                self.config_file.clone(),
                self.reload_debounce,
            )?;
        }
        #[cfg(not(feature = "reload"))]
        let _ = &self.config_file;

        health.start_checks(self.checks, metrics.clone());
        let admin = Arc::new(Admin {
            health: health.clone(),
            lifecycle: lifecycle.clone(),
            metrics: metrics.clone(),
            metrics_enabled: self.metrics,
        });
        tokio::spawn(crate::admin::serve(
            admin_listener,
            admin.clone(),
            self.admin_header_read_timeout,
        ));
        if let Some(signals) = signals {
            lifecycle.spawn_driver(signals.drive(lifecycle.clone()));
        }
        #[cfg(all(feature = "systemd", unix))]
        if let Some(notifier) = crate::systemd::Notifier::from_env() {
            crate::systemd::start(notifier, lifecycle.clone(), health.clone());
        }
        for driver in self.drivers {
            driver(lifecycle.clone());
        }

        tracing::info!(
            admin = %admin_addr,
            pre_stop_delay = %contract::format_duration(self.pre_stop_delay),
            drain_timeout = %contract::format_duration(self.drain_timeout),
            "sidecar started"
        );
        health.try_complete_startup();

        let run = tokio::spawn(lifecycle.clone().run());
        Ok(Sidecar {
            handle: Handle {
                inner: Arc::new(Inner {
                    lifecycle,
                    health,
                    metrics,
                    admin,
                    admin_addr,
                    limits: self.limits,
                }),
            },
            lifecycle: run,
        })
    }

    /// Attaches a lifecycle driver (e.g. a service manager's control handler); see
    /// `lifecycle` for the API it gets.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn driver(
        mut self,
        driver: impl FnOnce(Arc<Lifecycle>) + Send + 'static,
    ) -> Builder {
        self.drivers.push(Box::new(driver));
        self
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
            .field("admin_addr", &self.handle.inner.admin_addr)
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
        let lifecycle = self.handle.inner.lifecycle.clone();
        let exit = match self.lifecycle.await {
            Ok(exit) => exit,
            Err(_) => Exit::DrainTimeout,
        };
        match exit {
            Exit::Clean => tracing::info!(code = exit.code(), "drained cleanly; exiting"),
            Exit::DrainTimeout => tracing::warn!(
                code = exit.code(),
                in_flight = lifecycle.in_flight(),
                tasks = lifecycle.task_count(),
                "drain timeout expired; cancelling what is left and exiting"
            ),
            Exit::Aborted(signal) => tracing::warn!(
                code = exit.code(),
                signal = signal.name(),
                "second signal; exiting at once"
            ),
        }
        lifecycle.finish(exit).await;
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
    inner: Arc<Inner>,
}

/// What a handle reaches: the parts, each behind its own `Arc`.
struct Inner {
    lifecycle: Arc<Lifecycle>,
    health: Arc<Health>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    metrics: Arc<Metrics>,
    #[cfg_attr(not(test), allow(dead_code))]
    admin: Arc<Admin>,
    admin_addr: SocketAddr,
    limits: Limits,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("admin_addr", &self.inner.admin_addr)
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
        self.inner.admin_addr
    }

    /// The admin server's state (tests call its router directly).
    #[cfg(test)]
    pub(crate) fn admin_state(&self) -> Arc<Admin> {
        self.inner.admin.clone()
    }

    /// The health state (tests inspect reports and checks).
    #[cfg(test)]
    pub(crate) fn health(&self) -> &Arc<Health> {
        &self.inner.health
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
        self.inner.health.mark_ready();
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
        let held = self.inner.health.take_latch();
        StartupLatch {
            health: held.then(|| self.inner.health.clone()),
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
        self.inner.lifecycle.phase()
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
        self.inner.lifecycle.subscribe()
    }

    /// Whether `/readyz` would answer 200 right now.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { let _ = h.is_ready(); }
    /// ```
    pub fn is_ready(&self) -> bool {
        self.inner.health.passes(CheckKind::Readiness)
    }

    /// Whether `/livez` would answer 200 right now.
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { let _ = h.is_live(); }
    /// ```
    pub fn is_live(&self) -> bool {
        self.inner.health.passes(CheckKind::Liveness)
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
        self.inner.lifecycle.shutdown_token().clone()
    }

    /// Cancelled at the first signal, before the pre-stop delay (readiness already fails).
    ///
    /// ```no_run
    /// # async fn demo(h: berth_sidecar::Handle) {
    /// h.draining_token().cancelled().await;
    /// # }
    /// ```
    pub fn draining_token(&self) -> CancellationToken {
        self.inner.lifecycle.draining_token().clone()
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
        self.inner
            .lifecycle
            .shutdown_token()
            .clone()
            .cancelled_owned()
    }

    /// Starts the shutdown sequence as a first signal would (pre-stop delay, then drain).
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { h.shutdown(); }
    /// ```
    pub fn shutdown(&self) {
        if !self.inner.lifecycle.stop_requested() {
            tracing::info!("shutdown requested; draining");
        }
        self.inner.lifecycle.request_stop();
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
        let lifecycle = &self.inner.lifecycle;
        let fut = task(lifecycle.shutdown_token().clone());
        let stopped = lifecycle.stopped_token().clone();
        let health = self.inner.health.clone();
        let metrics = self.inner.metrics.clone();
        let mut inner = tokio::spawn(fut);
        lifecycle.tasks().spawn(async move {
            tokio::select! {
                result = &mut inner => {
                    if let Err(err) = result
                        && err.is_panic()
                    {
                        let msg = crate::check::panic_message(&*err.into_panic());
                        metrics.task_panic();
                        health.record_task_panic(&name, msg);
                    }
                }
                _ = stopped.cancelled() => inner.abort(),
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
            _token: self.inner.lifecycle.tasks().token(),
        }
    }

    /// Serves `router` on `listener` in the background with the lifecycle wired in: requests
    /// are counted in flight, a handler panic becomes a 500 (`berth_handler_panics_total`),
    /// HTTP/1 responses carry `Connection: close` once draining, and when the shutdown token
    /// fires the listener closes (new connections are refused), connections serving a request
    /// close after it (HTTP/2: GOAWAY, streams finish), and the others — idle, or still
    /// sending a request head — close at once: the drain waits only for requests in flight.
    /// Request heads must arrive within [`Builder::header_read_timeout`]; at most
    /// [`Builder::max_connections`] connections are open.
    ///
    /// ```no_run
    /// # async fn demo(sidecar: berth_sidecar::Sidecar) {
    /// let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await.unwrap();
    /// sidecar.serve(listener, app);
    /// # }
    /// ```
    pub fn serve(&self, listener: TcpListener, router: axum::Router) {
        let lifecycle = self.inner.lifecycle.clone();
        lifecycle.servers().spawn(crate::serve::serve(
            listener,
            router,
            lifecycle.clone(),
            self.inner.metrics.clone(),
            self.inner.limits,
        ));
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
        stream.take_until(
            self.inner
                .lifecycle
                .shutdown_token()
                .clone()
                .cancelled_owned(),
        )
    }

    /// Requests currently being served by [`Handle::serve`].
    ///
    /// ```no_run
    /// # fn demo(h: berth_sidecar::Handle) { println!("{}", h.in_flight()); }
    /// ```
    pub fn in_flight(&self) -> usize {
        self.inner.lifecycle.in_flight()
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
        self.inner.metrics.registry()
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
    health: Option<Arc<Health>>,
}

impl std::fmt::Debug for StartupLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartupLatch")
            .field("held", &self.health.is_some())
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
        if let Some(health) = self.health.take() {
            health.release_latch();
        }
    }
}

impl Drop for StartupLatch {
    fn drop(&mut self) {
        if let Some(health) = self.health.take() {
            health.release_latch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use tokio::time::Instant;

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
        let report = h.health().report(CheckKind::Startup);
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
        assert!(h.health().passes(CheckKind::Startup));
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
        let slow = &h.health().checks()[0];
        assert_eq!(slow.status().runs, 0, "timed out before its timeout");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(slow.status().runs, 1);
        assert_eq!(
            slow.status().last_error.as_deref(),
            Some("timed out after 250ms")
        );
        assert!(t0.elapsed() < Duration::from_millis(260));
        assert!(!h.is_ready());
        let lines = h.health().report(CheckKind::Liveness);
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
        let lines = sidecar.health().report(CheckKind::Liveness);
        assert!(
            lines
                .iter()
                .any(|l| l.result == Err("task doomed panicked: oops".into()))
        );
    }
}

/// A service-manager driver the way the Windows one works: attached before start, it
/// follows the phases, reports the stop budget and requests stops and reloads itself.
#[cfg(test)]
mod driver_tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_driver_follows_phases_and_controls_the_lifecycle() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let slot: Arc<Mutex<Option<Arc<Lifecycle>>>> = Arc::default();
        let (s, l) = (seen.clone(), slot.clone());
        let sidecar = Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .pre_stop_delay(Duration::from_secs(2))
            .drain_timeout(Duration::from_secs(3))
            .driver(move |lifecycle| {
                assert_eq!(lifecycle.budget().total(), Duration::from_secs(5));
                *l.lock().unwrap() = Some(lifecycle.clone());
                let mut phases = lifecycle.transitions();
                let driven = lifecycle.clone();
                lifecycle.spawn_driver(async move {
                    while let Some(phase) = phases.next().await {
                        s.lock().unwrap().push((phase, driven.exit()));
                    }
                });
            })
            .start()
            .await
            .unwrap();
        let lifecycle = slot.lock().unwrap().clone().unwrap();
        #[cfg(feature = "reload")]
        assert!(!lifecycle.request_reload(), "no reload hook installed");
        sidecar.mark_ready();
        let t0 = Instant::now();
        lifecycle.request_stop(); // what the service manager's STOP does
        let exit = sidecar.run().await;
        assert_eq!(exit, Exit::Clean);
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (Phase::Starting, None),
                (Phase::Ready, None),
                (Phase::Draining, None),
                (Phase::Stopped, Some(Exit::Clean)),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_forced_stop_and_a_reload_from_a_driver() {
        let reloads = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Arc<Lifecycle>>>> = Arc::default();
        let l = slot.clone();
        let builder = Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .auto_ready(true)
            .pre_stop_delay(Duration::from_secs(60))
            .driver(move |lifecycle| *l.lock().unwrap() = Some(lifecycle));
        #[cfg(feature = "reload")]
        let builder = {
            let r = reloads.clone();
            builder.on_reload(move |_| {
                r.fetch_add(1, Ordering::SeqCst);
                async { Ok::<(), String>(()) }
            })
        };
        let sidecar = builder.start().await.unwrap();
        let lifecycle = slot.lock().unwrap().clone().unwrap();
        if cfg!(feature = "reload") {
            assert!(lifecycle.request_reload());
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(reloads.load(Ordering::SeqCst), 1);
        }
        lifecycle.request_stop();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(sidecar.state(), Phase::Draining);
        lifecycle.request_abort(crate::Signal::Int); // a second Ctrl-C, a forced stop
        assert_eq!(sidecar.run().await, Exit::Aborted(crate::Signal::Int));
        assert_eq!(lifecycle.exit().map(Exit::code), Some(130));
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn slow(health: &Health, kind: CheckKind) -> bool {
        health.report(kind).iter().all(|l| l.result.is_ok())
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
                    h.health().passes(kind),
                    slow(h.health(), kind),
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
