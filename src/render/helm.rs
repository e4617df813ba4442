//! The `helm` target: `helm/<name>/`, a complete Helm chart.
//!
//! The templates are the real chart in `charts/berth/` (lintable on its own), copied verbatim:
//! `templates/**` and `.helmignore`. Only the data differs between charts, so only four files are
//! generated here from the resolved [`Spec`]:
//!
//! - `Chart.yaml`;
//! - `values.yaml`: every key with a comment above it (this file is the chart's manual);
//! - `values.schema.json`: every key typed, `additionalProperties: false` on berth's own
//!   objects, so `helm lint` / `install` / `template` reject a wrong type or a misspelt key;
//! - `README.md`, from `templates/helm/README.md.j2`, with a table of every value.
//!
//! Values and schema come from one tree of documented fields, so a key cannot be documented,
//! typed or defaulted in one place and forgotten in another.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{FileSet, RenderError, Target, assets, template};
use crate::spec::{EnvSource, IntOrPercent, Spec, VolumeSource, WorkloadKind};
use crate::yaml;

/// The chart README template inside [`assets::TEMPLATES`].
const README_TEMPLATE: &str = "helm/README.md.j2";

/// The lowest Kubernetes version the chart is validated against. Deliberately not a
/// `kubeVersion` constraint in Chart.yaml: `helm template` without `--kube-version` assumes
/// Kubernetes 1.20 and would refuse to render.
pub const MIN_KUBE_VERSION: &str = "1.29.0";

/// The newest Kubernetes version the chart and the manifests are validated against (with
/// every minor from [`MIN_KUBE_VERSION`]); the end-to-end suite's control plane runs it.
pub const MAX_KUBE_VERSION: &str = "1.37.0";

/// Every minor of the supported range, `1.29.0` to `1.37.0`.
pub fn supported_kube_versions() -> Vec<String> {
    let minor = |v: &str| -> u32 {
        v.split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    };
    (minor(MIN_KUBE_VERSION)..=minor(MAX_KUBE_VERSION))
        .map(|m| format!("1.{m}.0"))
        .collect()
}

/// Period of the startup probe in seconds; its failure threshold covers `health.startupTimeout`.
pub const STARTUP_PROBE_PERIOD_SECS: u64 = 2;

/// Renders the `helm` files of `spec` into `out`.
pub fn render(spec: &Spec, out: &mut FileSet) -> Result<(), RenderError> {
    let root = format!("helm/{}", spec.name);
    for (path, contents) in static_files()? {
        out.insert(Target::Helm, format!("{root}/{path}"), contents)?;
    }
    let values = values(spec);
    out.insert(Target::Helm, format!("{root}/Chart.yaml"), chart_yaml(spec))?;
    out.insert(
        Target::Helm,
        format!("{root}/values.yaml"),
        values_yaml(&values),
    )?;
    out.insert(
        Target::Helm,
        format!("{root}/values.schema.json"),
        schema_json(&values)?,
    )?;
    out.insert(
        Target::Helm,
        format!("{root}/README.md"),
        readme(spec, &values)?,
    )?;
    Ok(())
}

/// The files copied unchanged from `charts/berth/`: `.helmignore` and everything under
/// `templates/`, as (path relative to the chart, contents), sorted by path.
fn static_files() -> Result<Vec<(String, &'static str)>, RenderError> {
    let mut files = Vec::new();
    let mut pending = vec![&assets::CHART];
    while let Some(dir) = pending.pop() {
        pending.extend(dir.dirs());
        for file in dir.files() {
            let path = file.path().to_string_lossy().replace('\\', "/");
            if path != ".helmignore" && !path.starts_with("templates/") {
                continue;
            }
            let contents = file.contents_utf8().ok_or_else(|| RenderError::Serialize {
                what: format!("chart file {path}"),
                message: "not UTF-8".into(),
            })?;
            files.push((path, contents));
        }
    }
    files.sort();
    Ok(files)
}

/// The `app.kubernetes.io/version` label and `appVersion`: the image tag, or the first 12 hex
/// digits of the digest when the image has no tag.
pub fn app_version(spec: &Spec) -> String {
    match (&spec.image.tag, &spec.image.digest) {
        (Some(tag), _) => tag.clone(),
        (None, Some(digest)) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            hex.chars().take(12).collect()
        }
        (None, None) => String::new(),
    }
}

/// The chart `version`: the image tag when it is a SemVer 2 version (a leading `v` dropped),
/// otherwise `0.1.0`.
pub fn chart_version(spec: &Spec) -> String {
    spec.image
        .tag
        .as_deref()
        .map(|t| t.strip_prefix('v').unwrap_or(t))
        .filter(|t| is_semver(t))
        .unwrap_or("0.1.0")
        .to_owned()
}

