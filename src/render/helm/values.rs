//! The chart's values as Rust types: the one source of `values.yaml` (every key with a comment
//! above it), `values.schema.json` and the README's table of values.
//!
//! A field's doc comment is its documentation in all three; its type and `#[schemars]`
//! attributes are its schema (schemars derives it, [`schema`] only normalises the output for
//! Helm). A doc comment may name a placeholder `{NAME}` ([`placeholders`]) standing for a
//! constant of the plan or the runtime contract or a setting of the description, so no fact is
//! spelt twice.
//!
//! Two kinds of keys:
//! - a *group*: a struct of berth's own keys, every one documented. values.yaml nests it with a
//!   comment above every key; the README has a row per key.
//! - a *leaf*: a scalar, a list, or Kubernetes-shaped data (resources, env entries, volumes)
//!   whose own keys carry no doc comment. It is written as data, one README row.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::super::plan::{self, SPREAD};
use crate::spec::rules;
use crate::spec::{self as model, EnvSource, Spec, VolumeSource, WorkloadKind};

/// The chart's values (what Helm sees as `.Values`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub(super) struct Values {
    /// Replaces the chart name in object names and in the app.kubernetes.io/name label.
    name_override: String,
    /// Replaces the full object name (by default the release name, or <release>-<chart> when the
    /// release name does not contain the chart name).
    fullname_override: String,
    /// The kind of workload: Deployment (replicated pods that roll one at a time) or DaemonSet
    /// (one pod on every matching node).
    #[schemars(extend("enum" = rules::WORKLOADS))]
    workload: &'static str,
    /// Number of pods of a Deployment; a DaemonSet ignores it (one pod per node). With more
    /// than one, a PodDisruptionBudget keeps all but one running during voluntary disruptions.
    #[schemars(range(min = 0, max = 10_000))]
    replicas: u32,
    /// How many old ReplicaSets / ControllerRevisions are kept for `kubectl rollout undo`.
    #[schemars(range(min = 0, max = 1000))]
    revision_history_limit: u32,
    /// How a rollout replaces pods. A Deployment starts a new pod and waits until it is ready
    /// before it stops an old one (maxUnavailable 0, maxSurge 1), so capacity never drops. A
    /// DaemonSet stops the old pod on a node before it starts the new one (maxSurge 0);
    /// maxUnavailable bounds how many nodes are without a ready pod at once.
    rolling_update: RollingUpdate,
    /// The container image. The pod's image is repository[:tag][@digest], exactly as berth.yaml
    /// writes it; with a digest, the tag is informational only.
    image: Image,
    /// Secrets holding registry credentials, e.g. [{name: regcred}].
    image_pull_secrets: Vec<PullSecret>,
    /// Replaces the image's entrypoint; empty runs the image's own (the daemon binary).
    command: Vec<String>,
    /// Arguments passed to the daemon.
    args: Vec<String>,
    /// Application ports of the container: name (IANA service name), port, protocol (TCP or UDP)
    /// and expose (include the port in the Service). The admin port is not listed here.
    ports: Vec<Port>,
    /// The Service in front of the pods; created only when a port has expose: true.
    /// It never includes the admin port.
    service: Service,
    /// A headless Service <fullname>{ADMIN_SERVICE_SUFFIX} for the admin port: DNS records of the ready pods'
    /// admin address only (no virtual IP, no load balancing). `helm test` and the ServiceMonitor
    /// need it; pods are reachable at their IPs anyway, so it exposes nothing new.
    admin_service: Enabled,
    /// The admin server of berth-sidecar: {PATH_LIVEZ}, {PATH_READYZ}, {PATH_STARTUPZ} (and {PATH_METRICS}) on one port.
    /// Every probe uses the container port named {ADMIN_PORT_NAME}.
    health: Health,
    /// Graceful stop: at SIGTERM readiness fails at once, the daemon keeps serving for
    /// preStopDelay (endpoints catch up), then drains in-flight work for up to drainTimeout.
    shutdown: Shutdown,
    /// Extra environment variables, after berth's own ({ENV_ADMIN_ADDR}, {ENV_PRE_STOP_DELAY},
    /// {ENV_DRAIN_TIMEOUT}, {ENV_CONFIG_FILE}, {ENV_METRICS}, and {NODE_NAME_ENV} on a DaemonSet).
    /// Each is {name, value} or {name, valueFrom: {secretKeyRef | configMapKeyRef | fieldRef}}.
    env: Vec<EnvVar>,
    /// CPU and memory requests and limits of the daemon's container (only the ones set).
    resources: Resources,
    /// Volumes and where they are mounted: name, mountPath, readOnly, and exactly one source:
    /// hostPath (a path on the node), emptyDir ({}), secret (a Secret name) or configMap (a
    /// ConfigMap name).
    volumes: Vec<Volume>,
    /// The daemon's configuration file, shipped in the ConfigMap <fullname>{CONFIG_MAP_SUFFIX} and mounted
    /// read-only (its directory, so ConfigMap updates reach the file).
    config: Config,
    /// Security settings. Always applied: allowPrivilegeEscalation false, every capability dropped
    /// but the listed ones, seccomp RuntimeDefault, runAsGroup and fsGroup equal to runAsUser.
    security: Security,
    /// Host namespaces, for node agents.
    host: Host,
    /// Node labels a pod requires.
    node_selector: BTreeMap<String, String>,
    /// Taints the pods tolerate, e.g. [{operator: Exists}] to run on every node.
    tolerations: Vec<Toleration>,
    /// PriorityClass of the pods; empty for the cluster default.
    priority_class_name: String,
    /// Node and pod affinity of the pods (a Kubernetes Affinity object).
    affinity: Map<String, Value>,
    /// Spreads a Deployment's pods across nodes (a DaemonSet has one per node already).
    /// ScheduleAnyway prefers spreading but never blocks scheduling.
    topology_spread: TopologySpread,
    /// A PodDisruptionBudget, created for a Deployment with more than one replica.
    pod_disruption_budget: PodDisruptionBudget,
    /// The ServiceAccount of the pods. The daemon needs no Kubernetes API access, so its token
    /// is not mounted.
    service_account: ServiceAccount,
    /// Extra annotations of the pods (berth adds checksum/config and prometheus.io/*).
    pod_annotations: BTreeMap<String, String>,
    /// Extra labels of the pods.
    pod_labels: BTreeMap<String, String>,
    /// Prometheus metrics of berth-sidecar on the admin port.
    metrics: Metrics,
    /// Annotations that record deliberate exceptions to kube-linter, checkov, Polaris and
    /// kube-score rules (pull policy, no namespace, host namespaces and hostPath volumes a node
    /// agent declares). Each carries its reason; see the chart README.
    linter_annotations: LinterAnnotations,
    /// The `helm test` pod: the daemon's own image in probe mode (`{PROBE_READYZ}`)
    /// against the admin Service, so no extra image is needed. Needs adminService.enabled.
    test: TestPod,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct RollingUpdate {
    /// Pods (or a percentage, e.g. "25%") that may be unavailable during a rollout.
    max_unavailable: IntOrPercent,
    /// Extra pods (or a percentage) started above the desired count during a rollout.
    /// A DaemonSet needs 0 when maxUnavailable is above 0.
    max_surge: IntOrPercent,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Image {
    /// Registry and path of the image.
    #[schemars(length(min = 1))]
    repository: String,
    /// Image tag; also the app.kubernetes.io/version label. Empty for none.
    tag: String,
    /// Image digest (sha256:<64 hex digits>), pinning the exact image. Empty for none.
    #[schemars(pattern(DIGEST_OR_EMPTY))]
    digest: String,
    /// IfNotPresent: the image is pinned, and Always would make every pod start depend on
    /// the registry (linter exemptions for this choice are annotated on the workload).
    #[schemars(extend("enum" = plan::PULL_POLICIES))]
    pull_policy: &'static str,
}

/// A digest as Kubernetes takes it, or nothing.
const DIGEST_OR_EMPTY: &str = "^(sha256:[a-f0-9]{64})?$";
/// The Service types the chart offers.
const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer"];
/// A percentage of pods.
const PERCENT: &str = "^[0-9]+%$";
/// A Prometheus duration, as the ServiceMonitor CRD (monitoring.coreos.com/v1) checks it.
const PROMETHEUS_DURATION: &str =
    "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";
/// An absolute path.
const ABSOLUTE: &str = "^/";

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Service {
    /// Service type.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = SERVICE_TYPES))]
    kind: &'static str,
    /// Annotations added to the Service.
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Enabled {
    /// Create the admin Service.
    enabled: bool,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Health {
    /// The admin port; the daemon binds 0.0.0.0:<port> ({ENV_ADMIN_ADDR}).
    #[schemars(range(min = rules::PORT_MIN, max = rules::PORT_MAX))]
    port: u16,
    /// GET {PATH_STARTUPZ} until start-up completes; liveness and readiness wait for it.
    /// periodSeconds x failureThreshold is the start-up budget (berth.yaml health.startupTimeout: {startupTimeout}).
    startup_probe: Probe,
    /// GET {PATH_LIVEZ}: the daemon's event loop is alive; it stays 200 while draining so a
    /// shutdown is never cut short by a restart.
    liveness_probe: Probe,
    /// GET {PATH_READYZ}: ready for traffic. 503 until start-up completes, and from SIGTERM on.
    readiness_probe: Probe,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Probe {
    /// How often the probe runs, in seconds.
    #[schemars(range(min = 1, max = 3600))]
    period_seconds: u64,
    /// Seconds before one probe attempt times out (the Kubernetes default of 1s flakes under CPU throttling).
    #[schemars(range(min = 1, max = 3600))]
    timeout_seconds: u64,
    /// Consecutive failures before the probe counts as failed.
    #[schemars(range(min = 1, max = 100_000))]
    failure_threshold: u64,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Shutdown {
    /// How long the daemon keeps serving after SIGTERM ({ENV_PRE_STOP_DELAY}).
    #[schemars(pattern(rules::DURATION_PATTERN))]
    pre_stop_delay: String,
    /// How long in-flight work may take after the delay ({ENV_DRAIN_TIMEOUT}).
    #[schemars(pattern(rules::DURATION_PATTERN))]
    drain_timeout: String,
    /// Seconds before SIGKILL: preStopDelay + drainTimeout + {STOP_MARGIN} margin, rounded up
    /// ({preStopDelay} + {drainTimeout} + {STOP_MARGIN} = {grace}s). Keep it in step when you change either duration.
    #[schemars(range(min = 0, max = 31_536_000))]
    termination_grace_period_seconds: u64,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Config {
    /// Ship the configuration file.
    enabled: bool,
    /// The key in the ConfigMap (the file name in berth.yaml).
    file_name: String,
    /// Absolute path of the file in the container ({ENV_CONFIG_FILE}).
    #[schemars(pattern("^(/.*[^/])?$"))]
    mount_path: String,
    /// true: berth-sidecar reloads the file when it changes; false: a checksum annotation
    /// rolls the pods whenever the content changes.
    reload: bool,
    /// The file's content{configSource}.
    content: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Security {
    /// UID of the process ({NONROOT_UID} is distroless' nonroot); 0 runs as root.
    #[schemars(range(min = 0, max = rules::MAX_UID))]
    run_as_user: i64,
    /// Mount the container's root file system read-only.
    read_only_root_filesystem: bool,
    /// Linux capabilities added back after dropping ALL, without the CAP_ prefix.
    #[schemars(inner(pattern("^[A-Z_]+$")))]
    capabilities: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Host {
    /// Use the node's network namespace (hostNetwork, with dnsPolicy ClusterFirstWithHostNet).
    network: bool,
    /// Use the node's PID namespace (hostPID).
    pid: bool,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct TopologySpread {
    /// Add the topology spread constraint (Deployment only).
    enabled: bool,
    /// Largest allowed difference in pod count between two nodes.
    #[schemars(range(min = 1, max = 1000))]
    max_skew: u32,
    /// Node label that defines the domains.
    #[schemars(length(min = 1))]
    topology_key: &'static str,
    /// What the scheduler does when the skew cannot be met.
    #[schemars(extend("enum" = plan::WHEN_UNSATISFIABLE))]
    when_unsatisfiable: &'static str,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct PodDisruptionBudget {
    /// Create the PodDisruptionBudget when it applies.
    enabled: bool,
    /// Pods (or a percentage) a voluntary disruption may take down at once.
    max_unavailable: IntOrPercent,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct ServiceAccount {
    /// Create a ServiceAccount.
    create: bool,
    /// Mount the ServiceAccount token into the pods (automountServiceAccountToken).
    automount: bool,
    /// Annotations added to the ServiceAccount.
    annotations: BTreeMap<String, String>,
    /// Name of the ServiceAccount; empty uses the full name (or `default` when create is false).
    name: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Metrics {
    /// Serve {PATH_METRICS} ({ENV_METRICS}) and add the prometheus.io/scrape, port and path pod
    /// annotations.
    enabled: bool,
    /// A Prometheus Operator ServiceMonitor scraping the admin Service; rendered only when
    /// the cluster serves monitoring.coreos.com/v1 and metrics are enabled.
    service_monitor: ServiceMonitor,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct ServiceMonitor {
    /// Create the ServiceMonitor when the API exists.
    enabled: bool,
    /// Scrape interval.
    #[schemars(pattern(PROMETHEUS_DURATION))]
    interval: &'static str,
    /// Scrape timeout (at most the interval).
    #[schemars(pattern(PROMETHEUS_DURATION))]
    scrape_timeout: &'static str,
    /// Extra labels, e.g. the one your Prometheus selects ServiceMonitors by.
    labels: BTreeMap<String, String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct LinterAnnotations {
    /// Add the annotations.
    enabled: bool,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct TestPod {
    /// Render the test pod.
    enabled: bool,
    /// Path of the daemon binary in the image (it implements {PROBE_FLAG}).
    #[schemars(pattern(ABSOLUTE))]
    binary: String,
    /// Requests and limits of the test pod (ephemeral-storage included, as kube-score asks).
    resources: Resources,
}

// -- Kubernetes-shaped data (leaves): no doc comments on their keys, see the module docs. --

// `{name}` of an image pull Secret.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct PullSecret {
    #[schemars(length(min = 1))]
    name: String,
}

// An application port of the container.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Port {
    #[schemars(pattern("^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$"))]
    name: String,
    #[schemars(range(min = rules::PORT_MIN, max = rules::PORT_MAX))]
    port: u16,
    #[schemars(extend("enum" = rules::PROTOCOLS))]
    protocol: &'static str,
    expose: bool,
}

// A container environment variable: a value or a reference.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, extend("not" = {"required": ["value", "valueFrom"]}))]
struct EnvVar {
    #[schemars(pattern("^[A-Za-z_][A-Za-z0-9_.-]*$"))]
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_from: Option<EnvValueFrom>,
}

// Exactly one source of a referenced environment variable.
#[derive(Serialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, extend("minProperties" = 1, "maxProperties" = 1))]
struct EnvValueFrom {
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key_ref: Option<KeyRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_map_key_ref: Option<KeyRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_ref: Option<FieldRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_field_ref: Option<ResourceFieldRef>,
}

// A key of a Secret or ConfigMap.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct KeyRef {
    name: String,
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    optional: Option<bool>,
}

// A field of the pod.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct FieldRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    api_version: Option<String>,
    field_path: String,
}

// A resource of a container (never written by berth; users may set it).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct ResourceFieldRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    container_name: Option<String>,
    resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    divisor: Option<Quantity>,
}

// Requests and limits: each a list of resource name → quantity, written only when not empty.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Resources {
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    requests: ResourceList,
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    limits: ResourceList,
}

// Resource name → quantity, in the order written (cpu, memory, ephemeral-storage).
#[derive(Default)]
struct ResourceList(Vec<(&'static str, Quantity)>);

impl ResourceList {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn of(list: &model::ResourceList) -> Self {
        let set = [("cpu", &list.cpu), ("memory", &list.memory)];
        ResourceList(
            set.into_iter()
                .filter_map(|(name, q)| Some((name, Quantity(q.clone()?))))
                .collect(),
        )
    }
}

impl Serialize for ResourceList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, quantity) in &self.0 {
            map.serialize_entry(name, quantity)?;
        }
        map.end()
    }
}

impl JsonSchema for ResourceList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ResourceList".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object", "additionalProperties": generator.subschema_for::<Quantity>()})
    }
}

// A Kubernetes quantity (`50m`, `64Mi`, `1`): the validator's grammar, or a plain number.
#[derive(Serialize)]
struct Quantity(String);

impl JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"anyOf": [
            {"type": "string", "pattern": rules::QUANTITY_PATTERN},
            {"type": "number", "minimum": 0}
        ]})
    }
}

