//! The workload: a Deployment or a DaemonSet and its pod template.

use std::collections::BTreeMap;

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

use super::{labels, metadata, selector};
use crate::render::plan::{self, ADMIN_PORT_NAME, Scope, VolumePlan};
use crate::spec::{EnvSource, IntOrPercent, ResourceList, Spec, VolumeSource, WorkloadKind};

/// `revisionHistoryLimit` of both workload kinds.
const REVISION_HISTORY_LIMIT: Option<i32> = Some(plan::REVISION_HISTORY_LIMIT as i32);

fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The Deployment of `spec`.
pub fn deployment(spec: &Spec) -> Deployment {
    let rollout = plan::rollout(spec);
    Deployment {
        metadata: metadata(
            spec,
            spec.name.clone(),
            plan::annotations(spec, Scope::Workload),
        ),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(spec.replicas).unwrap_or(i32::MAX)),
            revision_history_limit: REVISION_HISTORY_LIMIT,
            selector: selector(spec),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(int_or_percent(&rollout.max_unavailable)),
                    max_surge: Some(int_or_percent(&rollout.max_surge)),
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
    let rollout = plan::rollout(spec);
    DaemonSet {
        metadata: metadata(
            spec,
            spec.name.clone(),
            plan::annotations(spec, Scope::Workload),
        ),
        spec: Some(DaemonSetSpec {
            revision_history_limit: REVISION_HISTORY_LIMIT,
            selector: selector(spec),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(int_or_percent(&rollout.max_unavailable)),
                    max_surge: Some(int_or_percent(&rollout.max_surge)),
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

fn pod_template(spec: &Spec) -> PodTemplateSpec {
    let annotations = plan::pod_annotations(spec);
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
                max_skew: int(plan::SPREAD.max_skew.into()),
                topology_key: plan::SPREAD.topology_key.to_string(),
                when_unsatisfiable: plan::SPREAD.when_unsatisfiable.to_string(),
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
    let probes = plan::probes(spec);
    Container {
        name: spec.name.clone(),
        image: Some(spec.image.to_string()),
        image_pull_policy: Some(plan::PULL_POLICY.to_string()),
        command: (!spec.command.is_empty()).then(|| spec.command.clone()),
        args: (!spec.args.is_empty()).then(|| spec.args.clone()),
        ports: Some(ports),
        env: Some(env(spec)),
        startup_probe: Some(probe(&probes[0])),
        liveness_probe: Some(probe(&probes[1])),
        readiness_probe: Some(probe(&probes[2])),
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

fn probe(probe: &plan::Probe) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(probe.path.to_string()),
            port: IntOrString::String(ADMIN_PORT_NAME.to_string()),
            ..Default::default()
        }),
        period_seconds: Some(int(probe.period_seconds)),
        timeout_seconds: Some(int(probe.timeout_seconds)),
        failure_threshold: Some(int(probe.failure_threshold)),
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

/// The container's environment ([`plan::env`]).
fn env(spec: &Spec) -> Vec<EnvVar> {
    plan::env(spec)
        .into_iter()
        .map(|e| match e.source {
            EnvSource::Value(v) => EnvVar {
                name: e.name,
                value: Some(v),
                ..Default::default()
            },
            EnvSource::Secret { name, key } => EnvVar {
                name: e.name,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name,
                        key,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            EnvSource::ConfigMap { name, key } => EnvVar {
                name: e.name,
                value_from: Some(EnvVarSource {
                    config_map_key_ref: Some(ConfigMapKeySelector {
                        name,
                        key,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            EnvSource::Field { path } => field_env(&e.name, &path),
        })
        .collect()
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

fn volume_mounts(spec: &Spec) -> Vec<VolumeMount> {
    plan::mounts(spec)
        .into_iter()
        .map(|m| VolumeMount {
            name: m.name,
            mount_path: m.mount_path,
            read_only: m.read_only.then_some(true),
            ..Default::default()
        })
        .collect()
}

fn volumes(spec: &Spec) -> Vec<Volume> {
    plan::mounts(spec)
        .into_iter()
        .map(|m| {
            let mut volume = Volume {
                name: m.name,
                ..Default::default()
            };
            match m.source {
                VolumePlan::Spec(VolumeSource::HostPath(path)) => {
                    volume.host_path = Some(HostPathVolumeSource {
                        path,
                        ..Default::default()
                    });
                }
                VolumePlan::Spec(VolumeSource::EmptyDir) => {
                    volume.empty_dir = Some(EmptyDirVolumeSource::default());
                }
                VolumePlan::Spec(VolumeSource::Secret(name)) => {
                    volume.secret = Some(SecretVolumeSource {
                        secret_name: Some(name),
                        ..Default::default()
                    });
                }
                VolumePlan::Spec(VolumeSource::ConfigMap(name)) => {
                    volume.config_map = Some(ConfigMapVolumeSource {
                        name,
                        ..Default::default()
                    });
                }
                VolumePlan::Config {
                    config_map,
                    key,
                    file,
                } => {
                    volume.config_map = Some(ConfigMapVolumeSource {
                        name: config_map,
                        items: Some(vec![KeyToPath {
                            key,
                            path: file,
                            ..Default::default()
                        }]),
                        ..Default::default()
                    });
                }
            }
            volume
        })
        .collect()
}