fn is_semver(text: &str) -> bool {
    let (rest, build) = match text.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (text, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(ident)
        && build.is_none_or(ident)
}

/// `failureThreshold` of the startup probe: `ceil(startupTimeout / 2s)`, at least 1.
pub fn startup_failure_threshold(spec: &Spec) -> u64 {
    let period = u128::from(STARTUP_PROBE_PERIOD_SECS) * 1_000_000_000;
    let budget = spec.health.startup_timeout.std().as_nanos();
    let n = budget.div_ceil(period);
    u64::try_from(n).unwrap_or(u64::MAX).max(1)
}

fn chart_yaml(spec: &Spec) -> String {
    let description = if spec.description.is_empty() {
        format!("The {} daemon, packaged by berth", spec.name)
    } else {
        spec.description.clone()
    };
    let mut s = String::new();
    s.push_str("# The chart of the daemon, generated by berth from berth.yaml.\n");
    s.push_str(
        "# Its templates are berth's (the same in every generated chart); values.yaml holds\n",
    );
    s.push_str("# everything berth.yaml describes. Regenerate with `berth generate`.\n");
    s.push_str("apiVersion: v2\n");
    let _ = writeln!(s, "name: {}", scalar_str(&spec.name));
    let _ = writeln!(s, "description: {}", yaml::double_quoted(&description));
    s.push_str("type: application\n");
    s.push_str(
        "# The chart's own version: the image tag when it is a SemVer version, else 0.1.0.\n",
    );
    let _ = writeln!(s, "version: {}", chart_version(spec));
    s.push_str(
        "# The version of the daemon: the image tag (or the digest's first 12 hex digits).\n",
    );
    let _ = writeln!(s, "appVersion: {}", yaml::double_quoted(&app_version(spec)));
    s
}

// ---------------------------------------------------------------------------------------------
// The values tree
// ---------------------------------------------------------------------------------------------

/// One key of `values.yaml`: its documentation and either children or a default and a schema.
#[derive(Debug, Clone)]
struct Field {
    key: &'static str,
    doc: String,
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    /// A map of berth's own keys: `additionalProperties: false` in the schema.
    Group(Vec<Field>),
    /// A value written as data (a scalar, or a list / open map of Kubernetes objects).
    Leaf { value: Value, schema: Value },
}

fn group(key: &'static str, doc: impl Into<String>, fields: Vec<Field>) -> Field {
    Field {
        key,
        doc: doc.into(),
        node: Node::Group(fields),
    }
}

fn leaf(key: &'static str, doc: impl Into<String>, value: Value, schema: Value) -> Field {
    Field {
        key,
        doc: doc.into(),
        node: Node::Leaf { value, schema },
    }
}

mod schema {
    //! JSON schema fragments.
    use serde_json::{Value, json};

    pub fn string() -> Value {
        json!({"type": "string"})
    }
    pub fn boolean() -> Value {
        json!({"type": "boolean"})
    }
    pub fn integer(min: i64, max: i64) -> Value {
        json!({"type": "integer", "minimum": min, "maximum": max})
    }
    pub fn one_of_strings(values: &[&str]) -> Value {
        json!({"type": "string", "enum": values})
    }
    pub fn string_map() -> Value {
        json!({"type": "object", "additionalProperties": {"type": "string"}})
    }
    pub fn string_list() -> Value {
        json!({"type": "array", "items": {"type": "string"}})
    }
    pub fn int_or_percent() -> Value {
        json!({"anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": "^[0-9]+%$"}
        ]})
    }
    pub fn duration() -> Value {
        json!({"type": "string", "pattern": "^(0|([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h))+$"})
    }
    pub fn port() -> Value {
        integer(1, 65535)
    }
    /// A Kubernetes quantity (`50m`, `64Mi`, `1`).
    pub fn quantity() -> Value {
        json!({"anyOf": [
            {"type": "string", "pattern": "^[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][-+]?[0-9]+)?$"},
            {"type": "number", "minimum": 0}
        ]})
    }
    /// `requests` / `limits`: resource name → quantity.
    pub fn resources() -> Value {
        let list = json!({"type": "object", "additionalProperties": quantity()});
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"requests": list, "limits": list}
        })
    }
    fn key_ref() -> Value {
        json!({
            "type": "object",
            "required": ["name", "key"],
            "properties": {
                "name": {"type": "string"},
                "key": {"type": "string"},
                "optional": {"type": "boolean"}
            },
            "additionalProperties": false
        })
    }
    pub fn env() -> Value {
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$"},
                    "value": {"type": "string"},
                    "valueFrom": {
                        "type": "object",
                        "additionalProperties": false,
                        "minProperties": 1,
                        "maxProperties": 1,
                        "properties": {
                            "secretKeyRef": key_ref(),
                            "configMapKeyRef": key_ref(),
                            "fieldRef": {
                                "type": "object",
                                "required": ["fieldPath"],
                                "additionalProperties": false,
                                "properties": {
                                    "apiVersion": {"type": "string"},
                                    "fieldPath": {"type": "string"}
                                }
                            },
                            "resourceFieldRef": {
                                "type": "object",
                                "required": ["resource"],
                                "additionalProperties": false,
                                "properties": {
                                    "containerName": {"type": "string"},
                                    "resource": {"type": "string"},
                                    "divisor": quantity()
                                }
                            }
                        }
                    }
                },
                "not": {"required": ["value", "valueFrom"]}
            }
        })
    }
    pub fn ports() -> Value {
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "port", "protocol", "expose"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$"},
                    "port": port(),
                    "protocol": one_of_strings(&["TCP", "UDP"]),
                    "expose": boolean()
                }
            }
        })
    }
    pub fn volumes() -> Value {
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "mountPath"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
                    "mountPath": {"type": "string", "pattern": "^/"},
                    "readOnly": boolean(),
                    "hostPath": {"type": "string", "pattern": "^/"},
                    "emptyDir": {"type": "object", "additionalProperties": false, "properties": {}},
                    "secret": {"type": "string", "minLength": 1},
                    "configMap": {"type": "string", "minLength": 1}
                },
                "oneOf": [
                    {"required": ["hostPath"]},
                    {"required": ["emptyDir"]},
                    {"required": ["secret"]},
                    {"required": ["configMap"]}
                ]
            }
        })
    }
    pub fn tolerations() -> Value {
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "key": {"type": "string"},
                    "operator": one_of_strings(&["Equal", "Exists"]),
                    "value": {"type": "string"},
                    "effect": one_of_strings(&["NoSchedule", "PreferNoSchedule", "NoExecute"]),
                    "tolerationSeconds": {"type": "integer"}
                }
            }
        })
    }
    pub fn pull_secrets() -> Value {
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": {"name": {"type": "string", "minLength": 1}}
            }
        })
    }
    pub fn open_object() -> Value {
        json!({"type": "object"})
    }
}

