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

/// A scratch Cargo workspace with one daemon member whose binary is not named like the package.
fn scratch_workspace(root: &Path) -> std::path::PathBuf {
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/my_daemon\", \"crates/shared\"]\nresolver = \"2\"\n\n[workspace.package]\nedition = \"2021\"\nrust-version = \"1.80\"\n",
    );
    write(
        "crates/my_daemon/Cargo.toml",
        "[package]\nname = \"my_daemon\"\nversion = \"0.3.0\"\nedition.workspace = true\nrust-version.workspace = true\n\n[[bin]]\nname = \"mydaemond\"\npath = \"src/main.rs\"\n\n[dependencies]\nshared = { path = \"../shared\" }\n",
    );
    write(
        "crates/my_daemon/src/main.rs",
        "fn main() {\n    println!(\"{}\", shared::greeting());\n}\n",
    );
    write(
        "crates/shared/Cargo.toml",
        "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        "crates/shared/src/lib.rs",
        "pub fn greeting() -> &'static str {\n    \"hello\"\n}\n",
    );
    root.join("crates/my_daemon")
}

/// `berth init` inside a workspace member, without --name: the package, its binary,
/// rust-version, edition and the workspace are detected, and the cargo command of the
/// generated Dockerfile builds the binary as it stands (run here, offline).
#[test]
fn init_in_a_cargo_workspace_member_detects_the_package_and_generate_builds() {
    let root = tempfile::tempdir().unwrap();
    let member = scratch_workspace(root.path());
    let (code, stdout, stderr) = berth(&member, &["init"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "detected Cargo package my_daemon (binary mydaemond, edition 2021, rust-version 1.80), a member of the workspace at ../.."
        ),
        "{stdout}"
    );
    let text = std::fs::read_to_string(member.join("berth.yaml")).unwrap();
    assert!(text.contains("\nname: my-daemon\n"), "{text}");
    assert!(
        text.contains("# Detected in Cargo.toml (cargo metadata)"),
        "{text}"
    );
    assert!(
        text.contains("my_daemon is a member of the Cargo workspace at ../..:"),
        "{text}"
    );
    let spec = berth::spec::load(&member.join("berth.yaml"))
        .unwrap_or_else(|d| panic!("{d}\n{text}"))
        .spec;
    assert_eq!(spec.build.package, "my_daemon");
    assert_eq!(spec.build.bin, "mydaemond");
    // rust-version 1.80 and edition 2021 are older than berth's default builder.
    assert_eq!(spec.build.rust_version, berth::spec::DEFAULT_RUST_VERSION);

    let (code, stdout, stderr) = berth(&member, &["validate"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(0), "berth.yaml: ok\n", "")
    );
    let (code, stdout, stderr) = berth(&member, &["generate"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // The build context berth prints is the workspace root.
    let context = root.path().canonicalize().unwrap();
    assert!(
        stdout.contains(&format!(
            "-t ghcr.io/example/my-daemon:0.1.0 {}\n",
            context.display()
        )) || stdout.contains("-t ghcr.io/example/my-daemon:0.1.0 ../..\n"),
        "{stdout}"
    );
    let dockerfile = std::fs::read_to_string(member.join("deploy/docker/Dockerfile")).unwrap();
    let line = dockerfile
        .lines()
        .find(|l| l.contains("cargo build --release --locked"))
        .unwrap_or_else(|| panic!("no cargo build in\n{dockerfile}"));
    let args: Vec<&str> = line
        .split("cargo build ")
        .nth(1)
        .unwrap()
        .trim_end_matches('\\')
        .split_whitespace()
        .collect();
    assert_eq!(
        args,
        [
            "--release",
            "--locked",
            "--target",
            "\"$target\"",
            "-p",
            "my_daemon",
            "--bin",
            "mydaemond"
        ]
    );
    assert!(dockerfile.contains("\"target/$target/release/mydaemond\" /out/mydaemond"));

    // The Dockerfile's command, in the build context (the workspace root), as the builder runs it.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = root.path().join("target");
    let status = Command::new(&cargo)
        .args(["generate-lockfile", "--offline"])
        .current_dir(root.path())
        .status()
        .unwrap();
    assert!(status.success());
    // The builder's target triple: here, the host's.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc).arg("-vV").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned();
    let args: Vec<&str> = args
        .iter()
        .map(|a| {
            if *a == "\"$target\"" {
                host.as_str()
            } else {
                a
            }
        })
        .collect();
    let out = Command::new(&cargo)
        .arg("build")
        .args(&args)
        .arg("--offline")
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(root.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(target.join(&host).join("release/mydaemond"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello\n");
}

/// From the workspace root (a virtual manifest), the only member with a binary is taken; a
/// package-less directory still needs --name.
#[test]
fn init_at_a_virtual_workspace_root_and_outside_cargo() {
    let root = tempfile::tempdir().unwrap();
    scratch_workspace(root.path());
    let (code, stdout, stderr) = berth(root.path(), &["init", "deploy"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let spec = berth::spec::load(&root.path().join("deploy/berth.yaml"))
        .unwrap()
        .spec;
    assert_eq!(
        (
            spec.name.as_str(),
            spec.build.package.as_str(),
            spec.build.bin.as_str()
        ),
        ("my-daemon", "my_daemon", "mydaemond")
    );
    let plain = tempfile::tempdir().unwrap();
    let (code, _, stderr) = berth(plain.path(), &["init"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: --name is required here: no Cargo package to take it from"),
        "{stderr}"
    );
}
