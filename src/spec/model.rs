//! The resolved description: every default filled in, every rule checked.
//!
//! This is what every renderer consumes. It is built only by [`crate::spec::load`] /
//! [`crate::spec::resolve`] from a `berth.yaml`, so a value of [`Spec`] is always valid: renderers
//! never re-check rules and never see an `Option` where the format has a default.

use std::collections::BTreeMap;

use serde::Serialize;

use super::duration::Duration;

/// The only accepted `apiVersion`.
pub const API_VERSION: &str = "berth/v1";

/// A resolved `berth.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// DNS-1123 label, 1..=53 characters.
    pub name: String,
    /// Free text; empty when not given.
    pub description: String,
    /// The kind of Kubernetes workload.
    pub workload: WorkloadKind,
    /// Replica count of a Deployment (default 2). Always 0 for a DaemonSet, which has none.
    pub replicas: u32,
    /// The container image.
    pub image: ImageRef,
    /// Overrides the image entrypoint; empty means the built binary (`/usr/local/bin/<bin>`).
    pub command: Vec<String>,
    /// Arguments passed to the daemon.
    pub args: Vec<String>,
    /// Application ports (never the admin port).
    pub ports: Vec<Port>,
    /// The admin server of berth-sidecar and start-up budget.
    pub health: Health,
    /// Shutdown timing shared by every target.
    pub shutdown: Shutdown,
    /// Environment variables in the order written.
    pub env: Vec<EnvVar>,
    /// Resource requests and limits.
    pub resources: Resources,
    /// Volumes and their mounts.
    pub volumes: Vec<Volume>,
    /// The daemon's configuration file, when it has one.
    pub config: Option<ConfigFile>,
    /// Where pods may run and how they roll.
    pub scheduling: Scheduling,
    /// Host namespaces.
    pub host: Host,
    /// Process security settings.
    pub security: Security,
    /// Prometheus metrics on the admin port.
    pub metrics: Metrics,
    /// How the image is built from a Cargo workspace.
    pub build: Build,
    /// The systemd unit.
    pub systemd: Systemd,
    /// The Windows service.
    pub windows: Windows,
}

/// `workload:` — the Kubernetes controller that runs the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WorkloadKind {
    /// A replicated, rolling-updated set of pods.
    Deployment,
    /// One pod per node.
    DaemonSet,
}

impl WorkloadKind {
    /// The Kubernetes kind name (`Deployment` / `DaemonSet`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

/// `image:` split into its parts. At least one of `tag` and `digest` is set, and `tag` is never
/// `latest` without a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    /// Registry and path, e.g. `ghcr.io/acme/echo-daemon`.
    pub repository: String,
    /// The tag, e.g. `0.1.0`.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// One application port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    /// IANA service name: 1..=15 of `[a-z0-9-]` with at least one letter.
    pub name: String,
    /// 1..=65535, unique across ports and `health.port`.
    pub port: u16,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Whether the Service includes this port.
    pub expose: bool,
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    /// TCP (the default).
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    /// `TCP` / `UDP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// `health:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// The admin port served by berth-sidecar (default 9090).
    pub port: u16,
    /// How long start-up may take (default 60s).
    pub startup_timeout: Duration,
}

/// `shutdown:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shutdown {
    /// Readiness fails first, the daemon keeps serving this long (default 5s).
    pub pre_stop_delay: Duration,
    /// Time for in-flight work before a forced stop (default 20s).
    pub drain_timeout: Duration,
}

/// Margin added to the drain budget so logs and telemetry flush before SIGKILL.
pub const STOP_MARGIN: Duration =
    Duration::from_secs(berth_sidecar::contract::STOP_MARGIN.as_secs());

impl Shutdown {
    /// The one stop budget used by every target: `preStopDelay + drainTimeout + 5s`.
    /// `terminationGracePeriodSeconds`, systemd `TimeoutStopSec` and `docker stop -t`.
    pub fn stop_timeout(&self) -> Duration {
        self.pre_stop_delay + self.drain_timeout + STOP_MARGIN
    }

