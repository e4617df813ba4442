//! `berth build`: the daemon compiled for each platform of `build.platforms` and one
//! multi-arch OCI image (an index with one manifest per platform), without Docker or buildx.
//!
//! 1. Compile (unless `--skip-compile`): `cargo build --release --locked --target <triple>` per
//!    platform in the description's directory, the binary copied to
//!    `<dist>/<os>-<arch>/<bin>`. Cross-compiling sets Cargo's linker for the target to
//!    `<gnu-triple>-gcc` (Debian's cross compilers) unless the environment names one; `scratch`
//!    links statically like the Dockerfile. `$CARGO` chooses the cargo to run.
//! 2. Assemble (unless `--no-image`): per platform, the runtime base image the Dockerfile names
//!    (or `--runtime-image`), pulled with `crane pull --format=oci --platform`, plus one layer
//!    with the binary (gzip, reproducible: [`image::gzip`]), with the Dockerfile image's configuration ([`image_config`]); all of
//!    them in one OCI layout (`--output`, default `<dist>/image`) whose index lists one
//!    manifest per platform.
//! 3. Push (`--push REGISTRY/NAME:TAG`): `crane push --index`.
//!
//! Why crane for registry traffic: pulling a base image and pushing an index needs the
//! registry protocol with its authentication (Docker's config and credential helpers, token
//! exchange), chunked uploads and retries. crane is the reference implementation of it, a single
//! static binary; berth keeps what defines the image (layer, configuration, manifests) to itself,
//! deterministic and tested without a network.

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::{CommandError, CommandResult};
use crate::image::{self, BaseImage, Layer, OciLayout};
use crate::render::ci::CRANE_VERSION;
use crate::render::docker::{CA_BUNDLE_PATH, image_config};
use crate::spec::{BaseImage as Base, Platform, Spec};

/// Options of `berth build`.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The description.
    pub file: PathBuf,
    /// Platforms to build; empty means all of `build.platforms`.
    pub platforms: Vec<String>,
    /// Where binaries go (`<dist>/<os>-<arch>/<bin>`) and come from with `skip_compile`.
    pub dist: PathBuf,
    /// Use the binaries already in `dist`.
    pub skip_compile: bool,
    /// Stop after compiling.
    pub no_image: bool,
    /// The OCI layout to write; `<dist>/image` when `None`.
    pub output: Option<PathBuf>,
    /// Push the image index to this reference.
    pub push: Option<String>,
    /// Replaces the runtime base image the Dockerfile names (its `RUNTIME_IMAGE` argument).
    pub runtime_image: Option<String>,
}

fn runtime(message: impl Into<String>) -> CommandError {
    CommandError::runtime(message.into())
}

