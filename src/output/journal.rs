//! `OUT/.berth-journal`: crash safety for [`Plan::apply`](super::Plan::apply), and the lock
//! that keeps two runs out of one output directory.
//!
//! A run writes many files; no file system renames many files at once. So a run first
//! writes the journal — every directory it will create, every temporary file it will stage
//! (`DIR/.berth-new-NAME`), every backup (`DIR/.berth-old-NAME`) and the SHA-256 of every new
//! file — in the state `prepared`, then stages the files, then flips the journal to
//! `committed` (an atomic rename: the commit point), renames the files into place, deletes the
//! backups and finally the journal. If the process dies (`kill -9`, power loss) anywhere in
//! between, the next run finds the journal and [`recover`]s before planning:
//!
//! - `prepared` (or `aborted`, written before an in-process rollback): roll back — restore the
//!   backups of files already replaced, delete what was created, delete the temporaries and
//!   the directories the run created;
//! - `committed`: roll forward — rename the remaining temporaries into place and finish the
//!   removals; if that is impossible (a temporary is gone and its target does not hold the
//!   new content), roll back.
//!
//! Either way the directory ends entirely as before the run or entirely as after it. While
//! the journal is there, every file berth tracks holds either its old or its new content —
//! never a torn one — because every file is replaced by a rename.
//!
//! [`OutputLock`] serialises runs: `berth generate` holds an exclusive `flock(2)` on the
//! output directory itself from before recovery and planning until the run is over; `berth
//! diff` holds a shared one. A second `generate` on the same directory waits (saying so on
//! stderr) and gives up with a clear error after a bounded time.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{OutputError, io_err, sha256_hex};

/// File name of the journal inside the output directory.
pub const JOURNAL_FILE: &str = ".berth-journal";
/// Prefix of a staged new file, beside its target.
pub const NEW_PREFIX: &str = ".berth-new-";
/// Prefix of a backup of a replaced or removed file, beside it.
pub const OLD_PREFIX: &str = ".berth-old-";

const MAGIC: &str = "berth-journal v1";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Files are being staged; nothing visible changed yet. Recovery rolls back.
    Prepared,
    /// The commit point passed: files are being renamed into place. Recovery rolls forward.
    Committed,
    /// The run failed after the commit point and is rolling back. Recovery rolls back.
    Aborted,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Prepared => "prepared",
            State::Committed => "committed",
            State::Aborted => "aborted",
        }
    }
}

/// A file the run writes (created or updated), all paths relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    pub dest: String,
    pub temp: String,
    /// SHA-256 of the new content.
    pub hash: String,
    /// The backup of the old content (updates only).
    pub backup: Option<String>,
}

/// A file the run removes; it is renamed to `backup` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remove {
    pub dest: String,
    pub backup: String,
}

/// The journal of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Journal {
    pub state: State,
    /// Directories the run creates, parents first.
    pub dirs: Vec<String>,
    pub writes: Vec<Write>,
    pub removes: Vec<Remove>,
}

/// `dir/file` → `dir/<prefix>file`.
pub(crate) fn sibling(path: &str, prefix: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/{prefix}{name}"),
        None => format!("{prefix}{path}"),
    }
}

impl Journal {
    pub(crate) fn render(&self) -> String {
        let mut text = format!("{MAGIC} {}\n", self.state.as_str());
        for d in &self.dirs {
            text.push_str(&format!("dir\t{d}\n"));
        }
        for w in &self.writes {
            text.push_str(&format!(
                "write\t{}\t{}\t{}\t{}\n",
                w.dest,
                w.temp,
                w.hash,
                w.backup.as_deref().unwrap_or("-")
            ));
        }
        for r in &self.removes {
            text.push_str(&format!("remove\t{}\t{}\n", r.dest, r.backup));
        }
        text
    }

