//! The `systemd` target: `systemd/<name>.service` and `systemd/<name>.env`.
//!
//! The layout lives in `templates/systemd/unit.service.j2` and `templates/systemd/unit.env.j2`;
//! this module computes every value, already quoted for systemd: `ExecStart=` words follow the
//! unit-file command-line syntax (`%%`, `$$`, C escapes in double quotes), environment-file
//! values the `EnvironmentFile=` syntax (double quotes with `\"`, `\\`, `` \` ``, `\$`).
//!
//! Mapping decisions from the Kubernetes-shaped description to a host:
//! - `env` literal values go to the environment file; `{field: spec.nodeName}` becomes
//!   `Environment=NAME=%H` in the unit (an environment file expands nothing); Secret/ConfigMap
//!   references and other downward-API fields have no host equivalent, so the environment file
//!   carries a commented line telling the operator how to set them.
//! - `hostPath` volumes become `BindReadOnlyPaths=` / `BindPaths=` from the host path to the
//!   mount path, so the daemon sees the same paths as in a pod; `emptyDir` becomes a
//!   sub-directory of `RuntimeDirectory=` bound at the mount path (per-run scratch, like a pod's);
//!   Secret/ConfigMap volumes are optional read-only binds from `/etc/<name>/<volume>/`.
//! - `security.capabilities` set both `CapabilityBoundingSet=` and `AmbientCapabilities=`
//!   (empty: none at all). `PrivateUsers=yes` is only used without capabilities (inside a user
//!   namespace a capability would not apply to the host's network namespace).
//! - A DaemonSet is a node agent: it keeps the full `/proc` (`/proc/loadavg`, `/proc/meminfo`),
//!   so `ProcSubset=pid` is only set for Deployments; `host.pid` also drops
//!   `ProtectProc=invisible` (the agent wants to see the host's processes).
//! - `resources.limits` become `MemoryMax=` / `CPUQuota=`.
//! - `IPAddressDeny=` and `PrivateNetwork=` are not set: the daemon serves the network.
//! - `security.runAsUser` and `security.readOnlyRootFilesystem` are container settings: a unit
//!   runs as `systemd.user` or a transient user (`DynamicUser=yes`) and always gets
//!   `ProtectSystem=strict`, writable only in its State/Runtime/Logs directories and binds.

use serde::Serialize;

use super::{FileSet, RenderError, Target, assets, plan, template};
use crate::spec::Spec;
use crate::spec::model::{EnvSource, STOP_MARGIN, VolumeSource, WorkloadKind};

/// Renders the `systemd` files of `spec` into `out`.
pub fn render(spec: &Spec, out: &mut FileSet) -> Result<(), RenderError> {
    let unit = UnitContext::new(spec);
    let text = template::render(&assets::TEMPLATES, "systemd/unit.service.j2", &unit)?;
    out.insert(Target::Systemd, unit_path(spec), text)?;
    let env = EnvContext::new(spec);
    let text = template::render(&assets::TEMPLATES, "systemd/unit.env.j2", &env)?;
    out.insert(Target::Systemd, env_path(spec), text)?;
    Ok(())
}

/// `systemd/<name>.service`.
pub fn unit_path(spec: &Spec) -> String {
    super::plan::paths::unit(spec)
}

/// `systemd/<name>.env`.
pub fn env_path(spec: &Spec) -> String {
    super::plan::paths::env(spec)
}

/// Values of the unit template.
#[derive(Debug, Serialize)]
struct UnitContext {
    name: String,
    /// Where the environment file and the unit are installed ([`plan::install`]).
    env_file: String,
    unit_dir: &'static str,
    description: String,
    binary_path: String,
    config_path: Option<String>,
    user: Option<String>,
    exec_start: String,
    exec_reload: bool,
    restart: &'static str,
    restart_sec: bool,
    start_timeout: u64,
    stop_timeout: u64,
    pre_stop_delay: String,
    drain_timeout: String,
    margin: String,
    /// `WatchdogSec=` value; `None` when disabled.
    watchdog: Option<String>,
    /// `Environment=` lines.
    environment: Vec<String>,
    runtime_directories: String,
    /// `MemoryMax=` / `CPUQuota=` lines.
    resources: Vec<String>,
    /// `BindPaths=` / `BindReadOnlyPaths=` lines.
    mounts: Vec<String>,
    /// Header comment lines explaining sandbox choices.
    sandbox_notes: Vec<String>,
    private_users: bool,
    protect_proc: bool,
    proc_subset: bool,
    address_families: String,
    /// `CAP_X CAP_Y`, or empty for none.
    capabilities: String,
}

