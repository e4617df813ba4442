//! The plain manifests under the tools their users run: `kubernetes-validate --strict` for
//! Kubernetes 1.29 to 1.33 and kube-score (both installed by `.ci/install-deps.sh`, required in
//! CI), and checkov when it is installed (optional: `pip install checkov`, 30 s and many
//! dependencies, so CI does not install it).
//!
//! Every description is checked: the built-in cases (both kinds, every optional field set and
//! unset), `tests/fixtures/*` and `examples/*`. A missing tool skips a test with a printed
//! message, unless `BERTH_REQUIRE_TOOLS=1`.
//!
//! Linter findings are either fixed or carry a documented exemption annotation; the only ones
//! left visible on purpose are choices of the description itself: unset cpu/memory requests or
//! limits, a Deployment with a single replica, a UID below 10000 or root, a writable root file
//! system, `SYS_ADMIN`.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth::render::k8s;
use berth::spec::{Spec, WorkloadKind};

const KUBERNETES_VERSIONS: [&str; 5] = ["1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0"];

/// One rendered description.
struct Case {
    name: String,
    spec: Spec,
    path: PathBuf,
    documents: usize,
}

/// A temporary directory whose path has no hidden component (checkov skips paths with `/.`).
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-k8s-")
        .tempdir()
        .expect("temporary directory")
}

fn write_manifests(dir: &Path) -> Vec<Case> {
    support::all_cases()
        .into_iter()
        .map(|(name, spec)| {
            let text = k8s::manifest(&spec).expect("render");
            let path = dir.join(format!("{name}.yaml"));
            std::fs::write(&path, &text).expect("write manifest");
            let documents = text.lines().filter(|l| *l == "---").count();
            Case {
                name,
                spec,
                path,
                documents,
            }
        })
        .collect()
}

/// The resource settings the description leaves unset, as (resource, "request"/"limit").
fn unset_resources(spec: &Spec) -> Vec<(&'static str, &'static str)> {
    let r = &spec.resources;
    let mut unset = Vec::new();
    for (name, request, limit) in [
        ("cpu", &r.requests.cpu, &r.limits.cpu),
        ("memory", &r.requests.memory, &r.limits.memory),
    ] {
        if request.is_none() {
            unset.push((name, "request"));
        }
        if limit.is_none() {
            unset.push((name, "limit"));
        }
    }
    unset
}

fn single_replica(spec: &Spec) -> bool {
    spec.workload == WorkloadKind::Deployment && spec.replicas < 2
}

/// A UID below 10000 (root included) may collide with a host user: the description chose it.
fn low_uid(spec: &Spec) -> bool {
    spec.security.run_as_user < 10000
}

/// kube-score messages the description's own choices cause.
fn kube_score_allowed(spec: &Spec) -> Vec<String> {
    let mut allowed: Vec<String> = unset_resources(spec)
        .into_iter()
        .map(|(resource, kind)| {
            let resource = if resource == "cpu" { "CPU" } else { "Memory" };
            format!("{resource} {kind} is not set")
        })
        .collect();
    if single_replica(spec) {
        allowed.push("Deployment few replicas".into());
    }
    if low_uid(spec) {
        allowed.push("The container is running with a low user ID".into());
        allowed.push("The container running with a low group ID".into());
    }
    if !spec.security.read_only_root_filesystem {
        allowed.push("The pod has a container with a writable root filesystem".into());
    }
    allowed
}

/// checkov check ids the description's own choices cause.
fn checkov_allowed(spec: &Spec) -> BTreeSet<String> {
    let mut allowed: BTreeSet<&str> = unset_resources(spec)
        .into_iter()
        .map(|unset| match unset {
            ("cpu", "request") => "CKV_K8S_10",
            ("cpu", _) => "CKV_K8S_11",
            ("memory", "request") => "CKV_K8S_12",
            _ => "CKV_K8S_13",
        })
        .collect();
    if low_uid(spec) {
        allowed.insert("CKV_K8S_40");
    }
    if spec.security.run_as_user == 0 {
        allowed.insert("CKV_K8S_23");
    }
    if !spec.security.read_only_root_filesystem {
        allowed.insert("CKV_K8S_22");
    }
    if spec.security.capabilities.iter().any(|c| c == "SYS_ADMIN") {
        allowed.insert("CKV_K8S_39");
    }
    allowed.into_iter().map(String::from).collect()
}

