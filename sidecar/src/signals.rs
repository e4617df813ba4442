//! The signal driver: SIGTERM/SIGINT stop the lifecycle (a second one aborts it), SIGHUP
//! reloads the configuration. On Windows, in a console, Ctrl-C (as SIGINT) and Ctrl-Break or
//! closing the console (as SIGTERM) do the same; there is no SIGHUP there (a service reloads
//! on PARAMCHANGE, see the `windows` module).
//!
//! It translates signals into the lifecycle's control calls and nothing else, so another
//! platform's driver (the Windows service control handler) makes the very same calls.

use std::sync::Arc;

#[cfg(unix)]
use tokio::signal::unix::{Signal as Stream, SignalKind, signal};

use crate::Error;
use crate::exit::Signal;
use crate::lifecycle::Lifecycle;

/// The installed handlers. Installing is the fallible part (done before the sidecar counts
/// as started); [`Signals::drive`] then runs as a driver task.
#[cfg(unix)]
pub(crate) struct Signals {
    term: Stream,
    int: Stream,
    /// Only with a reload hook: without one SIGHUP keeps its default action.
    hup: Option<Stream>,
}

#[cfg(unix)]
impl Signals {
    /// Installs the SIGTERM and SIGINT handlers, and the SIGHUP one when `reload` is true.
    pub fn install(reload: bool) -> Result<Signals, Error> {
        let install = |kind: SignalKind, name: &'static str| {
            signal(kind).map_err(|error| Error::Signal {
                signal: name,
                error,
            })
        };
        Ok(Signals {
            term: install(SignalKind::terminate(), "SIGTERM")?,
            int: install(SignalKind::interrupt(), "SIGINT")?,
            hup: if reload {
                Some(install(SignalKind::hangup(), "SIGHUP")?)
            } else {
                None
            },
        })
    }

    /// Delivers signals to `lifecycle` until it stops.
    pub async fn drive(mut self, lifecycle: Arc<Lifecycle>) {
        let stopped = lifecycle.stopped_token().clone();
        loop {
            let signal = tokio::select! {
                _ = stopped.cancelled() => return,
                _ = self.term.recv() => Signal::Term,
                _ = self.int.recv() => Signal::Int,
                Some(()) = recv(&mut self.hup) => {
                    tracing::info!("SIGHUP received; reloading");
                    lifecycle.request_reload();
                    continue;
                }
            };
            if lifecycle.stop_requested() {
                tracing::warn!(signal = signal.name(), "second shutdown signal; aborting");
                lifecycle.request_abort(signal);
            } else {
                tracing::info!(signal = signal.name(), "shutdown signal received; draining");
                lifecycle.request_stop();
            }
        }
    }
}

#[cfg(unix)]
async fn recv(stream: &mut Option<Stream>) -> Option<()> {
    match stream {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// The console handlers on Windows: Ctrl-C, Ctrl-Break and console close.
#[cfg(windows)]
pub(crate) struct Signals {
    ctrl_c: tokio::signal::windows::CtrlC,
    ctrl_break: tokio::signal::windows::CtrlBreak,
    close: tokio::signal::windows::CtrlClose,
}

#[cfg(windows)]
impl Signals {
    /// Installs the console control handlers (`reload` is ignored: Windows has no SIGHUP).
    pub fn install(_reload: bool) -> Result<Signals, Error> {
        use tokio::signal::windows;
        let failed = |name: &'static str| {
            move |error| Error::Signal {
                signal: name,
                error,
            }
        };
        Ok(Signals {
            ctrl_c: windows::ctrl_c().map_err(failed("Ctrl-C"))?,
            ctrl_break: windows::ctrl_break().map_err(failed("Ctrl-Break"))?,
            close: windows::ctrl_close().map_err(failed("console close"))?,
        })
    }

    /// Delivers console events to `lifecycle` until it stops.
    pub async fn drive(mut self, lifecycle: Arc<Lifecycle>) {
        let stopped = lifecycle.stopped_token().clone();
        loop {
            let (signal, what) = tokio::select! {
                _ = stopped.cancelled() => return,
                _ = self.ctrl_c.recv() => (Signal::Int, "Ctrl-C"),
                _ = self.ctrl_break.recv() => (Signal::Term, "Ctrl-Break"),
                _ = self.close.recv() => (Signal::Term, "console close"),
            };
            if lifecycle.stop_requested() {
                tracing::warn!(
                    signal = signal.name(),
                    event = what,
                    "second shutdown signal; aborting"
                );
                lifecycle.request_abort(signal);
            } else {
                tracing::info!(
                    signal = signal.name(),
                    event = what,
                    "shutdown signal received; draining"
                );
                lifecycle.request_stop();
            }
        }
    }
}
