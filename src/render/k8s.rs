//! The `k8s` target: every Kubernetes object of the daemon as one multi-document file,
//! `k8s/<name>.yaml`, ready for `kubectl apply -f`.
//!
//! The objects are built from `k8s-openapi` types (not text templates), so a misspelt field is
//! a compile error, and they are the same objects the Helm chart (`charts/berth/templates/`)
//! renders with default values, except Helm's own labels: `tests/k8s_helm_equivalence.rs`
//! proves it. Order: ServiceAccount, ConfigMap (with a config file), Service (with an exposed port),
//! the headless admin Service `<name>-admin`, the workload, PodDisruptionBudget (a Deployment
//! with more than one replica).
//!
//! Every fact the objects share with the chart (names, labels, probes, environment, volumes,
//! linter exemptions) comes from the deployment plan ([`super::plan`]); this module only maps
//! it to k8s-openapi types.

mod workload;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::plan::{self, ADMIN_PORT_NAME, Scope};
use super::{FileSet, RenderError, Target};
use crate::spec::{Spec, WorkloadKind};

/// One Kubernetes object of the `k8s` target.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// `v1/ServiceAccount`.
    ServiceAccount(ServiceAccount),
    /// `v1/ConfigMap` holding the config file.
    ConfigMap(ConfigMap),
    /// `v1/Service`: the client Service of the exposed ports, or the headless admin Service.
    Service(Service),
    /// `apps/v1/Deployment`.
    Deployment(Deployment),
    /// `apps/v1/DaemonSet`.
    DaemonSet(DaemonSet),
    /// `policy/v1/PodDisruptionBudget`.
    PodDisruptionBudget(PodDisruptionBudget),
}

impl Object {
    /// The object's `kind`.
    pub fn kind(&self) -> &'static str {
        use k8s_openapi::Resource;
        match self {
            Object::ServiceAccount(_) => ServiceAccount::KIND,
            Object::ConfigMap(_) => ConfigMap::KIND,
            Object::Service(_) => Service::KIND,
            Object::Deployment(_) => Deployment::KIND,
            Object::DaemonSet(_) => DaemonSet::KIND,
            Object::PodDisruptionBudget(_) => PodDisruptionBudget::KIND,
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::ServiceAccount(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::DaemonSet(o) => &o.metadata,
            Object::PodDisruptionBudget(o) => &o.metadata,
        }
    }

    /// The object's `metadata.name`.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The object as JSON, keys in Kubernetes order (`apiVersion`, `kind`, `metadata`, ...).
    pub fn to_value(&self) -> Result<Value, RenderError> {
        let result = match self {
            Object::ServiceAccount(o) => serde_json::to_value(o),
            Object::ConfigMap(o) => serde_json::to_value(o),
            Object::Service(o) => serde_json::to_value(o),
            Object::Deployment(o) => serde_json::to_value(o),
            Object::DaemonSet(o) => serde_json::to_value(o),
            Object::PodDisruptionBudget(o) => serde_json::to_value(o),
        };
        let value = result.map_err(|e| RenderError::Serialize {
            what: format!("{} {}", self.kind(), self.name()),
            message: e.to_string(),
        })?;
        Ok(kubernetes_order(value))
    }
}

/// Puts the keys of an object in the order people write them: `apiVersion`, `kind`,
/// `metadata` first at the top (k8s-openapi sorts the other fields alphabetically, which would
/// put `data` before `metadata`), and `name` first in every mapping that has one (containers,
/// ports, env, volumes). Key order never changes what Kubernetes reads.
fn kubernetes_order(value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    let mut ordered = serde_json::Map::new();
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(v) = map.shift_remove(key) {
            ordered.insert(key.to_string(), v);
        }
    }
    ordered.extend(map);
    names_first(Value::Object(ordered))
}

/// Moves a string `name` key to the front of every mapping in `value`.
fn names_first(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(names_first).collect()),
        Value::Object(mut map) => {
            let mut ordered = serde_json::Map::new();
            if matches!(map.get("name"), Some(Value::String(_)))
                && let Some(name) = map.shift_remove("name")
            {
                ordered.insert("name".to_string(), name);
            }
            ordered.extend(map.into_iter().map(|(k, v)| (k, names_first(v))));
            Value::Object(ordered)
        }
        other => other,
    }
}

/// Every object of `spec`, in document order.
pub fn objects(spec: &Spec) -> Vec<Object> {
    let mut objects = vec![Object::ServiceAccount(service_account(spec))];
    if let Some(config_map) = config_map(spec) {
        objects.push(Object::ConfigMap(config_map));
    }
    if let Some(service) = service(spec) {
        objects.push(Object::Service(service));
    }
    objects.push(Object::Service(admin_service(spec)));
    objects.push(match spec.workload {
        WorkloadKind::Deployment => Object::Deployment(workload::deployment(spec)),
        WorkloadKind::DaemonSet => Object::DaemonSet(workload::daemon_set(spec)),
    });
    if let Some(pdb) = pod_disruption_budget(spec) {
        objects.push(Object::PodDisruptionBudget(pdb));
    }
    objects
}