    /// [`Shutdown::stop_timeout`] rounded up to whole seconds.
    pub fn stop_timeout_secs(&self) -> u64 {
        self.stop_timeout().as_secs_ceil()
    }
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// The variable name (a C identifier: `[A-Za-z_][A-Za-z0-9_]*`).
    pub name: String,
    /// Where its value comes from.
    pub value: EnvSource,
}

/// The value of an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvSource {
    /// A literal string.
    Value(String),
    /// A key of a Secret.
    Secret {
        /// Secret name.
        name: String,
        /// Key in the Secret.
        key: String,
    },
    /// A key of a ConfigMap.
    ConfigMap {
        /// ConfigMap name.
        name: String,
        /// Key in the ConfigMap.
        key: String,
    },
    /// A downward-API field, e.g. `spec.nodeName`.
    Field {
        /// The `fieldPath`.
        path: String,
    },
}

/// `resources:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// Requested resources.
    pub requests: ResourceList,
    /// Limits; never below the matching request.
    pub limits: ResourceList,
}

/// The starting requests (cpu, memory) `berth init` writes and berth uses when `resources` is
/// omitted: a small daemon at rest.
pub const STARTING_REQUESTS: (&str, &str) = ("50m", "64Mi");
/// The starting limits (cpu, memory), as [`STARTING_REQUESTS`].
pub const STARTING_LIMITS: (&str, &str) = ("500m", "128Mi");

impl Resources {
    /// [`STARTING_REQUESTS`] and [`STARTING_LIMITS`]: what an omitted `resources` means.
    pub fn starting_values() -> Self {
        let list = |(cpu, memory): (&str, &str)| ResourceList {
            cpu: Some(cpu.to_owned()),
            memory: Some(memory.to_owned()),
        };
        Resources {
            requests: list(STARTING_REQUESTS),
            limits: list(STARTING_LIMITS),
        }
    }

    /// `requests: {cpu: 50m, memory: 64Mi}`-style flow text of [`Self::starting_values`], as
    /// `berth init` writes it and `berth validate` reports it.
    pub fn starting_values_text() -> (String, String) {
        let flow = |(cpu, memory): (&str, &str)| format!("{{cpu: {cpu}, memory: {memory}}}");
        (flow(STARTING_REQUESTS), flow(STARTING_LIMITS))
    }

    /// True when neither requests nor limits set anything.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.limits.is_empty()
    }
}

/// CPU and memory quantities, each as written (a valid Kubernetes quantity).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceList {
    /// e.g. `50m`.
    pub cpu: Option<String>,
    /// e.g. `64Mi`.
    pub memory: Option<String>,
}

impl ResourceList {
    /// True when neither cpu nor memory is set.
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }
}

/// One volume and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// DNS-1123 label, unique.
    pub name: String,
    /// What backs the volume.
    pub source: VolumeSource,
    /// Absolute, unique path in the container.
    pub mount_path: String,
    /// Mount read-only.
    pub read_only: bool,
}

/// What backs a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum VolumeSource {
    /// A path on the node (absolute).
    HostPath(String),
    /// A scratch directory that lives as long as the pod.
    EmptyDir,
    /// A Secret by name.
    Secret(String),
    /// A ConfigMap by name.
    ConfigMap(String),
}

/// `config:` — one configuration file shipped with the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigFile {
    /// The path as written, relative to `berth.yaml` (forward slashes).
    pub file: String,
    /// The file name alone (the ConfigMap key), e.g. `echo.toml`.
    pub file_name: String,
    /// The file's contents, read when the description was loaded.
    pub contents: String,
    /// Absolute path of the file inside the container / on the host.
    pub mount_path: String,
    /// berth-sidecar reloads the file on change instead of the pod restarting.
    pub reload: bool,
}

