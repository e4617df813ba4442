//! The plain manifests under the tools their users run: `kubernetes-validate --strict` for
//! every Kubernetes minor of the supported range (1.29 to 1.37), kube-score and checkov (all
//! installed by `.ci/install-deps.sh`, checkov in its own venv, `$BERTH_E2E_CACHE/checkov-venv`;
//! required in CI).
//!
//! Every description is checked: the built-in cases (both kinds, every optional field set and
//! unset), `tests/fixtures/*` and `examples/*`. A missing tool skips a test with a printed
//! message, unless `BERTH_REQUIRE_TOOLS=1`.
//!
//! Linter findings are either fixed or carry an exemption annotation with its reason (settings
//! the description states name themselves); the only gap left visible on purpose is no
//! resources at all (`resources: {}`).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth::render::k8s;
use berth::spec::Spec;

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

/// The resource settings left unset when the description sets no resources at all
/// (`resources: {}`): the one gap berth leaves visible on purpose. Resources set in part carry
/// a reason annotation like every other setting the description states.
fn unset_resources(spec: &Spec) -> Vec<(&'static str, &'static str)> {
    if !spec.resources.is_empty() {
        return Vec::new();
    }
    vec![
        ("cpu", "request"),
        ("cpu", "limit"),
        ("memory", "request"),
        ("memory", "limit"),
    ]
}

/// kube-score messages allowed: only those of no resources at all.
fn kube_score_allowed(spec: &Spec) -> Vec<String> {
    unset_resources(spec)
        .into_iter()
        .map(|(resource, kind)| {
            let resource = if resource == "cpu" { "CPU" } else { "Memory" };
            format!("{resource} {kind} is not set")
        })
        .collect()
}

/// checkov check ids allowed: only those of no resources at all.
fn checkov_allowed(spec: &Spec) -> BTreeSet<String> {
    unset_resources(spec)
        .into_iter()
        .map(|unset| match unset {
            ("cpu", "request") => "CKV_K8S_10",
            ("cpu", _) => "CKV_K8S_11",
            ("memory", "request") => "CKV_K8S_12",
            _ => "CKV_K8S_13",
        })
        .map(String::from)
        .collect()
}

#[test]
fn kubernetes_validate_strict_every_supported_version() {
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
    let versions = berth::render::helm::supported_kube_versions();
    for version in &versions {
        // One run per version over every file: the tool takes about a second to start.
        let out = Command::new(&tool)
            .args(["--strict", "-k", version.as_str()])
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
        versions.len()
    );
}

/// kube-score: only the description's own choices remain; everything else passes or is
/// exempted by the `kube-score/ignore` annotation.
#[test]
fn kube_score_reports_only_deliberate_findings() {
    let Some(tool) = support::kube_score() else {
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
    let Some(tool) = support::checkov() else {
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
