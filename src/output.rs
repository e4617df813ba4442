//! Writing generated files: atomic replacement, hand-edit detection, diffs.
//!
//! [`plan`] compares a rendered [`FileSet`] with an output directory and decides, for every
//! path, whether it is created, updated, unchanged or removed. It reads only. [`Plan::apply`]
//! then changes the directory as one transaction:
//!
//! 1. every check runs first (hand-edited files, paths in the way), so a refused run touches
//!    nothing;
//! 2. every new file is written to a temporary file in its final directory (mode 0644);
//! 3. the temporaries are renamed over their targets, each replaced or removed file first
//!    kept as a backup; if any step fails, everything done so far is undone (backups renamed
//!    back, new files and directories removed) and the directory is left as it was;
//! 4. the backups are deleted.
//!
//! A run that is killed part-way (`kill -9`, power loss) is finished or undone by the next
//! one: see [`journal`] (`OUT/.berth-journal`, and the lock that keeps two runs out of one
//! directory).
//!
//! Hand edits are found with the manifest `OUT/.berth-manifest` ([`manifest`]), which records
//! the SHA-256 of every file berth wrote. A file whose content differs from both the recorded
//! hash and the new content, or that exists without being recorded, belongs to a person:
//! [`Plan::apply`] refuses to overwrite or remove it unless forced.

pub mod journal;
pub mod manifest;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::render::{FileSet, Target};
pub use journal::{JOURNAL_FILE, OutputLock, Recovery, recover};
pub use manifest::{MANIFEST_FILE, Manifest, sha256_hex};

/// Mode of every written file.
pub const FILE_MODE: u32 = 0o644;
/// Mode of every directory berth creates.
pub const DIR_MODE: u32 = 0o755;

/// What happens to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// A new file.
    Create,
    /// An existing file gets new content.
    Update,
    /// The file already has the right content.
    Unchanged,
    /// berth wrote it before but no longer produces it.
    Remove,
}

impl Change {
    /// A past-tense word for summaries: `created`, `updated`, `unchanged`, `removed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "created",
            Change::Update => "updated",
            Change::Unchanged => "unchanged",
            Change::Remove => "removed",
        }
    }
}

/// Why a change would lose a person's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The file changed since berth wrote it.
    Edited,
    /// The file exists but berth never wrote it (not in the manifest).
    Untracked,
}

impl Edit {
    fn describe(self) -> &'static str {
        match self {
            Edit::Edited => "edited since berth wrote it",
            Edit::Untracked => "not written by berth",
        }
    }
}

/// One path of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the output directory, with forward slashes.
    pub path: String,
    /// The target it belongs to; `None` for the manifest itself.
    pub target: Option<Target>,
    /// What happens to it.
    pub change: Change,
    /// The bytes on disk now, when the file exists.
    pub current: Option<Vec<u8>>,
    /// The content after the run; `None` when the file is removed.
    pub next: Option<String>,
    /// Set when the change would overwrite or remove a person's edit.
    pub edit: Option<Edit>,
}

/// Writing or planning failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Files edited by hand would be overwritten or removed, and the run was not forced.
    #[error("{}", hand_edited_message(out, files))]
    HandEdited {
        /// The output directory.
        out: PathBuf,
        /// The paths (relative to `out`) and why each is a person's.
        files: Vec<(String, Edit)>,
    },
    /// Something other than a regular file is where a file must be written or a directory
    /// must be created.
    #[error("'{}' is in the way: {what}", path.display())]
    InTheWay {
        /// The path.
        path: PathBuf,
        /// What was found there and what was needed.
        what: &'static str,
    },
    /// The manifest cannot be read.
    #[error("{}:{line}: {message}", path.display())]
    Manifest {
        /// The manifest's path.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The journal of an interrupted run cannot be read.
    #[error(
        "{}: cannot read the journal of an interrupted berth run ({message})",
        path.display()
    )]
    Journal {
        /// The journal's path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An interrupted `berth generate` left the directory part-way through an update.
    #[error(
        "an interrupted berth generate left '{}' part-way through an update ({JOURNAL_FILE} is there)",
        out.display()
    )]
    Interrupted {
        /// The output directory.
        out: PathBuf,
    },
    /// Another berth run kept the output directory locked for too long.
    #[error(
        "another berth run is writing '{}' and did not finish within {} s",
        out.display(),
        waited.as_secs()
    )]
    Locked {
        /// The output directory.
        out: PathBuf,
        /// How long this run waited.
        waited: std::time::Duration,
    },
    /// A renderer produced a path that is not a safe relative path inside its target's
    /// directory (a bug in berth).
    #[error(
        "internal error: a renderer produced the output path '{0}', which is outside its target directory"
    )]
    BadPath(String),
    /// A file-system operation failed.
    #[error("could not {action} '{}'", path.display())]
    Io {
        /// What was being done (`read`, `write`, `rename` ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The run failed and undoing its partial changes failed too.
    #[error("{error}; undoing the partial changes also failed, check by hand: {}", problems.join("; "))]
    RollbackFailed {
        /// The original failure.
        #[source]
        error: Box<OutputError>,
        /// What could not be undone.
        problems: Vec<String>,
    },
}