/// `scheduling:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scheduling {
    /// Node labels a pod requires (default `kubernetes.io/os: linux`).
    pub node_selector: BTreeMap<String, String>,
    /// Kubernetes tolerations.
    pub tolerations: Vec<Toleration>,
    /// Empty when not set.
    pub priority_class_name: String,
    /// Rolling-update `maxUnavailable` of a DaemonSet (a Deployment always uses 0).
    pub max_unavailable: IntOrPercent,
}

/// A number or a percentage, e.g. `1` or `25%`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IntOrPercent {
    /// An absolute count.
    Int(u32),
    /// A percentage 0..=100, written with `%`.
    Percent(String),
}

/// A Kubernetes toleration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// Taint key; empty with `Exists` matches every taint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` or `Exists`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Taint value (with `Equal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// With `NoExecute`: how long the pod stays bound after the taint appears.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// `host:` — host namespaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    /// `hostNetwork`.
    pub network: bool,
    /// `hostPID`.
    pub pid: bool,
}

/// `security:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Security {
    /// UID the process runs as (default 65532); 0 only with `run_as_root`.
    pub run_as_user: i64,
    /// Explicitly allows `runAsUser: 0`.
    pub run_as_root: bool,
    /// Mount the root file system read-only (default true).
    pub read_only_root_filesystem: bool,
    /// Added Linux capabilities without the `CAP_` prefix, upper case, sorted; all others dropped.
    pub capabilities: Vec<String>,
}

/// `metrics:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// `/metrics` on the admin port (default true).
    pub enabled: bool,
}

/// `build:` — how the image is built from a Cargo workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    /// Cargo package (default: `name`).
    pub package: String,
    /// Binary target (default: `package`).
    pub bin: String,
    /// Rust toolchain of the builder image (default `1.95`).
    pub rust_version: String,
    /// Runtime base image.
    pub base: BaseImage,
    /// Cargo features to enable.
    pub features: Vec<String>,
    /// Platforms the image is built for, in the order written, without duplicates; never empty
    /// (default `[linux/amd64]`).
    pub platforms: Vec<Platform>,
}

/// A platform of `build.platforms`: an OS/architecture pair as Docker and OCI spell it
/// (`linux/arm64`). Every fact about a platform (Rust target, C cross compiler, Debian
/// architecture) is defined here once; the Dockerfile, `berth build` and the CI workflow read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Platform {
    /// `linux/amd64` (x86-64).
    #[serde(rename = "linux/amd64")]
    LinuxAmd64,
    /// `linux/arm64` (AArch64: Graviton, Ampere, Raspberry Pi 4/5 with a 64-bit OS).
    #[serde(rename = "linux/arm64")]
    LinuxArm64,
}

impl Platform {
    /// Every supported platform, in a fixed order.
    pub const ALL: [Platform; 2] = [Platform::LinuxAmd64, Platform::LinuxArm64];