#[test]
fn kubernetes_validate_strict_1_29_to_1_33() {
    let Some(tool) = support::find_tool(
        "BERTH_KUBERNETES_VALIDATE",
        &["kubernetes-validate"],
        "--version",
        true,
    ) else {
        return;
    };
    let dir = temp_dir();
    let files = write_manifests(dir.path());
    let documents: usize = files.iter().map(|c| c.documents).sum();
    for version in KUBERNETES_VERSIONS {
        // One run per version over every file: the tool takes about a second to start.
        let out = Command::new(&tool)
            .args(["--strict", "-k", version])
            .args(files.iter().map(|c| &c.path))
            .output()
            .expect("run kubernetes-validate");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "kubernetes-validate --strict -k {version}:\n{stdout}{stderr}"
        );
        assert!(
            !stdout.contains("ERROR") && !stdout.contains("WARN") && !stderr.contains("WARN"),
            "kubernetes-validate --strict -k {version}:\n{stdout}{stderr}"
        );
        for case in &files {
            let file = case.path.display().to_string();
            let passed = stdout
                .lines()
                .filter(|l| l.starts_with("INFO") && l.contains(&file) && l.contains(" passed "))
                .count();
            assert_eq!(
                passed, case.documents,
                "{} against {version}: every document passes\n{stdout}{stderr}",
                case.name
            );
        }
    }
    println!(
        "kubernetes-validate --strict: {} manifests ({documents} objects) x {} versions passed",
        files.len(),
        KUBERNETES_VERSIONS.len()
    );
}

/// kube-score: only the description's own choices remain; everything else passes or is
/// exempted by the `kube-score/ignore` annotation.
#[test]
fn kube_score_reports_only_deliberate_findings() {
    let Some(tool) = support::find_tool(
        "BERTH_KUBE_SCORE",
        &["kube-score", "/root/go/bin/kube-score"],
        "version",
        true,
    ) else {
        return;
    };
    let dir = temp_dir();
    for case in write_manifests(dir.path()) {
        let name = &case.name;
        let out = Command::new(&tool)
            .args(["score", "-o", "ci"])
            .arg(&case.path)
            .output()
            .expect("run kube-score");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("[OK]"),
            "{name}: kube-score printed no results:\n{stdout}"
        );
        let allowed = kube_score_allowed(&case.spec);
        let findings: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("[CRITICAL]") || l.starts_with("[WARNING]"))
            .collect();
        for finding in &findings {
            assert!(
                allowed.iter().any(|a| finding.ends_with(a.as_str())),
                "{name}: kube-score: {finding}\n{stdout}"
            );
        }
        println!("kube-score {name}: {} deliberate findings", findings.len());
    }
}

/// checkov: every finding is fixed or carries a documented exemption, except unset resources.
#[test]
fn checkov_reports_only_deliberate_findings() {
    let Some(tool) = support::find_tool("BERTH_CHECKOV", &["checkov"], "--version", false) else {
        return;
    };
    let dir = temp_dir();
    let files = write_manifests(dir.path());
    // One run over the directory: checkov takes seconds to start.
    let out = Command::new(&tool)
        .args([
            "--framework",
            "kubernetes",
            "--skip-download",
            "--compact",
            "--quiet",
            "-o",
            "json",
            "-d",
        ])
        .arg(dir.path())
        .output()
        .expect("run checkov");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("checkov printed no JSON ({e}):\n{stdout}"));
    let mut failed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for check in report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let file = check["file_path"].as_str().unwrap_or_default();
        let case = file
            .trim_start_matches('/')
            .trim_end_matches(".yaml")
            .to_string();
        let id = check["check_id"].as_str().unwrap_or_default().to_string();
        failed.entry(case).or_default().insert(id);
    }
    for case in &files {
        let name = &case.name;
        let found = failed.remove(name).unwrap_or_default();
        let allowed = checkov_allowed(&case.spec);
        assert!(
            found.is_subset(&allowed),
            "{name}: checkov failed {found:?}\n{stdout}"
        );
        println!("checkov {name}: failed {found:?}");
    }
    assert!(failed.is_empty(), "findings in unknown files: {failed:?}");
    let skipped = report["summary"]["skipped"].as_u64().unwrap_or(0);
    let minimum = u64::try_from(files.len() * 5).unwrap_or(u64::MAX);
    assert!(
        skipped >= minimum,
        "the exemption annotations are read ({skipped} skipped)"
    );
    println!(
        "checkov: {} passed, {skipped} skipped by documented exemptions",
        report["summary"]["passed"]
    );
}