impl OutputError {
    /// What to do about it, saying first whether the directory was left as it was when that
    /// is in doubt: for the refusals and for the file-system conditions a person can fix (no
    /// space, a read-only file system, permissions).
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            OutputError::HandEdited { .. } => {
                return Some(
                    "nothing was written; move the changes into berth.yaml (or keep them elsewhere), or run again with --force to overwrite them",
                );
            }
            OutputError::Manifest { .. } => {
                return Some("fix the line or delete the manifest and run with --force");
            }
            OutputError::Journal { .. } => {
                return Some(
                    "restore the directory from version control, delete the journal and run berth generate --force",
                );
            }
            OutputError::Interrupted { .. } => {
                return Some("run berth generate to finish or undo it");
            }
            OutputError::Locked { .. } => return Some("wait for it (or stop it) and run again"),
            _ => {}
        }
        let os = std::iter::successors(Some(self as &dyn std::error::Error), |e| e.source())
            .find_map(|e| e.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error)?;
        let unchanged = !matches!(self, OutputError::RollbackFailed { .. });
        Some(match (os, unchanged) {
            (28 | 122, true) => "nothing was changed; free some space on that file system",
            (28 | 122, false) => "free some space on that file system",
            (30, true) => {
                "nothing was changed; the file system is mounted read-only: write elsewhere with -o DIR"
            }
            (30, false) => "the file system is mounted read-only: write elsewhere with -o DIR",
            (1 | 13, true) => "nothing was changed; check the directory's owner and permissions",
            (1 | 13, false) => "check the directory's owner and permissions",
            _ => return None,
        })
    }
}

fn hand_edited_message(out: &Path, files: &[(String, Edit)]) -> String {
    let mut message = format!(
        "refusing to overwrite or remove {} file{} in {} that berth did not write or that were edited since:",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        out.display()
    );
    for (path, edit) in files {
        let _ = write!(message, "\n  {path} ({})", edit.describe());
    }
    message
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> OutputError + 'a {
    move |source| OutputError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What a `generate` run would do to an output directory.
#[derive(Debug, Clone)]
pub struct Plan {
    out: PathBuf,
    entries: Vec<Entry>,
}

/// Compares `files` with the output directory `out` and plans the run. Only reads.
///
/// `scope` lists the targets this run owns (`--only`); empty means all. Files berth wrote
/// before for a target in scope that `files` no longer contains are planned for removal;
/// files of targets outside the scope are left alone and stay in the manifest.
pub fn plan(out: &Path, files: &FileSet, scope: &[Target]) -> Result<Plan, OutputError> {
    let mut in_scope: BTreeSet<Target> = if scope.is_empty() {
        Target::ALL.into_iter().collect()
    } else {
        scope.iter().copied().collect()
    };
    for (path, file) in files.iter() {
        if !manifest::is_safe_relative_path(path) || manifest::target_of(path) != Some(file.target)
        {
            return Err(OutputError::BadPath(path.to_string()));
        }
        in_scope.insert(file.target);
    }

    check_dir_or_missing(out)?;
    if journal::interrupted(out) {
        return Err(OutputError::Interrupted {
            out: out.to_path_buf(),
        });
    }
    let manifest_path = out.join(MANIFEST_FILE);
    let manifest_current = read_regular(&manifest_path)?;
    let old_manifest = match &manifest_current {
        None => Manifest::new(),
        Some(bytes) => {
            Manifest::parse(&String::from_utf8_lossy(bytes)).map_err(|e| OutputError::Manifest {
                path: manifest_path.clone(),
                line: e.line,
                message: e.message,
            })?
        }
    };

    let mut entries = Vec::new();
    let mut new_manifest = Manifest::new();
    for (path, hash) in old_manifest.iter() {
        let owned = manifest::target_of(path).is_some_and(|t| in_scope.contains(&t));
        if !owned {
            new_manifest.insert_hash(path, hash);
        }
    }

    for (path, file) in files.iter() {
        let full = out.join(path);
        check_parents(out, &full)?;
        let current = read_regular(&full)?;
        let next = file.contents.as_bytes();
        let (change, edit) = match &current {
            None => (Change::Create, None),
            Some(bytes) if bytes.as_slice() == next => (Change::Unchanged, None),
            Some(bytes) => (Change::Update, edit_of(&old_manifest, path, bytes)),
        };
        new_manifest.record(path, next);
        entries.push(Entry {
            path: path.to_string(),
            target: Some(file.target),
            change,
            current,
            next: Some(file.contents.clone()),
            edit,
        });
    }

    for (path, _) in old_manifest.iter() {
        let Some(target) = manifest::target_of(path) else {
            continue;
        };
        if !in_scope.contains(&target) || files.get(path).is_some() {
            continue;
        }
        let full = out.join(path);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_file() => {
                let bytes = fs::read(&full).map_err(io_err("read", &full))?;
                let edit = edit_of(&old_manifest, path, &bytes);
                entries.push(Entry {
                    path: path.to_string(),
                    target: Some(target),
                    change: Change::Remove,
                    current: Some(bytes),
                    next: None,
                    edit,
                });
            }
            // Already gone, or replaced by something that is not berth's: forget it.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("inspect", &full)(e)),
        }
    }

    let manifest_next = new_manifest.render();
    let manifest_change = match &manifest_current {
        None => Change::Create,
        Some(bytes) if bytes.as_slice() == manifest_next.as_bytes() => Change::Unchanged,
        Some(_) => Change::Update,
    };
    entries.push(Entry {
        path: MANIFEST_FILE.to_string(),
        target: None,
        change: manifest_change,
        current: manifest_current,
        next: Some(manifest_next),
        edit: None,
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Plan {
        out: out.to_path_buf(),
        entries,
    })
}

fn edit_of(manifest: &Manifest, path: &str, current: &[u8]) -> Option<Edit> {
    match manifest.get(path) {
        None => Some(Edit::Untracked),
        Some(hash) if hash == sha256_hex(current) => None,
        Some(_) => Some(Edit::Edited),
    }
}

/// Reads a regular file; `None` when nothing is there; an error when something else is.
fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, OutputError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => fs::read(path).map(Some).map_err(io_err("read", path)),
        Ok(meta) => Err(OutputError::InTheWay {
            path: path.to_path_buf(),
            what: if meta.is_dir() {
                "a directory where berth writes a file"
            } else {
                "a symbolic link or special file where berth writes a regular file"
            },
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("inspect", path)(e)),
    }
}

