//! Configuration reload on SIGHUP and on changes to the configuration file.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::Error;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;

pub(crate) type ReloadHook =
    Arc<dyn Fn(Reload) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What triggered a reload.
///
/// ```
/// assert_ne!(berth_sidecar::ReloadTrigger::Signal, berth_sidecar::ReloadTrigger::FileChanged);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadTrigger {
    /// SIGHUP (e.g. `systemctl reload`).
    Signal,
    /// The configuration file's content changed.
    FileChanged,
}

/// The argument of the reload hook ([`Builder::on_reload`](crate::Builder::on_reload)).
///
/// ```
/// fn describe(r: &berth_sidecar::Reload) -> String {
///     format!("{:?} {:?}", r.trigger(), r.path())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Reload {
    path: Option<PathBuf>,
    trigger: ReloadTrigger,
}

impl Reload {
    /// The configuration file (`BERTH_CONFIG_FILE` or
    /// [`Builder::config_file`](crate::Builder::config_file)), if any.
    ///
    /// ```
    /// fn path(r: &berth_sidecar::Reload) -> Option<&std::path::Path> { r.path() }
    /// ```
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What triggered this reload.
    ///
    /// ```
    /// fn by_signal(r: &berth_sidecar::Reload) -> bool {
    ///     r.trigger() == berth_sidecar::ReloadTrigger::Signal
    /// }
    /// ```
    pub fn trigger(&self) -> ReloadTrigger {
        self.trigger
    }
}

pub(crate) fn hook<F, Fut, E>(f: F) -> ReloadHook
where
    F: Fn(Reload) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + 'static,
{
    Arc::new(move |reload| {
        let fut = f(reload);
        Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
    })
}

/// Hash of the file's content (following symlinks); `None` when it cannot be read.
fn fingerprint(path: Option<&Path>) -> Option<u64> {
    let bytes = std::fs::read(path?).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// Starts the reload loop: [`Lifecycle::request_reload`] (SIGHUP, a service manager) and
/// changes of the file's content call `hook`, one run at a time.
pub(crate) fn start(
    lifecycle: Arc<Lifecycle>,
    metrics: Arc<Metrics>,
    hook: ReloadHook,
    path: Option<PathBuf>,
    debounce: Duration,
) -> Result<(), Error> {
    let (tx, mut rx) = mpsc::unbounded_channel::<ReloadTrigger>();
    {
        let tx = tx.clone();
        lifecycle.set_reload(move || {
            let _ = tx.send(ReloadTrigger::Signal);
        });
    }
    let watcher = match &path {
        Some(path) => Some(watch(path, tx.clone()).map_err(|error| Error::Watch {
            path: path.display().to_string(),
            error,
        })?),
        None => None,
    };
    drop(tx);
    let stopped = lifecycle.stopped_token().clone();
    tokio::spawn(async move {
        let _watcher = watcher; // dropped (unwatched) when the loop ends
        let mut last = fingerprint(path.as_deref());
        loop {
            let mut trigger = tokio::select! {
                _ = stopped.cancelled() => return,
                t = rx.recv() => match t { Some(t) => t, None => return },
            };
            if trigger == ReloadTrigger::FileChanged {
                // Debounce: wait for a quiet period; a SIGHUP meanwhile wins.
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(debounce) => break,
                        more = rx.recv() => match more {
                            Some(ReloadTrigger::Signal) => trigger = ReloadTrigger::Signal,
                            Some(ReloadTrigger::FileChanged) => {}
                            None => return,
                        },
                    }
                }
            }
            let current = fingerprint(path.as_deref());
            if trigger == ReloadTrigger::FileChanged && (current == last || current.is_none()) {
                continue;
            }
            last = current;
            let reload = Reload {
                path: path.clone(),
                trigger,
            };
            tracing::info!(trigger = ?trigger, path = ?path, "reloading configuration");
            let result = match tokio::spawn((hook)(reload)).await {
                Ok(r) => r,
                Err(join) if join.is_panic() => Err(format!(
                    "reload hook panicked: {}",
                    crate::check::panic_message(&*join.into_panic())
                )),
                Err(_) => Err("reload hook cancelled".to_owned()),
            };
            match result {
                Ok(()) => {
                    tracing::info!("configuration reloaded");
                    metrics.reload(true);
                }
                Err(err) => {
                    tracing::error!(error = %err, "configuration reload failed; keeping the old configuration");
                    metrics.reload(false);
                }
            }
        }
    });
    Ok(())
}

/// Watches the file's parent directory, so rename-replace and `..data` symlink swaps are
/// seen; every non-access event in it is a hint to compare the content again.
fn watch(
    path: &Path,
    tx: mpsc::UnboundedSender<ReloadTrigger>,
) -> io::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(e) if matches!(e.kind, EventKind::Access(_)) => {}
            Ok(_) => {
                let _ = tx.send(ReloadTrigger::FileChanged);
            }
            Err(err) => tracing::warn!(error = %err, "configuration watcher error"),
        })
        .map_err(io::Error::other)?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(io::Error::other)?;
    // A single-file bind mount (`docker run -v ./app.toml:/etc/app/app.toml`) pins the file's
    // inode: in-place writes on the host reach a watch on the file itself, never one on this
    // directory. Best effort: the file may not exist yet.
    let _ = watcher.watch(path, RecursiveMode::NonRecursive);
    Ok(watcher)
}