    pub(crate) fn parse(text: &str) -> Result<Journal, String> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let state = match header.strip_prefix(MAGIC).map(str::trim) {
            Some("prepared") => State::Prepared,
            Some("committed") => State::Committed,
            Some("aborted") => State::Aborted,
            _ => return Err(format!("unknown header {header:?}")),
        };
        let mut journal = Journal {
            state,
            dirs: Vec::new(),
            writes: Vec::new(),
            removes: Vec::new(),
        };
        let safe = |p: &str| -> Result<String, String> {
            if super::manifest::is_safe_relative_path(p) {
                Ok(p.to_owned())
            } else {
                Err(format!("unsafe path {p:?}"))
            }
        };
        for (n, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            let bad = || format!("line {}: cannot read {line:?}", n + 2);
            match fields.as_slice() {
                ["dir", d] => journal.dirs.push(safe(d)?),
                ["write", dest, temp, hash, backup] => journal.writes.push(Write {
                    dest: safe(dest)?,
                    temp: safe(temp)?,
                    hash: (*hash).to_owned(),
                    backup: if *backup == "-" {
                        None
                    } else {
                        Some(safe(backup)?)
                    },
                }),
                ["remove", dest, backup] => journal.removes.push(Remove {
                    dest: safe(dest)?,
                    backup: safe(backup)?,
                }),
                _ => return Err(bad()),
            }
        }
        Ok(journal)
    }

    /// Writes the journal into `out` atomically (temporary file, fsync, rename, fsync of the
    /// directory).
    pub(crate) fn store(&self, out: &Path) -> Result<(), OutputError> {
        let path = out.join(JOURNAL_FILE);
        let temp = out.join(format!("{JOURNAL_FILE}.tmp"));
        let write = || -> io::Result<()> {
            let mut f = fs::File::create(&temp)?;
            f.write_all(self.render().as_bytes())?;
            f.sync_all()?;
            fs::rename(&temp, &path)?;
            sync_dir(out)
        };
        write().map_err(|e| {
            // A journal that could not be written must not be left half-written.
            let _ = fs::remove_file(&temp);
            io_err("write the journal", &path)(e)
        })
    }
}

/// Deletes the journal (the run is over), then makes that durable.
pub(crate) fn remove(out: &Path) -> Result<(), OutputError> {
    let path = out.join(JOURNAL_FILE);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("remove the journal", &path)(e)),
    }
    let _ = fs::remove_file(out.join(format!("{JOURNAL_FILE}.tmp")));
    sync_dir(out).map_err(io_err("sync", out))
}

/// Makes a rename in `dir` durable (Unix; elsewhere a directory cannot be opened as a file).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// True when `out` holds the journal of an interrupted run.
pub fn interrupted(out: &Path) -> bool {
    fs::symlink_metadata(out.join(JOURNAL_FILE)).is_ok()
}

/// What [`recover`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No interrupted run.
    Nothing,
    /// The interrupted run was completed: the directory holds its result.
    RolledForward,
    /// The interrupted run was undone: the directory is as it was before it.
    RolledBack,
}

fn hash_of(path: &Path) -> Option<String> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => fs::read(path).ok().map(|b| sha256_hex(&b)),
        _ => None,
    }
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

fn remove_file_if_exists(path: &Path) -> Result<(), OutputError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

/// Finishes or undoes the run an interrupted `berth generate` left in `out` (see the module
/// documentation). Call it with the [`OutputLock`] held, before [`plan`](super::plan).
/// Idempotent: a recovery that is itself interrupted is completed by the next one.
pub fn recover(out: &Path) -> Result<Recovery, OutputError> {
    let path = out.join(JOURNAL_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Recovery::Nothing),
        Err(e) => return Err(io_err("read", &path)(e)),
    };
    let journal = Journal::parse(&text).map_err(|message| OutputError::Journal {
        path: path.clone(),
        message,
    })?;
    let forward = journal.state == State::Committed
        && journal.writes.iter().all(|w| {
            exists(&out.join(&w.temp)) || hash_of(&out.join(&w.dest)) == Some(w.hash.clone())
        });
    if forward {
        roll_forward(out, &journal)?;
    } else {
        roll_back(out, &journal)?;
    }
    remove(out)?;
    Ok(if forward {
        Recovery::RolledForward
    } else {
        Recovery::RolledBack
    })
}

fn roll_forward(out: &Path, journal: &Journal) -> Result<(), OutputError> {
    for w in &journal.writes {
        let temp = out.join(&w.temp);
        let dest = out.join(&w.dest);
        if exists(&temp) {
            fs::rename(&temp, &dest).map_err(io_err("replace", &dest))?;
        }
    }
    for r in &journal.removes {
        let dest = out.join(&r.dest);
        if hash_of(&dest).is_some() {
            remove_file_if_exists(&dest)?;
        }
        remove_file_if_exists(&out.join(&r.backup))?;
    }
    for w in &journal.writes {
        if let Some(b) = &w.backup {
            remove_file_if_exists(&out.join(b))?;
        }
    }
    for r in &journal.removes {
        remove_empty_parents(out, &out.join(&r.dest));
    }
    Ok(())
}