    /// `os/arch`, as `docker build --platform` and OCI image indexes write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "linux/amd64",
            Platform::LinuxArm64 => "linux/arm64",
        }
    }

    /// The platform named `os/arch`.
    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The OCI `os` (also Docker's `TARGETOS`).
    pub fn os(self) -> &'static str {
        "linux"
    }

    /// The OCI `architecture` (also Docker's `TARGETARCH` and Debian's architecture name).
    pub fn arch(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "amd64",
            Platform::LinuxArm64 => "arm64",
        }
    }

    /// The Rust target triple of a glibc binary for this platform.
    pub fn rust_target(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "x86_64-unknown-linux-gnu",
            Platform::LinuxArm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The GNU triple prefixing the platform's C compiler (`<triple>-gcc`): the linker Cargo
    /// uses for [`Platform::rust_target`], natively and when cross-compiling.
    pub fn gnu_triple(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "x86_64-linux-gnu",
            Platform::LinuxArm64 => "aarch64-linux-gnu",
        }
    }

    /// Debian packages that cross-compile and link for this platform from another one.
    pub fn debian_cross_packages(self) -> [&'static str; 2] {
        match self {
            Platform::LinuxAmd64 => ["gcc-x86-64-linux-gnu", "libc6-dev-amd64-cross"],
            Platform::LinuxArm64 => ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
        }
    }

    /// What [`crate::image::describe_elf`] says of a binary built for this platform.
    pub fn elf_description(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "ELF 64-bit LSB x86-64",
            Platform::LinuxArm64 => "ELF 64-bit LSB AArch64",
        }
    }

    /// The platform of the machine berth runs on, when it is a supported one.
    pub fn host() -> Option<Platform> {
        match (std::env::consts::OS, std::env::consts::ARCH) {
            ("linux", "x86_64") => Some(Platform::LinuxAmd64),
            ("linux", "aarch64") => Some(Platform::LinuxArm64),
            _ => None,
        }
    }

    /// The variable naming Cargo's linker for [`Platform::rust_target`], e.g.
    /// `CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER`.
    pub fn cargo_linker_env(self) -> String {
        format!(
            "CARGO_TARGET_{}_LINKER",
            self.rust_target().to_ascii_uppercase().replace('-', "_")
        )
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default `build.platforms`.
pub const DEFAULT_PLATFORMS: [Platform; 1] = [Platform::LinuxAmd64];

/// Default `build.rustVersion`.
pub const DEFAULT_RUST_VERSION: &str = "1.95";

/// `build.base` — the runtime image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseImage {
    /// `gcr.io/distroless/cc-debian12:nonroot` (default).
    Distroless,
    /// `debian:bookworm-slim`.
    DebianSlim,
    /// `scratch` with a statically linked binary.
    Scratch,
}

impl BaseImage {
    /// The image reference the Dockerfile's runtime `ARG` defaults to.
    pub fn image(self) -> &'static str {
        match self {
            BaseImage::Distroless => "gcr.io/distroless/cc-debian12:nonroot",
            BaseImage::DebianSlim => "debian:bookworm-slim",
            BaseImage::Scratch => "scratch",
        }
    }

    /// The value as written in `berth.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            BaseImage::Distroless => "distroless",
            BaseImage::DebianSlim => "debian-slim",
            BaseImage::Scratch => "scratch",
        }
    }
}

/// `systemd:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Systemd {
    /// `User=`; `None` means `DynamicUser=yes`.
    pub user: Option<String>,
    /// `Restart=`.
    pub restart: RestartPolicy,
    /// `WatchdogSec=`; zero disables the watchdog (default 30s).
    pub watchdog: Duration,
}

/// `systemd.restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// `Restart=always`.
    Always,
    /// `Restart=on-failure` (default).
    OnFailure,
    /// `Restart=no`.
    No,
}

impl RestartPolicy {
    /// The systemd spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::No => "no",
        }
    }
}

/// `windows:` — the Windows service the `windows` target installs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Windows {
    /// Whether the `windows` target is generated. Defaults to true unless the daemon needs the
    /// Linux host ([`Windows::linux_only_reason`]); `true` for such a daemon is an error.
    pub enabled: bool,
    /// The name the Services console shows (default: `name`).
    pub display_name: String,
    /// When the service starts.
    pub start_type: StartType,
    /// The account the service runs as.
    pub account: ServiceAccount,
    /// Where the `.exe` is installed, a Windows path (default `%ProgramFiles%\<name>`).
    pub install_dir: String,
    /// What the Service Control Manager does when the service fails.
    pub recovery: Recovery,
}

/// `windows.startType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartType {
    /// Starts at boot (`sc create start= auto`, the default).
    Automatic,
    /// Starts shortly after boot (`start= delayed-auto`).
    Delayed,
    /// Starts only when asked (`start= demand`).
    Manual,
}

impl StartType {
    /// The value as written in `berth.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            StartType::Automatic => "automatic",
            StartType::Delayed => "delayed",
            StartType::Manual => "manual",
        }
    }
    /// The `sc.exe` spelling (`start= ...`).
    pub fn sc_value(self) -> &'static str {
        match self {
            StartType::Automatic => "auto",
            StartType::Delayed => "delayed-auto",
            StartType::Manual => "demand",
        }
    }
}

