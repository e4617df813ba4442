//! The generated systemd unit under systemd's own tools:
//! - `systemd-analyze verify` exits 0 with nothing on stderr (unknown keys and bad values are
//!   only warnings there) for every variant and fixture;
//! - `systemd-analyze security --offline=true` rates the unit of a daemon with no added
//!   capabilities at 2.0 or lower ("OK"); a naive unit (`ExecStart=` + `Restart=` only) is
//!   measured beside it to show the scale.
//!
//! `verify` checks that every `Exec*=` binary exists, so each unit is verified inside a scratch
//! root (`--root=`) holding a copy of `/usr/lib/systemd/system` and stub executables at the
//! `ExecStart=` / `ExecReload=` paths.
//!
//! A missing `systemd-analyze` skips the tests with a printed message, unless
//! `BERTH_REQUIRE_TOOLS=1` (CI sets it), which turns the skip into a failure.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth::render::{self, Target, systemd};
use berth::spec::sample::sample;
use berth::spec::*;

use crate::support;

/// The highest exposure score accepted for a daemon with no added capabilities.
const MAX_EXPOSURE: f64 = 2.0;

/// `systemd-analyze` (`BERTH_SYSTEMD_ANALYZE` overrides), which also needs the unit directory
/// `/usr/lib/systemd/system` to build the `--root` of `verify`.
fn find_tool() -> Option<PathBuf> {
    let tool = support::find_tool(
        "BERTH_SYSTEMD_ANALYZE",
        &["systemd-analyze"],
        "--version",
        true,
    )?;
    if Path::new("/usr/lib/systemd/system").is_dir() {
        return Some(tool);
    }
    assert!(
        !support::require_tools(),
        "/usr/lib/systemd/system is required (BERTH_REQUIRE_TOOLS=1)"
    );
    eprintln!("SKIPPED: /usr/lib/systemd/system not found (apt-get install systemd)");
    None
}

/// Variants of the sample description that change the unit.
fn variants() -> Vec<(String, Spec)> {
    let mut out = Vec::new();
    for kind in [WorkloadKind::Deployment, WorkloadKind::DaemonSet] {
        let spec = sample(kind);
        let k = kind.as_str().to_lowercase();
        out.push((format!("{k}-sample"), spec.clone()));

        let mut bare = spec.clone();
        bare.config = None;
        bare.env.clear();
        bare.volumes.clear();
        bare.args.clear();
        bare.resources = Resources::default();
        bare.description.clear();
        bare.systemd.watchdog = Duration::ZERO;
        bare.systemd.restart = RestartPolicy::No;
        out.push((format!("{k}-bare"), bare));

        let mut caps = spec.clone();
        caps.security.capabilities = vec![
            "NET_ADMIN".into(),
            "NET_BIND_SERVICE".into(),
            "NET_RAW".into(),
        ];
        caps.host = Host {
            network: true,
            pid: true,
        };
        caps.systemd.restart = RestartPolicy::Always;
        out.push((format!("{k}-capabilities"), caps));

        let mut odd = spec;
        odd.systemd.user = Some("echo".into());
        odd.systemd.watchdog = Duration::from_millis(2500);
        odd.description = "Echo 100% of \"it\"".into();
        odd.command = vec!["/opt/echo/bin/echo-daemon".into(), "serve".into()];
        odd.args = vec![
            "--greeting".into(),
            "hello \"world\" $HOME 50%".into(),
            "a\\b".into(),
        ];
        odd.volumes.push(Volume {
            name: "tls".into(),
            source: VolumeSource::Secret("echo-tls".into()),
            mount_path: "/etc/tls".into(),
            read_only: true,
        });
        odd.volumes.push(Volume {
            name: "data".into(),
            source: VolumeSource::HostPath("/srv/echo data:v1".into()),
            mount_path: "/data".into(),
            read_only: false,
        });
        out.push((format!("{k}-odd"), odd));
    }
    out
}

fn unit_text(spec: &Spec) -> String {
    let files = render::render(spec, &[Target::Systemd]).expect("render");
    files
        .get(&systemd::unit_path(spec))
        .expect("unit")
        .contents
        .clone()
}