// A count or a percentage.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum IntOrPercent {
    Int(u32),
    Percent(#[schemars(pattern(PERCENT))] String),
}

impl From<&model::IntOrPercent> for IntOrPercent {
    fn from(v: &model::IntOrPercent) -> Self {
        match v {
            model::IntOrPercent::Int(n) => IntOrPercent::Int(*n),
            model::IntOrPercent::Percent(p) => IntOrPercent::Percent(p.clone()),
        }
    }
}

// A volume and its mount: exactly one of the four sources.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, extend("oneOf" = [
    {"required": ["hostPath"]},
    {"required": ["emptyDir"]},
    {"required": ["secret"]},
    {"required": ["configMap"]}
]))]
struct Volume {
    #[schemars(pattern("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    name: String,
    #[schemars(pattern(ABSOLUTE))]
    mount_path: String,
    #[serde(default)]
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ABSOLUTE))]
    host_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    empty_dir: Option<EmptyDir>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    config_map: Option<String>,
}

// `emptyDir: {}`.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct EmptyDir {}

// A toleration; operator and effect take the validator's choices.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
struct Toleration {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = rules::TOLERATION_OPERATORS))]
    operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = rules::TOLERATION_EFFECTS))]
    effect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    toleration_seconds: Option<i64>,
}

