//! The deployment plan: every fact the targets share, computed once from a resolved [`Spec`].
//!
//! The typed manifests (`k8s`) map the plan to k8s-openapi objects; the chart's `values.yaml`
//! takes its defaults from it; the chart's templates get every constant of it from
//! `templates/_plan.tpl`, a helper file this module generates ([`chart_helpers`]), so a
//! contract variable, probe path, object-name suffix, volume name or linter exemption is
//! written once, here (or in `berth_sidecar::contract`). What must stay in Go templates is only
//! what reacts to `--set` at install time (conditions on `.Values`), and
//! `tests/k8s_helm_equivalence.rs` checks both sides render the same objects.
//!
//! `berth generate` reads the install paths from here too ([`install`]), instead of parsing
//! the rendered files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use berth_sidecar::contract as c;

use crate::spec::{EnvSource, IntOrPercent, Spec, VolumeSource, WorkloadKind};

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// Suffix of the ConfigMap holding the config file: `<name>-config`.
pub const CONFIG_MAP_SUFFIX: &str = "-config";
/// Suffix of the headless admin Service: `<name>-admin`.
pub const ADMIN_SERVICE_SUFFIX: &str = "-admin";
/// Suffix of the chart's `helm test` pod: `<name>-test-health`.
pub const TEST_POD_SUFFIX: &str = "-test-health";
/// The suffix of the helm test pod's `app.kubernetes.io/name` label.
pub const TEST_POD_LABEL_SUFFIX: &str = "-test";
/// The helm test pod's `app.kubernetes.io/component` label.
pub const TEST_POD_COMPONENT: &str = "test";
/// The name of the admin port (health endpoints and metrics) on the container and Services.
pub const ADMIN_PORT_NAME: &str = "admin";
/// The name of the config file volume.
pub const CONFIG_VOLUME: &str = "config";
/// The variable a DaemonSet's pod gets with its node's name (unless the description sets it).
pub const NODE_NAME_ENV: &str = "NODE_NAME";
/// The downward-API field behind [`NODE_NAME_ENV`].
pub const NODE_NAME_FIELD: &str = "spec.nodeName";
/// `app.kubernetes.io/component` of every object.
pub const COMPONENT: &str = "daemon";
/// `app.kubernetes.io/managed-by` of the plain manifests (the chart says `Helm`).
pub const MANAGED_BY: &str = "berth";
/// `imagePullPolicy` of the daemon's container (the chart's default).
pub const PULL_POLICY: &str = "IfNotPresent";
/// The pull policies the chart's `image.pullPolicy` accepts.
pub const PULL_POLICIES: &[&str] = &[PULL_POLICY, "Always", "Never"];
/// Probe mode's arguments that check readiness, `--berth-probe readyz`: the Docker
/// HEALTHCHECK, the chart's test pod, the chart and Windows READMEs.
pub fn readyz_probe_args() -> [&'static str; 2] {
    [c::PROBE_FLAG, c::PATH_READYZ.trim_start_matches('/')]
}
/// distroless' `nonroot` user: the UID the `helm test` pod runs as when the daemon runs as root
/// (the description's default `runAsUser`).
pub use crate::spec::rules::NONROOT_UID;
/// `revisionHistoryLimit` of both workload kinds.
pub const REVISION_HISTORY_LIMIT: u32 = 10;

/// Label keys.
pub mod label {
    /// `app.kubernetes.io/name`: a selector label.
    pub const NAME: &str = "app.kubernetes.io/name";
    /// `app.kubernetes.io/instance`: a selector label.
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    /// `app.kubernetes.io/version`.
    pub const VERSION: &str = "app.kubernetes.io/version";
    /// `app.kubernetes.io/component`.
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    /// `app.kubernetes.io/part-of`.
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    /// `app.kubernetes.io/managed-by`.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
}

/// The ConfigMap holding the config file of a daemon called `name`.
pub fn config_map_name(name: &str) -> String {
    format!("{name}{CONFIG_MAP_SUFFIX}")
}

/// The headless admin Service of a daemon called `name`.
pub fn admin_service_name(name: &str) -> String {
    format!("{name}{ADMIN_SERVICE_SUFFIX}")
}

/// `app.kubernetes.io/version` and the chart's `appVersion`: the image tag, or the first 12
/// hex digits of the digest when the image has no tag.
pub fn version_label(spec: &Spec) -> String {
    if let Some(tag) = &spec.image.tag {
        return tag.clone();
    }
    let digest = spec.image.digest.as_deref().unwrap_or_default();
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    hex.chars().take(12).collect()
}

/// The labels selectors match on: `name` and `instance`.
pub fn selector_labels(spec: &Spec) -> BTreeMap<String, String> {
    LABELS
        .iter()
        .filter(|l| l.selector)
        .map(|l| (l.key.to_string(), (l.value)(spec)))
        .collect()
}

/// The labels of every object and of the pod template.
pub fn labels(spec: &Spec) -> BTreeMap<String, String> {
    LABELS
        .iter()
        .map(|l| (l.key.to_string(), (l.value)(spec)))
        .collect()
}

/// One label of every object: its value in the plain manifests and in the chart.
struct Label {
    key: &'static str,
    /// Part of the selector (never changes on upgrade).
    selector: bool,
    value: fn(&Spec) -> String,
    /// The chart's Go template expression for the value.
    helm: &'static str,
}

fn spec_name(spec: &Spec) -> String {
    spec.name.clone()
}

fn component(_: &Spec) -> String {
    COMPONENT.to_string()
}

fn managed_by(_: &Spec) -> String {
    MANAGED_BY.to_string()
}

const LABELS: [Label; 6] = [
    Label {
        key: label::NAME,
        selector: true,
        value: spec_name,
        helm: r#"include "berth.name" . | quote"#,
    },
    Label {
        key: label::INSTANCE,
        selector: true,
        value: spec_name,
        helm: ".Release.Name | quote",
    },
    Label {
        key: label::VERSION,
        selector: false,
        value: version_label,
        helm: r#"include "berth.version" . | quote"#,
    },
    Label {
        key: label::COMPONENT,
        selector: false,
        value: component,
        helm: "",
    },
    Label {
        key: label::PART_OF,
        selector: false,
        value: spec_name,
        helm: r#"include "berth.name" . | quote"#,
    },
    Label {
        key: label::MANAGED_BY,
        selector: false,
        value: managed_by,
        helm: ".Release.Service | quote",
    },
];

// ---------------------------------------------------------------------------------------------
// Probes and rollout
// ---------------------------------------------------------------------------------------------

/// `periodSeconds` of the startup probe; its failure threshold covers `health.startupTimeout`.
pub const STARTUP_PERIOD_SECONDS: u64 = 2;

/// One probe of the daemon's container: an HTTP GET of a contract path on the admin port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Probe {
    /// The container field and the key under `health` in values.yaml, e.g. `startupProbe`.
    pub key: &'static str,
    /// `startup`, `liveness` or `readiness`.
    pub kind: &'static str,
    /// The path on the admin port (`berth_sidecar::contract::PATH_*`).
    pub path: &'static str,
    /// `periodSeconds`.
    pub period_seconds: u64,
    /// `timeoutSeconds` (the Kubernetes default of 1s flakes under CPU throttling).
    pub timeout_seconds: u64,
    /// `failureThreshold`.
    pub failure_threshold: u64,
}