/// Runs `berth build`.
pub fn run(options: &BuildOptions) -> CommandResult {
    let spec = super::load_spec(&options.file, "; nothing was built")?;
    let platforms = select_platforms(&spec, &options.platforms)?;
    if options.no_image && (options.push.is_some() || options.output.is_some()) {
        return Err(CommandError::invalid(
            "--no-image builds no image: it cannot be combined with --push or --output",
        ));
    }
    if options.no_image && options.skip_compile {
        return Err(CommandError::invalid(
            "--skip-compile with --no-image does nothing",
        ));
    }
    let dir = description_dir(&options.file);
    let mut stdout = std::io::stdout().lock();

    let mut binaries = Vec::new();
    for &platform in &platforms {
        let dest = options
            .dist
            .join(platform_dir(platform))
            .join(&spec.build.bin);
        if options.skip_compile {
            if !dest.is_file() {
                return Err(CommandError::invalid(format!(
                    "{} is missing: compile it first with `berth build -f {} --platform {platform} --no-image --dist {}`",
                    dest.display(),
                    options.file.display(),
                    options.dist.display()
                )));
            }
        } else {
            let t0 = Instant::now();
            let built = compile(&spec, platform, &dir)?;
            copy_binary(&built, &dest)?;
            let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
            let _ = writeln!(
                stdout,
                "compiled {platform} in {:.1} s: {} ({})",
                t0.elapsed().as_secs_f64(),
                dest.display(),
                human_size(size)
            );
        }
        let bytes = std::fs::read(&dest)
            .map_err(|e| runtime(format!("cannot read {}: {e}", dest.display())))?;
        image::check_elf(&dest, &bytes, platform).map_err(|e| runtime(e.to_string()))?;
        binaries.push((platform, dest, bytes));
    }
    if options.no_image {
        return Ok(());
    }

    let output = options
        .output
        .clone()
        .unwrap_or_else(|| options.dist.join("image"));
    let layout = OciLayout::create(&output).map_err(|e| runtime(e.to_string()))?;
    let config = image_config(&spec);
    let runtime_image = options
        .runtime_image
        .clone()
        .unwrap_or_else(|| spec.build.base.image().to_owned());
    let scratch = runtime_image == "scratch";
    let ca_bundle = if config.ca_certificates {
        Some(std::fs::read(CA_BUNDLE_PATH).map_err(|e| {
            runtime(format!(
                "cannot read {CA_BUNDLE_PATH} for the image ({e}); install ca-certificates"
            ))
        })?)
    } else {
        None
    };
    let created = created_time();
    let crane = if scratch && options.push.is_none() {
        None
    } else {
        Some(find_crane()?)
    };

    let mut descriptors = Vec::new();
    let mut lines = Vec::new();
    for (platform, _, bytes) in binaries {
        let base_dir = tempfile::Builder::new()
            .prefix(".berth-base-")
            .tempdir_in(&output)
            .map_err(|e| {
                runtime(format!(
                    "cannot create a directory in {}: {e}",
                    output.display()
                ))
            })?;
        let (base, base_layout) = if scratch {
            (BaseImage::scratch(platform), None)
        } else {
            let crane = crane.as_deref().unwrap_or(Path::new("crane"));
            crane_run(
                crane,
                &[
                    "pull".into(),
                    "--format=oci".into(),
                    "--platform".into(),
                    platform.as_str().into(),
                    runtime_image.clone().into(),
                    base_dir.path().into(),
                ],
                &format!("pulling the base image {runtime_image} for {platform}"),
            )?;
            let base_layout =
                OciLayout::open(base_dir.path()).map_err(|e| runtime(e.to_string()))?;
            let base = base_layout.image_for(platform).map_err(|_| {
                runtime(format!(
                    "the base image {runtime_image} has no image for {platform}; build.platforms needs a base image for every platform"
                ))
            })?;
            (base, Some(base_layout))
        };
        let mut layer = Layer::new();
        if let Some(ca) = &ca_bundle {
            layer.file(CA_BUNDLE_PATH, 0o644, ca.clone());
        }
        layer.file(&config.binary_path, 0o755, bytes);
        let built = image::write_image(
            &layout,
            base_layout.as_ref(),
            &base,
            &config,
            platform,
            layer.into_tar(),
            &created,
        )
        .map_err(|e| runtime(e.to_string()))?;
        descriptors.push(built.descriptor());
        lines.push(format!(
            "  {platform}  manifest {}  {} (berth's layer {} gzip, {} tar)",
            built.manifest.digest(),
            human_size(built.total_size),
            human_size(built.layer.size),
            human_size(built.layer_tar.size)
        ));
    }
    let index = layout
        .write_index(&descriptors)
        .map_err(|e| runtime(e.to_string()))?;
    let _ = writeln!(
        stdout,
        "image index {} ({} platform{}) in {}",
        index.digest(),
        lines.len(),
        if lines.len() == 1 { "" } else { "s" },
        output.display()
    );
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    if let Some(reference) = &options.push {
        let crane = crane.as_deref().unwrap_or(Path::new("crane"));
        crane_run(
            crane,
            &[
                "push".into(),
                "--index".into(),
                output.clone().into(),
                reference.into(),
            ],
            &format!("pushing the image to {reference}"),
        )?;
        let _ = writeln!(stdout, "pushed {reference}@{}", index.digest());
    }
    Ok(())
}