impl Values {
    /// The values of `spec`.
    pub(super) fn of(spec: &Spec) -> Values {
        let deployment = spec.workload == WorkloadKind::Deployment;
        let [startup, liveness, readiness] = plan::probes(spec).map(|p| Probe {
            period_seconds: p.period_seconds,
            timeout_seconds: p.timeout_seconds,
            failure_threshold: p.failure_threshold,
        });
        let rollout = plan::rollout(spec);
        let config = spec.config.as_ref();
        Values {
            name_override: String::new(),
            fullname_override: String::new(),
            workload: spec.workload.as_str(),
            replicas: if deployment { spec.replicas } else { 1 },
            revision_history_limit: plan::REVISION_HISTORY_LIMIT,
            rolling_update: RollingUpdate {
                max_unavailable: (&rollout.max_unavailable).into(),
                max_surge: (&rollout.max_surge).into(),
            },
            image: Image {
                repository: spec.image.repository.clone(),
                tag: spec.image.tag.clone().unwrap_or_default(),
                digest: spec.image.digest.clone().unwrap_or_default(),
                pull_policy: plan::PULL_POLICY,
            },
            image_pull_secrets: Vec::new(),
            command: spec.command.clone(),
            args: spec.args.clone(),
            ports: spec
                .ports
                .iter()
                .map(|p| Port {
                    name: p.name.clone(),
                    port: p.port,
                    protocol: p.protocol.as_str(),
                    expose: p.expose,
                })
                .collect(),
            service: Service {
                kind: "ClusterIP",
                annotations: BTreeMap::new(),
            },
            admin_service: Enabled { enabled: true },
            health: Health {
                port: spec.health.port,
                startup_probe: startup,
                liveness_probe: liveness,
                readiness_probe: readiness,
            },
            shutdown: Shutdown {
                pre_stop_delay: spec.shutdown.pre_stop_delay.to_string(),
                drain_timeout: spec.shutdown.drain_timeout.to_string(),
                termination_grace_period_seconds: spec.shutdown.stop_timeout_secs(),
            },
            env: spec.env.iter().map(env_var).collect(),
            resources: Resources {
                requests: ResourceList::of(&spec.resources.requests),
                limits: ResourceList::of(&spec.resources.limits),
            },
            volumes: spec.volumes.iter().map(volume).collect(),
            config: Config {
                enabled: config.is_some(),
                file_name: config.map(|c| c.file_name.clone()).unwrap_or_default(),
                mount_path: config.map(|c| c.mount_path.clone()).unwrap_or_default(),
                reload: config.is_some_and(|c| c.reload),
                content: config.map(|c| c.contents.clone()).unwrap_or_default(),
            },
            security: Security {
                run_as_user: spec.security.run_as_user,
                read_only_root_filesystem: spec.security.read_only_root_filesystem,
                capabilities: spec.security.capabilities.clone(),
            },
            host: Host {
                network: spec.host.network,
                pid: spec.host.pid,
            },
            node_selector: spec.scheduling.node_selector.clone(),
            tolerations: spec
                .scheduling
                .tolerations
                .iter()
                .map(|t| Toleration {
                    key: t.key.clone(),
                    operator: t.operator.clone(),
                    value: t.value.clone(),
                    effect: t.effect.clone(),
                    toleration_seconds: t.toleration_seconds,
                })
                .collect(),
            priority_class_name: spec.scheduling.priority_class_name.clone(),
            affinity: Map::new(),
            topology_spread: TopologySpread {
                enabled: deployment,
                max_skew: SPREAD.max_skew,
                topology_key: SPREAD.topology_key,
                when_unsatisfiable: SPREAD.when_unsatisfiable,
            },
            pod_disruption_budget: PodDisruptionBudget {
                enabled: true,
                max_unavailable: IntOrPercent::Int(plan::PDB_MAX_UNAVAILABLE),
            },
            service_account: ServiceAccount {
                create: true,
                automount: false,
                annotations: BTreeMap::new(),
                name: String::new(),
            },
            pod_annotations: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            metrics: Metrics {
                enabled: spec.metrics.enabled,
                service_monitor: ServiceMonitor {
                    enabled: true,
                    interval: "30s",
                    scrape_timeout: "10s",
                    labels: BTreeMap::new(),
                },
            },
            linter_annotations: LinterAnnotations { enabled: true },
            test: TestPod {
                enabled: true,
                binary: spec.binary_path(),
                resources: Resources {
                    requests: ResourceList(test_resources(["10m", "16Mi", "1Mi"])),
                    limits: ResourceList(test_resources(["100m", "32Mi", "8Mi"])),
                },
            },
        }
    }
}

