//! `berth generate` and `berth diff` through the real binary, in temporary directories.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn berth(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(cwd);
    cmd
}

/// Every file and directory under `dir`: path → (contents, `None` for a directory; mode).
type Snapshot = BTreeMap<String, (Option<Vec<u8>>, u32)>;

fn snapshot(dir: &Path) -> Snapshot {
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

fn files_of(snap: &Snapshot) -> Vec<&str> {
    snap.iter()
        .filter(|(_, (c, _))| c.is_some())
        .map(|(p, _)| p.as_str())
        .collect()
}

const DESCRIPTION: &str = "\
apiVersion: berth/v1
name: echo-daemon
description: Echo server
workload: Deployment
replicas: 2
image: ghcr.io/acme/echo-daemon:0.1.0
ports:
  - name: http
    port: 8080
config:
  file: echo.toml
  mountPath: /etc/echo-daemon/echo.toml
  reload: false
";

/// A project directory with a berth.yaml (and its config file).
fn project(description: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("berth.yaml"), description).unwrap();
    fs::write(dir.path().join("echo.toml"), "greeting = \"hello\"\n").unwrap();
    dir
}

fn generate_ok(cwd: &Path, args: &[&str]) -> String {
    let out = berth(cwd)
        .arg("generate")
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn generate_writes_every_target_and_a_second_run_changes_nothing() {
    let dir = project(DESCRIPTION);
    let stdout = generate_ok(dir.path(), &[]);
    let deploy = dir.path().join("deploy");
    let first = snapshot(&deploy);
    let files = files_of(&first);
    for expected in [
        ".berth-manifest",
        "docker/Dockerfile",
        "docker/Dockerfile.dockerignore",
        "helm/echo-daemon/Chart.yaml",
        "helm/echo-daemon/values.yaml",
        "helm/echo-daemon/templates/workload.yaml",
        "k8s/echo-daemon.yaml",
        "systemd/echo-daemon.service",
        "systemd/echo-daemon.env",
    ] {
        assert!(
            files.contains(&expected),
            "{expected} missing from {files:?}"
        );
    }
    for (path, (contents, mode)) in &first {
        match contents {
            Some(bytes) => {
                assert_eq!(*mode, 0o644, "{path}");
                assert!(bytes.ends_with(b"\n"), "{path} does not end with a newline");
            }
            None => assert_eq!(*mode, 0o755, "{path}"),
        }
    }
    assert!(
        stdout.starts_with("Generated echo-daemon (Deployment) from berth.yaml into deploy/\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  docker    2 files: 2 created\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("helm install echo-daemon deploy/helm/echo-daemon\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kubectl apply -f deploy/k8s/echo-daemon.yaml\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("docker build -f deploy/docker/Dockerfile"),
        "{stdout}"
    );
    assert!(
        stdout.contains("systemctl enable --now echo-daemon"),
        "{stdout}"
    );

    let again = generate_ok(dir.path(), &[]);
    assert_eq!(
        snapshot(&deploy),
        first,
        "a second run must not change a byte"
    );
    assert!(again.contains("unchanged"), "{again}");
    for word in ["created", "updated", "removed"] {
        assert!(!again.contains(word), "{word} in {again}");
    }

    // The same description elsewhere gives byte-identical files, and so does the summary.
    let other = project(DESCRIPTION);
    assert_eq!(generate_ok(other.path(), &[]), stdout);
    assert_eq!(snapshot(&other.path().join("deploy")), first);
}

#[test]
fn out_and_file_flags_and_paths_relative_to_the_current_directory() {
    let dir = project(DESCRIPTION);
    let stdout = berth(dir.path().parent().unwrap())
        .args(["generate", "-f"])
        .arg(dir.path().join("berth.yaml"))
        .arg("-o")
        .arg(dir.path().join("out"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8(stdout).unwrap();
    let name = dir.path().file_name().unwrap().to_str().unwrap();
    assert!(
        stdout.contains(&format!("kubectl apply -f {name}/out/k8s/echo-daemon.yaml")),
        "{stdout}"
    );
    assert!(dir.path().join("out/k8s/echo-daemon.yaml").is_file());
    assert!(!dir.path().join("deploy").exists());
}

#[test]
fn a_hand_edited_file_is_refused_until_force() {
    let dir = project(DESCRIPTION);
    generate_ok(dir.path(), &[]);
    let deploy = dir.path().join("deploy");
    let values = deploy.join("helm/echo-daemon/values.yaml");
    let mut edited = fs::read_to_string(&values).unwrap();
    edited.push_str("# tuned by hand\n");
    fs::write(&values, &edited).unwrap();
    // Change the description too, so other files would change as well.
    fs::write(
        dir.path().join("berth.yaml"),
        DESCRIPTION.replace("replicas: 2", "replicas: 3"),
    )
    .unwrap();
    let before = snapshot(&deploy);

    berth(dir.path())
        .arg("generate")
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("helm/echo-daemon/values.yaml (edited since berth wrote it)")
                .and(predicate::str::contains("--force")),
        );
    assert_eq!(
        snapshot(&deploy),
        before,
        "a refused run must not change anything"
    );

    let stdout = generate_ok(dir.path(), &["--force"]);
    assert!(
        stdout.contains("updated   deploy/helm/echo-daemon/values.yaml"),
        "{stdout}"
    );
    assert!(
        !fs::read_to_string(&values)
            .unwrap()
            .contains("tuned by hand")
    );
    berth(dir.path()).arg("diff").assert().code(0).stdout("");
}

#[test]
fn files_berth_did_not_write_are_not_overwritten() {
    let dir = project(DESCRIPTION);
    let deploy = dir.path().join("deploy");
    fs::create_dir_all(deploy.join("docker")).unwrap();
    fs::write(deploy.join("docker/Dockerfile"), "FROM alpine\n").unwrap();
    let before = snapshot(&deploy);
    berth(dir.path())
        .arg("generate")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "docker/Dockerfile (not written by berth)",
        ));
    assert_eq!(snapshot(&deploy), before);
}

#[test]
fn a_path_in_the_way_fails_the_run_and_leaves_out_as_it_was() {
    let dir = project(DESCRIPTION);
    generate_ok(dir.path(), &[]);
    let deploy = dir.path().join("deploy");
    fs::write(
        dir.path().join("berth.yaml"),
        DESCRIPTION.replace("0.1.0", "0.2.0"),
    )
    .unwrap();
    // A directory where the systemd environment file goes: the last target, so the run
    // fails only after planning every other file.
    let env = deploy.join("systemd/echo-daemon.env");
    fs::remove_file(&env).unwrap();
    fs::create_dir(&env).unwrap();
    let before = snapshot(&deploy);
    berth(dir.path())
        .arg("generate")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("echo-daemon.env' is in the way"));
    assert_eq!(snapshot(&deploy), before);
}

