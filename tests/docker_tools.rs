//! The generated Dockerfile under hadolint, the linter its users run: nothing may be reported at
//! hadolint's default level, for every runtime base (distroless, debian-slim, scratch), with and
//! without ports, features, args, a config file, as root, and for every fixture description.
//!
//! A missing hadolint skips the test with a printed message, unless `BERTH_REQUIRE_TOOLS=1`
//! (CI sets it), which turns the skip into a failure. `BERTH_HADOLINT` names another binary.

use std::process::Command;

use berth::render::{self, Target, docker};
use berth::spec::sample::sample;
use berth::spec::*;

use crate::support;

/// Variants of the sample description that change the Dockerfile.
fn variants() -> Vec<(String, Spec)> {
    let mut out = Vec::new();
    for kind in [WorkloadKind::Deployment, WorkloadKind::DaemonSet] {
        for base in [
            BaseImage::Distroless,
            BaseImage::DebianSlim,
            BaseImage::Scratch,
        ] {
            let mut spec = sample(kind);
            spec.build.base = base;
            out.push((format!("{}-{}", kind.as_str(), base.as_str()), spec.clone()));

            let mut bare = spec.clone();
            bare.ports.clear();
            bare.args.clear();
            bare.config = None;
            bare.env.clear();
            bare.description.clear();
            out.push((format!("{}-{}-bare", kind.as_str(), base.as_str()), bare));

            let mut rich = spec.clone();
            rich.ports.push(Port {
                name: "dns".into(),
                port: 5353,
                protocol: Protocol::Udp,
                expose: true,
            });
            rich.build.features = vec!["tls".into(), "metrics".into()];
            rich.command = vec!["/usr/local/bin/echo-daemon".into(), "serve".into()];
            rich.args = vec!["--greeting".into(), "hello \"world\" $HOME".into()];
            rich.description = "Says \"hi\" for $5 and 100%".into();
            rich.image.digest = Some(format!("sha256:{}", "ab".repeat(32)));
            out.push((format!("{}-{}-rich", kind.as_str(), base.as_str()), rich));

            let mut root = spec;
            root.security.run_as_user = 0;
            root.security.run_as_root = true;
            out.push((format!("{}-{}-root", kind.as_str(), base.as_str()), root));
        }
    }
    out
}

fn dockerfile(spec: &Spec) -> String {
    let files = render::render(spec, &[Target::Docker]).expect("render");
    files
        .get(docker::DOCKERFILE)
        .expect("Dockerfile")
        .contents
        .clone()
}

#[test]
fn hadolint_reports_nothing() {
    let Some(hadolint) = support::find_tool("BERTH_HADOLINT", &["hadolint"], "--version", true)
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(String, Spec)> = variants().into_iter().chain(support::fixtures()).collect();
    assert!(cases.len() >= 24, "variants missing");
    let mut failures = Vec::new();
    for (case, spec) in &cases {
        let text = dockerfile(spec);
        let path = dir.path().join(format!("{case}.Dockerfile"));
        std::fs::write(&path, &text).unwrap();
        // No config file: hadolint's defaults are what users get.
        let out = Command::new(&hadolint)
            .arg("--no-color")
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .expect("run hadolint");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || !report.trim().is_empty() {
            failures.push(format!("--- {case}:\n{report}\n{text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "hadolint findings:\n{}",
        failures.join("\n")
    );
    eprintln!("hadolint: {} Dockerfiles, no findings", cases.len());
}

#[test]
fn hadolint_catches_a_bad_dockerfile() {
    // Proves the check above can fail: the same tool on a Dockerfile with known findings.
    let Some(hadolint) = support::find_tool("BERTH_HADOLINT", &["hadolint"], "--version", true)
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    std::fs::write(
        &path,
        "FROM debian\nRUN cd /tmp && apt-get install curl\nUSER root\nCMD echo hi\n",
    )
    .unwrap();
    let out = Command::new(&hadolint)
        .arg("--no-color")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    for rule in ["DL3006", "DL3003", "DL3002", "DL3025"] {
        assert!(report.contains(rule), "{rule} not in {report}");
    }
}

#[test]
fn every_variant_is_deterministic_and_ends_with_the_entrypoint() {
    for (case, spec) in variants().into_iter().chain(support::fixtures()) {
        let a = dockerfile(&spec);
        assert_eq!(a, dockerfile(&spec), "{case}");
        let last_instruction = a
            .lines()
            .rfind(|l| !l.starts_with('#') && !l.trim().is_empty())
            .unwrap();
        assert!(
            last_instruction.starts_with("ENTRYPOINT [") || last_instruction.starts_with("CMD ["),
            "{case}: {last_instruction}"
        );
        assert!(!a.contains("# syntax="), "{case}");
    }
}