/// `path` must be a directory (symbolic links to one are fine) or not exist.
fn check_dir_or_missing(path: &Path) -> Result<(), OutputError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(OutputError::InTheWay {
            path: path.to_path_buf(),
            what: "a file where berth needs a directory",
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::symlink_metadata(path) {
            Ok(_) => Err(OutputError::InTheWay {
                path: path.to_path_buf(),
                what: "a dangling symbolic link where berth needs a directory",
            }),
            Err(_) => Ok(()),
        },
        Err(e) => Err(io_err("inspect", path)(e)),
    }
}

/// Every directory between `out` (exclusive) and `file` (exclusive) must be a directory or
/// missing.
fn check_parents(out: &Path, file: &Path) -> Result<(), OutputError> {
    let mut dirs: Vec<&Path> = file.ancestors().skip(1).take_while(|a| *a != out).collect();
    dirs.reverse();
    for dir in dirs {
        check_dir_or_missing(dir)?;
    }
    Ok(())
}

impl Plan {
    /// The output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Every path the run touches or checks, sorted; the manifest is one of them.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The paths whose change would lose a person's edit.
    pub fn hand_edited(&self) -> Vec<(String, Edit)> {
        self.entries
            .iter()
            .filter_map(|e| e.edit.map(|edit| (e.path.clone(), edit)))
            .collect()
    }

    /// True when the run would change nothing (the manifest included).
    pub fn is_clean(&self) -> bool {
        self.entries.iter().all(|e| e.change == Change::Unchanged)
    }