/// A scratch root for `--root=`: the distribution's units and stub executables.
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        let dir = tempfile::tempdir().unwrap();
        let units = dir.path().join("usr/lib/systemd/system");
        std::fs::create_dir_all(&units).unwrap();
        for entry in std::fs::read_dir("/usr/lib/systemd/system").unwrap() {
            let entry = entry.unwrap();
            let target = units.join(entry.file_name());
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.file_type().is_symlink() {
                let link = std::fs::read_link(entry.path()).unwrap();
                std::os::unix::fs::symlink(link, target).unwrap();
            } else if meta.is_file() {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
        std::fs::create_dir_all(dir.path().join("etc/systemd/system")).unwrap();
        Root { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Installs `unit` and stubs for its `Exec*=` binaries; returns the unit's path.
    fn install(&self, name: &str, unit: &str) -> PathBuf {
        for line in unit.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !key.starts_with("Exec") {
                continue;
            }
            let exe = value.trim_start_matches(['-', '@', ':', '+', '!']);
            let exe = if let Some(quoted) = exe.strip_prefix('"') {
                quoted.split('"').next().unwrap_or_default().to_owned()
            } else {
                exe.split_whitespace().next().unwrap_or_default().to_owned()
            };
            let stub = self.path().join(exe.trim_start_matches('/'));
            std::fs::create_dir_all(stub.parent().unwrap()).unwrap();
            std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = self.path().join("etc/systemd/system").join(name);
        std::fs::write(&path, unit).unwrap();
        path
    }
}

/// `systemd-analyze security --offline=true` of the unit at `path`: the overall exposure.
fn exposure(tool: &Path, root: &Root, path: &Path) -> (f64, String) {
    let out = Command::new(tool)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(format!("--root={}", root.path().display()))
        .arg(path)
        .output()
        .expect("run systemd-analyze security");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let score = line
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unparsable exposure line: {line}"));
    (score, line.trim().to_owned())
}

#[test]
fn verify_is_clean_for_every_variant_and_fixture() {
    let Some(tool) = find_tool() else { return };
    let cases: Vec<(String, Spec)> = variants().into_iter().chain(support::fixtures()).collect();
    let mut failures = Vec::new();
    for (case, spec) in &cases {
        let root = Root::new();
        let text = unit_text(spec);
        let path = root.install(&format!("{}.service", spec.name), &text);
        let out = Command::new(&tool)
            .arg("verify")
            .arg(format!("--root={}", root.path().display()))
            .arg(&path)
            .output()
            .expect("run systemd-analyze verify");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !stderr.trim().is_empty() || !stdout.trim().is_empty() {
            failures.push(format!(
                "--- {case} ({}):\n{stdout}{stderr}\n{text}",
                out.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "systemd-analyze verify:\n{}",
        failures.join("\n")
    );
    eprintln!("systemd-analyze verify: {} units clean", cases.len());
}

#[test]
fn verify_catches_a_broken_unit() {
    // Proves the check above can fail: an unknown key and a missing binary are reported.
    let Some(tool) = find_tool() else { return };
    let root = Root::new();
    let path = root.path().join("etc/systemd/system/broken.service");
    std::fs::write(
        &path,
        "[Service]\nExecStart=/nonexistent/daemon\nProtectSytem=strict\n",
    )
    .unwrap();
    let out = Command::new(&tool)
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg(&path)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("ProtectSytem"), "{report}");
    assert!(report.contains("/nonexistent/daemon"), "{report}");
}

#[test]
fn security_exposure_is_ok_without_capabilities() {
    let Some(tool) = find_tool() else { return };
    let root = Root::new();
    let naive = root.install(
        "naive.service",
        "[Service]\nExecStart=/usr/local/bin/echo-daemon\nRestart=on-failure\n",
    );
    let (naive_score, naive_line) = exposure(&tool, &root, &naive);
    eprintln!("naive unit: {naive_line}");
    assert!(naive_score > 9.0, "{naive_line}");

    let mut checked = 0;
    let cases: Vec<(String, Spec)> = variants().into_iter().chain(support::fixtures()).collect();
    for (case, spec) in &cases {
        let root = Root::new();
        let path = root.install(&format!("{}.service", spec.name), &unit_text(spec));
        let (score, line) = exposure(&tool, &root, &path);
        eprintln!(
            "{case} (capabilities {:?}): {line}",
            spec.security.capabilities
        );
        assert!(score < naive_score, "{case}: {line}");
        if spec.security.capabilities.is_empty() {
            assert!(score <= MAX_EXPOSURE, "{case}: {line}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "too few cases without capabilities");
}