fn roll_back(out: &Path, journal: &Journal) -> Result<(), OutputError> {
    for w in journal.writes.iter().rev() {
        let dest = out.join(&w.dest);
        let replaced = hash_of(&dest) == Some(w.hash.clone());
        match &w.backup {
            // An update: the backup was complete before the commit point, and the target was
            // replaced only after it; restore it only if the target holds the new content.
            Some(b) => {
                let backup = out.join(b);
                if replaced && exists(&backup) {
                    fs::rename(&backup, &dest).map_err(io_err("restore", &dest))?;
                } else {
                    remove_file_if_exists(&backup)?;
                }
            }
            // A created file.
            None => {
                if replaced {
                    remove_file_if_exists(&dest)?;
                }
            }
        }
        remove_file_if_exists(&out.join(&w.temp))?;
    }
    for r in journal.removes.iter().rev() {
        let dest = out.join(&r.dest);
        let backup = out.join(&r.backup);
        if !exists(&dest) && exists(&backup) {
            fs::rename(&backup, &dest).map_err(io_err("restore", &dest))?;
        } else {
            remove_file_if_exists(&backup)?;
        }
    }
    for d in journal.dirs.iter().rev() {
        // Only if empty: a directory that holds something is not only this run's.
        let _ = fs::remove_dir(out.join(d));
    }
    Ok(())
}

/// Removes the directories between `file` and `out` (exclusive) that are empty.
pub(crate) fn remove_empty_parents(out: &Path, file: &Path) {
    for dir in file
        .ancestors()
        .skip(1)
        .take_while(|d| *d != out && d.starts_with(out))
    {
        let empty = fs::read_dir(dir)
            .map(|mut it| it.next().is_none())
            .unwrap_or(false);
        if !empty || fs::remove_dir(dir).is_err() {
            break;
        }
    }
}

