//! The `docker` target: `docker/Dockerfile` and `docker/Dockerfile.dockerignore`.
//!
//! The layout lives in the templates `docker/Dockerfile.j2` and
//! `docker/Dockerfile.dockerignore.j2`; this module only computes values, each already quoted for
//! the Dockerfile instruction it lands in.

use serde::Serialize;

use super::{FileSet, RenderError, Target, assets, template};
use crate::spec::Spec;
use crate::spec::model::{BaseImage, EnvSource, Protocol, STOP_MARGIN};
use crate::util::shell_quote;

pub use super::plan::paths::{DOCKERFILE, DOCKERIGNORE};

/// checkov's inline skip of CKV_DOCKER_7 ("the base image uses a non-latest version tag") on
/// `FROM ${RUNTIME_IMAGE}`: checkov does not resolve build arguments, so it sees no tag. The
/// argument is there so the base can be swapped (a mirror, a digest) without editing the file.
pub fn checkov_runtime_skip(base: BaseImage) -> String {
    let default = match base {
        BaseImage::Scratch => "its default is scratch, which has no tags".to_owned(),
        other => format!("its default {} is pinned by tag", other.image()),
    };
    format!("CKV_DOCKER_7:checkov does not resolve the build argument RUNTIME_IMAGE; {default}")
}

/// Label carrying the stop budget in seconds, for tooling that starts containers.
pub const STOP_TIMEOUT_LABEL: &str = "io.berth.stop-timeout";

/// Renders the `docker` files of `spec` into `out`.
pub fn render(spec: &Spec, out: &mut FileSet) -> Result<(), RenderError> {
    let context = Context::new(spec);
    let dockerfile = template::render(&assets::DOCKER, "Dockerfile.j2", &context)?;
    out.insert(Target::Docker, DOCKERFILE, dockerfile)?;
    let ignore = template::render(&assets::DOCKER, "Dockerfile.dockerignore.j2", &context)?;
    out.insert(Target::Docker, DOCKERIGNORE, ignore)?;
    Ok(())
}

/// Everything the templates print, pre-formatted.
#[derive(Debug, Serialize)]
struct Context {
    name: String,
    image: String,
    bin: String,
    binary_path: String,
    rust_image: String,
    runtime_image: String,
    /// `CKV_DOCKER_7:<reason>`, see [`checkov_runtime_skip`].
    checkov_runtime_skip: String,
    base: &'static str,
    /// `scratch`: a statically linked binary built with `--target`.
    #[serde(rename = "static")]
    static_link: bool,
    copy_ca_certificates: bool,
    ca_bundle: &'static str,
    /// `-p <package> --bin <bin> [--features a,b]`, shell-quoted.
    cargo_args: String,
    /// `KEY="value"` items of the LABEL instruction, one per line.
    labels: String,
    /// `NAME=value` items of the ENV instruction, one per line.
    env: String,
    /// Names of `env:` entries of berth.yaml that are not baked into the image.
    other_env: String,
    user: String,
    user_is_root: bool,
    expose: String,
    stop_signal: &'static str,
    healthcheck_options: String,
    healthcheck: String,
    entrypoint: String,
    cmd: Option<String>,
    pre_stop_delay: String,
    drain_timeout: String,
    margin: String,
    stop_timeout: u64,
    config_path: Option<String>,
    config_file: Option<String>,
    /// `build.platforms`, comma and space separated.
    platforms: String,
    /// `build.platforms`, comma separated (the `--platform` value).
    platforms_csv: String,
    /// One `case` arm per platform: TARGETARCH to Rust target and cross packages.
    platform_cases: Vec<PlatformCase>,
    /// `CARGO_TARGET_<TRIPLE>_LINKER=<gnu triple>-gcc` items of the ENV instruction.
    linker_env: String,
}

#[derive(Debug, Serialize)]
struct PlatformCase {
    arch: &'static str,
    target: &'static str,
    gcc: &'static str,
    libc: &'static str,
}