/// The startup, liveness and readiness probes, in that order.
pub fn probes(spec: &Spec) -> [Probe; 3] {
    [
        Probe {
            key: "startupProbe",
            kind: "startup",
            path: c::PATH_STARTUPZ,
            period_seconds: STARTUP_PERIOD_SECONDS,
            timeout_seconds: 1,
            failure_threshold: startup_failure_threshold(spec),
        },
        Probe {
            key: "livenessProbe",
            kind: "liveness",
            path: c::PATH_LIVEZ,
            period_seconds: 10,
            timeout_seconds: 2,
            failure_threshold: 3,
        },
        Probe {
            key: "readinessProbe",
            kind: "readiness",
            path: c::PATH_READYZ,
            period_seconds: 5,
            timeout_seconds: 2,
            failure_threshold: 2,
        },
    ]
}

/// `ceil(startupTimeout / 2s)`, at least 1: the startup probe gives up no earlier than
/// `health.startupTimeout`.
pub fn startup_failure_threshold(spec: &Spec) -> u64 {
    let period = u128::from(STARTUP_PERIOD_SECONDS) * 1_000_000_000;
    let nanos = spec.health.startup_timeout.std().as_nanos();
    u64::try_from(nanos.div_ceil(period).max(1)).unwrap_or(u64::MAX)
}

/// How a rollout replaces pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// `maxUnavailable` of the rolling update.
    pub max_unavailable: IntOrPercent,
    /// `maxSurge` of the rolling update.
    pub max_surge: IntOrPercent,
}

/// A Deployment starts a new pod before it stops an old one (0 unavailable, 1 surge); a
/// DaemonSet stops the old pod on a node first (surge 0, `scheduling.maxUnavailable`).
pub fn rollout(spec: &Spec) -> Rollout {
    match spec.workload {
        WorkloadKind::Deployment => Rollout {
            max_unavailable: IntOrPercent::Int(0),
            max_surge: IntOrPercent::Int(1),
        },
        WorkloadKind::DaemonSet => Rollout {
            max_unavailable: spec.scheduling.max_unavailable.clone(),
            max_surge: IntOrPercent::Int(0),
        },
    }
}

/// The topology spread constraint of a Deployment's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// `maxSkew`.
    pub max_skew: u32,
    /// `topologyKey`.
    pub topology_key: &'static str,
    /// `whenUnsatisfiable`: prefer spreading, never block scheduling.
    pub when_unsatisfiable: &'static str,
}

/// A Deployment spreads its pods across nodes (a DaemonSet has one per node already).
pub const SPREAD: Spread = Spread {
    max_skew: 1,
    topology_key: "kubernetes.io/hostname",
    when_unsatisfiable: WHEN_UNSATISFIABLE[0],
};

/// The `whenUnsatisfiable` choices of a spread constraint ([`SPREAD`] takes the first).
pub const WHEN_UNSATISFIABLE: &[&str] = &["ScheduleAnyway", "DoNotSchedule"];

/// `maxUnavailable` of the PodDisruptionBudget (a Deployment with more than one replica).
pub const PDB_MAX_UNAVAILABLE: u32 = 1;

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

/// One variable of the runtime contract: its value for a description, and the chart's Go
/// template for it.
struct ContractVar {
    name: &'static str,
    /// The value, `None` when the description does not set the variable.
    value: fn(&Spec) -> Option<String>,
    /// The chart's Go template expression (a quoted string).
    helm: &'static str,
    /// The chart's condition, when the variable is not always set.
    helm_when: Option<&'static str>,
}

fn admin_addr(spec: &Spec) -> Option<String> {
    Some(spec.admin_addr())
}

fn pre_stop_delay(spec: &Spec) -> Option<String> {
    Some(spec.shutdown.pre_stop_delay.to_string())
}

fn drain_timeout(spec: &Spec) -> Option<String> {
    Some(spec.shutdown.drain_timeout.to_string())
}

fn config_file(spec: &Spec) -> Option<String> {
    spec.config.as_ref().map(|c| c.mount_path.clone())
}

fn metrics(spec: &Spec) -> Option<String> {
    Some(spec.metrics.enabled.to_string())
}

/// Every contract variable the generated files set, in output order.
const CONTRACT_ENV: [ContractVar; 5] = [
    ContractVar {
        name: c::ENV_ADMIN_ADDR,
        value: admin_addr,
        helm: r#"printf "0.0.0.0:%d" (.Values.health.port | int64) | quote"#,
        helm_when: None,
    },
    ContractVar {
        name: c::ENV_PRE_STOP_DELAY,
        value: pre_stop_delay,
        helm: ".Values.shutdown.preStopDelay | quote",
        helm_when: None,
    },
    ContractVar {
        name: c::ENV_DRAIN_TIMEOUT,
        value: drain_timeout,
        helm: ".Values.shutdown.drainTimeout | quote",
        helm_when: None,
    },
    ContractVar {
        name: c::ENV_CONFIG_FILE,
        value: config_file,
        helm: r#"required "config.mountPath is required when config.enabled is true" .Values.config.mountPath | quote"#,
        helm_when: Some(".Values.config.enabled"),
    },
    ContractVar {
        name: c::ENV_METRICS,
        value: metrics,
        helm: ".Values.metrics.enabled | toString | quote",
        helm_when: None,
    },
];

/// The runtime contract's variables for `spec` (every target sets exactly these), in order.
pub fn contract_env(spec: &Spec) -> Vec<(&'static str, String)> {
    CONTRACT_ENV
        .iter()
        .filter_map(|v| (v.value)(spec).map(|value| (v.name, value)))
        .collect()
}

/// One variable of the container's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Where its value comes from.
    pub source: EnvSource,
}

/// Whether a DaemonSet's pod gets [`NODE_NAME_ENV`] from the downward API.
pub fn adds_node_name(spec: &Spec) -> bool {
    spec.workload == WorkloadKind::DaemonSet && !spec.env.iter().any(|e| e.name == NODE_NAME_ENV)
}

/// The container's environment: the runtime contract, [`NODE_NAME_ENV`] for a DaemonSet
/// (unless the description sets it), then the description's variables in order.
pub fn env(spec: &Spec) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = contract_env(spec)
        .into_iter()
        .map(|(name, value)| EnvVar {
            name: name.to_string(),
            source: EnvSource::Value(value),
        })
        .collect();
    if adds_node_name(spec) {
        env.push(EnvVar {
            name: NODE_NAME_ENV.to_string(),
            source: EnvSource::Field {
                path: NODE_NAME_FIELD.to_string(),
            },
        });
    }
    env.extend(spec.env.iter().map(|e| EnvVar {
        name: e.name.clone(),
        source: e.value.clone(),
    }));
    env
}

// ---------------------------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------------------------

/// Splits an absolute path into its directory and file name (`/etc/a/b.toml` → `/etc/a`,
/// `b.toml`; a file in `/` gives `/`).
pub fn split_path(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", file)) => ("/", file),
        Some((dir, file)) => (dir, file),
        None => (".", path),
    }
}

/// Where a volume's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumePlan {
    /// A description volume.
    Spec(VolumeSource),
    /// The config file: one key of the ConfigMap `<name>-config`, as `file`.
    Config {
        /// The ConfigMap.
        config_map: String,
        /// The key in the ConfigMap.
        key: String,
        /// The file name in the mounted directory.
        file: String,
    },
}

