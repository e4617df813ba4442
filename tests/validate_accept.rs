//! `berth validate` accepts the minimal four-field description, every fixture under
//! `tests/fixtures/*/berth.yaml` and every example under `examples/*/berth.yaml`.

use std::path::{Path, PathBuf};
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

fn descriptions(dir: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| Path::new(dir).join(e.file_name()).join("berth.yaml"))
                .filter(|p| root.join(p).is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn minimal_four_field_description() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berth.yaml"),
        "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\n",
    )
    .unwrap();
    let (code, stdout, stderr) = berth(dir.path(), &["validate"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(0), "berth.yaml: ok\n", RESOURCES_NOTE)
    );
}

/// What `berth validate` says when `resources` is omitted (a note, not a warning).
const RESOURCES_NOTE: &str = "berth.yaml:1:1: note: resources omitted: using berth's starting values, requests {cpu: 50m, memory: 64Mi} and limits {cpu: 500m, memory: 128Mi}\n  \
     hint: measure the daemon and set resources to its needs; `resources: {}` sets none\n";

#[test]
fn explicit_empty_resources_warn_about_best_effort() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berth.yaml"),
        "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\nresources: {}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = berth(dir.path(), &["validate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "berth.yaml: ok (1 warning)\n");
    assert!(
        stderr.starts_with("berth.yaml:5:12: warning: resources sets no requests and no limits: the pods get the BestEffort QoS class"),
        "{stderr}"
    );
}

#[test]
fn warnings_do_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.yaml"),
        "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\n\
         volumes: [{name: logs, hostPath: /var/log, mountPath: /logs}]\nsecurity: {capabilities: [SYS_ADMIN]}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = berth(dir.path(), &["validate", "-f", "d.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "d.yaml: ok (2 warnings)\n");
    assert_eq!(
        stderr,
        "d.yaml:1:1: note: resources omitted: using berth's starting values, requests {cpu: 50m, memory: 64Mi} and limits {cpu: 500m, memory: 128Mi}\n  \
         hint: measure the daemon and set resources to its needs; `resources: {}` sets none\n\
         d.yaml:5:34: warning: volumes[0].hostPath on a Deployment: each pod sees whatever its node has at /var/log\n  \
         hint: hostPath suits node agents (workload: DaemonSet); a Deployment usually wants emptyDir or a Secret/ConfigMap\n\
         d.yaml:6:27: warning: security.capabilities[0]: SYS_ADMIN is a privileged capability; it gives the daemon power over the node\n  \
         hint: keep it only if the daemon cannot work without it\n"
    );
}

#[test]
fn every_fixture_and_example_is_accepted() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = descriptions("tests/fixtures");
    files.extend(descriptions("examples"));
    let mut failures = Vec::new();
    for file in &files {
        let f = file.to_str().unwrap();
        let (code, stdout, stderr) = berth(&root, &["validate", "-f", f]);
        if code != Some(0) || !stdout.starts_with(&format!("{f}: ok")) {
            failures.push(format!("{f}: exit {code:?}\n{stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_file_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = berth(dir.path(), &["validate"]);
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("berth.yaml: error: no such file\n"),
        "{stderr}"
    );
}

#[test]
fn a_directory_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let (code, _, stderr) = berth(dir.path(), &["validate", "-f", "sub"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("sub:1:1: error: is a directory"),
        "{stderr}"
    );
}

#[test]
fn the_reference_example_is_valid() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/berth-yaml.md")).unwrap();
    let start = doc.find("## Full example").unwrap();
    let block = &doc[start..];
    let yaml_start = block.find("```yaml\n").unwrap() + "```yaml\n".len();
    let yaml = &block[yaml_start..yaml_start + block[yaml_start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/echo.toml"), "greeting = \"hi\"\n").unwrap();
    std::fs::write(dir.path().join("berth.yaml"), yaml).unwrap();
    let (code, stdout, stderr) = berth(dir.path(), &["validate"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(0), "berth.yaml: ok\n", "")
    );
}