    /// A unified diff (3 lines of context) of every change, with paths shown as
    /// `<display_out>/<path>` (`a/...` and `b/...`, `/dev/null` for created and removed
    /// files). Empty when the plan is clean.
    pub fn diff(&self, display_out: &str) -> String {
        let mut text = String::new();
        let prefix = if display_out.is_empty() || display_out == "." {
            String::new()
        } else {
            format!("{}/", display_out.trim_end_matches('/'))
        };
        // The manifest follows from the other files: show it only when nothing else differs.
        let files_differ = self
            .entries
            .iter()
            .any(|e| e.target.is_some() && e.change != Change::Unchanged);
        for entry in &self.entries {
            if entry.change == Change::Unchanged || (files_differ && entry.target.is_none()) {
                continue;
            }
            let old = entry
                .current
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let new = entry.next.as_deref().unwrap_or_default();
            let old_header = match entry.change {
                Change::Create => "/dev/null".to_string(),
                _ => format!("a/{prefix}{}", entry.path),
            };
            let new_header = match entry.change {
                Change::Remove => "/dev/null".to_string(),
                _ => format!("b/{prefix}{}", entry.path),
            };
            let diff = similar::TextDiff::from_lines(old.as_ref(), new);
            let _ = write!(
                text,
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&old_header, &new_header)
            );
        }
        text
    }

    /// Applies the plan as one transaction. Refuses (and changes nothing) when a hand-edited
    /// file would be overwritten or removed, unless `force`.
    pub fn apply(&self, force: bool) -> Result<(), OutputError> {
        self.apply_with(force, &mut RealFs)
    }

    fn apply_with(&self, force: bool, fs_ops: &mut dyn FsOps) -> Result<(), OutputError> {
        let edited = self.hand_edited();
        if !force && !edited.is_empty() {
            return Err(OutputError::HandEdited {
                out: self.out.clone(),
                files: edited,
            });
        }
        if self.is_clean() {
            return Ok(());
        }
        let mut tx = Transaction::default();
        match self.run(&mut tx, fs_ops) {
            // Committed: a failure to clean up is finished by the next run's recovery.
            Ok(()) => tx.finish(&self.out),
            Err(error) => {
                let problems = tx.rollback(fs_ops);
                if problems.is_empty() {
                    Err(error)
                } else {
                    Err(OutputError::RollbackFailed {
                        error: Box::new(error),
                        problems,
                    })
                }
            }
        }
    }

    fn run(&self, tx: &mut Transaction, fs_ops: &mut dyn FsOps) -> Result<(), OutputError> {
        use journal::{Journal, NEW_PREFIX, OLD_PREFIX, State, fault_point, sibling};
        // Writes first, the manifest last, then removals.
        let mut writes: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| matches!(e.change, Change::Create | Change::Update))
            .collect();
        writes.sort_by_key(|e| e.target.is_none());
        let removals: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.change == Change::Remove)
            .collect();

        // The journal lives in the output directory.
        tx.create_dirs(&self.out)?;
        let mut journal = Journal {
            state: State::Prepared,
            dirs: Vec::new(),
            writes: Vec::new(),
            removes: Vec::new(),
        };
        for entry in &writes {
            let mut missing: Vec<String> = Path::new(&entry.path)
                .ancestors()
                .skip(1)
                .filter(|a| !a.as_os_str().is_empty() && !self.out.join(a).exists())
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            missing.reverse();
            for dir in missing {
                if !journal.dirs.contains(&dir) {
                    journal.dirs.push(dir);
                }
            }
            journal.writes.push(journal::Write {
                dest: entry.path.clone(),
                temp: sibling(&entry.path, NEW_PREFIX),
                hash: sha256_hex(entry.next.as_deref().unwrap_or_default().as_bytes()),
                backup: (entry.change == Change::Update).then(|| sibling(&entry.path, OLD_PREFIX)),
            });
        }
        for entry in &removals {
            journal.removes.push(journal::Remove {
                dest: entry.path.clone(),
                backup: sibling(&entry.path, OLD_PREFIX),
            });
        }
        journal.store(&self.out)?;
        tx.journal = Some(self.out.clone());
        fault_point("journal prepared");

        // Stage every new file and back up every file that is replaced.
        for (entry, w) in writes.iter().zip(&journal.writes) {
            let dest = self.out.join(&w.dest);
            let dir = dest.parent().unwrap_or(&self.out).to_path_buf();
            tx.create_dirs(&dir)?;
            let temp = self.out.join(&w.temp);
            tx.staged.push(temp.clone());
            let contents = entry.next.as_deref().unwrap_or_default();
            fs_ops
                .stage(&temp, contents.as_bytes())
                .map_err(io_err("write a file in", &dir))?;
            fault_point("staged");
            if let Some(backup) = &w.backup {
                let backup = self.out.join(backup);
                tx.loose_backups.push(backup.clone());
                fs::copy(&dest, &backup).map_err(io_err("back up", &dest))?;
                fault_point("backed up");
            }
        }

        // The commit point: from here on an interrupted run is finished, not undone.
        journal.state = State::Committed;
        journal.store(&self.out)?;
        tx.committed = true;
        fault_point("committed");

        for w in &journal.writes {
            let temp = self.out.join(&w.temp);
            let dest = self.out.join(&w.dest);
            match &w.backup {
                Some(backup) => {
                    fs_ops
                        .rename(&temp, &dest)
                        .map_err(io_err("replace", &dest))?;
                    tx.staged.retain(|t| *t != temp);
                    tx.done.push(Done::Replaced {
                        dest,
                        backup: self.out.join(backup),
                    });
                }
                None => {
                    fs_ops
                        .rename(&temp, &dest)
                        .map_err(io_err("create", &dest))?;
                    tx.staged.retain(|t| *t != temp);
                    tx.done.push(Done::Created(dest));
                }
            }
            fault_point("renamed");
        }
        for r in &journal.removes {
            let dest = self.out.join(&r.dest);
            let backup = self.out.join(&r.backup);
            tx.loose_backups.push(backup.clone());
            fs_ops
                .rename(&dest, &backup)
                .map_err(io_err("remove", &dest))?;
            tx.done.push(Done::Removed { dest, backup });
            fault_point("removed");
        }
        Ok(())
    }
}

/// The file-system steps that can fail part-way, behind a trait so tests can make them fail.
trait FsOps {
    /// Writes `contents` to the temporary file `path` (replacing it) with [`FILE_MODE`].
    fn stage(&mut self, path: &Path, contents: &[u8]) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()>;
}

struct RealFs;