/// One volume and its mount in the daemon's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The volume's name.
    pub name: String,
    /// The source.
    pub source: VolumePlan,
    /// The mount path.
    pub mount_path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The description's volumes, then the config file's directory (not a subPath: a subPath
/// mount never sees ConfigMap updates).
pub fn mounts(spec: &Spec) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = spec
        .volumes
        .iter()
        .map(|v| Mount {
            name: v.name.clone(),
            source: VolumePlan::Spec(v.source.clone()),
            mount_path: v.mount_path.clone(),
            read_only: v.read_only,
        })
        .collect();
    if let Some(config) = &spec.config {
        let (dir, file) = split_path(&config.mount_path);
        mounts.push(Mount {
            name: CONFIG_VOLUME.to_string(),
            source: VolumePlan::Config {
                config_map: config_map_name(&spec.name),
                key: config.file_name.clone(),
                file: file.to_string(),
            },
            mount_path: dir.to_string(),
            read_only: true,
        });
    }
    mounts
}

/// Pod template annotations: the config checksum (rolls pods on change unless the daemon
/// reloads its config) and the Prometheus scrape annotations.
pub fn pod_annotations(spec: &Spec) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    if let Some(config) = spec.config.as_ref().filter(|c| !c.reload) {
        a.insert(
            CHECKSUM_ANNOTATION.to_string(),
            crate::util::sha256_hex(config.contents.as_bytes()),
        );
    }
    if spec.metrics.enabled {
        a.insert(PROMETHEUS_SCRAPE.to_string(), "true".to_string());
        a.insert(PROMETHEUS_PORT.to_string(), spec.health.port.to_string());
        a.insert(PROMETHEUS_PATH.to_string(), c::PATH_METRICS.to_string());
    }
    a
}

const CHECKSUM_ANNOTATION: &str = "checksum/config";
const PROMETHEUS_SCRAPE: &str = "prometheus.io/scrape";
const PROMETHEUS_PORT: &str = "prometheus.io/port";
const PROMETHEUS_PATH: &str = "prometheus.io/path";

// ---------------------------------------------------------------------------------------------
// Linter exemptions
// ---------------------------------------------------------------------------------------------

/// When an exemption applies. Each condition is evaluated on the description for the plain
/// manifests and written as a Go template condition on `.Values` for the chart (so it follows
/// `--set` at install time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// The pull policy is not `Always` (the plain manifests use [`PULL_POLICY`]).
    PullPolicyNotAlways,
    /// The image has no digest.
    NoDigest,
    /// `host.network`.
    HostNetwork,
    /// `host.pid`.
    HostPid,
    /// `security.capabilities` is not empty.
    Capabilities,
    /// An environment variable comes from a Secret.
    SecretEnv,
    /// A Deployment spreads its pods with a topology spread constraint.
    Spread,
    /// A volume is a hostPath.
    HostPath,
    /// The workload is a DaemonSet.
    DaemonSet,
    /// `security.readOnlyRootFilesystem: false`.
    WritableRoot,
    /// `security.runAsUser: 0`.
    RootUser,
    /// `security.runAsUser` below [`HIGH_UID`].
    LowUid,
    /// `security.capabilities` adds `SYS_ADMIN`.
    SysAdmin,
    /// `resources` sets something, but not `requests.cpu`.
    NoCpuRequest,
    /// `resources` sets something, but not `limits.cpu`.
    NoCpuLimit,
    /// `resources` sets something, but not `requests.memory`.
    NoMemoryRequest,
    /// `resources` sets something, but not `limits.memory`.
    NoMemoryLimit,
    /// `resources` sets something, but not all four values.
    PartialResources,
    /// A Deployment with fewer than two replicas.
    SingleReplica,
}

/// The UID from which checkov (CKV_K8S_40) and kube-score consider a user unlikely to clash
/// with a host user.
pub const HIGH_UID: i64 = 10000;

impl When {
    /// Whether the condition holds for `spec`.
    pub fn holds(self, spec: &Spec) -> bool {
        let r = &spec.resources;
        let partial = |missing: bool| !r.is_empty() && missing;
        match self {
            When::Always | When::PullPolicyNotAlways => true,
            When::NoDigest => spec.image.digest.is_none(),
            When::HostNetwork => spec.host.network,
            When::HostPid => spec.host.pid,
            When::Capabilities => !spec.security.capabilities.is_empty(),
            When::SecretEnv => spec
                .env
                .iter()
                .any(|e| matches!(e.value, EnvSource::Secret { .. })),
            When::Spread => spec.workload == WorkloadKind::Deployment,
            When::HostPath => spec
                .volumes
                .iter()
                .any(|v| matches!(v.source, VolumeSource::HostPath(_))),
            When::DaemonSet => spec.workload == WorkloadKind::DaemonSet,
            When::WritableRoot => !spec.security.read_only_root_filesystem,
            When::RootUser => spec.security.run_as_user == 0,
            When::LowUid => spec.security.run_as_user < HIGH_UID,
            When::SysAdmin => spec.security.capabilities.iter().any(|c| c == "SYS_ADMIN"),
            When::NoCpuRequest => partial(r.requests.cpu.is_none()),
            When::NoCpuLimit => partial(r.limits.cpu.is_none()),
            When::NoMemoryRequest => partial(r.requests.memory.is_none()),
            When::NoMemoryLimit => partial(r.limits.memory.is_none()),
            When::PartialResources => partial(
                r.requests.cpu.is_none()
                    || r.limits.cpu.is_none()
                    || r.requests.memory.is_none()
                    || r.limits.memory.is_none(),
            ),
            When::SingleReplica => spec.workload == WorkloadKind::Deployment && spec.replicas < 2,
        }
    }

    /// Whether the chart's condition uses the `$req` and `$lim` variables.
    fn uses_resources(self) -> bool {
        matches!(
            self,
            When::NoCpuRequest
                | When::NoCpuLimit
                | When::NoMemoryRequest
                | When::NoMemoryLimit
                | When::PartialResources
        )
    }

    /// The chart's condition (variables `$hostPath`, `$secretEnv`, `$req` and `$lim` are
    /// computed first).
    fn helm(self) -> Option<&'static str> {
        Some(match self {
            When::Always => return None,
            When::PullPolicyNotAlways => r#"ne .Values.image.pullPolicy "Always""#,
            When::NoDigest => "not .Values.image.digest",
            When::HostNetwork => ".Values.host.network",
            When::HostPid => ".Values.host.pid",
            When::Capabilities => ".Values.security.capabilities",
            When::SecretEnv => "$secretEnv",
            When::Spread => {
                r#"and (eq .Values.workload "Deployment") .Values.topologySpread.enabled"#
            }
            When::HostPath => "$hostPath",
            When::DaemonSet => r#"ne .Values.workload "Deployment""#,
            When::WritableRoot => "not .Values.security.readOnlyRootFilesystem",
            When::RootUser => "eq (.Values.security.runAsUser | int64) 0",
            // HIGH_UID, spelled out (checked by a test).
            When::LowUid => "lt (.Values.security.runAsUser | int64) 10000",
            When::SysAdmin => r#"has "SYS_ADMIN" (.Values.security.capabilities | default list)"#,
            When::NoCpuRequest => r#"and (or $req $lim) (not (hasKey $req "cpu"))"#,
            When::NoCpuLimit => r#"and (or $req $lim) (not (hasKey $lim "cpu"))"#,
            When::NoMemoryRequest => r#"and (or $req $lim) (not (hasKey $req "memory"))"#,
            When::NoMemoryLimit => r#"and (or $req $lim) (not (hasKey $lim "memory"))"#,
            When::PartialResources => {
                r#"and (or $req $lim) (not (and (hasKey $req "cpu") (hasKey $lim "cpu") (hasKey $req "memory") (hasKey $lim "memory")))"#
            }
            When::SingleReplica => {
                r#"and (eq .Values.workload "Deployment") (lt (.Values.replicas | int64) 2)"#
            }
        })
    }
}

