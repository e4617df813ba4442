//! The Unix signal driver: SIGTERM/SIGINT stop the lifecycle (a second one aborts it),
//! SIGHUP reloads the configuration.
//!
//! It translates signals into the lifecycle's control calls and nothing else, so another
//! platform's driver (the Windows service control handler) makes the very same calls.

use std::sync::Arc;

use tokio::signal::unix::{Signal as Stream, SignalKind, signal};

use crate::Error;
use crate::exit::Signal;
use crate::lifecycle::Lifecycle;

/// The installed handlers. Installing is the fallible part (done before the sidecar counts
/// as started); [`Signals::drive`] then runs as a driver task.
pub(crate) struct Signals {
    term: Stream,
    int: Stream,
    /// Only with a reload hook: without one SIGHUP keeps its default action.
    hup: Option<Stream>,
}

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

async fn recv(stream: &mut Option<Stream>) -> Option<()> {
    match stream {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