fn probe(period: u64, timeout: u64, failures: u64) -> Vec<Field> {
    vec![
        leaf(
            "periodSeconds",
            "How often the probe runs, in seconds.",
            json!(period),
            schema::integer(1, 3600),
        ),
        leaf(
            "timeoutSeconds",
            "Seconds before one probe attempt times out (the Kubernetes default of 1s flakes under CPU throttling).",
            json!(timeout),
            schema::integer(1, 3600),
        ),
        leaf(
            "failureThreshold",
            "Consecutive failures before the probe counts as failed.",
            json!(failures),
            schema::integer(1, 100_000),
        ),
    ]
}

fn env_value(source: &EnvSource) -> Value {
    match source {
        EnvSource::Value(v) => json!({ "value": v }),
        EnvSource::Secret { name, key } => {
            json!({"valueFrom": {"secretKeyRef": {"name": name, "key": key}}})
        }
        EnvSource::ConfigMap { name, key } => {
            json!({"valueFrom": {"configMapKeyRef": {"name": name, "key": key}}})
        }
        EnvSource::Field { path } => json!({"valueFrom": {"fieldRef": {"fieldPath": path}}}),
    }
}

fn resource_list(list: &crate::spec::ResourceList) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(cpu) = &list.cpu {
        m.insert("cpu".into(), json!(cpu));
    }
    if let Some(memory) = &list.memory {
        m.insert("memory".into(), json!(memory));
    }
    m
}

fn int_or_percent(v: &IntOrPercent) -> Value {
    match v {
        IntOrPercent::Int(n) => json!(n),
        IntOrPercent::Percent(p) => json!(p),
    }
}

