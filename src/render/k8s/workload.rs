//! The workload: a Deployment or a DaemonSet and its pod template.

use std::collections::BTreeMap;

use berth_sidecar::contract::{PATH_LIVEZ, PATH_METRICS, PATH_READYZ, PATH_STARTUPZ};
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec,
    DeploymentStrategy, RollingUpdateDaemonSet, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapKeySelector, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, HostPathVolumeSource, KeyToPath,
    ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext, Toleration,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use super::{config_map_name, labels, lint, metadata, selector};
use crate::spec::{EnvSource, IntOrPercent, ResourceList, Spec, VolumeSource, WorkloadKind};

/// The name of the admin port (health endpoints and metrics).
pub const ADMIN_PORT_NAME: &str = "admin";
/// The name of the config file volume.
pub const CONFIG_VOLUME: &str = "config";
/// `revisionHistoryLimit` of both workload kinds.
pub const REVISION_HISTORY_LIMIT: i32 = 10;
/// `periodSeconds` of the startup probe; its failure threshold covers `health.startupTimeout`.
pub const STARTUP_PERIOD_SECONDS: i32 = 2;

/// The Deployment of `spec`.
pub fn deployment(spec: &Spec) -> Deployment {
    Deployment {
        metadata: metadata(spec, spec.name.clone(), lint::workload(spec)),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(spec.replicas).unwrap_or(i32::MAX)),
            revision_history_limit: Some(REVISION_HISTORY_LIMIT),
            selector: selector(spec),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            template: pod_template(spec),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The DaemonSet of `spec`.
pub fn daemon_set(spec: &Spec) -> DaemonSet {
    DaemonSet {
        metadata: metadata(spec, spec.name.clone(), lint::workload(spec)),
        spec: Some(DaemonSetSpec {
            revision_history_limit: Some(REVISION_HISTORY_LIMIT),
            selector: selector(spec),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(int_or_percent(&spec.scheduling.max_unavailable)),
                    max_surge: Some(IntOrString::Int(0)),
                }),
            }),
            template: pod_template(spec),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn int_or_percent(value: &IntOrPercent) -> IntOrString {
    match value {
        IntOrPercent::Int(n) => IntOrString::Int(i32::try_from(*n).unwrap_or(i32::MAX)),
        IntOrPercent::Percent(p) => IntOrString::String(p.clone()),
    }
}

/// The sha256 of the config file's exact bytes, as lower-case hex (Helm's `sha256sum`).
pub fn config_checksum(contents: &str) -> String {
    Sha256::digest(contents.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Pod template annotations: the config checksum (rolls pods on change unless the daemon
/// reloads its config) and the Prometheus scrape annotations.
pub fn pod_annotations(spec: &Spec) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    if let Some(config) = spec.config.as_ref().filter(|c| !c.reload) {
        a.insert(
            "checksum/config".to_string(),
            config_checksum(&config.contents),
        );
    }
    if spec.metrics.enabled {
        a.insert("prometheus.io/scrape".to_string(), "true".to_string());
        a.insert(
            "prometheus.io/port".to_string(),
            spec.health.port.to_string(),
        );
        a.insert("prometheus.io/path".to_string(), PATH_METRICS.to_string());
    }
    a
}

fn pod_template(spec: &Spec) -> PodTemplateSpec {
    let annotations = pod_annotations(spec);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(spec)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }),
        spec: Some(pod_spec(spec)),
    }
}

fn pod_spec(spec: &Spec) -> PodSpec {
    let uid = spec.security.run_as_user;
    let deployment = spec.workload == WorkloadKind::Deployment;
    let grace = i64::try_from(spec.shutdown.stop_timeout_secs()).unwrap_or(i64::MAX);
    let volumes = volumes(spec);
    PodSpec {
        service_account_name: Some(spec.name.clone()),
        automount_service_account_token: Some(false),
        termination_grace_period_seconds: Some(grace),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(uid != 0),
            run_as_user: Some(uid),
            run_as_group: Some(uid),
            fs_group: Some(uid),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        node_selector: (!spec.scheduling.node_selector.is_empty())
            .then(|| spec.scheduling.node_selector.clone()),
        tolerations: (!spec.scheduling.tolerations.is_empty()).then(|| {
            spec.scheduling
                .tolerations
                .iter()
                .map(|t| Toleration {
                    key: t.key.clone(),
                    operator: t.operator.clone(),
                    value: t.value.clone(),
                    effect: t.effect.clone(),
                    toleration_seconds: t.toleration_seconds,
                })
                .collect()
        }),
        priority_class_name: (!spec.scheduling.priority_class_name.is_empty())
            .then(|| spec.scheduling.priority_class_name.clone()),
        host_network: spec.host.network.then_some(true),
        dns_policy: spec
            .host
            .network
            .then(|| "ClusterFirstWithHostNet".to_string()),
        host_pid: spec.host.pid.then_some(true),
        topology_spread_constraints: deployment.then(|| {
            vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "kubernetes.io/hostname".to_string(),
                when_unsatisfiable: "ScheduleAnyway".to_string(),
                label_selector: Some(selector(spec)),
                ..Default::default()
            }]
        }),
        containers: vec![container(spec)],
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..Default::default()
    }
}