/// Clears the immutable attribute even when an assertion fails.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Option<Self> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_rename_failing_mid_run_is_rolled_back() {
    let dir = project(DESCRIPTION);
    generate_ok(dir.path(), &[]);
    let deploy = dir.path().join("deploy");
    // A new image tag changes files in docker/, helm/ and k8s/ ...
    fs::write(
        dir.path().join("berth.yaml"),
        DESCRIPTION.replace("0.1.0", "0.2.0"),
    )
    .unwrap();
    let before = snapshot(&deploy);
    // ... and k8s/echo-daemon.yaml cannot be replaced, even by root: the files before it
    // (docker/, helm/) are renamed into place first, then the run fails and must undo them.
    let Some(guard) = Immutable::set(&deploy.join("k8s/echo-daemon.yaml")) else {
        assert!(
            std::env::var_os("BERTH_REQUIRE_TOOLS").is_none(),
            "chattr +i is not supported here"
        );
        eprintln!("skipped: chattr +i is not supported on this file system");
        return;
    };
    berth(dir.path()).arg("generate").assert().code(1).stderr(
        predicate::str::contains("could not replace")
            .and(predicate::str::contains("k8s/echo-daemon.yaml")),
    );
    drop(guard);
    assert_eq!(
        snapshot(&deploy),
        before,
        "the failed run must leave deploy/ exactly as it was"
    );
    // With the obstacle gone the same run succeeds.
    let stdout = generate_ok(dir.path(), &[]);
    assert!(
        stdout.contains("updated   deploy/k8s/echo-daemon.yaml"),
        "{stdout}"
    );
}