/// The values tree of `spec`.
fn values(spec: &Spec) -> Vec<Field> {
    let deployment = spec.workload == WorkloadKind::Deployment;
    let admin = spec.health.port;
    let grace = spec.shutdown.stop_timeout_secs();

    let ports: Vec<Value> = spec
        .ports
        .iter()
        .map(|p| json!({"name": p.name, "port": p.port, "protocol": p.protocol.as_str(), "expose": p.expose}))
        .collect();
    let env: Vec<Value> = spec
        .env
        .iter()
        .map(|e| {
            let mut m = Map::new();
            m.insert("name".into(), json!(e.name));
            if let Value::Object(source) = env_value(&e.value) {
                m.extend(source);
            }
            Value::Object(m)
        })
        .collect();
    let volumes: Vec<Value> = spec
        .volumes
        .iter()
        .map(|v| {
            let mut m = Map::new();
            m.insert("name".into(), json!(v.name));
            m.insert("mountPath".into(), json!(v.mount_path));
            m.insert("readOnly".into(), json!(v.read_only));
            let (key, value) = match &v.source {
                VolumeSource::HostPath(p) => ("hostPath", json!(p)),
                VolumeSource::EmptyDir => ("emptyDir", json!({})),
                VolumeSource::Secret(s) => ("secret", json!(s)),
                VolumeSource::ConfigMap(c) => ("configMap", json!(c)),
            };
            m.insert(key.into(), value);
            Value::Object(m)
        })
        .collect();
    let mut resources = Map::new();
    let requests = resource_list(&spec.resources.requests);
    if !requests.is_empty() {
        resources.insert("requests".into(), Value::Object(requests));
    }
    let limits = resource_list(&spec.resources.limits);
    if !limits.is_empty() {
        resources.insert("limits".into(), Value::Object(limits));
    }
    let tolerations =
        serde_json::to_value(&spec.scheduling.tolerations).unwrap_or_else(|_| json!([]));
    let node_selector =
        serde_json::to_value(&spec.scheduling.node_selector).unwrap_or_else(|_| json!({}));
    let config = spec.config.as_ref();
    let (max_unavailable, max_surge) = if deployment {
        (json!(0), json!(1))
    } else {
        (int_or_percent(&spec.scheduling.max_unavailable), json!(0))
    };

    vec![
        leaf(
            "nameOverride",
            "Replaces the chart name in object names and in the app.kubernetes.io/name label.",
            json!(""),
            schema::string(),
        ),
        leaf(
            "fullnameOverride",
            "Replaces the full object name (by default the release name, or <release>-<chart> when the\nrelease name does not contain the chart name).",
            json!(""),
            schema::string(),
        ),
        leaf(
            "workload",
            "The kind of workload: Deployment (replicated pods that roll one at a time) or DaemonSet\n(one pod on every matching node).",
            json!(spec.workload.as_str()),
            schema::one_of_strings(&["Deployment", "DaemonSet"]),
        ),
        leaf(
            "replicas",
            if deployment {
                "Number of pods of the Deployment (ignored by a DaemonSet). With more than one, a\nPodDisruptionBudget keeps all but one running during voluntary disruptions."
            } else {
                "Number of pods of a Deployment; a DaemonSet ignores it (one pod per node)."
            },
            json!(if deployment { spec.replicas } else { 1 }),
            schema::integer(0, 10_000),
        ),
        leaf(
            "revisionHistoryLimit",
            "How many old ReplicaSets / ControllerRevisions are kept for `kubectl rollout undo`.",
            json!(10),
            schema::integer(0, 1000),
        ),
        group(
            "rollingUpdate",
            if deployment {
                "How a rollout replaces pods. The Deployment starts a new pod and waits until it is ready\nbefore it stops an old one (maxUnavailable 0, maxSurge 1), so capacity never drops."
            } else {
                "How a rollout replaces pods. A DaemonSet stops the old pod on a node before it starts the\nnew one (maxSurge 0); maxUnavailable bounds how many nodes are without a ready pod at once."
            },
            vec![
                leaf(
                    "maxUnavailable",
                    "Pods (or a percentage, e.g. \"25%\") that may be unavailable during a rollout.",
                    max_unavailable,
                    schema::int_or_percent(),
                ),
                leaf(
                    "maxSurge",
                    "Extra pods (or a percentage) started above the desired count during a rollout.\nA DaemonSet needs 0 when maxUnavailable is above 0.",
                    max_surge,
                    schema::int_or_percent(),
                ),
            ],
        ),
        group(
            "image",
            "The container image. The pod's image is repository[:tag][@digest], exactly as berth.yaml\nwrites it; with a digest, the tag is informational only.",
            vec![
                leaf(
                    "repository",
                    "Registry and path of the image.",
                    json!(spec.image.repository),
                    json!({"type": "string", "minLength": 1}),
                ),
                leaf(
                    "tag",
                    "Image tag; also the app.kubernetes.io/version label. Empty for none.",
                    json!(spec.image.tag.clone().unwrap_or_default()),
                    schema::string(),
                ),
                leaf(
                    "digest",
                    "Image digest (sha256:<64 hex digits>), pinning the exact image. Empty for none.",
                    json!(spec.image.digest.clone().unwrap_or_default()),
                    json!({"type": "string", "pattern": "^(sha256:[a-f0-9]{64})?$"}),
                ),
                leaf(
                    "pullPolicy",
                    "IfNotPresent: the image is pinned, and Always would make every pod start depend on\nthe registry (linter exemptions for this choice are annotated on the workload).",
                    json!("IfNotPresent"),
                    schema::one_of_strings(&["IfNotPresent", "Always", "Never"]),
                ),
            ],
        ),
        leaf(
            "imagePullSecrets",
            "Secrets holding registry credentials, e.g. [{name: regcred}].",
            json!([]),
            schema::pull_secrets(),
        ),
        leaf(
            "command",
            "Replaces the image's entrypoint; empty runs the image's own (the daemon binary).",
            json!(spec.command),
            schema::string_list(),
        ),
        leaf(
            "args",
            "Arguments passed to the daemon.",
            json!(spec.args),
            schema::string_list(),
        ),
        leaf(
            "ports",
            "Application ports of the container: name (IANA service name), port, protocol (TCP or UDP)\nand expose (include the port in the Service). The admin port is not listed here.",
            Value::Array(ports),
            schema::ports(),
        ),
        group(
            "service",
            "The Service in front of the pods; created only when a port has expose: true.\nIt never includes the admin port.",
            vec![
                leaf(
                    "type",
                    "Service type.",
                    json!("ClusterIP"),
                    schema::one_of_strings(&["ClusterIP", "NodePort", "LoadBalancer"]),
                ),
                leaf(
                    "annotations",
                    "Annotations added to the Service.",
                    json!({}),
                    schema::string_map(),
                ),
            ],
        ),
        group(
            "adminService",
            "A headless Service <fullname>-admin for the admin port: DNS records of the ready pods'\nadmin address only (no virtual IP, no load balancing). `helm test` and the ServiceMonitor\nneed it; pods are reachable at their IPs anyway, so it exposes nothing new.",
            vec![leaf(
                "enabled",
                "Create the admin Service.",
                json!(true),
                schema::boolean(),
            )],
        ),
        group(
            "health",
            "The admin server of berth-sidecar: /livez, /readyz, /startupz (and /metrics) on one port.\nEvery probe uses the container port named admin.",
            vec![
                leaf(
                    "port",
                    "The admin port; the daemon binds 0.0.0.0:<port> (BERTH_ADMIN_ADDR).",
                    json!(admin),
                    schema::port(),
                ),
                group(
                    "startupProbe",
                    format!(
                        "GET /startupz until start-up completes; liveness and readiness wait for it.\nperiodSeconds x failureThreshold is the start-up budget (berth.yaml health.startupTimeout: {}).",
                        spec.health.startup_timeout
                    ),
                    probe(
                        STARTUP_PROBE_PERIOD_SECS,
                        1,
                        startup_failure_threshold(spec),
                    ),
                ),
                group(
                    "livenessProbe",
                    "GET /livez: the daemon's event loop is alive; it stays 200 while draining so a\nshutdown is never cut short by a restart.",
                    probe(10, 2, 3),
                ),
                group(
                    "readinessProbe",
                    "GET /readyz: ready for traffic. 503 until start-up completes, and from SIGTERM on.",
                    probe(5, 2, 2),
                ),
            ],
        ),
        group(
            "shutdown",
            "Graceful stop: at SIGTERM readiness fails at once, the daemon keeps serving for\npreStopDelay (endpoints catch up), then drains in-flight work for up to drainTimeout.",
            vec![
                leaf(
                    "preStopDelay",
                    "How long the daemon keeps serving after SIGTERM (BERTH_PRE_STOP_DELAY).",
                    json!(spec.shutdown.pre_stop_delay.to_string()),
                    schema::duration(),
                ),
                leaf(
                    "drainTimeout",
                    "How long in-flight work may take after the delay (BERTH_DRAIN_TIMEOUT).",
                    json!(spec.shutdown.drain_timeout.to_string()),
                    schema::duration(),
                ),
                leaf(
                    "terminationGracePeriodSeconds",
                    format!(
                        "Seconds before SIGKILL: preStopDelay + drainTimeout + 5s margin, rounded up\n({} + {} + 5s = {grace}s). Keep it in step when you change either duration.",
                        spec.shutdown.pre_stop_delay, spec.shutdown.drain_timeout
                    ),
                    json!(grace),
                    schema::integer(0, 31_536_000),
                ),
            ],
        ),
        leaf(
            "env",
            "Extra environment variables, after berth's own (BERTH_ADMIN_ADDR, BERTH_PRE_STOP_DELAY,\nBERTH_DRAIN_TIMEOUT, BERTH_CONFIG_FILE, BERTH_METRICS, and NODE_NAME on a DaemonSet).\nEach is {name, value} or {name, valueFrom: {secretKeyRef | configMapKeyRef | fieldRef}}.",
            Value::Array(env),
            schema::env(),
        ),
        leaf(
            "resources",
            "CPU and memory requests and limits of the daemon's container (only the ones set).",
            Value::Object(resources),
            schema::resources(),
        ),
        leaf(
            "volumes",
            "Volumes and where they are mounted: name, mountPath, readOnly, and exactly one source:\nhostPath (a path on the node), emptyDir ({}), secret (a Secret name) or configMap (a\nConfigMap name).",
            Value::Array(volumes),
            schema::volumes(),
        ),
        group(
            "config",
            "The daemon's configuration file, shipped in the ConfigMap <fullname>-config and mounted\nread-only (its directory, so ConfigMap updates reach the file).",
            vec![
                leaf(
                    "enabled",
                    "Ship the configuration file.",
                    json!(config.is_some()),
                    schema::boolean(),
                ),
                leaf(
                    "fileName",
                    "The key in the ConfigMap (the file name in berth.yaml).",
                    json!(config.map(|c| c.file_name.as_str()).unwrap_or("")),
                    schema::string(),
                ),
                leaf(
                    "mountPath",
                    "Absolute path of the file in the container (BERTH_CONFIG_FILE).",
                    json!(config.map(|c| c.mount_path.as_str()).unwrap_or("")),
                    json!({"type": "string", "pattern": "^(/.*[^/])?$"}),
                ),
                leaf(
                    "reload",
                    "true: berth-sidecar reloads the file when it changes; false: a checksum annotation\nrolls the pods whenever the content changes.",
                    json!(config.is_some_and(|c| c.reload)),
                    schema::boolean(),
                ),
                leaf(
                    "content",
                    format!(
                        "The file's content{}.",
                        config
                            .map(|c| format!(" (from {} next to berth.yaml)", c.file))
                            .unwrap_or_default()
                    ),
                    json!(config.map(|c| c.contents.as_str()).unwrap_or("")),
                    schema::string(),
                ),
            ],
        ),
        group(
            "security",
            "Security settings. Always applied: allowPrivilegeEscalation false, every capability dropped\nbut the listed ones, seccomp RuntimeDefault, runAsGroup and fsGroup equal to runAsUser.",
            vec![
                leaf(
                    "runAsUser",
                    "UID of the process (65532 is distroless' nonroot); 0 runs as root.",
                    json!(spec.security.run_as_user),
                    schema::integer(0, 2_147_483_647),
                ),
                leaf(
                    "readOnlyRootFilesystem",
                    "Mount the container's root file system read-only.",
                    json!(spec.security.read_only_root_filesystem),
                    schema::boolean(),
                ),
                leaf(
                    "capabilities",
                    "Linux capabilities added back after dropping ALL, without the CAP_ prefix.",
                    json!(spec.security.capabilities),
                    json!({"type": "array", "items": {"type": "string", "pattern": "^[A-Z_]+$"}}),
                ),
            ],
        ),
        group(
            "host",
            "Host namespaces, for node agents.",
            vec![
                leaf(
                    "network",
                    "Use the node's network namespace (hostNetwork, with dnsPolicy ClusterFirstWithHostNet).",
                    json!(spec.host.network),
                    schema::boolean(),
                ),
                leaf(
                    "pid",
                    "Use the node's PID namespace (hostPID).",
                    json!(spec.host.pid),
                    schema::boolean(),
                ),
            ],
        ),
        leaf(
            "nodeSelector",
            "Node labels a pod requires.",
            node_selector,
            schema::string_map(),
        ),
        leaf(
            "tolerations",
            "Taints the pods tolerate, e.g. [{operator: Exists}] to run on every node.",
            tolerations,
            schema::tolerations(),
        ),
        leaf(
            "priorityClassName",
            "PriorityClass of the pods; empty for the cluster default.",
            json!(spec.scheduling.priority_class_name),
            schema::string(),
        ),
        leaf(
            "affinity",
            "Node and pod affinity of the pods (a Kubernetes Affinity object).",
            json!({}),
            schema::open_object(),
        ),
        group(
            "topologySpread",
            "Spreads a Deployment's pods across nodes (a DaemonSet has one per node already).\nScheduleAnyway prefers spreading but never blocks scheduling.",
            vec![
                leaf(
                    "enabled",
                    "Add the topology spread constraint (Deployment only).",
                    json!(deployment),
                    schema::boolean(),
                ),
                leaf(
                    "maxSkew",
                    "Largest allowed difference in pod count between two nodes.",
                    json!(1),
                    schema::integer(1, 1000),
                ),
                leaf(
                    "topologyKey",
                    "Node label that defines the domains.",
                    json!("kubernetes.io/hostname"),
                    json!({"type": "string", "minLength": 1}),
                ),
                leaf(
                    "whenUnsatisfiable",
                    "What the scheduler does when the skew cannot be met.",
                    json!("ScheduleAnyway"),
                    schema::one_of_strings(&["ScheduleAnyway", "DoNotSchedule"]),
                ),
            ],
        ),
        group(
            "podDisruptionBudget",
            "A PodDisruptionBudget, created for a Deployment with more than one replica.",
            vec![
                leaf(
                    "enabled",
                    "Create the PodDisruptionBudget when it applies.",
                    json!(true),
                    schema::boolean(),
                ),
                leaf(
                    "maxUnavailable",
                    "Pods (or a percentage) a voluntary disruption may take down at once.",
                    json!(1),
                    schema::int_or_percent(),
                ),
            ],
        ),
        group(
            "serviceAccount",
            "The ServiceAccount of the pods. The daemon needs no Kubernetes API access, so its token\nis not mounted.",
            vec![
                leaf(
                    "create",
                    "Create a ServiceAccount.",
                    json!(true),
                    schema::boolean(),
                ),
                leaf(
                    "automount",
                    "Mount the ServiceAccount token into the pods (automountServiceAccountToken).",
                    json!(false),
                    schema::boolean(),
                ),
                leaf(
                    "annotations",
                    "Annotations added to the ServiceAccount.",
                    json!({}),
                    schema::string_map(),
                ),
                leaf(
                    "name",
                    "Name of the ServiceAccount; empty uses the full name (or `default` when create is false).",
                    json!(""),
                    schema::string(),
                ),
            ],
        ),
        leaf(
            "podAnnotations",
            "Extra annotations of the pods (berth adds checksum/config and prometheus.io/*).",
            json!({}),
            schema::string_map(),
        ),
        leaf(
            "podLabels",
            "Extra labels of the pods.",
            json!({}),
            schema::string_map(),
        ),
        group(
            "metrics",
            "Prometheus metrics of berth-sidecar on the admin port.",
            vec![
                leaf(
                    "enabled",
                    "Serve /metrics (BERTH_METRICS) and add the prometheus.io/scrape, port and path pod\nannotations.",
                    json!(spec.metrics.enabled),
                    schema::boolean(),
                ),
                group(
                    "serviceMonitor",
                    "A Prometheus Operator ServiceMonitor scraping the admin Service; rendered only when\nthe cluster serves monitoring.coreos.com/v1 and metrics are enabled.",
                    vec![
                        leaf(
                            "enabled",
                            "Create the ServiceMonitor when the API exists.",
                            json!(true),
                            schema::boolean(),
                        ),
                        leaf(
                            "interval",
                            "Scrape interval.",
                            json!("30s"),
                            schema::duration(),
                        ),
                        leaf(
                            "scrapeTimeout",
                            "Scrape timeout (at most the interval).",
                            json!("10s"),
                            schema::duration(),
                        ),
                        leaf(
                            "labels",
                            "Extra labels, e.g. the one your Prometheus selects ServiceMonitors by.",
                            json!({}),
                            schema::string_map(),
                        ),
                    ],
                ),
            ],
        ),
        group(
            "linterAnnotations",
            "Annotations that record deliberate exceptions to kube-linter, checkov, Polaris and\nkube-score rules (pull policy, no namespace, host namespaces and hostPath volumes a node\nagent declares). Each carries its reason; see the chart README.",
            vec![leaf(
                "enabled",
                "Add the annotations.",
                json!(true),
                schema::boolean(),
            )],
        ),
        group(
            "test",
            "The `helm test` pod: the daemon's own image in probe mode (`--berth-probe readyz`)\nagainst the admin Service, so no extra image is needed. Needs adminService.enabled.",
            vec![
                leaf(
                    "enabled",
                    "Render the test pod.",
                    json!(true),
                    schema::boolean(),
                ),
                leaf(
                    "binary",
                    "Path of the daemon binary in the image (it implements --berth-probe).",
                    json!(spec.binary_path()),
                    json!({"type": "string", "pattern": "^/"}),
                ),
                leaf(
                    "resources",
                    "Requests and limits of the test pod (ephemeral-storage included, as kube-score asks).",
                    json!({
                        "requests": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "1Mi"},
                        "limits": {"cpu": "100m", "memory": "32Mi", "ephemeral-storage": "8Mi"}
                    }),
                    schema::resources(),
                ),
            ],
        ),
    ]
}