/// Every object of `spec` as JSON, in document order.
pub fn values(spec: &Spec) -> Result<Vec<Value>, RenderError> {
    objects(spec).iter().map(Object::to_value).collect()
}

/// The path of the manifest file inside the output directory: `k8s/<name>.yaml`.
pub fn path(spec: &Spec) -> String {
    plan::paths::manifest(spec)
}

/// The text of `k8s/<name>.yaml`: a header comment, then one `---` document per object.
pub fn manifest(spec: &Spec) -> Result<String, RenderError> {
    let path = path(spec);
    let mut text = format!(
        "# Generated by berth from berth.yaml: the Kubernetes objects of {name} ({kind}).\n\
         # Apply from the output directory: kubectl apply -f {path} [-n <namespace>]\n\
         # Linter exemptions are the annotations kube-score/*, ignore-check.kube-linter.io/*,\n\
         # polaris.fairwinds.com/* and checkov.io/skip*, each a deliberate choice with its reason.\n",
        name = spec.name,
        kind = spec.workload.as_str(),
    );
    for value in values(spec)? {
        text.push_str("---\n");
        text.push_str(&crate::yaml::to_string(&value));
    }
    Ok(text)
}

/// Renders the `k8s` files of `spec` into `out`.
pub fn render(spec: &Spec, out: &mut FileSet) -> Result<(), RenderError> {
    out.insert(Target::K8s, path(spec), manifest(spec)?)
}

/// The labels of every object and of the pod template.
pub fn labels(spec: &Spec) -> BTreeMap<String, String> {
    plan::labels(spec)
}

/// The labels selectors match on: `name` and `instance`.
pub fn selector_labels(spec: &Spec) -> BTreeMap<String, String> {
    plan::selector_labels(spec)
}

/// A label selector on [`selector_labels`].
fn selector(spec: &Spec) -> LabelSelector {
    LabelSelector {
        match_labels: Some(selector_labels(spec)),
        ..Default::default()
    }
}

/// Metadata with `name`, [`labels`] and the given annotations (none when empty).
fn metadata(spec: &Spec, name: String, annotations: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        labels: Some(labels(spec)),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..Default::default()
    }
}

/// The exemption annotations of objects other than the workload.
fn common(spec: &Spec) -> BTreeMap<String, String> {
    plan::annotations(spec, Scope::Every)
}

fn service_account(spec: &Spec) -> ServiceAccount {
    ServiceAccount {
        metadata: metadata(spec, spec.name.clone(), common(spec)),
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

fn config_map(spec: &Spec) -> Option<ConfigMap> {
    let config = spec.config.as_ref()?;
    Some(ConfigMap {
        metadata: metadata(spec, plan::config_map_name(&spec.name), common(spec)),
        data: Some(BTreeMap::from([(
            config.file_name.clone(),
            config.contents.clone(),
        )])),
        ..Default::default()
    })
}

fn service(spec: &Spec) -> Option<Service> {
    let ports: Vec<ServicePort> = spec
        .exposed_ports()
        .map(|p| ServicePort {
            name: Some(p.name.clone()),
            port: i32::from(p.port),
            target_port: Some(IntOrString::String(p.name.clone())),
            protocol: Some(p.protocol.as_str().to_string()),
            ..Default::default()
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    Some(Service {
        metadata: metadata(spec, spec.name.clone(), common(spec)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            ports: Some(ports),
            selector: Some(selector_labels(spec)),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A headless Service for the admin port: DNS records of the ready pods (for `helm test`, a
/// ServiceMonitor or a Prometheus static config), no virtual IP and no load balancing. The
/// client Service above never carries the admin port.
fn admin_service(spec: &Spec) -> Service {
    Service {
        metadata: metadata(spec, plan::admin_service_name(&spec.name), common(spec)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            cluster_ip: Some("None".to_string()),
            ports: Some(vec![ServicePort {
                name: Some(ADMIN_PORT_NAME.to_string()),
                port: i32::from(spec.health.port),
                target_port: Some(IntOrString::String(ADMIN_PORT_NAME.to_string())),
                protocol: Some("TCP".to_string()),
                ..Default::default()
            }]),
            selector: Some(selector_labels(spec)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod_disruption_budget(spec: &Spec) -> Option<PodDisruptionBudget> {
    if spec.workload != WorkloadKind::Deployment || spec.replicas <= 1 {
        return None;
    }
    Some(PodDisruptionBudget {
        metadata: metadata(spec, spec.name.clone(), common(spec)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(plan::PDB_MAX_UNAVAILABLE as i32)),
            selector: Some(selector(spec)),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