fn test_resources(q: [&str; 3]) -> Vec<(&'static str, Quantity)> {
    ["cpu", "memory", "ephemeral-storage"]
        .into_iter()
        .zip(q)
        .map(|(name, q)| (name, Quantity(q.to_owned())))
        .collect()
}

fn env_var(e: &model::EnvVar) -> EnvVar {
    let key_ref = |name: &str, key: &str| KeyRef {
        name: name.to_owned(),
        key: key.to_owned(),
        optional: None,
    };
    let (value, from) = match &e.value {
        EnvSource::Value(v) => (Some(v.clone()), None),
        EnvSource::Secret { name, key } => (
            None,
            Some(EnvValueFrom {
                secret_key_ref: Some(key_ref(name, key)),
                ..EnvValueFrom::default()
            }),
        ),
        EnvSource::ConfigMap { name, key } => (
            None,
            Some(EnvValueFrom {
                config_map_key_ref: Some(key_ref(name, key)),
                ..EnvValueFrom::default()
            }),
        ),
        EnvSource::Field { path } => (
            None,
            Some(EnvValueFrom {
                field_ref: Some(FieldRef {
                    api_version: None,
                    field_path: path.clone(),
                }),
                ..EnvValueFrom::default()
            }),
        ),
    };
    EnvVar {
        name: e.name.clone(),
        value,
        value_from: from,
    }
}