/// The values as plain data (what Helm sees as `.Values`).
#[cfg(test)]
fn values_data(fields: &[Field]) -> Value {
    let mut m = Map::new();
    for f in fields {
        let v = match &f.node {
            Node::Group(children) => values_data(children),
            Node::Leaf { value, .. } => value.clone(),
        };
        m.insert(f.key.to_owned(), v);
    }
    Value::Object(m)
}

fn schema_of(fields: &[Field]) -> Map<String, Value> {
    let mut properties = Map::new();
    for f in fields {
        let mut s = match &f.node {
            Node::Group(children) => schema_of(children),
            Node::Leaf { schema, .. } => schema.as_object().cloned().unwrap_or_default(),
        };
        s.insert("description".into(), json!(f.doc.replace('\n', " ")));
        properties.insert(f.key.to_owned(), Value::Object(reorder(s)));
    }
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    m.insert("additionalProperties".into(), json!(false));
    m.insert(
        "required".into(),
        json!(fields.iter().map(|f| f.key).collect::<Vec<_>>()),
    );
    m.insert("properties".into(), Value::Object(properties));
    m
}

/// `description` first, then the rest in their order: easier to read.
fn reorder(s: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(d) = s.get("description") {
        out.insert("description".into(), d.clone());
    }
    for (k, v) in s {
        if k != "description" {
            out.insert(k, v);
        }
    }
    out
}