/// The runtime image's configuration: what the Dockerfile's LABEL, ENV, USER, EXPOSE,
/// STOPSIGNAL, HEALTHCHECK, ENTRYPOINT and CMD say, defined once for the Dockerfile and for the
/// images `berth build` assembles without Docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// Labels in instruction order.
    pub labels: Vec<(String, String)>,
    /// The berth runtime contract ([`Spec::contract_env`]).
    pub env: Vec<(&'static str, String)>,
    /// `uid:gid`.
    pub user: String,
    /// Exposed ports as EXPOSE writes them: `8080`, `5353/udp`; the admin port last.
    pub exposed_ports: Vec<String>,
    /// `SIGTERM`: berth-sidecar drains on it.
    pub stop_signal: &'static str,
    /// The health check.
    pub healthcheck: Healthcheck,
    /// The exec-form entrypoint.
    pub entrypoint: Vec<String>,
    /// The exec-form command (arguments), when `args` is not empty.
    pub cmd: Option<Vec<String>>,
    /// Where the binary is installed.
    pub binary_path: String,
    /// Whether the image gets the build machine's CA bundle at
    /// [`CA_BUNDLE_PATH`] (every base but distroless, which ships one).
    pub ca_certificates: bool,
}

/// The HEALTHCHECK of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// The exec-form probe command.
    pub test: Vec<String>,
    /// Seconds between probes.
    pub interval_secs: u64,
    /// Seconds a probe may take.
    pub timeout_secs: u64,
    /// Seconds of start-up during which failures do not count.
    pub start_period_secs: u64,
    /// Consecutive failures before `unhealthy`.
    pub retries: u32,
}

/// Where the CA bundle lives in the builder and in the image.
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The configuration of `spec`'s runtime image.
pub fn image_config(spec: &Spec) -> ImageConfig {
    let stop_timeout = spec.shutdown.stop_timeout_secs();
    let mut labels = vec![(
        "org.opencontainers.image.title".to_owned(),
        spec.name.clone(),
    )];
    if !spec.description.is_empty() {
        // A line break cannot be written in a Dockerfile word: both images get a space.
        labels.push((
            "org.opencontainers.image.description".to_owned(),
            spec.description.replace(['\n', '\r'], " "),
        ));
    }
    if let Some(tag) = &spec.image.tag {
        labels.push(("org.opencontainers.image.version".to_owned(), tag.clone()));
    }
    labels.push((STOP_TIMEOUT_LABEL.to_owned(), stop_timeout.to_string()));

    let mut exposed_ports: Vec<String> = spec
        .ports
        .iter()
        .map(|p| match p.protocol {
            Protocol::Tcp => p.port.to_string(),
            Protocol::Udp => format!("{}/udp", p.port),
        })
        .collect();
    exposed_ports.push(spec.health.port.to_string());

    let binary_path = spec.binary_path();
    let test = std::iter::once(binary_path.as_str())
        .chain(super::plan::readyz_probe_args())
        .map(str::to_owned)
        .collect();
    let entrypoint = if spec.command.is_empty() {
        vec![binary_path.clone()]
    } else {
        spec.command.clone()
    };
    let uid = spec.security.run_as_user;
    ImageConfig {
        labels,
        env: spec.contract_env(),
        user: format!("{uid}:{uid}"),
        exposed_ports,
        stop_signal: "SIGTERM",
        healthcheck: Healthcheck {
            test,
            interval_secs: 10,
            timeout_secs: 3,
            start_period_secs: spec.health.startup_timeout.as_secs_ceil().max(1),
            retries: 3,
        },
        entrypoint,
        cmd: (!spec.args.is_empty()).then(|| spec.args.clone()),
        binary_path,
        ca_certificates: spec.build.base != BaseImage::Distroless,
    }
}

/// What `cargo build` is told to build: `-p <package> --bin <bin> [--features a,b]`,
/// shell-quoted (the Dockerfile's builder stage and the CI workflow's Windows job).
pub fn cargo_args(spec: &Spec) -> String {
    let mut args = format!(
        "-p {} --bin {}",
        shell_quote(&spec.build.package),
        shell_quote(&spec.build.bin)
    );
    if !spec.build.features.is_empty() {
        args.push_str(" --features ");
        args.push_str(&shell_quote(&spec.build.features.join(",")));
    }
    args
}