/// A hidden, test-only hook (`BERTH_TEST_FAULT_PAUSE=N`): at the N-th fault point of a run
/// (1-based), say so on stderr and stop there for good, so a test can `kill -9` the process
/// at a known step; `0` lists every point on stderr instead. Without the variable, a fault
/// point does nothing.
pub(crate) fn fault_point(label: &str) {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PAUSE_AT: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let Some(at) = *PAUSE_AT.get_or_init(|| {
        std::env::var("BERTH_TEST_FAULT_PAUSE")
            .ok()
            .and_then(|v| v.parse().ok())
    }) else {
        return;
    };
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if at == 0 {
        // 0: only list the points.
        eprintln!("berth-test-fault: point {n} ({label})");
    } else if n == at {
        eprintln!("berth-test-fault: paused at point {n} ({label})");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// An advisory lock on an output directory, held until dropped.
#[derive(Debug)]
pub struct OutputLock {
    _dir: fs::File,
    /// The directory was created to be locked (and is removed again if left empty).
    created: Option<PathBuf>,
}

impl OutputLock {
    /// Takes the exclusive lock on `out` for a run that writes it, creating `out` if missing.
    /// When another run holds it, calls `on_wait` once and waits up to `limit`.
    pub fn exclusive(
        out: &Path,
        limit: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<OutputLock, OutputError> {
        let deadline = Instant::now() + limit;
        let mut waited = false;
        loop {
            fs::create_dir_all(out).map_err(io_err("create the directory", out))?;
            let dir = open_for_lock(out).map_err(io_err("open", out))?;
            match dir.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    if !waited {
                        waited = true;
                        on_wait();
                    }
                    if Instant::now() >= deadline {
                        return Err(OutputError::Locked {
                            out: out.to_path_buf(),
                            waited: limit,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(25));
                    continue;
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", out)(e)),
            }
            // The directory may have been removed (and made again) while we waited: the lock
            // must be on the directory the path names now.
            if same_file(&dir, out) {
                return Ok(OutputLock {
                    _dir: dir,
                    created: None,
                });
            }
        }
    }

    /// Like [`OutputLock::exclusive`], but remembers that `out` did not exist, so
    /// [`OutputLock::release_if_unused`] can remove it after a run that wrote nothing.
    pub fn exclusive_new(
        out: &Path,
        limit: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<OutputLock, OutputError> {
        let missing = !exists(out);
        let mut lock = OutputLock::exclusive(out, limit, on_wait)?;
        if missing {
            lock.created = Some(out.to_path_buf());
        }
        Ok(lock)
    }

    /// A shared lock for a run that only reads `out` (`berth diff`); `None` when `out` does
    /// not exist. Waits like [`OutputLock::exclusive`].
    pub fn shared(
        out: &Path,
        limit: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<Option<OutputLock>, OutputError> {
        let deadline = Instant::now() + limit;
        let mut waited = false;
        let dir = match open_for_lock(out) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", out)(e)),
        };
        loop {
            match dir.try_lock_shared() {
                Ok(()) => {
                    return Ok(Some(OutputLock {
                        _dir: dir,
                        created: None,
                    }));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    if !waited {
                        waited = true;
                        on_wait();
                    }
                    if Instant::now() >= deadline {
                        return Err(OutputError::Locked {
                            out: out.to_path_buf(),
                            waited: limit,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", out)(e)),
            }
        }
    }

    /// Removes the directory this lock created if it is still empty (a run that failed
    /// before writing), so a failed first run leaves nothing behind.
    pub fn release_if_unused(self) {
        if let Some(dir) = &self.created {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// What the lock is taken on: the directory itself on Unix (`flock(2)` works on a directory
/// and leaves nothing behind); elsewhere, where a directory cannot be opened as a file, the
/// file `.berth-lock` in it.
#[cfg(unix)]
fn open_for_lock(out: &Path) -> io::Result<fs::File> {
    fs::File::open(out)
}

#[cfg(not(unix))]
fn open_for_lock(out: &Path) -> io::Result<fs::File> {
    if !out.is_dir() {
        return Err(io::ErrorKind::NotFound.into());
    }
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.join(".berth-lock"))
}

#[cfg(unix)]
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &fs::File, path: &Path) -> bool {
    path.is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trips() {
        let j = Journal {
            state: State::Committed,
            dirs: vec!["helm".into(), "helm/app".into()],
            writes: vec![
                Write {
                    dest: "helm/app/Chart.yaml".into(),
                    temp: sibling("helm/app/Chart.yaml", NEW_PREFIX),
                    hash: "ab".into(),
                    backup: None,
                },
                Write {
                    dest: ".berth-manifest".into(),
                    temp: sibling(".berth-manifest", NEW_PREFIX),
                    hash: "cd".into(),
                    backup: Some(sibling(".berth-manifest", OLD_PREFIX)),
                },
            ],
            removes: vec![Remove {
                dest: "k8s/x.yaml".into(),
                backup: sibling("k8s/x.yaml", OLD_PREFIX),
            }],
        };
        assert_eq!(j.writes[0].temp, "helm/app/.berth-new-Chart.yaml");
        assert_eq!(j.writes[1].temp, ".berth-new-.berth-manifest");
        assert_eq!(Journal::parse(&j.render()).unwrap(), j);
        assert!(Journal::parse("nonsense\n").is_err());
        assert!(Journal::parse("berth-journal v1 committed\nwrite\t../x\ty\tz\t-\n").is_err());
    }

    #[test]
    fn second_exclusive_lock_waits_then_gives_up() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("deploy");
        let first = OutputLock::exclusive_new(&out, Duration::from_secs(1), &mut || {}).unwrap();
        let mut told = 0;
        let err =
            OutputLock::exclusive(&out, Duration::from_millis(200), &mut || told += 1).unwrap_err();
        assert_eq!(told, 1);
        assert!(matches!(err, OutputError::Locked { .. }), "{err}");
        assert!(
            OutputLock::shared(&out, Duration::from_millis(100), &mut || {}).is_err(),
            "a reader waits for the writer"
        );
        first.release_if_unused();
        assert!(
            !out.exists(),
            "the empty directory the lock created is removed"
        );
        let _again = OutputLock::exclusive(&out, Duration::from_millis(200), &mut || {}).unwrap();
    }
}
