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
    let mut watching = match &path {
        Some(path) => {
            let watching = Watching::start(path, tx.clone()).map_err(|error| Error::Watch {
                path: path.display().to_string(),
                error,
            })?;
            if !watching.complete() {
                tracing::warn!(
                    path = %path.display(),
                    missing = %watching.target.display(),
                    watching = %watching.dir.display(),
                    "configuration directory does not exist: starting without the file and \
                     watching its nearest existing parent, so the file is read once it appears; \
                     mount the directory (e.g. docker run -v ./config:{dir}) or unset {var}",
                    dir = watching.target.display(),
                    var = crate::contract::ENV_CONFIG_FILE,
                );
            }
            Some(watching)
        }
        None => None,
    };
    let stopped = lifecycle.stopped_token().clone();
    tokio::spawn(async move {
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
            if let (Some(w), Some(path)) = (&mut watching, &path)
                && !w.complete()
            {
                w.descend(path, &tx);
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

/// The file's directory.
fn file_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The watch on the configuration file: on its directory — or, while that does not exist,
/// on the directory's nearest existing parent, moving down as the missing levels appear.
/// The watcher is dropped (unwatched) with it, when the reload loop ends.
struct Watching {
    _watcher: notify::RecommendedWatcher,
    /// The directory watched.
    dir: PathBuf,
    /// The file's directory: where the watch belongs.
    target: PathBuf,
}

impl Watching {
    fn start(path: &Path, tx: mpsc::UnboundedSender<ReloadTrigger>) -> io::Result<Watching> {
        let target = file_dir(path);
        let dir = target
            .ancestors()
            .find(|d| d.is_dir())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let watcher = watch(&dir, (dir == target).then_some(path), tx)?;
        Ok(Watching {
            _watcher: watcher,
            dir,
            target,
        })
    }

    /// Whether the file's own directory is watched.
    fn complete(&self) -> bool {
        self.dir == self.target
    }

    /// After an event in a parent: watch a deeper level if one appeared.
    fn descend(&mut self, path: &Path, tx: &mpsc::UnboundedSender<ReloadTrigger>) {
        let deeper = self
            .target
            .ancestors()
            .take_while(|d| *d != self.dir)
            .any(|d| d.is_dir());
        if !deeper {
            return;
        }
        match Watching::start(path, tx.clone()) {
            Ok(next) => {
                tracing::info!(watching = %next.dir.display(), "configuration directory appeared; watching it");
                *self = next;
            }
            Err(err) => {
                tracing::warn!(dir = %self.target.display(), error = %err, "cannot watch the configuration directory");
            }
        }
    }
}

/// Watches `dir` (and `file` in it, if given), so rename-replace and `..data` symlink swaps
/// are seen; every non-access event in it is a hint to compare the content again.
fn watch(
    dir: &Path,
    file: Option<&Path>,
    tx: mpsc::UnboundedSender<ReloadTrigger>,
) -> io::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
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
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(io::Error::other)?;
    // A single-file bind mount (`docker run -v ./app.toml:/etc/app/app.toml`) pins the file's
    // inode: in-place writes on the host reach a watch on the file itself, never one on this
    // directory. Best effort: the file may not exist yet.
    if let Some(file) = file {
        let _ = watcher.watch(file, RecursiveMode::NonRecursive);
    }
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_directory_is_watched_from_its_nearest_parent_down() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a/b/app.toml");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut w = Watching::start(&file, tx.clone()).unwrap();
        assert!(!w.complete());
        assert_eq!(w.dir, root.path());
        assert_eq!(w.target, root.path().join("a/b"));

        std::fs::create_dir(root.path().join("a")).unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(event.unwrap(), Some(ReloadTrigger::FileChanged));
        w.descend(&file, &tx);
        assert_eq!(w.dir, root.path().join("a"));
        assert!(!w.complete());

        std::fs::create_dir(root.path().join("a/b")).unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap();
        w.descend(&file, &tx);
        assert!(w.complete());
        while rx.try_recv().is_ok() {}
        std::fs::write(&file, "x = 1").unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(event.unwrap(), Some(ReloadTrigger::FileChanged));
        assert_eq!(fingerprint(Some(&file)), fingerprint(Some(&file)));
        assert!(fingerprint(Some(&file)).is_some());
    }

    #[test]
    fn nothing_deeper_means_no_new_watch() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("missing/app.toml");
        let (tx, _rx) = mpsc::unbounded_channel();
        let mut w = Watching::start(&file, tx.clone()).unwrap();
        w.descend(&file, &tx);
        assert_eq!(w.dir, root.path());
        assert_eq!(file_dir(Path::new("app.toml")), PathBuf::from("."));
    }
}