impl Context {
    fn new(spec: &Spec) -> Self {
        let base = spec.build.base;
        let static_link = base == BaseImage::Scratch;
        let config = image_config(spec);

        let cargo_args = cargo_args(spec);

        let env = config
            .env
            .iter()
            .map(|(name, value)| format!("{name}={}", docker_word(value)))
            .collect::<Vec<_>>()
            .join(" \\\n    ");
        let other_env = spec
            .env
            .iter()
            .map(|v| match &v.value {
                EnvSource::Value(_) => v.name.clone(),
                EnvSource::Secret { name, key } => format!("{} from Secret {name}/{key}", v.name),
                EnvSource::ConfigMap { name, key } => {
                    format!("{} from ConfigMap {name}/{key}", v.name)
                }
                EnvSource::Field { path } => format!("{} from {path}", v.name),
            })
            .collect::<Vec<_>>()
            .join(", ");

        let image = match &spec.image.tag {
            Some(tag) => format!("{}:{tag}", spec.image.repository),
            None => spec.image.repository.clone(),
        };
        let check = &config.healthcheck;

        Context {
            name: spec.name.clone(),
            image,
            bin: spec.build.bin.clone(),
            binary_path: config.binary_path.clone(),
            rust_image: format!("rust:{}-slim-bookworm", spec.build.rust_version),
            runtime_image: base.image().to_owned(),
            checkov_runtime_skip: checkov_runtime_skip(base),
            base: base.as_str(),
            static_link,
            copy_ca_certificates: config.ca_certificates,
            ca_bundle: CA_BUNDLE_PATH,
            cargo_args,
            labels: config
                .labels
                .iter()
                .map(|(k, v)| label(k, v))
                .collect::<Vec<_>>()
                .join(" \\\n      "),
            env,
            other_env,
            user: config.user.clone(),
            user_is_root: spec.security.run_as_user == 0,
            expose: config.exposed_ports.join(" "),
            stop_signal: config.stop_signal,
            healthcheck_options: format!(
                "--interval={}s --timeout={}s --start-period={}s --retries={}",
                check.interval_secs, check.timeout_secs, check.start_period_secs, check.retries
            ),
            healthcheck: json_array(check.test.iter().map(String::as_str)),
            entrypoint: json_array(config.entrypoint.iter().map(String::as_str)),
            cmd: config
                .cmd
                .as_ref()
                .map(|c| json_array(c.iter().map(String::as_str))),
            pre_stop_delay: spec.shutdown.pre_stop_delay.to_string(),
            drain_timeout: spec.shutdown.drain_timeout.to_string(),
            margin: STOP_MARGIN.to_string(),
            stop_timeout: spec.shutdown.stop_timeout_secs(),
            config_path: spec.config.as_ref().map(|c| c.mount_path.clone()),
            config_file: spec.config.as_ref().map(|c| c.file.clone()),
            platforms: platform_list(spec, ", "),
            platforms_csv: platform_list(spec, ","),
            platform_cases: spec
                .build
                .platforms
                .iter()
                .map(|p| {
                    let [gcc, libc] = p.debian_cross_packages();
                    PlatformCase {
                        arch: p.arch(),
                        target: p.rust_target(),
                        gcc,
                        libc,
                    }
                })
                .collect(),
            linker_env: spec
                .build
                .platforms
                .iter()
                .map(|p| format!("{}={}-gcc", p.cargo_linker_env(), p.gnu_triple()))
                .collect::<Vec<_>>()
                .join(" \\\n    "),
        }
    }
}

fn platform_list(spec: &Spec, separator: &str) -> String {
    spec.build
        .platforms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(separator)
}

/// `key="value"` for a LABEL instruction.
fn label(key: &str, value: &str) -> String {
    format!("{key}={}", docker_quoted(value))
}

/// A value for ENV: bare when it holds only characters with no meaning to the Dockerfile
/// parser, double-quoted otherwise.
fn docker_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:,@+=%".contains(c));
    if plain {
        value.to_owned()
    } else {
        docker_quoted(value)
    }
}