/// Which objects carry an exemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every object (the workload and the test pod included).
    Every,
    /// The workload (Deployment or DaemonSet).
    Workload,
    /// The chart's `helm test` pod.
    TestPod,
    /// The workload and the test pod.
    Pods,
}

impl Scope {
    /// The objects, as the chart README names them.
    fn describe(self) -> &'static str {
        match self {
            Scope::Every => "every object",
            Scope::Workload => "workload",
            Scope::TestPod => "`helm test` pod",
            Scope::Pods => "workload, `helm test` pod",
        }
    }

    fn covers(self, object: Scope) -> bool {
        self == Scope::Every
            || self == object
            || (self == Scope::Pods && matches!(object, Scope::Workload | Scope::TestPod))
    }
}

/// One deliberate exception to a linter rule, emitted as an annotation with its reason.
/// Several rows with the same key form one comma-separated value, in table order
/// (kube-score's `kube-score/ignore`).
///
/// Values and reasons may name the description's values as placeholders
/// ([`PLACEHOLDERS`]), filled from the description in the plain manifests and from `.Values` in
/// the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exemption {
    /// The objects that carry it.
    pub scope: Scope,
    /// When it applies.
    pub when: When,
    /// The annotation key.
    pub key: &'static str,
    /// The annotation value: the reason (or `true` / a check name for linters without one).
    pub value: &'static str,
    /// For a kube-score check (whose ignore annotation names checks only): the reason,
    /// emitted beside it as `kube-score.berth.io/<check>` ([`KUBE_SCORE_REASON_PREFIX`]).
    pub reason: Option<&'static str>,
    /// For a row whose annotation carries no reason (Polaris'): the reason, for the chart README.
    pub note: Option<&'static str>,
}

const fn exempt(scope: Scope, when: When, key: &'static str, value: &'static str) -> Exemption {
    Exemption {
        scope,
        when,
        key,
        value,
        reason: None,
        note: None,
    }
}

/// A Polaris exemption (`polaris.fairwinds.com/<check>-exempt: "true"`), with its reason for
/// the chart README.
const fn polaris(scope: Scope, when: When, key: &'static str, note: &'static str) -> Exemption {
    Exemption {
        scope,
        when,
        key,
        value: "true",
        reason: None,
        note: Some(note),
    }
}

/// A kube-score check to ignore, with its reason.
const fn kube_score(
    scope: Scope,
    when: When,
    check: &'static str,
    reason: &'static str,
) -> Exemption {
    Exemption {
        scope,
        when,
        key: KUBE_SCORE_IGNORE,
        value: check,
        reason: Some(reason),
        note: None,
    }
}

/// The kube-score annotation listing the checks it skips.
pub const KUBE_SCORE_IGNORE: &str = "kube-score/ignore";

/// The prefix of the annotation carrying an ignored kube-score check's reason.
pub const KUBE_SCORE_REASON_PREFIX: &str = "kube-score.berth.io/";

/// The placeholders a value or reason may use: (placeholder, the chart's value).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("{runAsUser}", "(.Values.security.runAsUser | int64)"),
    ("{replicas}", "(.Values.replicas | int64)"),
];

/// The value of a placeholder for `spec`.
fn placeholder_value(spec: &Spec, placeholder: &str) -> String {
    match placeholder {
        "{runAsUser}" => spec.security.run_as_user.to_string(),
        "{replicas}" => spec.replicas.to_string(),
        other => other.to_string(),
    }
}

/// `text` with its placeholders filled from `spec`.
fn fill(text: &str, spec: &Spec) -> String {
    let mut out = text.to_string();
    for (placeholder, _) in PLACEHOLDERS {
        if out.contains(placeholder) {
            out = out.replace(placeholder, &placeholder_value(spec, placeholder));
        }
    }
    out
}

/// The reasons several rows share (one text each; checkov's rows prefix the check ID).
macro_rules! reason {
    (pull_policy) => {
        "pull policy IfNotPresent is deliberate; the image is pinned and Always ties every pod start to the registry"
    };
    (network_policy) => {
        "the daemon traffic is not known to berth; add a NetworkPolicy for your cluster"
    };
    (host_network) => {
        "host network requested in berth.yaml (host.network)"
    };
    (host_pid) => {
        "host PID namespace requested in berth.yaml (host.pid)"
    };
    (spread) => {
        "pods are spread across nodes by topologySpreadConstraints"
    };
    (writable_root) => {
        "a writable root file system is requested in berth.yaml (security.readOnlyRootFilesystem: false)"
    };
    (uid) => {
        "runAsUser {runAsUser} (runAsGroup and fsGroup follow it) is set in berth.yaml (security.runAsUser)"
    };
    (missing_resource) => {
        " is not set in berth.yaml, which sets other resources (resources)"
    };
}

