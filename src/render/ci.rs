//! The `ci` target (only with `--only ci`): `ci/<name>.yml`, a GitHub Actions workflow that
//! tests the workspace, compiles the daemon once per platform of `build.platforms`, assembles
//! the multi-arch image with `berth build` and pushes it and the Helm chart to OCI registries;
//! with the `windows` target, a `windows` job builds the `.exe` and uploads it with the
//! install scripts.
//!
//! The layout lives in `templates/ci/github-workflow.yml.j2`; this module computes the values.
//! Every command of the workflow is one the project's own end-to-end suites run
//! (`tests/e2e/multiarch.sh` executes the workflow's steps, `tests/e2e/windows.sh` those of the
//! `windows` job).

use serde::Serialize;

use super::plan::paths;
use super::{FileSet, RenderError, Target, assets, docker, helm, template, windows};
use crate::spec::{Platform, Spec};

/// The crane release the workflow installs (also pinned in `.ci/install-deps.sh`).
pub const CRANE_VERSION: &str = "v0.22.1";
/// The Helm release the workflow installs (also pinned in `.ci/install-deps.sh`).
pub const HELM_VERSION: &str = "v3.22.0";
/// Where the workflow installs berth from (`cargo install --git ... --tag v<version>`).
pub const BERTH_GIT: &str = "https://github.com/berth-rs/berth";
/// The architecture of the runners the workflow compiles on: other platforms cross-compile.
pub const RUNNER_PLATFORM: Platform = Platform::LinuxAmd64;

/// Renders the `ci` files of `spec` into `out`.
pub fn render(spec: &Spec, out: &mut FileSet) -> Result<(), RenderError> {
    let context = Context::new(spec);
    let text = template::render(&assets::TEMPLATES, "ci/github-workflow.yml.j2", &context)?;
    out.insert(Target::Ci, paths::workflow(spec), text)?;
    Ok(())
}

#[derive(Debug, Serialize)]
struct Context {
    name: String,
    platforms: String,
    berth_version: &'static str,
    berth_git: &'static str,
    crane_version: &'static str,
    helm_version: &'static str,
    registry: String,
    image: String,
    chart: String,
    chart_version: String,
    chart_repo: String,
    matrix: Vec<MatrixEntry>,
    /// The Windows service job, when the `windows` target renders for this description.
    windows: Option<WindowsJob>,
}

/// The `windows` job: cross-compiles the `.exe` on a Linux runner with MinGW, writes the
/// install scripts (`berth generate --only windows`) and uploads both as one artifact.
#[derive(Debug, Serialize)]
struct WindowsJob {
    target: &'static str,
    linker: &'static str,
    linker_package: &'static str,
    /// `CARGO_TARGET_<TRIPLE>_LINKER`.
    linker_env: String,
    cargo_args: String,
    exe: String,
}

#[derive(Debug, Serialize)]
struct MatrixEntry {
    platform: &'static str,
    target: &'static str,
    /// Artifact name: the platform with `/` replaced (artifact names cannot hold `/`).
    artifact: String,
    /// Debian packages of the C cross compiler; empty on the runner's own platform.
    cross: String,
}

impl Context {
    fn new(spec: &Spec) -> Self {
        let repository = &spec.image.repository;
        let registry = registry_host(repository);
        let tag = spec
            .image
            .tag
            .clone()
            .unwrap_or_else(|| helm::app_version(spec));
        // The chart goes beside the image, under charts/: ghcr.io/acme/echo-daemon ->
        // oci://ghcr.io/acme/charts (its own name is appended by helm push).
        let parent = match repository.rsplit_once('/') {
            Some((parent, _)) => parent.to_owned(),
            None => registry.clone(),
        };
        Context {
            name: spec.name.clone(),
            platforms: spec
                .build
                .platforms
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            berth_version: env!("CARGO_PKG_VERSION"),
            berth_git: BERTH_GIT,
            crane_version: CRANE_VERSION,
            helm_version: HELM_VERSION,
            image: format!("{repository}:{tag}"),
            registry,
            chart: spec.name.clone(),
            chart_version: helm::chart_version(spec),
            chart_repo: format!("oci://{parent}/charts"),
            matrix: spec
                .build
                .platforms
                .iter()
                .map(|p| MatrixEntry {
                    platform: p.as_str(),
                    target: p.rust_target(),
                    artifact: p.as_str().replace('/', "-"),
                    cross: if *p == RUNNER_PLATFORM {
                        String::new()
                    } else {
                        p.debian_cross_packages().join(" ")
                    },
                })
                .collect(),
            windows: windows::skip_reason(spec).is_none().then(|| WindowsJob {
                target: windows::RUST_TARGET,
                linker: windows::LINKER,
                linker_package: windows::LINKER_PACKAGE,
                linker_env: format!(
                    "CARGO_TARGET_{}_LINKER",
                    windows::RUST_TARGET.to_uppercase().replace('-', "_")
                ),
                cargo_args: docker::cargo_args(spec),
                exe: format!("{}.exe", spec.build.bin),
            }),
        }
    }
}

