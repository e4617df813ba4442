//! `berth init`: writes a commented berth.yaml that validates, never overwrites.

use std::path::Path;
use std::process::Command;

fn berth(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_writes_a_valid_description() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = berth(dir.path(), &["init", "--name", "echo-daemon"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("wrote ./berth.yaml\n"), "{stdout}");
    let text = std::fs::read_to_string(dir.path().join("berth.yaml")).unwrap();
    assert!(text.starts_with(
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/berth-rs/berth/main/docs/berth.schema.json\n"
    ));
    assert!(text.contains("image: ghcr.io/example/echo-daemon:0.1.0"));
    let (code, stdout, stderr) = berth(dir.path(), &["validate"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(0), "berth.yaml: ok\n", "")
    );
    let spec = berth::spec::load(&dir.path().join("berth.yaml"))
        .unwrap()
        .spec;
    assert_eq!(spec.workload, berth::spec::WorkloadKind::Deployment);
    assert_eq!(spec.replicas, 2);
}

#[test]
fn init_daemonset_into_a_new_directory_with_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = berth(
        dir.path(),
        &[
            "init",
            "agents/node",
            "--name",
            "node-agent",
            "--workload",
            "daemonset",
            "--image",
            "localhost:5000/node-agent:1.2.3",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let loaded = berth::spec::load(&dir.path().join("agents/node/berth.yaml"))
        .unwrap_or_else(|d| panic!("{d}"));
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.spec.workload, berth::spec::WorkloadKind::DaemonSet);
    assert_eq!(
        loaded.spec.image.to_string(),
        "localhost:5000/node-agent:1.2.3"
    );
    assert_eq!(loaded.spec.name, "node-agent");
}

#[test]
fn init_accepts_every_valid_name() {
    for name in ["a", "9lives", "x-1", &"n".repeat(53)] {
        let dir = tempfile::tempdir().unwrap();
        let (code, _, stderr) = berth(dir.path(), &["init", "--name", name]);
        assert_eq!(code, Some(0), "{name}: {stderr}");
        berth::spec::load(&dir.path().join("berth.yaml")).unwrap_or_else(|d| panic!("{name}: {d}"));
    }
}

#[test]
fn init_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("berth.yaml"), "mine\n").unwrap();
    let (code, stdout, stderr) = berth(dir.path(), &["init", "--name", "echo"]);
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("already exists; berth init does not overwrite it"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("berth.yaml")).unwrap(),
        "mine\n"
    );
}

#[test]
fn init_rejects_bad_name_and_image_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = berth(dir.path(), &["init", "--name", "Echo_Daemon"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: --name \"Echo_Daemon\" is not a valid name"),
        "{stderr}"
    );
    let (code, _, stderr) = berth(
        dir.path(),
        &[
            "init",
            "--name",
            "echo",
            "--image",
            "ghcr.io/acme/echo:latest",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(
            "error: --image: image \"ghcr.io/acme/echo:latest\" uses the tag 'latest'"
        ),
        "{stderr}"
    );
    let (code, _, _) = berth(dir.path(), &["init", "--name", "echo", "--workload", "job"]);
    assert_eq!(code, Some(2));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