fn volume(v: &model::Volume) -> Volume {
    let mut out = Volume {
        name: v.name.clone(),
        mount_path: v.mount_path.clone(),
        read_only: v.read_only,
        host_path: None,
        empty_dir: None,
        secret: None,
        config_map: None,
    };
    match &v.source {
        VolumeSource::HostPath(p) => out.host_path = Some(p.clone()),
        VolumeSource::EmptyDir => out.empty_dir = Some(EmptyDir {}),
        VolumeSource::Secret(s) => out.secret = Some(s.clone()),
        VolumeSource::ConfigMap(c) => out.config_map = Some(c.clone()),
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Placeholders of the doc comments
// ---------------------------------------------------------------------------------------------

/// What each `{NAME}` of a doc comment stands for with `spec`.
pub(super) fn placeholders(spec: &Spec) -> Vec<(&'static str, String)> {
    use berth_sidecar::contract as c;
    let margin = c::STOP_MARGIN.as_secs();
    let mut table: Vec<(&'static str, String)> = [
        ("PATH_LIVEZ", c::PATH_LIVEZ),
        ("PATH_READYZ", c::PATH_READYZ),
        ("PATH_STARTUPZ", c::PATH_STARTUPZ),
        ("PATH_METRICS", c::PATH_METRICS),
        ("ENV_ADMIN_ADDR", c::ENV_ADMIN_ADDR),
        ("ENV_PRE_STOP_DELAY", c::ENV_PRE_STOP_DELAY),
        ("ENV_DRAIN_TIMEOUT", c::ENV_DRAIN_TIMEOUT),
        ("ENV_CONFIG_FILE", c::ENV_CONFIG_FILE),
        ("ENV_METRICS", c::ENV_METRICS),
        ("PROBE_FLAG", c::PROBE_FLAG),
        ("NODE_NAME_ENV", plan::NODE_NAME_ENV),
        ("ADMIN_PORT_NAME", plan::ADMIN_PORT_NAME),
        ("ADMIN_SERVICE_SUFFIX", plan::ADMIN_SERVICE_SUFFIX),
        ("CONFIG_MAP_SUFFIX", plan::CONFIG_MAP_SUFFIX),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    table.extend([
        ("NONROOT_UID", plan::NONROOT_UID.to_string()),
        ("STOP_MARGIN", format!("{margin}s")),
        ("PROBE_READYZ", plan::readyz_probe_args().join(" ")),
        ("startupTimeout", spec.health.startup_timeout.to_string()),
        ("preStopDelay", spec.shutdown.pre_stop_delay.to_string()),
        ("drainTimeout", spec.shutdown.drain_timeout.to_string()),
        ("grace", spec.shutdown.stop_timeout_secs().to_string()),
        (
            "configSource",
            spec.config
                .as_ref()
                .map(|c| format!(" (from {} next to berth.yaml)", c.file))
                .unwrap_or_default(),
        ),
    ]);
    table
}

/// `text` with every known `{NAME}` replaced; other braces (`{name, value}`, `{}`) are text.
pub(super) fn expand(text: &str, table: &[(&'static str, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let known = after.find('}').and_then(|close| {
            let name = &after[..close];
            table
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (v, close))
        });
        match known {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// The schema, values.yaml and the README rows, all from `Values`
// ---------------------------------------------------------------------------------------------

/// The schema of [`Values`] as schemars derives it (draft-07, every subschema inline), with
/// the doc comments' placeholders still in the descriptions.
pub(super) fn derived_schema() -> Value {
    let generator = SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .for_deserialize()
        .into_generator();
    generator.into_root_schema_for::<Values>().to_value()
}

/// `values.schema.json` of `spec`: [`derived_schema`] made readable for Helm. Every
/// description expanded and on one line; integer `format`s (schemars' Rust widths),
/// `default`s, `null` (an `Option`) and `additionalProperties: true` dropped; `description`
/// and `type` first in every schema; `global` allowed at the top. Self-contained: every
/// subschema is inline, so there is no `$ref` at all.
pub(super) fn schema(spec: &Spec) -> Value {
    let table = placeholders(spec);
    let mut schema = derived_schema();
    normalise(&mut schema, &table, true);
    let Value::Object(mut body) = schema else {
        return schema;
    };
    body.shift_remove("description");
    if let Some(Value::Object(props)) = body.get_mut("properties") {
        // Helm passes `global` to every chart (and subchart); allow it.
        props.insert(
            "global".into(),
            serde_json::json!({"description": "Helm's global values, shared with subcharts.", "type": "object"}),
        );
    }
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        body.shift_remove("$schema").unwrap_or(Value::Null),
    );
    root.insert(
        "title".into(),
        "Values of a chart generated by berth".into(),
    );
    body.shift_remove("title");
    root.extend(body);
    Value::Object(root)
}

/// Normalises `schema` in place (see [`schema`]); `one_line` joins a description's lines.
fn normalise(schema: &mut Value, table: &[(&'static str, String)], one_line: bool) {
    let Value::Object(m) = schema else {
        if let Value::Array(items) = schema {
            items.iter_mut().for_each(|v| normalise(v, table, one_line));
        }
        return;
    };
    m.shift_remove("format");
    m.shift_remove("default");
    // An `Option` field is optional, not nullable: a null in values.yaml deletes a chart
    // default, which berth's templates do not expect.
    if let Some(Value::Array(types)) = m.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            m.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(any)) = m.get_mut("anyOf") {
        any.retain(|s| s.get("type").and_then(Value::as_str) != Some("null"));
        if any.len() == 1
            && let Value::Object(only) = any.remove(0)
        {
            m.shift_remove("anyOf");
            m.extend(only);
        }
    }
    if m.get("additionalProperties") == Some(&Value::Bool(true)) {
        m.shift_remove("additionalProperties");
    }
    if let Some(Value::String(d)) = m.get_mut("description") {
        *d = expand(d, table);
        if one_line {
            *d = d.replace('\n', " ");
        }
    }
    for (key, value) in m.iter_mut() {
        if key == "properties" {
            if let Value::Object(props) = value {
                props
                    .values_mut()
                    .for_each(|v| normalise(v, table, one_line));
            }
        } else if !matches!(key.as_str(), "enum" | "required" | "description") {
            normalise(value, table, one_line);
        }
    }
    let mut ordered = Map::new();
    for key in ["description", "type"] {
        if let Some(v) = m.shift_remove(key) {
            ordered.insert(key.into(), v);
        }
    }
    ordered.extend(std::mem::take(m));
    *m = ordered;
}

/// One key of the values: a group of documented keys, or a leaf written as data.
pub(super) enum Node<'a> {
    Group(Vec<(&'a str, &'a str, Node<'a>)>),
    Leaf { value: &'a Value, schema: &'a Value },
}

/// The values of `data` as (key, description, node), following `schema` (both from
/// [`Values`]): a schema whose properties all carry a description is a group.
pub(super) fn tree<'a>(data: &'a Value, schema: &'a Value) -> Vec<(&'a str, &'a str, Node<'a>)> {
    let (Value::Object(values), Some(Value::Object(props))) = (data, schema.get("properties"))
    else {
        return Vec::new();
    };
    values
        .iter()
        .filter_map(|(key, value)| {
            let s = props.get(key)?;
            let doc = s.get("description").and_then(Value::as_str).unwrap_or("");
            let node = match s.get("properties").and_then(Value::as_object) {
                Some(p) if !p.is_empty() && p.values().all(|c| c.get("description").is_some()) => {
                    Node::Group(tree(value, s))
                }
                _ => Node::Leaf { value, schema: s },
            };
            Some((key.as_str(), doc, node))
        })
        .collect()
}

/// [`Values`] of `spec` as data, and its schema normalised like [`schema`] but with each
/// description keeping its line breaks (values.yaml and the README read these two).
pub(super) fn documented(spec: &Spec) -> (Value, Value) {
    let data = serde_json::to_value(Values::of(spec)).unwrap_or(Value::Null);
    let mut schema = derived_schema();
    normalise(&mut schema, &placeholders(spec), false);
    (data, schema)
}