/// A double-quoted Dockerfile word: `\`, `"` and `$` are escaped (inside double quotes the
/// Dockerfile parser expands `$VAR` and treats `\` as an escape). A line break cannot be written
/// inside a word, so it becomes a space.
fn docker_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The exec form of ENTRYPOINT / CMD / HEALTHCHECK: a JSON array of strings.
fn json_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    // Serializing a Vec<&str> to JSON cannot fail.
    let text = serde_json::to_string(&items).unwrap_or_default();
    // serde_json writes `["a","b"]`; the Dockerfile convention (and hadolint's examples) is
    // `["a", "b"]`. Commas only occur between items or inside quoted strings.
    let mut out = String::with_capacity(text.len() + items.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        out.push(c);
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' {
            out.push(' ');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::{Port, WorkloadKind};
    use crate::spec::sample::sample;

    fn dockerfile(spec: &Spec) -> String {
        let mut files = FileSet::new();
        render(spec, &mut files).unwrap();
        files.get(DOCKERFILE).unwrap().contents.clone()
    }

    #[test]
    fn renders_both_files() {
        let mut files = FileSet::new();
        render(&sample(WorkloadKind::Deployment), &mut files).unwrap();
        assert_eq!(files.len(), 2);
        let ignore = &files.get(DOCKERIGNORE).unwrap().contents;
        assert!(ignore.lines().any(|l| l == "target/"));
        assert!(ignore.lines().any(|l| l == ".git/"));
        let patterns: Vec<&str> = ignore
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(
            patterns
                .iter()
                .all(|p| !p.contains("Cargo") && !p.ends_with(".rs") && *p != "*")
        );
    }

    #[test]
    fn distroless_default() {
        let d = dockerfile(&sample(WorkloadKind::Deployment));
        assert!(
            !d.contains("# syntax="),
            "a syntax directive would pull a frontend image"
        );
        assert!(d.contains("ARG RUST_IMAGE=rust:1.95-slim-bookworm\n"));
        assert!(d.contains("ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot\n"));
        let arg = d.find("ARG RUST_IMAGE").unwrap();
        assert!(
            arg < d.find("\nFROM ").unwrap(),
            "ARGs precede the first FROM"
        );
        assert!(d.contains("FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS builder\n"));
        assert!(d.contains("FROM ${RUNTIME_IMAGE}\n"));
        assert!(d.contains(
            " && cargo build --release --locked --target \"$target\" -p echo-daemon --bin echo-daemon \\\n"
        ));
        assert!(d.contains(
            "--mount=type=cache,id=berth-cargo-registry,target=/usr/local/cargo/registry"
        ));
        assert!(d.contains("target=/src/target"));
        assert!(d.contains(
            "install -D -m 0755 \"target/$target/release/echo-daemon\" /out/echo-daemon\n"
        ));
        // Default platforms: linux/amd64 only.
        assert!(d.contains(
            "      amd64) echo \"x86_64-unknown-linux-gnu gcc-x86-64-linux-gnu libc6-dev-amd64-cross\" ;; \\\n"
        ));
        assert!(!d.contains("arm64)"));
        assert!(d.contains(
            "ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc\nWORKDIR /src\n"
        ));
        assert!(d.contains("is not in build.platforms (linux/amd64)"));
        assert!(d.contains("COPY --from=builder /out/echo-daemon /usr/local/bin/echo-daemon\n"));
        assert!(
            !d.contains("ca-certificates.crt"),
            "distroless ships CA certificates"
        );
        assert!(!d.contains("crt-static"));
        assert!(d.contains("USER 65532:65532\n"));
        assert!(d.contains("STOPSIGNAL SIGTERM\n"));
        assert!(d.contains("EXPOSE 8080 9090\n"));
        assert!(d.contains("ENTRYPOINT [\"/usr/local/bin/echo-daemon\"]\n"));
        assert!(d.contains("CMD [\"--verbose\"]\n"));
        assert!(d.contains(
            "HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \\\n    \
             CMD [\"/usr/local/bin/echo-daemon\", \"--berth-probe\", \"readyz\"]\n"
        ));
        assert!(d.contains(
            "LABEL org.opencontainers.image.title=\"echo-daemon\" \\\n      \
             org.opencontainers.image.description=\"Echo server\" \\\n      \
             org.opencontainers.image.version=\"0.1.0\" \\\n      \
             io.berth.stop-timeout=\"30\"\n"
        ));
        assert!(d.contains("docker run --stop-timeout 30"));
        assert!(d.contains("docker stop -t 30"));
        assert!(d.contains(
            "docker build -f deploy/docker/Dockerfile -t ghcr.io/acme/echo-daemon:0.1.0 ."
        ));
        assert!(!d.contains("\n\n\n"), "no runs of blank lines:\n{d}");
        assert!(d.ends_with("]\n"));
    }

    #[test]
    fn contract_env_comes_from_the_spec() {
        let spec = sample(WorkloadKind::Deployment);
        let d = dockerfile(&spec);
        let expected: Vec<String> = spec
            .contract_env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(expected.len(), 5, "sample has a config file");
        let env_block = format!("ENV {}\n", expected.join(" \\\n    "));
        assert!(d.contains(&env_block), "{env_block}\nnot in\n{d}");
        // User env is deployment-specific: never baked into the image, least of all a secret.
        assert!(!d.contains("RUST_LOG=info"));
        assert!(
            d.contains("RUST_LOG, TOKEN from Secret echo-secrets/token, NODE from spec.nodeName")
        );
        assert!(d.contains("-v \"$PWD/config/echo.toml:/etc/echo-daemon/echo.toml:ro\""));
    }

    #[test]
    fn no_config_no_config_env() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.config = None;
        spec.env.clear();
        let d = dockerfile(&spec);
        assert!(!d.contains("BERTH_CONFIG_FILE"));
        assert!(!d.contains("configuration file"));
        assert!(!d.contains("docker run -e"));
        assert!(d.contains("BERTH_METRICS=true\n"));
    }

    #[test]
    fn scratch_is_static_with_certificates() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.build.base = BaseImage::Scratch;
        let d = dockerfile(&spec);
        assert!(d.contains("ARG RUNTIME_IMAGE=scratch\n"));
        assert!(d.contains(
            "RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --locked"
        ));
        assert!(d.contains("--target \"$target\" -p echo-daemon --bin echo-daemon"));
        assert!(d.contains("\"target/$target/release/echo-daemon\" /out/echo-daemon"));
        assert!(d.contains(
            "COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
        ));
        assert!(d.contains("USER 65532:65532\n"));
    }

    #[test]
    fn debian_slim_installs_nothing() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.build.base = BaseImage::DebianSlim;
        let d = dockerfile(&spec);
        assert!(d.contains("ARG RUNTIME_IMAGE=debian:bookworm-slim\n"));
        // Only the builder installs (a cross compiler, when cross-compiling); the runtime
        // stage installs nothing.
        let runtime = &d[d.find("FROM ${RUNTIME_IMAGE}").unwrap()..];
        assert!(!runtime.contains("apt-get"));
        assert!(!d.contains("useradd"));
        assert!(!d.contains("crt-static"));
        assert!(d.contains("COPY --from=builder /etc/ssl/certs/ca-certificates.crt"));
    }

    #[test]
    fn udp_ports_features_and_no_args() {
        let mut spec = sample(WorkloadKind::DaemonSet);
        spec.ports.push(Port {
            name: "dns".into(),
            port: 5353,
            protocol: Protocol::Udp,
            expose: false,
        });
        spec.build.features = vec!["tls".into(), "serde/derive".into()];
        spec.build.rust_version = "1.90".into();
        spec.args.clear();
        spec.health.port = 9102;
        let d = dockerfile(&spec);
        assert!(d.contains("EXPOSE 8080 5353/udp 9102\n"));
        assert!(d.contains("--bin echo-daemon --features tls,serde/derive \\\n"));
        assert!(d.contains("ARG RUST_IMAGE=rust:1.90-slim-bookworm\n"));
        assert!(!d.contains("\nCMD "));
        assert!(d.contains("BERTH_ADMIN_ADDR=0.0.0.0:9102"));
    }

    #[test]
    fn no_ports_exposes_admin_only() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.ports.clear();
        assert!(dockerfile(&spec).contains("EXPOSE 9090\n"));
    }

    #[test]
    fn command_overrides_entrypoint_and_args_are_quoted() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.command = vec!["/usr/local/bin/echo-daemon".into(), "serve".into()];
        spec.args = vec!["--greeting=say \"hi\"".into(), "a\\b".into()];
        let d = dockerfile(&spec);
        assert!(d.contains("ENTRYPOINT [\"/usr/local/bin/echo-daemon\", \"serve\"]\n"));
        assert!(
            d.contains(r#"CMD ["--greeting=say \"hi\"", "a\\b"]"#),
            "{d}"
        );
    }

    #[test]
    fn user_and_root() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.security.run_as_user = 10001;
        assert!(dockerfile(&spec).contains("USER 10001:10001\n"));
        spec.security.run_as_user = 0;
        spec.security.run_as_root = true;
        let d = dockerfile(&spec);
        assert!(d.contains("# hadolint ignore=DL3002\nUSER 0:0\n"));
        assert!(d.contains("security.runAsRoot"));
    }

    #[test]
    fn stop_budget_follows_the_grace_arithmetic() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.shutdown.pre_stop_delay = crate::spec::Duration::from_secs(10);
        spec.shutdown.drain_timeout = crate::spec::Duration::from_millis(45_500);
        spec.health.startup_timeout = crate::spec::Duration::from_millis(1500);
        let d = dockerfile(&spec);
        // 10 + 45.5 + 5 = 60.5, rounded up.
        assert!(d.contains("io.berth.stop-timeout=\"61\""));
        assert!(d.contains("docker stop -t 61"));
        assert!(d.contains("--start-period=2s"));
        assert!(d.contains("BERTH_DRAIN_TIMEOUT=45.5s"));
    }

    #[test]
    fn labels_escape_text() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.description = "Says \"hi\" for $5\nand more\\".into();
        spec.image.tag = None;
        spec.image.digest = Some(format!("sha256:{}", "a".repeat(64)));
        let d = dockerfile(&spec);
        assert!(
            d.contains(
                r#"org.opencontainers.image.description="Says \"hi\" for \$5 and more\\" \"#
            ),
            "{d}"
        );
        assert!(!d.contains("image.version"));
        assert!(d.contains("-t ghcr.io/acme/echo-daemon ."));
    }

    #[test]
    fn platforms_map_targetarch_to_rust_targets() {
        let mut spec = sample(WorkloadKind::DaemonSet);
        spec.build.platforms = vec![
            crate::spec::Platform::LinuxArm64,
            crate::spec::Platform::LinuxAmd64,
        ];
        let d = dockerfile(&spec);
        assert!(d.contains(
            "RUN case \"$TARGETARCH\" in \\\n      \
             arm64) echo \"aarch64-unknown-linux-gnu gcc-aarch64-linux-gnu libc6-dev-arm64-cross\" ;; \\\n      \
             amd64) echo \"x86_64-unknown-linux-gnu gcc-x86-64-linux-gnu libc6-dev-amd64-cross\" ;; \\\n"
        ));
        assert!(d.contains("is not in build.platforms (linux/arm64, linux/amd64)"));
        assert!(d.contains("docker buildx build --platform linux/arm64,linux/amd64 "));
        assert!(d.contains(
            "ENV CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \\\n    \
             CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc\n"
        ));
        // Cross setup only when the target differs from the builder's own architecture.
        assert!(d.contains("if [ \"$TARGETARCH\" != \"$BUILDARCH\" ]; then"));
        assert!(d.contains("rustup target add \"$target\""));
    }

    #[test]
    fn deterministic() {
        let spec = sample(WorkloadKind::DaemonSet);
        assert_eq!(dockerfile(&spec), dockerfile(&spec));
    }

    #[test]
    fn quoting_helpers() {
        assert_eq!(docker_word("0.0.0.0:9090"), "0.0.0.0:9090");
        assert_eq!(docker_word("a b"), "\"a b\"");
        assert_eq!(docker_word(""), "\"\"");
        assert_eq!(shell_quote("tls,x/y"), "tls,x/y");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(json_array(["a,b", "c\"d", "e"]), r#"["a,b", "c\"d", "e"]"#);
        assert_eq!(json_array(["x\\"]), r#"["x\\"]"#);
    }
}