fn container(spec: &Spec) -> Container {
    let uid = spec.security.run_as_user;
    let mut ports: Vec<ContainerPort> = spec
        .ports
        .iter()
        .map(|p| ContainerPort {
            name: Some(p.name.clone()),
            container_port: i32::from(p.port),
            protocol: Some(p.protocol.as_str().to_string()),
            ..Default::default()
        })
        .collect();
    ports.push(ContainerPort {
        name: Some(ADMIN_PORT_NAME.to_string()),
        container_port: i32::from(spec.health.port),
        protocol: Some("TCP".to_string()),
        ..Default::default()
    });
    let mounts = volume_mounts(spec);
    Container {
        name: spec.name.clone(),
        image: Some(spec.image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: (!spec.command.is_empty()).then(|| spec.command.clone()),
        args: (!spec.args.is_empty()).then(|| spec.args.clone()),
        ports: Some(ports),
        env: Some(env(spec)),
        startup_probe: Some(probe(
            PATH_STARTUPZ,
            STARTUP_PERIOD_SECONDS,
            1,
            startup_failure_threshold(spec),
        )),
        liveness_probe: Some(probe(PATH_LIVEZ, 10, 2, 3)),
        readiness_probe: Some(probe(PATH_READYZ, 5, 2, 2)),
        resources: (!spec.resources.is_empty()).then(|| ResourceRequirements {
            requests: quantities(&spec.resources.requests),
            limits: quantities(&spec.resources.limits),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(spec.security.read_only_root_filesystem),
            run_as_non_root: Some(uid != 0),
            run_as_user: Some(uid),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                add: (!spec.security.capabilities.is_empty())
                    .then(|| spec.security.capabilities.clone()),
            }),
            ..Default::default()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Default::default()
    }
}

/// `ceil(startupTimeout / 2s)`, at least 1: the startup probe gives up no earlier than
/// `health.startupTimeout`.
pub fn startup_failure_threshold(spec: &Spec) -> i32 {
    let period = u128::from(STARTUP_PERIOD_SECONDS.unsigned_abs()) * 1_000_000_000;
    let nanos = spec.health.startup_timeout.std().as_nanos();
    let threshold = nanos.div_ceil(period).max(1);
    i32::try_from(threshold).unwrap_or(i32::MAX)
}

fn probe(path: &str, period: i32, timeout: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(ADMIN_PORT_NAME.to_string()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failure_threshold),
        ..Default::default()
    }
}

fn quantities(list: &ResourceList) -> Option<BTreeMap<String, Quantity>> {
    let mut map = BTreeMap::new();
    if let Some(cpu) = &list.cpu {
        map.insert("cpu".to_string(), Quantity(cpu.clone()));
    }
    if let Some(memory) = &list.memory {
        map.insert("memory".to_string(), Quantity(memory.clone()));
    }
    (!map.is_empty()).then_some(map)
}

/// The container's environment: the runtime contract, `NODE_NAME` for a DaemonSet (unless
/// the description sets it), then the description's variables in order.
fn env(spec: &Spec) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = spec
        .contract_env()
        .into_iter()
        .map(|(name, value)| EnvVar {
            name: name.to_string(),
            value: Some(value),
            ..Default::default()
        })
        .collect();
    if spec.workload == WorkloadKind::DaemonSet && !spec.env.iter().any(|e| e.name == "NODE_NAME") {
        env.push(field_env("NODE_NAME", "spec.nodeName"));
    }
    env.extend(spec.env.iter().map(|e| match &e.value {
        EnvSource::Value(v) => EnvVar {
            name: e.name.clone(),
            value: Some(v.clone()),
            ..Default::default()
        },
        EnvSource::Secret { name, key } => EnvVar {
            name: e.name.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: name.clone(),
                    key: key.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        EnvSource::ConfigMap { name, key } => EnvVar {
            name: e.name.clone(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: name.clone(),
                    key: key.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        EnvSource::Field { path } => field_env(&e.name, path),
    }));
    env
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Splits an absolute path into its directory and file name (`/etc/a/b.toml` → `/etc/a`,
/// `b.toml`; a file in `/` gives `/`).
pub fn split_path(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", file)) => ("/", file),
        Some((dir, file)) => (dir, file),
        None => (".", path),
    }
}

fn volume_mounts(spec: &Spec) -> Vec<VolumeMount> {
    let mut mounts: Vec<VolumeMount> = spec
        .volumes
        .iter()
        .map(|v| VolumeMount {
            name: v.name.clone(),
            mount_path: v.mount_path.clone(),
            read_only: v.read_only.then_some(true),
            ..Default::default()
        })
        .collect();
    if let Some(config) = &spec.config {
        // The directory, not a subPath: a subPath mount never sees ConfigMap updates.
        let (dir, _) = split_path(&config.mount_path);
        mounts.push(VolumeMount {
            name: CONFIG_VOLUME.to_string(),
            mount_path: dir.to_string(),
            read_only: Some(true),
            ..Default::default()
        });
    }
    mounts
}

fn volumes(spec: &Spec) -> Vec<Volume> {
    let mut volumes: Vec<Volume> = spec
        .volumes
        .iter()
        .map(|v| {
            let mut volume = Volume {
                name: v.name.clone(),
                ..Default::default()
            };
            match &v.source {
                VolumeSource::HostPath(path) => {
                    volume.host_path = Some(HostPathVolumeSource {
                        path: path.clone(),
                        ..Default::default()
                    });
                }
                VolumeSource::EmptyDir => volume.empty_dir = Some(EmptyDirVolumeSource::default()),
                VolumeSource::Secret(name) => {
                    volume.secret = Some(SecretVolumeSource {
                        secret_name: Some(name.clone()),
                        ..Default::default()
                    });
                }
                VolumeSource::ConfigMap(name) => {
                    volume.config_map = Some(ConfigMapVolumeSource {
                        name: name.clone(),
                        ..Default::default()
                    });
                }
            }
            volume
        })
        .collect();
    if let Some(config) = &spec.config {
        let (_, file) = split_path(&config.mount_path);
        volumes.push(Volume {
            name: CONFIG_VOLUME.to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map_name(spec),
                items: Some(vec![KeyToPath {
                    key: config.file_name.clone(),
                    path: file.to_string(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    volumes
}