impl FsOps for RealFs {
    fn stage(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
        let mut file = fs::File::create(path)?;
        file.write_all(contents)?;
        set_mode(path, FILE_MODE)?;
        file.sync_all()
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// A step that was carried out and how to undo it.
enum Done {
    Created(PathBuf),
    Replaced { dest: PathBuf, backup: PathBuf },
    Removed { dest: PathBuf, backup: PathBuf },
}

#[derive(Default)]
struct Transaction {
    /// Directories created by this run, parents first.
    created_dirs: Vec<PathBuf>,
    /// Temporary files not yet renamed into place.
    staged: Vec<PathBuf>,
    /// Backups that exist (deleted when the run ends).
    loose_backups: Vec<PathBuf>,
    done: Vec<Done>,
    /// The output directory, once its journal is written.
    journal: Option<PathBuf>,
    /// The journal passed the commit point.
    committed: bool,
}

impl Transaction {
    /// Creates `dir` and its missing parents (mode [`DIR_MODE`]), recording each.
    fn create_dirs(&mut self, dir: &Path) -> Result<(), OutputError> {
        let mut missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .collect();
        missing.reverse();
        for d in missing {
            match fs::create_dir(d) {
                Ok(()) => {
                    self.created_dirs.push(d.to_path_buf());
                    set_mode(d, DIR_MODE).map_err(io_err("set the mode of", d))?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(io_err("create the directory", d)(e)),
            }
        }
        Ok(())
    }

    /// Undoes every step in reverse order; returns what could not be undone.
    fn rollback(&mut self, fs_ops: &mut dyn FsOps) -> Vec<String> {
        let mut problems = Vec::new();
        if self.committed
            && let Some(out) = &self.journal
        {
            // Should this rollback be interrupted too, the next run rolls back, not forward.
            let text = fs::read_to_string(out.join(JOURNAL_FILE)).unwrap_or_default();
            match journal::Journal::parse(&text) {
                Ok(mut j) => {
                    j.state = journal::State::Aborted;
                    if let Err(e) = j.store(out) {
                        problems.push(e.to_string());
                    }
                }
                Err(e) => problems.push(format!("read the journal: {e}")),
            }
        }
        while let Some(step) = self.done.pop() {
            let result = match &step {
                Done::Created(dest) => {
                    fs::remove_file(dest).map_err(|e| format!("remove {}: {e}", dest.display()))
                }
                Done::Replaced { dest, backup } | Done::Removed { dest, backup } => {
                    let r = fs_ops.rename(backup, dest).map_err(|e| {
                        format!("restore {} from {}: {e}", dest.display(), backup.display())
                    });
                    if r.is_ok() {
                        self.loose_backups.retain(|b| b != backup);
                    }
                    r
                }
            };
            if let Err(problem) = result {
                problems.push(problem);
            }
        }
        for temp in self.staged.drain(..).chain(self.loose_backups.drain(..)) {
            if let Err(e) = fs::remove_file(&temp)
                && e.kind() != io::ErrorKind::NotFound
            {
                problems.push(format!("remove {}: {e}", temp.display()));
            }
        }
        // The journal goes once everything is undone; kept, it lets the next run finish the
        // rollback.
        if problems.is_empty()
            && let Some(out) = self.journal.take()
            && let Err(e) = journal::remove(&out)
        {
            problems.push(e.to_string());
        }
        while let Some(dir) = self.created_dirs.pop() {
            if let Err(e) = fs::remove_dir(&dir) {
                problems.push(format!("remove directory {}: {e}", dir.display()));
            }
        }
        problems
    }

    /// Deletes the backups, the directories that removals left empty (never `out`), and
    /// last the journal.
    fn finish(&mut self, out: &Path) -> Result<(), OutputError> {
        for backup in self.loose_backups.drain(..) {
            match fs::remove_file(&backup) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove the backup", &backup)(e)),
            }
            journal::fault_point("backup deleted");
        }
        for step in &self.done {
            if let Done::Removed { dest, .. } = step {
                journal::remove_empty_parents(out, dest);
            }
        }
        if self.journal.take().is_some() {
            journal::remove(out)?;
            journal::fault_point("journal removed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn files(list: &[(Target, &str, &str)]) -> FileSet {
        let mut set = FileSet::new();
        for (target, path, contents) in list {
            set.insert(*target, *path, *contents).unwrap();
        }
        set
    }

    fn sample() -> FileSet {
        files(&[
            (Target::Docker, "docker/Dockerfile", "FROM scratch\n"),
            (Target::Helm, "helm/app/Chart.yaml", "name: app\n"),
            (
                Target::Helm,
                "helm/app/templates/pdb.yaml",
                "kind: PodDisruptionBudget\n",
            ),
            (Target::K8s, "k8s/app.yaml", "kind: Deployment\n"),
            (Target::Systemd, "systemd/app.service", "[Service]\n"),
        ])
    }

    /// Every file and directory under `dir`: path → contents (`None` for directories) and mode.
    fn snapshot(dir: &Path) -> BTreeMap<String, (Option<Vec<u8>>, u32)> {
        use std::os::unix::fs::PermissionsExt;
        let mut map = BTreeMap::new();
        if !dir.exists() {
            return map;
        }
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let mode = meta.permissions().mode() & 0o7777;
                if meta.is_dir() {
                    stack.push(path.clone());
                    map.insert(rel, (None, mode));
                } else {
                    map.insert(rel, (Some(fs::read(&path).unwrap()), mode));
                }
            }
        }
        map
    }

    fn generate(
        out: &Path,
        set: &FileSet,
        scope: &[Target],
        force: bool,
    ) -> Result<Plan, OutputError> {
        let p = plan(out, set, scope)?;
        p.apply(force)?;
        Ok(p)
    }

    fn changes(p: &Plan) -> Vec<(String, Change)> {
        p.entries()
            .iter()
            .map(|e| (e.path.clone(), e.change))
            .collect()
    }

    #[test]
    fn first_run_writes_everything_and_a_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("deploy");
        let p = generate(&out, &sample(), &[], false).unwrap();
        assert!(p.entries().iter().all(|e| e.change == Change::Create));
        let snap = snapshot(&out);
        assert_eq!(
            snap["docker/Dockerfile"],
            (Some(b"FROM scratch\n".to_vec()), FILE_MODE)
        );
        assert_eq!(snap["helm/app/templates"].1, DIR_MODE);
        assert_eq!(snap["helm"].1, DIR_MODE);
        // No temporaries, backups or journal are left behind.
        assert!(snap.keys().all(|k| !k.contains(".berth-new-")
            && !k.contains(".berth-old-")
            && !k.contains(JOURNAL_FILE)));
        let manifest =
            Manifest::parse(&fs::read_to_string(out.join(MANIFEST_FILE)).unwrap()).unwrap();
        assert_eq!(manifest.len(), 5);
        assert_eq!(
            manifest.get("k8s/app.yaml"),
            Some(sha256_hex(b"kind: Deployment\n").as_str())
        );
    }

    #[test]
    fn second_run_is_unchanged_and_byte_identical() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("deploy");
        generate(&out, &sample(), &[], false).unwrap();
        let before = snapshot(&out);
        let p = generate(&out, &sample(), &[], false).unwrap();
        assert!(p.is_clean());
        assert!(p.diff("deploy").is_empty());
        assert_eq!(snapshot(&out), before);

        // A separate directory from the same input is byte-identical, manifest included.
        let other = tmp.path().join("other");
        generate(&other, &sample(), &[], false).unwrap();
        assert_eq!(snapshot(&other), before);
    }

