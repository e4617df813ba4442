//! `berth apply` / `berth status` without a cluster: kubeconfig and context resolution errors,
//! an unreachable API server, and argument errors, each with its exit code. The commands
//! against a real API server are proven by `tests/e2e/k8s.sh`.

use std::path::Path;
use std::process::Command;

fn berth(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const DESCRIPTION: &str = "tests/fixtures/minimal-deployment/berth.yaml";

fn description() -> String {
    format!("{}/{DESCRIPTION}", env!("CARGO_MANIFEST_DIR"))
}

/// A kubeconfig whose only context points at a loopback port nothing listens on.
fn kubeconfig(dir: &Path) -> String {
    let path = dir.join("kubeconfig.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\n\
         clusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:9\", insecure-skip-tls-verify: true}\n\
         users:\n- name: u\n  user: {token: abc}\n\
         contexts:\n- name: here\n  context: {cluster: c, user: u, namespace: ns1}\n\
         current-context: here\n",
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn unreachable_api_server_is_exit_1_with_the_server_named() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path());
    let file = description();
    for args in [
        vec!["apply", "-f", &file],
        vec!["apply", "-f", &file, "--dry-run", "--create-namespace"],
        vec!["status", "-f", &file],
        vec!["status", "-f", &file, "--wait", "--timeout", "2s"],
    ] {
        let (code, stdout, stderr) = berth(dir.path(), &[("KUBECONFIG", &kc)], &args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr.starts_with(
                "error: cannot reach the Kubernetes API server at https://127.0.0.1:9"
            ),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("Connection refused"), "{stderr}");
    }
}

#[test]
fn unknown_context_is_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path());
    let (code, _, stderr) = berth(
        dir.path(),
        &[("KUBECONFIG", &kc)],
        &["status", "-f", &description(), "--context", "elsewhere"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: no usable Kubernetes configuration (context elsewhere): "),
        "{stderr}"
    );
    assert!(stderr.contains("elsewhere"), "{stderr}");
}

#[test]
fn no_kubeconfig_at_all_is_exit_1_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = berth(dir.path(), &[], &["apply", "-f", &description()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: no usable Kubernetes configuration: "),
        "{stderr}"
    );
    assert!(stderr.contains(".kube/config"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn invalid_input_is_exit_2_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path());
    let env = [("KUBECONFIG", kc.as_str())];
    let (code, _, stderr) = berth(dir.path(), &env, &["apply", "-f", "missing.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no such file"), "{stderr}");

    std::fs::write(dir.path().join("bad.yaml"), "name: Not_A_Name\n").unwrap();
    let (code, _, stderr) = berth(dir.path(), &env, &["status", "-f", "bad.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("cannot reach"), "{stderr}");

    let (code, _, stderr) = berth(
        dir.path(),
        &env,
        &[
            "status",
            "-f",
            &description(),
            "--wait",
            "--timeout",
            "soon",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("invalid duration \"soon\""), "{stderr}");
}