/// Every linter exemption. Not exempted on purpose: no resources at all (`resources: {}`,
/// which `berth validate` warns about; an omitted `resources` gets berth's starting values).
/// Settings the description states (a writable root file system, a low UID or root,
/// `SYS_ADMIN`, resources set only in part, one replica) carry the setting as their reason.
/// The chart README explains each; `tests/validate-generated.sh` fails on any checkov or
/// kube-score finding without a row here.
pub const EXEMPTIONS: &[Exemption] = &[
    exempt(
        Scope::Every,
        When::Always,
        "checkov.io/skip1",
        "CKV_K8S_21=the namespace is chosen at apply time (kubectl -n, helm -n)",
    ),
    exempt(
        Scope::Pods,
        When::PullPolicyNotAlways,
        "checkov.io/skip2",
        concat!("CKV_K8S_15=", reason!(pull_policy)),
    ),
    exempt(
        Scope::Pods,
        When::NoDigest,
        "checkov.io/skip3",
        "CKV_K8S_43=the image is pinned by tag; set a digest in berth.yaml to pin by digest",
    ),
    exempt(
        Scope::Workload,
        When::HostNetwork,
        "checkov.io/skip4",
        concat!("CKV_K8S_19=", reason!(host_network)),
    ),
    exempt(
        Scope::Workload,
        When::HostNetwork,
        "ignore-check.kube-linter.io/host-network",
        reason!(host_network),
    ),
    polaris(
        Scope::Workload,
        When::HostNetwork,
        "polaris.fairwinds.com/hostNetworkSet-exempt",
        reason!(host_network),
    ),
    exempt(
        Scope::Workload,
        When::HostPid,
        "checkov.io/skip5",
        concat!("CKV_K8S_17=", reason!(host_pid)),
    ),
    exempt(
        Scope::Workload,
        When::HostPid,
        "ignore-check.kube-linter.io/host-pid",
        reason!(host_pid),
    ),
    polaris(
        Scope::Workload,
        When::HostPid,
        "polaris.fairwinds.com/hostPIDSet-exempt",
        reason!(host_pid),
    ),
    exempt(
        Scope::Workload,
        When::Capabilities,
        "checkov.io/skip6",
        "CKV_K8S_25=capabilities added in berth.yaml (security.capabilities); all others are dropped",
    ),
    exempt(
        Scope::Workload,
        When::SecretEnv,
        "checkov.io/skip7",
        "CKV_K8S_35=secret environment variables declared in berth.yaml (env)",
    ),
    exempt(
        Scope::Pods,
        When::Always,
        "checkov.io/skip8",
        concat!("CKV2_K8S_6=", reason!(network_policy)),
    ),
    exempt(
        Scope::Workload,
        When::WritableRoot,
        "checkov.io/skip9",
        concat!("CKV_K8S_22=", reason!(writable_root)),
    ),
    exempt(
        Scope::TestPod,
        When::Always,
        "checkov.io/skip10",
        "CKV_K8S_8=a one-shot helm test pod has no liveness probe",
    ),
    exempt(
        Scope::TestPod,
        When::Always,
        "checkov.io/skip11",
        "CKV_K8S_9=a one-shot helm test pod has no readiness probe",
    ),
    exempt(
        Scope::Workload,
        When::RootUser,
        "checkov.io/skip12",
        concat!("CKV_K8S_23=", reason!(uid)),
    ),
    exempt(
        Scope::Workload,
        When::LowUid,
        "checkov.io/skip13",
        concat!("CKV_K8S_40=", reason!(uid)),
    ),
    exempt(
        Scope::Workload,
        When::SysAdmin,
        "checkov.io/skip14",
        "CKV_K8S_39=SYS_ADMIN is added in berth.yaml (security.capabilities)",
    ),
    exempt(
        Scope::Workload,
        When::NoCpuRequest,
        "checkov.io/skip15",
        concat!("CKV_K8S_10=requests.cpu", reason!(missing_resource)),
    ),
    exempt(
        Scope::Workload,
        When::NoCpuLimit,
        "checkov.io/skip16",
        concat!("CKV_K8S_11=limits.cpu", reason!(missing_resource)),
    ),
    exempt(
        Scope::Workload,
        When::NoMemoryRequest,
        "checkov.io/skip17",
        concat!("CKV_K8S_12=requests.memory", reason!(missing_resource)),
    ),
    exempt(
        Scope::Workload,
        When::NoMemoryLimit,
        "checkov.io/skip18",
        concat!("CKV_K8S_13=limits.memory", reason!(missing_resource)),
    ),
    exempt(
        Scope::Workload,
        When::Spread,
        "ignore-check.kube-linter.io/no-anti-affinity",
        reason!(spread),
    ),
    exempt(
        Scope::Workload,
        When::HostPath,
        "ignore-check.kube-linter.io/sensitive-host-mounts",
        "hostPath volumes requested in berth.yaml (volumes)",
    ),
    kube_score(
        Scope::Workload,
        When::Always,
        "container-ephemeral-storage-request-and-limit",
        "berth.yaml has no ephemeral-storage setting; the daemon writes to its volumes, not its root file system",
    ),
    kube_score(
        Scope::Pods,
        When::PullPolicyNotAlways,
        "container-image-pull-policy",
        reason!(pull_policy),
    ),
    kube_score(
        Scope::Pods,
        When::Always,
        "pod-networkpolicy",
        reason!(network_policy),
    ),
    kube_score(
        Scope::TestPod,
        When::Always,
        "pod-probes",
        "a one-shot helm test pod has no liveness or readiness probe",
    ),
    kube_score(
        Scope::Workload,
        When::Spread,
        "deployment-has-host-podantiaffinity",
        reason!(spread),
    ),
    kube_score(
        Scope::Workload,
        When::WritableRoot,
        "container-security-context-readonlyrootfilesystem",
        reason!(writable_root),
    ),
    kube_score(
        Scope::Workload,
        When::LowUid,
        "container-security-context-user-group-id",
        reason!(uid),
    ),
    kube_score(
        Scope::Workload,
        When::PartialResources,
        "container-resources",
        "berth.yaml sets resources only in part (resources)",
    ),
    kube_score(
        Scope::Workload,
        When::SingleReplica,
        "deployment-replicas",
        "replicas: {replicas} is set in berth.yaml",
    ),
    polaris(
        Scope::Pods,
        When::PullPolicyNotAlways,
        "polaris.fairwinds.com/pullPolicyNotAlways-exempt",
        reason!(pull_policy),
    ),
    // One pod per node already: a spread constraint means nothing for a DaemonSet (and the
    // test pod is a single pod).
    polaris(
        Scope::Workload,
        When::DaemonSet,
        "polaris.fairwinds.com/topologySpreadConstraint-exempt",
        "a DaemonSet runs one pod per node already",
    ),
    polaris(
        Scope::TestPod,
        When::Always,
        "polaris.fairwinds.com/topologySpreadConstraint-exempt",
        "the helm test pod is a single pod",
    ),
];

/// One annotation an exemption row writes: the row's own, or a kube-score reason beside it.
struct Entry {
    when: When,
    key: String,
    value: &'static str,
}

/// The annotations the rows covering `scope` write, in table order (a kube-score row's
/// reason right after it).
fn entries(scope: Scope) -> Vec<Entry> {
    let mut out = Vec::new();
    for row in EXEMPTIONS.iter().filter(|r| r.scope.covers(scope)) {
        out.push(Entry {
            when: row.when,
            key: row.key.to_string(),
            value: row.value,
        });
        if let Some(reason) = row.reason {
            out.push(Entry {
                when: row.when,
                key: format!("{KUBE_SCORE_REASON_PREFIX}{}", row.value),
                value: reason,
            });
        }
    }
    out
}

/// The exemption annotations of an object in `scope` ([`Scope::Every`] for objects other than
/// the workload), for the plain manifests.
pub fn annotations(spec: &Spec, scope: Scope) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for entry in entries(scope) {
        if entry.when.holds(spec) {
            let value = fill(entry.value, spec);
            out.entry(entry.key)
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(&value);
                })
                .or_insert(value);
        }
    }
    out
}

/// A row of the chart README's table of exemptions: the rows of [`EXEMPTIONS`] with one scope,
/// condition and reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExemptionRow {
    /// What is skipped: annotation keys and check names, e.g. ``"`checkov.io/skip4` CKV_K8S_19,
    /// kube-linter `host-network`"``.
    pub what: String,
    /// The objects that carry it.
    pub on: &'static str,
    /// The reason, its placeholders filled from the description.
    pub why: String,
    /// Whether it applies to the description's own values.
    pub applies: bool,
}

/// The table of every exemption for the chart README, in [`EXEMPTIONS`] order.
pub fn exemption_table(spec: &Spec) -> Vec<ExemptionRow> {
    let mut rows: Vec<(Scope, When, ExemptionRow)> = Vec::new();
    for row in EXEMPTIONS {
        let (what, why) = describe(row);
        let why = fill(why, spec);
        let same = |(scope, when, r): &&mut (Scope, When, ExemptionRow)| {
            *scope == row.scope && *when == row.when && r.why == why
        };
        match rows.iter_mut().find(same) {
            Some((_, _, r)) => {
                r.what.push_str(", ");
                r.what.push_str(&what);
            }
            None => rows.push((
                row.scope,
                row.when,
                ExemptionRow {
                    what,
                    on: row.scope.describe(),
                    why,
                    applies: row.when.holds(spec),
                },
            )),
        }
    }
    rows.into_iter().map(|(_, _, r)| r).collect()
}

