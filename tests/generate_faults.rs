//! Generator faults through the real binary: `kill -9` of `berth generate` at every step of a
//! run (hundreds of trials, fixed seed) and concurrent runs on one output directory.
//!
//! The kill points are reproducible: the hidden test hook `BERTH_TEST_FAULT_PAUSE=N` makes
//! the run stop for good at its N-th fault point (after each journal write, staged file,
//! backup, rename, removal and clean-up step) and say so on stderr; the test then sends a
//! real SIGKILL. Read-only and full file systems are tested by
//! `tests/e2e/generator-faults.sh` (it mounts a small tmpfs).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth::output::{JOURNAL_FILE, MANIFEST_FILE, Manifest, Recovery};

use crate::support::Rng;

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// path → contents (`None` for a directory).
type Tree = BTreeMap<String, Option<Vec<u8>>>;

fn tree(dir: &Path) -> Tree {
    let mut map = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
                map.insert(rel, None);
            } else {
                map.insert(rel, Some(fs::read(&path).unwrap()));
            }
        }
    }
    map
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for (rel, contents) in tree(from) {
        match contents {
            None => fs::create_dir_all(to.join(&rel)).unwrap(),
            Some(bytes) => {
                let dest = to.join(&rel);
                fs::create_dir_all(dest.parent().unwrap()).unwrap();
                fs::write(dest, bytes).unwrap();
            }
        }
    }
}

/// Two descriptions of one daemon that differ enough for a run between them to create,
/// update and remove files (and directories): the `deployment-full` fixture, and a copy with
/// another name (another chart directory and manifest), image and replica count, and no
/// configuration file.
struct Pair {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
}

fn pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deployment-full");
    let a = dir.path().join("a");
    copy_tree(&fixture, &a);
    let b = dir.path().join("b");
    copy_tree(&fixture, &b);
    let text = fs::read_to_string(b.join("berth.yaml")).unwrap();
    let start = text.find("config:\n  file:").expect("config block");
    let end = start + text[start..].find("reload: false\n").unwrap() + "reload: false\n".len();
    let text = format!("{}{}", &text[..start], &text[end..])
        .replace("replicas: 3", "replicas: 1")
        .replace("name: api-gateway\n", "name: api-edge\n")
        .replace("api-gateway:3.1.4", "api-gateway:3.2.0");
    fs::write(b.join("berth.yaml"), text).unwrap();
    Pair {
        a: a.join("berth.yaml"),
        b: b.join("berth.yaml"),
        _dir: dir,
    }
}

/// A scratch directory, on tmpfs when there is one: the trials fsync a lot, and what is
/// tested is the order of renames, not the disk.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("berth-faults-")
            .tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

