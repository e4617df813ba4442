//! The Windows service driver (feature `windows`, Windows only): the Service Control Manager
//! drives the same lifecycle as SIGTERM does on Linux.
//!
//! [`run`](crate::run) uses it on its own: when the process was started by the SCM, the main
//! thread becomes the service control dispatcher and the daemon runs on the service thread;
//! started from a console, the dispatcher is not available and the daemon runs as usual
//! (Ctrl-C / Ctrl-Break / closing the console drain, a second one exits at once). A daemon's
//! `main` does not change:
//!
//! ```no_run
//! // Cargo.toml: berth-sidecar = { version = "0.1", features = ["windows"] }
//! fn main() -> std::process::ExitCode {
//!     berth_sidecar::run(|builder| async move {
//!         let sidecar = builder.start().await?;
//!         sidecar.mark_ready(); // SERVICE_RUNNING from here on
//!         Ok(sidecar)
//!     })
//! }
//! ```
//!
//! | SCM | berth-sidecar |
//! |---|---|
//! | start | `SERVICE_START_PENDING` (checkpoint increasing every second) until `mark_ready()` |
//! | `mark_ready()` | `SERVICE_RUNNING`, accepting STOP, PRESHUTDOWN, SHUTDOWN, PARAMCHANGE |
//! | STOP, PRESHUTDOWN, SHUTDOWN | the drain of SIGTERM: `/readyz` fails at once, pre-stop delay, drain; `SERVICE_STOP_PENDING` with an increasing checkpoint and a wait hint covering the rest of the budget |
//! | PARAMCHANGE | the reload of SIGHUP ([`Builder::on_reload`](crate::Builder::on_reload)) |
//! | end | `SERVICE_STOPPED`: exit code 0 after a clean drain, service-specific code 124 after a forced one ([`EXIT_DRAIN_TIMEOUT`](crate::EXIT_DRAIN_TIMEOUT)), 1 or 2 when start-up failed |
//!
//! Logs: a service has no console. Set
//! [`ENV_EVENT_LOG_SOURCE`](crate::contract::ENV_EVENT_LOG_SOURCE) to report each log line to
//! the Windows Event Log under that source (ERROR as an error event, WARN as a warning, the
//! rest as information), and [`ENV_LOG_FILE`](crate::contract::ENV_LOG_FILE) to append them to
//! a file; the scripts `berth generate` writes set both.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{
    self, ServiceControlHandlerResult, ServiceStatusHandle,
};
use windows_service::service_dispatcher;

use crate::contract::STOP_MARGIN;
use crate::lifecycle::Lifecycle;
use crate::state::Phase;

/// `ERROR_FAILED_SERVICE_CONTROLLER_CONNECT`: the process was not started by the SCM.
const NOT_A_SERVICE: i32 = 1063;

/// How often a pending state (start, stop) is re-reported with the next checkpoint.
const PENDING_TICK: Duration = Duration::from_secs(1);

/// The wait hint while starting: the SCM's own default start timeout.
const START_WAIT_HINT: Duration = Duration::from_secs(30);

/// The daemon, boxed for the service thread: builds the runtime, runs, returns the exit code.
type Daemon = Box<dyn FnOnce(Option<ServiceDriver>) -> u8 + Send>;

/// The daemon handed from `main`'s thread to the service thread.
static DAEMON: Mutex<Option<Daemon>> = Mutex::new(None);
/// The service thread's exit code, for `main` once the dispatcher returns.
static EXIT: OnceLock<u8> = OnceLock::new();