impl UnitContext {
    fn new(spec: &Spec) -> Self {
        let binary_path = spec.binary_path();
        let command: Vec<&str> = if spec.command.is_empty() {
            vec![binary_path.as_str()]
        } else {
            spec.command.iter().map(String::as_str).collect()
        };
        let exec_start = command
            .into_iter()
            .chain(spec.args.iter().map(String::as_str))
            .map(exec_word)
            .collect::<Vec<_>>()
            .join(" ");

        let description = if spec.description.is_empty() {
            spec.name.clone()
        } else {
            spec.description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };

        let environment = spec
            .env
            .iter()
            .filter_map(|v| match &v.value {
                EnvSource::Field { path } if path == NODE_NAME_FIELD => Some(format!(
                    "# {}: the host name stands in for the Kubernetes node name ({path}); set here because an\n\
                     # environment file cannot expand %H.\nEnvironment={}=%H",
                    v.name, v.name
                )),
                _ => None,
            })
            .collect();

        let mut runtime_directories = vec![spec.name.clone()];
        let mut mounts = Vec::new();
        let mut notes = Vec::new();
        for volume in &spec.volumes {
            let bind = if volume.read_only {
                "BindReadOnlyPaths"
            } else {
                "BindPaths"
            };
            let dest = path_word(&volume.mount_path);
            match &volume.source {
                VolumeSource::HostPath(host) => {
                    mounts.push(format!("# Volume {} (hostPath {host}).", volume.name));
                    mounts.push(format!("{bind}={}:{dest}", path_word(host)));
                }
                VolumeSource::EmptyDir => {
                    let dir = format!("{}/{}", spec.name, volume.name);
                    mounts.push(format!(
                        "# Volume {} (emptyDir): a scratch directory under RuntimeDirectory=, removed at stop.",
                        volume.name
                    ));
                    mounts.push(format!("{bind}=%t/{}:{dest}", path_word(&dir)));
                    runtime_directories.push(dir);
                }
                VolumeSource::Secret(name) | VolumeSource::ConfigMap(name) => {
                    let kind = if matches!(volume.source, VolumeSource::Secret(_)) {
                        "Secret"
                    } else {
                        "ConfigMap"
                    };
                    let src = format!("/etc/{}/{}", spec.name, volume.name);
                    mounts.push(format!(
                        "# Volume {} ({kind} {name}): put its keys as files into {src}/ (optional: '-').",
                        volume.name
                    ));
                    mounts.push(format!("BindReadOnlyPaths=-{}:{dest}", path_word(&src)));
                }
            }
        }

        let caps = &spec.security.capabilities;
        let capabilities = caps
            .iter()
            .map(|c| format!("CAP_{c}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut families = vec!["AF_UNIX", "AF_INET", "AF_INET6"];
        if caps.iter().any(|c| c == "NET_ADMIN") {
            families.push("AF_NETLINK");
        }
        if caps.iter().any(|c| c == "NET_RAW") {
            families.push("AF_PACKET");
        }
        let private_users = caps.is_empty();
        let protect_proc = !spec.host.pid;
        let proc_subset = spec.workload == WorkloadKind::Deployment && !spec.host.pid;
        if !private_users {
            notes.push(format!(
                "Capabilities {capabilities} are granted, so PrivateUsers= is off (they must act on the host)."
            ));
        }
        if !proc_subset {
            notes.push("A node agent: /proc stays complete (no ProcSubset=pid) for /proc/loadavg, /proc/meminfo.".into());
        }
        if !protect_proc {
            notes.push(
                "host.pid: other processes stay visible in /proc (no ProtectProc=invisible)."
                    .into(),
            );
        }
        if spec.host.network {
            notes.push(
                "host.network needs nothing here: a unit always uses the host's network.".into(),
            );
        }

        let mut resources = Vec::new();
        if let Some(memory) = spec
            .resources
            .limits
            .memory
            .as_deref()
            .and_then(memory_bytes)
        {
            resources.push(format!("MemoryMax={memory}"));
        }
        if let Some(quota) = spec.resources.limits.cpu.as_deref().and_then(cpu_percent) {
            resources.push(format!("CPUQuota={quota}%"));
        }
        if !resources.is_empty() {
            resources.insert(0, "# resources.limits of berth.yaml.".into());
        }

        let watchdog =
            (!spec.systemd.watchdog.is_zero()).then(|| systemd_time(spec.systemd.watchdog));

        let install = plan::install(spec);
        UnitContext {
            name: spec.name.clone(),
            env_file: install.env_file,
            unit_dir: install.unit_dir,
            description: specifier_escape(&description),
            binary_path,
            config_path: spec.config.as_ref().map(|c| c.mount_path.clone()),
            user: spec.systemd.user.clone(),
            exec_start,
            // berth-sidecar handles SIGHUP only with a reload hook (`config.reload: true`); without
            // one SIGHUP would end the daemon, so `systemctl reload` must not be offered.
            exec_reload: spec.config.as_ref().is_some_and(|c| c.reload),
            restart: spec.systemd.restart.as_str(),
            restart_sec: spec.systemd.restart != crate::spec::model::RestartPolicy::No,
            start_timeout: spec.health.startup_timeout.as_secs_ceil().max(1),
            stop_timeout: spec.shutdown.stop_timeout_secs(),
            pre_stop_delay: spec.shutdown.pre_stop_delay.to_string(),
            drain_timeout: spec.shutdown.drain_timeout.to_string(),
            margin: STOP_MARGIN.to_string(),
            watchdog,
            environment,
            runtime_directories: runtime_directories
                .iter()
                .map(|d| path_word(d))
                .collect::<Vec<_>>()
                .join(" "),
            resources,
            mounts,
            sandbox_notes: notes,
            private_users,
            protect_proc,
            proc_subset,
            address_families: families.join(" "),
            capabilities,
        }
    }
}

/// The downward-API field that has a host equivalent (`%H`).
use plan::NODE_NAME_FIELD;

/// Values of the environment-file template.
#[derive(Debug, Serialize)]
struct EnvContext {
    name: String,
    env_file: String,
    contract: Vec<String>,
    user_env: Vec<String>,
}

impl EnvContext {
    fn new(spec: &Spec) -> Self {
        let contract = spec
            .contract_env()
            .into_iter()
            .map(|(name, value)| format!("{name}={}", env_value(&value)))
            .collect();
        let unit = format!("{}.service", spec.name);
        let user_env = spec
            .env
            .iter()
            .map(|v| {
                let name = &v.name;
                match &v.value {
                    EnvSource::Value(value) => format!("{name}={}", env_value(value)),
                    EnvSource::Field { path } if path == NODE_NAME_FIELD => {
                        format!("# {name}: set in {unit} as Environment={name}=%H (the host name).")
                    }
                    EnvSource::Field { path } => format!(
                        "# {name}: the Kubernetes field {path} has no host equivalent; set it here.\n#{name}="
                    ),
                    EnvSource::Secret { name: secret, key } => format!(
                        "# {name}: Secret {secret}, key {key} on Kubernetes; a host has no Secrets. Set it here\n\
                         # (keep this file mode 0600), in a drop-in (`systemctl edit {}`:\n\
                         # Environment={name}=...), or pass a file with LoadCredential=.\n#{name}=",
                        spec.name
                    ),
                    EnvSource::ConfigMap { name: map, key } => format!(
                        "# {name}: ConfigMap {map}, key {key} on Kubernetes; a host has no ConfigMaps. Set it here.\n#{name}="
                    ),
                }
            })
            .collect();
        EnvContext {
            name: spec.name.clone(),
            env_file: plan::install(spec).env_file,
            contract,
            user_env,
        }
    }
}

/// One word of an `ExecStart=` command line. Specifiers (`%`) and variables (`$`) are always
/// escaped; a word with anything but plain characters is double-quoted with C escapes.
fn exec_word(word: &str) -> String {
    if word == ";" {
        return r"\;".to_owned();
    }
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:,@+=%$".contains(c));
    let mut out = String::with_capacity(word.len() + 2);
    if !plain {
        out.push('"');
    }
    for c in word.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\r' => out.push_str(r"\r"),
            c => out.push(c),
        }
    }
    if !plain {
        out.push('"');
    }
    out
}