fn generate(desc: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(BERTH);
    cmd.args(["generate", "-f"])
        .arg(desc)
        .arg("-o")
        .arg(out)
        .env_remove("BERTH_TEST_FAULT_PAUSE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn generate_ok(desc: &Path, out: &Path) {
    let output = generate(desc, out).output().unwrap();
    assert!(
        output.status.success(),
        "berth generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Spawns a run that stops at fault point `n`; returns the child once it stopped there, or
/// `Err(exit code)` when the run finished before reaching it.
fn run_until(desc: &Path, out: &Path, n: u64) -> Result<(Child, mpsc::Receiver<String>), i32> {
    let mut child = generate(desc, out)
        .env("BERTH_TEST_FAULT_PAUSE", n.to_string())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) if line.starts_with("berth-test-fault: paused") => return Ok((child, rx)),
            Ok(_) => {}
            Err(_) => {
                if let Some(status) = child.try_wait().unwrap() {
                    return Err(status.code().unwrap_or(-1));
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no pause and no exit within 20 s"
        );
    }
}

fn is_berth_scratch(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with(".berth-new-")
        || name.starts_with(".berth-old-")
        || name.starts_with(JOURNAL_FILE)
}

/// Right after the kill, before any recovery: every file either run writes holds its old or
/// its new content (never a torn one), and the manifest parses and is the old or the new one.
fn assert_no_torn_file(at: &Tree, old: &Tree, new: &Tree, what: &str) {
    for (rel, contents) in at {
        if is_berth_scratch(rel) || contents.is_none() {
            continue;
        }
        let o = old.get(rel).cloned().flatten();
        let n = new.get(rel).cloned().flatten();
        assert!(
            contents == &o || contents == &n,
            "{what}: {rel} is neither the old nor the new file"
        );
    }
    let manifest = at
        .get(MANIFEST_FILE)
        .cloned()
        .flatten()
        .unwrap_or_else(|| panic!("{what}: no manifest"));
    Manifest::parse(&String::from_utf8_lossy(&manifest))
        .unwrap_or_else(|e| panic!("{what}: invalid manifest: {e:?}"));
}

#[test]
fn kill_9_at_every_step_leaves_old_or_new() {
    let p = pair();
    let scratch = scratch_dir();
    let state = |desc: &Path, name: &str| -> Tree {
        let out = scratch.path().join(name);
        generate_ok(desc, &out);
        tree(&out)
    };
    let tree_a = state(&p.a, "only-a");
    let tree_b = state(&p.b, "only-b");
    // From each state to the other (a → b removes and updates files, b → a creates them).
    let start_a = scratch.path().join("start-a");
    generate_ok(&p.a, &start_a);
    let start_b = scratch.path().join("start-b");
    generate_ok(&p.b, &start_b);
    assert!(
        tree_a.keys().any(|k| !tree_b.contains_key(k)),
        "a run removes files"
    );
    assert!(
        tree_a
            .iter()
            .any(|(k, v)| v.is_some() && tree_b.get(k).is_some_and(|w| w != v)),
        "a run updates files"
    );

    // How many fault points a run has (the hook lists them with 0).
    let steps = |start: &Path, desc: &Path| -> u64 {
        let out = scratch.path().join("count");
        let _ = fs::remove_dir_all(&out);
        copy_tree(start, &out);
        let output = generate(desc, &out)
            .env("BERTH_TEST_FAULT_PAUSE", "0")
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| l.starts_with("berth-test-fault: point "))
            .count() as u64
    };
    let steps_ab = steps(&start_a, &p.b);
    let steps_ba = steps(&start_b, &p.a);
    assert!(steps_ab > 10 && steps_ba > 10, "{steps_ab} {steps_ba}");

    let mut rng = Rng(0x5eed_2026_0014);
    const TRIALS: usize = 200;
    let (mut forward, mut back, mut finished) = (0, 0, 0);
    let started = Instant::now();
    for trial in 0..TRIALS {
        let a_to_b = rng.below(2) == 0;
        let (start, desc, old, new, steps) = if a_to_b {
            (&start_a, &p.b, &tree_a, &tree_b, steps_ab)
        } else {
            (&start_b, &p.a, &tree_b, &tree_a, steps_ba)
        };
        // Every point, then seeded random ones; one past the last: the run completes.
        let n = if trial <= steps as usize {
            trial as u64 + 1
        } else {
            rng.below(steps as usize + 1) as u64 + 1
        };
        let what = format!(
            "trial {trial} ({}, killed at point {n} of {steps})",
            if a_to_b { "a->b" } else { "b->a" }
        );
        let out = scratch.path().join("trial");
        let _ = fs::remove_dir_all(&out);
        copy_tree(start, &out);
        match run_until(desc, &out, n) {
            Ok((mut child, _lines)) => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
            }
            Err(0) => {
                assert!(n > steps, "{what}: finished without stopping");
                finished += 1;
            }
            Err(code) => panic!("{what}: exited {code}"),
        }
        let raw = tree(&out);
        assert_no_torn_file(&raw, old, new, &what);
        // `berth diff` (read-only) does not guess: it names the interrupted run.
        if raw.contains_key(JOURNAL_FILE) && trial % 10 == 0 {
            let output = Command::new(BERTH)
                .args(["diff", "-f"])
                .arg(desc)
                .arg("-o")
                .arg(&out)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
            assert!(
                stderr.contains("an interrupted berth generate left")
                    && stderr.contains("run berth generate to finish or undo it"),
                "{what}: {stderr}"
            );
            assert_eq!(tree(&out), raw, "{what}: berth diff changed the directory");
        }
        match berth::output::recover(&out).unwrap_or_else(|e| panic!("{what}: recovery: {e}")) {
            Recovery::RolledForward => forward += 1,
            Recovery::RolledBack => back += 1,
            Recovery::Nothing => {}
        }
        let after = tree(&out);
        assert!(
            &after == old || &after == new,
            "{what}: after recovery the directory is neither entirely old nor entirely new:\n{:?}",
            after
                .keys()
                .filter(|k| old.get(*k) != after.get(*k) && new.get(*k) != after.get(*k))
                .collect::<Vec<_>>()
        );
        // The next run completes normally (and recovers by itself).
        if trial % 25 == 0 {
            let _ = fs::remove_dir_all(&out);
            copy_tree(start, &out);
            if let Ok((mut child, _)) = run_until(desc, &out, n) {
                child.kill().unwrap();
                child.wait().unwrap();
            }
            generate_ok(desc, &out);
            assert_eq!(&tree(&out), new, "{what}: the next run did not complete");
        }
    }
    println!(
        "PASS generate kill -9: {TRIALS} trials (a->b {steps_ab} fault points, b->a {steps_ba}), {back} rolled back, {forward} rolled forward, {finished} finished; every file old or new before recovery, the whole tree old or new after; {} ms",
        started.elapsed().as_millis()
    );
}

#[test]
fn concurrent_runs_are_serialised_by_the_lock() {
    let p = pair();
    let scratch = scratch_dir();
    let out = scratch.path().join("deploy");
    generate_ok(&p.a, &out);
    let tree_a = tree(&out);
    let only_b = scratch.path().join("only-b");
    generate_ok(&p.b, &only_b);
    let tree_b = tree(&only_b);

    // A run stopped in the middle holds the lock: a second run waits, says so, and takes over
    // when the first dies — finishing or undoing its leftovers first.
    let (mut first, _lines) = run_until(&p.b, &out, 12).expect("the first run stops");
    let mut second = generate(&p.a, &out).spawn().unwrap();
    let stderr = second.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let waiting = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the second run says it waits");
    assert!(
        waiting.starts_with("waiting for another berth run"),
        "{waiting}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second run did not wait"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let status = second.wait().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(status.success(), "second run: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("interrupted berth run")),
        "the second run reports the recovery: {rest:?}"
    );
    assert_eq!(tree(&out), tree_a);

    // Races: both start at once, 10 times; the result is always one whole tree.
    let started = Instant::now();
    let (mut a_last, mut b_last) = (0, 0);
    for _ in 0..10 {
        let mut ca = generate(&p.a, &out).spawn().unwrap();
        let mut cb = generate(&p.b, &out).spawn().unwrap();
        assert!(ca.wait().unwrap().success());
        assert!(cb.wait().unwrap().success());
        let t = tree(&out);
        if t == tree_a {
            a_last += 1;
        } else if t == tree_b {
            b_last += 1;
        } else {
            panic!("two concurrent runs left a mixed tree");
        }
    }
    println!(
        "PASS generate concurrent runs: the second run waits on the lock and recovers after a kill -9 of the first; 10 races -> whole trees ({a_last} a, {b_last} b) in {} ms",
        started.elapsed().as_millis()
    );
}