/// How the README names what `row` skips, and its reason.
fn describe(row: &Exemption) -> (String, &'static str) {
    if let Some(reason) = row.reason {
        return (format!("kube-score `{}`", row.value), reason);
    }
    if let Some(check) = row
        .key
        .strip_prefix("polaris.fairwinds.com/")
        .and_then(|k| k.strip_suffix("-exempt"))
    {
        return (format!("Polaris `{check}`"), row.note.unwrap_or_default());
    }
    if let Some(check) = row.key.strip_prefix("ignore-check.kube-linter.io/") {
        return (format!("kube-linter `{check}`"), row.value);
    }
    match row.value.split_once('=') {
        Some((check, reason)) => (format!("`{}` {check}", row.key), reason),
        None => (format!("`{}`", row.key), row.value),
    }
}

// ---------------------------------------------------------------------------------------------
// Install paths (host)
// ---------------------------------------------------------------------------------------------

/// Where `berth generate`'s files go on a host, and where it writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// The daemon binary on the host (and in the image).
    pub binary: String,
    /// The directory the unit is installed into.
    pub unit_dir: &'static str,
    /// Where the environment file is installed.
    pub env_file: String,
    /// The systemd unit's name, without `.service`.
    pub unit_name: String,
}

/// The install paths of `spec`.
pub fn install(spec: &Spec) -> Install {
    Install {
        binary: spec.binary_path(),
        unit_dir: "/etc/systemd/system/",
        env_file: format!("/etc/{0}/{0}.env", spec.name),
        unit_name: spec.name.clone(),
    }
}

/// Paths of the generated files, relative to the output directory.
pub mod paths {
    use crate::spec::Spec;

    /// `docker/Dockerfile`.
    pub const DOCKERFILE: &str = "docker/Dockerfile";
    /// `docker/Dockerfile.dockerignore`: BuildKit reads `<Dockerfile>.dockerignore` beside the
    /// Dockerfile before the context's own `.dockerignore`.
    pub const DOCKERIGNORE: &str = "docker/Dockerfile.dockerignore";

    /// `helm/<name>`: the chart directory.
    pub fn chart(spec: &Spec) -> String {
        format!("helm/{}", spec.name)
    }

    /// `k8s/<name>.yaml`.
    pub fn manifest(spec: &Spec) -> String {
        format!("k8s/{}.yaml", spec.name)
    }

    /// `systemd/<name>.service`.
    pub fn unit(spec: &Spec) -> String {
        format!("systemd/{}.service", spec.name)
    }

    /// `systemd/<name>.env`.
    pub fn env(spec: &Spec) -> String {
        format!("systemd/{}.env", spec.name)
    }

    /// `ci/<name>.yml`: the GitHub Actions workflow.
    pub fn workflow(spec: &Spec) -> String {
        format!("ci/{}.yml", spec.name)
    }
}

// ---------------------------------------------------------------------------------------------
// The chart's generated helpers
// ---------------------------------------------------------------------------------------------

/// The path of the generated helpers inside a chart.
pub const CHART_HELPERS: &str = "templates/_plan.tpl";