    #[test]
    fn hand_edit_is_refused_and_nothing_changes_then_force_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        generate(&out, &sample(), &[], false).unwrap();
        fs::write(out.join("k8s/app.yaml"), "kind: Deployment\n# mine\n").unwrap();
        let mut changed = FileSet::new();
        for (path, file) in sample().iter() {
            let contents = if path == "docker/Dockerfile" {
                "FROM debian\n"
            } else {
                &file.contents
            };
            changed.insert(file.target, path, contents).unwrap();
        }
        let before = snapshot(&out);
        let err = generate(&out, &changed, &[], false).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(&err, OutputError::HandEdited { files, .. } if files == &vec![("k8s/app.yaml".to_string(), Edit::Edited)])
        );
        assert!(
            message.contains("k8s/app.yaml (edited since berth wrote it)"),
            "{message}"
        );
        assert!(
            err.hint().is_some_and(|h| h.contains("--force")),
            "{message}"
        );
        assert_eq!(snapshot(&out), before, "a refused run changes nothing");

        generate(&out, &changed, &[], true).unwrap();
        assert_eq!(
            fs::read_to_string(out.join("k8s/app.yaml")).unwrap(),
            "kind: Deployment\n"
        );
        assert_eq!(
            fs::read_to_string(out.join("docker/Dockerfile")).unwrap(),
            "FROM debian\n"
        );
        assert!(plan(&out, &changed, &[]).unwrap().is_clean());
    }

    #[test]
    fn untracked_file_is_refused_but_identical_content_is_adopted() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        fs::create_dir_all(out.join("docker")).unwrap();
        fs::write(out.join("docker/Dockerfile"), "FROM alpine\n").unwrap();
        let err = generate(&out, &sample(), &[], false).unwrap_err();
        assert!(
            matches!(&err, OutputError::HandEdited { files, .. } if files[0] == ("docker/Dockerfile".to_string(), Edit::Untracked))
        );
        assert_eq!(
            snapshot(&out).len(),
            2,
            "only the hand-made file and its directory"
        );

        fs::write(out.join("docker/Dockerfile"), "FROM scratch\n").unwrap();
        let p = generate(&out, &sample(), &[], false).unwrap();
        let docker = p
            .entries()
            .iter()
            .find(|e| e.path == "docker/Dockerfile")
            .unwrap();
        assert_eq!(docker.change, Change::Unchanged);
    }

    #[test]
    fn stale_files_are_removed_with_their_empty_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        generate(&out, &sample(), &[], false).unwrap();
        let fewer = files(&[
            (Target::Docker, "docker/Dockerfile", "FROM scratch\n"),
            (Target::Helm, "helm/app/Chart.yaml", "name: app\n"),
            (Target::K8s, "k8s/app.yaml", "kind: Deployment\n"),
            (Target::Systemd, "systemd/app.service", "[Service]\n"),
        ]);
        let p = generate(&out, &fewer, &[], false).unwrap();
        assert!(changes(&p).contains(&("helm/app/templates/pdb.yaml".into(), Change::Remove)));
        assert!(!out.join("helm/app/templates").exists());
        assert!(out.join("helm/app/Chart.yaml").exists());
        let manifest = fs::read_to_string(out.join(MANIFEST_FILE)).unwrap();
        assert!(!manifest.contains("pdb.yaml"));
    }

    #[test]
    fn edited_stale_file_is_not_removed_without_force() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        generate(&out, &sample(), &[], false).unwrap();
        fs::write(out.join("helm/app/templates/pdb.yaml"), "mine\n").unwrap();
        let without_pdb = files(&[
            (Target::Docker, "docker/Dockerfile", "FROM scratch\n"),
            (Target::Helm, "helm/app/Chart.yaml", "name: app\n"),
            (Target::K8s, "k8s/app.yaml", "kind: Deployment\n"),
            (Target::Systemd, "systemd/app.service", "[Service]\n"),
        ]);
        let before = snapshot(&out);
        assert!(matches!(
            generate(&out, &without_pdb, &[], false),
            Err(OutputError::HandEdited { .. })
        ));
        assert_eq!(snapshot(&out), before);
        generate(&out, &without_pdb, &[], true).unwrap();
        assert!(!out.join("helm/app/templates/pdb.yaml").exists());
    }

    #[test]
    fn only_limits_writes_and_removals_to_the_scope() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        generate(&out, &sample(), &[], false).unwrap();
        let manifest_before = fs::read_to_string(out.join(MANIFEST_FILE)).unwrap();
        // A helm-only run that no longer renders pdb.yaml: docker/k8s/systemd stay listed.
        let helm = files(&[(
            Target::Helm,
            "helm/app/Chart.yaml",
            "name: app\nversion: 2\n",
        )]);
        let p = generate(&out, &helm, &[Target::Helm], false).unwrap();
        let mut touched: Vec<(String, Change)> = changes(&p)
            .into_iter()
            .filter(|(_, c)| *c != Change::Unchanged)
            .collect();
        touched.sort();
        assert_eq!(
            touched,
            vec![
                (MANIFEST_FILE.into(), Change::Update),
                ("helm/app/Chart.yaml".into(), Change::Update),
                ("helm/app/templates/pdb.yaml".into(), Change::Remove),
            ]
        );
        assert!(out.join("docker/Dockerfile").exists() && out.join("k8s/app.yaml").exists());
        let manifest =
            Manifest::parse(&fs::read_to_string(out.join(MANIFEST_FILE)).unwrap()).unwrap();
        let old = Manifest::parse(&manifest_before).unwrap();
        for path in ["docker/Dockerfile", "k8s/app.yaml", "systemd/app.service"] {
            assert_eq!(manifest.get(path), old.get(path));
        }
        assert_eq!(manifest.get("helm/app/templates/pdb.yaml"), None);
    }

    #[test]
    fn paths_in_the_way_fail_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        fs::create_dir_all(out.join("k8s/app.yaml")).unwrap();
        let before = snapshot(&out);
        let err = plan(&out, &sample(), &[]).unwrap_err();
        assert!(matches!(err, OutputError::InTheWay { .. }), "{err}");
        assert_eq!(snapshot(&out), before);

        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        fs::write(out.join("helm"), "a file\n").unwrap();
        assert!(matches!(
            plan(&out, &sample(), &[]),
            Err(OutputError::InTheWay { .. })
        ));
    }

    #[test]
    fn malformed_manifest_is_reported_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(MANIFEST_FILE), "# header\nbroken line\n").unwrap();
        let err = plan(tmp.path(), &sample(), &[]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(".berth-manifest:2:"), "{message}");
    }

    #[test]
    fn renderer_paths_must_stay_in_their_target_directory() {
        let tmp = tempfile::tempdir().unwrap();
        for (target, path) in [
            (Target::Helm, "k8s/x.yaml"),
            (Target::K8s, "k8s/../../etc/passwd"),
        ] {
            let set = files(&[(target, path, "x")]);
            assert!(
                matches!(plan(tmp.path(), &set, &[]), Err(OutputError::BadPath(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn diff_shows_created_updated_and_removed_files() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        generate(&out, &sample(), &[], false).unwrap();
        let next = files(&[
            (Target::Docker, "docker/Dockerfile", "FROM debian\n"),
            (Target::Docker, "docker/Dockerfile.dockerignore", "target\n"),
            (Target::Helm, "helm/app/Chart.yaml", "name: app\n"),
            (Target::K8s, "k8s/app.yaml", "kind: Deployment\n"),
            (Target::Systemd, "systemd/app.service", "[Service]\n"),
        ]);
        let p = plan(&out, &next, &[]).unwrap();
        assert!(!p.is_clean());
        let diff = p.diff("deploy");
        assert!(
            diff.contains("--- a/deploy/docker/Dockerfile\n+++ b/deploy/docker/Dockerfile\n"),
            "{diff}"
        );
        assert!(diff.contains("-FROM scratch\n+FROM debian\n"), "{diff}");
        assert!(
            diff.contains("--- /dev/null\n+++ b/deploy/docker/Dockerfile.dockerignore\n"),
            "{diff}"
        );
        assert!(
            diff.contains("--- a/deploy/helm/app/templates/pdb.yaml\n+++ /dev/null\n"),
            "{diff}"
        );
        assert!(diff.contains("-kind: PodDisruptionBudget\n"), "{diff}");
        assert!(
            !diff.contains(".berth-manifest"),
            "the manifest follows from the files:\n{diff}"
        );
        assert!(
            !diff.contains("a/deploy/k8s/app.yaml"),
            "unchanged files are not in the diff:\n{diff}"
        );
        assert_eq!(p.diff(".").lines().next(), Some("--- a/docker/Dockerfile"));
        // When only the manifest is out of date, the diff shows it.
        fs::write(out.join(MANIFEST_FILE), "# emptied by hand\n").unwrap();
        let p = plan(&out, &sample(), &[]).unwrap();
        let diff = p.diff(".");
        assert!(
            diff.starts_with("--- a/.berth-manifest\n+++ b/.berth-manifest\n"),
            "{diff}"
        );
    }

    /// Fails the `n`-th rename (0-based) or stage; every other call goes to the real file system.
    struct FailAt {
        renames: usize,
        stages: usize,
        fail_rename: Option<usize>,
        fail_stage: Option<usize>,
        fail_rollback: bool,
    }

    impl FailAt {
        fn rename(n: usize) -> Self {
            FailAt {
                renames: 0,
                stages: 0,
                fail_rename: Some(n),
                fail_stage: None,
                fail_rollback: false,
            }
        }
    }

    impl FsOps for FailAt {
        fn stage(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
            let n = self.stages;
            self.stages += 1;
            if Some(n) == self.fail_stage {
                return Err(io::Error::other("injected stage failure"));
            }
            RealFs.stage(path, contents)
        }

        fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
            let n = self.renames;
            self.renames += 1;
            if Some(n) == self.fail_rename
                || (self.fail_rollback && self.fail_rename.is_some_and(|f| n > f))
            {
                return Err(io::Error::other("injected rename failure"));
            }
            fs::rename(from, to)
        }
    }

    /// A second run that updates two files, creates one in a new directory, removes one and
    /// rewrites the manifest: six renames in all.
    fn second_generation() -> FileSet {
        files(&[
            (Target::Docker, "docker/Dockerfile", "FROM debian\n"),
            (
                Target::Helm,
                "helm/app/Chart.yaml",
                "name: app\nversion: 2\n",
            ),
            (
                Target::Helm,
                "helm/app/templates/tests/test-health.yaml",
                "kind: Pod\n",
            ),
            (Target::K8s, "k8s/app.yaml", "kind: Deployment\n"),
            (Target::Systemd, "systemd/app.service", "[Service]\n"),
        ])
    }

    #[test]
    fn a_failure_at_any_step_rolls_everything_back() {
        let renames = 5; // Dockerfile, Chart.yaml, test-health.yaml, manifest, remove pdb.yaml
        for n in 0..renames {
            let tmp = tempfile::tempdir().unwrap();
            let out = tmp.path().join("deploy");
            generate(&out, &sample(), &[], false).unwrap();
            let before = snapshot(&out);
            let p = plan(&out, &second_generation(), &[]).unwrap();
            let err = p.apply_with(false, &mut FailAt::rename(n)).unwrap_err();
            assert!(matches!(err, OutputError::Io { .. }), "rename {n}: {err}");
            assert!(
                std::error::Error::source(&err)
                    .unwrap()
                    .to_string()
                    .contains("injected")
            );
            assert_eq!(
                snapshot(&out),
                before,
                "rename {n} failed: the directory must be as before"
            );
        }
        // The step after the last one does not exist: the injected failure never happens.
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("deploy");
        generate(&out, &sample(), &[], false).unwrap();
        let p = plan(&out, &second_generation(), &[]).unwrap();
        p.apply_with(false, &mut FailAt::rename(renames)).unwrap();
        assert!(plan(&out, &second_generation(), &[]).unwrap().is_clean());
    }

    #[test]
    fn a_failed_first_run_leaves_no_directory_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/deploy");
        let p = plan(&out, &sample(), &[]).unwrap();
        let mut ops = FailAt::rename(3);
        assert!(p.apply_with(false, &mut ops).is_err());
        assert!(!tmp.path().join("a").exists());
        let mut ops = FailAt {
            fail_stage: Some(2),
            ..FailAt::rename(usize::MAX)
        };
        assert!(p.apply_with(false, &mut ops).is_err());
        assert!(snapshot(tmp.path()).is_empty());
    }

    #[test]
    fn a_failed_rollback_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        generate(&out, &sample(), &[], false).unwrap();
        let p = plan(&out, &second_generation(), &[]).unwrap();
        let mut ops = FailAt {
            fail_rollback: true,
            ..FailAt::rename(2)
        };
        let err = p.apply_with(false, &mut ops).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, OutputError::RollbackFailed { .. }),
            "{message}"
        );
        assert!(message.contains("restore"), "{message}");
    }
}