/// Runs `daemon` under the service control dispatcher when the SCM started the process;
/// `None` (with `daemon` unused) when it did not, so the caller runs it as a console program.
pub(crate) fn run_as_service(daemon: Daemon) -> Result<ExitCode, Daemon> {
    *DAEMON.lock().unwrap_or_else(|p| p.into_inner()) = Some(daemon);
    let name = service_name();
    match service_dispatcher::start(&name, ffi_service_main) {
        Ok(()) => Ok(ExitCode::from(EXIT.get().copied().unwrap_or(1))),
        Err(err) => {
            let daemon = DAEMON.lock().unwrap_or_else(|p| p.into_inner()).take();
            match (&err, daemon) {
                (windows_service::Error::Winapi(io), Some(daemon))
                    if io.raw_os_error() == Some(NOT_A_SERVICE) =>
                {
                    Err(daemon)
                }
                (_, Some(daemon)) => {
                    tracing::warn!(error = %err, "the service control dispatcher failed; running as a console program");
                    Err(daemon)
                }
                (_, None) => Ok(ExitCode::from(EXIT.get().copied().unwrap_or(1))),
            }
        }
    }
}

/// The name given to the dispatcher: the executable's file stem. For a service in its own
/// process (`sc create type= own`, what the generated scripts create) Windows ignores it.
fn service_name() -> OsString {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(OsString::from))
        .unwrap_or_else(|| OsString::from("berth-service"))
}

// The signature the dispatcher calls; the arguments (the service name and `sc start` args)
// are not used, so no unsafe code reads them.
extern "system" fn ffi_service_main(_argc: u32, _argv: *mut *mut u16) {
    service_main();
}

/// The service thread: registers the control handler, reports START_PENDING, runs the daemon
/// (which attaches the [`ServiceDriver`] to its lifecycle), reports STOPPED with its exit code.
fn service_main() {
    let Some(daemon) = DAEMON.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    let shared = Arc::new(Shared::default());
    let handler_shared = shared.clone();
    let handler = move |control: ServiceControl| -> ServiceControlHandlerResult {
        match control {
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            ServiceControl::Stop | ServiceControl::Preshutdown | ServiceControl::Shutdown => {
                handler_shared.stop(control);
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::ParamChange => {
                handler_shared.reload();
                ServiceControlHandlerResult::NoError
            }
            _ => ServiceControlHandlerResult::NotImplemented,
        }
    };
    let status = match service_control_handler::register(service_name(), handler) {
        Ok(status) => status,
        Err(err) => {
            // Without a handle nothing can be reported; the SCM times the start out.
            eprintln!("error: cannot register the service control handler: {err}");
            let _ = EXIT.set(1);
            return;
        }
    };
    let reporter = Reporter {
        status,
        checkpoint: AtomicU32::new(0),
    };
    reporter.pending(ServiceState::StartPending, START_WAIT_HINT);
    let driver = ServiceDriver {
        shared,
        reporter: Arc::new(reporter),
    };
    let reporter = driver.reporter.clone();
    let code = daemon(Some(driver));
    let _ = EXIT.set(code);
    reporter.stopped(code);
}

/// What the control handler (an SCM thread) and the driver (a Tokio task) share.
#[derive(Default)]
struct Shared {
    lifecycle: OnceLock<Arc<Lifecycle>>,
    /// A stop arrived before the lifecycle existed: the driver applies it when attached.
    early_stop: AtomicBool,
}

impl Shared {
    fn stop(&self, control: ServiceControl) {
        tracing::info!(control = ?control, "service stop requested; draining");
        match self.lifecycle.get() {
            Some(lifecycle) => lifecycle.request_stop(),
            None => self.early_stop.store(true, Ordering::SeqCst),
        }
    }

    fn reload(&self) {
        tracing::info!("PARAMCHANGE received; reloading");
        let reloaded = self
            .lifecycle
            .get()
            .is_some_and(|lifecycle| lifecycle.request_reload());
        if !reloaded {
            tracing::warn!("PARAMCHANGE ignored: no reload hook is installed");
        }
    }
}

/// Reports the service status with an increasing checkpoint.
struct Reporter {
    status: ServiceStatusHandle,
    checkpoint: AtomicU32,
}

impl Reporter {
    fn set(&self, status: ServiceStatus) {
        if let Err(err) = self.status.set_service_status(status) {
            tracing::warn!(error = %err, "SetServiceStatus failed");
        }
    }

    fn pending(&self, state: ServiceState, wait_hint: Duration) {
        let checkpoint = self.checkpoint.fetch_add(1, Ordering::SeqCst) + 1;
        self.set(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: ServiceControlAccept::empty(),
            exit_code: ServiceExitCode::Win32(0),
            checkpoint,
            wait_hint,
            process_id: None,
        });
    }

    fn running(&self) {
        self.checkpoint.store(0, Ordering::SeqCst);
        self.set(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: ServiceState::Running,
            controls_accepted: ServiceControlAccept::STOP
                | ServiceControlAccept::PRESHUTDOWN
                | ServiceControlAccept::SHUTDOWN
                | ServiceControlAccept::PARAM_CHANGE,
            exit_code: ServiceExitCode::Win32(0),
            checkpoint: 0,
            wait_hint: Duration::ZERO,
            process_id: None,
        });
    }

    fn stopped(&self, code: u8) {
        tracing::info!(code, "service stopped");
        self.set(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: ServiceState::Stopped,
            controls_accepted: ServiceControlAccept::empty(),
            exit_code: exit_code(code),
            checkpoint: 0,
            wait_hint: Duration::ZERO,
            process_id: None,
        });
    }
}