/// A path in a `BindPaths=`-style setting: `%` escaped (specifiers expand there); a path with
/// anything but plain characters (`:` separates source and destination) is double-quoted with
/// `\\` and `\"` escaped.
fn path_word(path: &str) -> String {
    let escaped = path.replace('%', "%%");
    if escaped
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./+@,=%".contains(c))
    {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Text in a setting that expands specifiers (e.g. `Description=`).
fn specifier_escape(text: &str) -> String {
    text.replace('%', "%%")
}

/// A value of an environment file: bare when it has only plain characters, otherwise
/// double-quoted with `\`, `"`, `$` and `` ` `` escaped (the only escapes systemd's
/// environment-file parser honours inside double quotes; line breaks stay literal).
fn env_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:,@+=%".contains(c));
    if plain {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A systemd time span: whole seconds as `30s`, anything finer in milliseconds (rounded up).
fn systemd_time(d: crate::spec::Duration) -> String {
    let std = d.std();
    if std.subsec_nanos() == 0 {
        format!("{}s", std.as_secs())
    } else {
        format!("{}ms", std.as_nanos().div_ceil(1_000_000))
    }
}

/// A Kubernetes memory quantity as a systemd byte size (`128Mi` → `128M`, `1G` → `1000000000`).
/// `None` for anything that is not a plain quantity (the spec validator accepts only those).
fn memory_bytes(quantity: &str) -> Option<String> {
    let (number, suffix) = crate::spec::rules::split_quantity(quantity)?;
    let binary = match suffix {
        "Ki" => Some('K'),
        "Mi" => Some('M'),
        "Gi" => Some('G'),
        "Ti" => Some('T'),
        "Pi" => Some('P'),
        "Ei" => Some('E'),
        _ => None,
    };
    if let Some(unit) = binary
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(format!("{number}{unit}"));
    }
    let (multiplier, divisor): (u128, u128) = match suffix {
        "" => (1, 1),
        "m" => (1, 1000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        exponent => {
            // split_quantity checked it: e or E, an optional sign, one to three digits.
            let exp: i32 = exponent[1..].parse().ok()?;
            match u32::try_from(exp) {
                Ok(exp) => (10u128.checked_pow(exp)?, 1),
                Err(_) => (1, 10u128.checked_pow(exp.unsigned_abs())?),
            }
        }
    };
    let (scaled, scale) = decimal(number)?;
    let bytes = (scaled.checked_mul(multiplier)?).div_ceil(scale.checked_mul(divisor)?);
    Some(bytes.to_string())
}

/// A Kubernetes CPU quantity as a whole `CPUQuota=` percentage, rounded up (`500m` → 50).
fn cpu_percent(quantity: &str) -> Option<u128> {
    let (number, per_core) = match crate::spec::rules::split_quantity(quantity)? {
        (number, "m") => (number, 1000),
        (number, "") => (number, 1),
        _ => return None,
    };
    let (scaled, scale) = decimal(number)?;
    let percent = scaled
        .checked_mul(100)?
        .div_ceil(scale.checked_mul(per_core)?);
    (percent > 0).then_some(percent)
}

/// `12.5` → `(125, 10)`: a non-negative decimal as an integer and its power-of-ten scale.
fn decimal(number: &str) -> Option<(u128, u128)> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
        || frac.len() > 18
    {
        return None;
    }
    let digits = format!("{whole}{frac}");
    let value: u128 = digits.parse().ok()?;
    Some((value, 10u128.pow(frac.len() as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::{BaseImage, RestartPolicy, Volume};
    use crate::spec::sample::sample;

    fn files(spec: &Spec) -> (String, String) {
        let mut files = FileSet::new();
        render(spec, &mut files).unwrap();
        assert_eq!(files.len(), 2);
        (
            files.get(&unit_path(spec)).unwrap().contents.clone(),
            files.get(&env_path(spec)).unwrap().contents.clone(),
        )
    }

    fn unit(spec: &Spec) -> String {
        files(spec).0
    }

    /// The `[Service]` keys of a unit in order, comments dropped.
    fn keys(unit: &str) -> Vec<&str> {
        unit.lines()
            .filter(|l| !l.starts_with('#') && l.contains('='))
            .collect()
    }

    #[test]
    fn default_unit() {
        let spec = sample(WorkloadKind::Deployment);
        let u = unit(&spec);
        let k = keys(&u);
        for line in [
            "Description=Echo server",
            "After=network-online.target",
            "Wants=network-online.target",
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=/usr/local/bin/echo-daemon --verbose",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "Restart=on-failure",
            "RestartSec=2",
            "TimeoutStartSec=60",
            "TimeoutStopSec=30",
            "WatchdogSec=30s",
            "KillSignal=SIGTERM",
            "KillMode=mixed",
            "EnvironmentFile=/etc/echo-daemon/echo-daemon.env",
            "Environment=NODE=%H",
            "DynamicUser=yes",
            "StateDirectory=echo-daemon",
            "RuntimeDirectory=echo-daemon echo-daemon/varlog",
            "LogsDirectory=echo-daemon",
            "MemoryMax=128M",
            "CPUQuota=50%",
            "BindPaths=%t/echo-daemon/varlog:/host/var/log",
            "UMask=0077",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "PrivateUsers=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "ProtectProc=invisible",
            "ProcSubset=pid",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "RestrictNamespaces=yes",
            "LockPersonality=yes",
            "MemoryDenyWriteExecute=yes",
            "RestrictRealtime=yes",
            "RestrictSUIDSGID=yes",
            "SystemCallFilter=@system-service",
            "SystemCallFilter=~@privileged @resources",
            "SystemCallArchitectures=native",
            "CapabilityBoundingSet=",
            "AmbientCapabilities=",
            "WantedBy=multi-user.target",
        ] {
            assert!(k.contains(&line), "missing {line:?} in\n{u}");
        }
        assert!(!u.contains("User=echo"));
        assert!(!u.contains("\n\n\n"), "no runs of blank lines:\n{u}");
        assert!(u.contains("#   binary            /usr/local/bin/echo-daemon\n"));
        assert!(u.contains("#   unit              /etc/systemd/system/echo-daemon.service\n"));
        assert!(u.contains("#   configuration     /etc/echo-daemon/echo.toml"));
        assert!(
            u.contains("TimeoutStopSec = preStopDelay 5s + drainTimeout 20s + 5s margin = 30s")
        );
        assert!(u.contains("WATCHDOG=1 every WatchdogSec/2"));
        let sections: Vec<&str> = u.lines().filter(|l| l.starts_with('[')).collect();
        assert_eq!(sections, ["[Unit]", "[Service]", "[Install]"]);
    }

    #[test]
    fn env_file_has_contract_and_literal_env() {
        let spec = sample(WorkloadKind::Deployment);
        let (_, env) = files(&spec);
        let values: Vec<&str> = env
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        let mut expected: Vec<String> = spec
            .contract_env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        expected.push("RUST_LOG=info".into());
        assert_eq!(values, expected);
        assert!(env.contains("#TOKEN=\n"), "{env}");
        assert!(env.contains("Secret echo-secrets, key token"));
        assert!(env.contains("LoadCredential="));
        assert!(env.contains("# NODE: set in echo-daemon.service as Environment=NODE=%H"));
    }

    #[test]
    fn daemonset_node_agent_keeps_proc_and_binds_host_paths() {
        let spec = sample(WorkloadKind::DaemonSet);
        let u = unit(&spec);
        let k = keys(&u);
        assert!(
            k.contains(&"BindReadOnlyPaths=/var/log:/host/var/log"),
            "{u}"
        );
        assert!(k.contains(&"RuntimeDirectory=echo-daemon"));
        assert!(!k.contains(&"ProcSubset=pid"));
        assert!(k.contains(&"ProtectProc=invisible"));
        assert!(u.contains("node agent"));
    }

    #[test]
    fn host_pid_shows_processes() {
        let mut spec = sample(WorkloadKind::DaemonSet);
        spec.host.pid = true;
        spec.host.network = true;
        let u = unit(&spec);
        assert!(
            !keys(&u)
                .iter()
                .any(|l| l.starts_with("ProtectProc=") || l.starts_with("ProcSubset="))
        );
        assert!(u.contains("host.network"));
    }

    #[test]
    fn capabilities_are_bounded_and_ambient() {
        let mut spec = sample(WorkloadKind::DaemonSet);
        spec.security.capabilities = vec![
            "NET_ADMIN".into(),
            "NET_BIND_SERVICE".into(),
            "NET_RAW".into(),
        ];
        let u = unit(&spec);
        let k = keys(&u);
        assert!(
            k.contains(&"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW")
        );
        assert!(k.contains(&"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW"));
        assert!(
            k.contains(&"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET")
        );
        assert!(!k.contains(&"PrivateUsers=yes"));
    }

    #[test]
    fn user_restart_watchdog_variants() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.systemd.user = Some("echo".into());
        spec.systemd.restart = RestartPolicy::Always;
        spec.systemd.watchdog = crate::spec::Duration::ZERO;
        let u = unit(&spec);
        let k = keys(&u);
        assert!(k.contains(&"User=echo"));
        assert!(!u.contains("DynamicUser"));
        assert!(k.contains(&"Restart=always"));
        assert!(k.contains(&"RestartSec=2"));
        assert!(!u.contains("WatchdogSec="));
        assert!(!u.contains("WATCHDOG=1"));
        assert!(u.contains("watchdog is disabled"));

        spec.systemd.restart = RestartPolicy::No;
        spec.systemd.watchdog = crate::spec::Duration::from_millis(2500);
        let k2 = unit(&spec);
        assert!(keys(&k2).contains(&"Restart=no"));
        assert!(!k2.contains("RestartSec="));
        assert!(keys(&k2).contains(&"WatchdogSec=2500ms"));
    }

    #[test]
    fn no_config_no_reload_minimal_spec() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.config = None;
        spec.env.clear();
        spec.volumes.clear();
        spec.resources = Default::default();
        spec.args.clear();
        spec.description.clear();
        spec.build.base = BaseImage::Scratch;
        let (u, env) = files(&spec);
        assert!(!u.contains("ExecReload"));
        assert!(!u.contains("configuration "));
        assert!(!u.contains("MemoryMax"));
        assert!(!u.contains("Bind"));
        assert!(!u.contains("Environment="));
        assert!(keys(&u).contains(&"ExecStart=/usr/local/bin/echo-daemon"));
        assert!(keys(&u).contains(&"Description=echo-daemon"));
        assert!(!env.contains("BERTH_CONFIG_FILE"));
        assert!(!env.contains("own environment"));
    }

    #[test]
    fn reload_only_with_a_reload_hook() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.config.as_mut().unwrap().reload = false;
        let (u, env) = files(&spec);
        assert!(!u.contains("ExecReload"));
        assert!(env.contains("BERTH_CONFIG_FILE=/etc/echo-daemon/echo.toml"));
    }

    #[test]
    fn timing_follows_the_grace_arithmetic() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.shutdown.pre_stop_delay = crate::spec::Duration::from_secs(10);
        spec.shutdown.drain_timeout = crate::spec::Duration::from_millis(45_500);
        spec.health.startup_timeout = crate::spec::Duration::from_secs(120);
        let k = unit(&spec);
        assert!(keys(&k).contains(&"TimeoutStopSec=61"));
        assert!(keys(&k).contains(&"TimeoutStartSec=120"));
    }

    #[test]
    fn exec_start_quoting() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.command = vec!["/opt/echo/bin/echo daemon".into(), "serve".into()];
        spec.args = vec![
            "--greeting=hello world".into(),
            "100%".into(),
            "$HOME".into(),
            "say \"hi\"\\n".into(),
            ";".into(),
            "".into(),
        ];
        let u = unit(&spec);
        assert!(
            u.contains(
                r#"ExecStart="/opt/echo/bin/echo daemon" serve "--greeting=hello world" 100%% $$HOME "say \"hi\"\\n" \; """#
            ),
            "{u}"
        );
    }

    #[test]
    fn env_values_are_quoted() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.env = vec![
            crate::spec::model::EnvVar {
                name: "GREETING".into(),
                value: EnvSource::Value("hello \"world\" $USER `x` \\".into()),
            },
            crate::spec::model::EnvVar {
                name: "EMPTY".into(),
                value: EnvSource::Value(String::new()),
            },
            crate::spec::model::EnvVar {
                name: "POD_IP".into(),
                value: EnvSource::Field {
                    path: "status.podIP".into(),
                },
            },
        ];
        let (u, env) = files(&spec);
        assert!(
            env.contains("GREETING=\"hello \\\"world\\\" \\$USER \\`x\\` \\\\\"\n"),
            "{env}"
        );
        assert!(env.contains("EMPTY=\"\"\n"));
        assert!(env.contains("#POD_IP=\n"));
        assert!(!u.contains("Environment=POD_IP"));
    }

    #[test]
    fn volumes_from_secrets_and_odd_paths() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.volumes = vec![
            Volume {
                name: "tls".into(),
                source: VolumeSource::Secret("echo-tls".into()),
                mount_path: "/etc/tls".into(),
                read_only: true,
            },
            Volume {
                name: "data".into(),
                source: VolumeSource::HostPath("/srv/my data:1".into()),
                mount_path: "/data".into(),
                read_only: false,
            },
        ];
        let k = unit(&spec);
        assert!(keys(&k).contains(&"BindReadOnlyPaths=-/etc/echo-daemon/tls:/etc/tls"));
        assert!(
            keys(&k).contains(&r#"BindPaths="/srv/my data:1":/data"#),
            "{k}"
        );
    }

    #[test]
    fn description_escapes_specifiers() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.description = "100% echo\nserver".into();
        assert!(keys(&unit(&spec)).contains(&"Description=100%% echo server"));
    }

    #[test]
    fn quantities() {
        assert_eq!(memory_bytes("128Mi").as_deref(), Some("128M"));
        assert_eq!(memory_bytes("1G").as_deref(), Some("1000000000"));
        assert_eq!(memory_bytes("1.5Gi").as_deref(), Some("1610612736"));
        assert_eq!(memory_bytes("64000").as_deref(), Some("64000"));
        assert_eq!(memory_bytes("1e9").as_deref(), Some("1000000000"));
        assert_eq!(memory_bytes("1e"), None);
        assert_eq!(memory_bytes("lots"), None);
        assert_eq!(cpu_percent("500m"), Some(50));
        assert_eq!(cpu_percent("2"), Some(200));
        assert_eq!(cpu_percent("1.5"), Some(150));
        assert_eq!(cpu_percent("125m"), Some(13));
        assert_eq!(cpu_percent("0"), None);
        assert_eq!(cpu_percent("x"), None);
        assert_eq!(systemd_time(crate::spec::Duration::from_secs(30)), "30s");
        assert_eq!(
            systemd_time(crate::spec::Duration::from_millis(1500)),
            "1500ms"
        );
    }

    #[test]
    fn deterministic() {
        let spec = sample(WorkloadKind::DaemonSet);
        assert_eq!(files(&spec), files(&spec));
    }
}