/// The registry host of an image repository, as Docker resolves it: the first path component
/// when it looks like a host (has a `.` or `:`, or is `localhost`), else Docker Hub.
pub fn registry_host(repository: &str) -> String {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_owned(),
        _ => "docker.io".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WorkloadKind;
    use crate::spec::sample::sample;

    fn workflow(spec: &Spec) -> String {
        let mut files = FileSet::new();
        render(spec, &mut files).unwrap();
        assert_eq!(files.len(), 1);
        files.get(&paths::workflow(spec)).unwrap().contents.clone()
    }

    #[test]
    fn one_matrix_entry_per_platform() {
        let mut spec = sample(WorkloadKind::DaemonSet);
        spec.build.platforms = vec![Platform::LinuxAmd64, Platform::LinuxArm64];
        let w = workflow(&spec);
        assert!(w.contains(
            "          - platform: linux/amd64\n            target: x86_64-unknown-linux-gnu\n            \
             artifact: linux-amd64\n            cross: \"\"\n"
        ));
        assert!(w.contains(
            "          - platform: linux/arm64\n            target: aarch64-unknown-linux-gnu\n            \
             artifact: linux-arm64\n            cross: \"gcc-aarch64-linux-gnu libc6-dev-arm64-cross\"\n"
        ));
        assert!(w.contains("  IMAGE: \"ghcr.io/acme/echo-daemon:0.1.0\"\n"));
        assert!(w.contains("  REGISTRY: \"ghcr.io\"\n"));
        assert!(w.contains("  CHART_REPO: \"oci://ghcr.io/acme/charts\"\n"));
        assert!(w.contains("  CHART_VERSION: \"0.1.0\"\n"));
        assert!(w.contains("key: cargo-test-${{ runner.os }}-${{ hashFiles('**/Cargo.lock') }}\n"));
        assert!(w.contains("    working-directory: .\n"));
        assert!(
            !w.contains("{%") && !w.contains("{{ '"),
            "template syntax leaked:\n{w}"
        );
    }

    #[test]
    fn default_platform_has_no_cross_compiler() {
        let w = workflow(&sample(WorkloadKind::Deployment));
        assert_eq!(w.matches("- platform: ").count(), 1);
        assert!(!w.contains("aarch64"));
        assert!(w.contains("# Copy it to .github/workflows/echo-daemon.yml."));
    }

    #[test]
    fn windows_job_when_the_windows_target_renders() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.build.features = vec!["tls".into()];
        let w = workflow(&spec);
        assert!(w.contains("\n  windows:\n    runs-on: ubuntu-24.04\n"));
        assert!(w.contains("      WINDOWS_TARGET: x86_64-pc-windows-gnu\n"));
        assert!(w.contains(
            "          CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER: x86_64-w64-mingw32-gcc\n"
        ));
        assert!(w.contains(
            "        run: cargo build --release --locked --target \"$WINDOWS_TARGET\" -p echo-daemon --bin echo-daemon --features tls\n"
        ));
        assert!(w.contains("          berth generate -f berth.yaml --only windows -o dist\n"));
        assert!(w.contains(
            "          cp \"${CARGO_TARGET_DIR:-target}/$WINDOWS_TARGET/release/echo-daemon.exe\" dist/windows/\n"
        ));
        assert!(w.contains("          name: windows-service\n          path: dist/windows\n"));

        spec.windows.enabled = false;
        let w = workflow(&spec);
        assert!(
            !w.contains("windows"),
            "no Windows job without the target:\n{w}"
        );
    }

    #[test]
    fn registry_hosts() {
        assert_eq!(registry_host("ghcr.io/acme/x"), "ghcr.io");
        assert_eq!(registry_host("localhost:5000/x"), "localhost:5000");
        assert_eq!(registry_host("acme/x"), "docker.io");
        assert_eq!(registry_host("x"), "docker.io");
    }

    #[test]
    fn digest_only_image_is_pushed_under_the_app_version() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.image.tag = None;
        spec.image.digest = Some(format!("sha256:{}", "ab".repeat(32)));
        assert!(workflow(&spec).contains("  IMAGE: \"ghcr.io/acme/echo-daemon:abababababab\"\n"));
    }

    #[test]
    fn pinned_tool_versions_match_the_install_script() {
        let script = include_str!("../../.ci/install-deps.sh");
        assert!(script.contains(&format!("HELM_VERSION=${{HELM_VERSION:-{HELM_VERSION}}}")));
        assert!(script.contains(&format!(
            "CRANE_VERSION=${{CRANE_VERSION:-{CRANE_VERSION}}}"
        )));
    }
}