fn schema_json(fields: &[Field]) -> Result<String, RenderError> {
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    root.insert(
        "title".into(),
        json!("Values of a chart generated by berth"),
    );
    let mut body = schema_of(fields);
    if let Some(Value::Object(props)) = body.get_mut("properties") {
        // Helm passes `global` to every chart (and subchart); allow it.
        props.insert(
            "global".into(),
            json!({"description": "Helm's global values, shared with subcharts.", "type": "object"}),
        );
    }
    root.extend(body);
    serde_json::to_string_pretty(&Value::Object(root)).map_err(|e| RenderError::Serialize {
        what: "values.schema.json".into(),
        message: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// values.yaml writer: block YAML with a comment above every key
// ---------------------------------------------------------------------------------------------

fn values_yaml(fields: &[Field]) -> String {
    let mut out = String::new();
    out.push_str("# Default values of the chart, generated by berth from berth.yaml.\n");
    out.push_str("# Override any of them with `--set key=value` or `-f my-values.yaml`;\n");
    out.push_str("# values.schema.json rejects a wrong type or an unknown key.\n");
    write_fields(fields, 0, &mut out);
    out
}

fn write_fields(fields: &[Field], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for f in fields {
        if indent == 0 {
            out.push('\n');
        }
        for line in f.doc.lines() {
            let _ = writeln!(out, "{pad}# {line}");
        }
        match &f.node {
            Node::Group(children) => {
                let _ = writeln!(out, "{pad}{}:", f.key);
                write_fields(children, indent + 2, out);
            }
            Node::Leaf { value, .. } => write_entry(&scalar_str(f.key), value, indent, out),
        }
    }
}

/// Writes `key: value` at `indent`, as a block node when the value is a non-empty collection or
/// a multi-line string.
fn write_entry(key: &str, value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(m) if !m.is_empty() => {
            let _ = writeln!(out, "{pad}{key}:");
            for (k, v) in m {
                write_entry(&scalar_str(k), v, indent + 2, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let _ = writeln!(out, "{pad}{key}:");
            for item in items {
                write_item(item, indent + 2, out);
            }
        }
        Value::String(s) if block_ok(s) => {
            let _ = writeln!(out, "{pad}{key}: |{}", chomping(s));
            write_block(s, indent + 2, out);
        }
        _ => {
            let _ = writeln!(out, "{pad}{key}: {}", flow(value));
        }
    }
}

/// Writes one `- item` of a block sequence at `indent`.
fn write_item(item: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match item {
        Value::Object(m) if !m.is_empty() => {
            let mut inner = String::new();
            for (k, v) in m {
                write_entry(&scalar_str(k), v, indent + 2, &mut inner);
            }
            // The first key goes on the dash line.
            let _ = write!(out, "{pad}- {}", &inner[indent + 2..]);
        }
        Value::Array(items) if !items.is_empty() => {
            let mut inner = String::new();
            for i in items {
                write_item(i, indent + 2, &mut inner);
            }
            let _ = write!(out, "{pad}- {}", &inner[indent + 2..]);
        }
        Value::String(s) if block_ok(s) => {
            let _ = writeln!(out, "{pad}- |{}", chomping(s));
            write_block(s, indent + 2, out);
        }
        _ => {
            let _ = writeln!(out, "{pad}- {}", flow(item));
        }
    }
}

/// A value on one line: a scalar, `[]` or `{}`.
fn flow(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_str(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        // Not reached by write_entry / write_item; JSON is valid YAML.
        other => other.to_string(),
    }
}

/// A string as a plain scalar when that cannot be misread (as a number, bool, null, key or
/// comment, in YAML 1.1 or 1.2), otherwise double-quoted.
fn scalar_str(s: &str) -> String {
    const RESERVED: [&str; 12] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf",
    ];
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/');
    let chars_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._/-@%+:".contains(c));
    if first_ok
        && chars_ok
        && !s.ends_with(':')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
    {
        s.to_owned()
    } else {
        yaml::double_quoted(s)
    }
}

/// A multi-line string that reads back exactly from a literal block scalar `|`.
fn block_ok(s: &str) -> bool {
    let body = s.trim_end_matches('\n');
    s.contains('\n')
        && !body.is_empty()
        && !body.starts_with([' ', '\n'])
        && s.chars()
            .all(|c| c == '\n' || (yaml::is_printable(c) && c != '\u{85}'))
        && body.lines().all(|l| !l.ends_with(' '))
}

/// The chomping indicator of `s` as a literal block: strip (`-`), clip (none) or keep (`+`).
fn chomping(s: &str) -> &'static str {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    }
}

fn write_block(s: &str, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    let body = s.trim_end_matches('\n');
    for line in body.split('\n') {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{pad}{line}");
        }
    }
    // Keep chomping: the extra trailing newlines are empty lines.
    let trailing = s.len() - body.len();
    for _ in 1..trailing {
        out.push('\n');
    }
}

// ---------------------------------------------------------------------------------------------
// README
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ReadmeRow {
    key: String,
    kind: String,
    default: String,
    doc: String,
}

#[derive(Serialize)]
struct ReadmeContext<'a> {
    name: &'a str,
    description: &'a str,
    workload: &'a str,
    deployment: bool,
    replicas: u32,
    image: String,
    chart_version: String,
    app_version: String,
    min_kube_version: &'static str,
    admin_port: u16,
    startup_threshold: u64,
    startup_timeout: String,
    grace: u64,
    pre_stop_delay: String,
    drain_timeout: String,
    metrics: bool,
    config: bool,
    config_reload: bool,
    host_network: bool,
    host_pid: bool,
    host_path: bool,
    capabilities: Vec<String>,
    secret_env: bool,
    digest: bool,
    exposed_ports: Vec<String>,
    binary: String,
    rows: Vec<ReadmeRow>,
    /// Table rows of the exemptions the description's own settings cause (lint::declared).
    declared: Vec<String>,
}