#[test]
fn only_limits_writes_and_removals_to_the_chosen_targets() {
    let dir = project(DESCRIPTION);
    let stdout = generate_ok(dir.path(), &["--only", "helm"]);
    let deploy = dir.path().join("deploy");
    let snap = snapshot(&deploy);
    for path in files_of(&snap) {
        assert!(
            path == ".berth-manifest" || path.starts_with("helm/"),
            "{path} written by --only helm"
        );
    }
    assert!(stdout.contains("helm install"), "{stdout}");
    assert!(
        !stdout.contains("kubectl") && !stdout.contains("docker build"),
        "{stdout}"
    );
    let manifest = fs::read_to_string(deploy.join(".berth-manifest")).unwrap();
    assert!(
        manifest
            .lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.contains("  helm/")),
        "{manifest}"
    );

    // Everything, then a rename of the daemon with --only k8s: only the k8s file moves.
    generate_ok(dir.path(), &[]);
    fs::write(
        dir.path().join("berth.yaml"),
        DESCRIPTION.replace("name: echo-daemon", "name: echo-two"),
    )
    .unwrap();
    let stdout = generate_ok(dir.path(), &["--only", "k8s"]);
    assert!(
        stdout.contains("removed   deploy/k8s/echo-daemon.yaml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("created   deploy/k8s/echo-two.yaml"),
        "{stdout}"
    );
    assert!(deploy.join("helm/echo-daemon/Chart.yaml").is_file());
    assert!(deploy.join("systemd/echo-daemon.service").is_file());
    assert!(!deploy.join("helm/echo-two").exists());

    // A full run then removes the old chart, unit and so on, and their empty directories.
    let stdout = generate_ok(dir.path(), &[]);
    assert!(
        stdout.contains("removed   deploy/helm/echo-daemon/Chart.yaml"),
        "{stdout}"
    );
    assert!(!deploy.join("helm/echo-daemon").exists());
    assert!(!deploy.join("systemd/echo-daemon.service").exists());
    assert!(deploy.join("systemd/echo-two.service").is_file());
}

#[test]
fn diff_is_clean_after_generate_and_shows_a_unified_diff_after_a_change() {
    let dir = project(DESCRIPTION);
    // Nothing generated yet: every file would be created.
    berth(dir.path())
        .arg("diff")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "--- /dev/null\n+++ b/deploy/docker/Dockerfile\n",
        ));
    assert!(!dir.path().join("deploy").exists(), "diff must not write");

    generate_ok(dir.path(), &[]);
    berth(dir.path())
        .arg("diff")
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains("up to date"));

    fs::write(
        dir.path().join("berth.yaml"),
        DESCRIPTION.replace("replicas: 2", "replicas: 3"),
    )
    .unwrap();
    let deploy = dir.path().join("deploy");
    let before = snapshot(&deploy);
    let out = berth(dir.path())
        .arg("diff")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout
            .contains("--- a/deploy/k8s/echo-daemon.yaml\n+++ b/deploy/k8s/echo-daemon.yaml\n@@ "),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n-  replicas: 2\n+  replicas: 3\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Dockerfile") && !stdout.contains(".berth-manifest"),
        "unchanged files stay out of the diff:\n{stdout}"
    );
    assert!(stderr.contains("berth generate -f berth.yaml"), "{stderr}");
    assert!(
        !stderr.contains("replicas"),
        "the diff is not repeated on stderr: {stderr}"
    );
    assert_eq!(snapshot(&deploy), before, "diff must not write");

    // --only narrows the comparison: the Dockerfile does not depend on replicas.
    berth(dir.path())
        .args(["diff", "--only", "docker"])
        .assert()
        .code(0)
        .stdout("");
}

#[test]
fn warnings_go_to_stderr_and_do_not_stop_the_run() {
    let dir = project(&format!(
        "{DESCRIPTION}security:\n  capabilities: [SYS_ADMIN]\n"
    ));
    let out = berth(dir.path())
        .arg("generate")
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stderr.contains("berth.yaml:") && stderr.contains(": warning: "),
        "{stderr}"
    );
    assert!(stderr.contains("SYS_ADMIN"), "{stderr}");
    assert!(!stdout.contains("warning"), "{stdout}");
    assert!(dir.path().join("deploy/k8s/echo-daemon.yaml").is_file());
}

#[test]
fn an_unknown_target_is_a_usage_error() {
    let dir = project(DESCRIPTION);
    berth(dir.path())
        .args(["generate", "--only", "helm,podman"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown target 'podman'"));
    assert!(!dir.path().join("deploy").exists());
}

#[test]
fn an_invalid_description_exits_2_and_writes_nothing() {
    let dir = project(&DESCRIPTION.replace("workload: Deployment", "workload: Deploymnet"));
    berth(dir.path())
        .arg("generate")
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("berth.yaml:4:")
                .and(predicate::str::contains("nothing was written")),
        );
    assert!(!dir.path().join("deploy").exists());
    berth(dir.path()).arg("diff").assert().code(2).stdout("");

    let missing = tempfile::tempdir().unwrap();
    berth(missing.path())
        .arg("generate")
        .assert()
        .failure()
        .stdout("");
    assert!(snapshot(missing.path()).is_empty());
}