/// `windows.account`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServiceAccount {
    /// The virtual account `NT SERVICE\<name>` (the default): no password, its own SID, no
    /// rights beyond what the scripts grant it.
    #[serde(rename = "virtual")]
    Virtual,
    /// `NT AUTHORITY\LocalService`: shared, minimal rights, anonymous on the network.
    LocalService,
    /// `NT AUTHORITY\NetworkService`: shared, minimal rights, the machine's identity on the network.
    NetworkService,
    /// `LocalSystem`: full control of the machine (`berth validate` warns).
    LocalSystem,
}

impl ServiceAccount {
    /// The value as written in `berth.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAccount::Virtual => "virtual",
            ServiceAccount::LocalService => "LocalService",
            ServiceAccount::NetworkService => "NetworkService",
            ServiceAccount::LocalSystem => "LocalSystem",
        }
    }

    /// The account name `sc create obj=` and `icacls /grant` take for the service `name`.
    pub fn object_name(self, name: &str) -> String {
        match self {
            ServiceAccount::Virtual => format!("NT SERVICE\\{name}"),
            ServiceAccount::LocalService => "NT AUTHORITY\\LocalService".to_owned(),
            ServiceAccount::NetworkService => "NT AUTHORITY\\NetworkService".to_owned(),
            ServiceAccount::LocalSystem => "LocalSystem".to_owned(),
        }
    }
}

/// `windows.recovery` — failure actions of the Service Control Manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    /// Restart the service this long after a failure (default 5s); zero: no restart.
    pub restart_delay: Duration,
    /// The failure count resets after this long without a failure (default 24h).
    pub reset_period: Duration,
    /// Apply the actions also when the service stops with a non-zero exit code, e.g. 124
    /// after a forced drain (default true; `sc failureflag`).
    pub on_non_crash_failures: bool,
}

impl Windows {
    /// The defaults for the daemon `name`: enabled, automatic start, the virtual account,
    /// `%ProgramFiles%\\<name>`, restart after 5s, reset after 24h, also on non-zero exits.
    pub fn defaults(name: &str) -> Windows {
        Windows {
            enabled: true,
            display_name: name.to_owned(),
            start_type: StartType::Automatic,
            account: ServiceAccount::Virtual,
            install_dir: format!("%ProgramFiles%\\{name}"),
            recovery: Recovery {
                restart_delay: Duration::from_secs(5),
                reset_period: Duration::from_secs(24 * 3600),
                on_non_crash_failures: true,
            },
        }
    }

    /// Why a daemon cannot run as a Windows service, if it cannot: it reads the Linux host
    /// (`host.pid`, `hostPath` volumes).
    pub fn linux_only_reason(host: &Host, volumes: &[Volume]) -> Option<String> {
        if host.pid {
            return Some("host.pid: the daemon reads the Linux host's processes".to_owned());
        }
        volumes.iter().find_map(|v| match &v.source {
            VolumeSource::HostPath(path) => Some(format!(
                "volume {} mounts the Linux host path {path}",
                v.name
            )),
            _ => None,
        })
    }
}

impl Spec {
    /// The binary's path inside the image and on a host: `/usr/local/bin/<bin>`.
    pub fn binary_path(&self) -> String {
        format!("/usr/local/bin/{}", self.build.bin)
    }

    /// The admin address the daemon binds: `0.0.0.0:<health.port>`.
    pub fn admin_addr(&self) -> String {
        format!("0.0.0.0:{}", self.health.port)
    }

    /// The runtime contract shared with berth-sidecar, in a fixed order: every target
    /// (Dockerfile `ENV`, pod `env`, systemd environment file) passes exactly these.
    pub fn contract_env(&self) -> Vec<(&'static str, String)> {
        crate::render::plan::contract_env(self)
    }

    /// Ports included in the Service.
    pub fn exposed_ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().filter(|p| p.expose)
    }
}