/// 0 is `NO_ERROR`; every other code (124 drain timeout, 1 and 2 start-up failures) is a
/// service-specific exit code (`sc query` shows `WIN32_EXIT_CODE 1066`, `SERVICE_EXIT_CODE`
/// the code).
fn exit_code(code: u8) -> ServiceExitCode {
    if code == 0 {
        ServiceExitCode::Win32(0)
    } else {
        ServiceExitCode::ServiceSpecific(u32::from(code))
    }
}

/// The driver the service thread attaches to the sidecar's lifecycle (`Builder::driver`).
pub(crate) struct ServiceDriver {
    shared: Arc<Shared>,
    reporter: Arc<Reporter>,
}

impl ServiceDriver {
    /// Connects the control handler to `lifecycle` and follows its phases with status reports.
    pub(crate) fn attach(self, lifecycle: Arc<Lifecycle>) {
        let _ = self.shared.lifecycle.set(lifecycle.clone());
        if self.shared.early_stop.load(Ordering::SeqCst) {
            lifecycle.request_stop();
        }
        lifecycle.spawn_driver(follow_phases(self.reporter, lifecycle.clone()));
    }
}

/// START_PENDING until Ready, RUNNING, then STOP_PENDING with the wait hint covering what is
/// left of the budget, re-reported every second; STOPPED is the service thread's last word.
async fn follow_phases(reporter: Arc<Reporter>, lifecycle: Arc<Lifecycle>) {
    let mut phases = lifecycle.transitions();
    let mut current = Phase::Starting;
    let mut draining_since = None;
    let mut tick = tokio::time::interval(PENDING_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            next = phases.next() => match next {
                Some(phase) => {
                    current = phase;
                    match phase {
                        Phase::Starting => {}
                        Phase::Ready => reporter.running(),
                        Phase::Draining => {
                            draining_since = Some(Instant::now());
                            reporter.pending(
                                ServiceState::StopPending,
                                stop_wait_hint(&lifecycle, draining_since),
                            );
                        }
                        Phase::Stopped => return,
                    }
                }
                None => return,
            },
            _ = tick.tick() => match current {
                Phase::Starting => reporter.pending(ServiceState::StartPending, START_WAIT_HINT),
                Phase::Draining => reporter.pending(
                    ServiceState::StopPending,
                    stop_wait_hint(&lifecycle, draining_since),
                ),
                Phase::Ready | Phase::Stopped => {}
            },
        }
    }
}

/// What is left of the stop budget, plus the margin every target adds: during the pre-stop
/// delay the rest of it and the whole drain timeout, during the drain the time to its deadline.
fn stop_wait_hint(lifecycle: &Lifecycle, draining_since: Option<Instant>) -> Duration {
    let budget = lifecycle.budget();
    let left = match lifecycle.drain_deadline() {
        Some(deadline) => deadline.saturating_duration_since(Instant::now()),
        None => {
            let elapsed = draining_since.map_or(Duration::ZERO, |t| t.elapsed());
            budget.total().saturating_sub(elapsed)
        }
    };
    left + STOP_MARGIN
}