/// `--platform` values, each of `build.platforms`; all of them when none is given.
fn select_platforms(spec: &Spec, requested: &[String]) -> Result<Vec<Platform>, CommandError> {
    if requested.is_empty() {
        return Ok(spec.build.platforms.clone());
    }
    let configured: Vec<&str> = spec.build.platforms.iter().map(|p| p.as_str()).collect();
    let mut out = Vec::new();
    for name in requested {
        match Platform::parse(name) {
            Some(p) if spec.build.platforms.contains(&p) => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            _ => {
                return Err(CommandError::invalid(format!(
                    "--platform {name}: not in build.platforms ({}) of the description",
                    configured.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// `linux-arm64`: the directory of a platform's binary under the dist directory.
pub fn platform_dir(platform: Platform) -> String {
    format!("{}-{}", platform.os(), platform.arch())
}

fn description_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Runs cargo for one platform and returns the path of the binary it built.
fn compile(spec: &Spec, platform: Platform, dir: &Path) -> Result<PathBuf, CommandError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let target = platform.rust_target();
    let mut command = Command::new(&cargo);
    command
        .current_dir(dir)
        .args(["build", "--release", "--locked", "--target", target])
        .args(["-p", &spec.build.package, "--bin", &spec.build.bin])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !spec.build.features.is_empty() {
        command.args(["--features", &spec.build.features.join(",")]);
    }
    let linker_var = platform.cargo_linker_env();
    if Platform::host() != Some(platform) && std::env::var_os(&linker_var).is_none() {
        command.env(&linker_var, format!("{}-gcc", platform.gnu_triple()));
    }
    if spec.build.base == Base::Scratch {
        // As the Dockerfile: a static glibc binary (RUSTFLAGS with --target leaves build
        // scripts alone).
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        if !flags.is_empty() {
            flags.push(' ');
        }
        flags.push_str("-C target-feature=+crt-static");
        command.env("RUSTFLAGS", flags);
    }
    let shown = format!(
        "{} build --release --locked --target {target} -p {} --bin {}",
        cargo.to_string_lossy(),
        spec.build.package,
        spec.build.bin
    );
    let mut child = command
        .spawn()
        .map_err(|e| runtime(format!("cannot run `{shown}`: {e}")))?;
    let mut executable = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let is_our_bin = message["reason"] == "compiler-artifact"
                && message["target"]["name"] == spec.build.bin.as_str()
                && message["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if is_our_bin && let Some(path) = message["executable"].as_str() {
                executable = Some(PathBuf::from(path));
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| runtime(format!("`{shown}` failed: {e}")))?;
    if !status.success() {
        return Err(runtime(format!(
            "`{shown}` failed ({status}) in {}",
            dir.display()
        )));
    }
    executable.ok_or_else(|| runtime(format!("`{shown}` reported no binary {}", spec.build.bin)))
}

fn copy_binary(from: &Path, to: &Path) -> CommandResult {
    let parent = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| runtime(format!("cannot create {}: {e}", parent.display())))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .map_err(|e| runtime(format!("cannot write in {}: {e}", parent.display())))?;
    let bytes =
        std::fs::read(from).map_err(|e| runtime(format!("cannot read {}: {e}", from.display())))?;
    tmp.write_all(&bytes)
        .map_err(|e| runtime(format!("cannot write {}: {e}", to.display())))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755));
    }
    tmp.persist(to)
        .map_err(|e| runtime(format!("cannot write {}: {}", to.display(), e.error)))?;
    Ok(())
}

/// `$BERTH_CRANE`, else `crane` on `PATH`, else `$(go env GOPATH)/bin/crane`'s usual place.
fn find_crane() -> Result<PathBuf, CommandError> {
    if let Some(path) = std::env::var_os("BERTH_CRANE") {
        return Ok(PathBuf::from(path));
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("crane")).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join("go/bin/crane"));
    }
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        runtime(format!(
            "crane is needed to pull the base image and push: install it with \
                 `go install github.com/google/go-containerregistry/cmd/crane@{CRANE_VERSION}` \
                 (or set BERTH_CRANE)"
        ))
    })
}

fn crane_run(crane: &Path, args: &[OsString], what: &str) -> CommandResult {
    let output = Command::new(crane)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| runtime(format!("{what}: cannot run {}: {e}", crane.display())))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(runtime(format!(
        "{what}: crane failed ({}): {}",
        output.status,
        stderr.trim()
    )))
}

/// The images' creation time: `$SOURCE_DATE_EPOCH` (reproducible builds), else the epoch, so
/// the same inputs always give the same digests.
fn created_time() -> String {
    let secs: i64 = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn human_size(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WorkloadKind;
    use crate::spec::sample::sample;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn platforms_must_be_configured() {
        let mut spec = sample(WorkloadKind::DaemonSet);
        assert_eq!(
            select_platforms(&spec, &[]).unwrap(),
            vec![Platform::LinuxAmd64]
        );
        let err = select_platforms(&spec, &["linux/arm64".into()]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .contains("not in build.platforms (linux/amd64)")
        );
        spec.build.platforms = vec![Platform::LinuxAmd64, Platform::LinuxArm64];
        assert_eq!(
            select_platforms(&spec, &["linux/arm64".into(), "linux/arm64".into()]).unwrap(),
            vec![Platform::LinuxArm64]
        );
        assert!(select_platforms(&spec, &["linux/s390x".into()]).is_err());
        assert_eq!(platform_dir(Platform::LinuxArm64), "linux-arm64");
    }
}