/// A Go template string literal.
fn go_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `templates/_plan.tpl`: the constants of this plan as named templates, so the chart's
/// templates spell none of them. The same in every chart (it depends on berth, not on the
/// description); `charts/berth/` holds a copy a test keeps current.
pub fn chart_helpers() -> String {
    let mut s = String::new();
    s.push_str(
        "{{/*\nGenerated by berth from its deployment plan (src/render/plan.rs): the names, paths,\n\
         environment and linter exemptions the chart shares with berth's plain manifests. Do not\n\
         edit; the other templates include these.\n*/}}\n",
    );
    let define = |s: &mut String, name: &str, doc: &str, body: &str| {
        let _ = write!(
            s,
            "\n{{{{/*\n{doc}\n*/}}}}\n{{{{- define \"berth.{name}\" -}}}}\n{body}\n{{{{- end }}}}\n"
        );
    };
    let fullname_with =
        |suffix: &str| format!("{{{{- printf \"%s{suffix}\" (include \"berth.fullname\" .) }}}}");
    define(
        &mut s,
        "configMapName",
        "The ConfigMap holding the config file.",
        &fullname_with(CONFIG_MAP_SUFFIX),
    );
    define(
        &mut s,
        "adminServiceName",
        "The headless admin Service.",
        &fullname_with(ADMIN_SERVICE_SUFFIX),
    );
    define(
        &mut s,
        "testPodName",
        "The `helm test` pod.",
        &fullname_with(TEST_POD_SUFFIX),
    );
    define(
        &mut s,
        "adminPortName",
        "The name of the admin port (health endpoints and /metrics).",
        ADMIN_PORT_NAME,
    );
    define(
        &mut s,
        "nonrootUid",
        "The UID of the `helm test` pod when the daemon runs as root (a probe needs no privilege).",
        &NONROOT_UID.to_string(),
    );
    define(
        &mut s,
        "configVolume",
        "The name of the config file volume.",
        CONFIG_VOLUME,
    );
    for (name, path) in [
        ("livezPath", c::PATH_LIVEZ),
        ("readyzPath", c::PATH_READYZ),
        ("startupzPath", c::PATH_STARTUPZ),
        ("metricsPath", c::PATH_METRICS),
    ] {
        define(&mut s, name, "An endpoint of the admin port.", path);
    }
    define(
        &mut s,
        "readyzProbeArgs",
        "The arguments of probe mode checking readiness at the admin Service (the test pod).",
        &format!(
            "- {flag}\n- {probe}\n- {addr}\n- {{{{ printf \"%s:%d\" (include \"berth.adminServiceName\" .) (.Values.health.port | int64) | quote }}}}",
            flag = readyz_probe_args()[0],
            probe = readyz_probe_args()[1],
            addr = c::PROBE_ADDR_FLAG,
        ),
    );

    // Labels.
    let label_lines = |selector_only: bool| {
        LABELS
            .iter()
            .filter(|l| l.selector || !selector_only)
            .map(|l| {
                if l.helm.is_empty() {
                    format!("{}: {}", l.key, (l.value)(&placeholder_spec()))
                } else {
                    format!("{}: {{{{ {} }}}}", l.key, l.helm)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    define(
        &mut s,
        "selectorLabels",
        "Selector labels: the only labels a selector uses (they must never change on upgrade).",
        &label_lines(true),
    );
    // The helm test pod: not the workload's selector labels (a DaemonSet adopts a bare pod
    // that matches its selector and deletes it as a surplus pod on its node).
    let test_lines = LABELS
        .iter()
        .map(|l| match l.key {
            label::NAME => format!(
                "{}: {{{{ printf \"%s{TEST_POD_LABEL_SUFFIX}\" (include \"berth.name\" .) | quote }}}}",
                l.key
            ),
            label::COMPONENT => format!("{}: {TEST_POD_COMPONENT}", l.key),
            _ if l.helm.is_empty() => format!("{}: {}", l.key, (l.value)(&placeholder_spec())),
            _ => format!("{}: {{{{ {} }}}}", l.key, l.helm),
        })
        .collect::<Vec<_>>()
        .join("\n");
    define(
        &mut s,
        "testPodLabels",
        "Labels of the helm test pod: its own name and component, so no workload selector matches it.",
        &test_lines,
    );
    define(
        &mut s,
        "podLabels",
        "Labels of the pod template: every common label except helm.sh/chart, so a chart upgrade\nalone does not roll the pods.",
        &label_lines(false),
    );

    // Environment.
    let mut env = String::new();
    for (i, var) in CONTRACT_ENV.iter().enumerate() {
        let line = format!("- name: {}\n  value: {{{{ {} }}}}", var.name, var.helm);
        match var.helm_when {
            Some(when) => {
                let _ = write!(env, "\n{{{{- if {when} }}}}\n{line}\n{{{{- end }}}}");
            }
            None if i == 0 => env.push_str(&line),
            None => {
                let _ = write!(env, "\n{line}");
            }
        }
    }
    let _ = write!(
        env,
        "\n{{{{- $userNodeName := false }}}}\n\
         {{{{- range .Values.env }}}}{{{{ if eq .name {name} }}}}{{{{ $userNodeName = true }}}}{{{{ end }}}}{{{{ end }}}}\n\
         {{{{- if and (ne .Values.workload \"Deployment\") (not $userNodeName) }}}}\n\
         - name: {NODE_NAME_ENV}\n  valueFrom:\n    fieldRef:\n      fieldPath: {NODE_NAME_FIELD}\n\
         {{{{- end }}}}",
        name = go_str(NODE_NAME_ENV),
    );
    define(
        &mut s,
        "env",
        &format!(
            "The runtime contract's variables (berth_sidecar::contract), then {NODE_NAME_ENV} on a DaemonSet\nunless .Values.env sets it. Output: a YAML list."
        ),
        &env,
    );

    // Probes.
    let mut probes_text = Vec::new();
    for p in probes(&placeholder_spec()) {
        let v = format!(".Values.health.{}", p.key);
        probes_text.push(format!(
            "{key}:\n  httpGet:\n    path: {path}\n    port: {ADMIN_PORT_NAME}\n  \
             periodSeconds: {{{{ {v}.periodSeconds | int64 }}}}\n  \
             timeoutSeconds: {{{{ {v}.timeoutSeconds | int64 }}}}\n  \
             failureThreshold: {{{{ {v}.failureThreshold | int64 }}}}",
            key = p.key,
            path = p.path,
        ));
    }
    define(
        &mut s,
        "probes",
        "The startup, liveness and readiness probes of the daemon's container, on the admin port.",
        &probes_text.join("\n"),
    );

    // Pod annotations.
    define(
        &mut s,
        "podAnnotations",
        "Pod template annotations: the config checksum (rolls the pods on a change unless the daemon\nreloads its config), the Prometheus scrape annotations, then .Values.podAnnotations.\nOutput: a YAML map.",
        &format!(
            "{{{{- $out := dict }}}}\n\
             {{{{- if and .Values.config.enabled (not .Values.config.reload) }}}}\n\
             {{{{- $_ := set $out {checksum} (.Values.config.content | sha256sum) }}}}\n\
             {{{{- end }}}}\n\
             {{{{- if .Values.metrics.enabled }}}}\n\
             {{{{- $_ := set $out {scrape} \"true\" }}}}\n\
             {{{{- $_ := set $out {port} (toString (.Values.health.port | int64)) }}}}\n\
             {{{{- $_ := set $out {path} {metrics} }}}}\n\
             {{{{- end }}}}\n\
             {{{{- range $key, $value := .Values.podAnnotations }}}}\n\
             {{{{- $_ := set $out $key $value }}}}\n\
             {{{{- end }}}}\n\
             {{{{- with $out }}}}{{{{ toYaml . }}}}{{{{ end }}}}",
            checksum = go_str(CHECKSUM_ANNOTATION),
            scrape = go_str(PROMETHEUS_SCRAPE),
            port = go_str(PROMETHEUS_PORT),
            path = go_str(PROMETHEUS_PATH),
            metrics = go_str(c::PATH_METRICS),
        ),
    );

    // Linter exemptions.
    s.push_str(
        "\n{{/*\nLinter exemptions: deliberate decisions, emitted as explicit annotations so kube-linter,\n\
         checkov, Polaris and kube-score report them as skipped instead of as silent findings. Each one\n\
         appears only when the setting behind it is used; berth's plain manifests (k8s/<name>.yaml)\n\
         carry exactly the same annotations. The README of the chart explains each one.\n*/}}\n",
    );
    for (name, scope, doc) in [
        (
            "commonAnnotations",
            Scope::Every,
            "On every object. Output: a YAML map, empty when linterAnnotations.enabled is false.",
        ),
        (
            "workloadAnnotations",
            Scope::Workload,
            "On the workload (Deployment or DaemonSet). Output: a YAML map, empty when\nlinterAnnotations.enabled is false.",
        ),
        (
            "testPodAnnotations",
            Scope::TestPod,
            "On the `helm test` pod. Output: a YAML map, empty when linterAnnotations.enabled is false.",
        ),
    ] {
        define(&mut s, name, doc, &annotations_helper(scope));
    }
    s
}

/// A description only for the constants of the chart helpers (which never depend on it).
fn placeholder_spec() -> Spec {
    crate::spec::sample::sample(WorkloadKind::Deployment)
}

/// The Go template writing the exemption annotations of `scope` from `.Values`.
///
/// The workload's are a map (`toYaml`, keys sorted), because the workload template merges
/// them; the others are literal `key: value` lines in table order, as they always were
/// (`toYaml` would fold the long reasons).
fn annotations_helper(scope: Scope) -> String {
    let rows = entries(scope);
    let as_map = scope == Scope::Workload;
    // `-}}`: the first line (always an unconditional row) starts the output.
    let mut s = String::from("{{- if .Values.linterAnnotations.enabled -}}");
    if as_map {
        s.push_str("\n{{- $out := dict }}");
    }
    if rows.iter().any(|r| r.when == When::HostPath) {
        s.push_str(
            "\n{{- $hostPath := false }}\n\
             {{- range .Values.volumes }}{{ if .hostPath }}{{ $hostPath = true }}{{ end }}{{ end }}",
        );
    }
    if rows.iter().any(|r| r.when == When::SecretEnv) {
        s.push_str(
            "\n{{- $secretEnv := false }}\n\
             {{- range .Values.env }}{{ if and .valueFrom (hasKey (default (dict) .valueFrom) \"secretKeyRef\") }}{{ $secretEnv = true }}{{ end }}{{ end }}",
        );
    }
    if rows.iter().any(|r| r.when.uses_resources()) {
        s.push_str(
            "\n{{- $req := default dict (default dict .Values.resources).requests }}\n\
             {{- $lim := default dict (default dict .Values.resources).limits }}",
        );
    }
    let guarded = |s: &mut String, when: When, action: &str| match when.helm() {
        Some(cond) => {
            let _ = write!(s, "\n{{{{- if {cond} }}}}\n{action}\n{{{{- end }}}}");
        }
        None => {
            let _ = write!(s, "\n{action}");
        }
    };
    // Keys in the order of their first row; a key with several rows is a list joined with
    // commas.
    let mut keys: Vec<&str> = Vec::new();
    for r in &rows {
        if !keys.contains(&r.key.as_str()) {
            keys.push(&r.key);
        }
    }
    for (i, key) in keys.iter().enumerate() {
        let key_rows: Vec<&Entry> = rows.iter().filter(|r| r.key == *key).collect();
        if let [row] = key_rows.as_slice() {
            let action = if as_map {
                format!(
                    "{{{{- $_ := set $out {} {} }}}}",
                    go_str(key),
                    go_value(row.value)
                )
            } else {
                format!("{key}: {}", yaml_value(row.value))
            };
            guarded(&mut s, row.when, &action);
            continue;
        }
        let var = format!("$list{i}");
        let _ = write!(s, "\n{{{{- {var} := list }}}}");
        for row in &key_rows {
            guarded(
                &mut s,
                row.when,
                &format!("{{{{- {var} = append {var} {} }}}}", go_value(row.value)),
            );
        }
        if as_map {
            let _ = write!(
                s,
                "\n{{{{- $_ := set $out {} (join \",\" {var}) }}}}",
                go_str(key)
            );
        } else {
            let _ = write!(s, "\n{key}: {{{{ join \",\" {var} }}}}");
        }
    }
    if as_map {
        s.push_str("\n{{- toYaml $out }}");
    }
    s.push_str("\n{{- end }}");
    s
}

/// `text` split at its placeholders: literal parts and the chart values standing for them.
pub(crate) fn split_placeholders(text: &str) -> Vec<(bool, String)> {
    let mut parts = Vec::new();
    let mut rest = text;
    'outer: while !rest.is_empty() {
        let next = PLACEHOLDERS
            .iter()
            .filter_map(|(p, go)| rest.find(p).map(|at| (at, *p, *go)))
            .min_by_key(|(at, ..)| *at);
        match next {
            Some((at, p, go)) => {
                if at > 0 {
                    parts.push((false, rest[..at].to_string()));
                }
                parts.push((true, go.to_string()));
                rest = &rest[at + p.len()..];
            }
            None => {
                parts.push((false, rest.to_string()));
                break 'outer;
            }
        }
    }
    parts
}

/// A Go expression for `text`, its placeholders read from `.Values`.
fn go_value(text: &str) -> String {
    let parts = split_placeholders(text);
    if parts.iter().all(|(is_value, _)| !is_value) {
        return go_str(text);
    }
    let operands: Vec<String> = parts
        .into_iter()
        .map(|(is_value, part)| if is_value { part } else { go_str(&part) })
        .collect();
    // `print` puts no space between operands when one of them is a string.
    format!("(print {})", operands.join(" "))
}

/// A YAML block value for `text`, its placeholders as template actions.
fn yaml_value(text: &str) -> String {
    let quoted = if crate::yaml::needs_quotes_in_block(text) {
        crate::yaml::double_quoted(text)
    } else {
        text.to_string()
    };
    split_placeholders(&quoted)
        .into_iter()
        .map(|(is_value, part)| {
            if is_value {
                format!("{{{{ {part} }}}}")
            } else {
                part
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::sample::sample;

    #[test]
    fn contract_env_follows_the_description() {
        let mut spec = sample(WorkloadKind::Deployment);
        let names = |spec: &Spec| {
            contract_env(spec)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        };
        assert!(names(&spec).contains(&c::ENV_CONFIG_FILE));
        spec.config = None;
        assert_eq!(
            names(&spec),
            [
                c::ENV_ADMIN_ADDR,
                c::ENV_PRE_STOP_DELAY,
                c::ENV_DRAIN_TIMEOUT,
                c::ENV_METRICS
            ]
        );
    }

    #[test]
    fn node_name_only_for_a_daemonset_that_does_not_set_it() {
        let spec = sample(WorkloadKind::DaemonSet);
        assert!(env(&spec).iter().any(|e| e.name == NODE_NAME_ENV));
        assert!(!adds_node_name(&sample(WorkloadKind::Deployment)));
    }

    #[test]
    fn exemption_keys_with_several_rows_are_joined_in_order() {
        let spec = sample(WorkloadKind::Deployment);
        assert_eq!(
            annotations(&spec, Scope::Workload)[KUBE_SCORE_IGNORE],
            "container-ephemeral-storage-request-and-limit,container-image-pull-policy,pod-networkpolicy,deployment-has-host-podantiaffinity"
        );
        assert_eq!(
            annotations(&spec, Scope::TestPod)[KUBE_SCORE_IGNORE],
            "container-image-pull-policy,pod-networkpolicy,pod-probes"
        );
        assert_eq!(annotations(&spec, Scope::Every).len(), 1);
    }

    #[test]
    fn stated_settings_carry_their_values() {
        let mut spec = sample(WorkloadKind::Deployment);
        spec.replicas = 1;
        spec.security.run_as_user = 1000;
        spec.resources.limits.cpu = None;
        let a = annotations(&spec, Scope::Workload);
        assert_eq!(
            a["checkov.io/skip13"],
            "CKV_K8S_40=runAsUser 1000 (runAsGroup and fsGroup follow it) is set in berth.yaml (security.runAsUser)"
        );
        assert!(!a.contains_key("checkov.io/skip12"), "not root");
        assert_eq!(
            a["kube-score.berth.io/deployment-replicas"],
            "replicas: 1 is set in berth.yaml"
        );
        assert!(a.contains_key("checkov.io/skip16") && !a.contains_key("checkov.io/skip15"));
        assert!(a[KUBE_SCORE_IGNORE].ends_with("container-resources,deployment-replicas"));
        // No resources at all stays a finding.
        spec.resources = Default::default();
        let a = annotations(&spec, Scope::Workload);
        assert!(!a.contains_key("kube-score.berth.io/container-resources"));
        assert!(!a.contains_key("checkov.io/skip15"));
        // The chart reads the same values from .Values.
        assert_eq!(
            go_value("replicas: {replicas} is set"),
            r#"(print "replicas: " (.Values.replicas | int64) " is set")"#
        );
        assert_eq!(go_value("plain"), r#""plain""#);
    }

    #[test]
    fn chart_helpers_spell_every_constant() {
        let helpers = chart_helpers();
        for text in [
            c::ENV_ADMIN_ADDR,
            c::ENV_PRE_STOP_DELAY,
            c::ENV_DRAIN_TIMEOUT,
            c::ENV_CONFIG_FILE,
            c::ENV_METRICS,
            c::PATH_STARTUPZ,
            c::PATH_LIVEZ,
            c::PATH_READYZ,
            c::PATH_METRICS,
            CONFIG_MAP_SUFFIX,
            ADMIN_SERVICE_SUFFIX,
            TEST_POD_SUFFIX,
        ] {
            assert!(helpers.contains(text), "{text} missing from the helpers");
        }
        for row in EXEMPTIONS {
            for text in [Some(row.value), row.reason].into_iter().flatten() {
                for (is_value, part) in split_placeholders(text) {
                    if !is_value {
                        assert!(helpers.contains(part.as_str()), "{row:?}: {part}");
                    }
                }
            }
        }
        assert!(helpers.contains(&format!(
            "lt (.Values.security.runAsUser | int64) {HIGH_UID}"
        )));
    }
}