fn readme_rows(fields: &[Field], prefix: &str, rows: &mut Vec<ReadmeRow>) {
    for f in fields {
        let key = if prefix.is_empty() {
            f.key.to_owned()
        } else {
            format!("{prefix}.{}", f.key)
        };
        match &f.node {
            Node::Group(children) => readme_rows(children, &key, rows),
            Node::Leaf { value, schema } => rows.push(ReadmeRow {
                kind: type_name(schema),
                default: default_cell(value),
                doc: cell(&f.doc.replace('\n', " ")),
                key,
            }),
        }
    }
}

fn type_name(schema: &Value) -> String {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        return t.to_owned();
    }
    if let Some(Value::Array(any)) = schema.get("anyOf") {
        let types: Vec<&str> = any
            .iter()
            .filter_map(|s| s.get("type").and_then(Value::as_str))
            .collect();
        return types.join(" or ");
    }
    "any".into()
}

fn default_cell(value: &Value) -> String {
    let text = match value {
        Value::String(s) if s.contains('\n') => return "see values.yaml".into(),
        other => other.to_string(),
    };
    if text.len() > 80 {
        "see values.yaml".into()
    } else {
        format!("`{}`", text.replace('|', "\\|").replace('`', "'"))
    }
}

/// Text for a Markdown table cell: `|` would end the cell, `<...>` would read as HTML.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn readme(spec: &Spec, fields: &[Field]) -> Result<String, RenderError> {
    let mut rows = Vec::new();
    readme_rows(fields, "", &mut rows);
    let context = ReadmeContext {
        name: &spec.name,
        description: &spec.description,
        workload: spec.workload.as_str(),
        deployment: spec.workload == WorkloadKind::Deployment,
        replicas: spec.replicas,
        image: spec.image.to_string(),
        chart_version: chart_version(spec),
        app_version: app_version(spec),
        min_kube_version: MIN_KUBE_VERSION,
        admin_port: spec.health.port,
        startup_threshold: startup_failure_threshold(spec),
        startup_timeout: spec.health.startup_timeout.to_string(),
        grace: spec.shutdown.stop_timeout_secs(),
        pre_stop_delay: spec.shutdown.pre_stop_delay.to_string(),
        drain_timeout: spec.shutdown.drain_timeout.to_string(),
        metrics: spec.metrics.enabled,
        config: spec.config.is_some(),
        config_reload: spec.config.as_ref().is_some_and(|c| c.reload),
        host_network: spec.host.network,
        host_pid: spec.host.pid,
        host_path: spec
            .volumes
            .iter()
            .any(|v| matches!(v.source, VolumeSource::HostPath(_))),
        capabilities: spec.security.capabilities.clone(),
        secret_env: spec
            .env
            .iter()
            .any(|e| matches!(e.value, EnvSource::Secret { .. })),
        digest: spec.image.digest.is_some(),
        exposed_ports: spec
            .exposed_ports()
            .map(|p| format!("{} {}/{}", p.name, p.port, p.protocol.as_str()))
            .collect(),
        binary: spec.binary_path(),
        rows,
        declared: crate::render::k8s::lint::declared(spec)
            .into_iter()
            .map(|d| {
                let mut what: Vec<String> = d
                    .checkov
                    .iter()
                    .map(|(key, id)| format!("`{key}` {id}"))
                    .collect();
                if let Some(check) = d.kube_score {
                    what.push(format!("kube-score `{check}`"));
                }
                format!("| {} | workload | {} | yes |", what.join(", "), d.reason)
            })
            .collect(),
    };
    template::render(&assets::TEMPLATES, README_TEMPLATE, &context)
}

#[cfg(test)]
mod tests;
