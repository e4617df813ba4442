//! Unit tests of the k8s renderer, on the typed objects and on their JSON form.

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec};
use serde_json::json;

use super::*;
use crate::render::plan::{split_path, startup_failure_threshold, version_label};
use crate::spec::sample::sample;
use crate::spec::{
    Duration, EnvSource, EnvVar as SpecEnvVar, IntOrPercent, Port, Protocol, VolumeSource,
};
use crate::util::sha256_hex as config_checksum;

fn deployment() -> Spec {
    sample(WorkloadKind::Deployment)
}

fn daemon_set() -> Spec {
    sample(WorkloadKind::DaemonSet)
}

fn kinds(spec: &Spec) -> Vec<&'static str> {
    objects(spec).iter().map(Object::kind).collect()
}

fn find(spec: &Spec, kind: &str) -> Option<Object> {
    objects(spec).into_iter().find(|o| o.kind() == kind)
}

/// The client Service (`<name>`), not the headless admin one.
fn client_service(spec: &Spec) -> Option<serde_json::Value> {
    values(spec)
        .unwrap()
        .into_iter()
        .find(|v| v["kind"] == "Service" && v["metadata"]["name"] == spec.name.as_str())
}

fn template(spec: &Spec) -> PodTemplateSpec {
    match find(spec, spec.workload.as_str()) {
        Some(Object::Deployment(d)) => d.spec.expect("deployment spec").template,
        Some(Object::DaemonSet(d)) => d.spec.expect("daemonset spec").template,
        other => panic!("no workload: {other:?}"),
    }
}

fn pod(spec: &Spec) -> PodSpec {
    template(spec).spec.expect("pod spec")
}

fn container(spec: &Spec) -> Container {
    let mut containers = pod(spec).containers;
    assert_eq!(containers.len(), 1);
    containers.remove(0)
}

fn env_names(spec: &Spec) -> Vec<String> {
    container(spec)
        .env
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

fn env_var(spec: &Spec, name: &str) -> Option<EnvVar> {
    container(spec)
        .env
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.name == name)
}

fn workload_json(spec: &Spec) -> serde_json::Value {
    values(spec)
        .unwrap()
        .into_iter()
        .find(|v| v["kind"] == spec.workload.as_str())
        .expect("workload")
}

fn workload_annotations(spec: &Spec) -> BTreeMap<String, String> {
    find(spec, spec.workload.as_str())
        .unwrap()
        .metadata()
        .annotations
        .clone()
        .unwrap_or_default()
}

#[test]
fn documents_come_in_the_contract_order() {
    assert_eq!(
        kinds(&deployment()),
        [
            "ServiceAccount",
            "ConfigMap",
            "Service",
            "Service",
            "Deployment",
            "PodDisruptionBudget"
        ]
    );
    assert_eq!(
        kinds(&daemon_set()),
        [
            "ServiceAccount",
            "ConfigMap",
            "Service",
            "Service",
            "DaemonSet"
        ]
    );
}

#[test]
fn every_document_starts_with_api_version_kind_metadata() {
    for spec in [deployment(), daemon_set()] {
        for value in values(&spec).unwrap() {
            let keys: Vec<&String> = value.as_object().unwrap().keys().take(3).collect();
            assert_eq!(keys, ["apiVersion", "kind", "metadata"], "{value}");
            assert!(value["metadata"].get("namespace").is_none());
        }
    }
    let workload = workload_json(&deployment());
    assert_eq!(workload["apiVersion"], "apps/v1");
    let keys: Vec<&String> = workload.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
    let container_keys: Vec<&String> = workload["spec"]["template"]["spec"]["containers"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(container_keys[0], "name", "name first in a container");
}

#[test]
fn names_follow_the_contract() {
    let spec = deployment();
    let names: Vec<(String, String)> = objects(&spec)
        .iter()
        .map(|o| (o.kind().to_string(), o.name().to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("ServiceAccount", "echo-daemon"),
            ("ConfigMap", "echo-daemon-config"),
            ("Service", "echo-daemon"),
            ("Service", "echo-daemon-admin"),
            ("Deployment", "echo-daemon"),
            ("PodDisruptionBudget", "echo-daemon"),
        ]
        .map(|(k, n)| (k.to_string(), n.to_string()))
    );
}

#[test]
fn labels_and_selectors() {
    let spec = deployment();
    let expected = json!({
        "app.kubernetes.io/component": "daemon",
        "app.kubernetes.io/instance": "echo-daemon",
        "app.kubernetes.io/managed-by": "berth",
        "app.kubernetes.io/name": "echo-daemon",
        "app.kubernetes.io/part-of": "echo-daemon",
        "app.kubernetes.io/version": "0.1.0",
    });
    let selector = json!({
        "app.kubernetes.io/instance": "echo-daemon",
        "app.kubernetes.io/name": "echo-daemon",
    });
    for value in values(&spec).unwrap() {
        assert_eq!(value["metadata"]["labels"], expected, "{}", value["kind"]);
    }
    let workload = workload_json(&spec);
    assert_eq!(workload["spec"]["template"]["metadata"]["labels"], expected);
    assert_eq!(workload["spec"]["selector"]["matchLabels"], selector);
    let values = values(&spec).unwrap();
    assert_eq!(values[2]["spec"]["selector"], selector, "Service selector");
    assert_eq!(
        values[3]["spec"]["selector"], selector,
        "admin Service selector"
    );
    assert_eq!(
        values[5]["spec"]["selector"]["matchLabels"], selector,
        "PDB selector"
    );
}

#[test]
fn service_account_does_not_mount_a_token() {
    let Some(Object::ServiceAccount(sa)) = find(&deployment(), "ServiceAccount") else {
        panic!("no service account")
    };
    assert_eq!(sa.automount_service_account_token, Some(false));
    let pod = pod(&deployment());
    assert_eq!(pod.service_account_name.as_deref(), Some("echo-daemon"));
    assert_eq!(pod.automount_service_account_token, Some(false));
}

#[test]
fn grace_period_is_pre_stop_plus_drain_plus_five_seconds() {
    assert_eq!(
        pod(&deployment()).termination_grace_period_seconds,
        Some(30)
    );
    assert_eq!(
        pod(&daemon_set()).termination_grace_period_seconds,
        Some(30)
    );
    let mut spec = deployment();
    spec.shutdown.pre_stop_delay = Duration::from_millis(1500);
    spec.shutdown.drain_timeout = Duration::from_secs(10);
    assert_eq!(
        pod(&spec).termination_grace_period_seconds,
        Some(17),
        "16.5s rounds up"
    );
}

#[test]
fn probes_use_the_admin_port_and_the_contract_timings() {
    let c = container(&deployment());
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(
        v["startupProbe"],
        json!({"failureThreshold": 30, "httpGet": {"path": "/startupz", "port": "admin"}, "periodSeconds": 2, "timeoutSeconds": 1})
    );
    assert_eq!(
        v["livenessProbe"],
        json!({"failureThreshold": 3, "httpGet": {"path": "/livez", "port": "admin"}, "periodSeconds": 10, "timeoutSeconds": 2})
    );
    assert_eq!(
        v["readinessProbe"],
        json!({"failureThreshold": 2, "httpGet": {"path": "/readyz", "port": "admin"}, "periodSeconds": 5, "timeoutSeconds": 2})
    );
}

#[test]
fn startup_probe_budget_covers_the_startup_timeout() {
    let mut spec = deployment();
    for (timeout, threshold) in [
        (Duration::from_secs(60), 30),
        (Duration::from_secs(61), 31),
        (Duration::from_millis(1500), 1),
        (Duration::ZERO, 1),
        (Duration::from_secs(600), 300),
    ] {
        spec.health.startup_timeout = timeout;
        assert_eq!(startup_failure_threshold(&spec), threshold, "{timeout}");
        assert!(threshold * 2 >= spec.health.startup_timeout.as_secs_ceil());
    }
}

#[test]
fn ports_list_the_admin_port_last_and_the_service_never_does() {
    let c = serde_json::to_value(container(&deployment())).unwrap();
    assert_eq!(
        c["ports"],
        json!([
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "admin", "containerPort": 9090, "protocol": "TCP"},
        ])
    );
    let mut spec = deployment();
    spec.ports.push(Port {
        name: "metrics-udp".into(),
        port: 8125,
        protocol: Protocol::Udp,
        expose: true,
    });
    spec.ports.push(Port {
        name: "debug".into(),
        port: 6060,
        protocol: Protocol::Tcp,
        expose: false,
    });
    let service = client_service(&spec).unwrap();
    assert_eq!(
        service["spec"],
        json!({
            "ports": [
                {"name": "http", "port": 8080, "protocol": "TCP", "targetPort": "http"},
                {"name": "metrics-udp", "port": 8125, "protocol": "UDP", "targetPort": "metrics-udp"},
            ],
            "selector": {"app.kubernetes.io/instance": "echo-daemon", "app.kubernetes.io/name": "echo-daemon"},
            "type": "ClusterIP",
        })
    );
    let text = service.to_string();
    assert!(!text.contains("9090") && !text.contains("admin"), "{text}");
}

#[test]
fn no_service_without_an_exposed_port() {
    let mut spec = deployment();
    spec.ports[0].expose = false;
    assert!(client_service(&spec).is_none());
    spec.ports.clear();
    assert!(client_service(&spec).is_none());
    assert_eq!(
        kinds(&spec),
        [
            "ServiceAccount",
            "ConfigMap",
            "Service",
            "Deployment",
            "PodDisruptionBudget"
        ],
        "only the admin Service is left"
    );
    let c = serde_json::to_value(container(&spec)).unwrap();
    assert_eq!(
        c["ports"],
        json!([{"name": "admin", "containerPort": 9090, "protocol": "TCP"}])
    );
}

#[test]
fn container_security_context_drops_all_capabilities() {
    let c = serde_json::to_value(container(&deployment())).unwrap();
    assert_eq!(
        c["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "runAsUser": 65532,
        })
    );
    assert!(c["securityContext"].get("privileged").is_none());
    let p = serde_json::to_value(pod(&deployment())).unwrap();
    assert_eq!(
        p["securityContext"],
        json!({
            "fsGroup": 65532,
            "runAsGroup": 65532,
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    );
}

#[test]
fn added_capabilities_and_root() {
    let mut spec = daemon_set();
    spec.security.capabilities = vec!["NET_ADMIN".into(), "NET_BIND_SERVICE".into()];
    spec.security.run_as_user = 0;
    spec.security.run_as_root = true;
    spec.security.read_only_root_filesystem = false;
    let sc = container(&spec).security_context.unwrap();
    let caps = sc.capabilities.unwrap();
    assert_eq!(caps.drop, Some(vec!["ALL".to_string()]));
    assert_eq!(
        caps.add,
        Some(vec![
            "NET_ADMIN".to_string(),
            "NET_BIND_SERVICE".to_string()
        ])
    );
    assert_eq!(sc.run_as_non_root, Some(false));
    assert_eq!(sc.run_as_user, Some(0));
    assert_eq!(sc.read_only_root_filesystem, Some(false));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let psc = pod(&spec).security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(false));
    assert_eq!(psc.run_as_user, Some(0));
    let a = workload_annotations(&spec);
    assert!(a["checkov.io/skip6"].starts_with("CKV_K8S_25="));
}

#[test]
fn environment_is_contract_then_node_name_then_user() {
    assert_eq!(
        env_names(&daemon_set()),
        [
            "BERTH_ADMIN_ADDR",
            "BERTH_PRE_STOP_DELAY",
            "BERTH_DRAIN_TIMEOUT",
            "BERTH_CONFIG_FILE",
            "BERTH_METRICS",
            "NODE_NAME",
            "RUST_LOG",
            "TOKEN",
            "NODE",
        ]
    );
    assert_eq!(
        env_names(&deployment()),
        [
            "BERTH_ADMIN_ADDR",
            "BERTH_PRE_STOP_DELAY",
            "BERTH_DRAIN_TIMEOUT",
            "BERTH_CONFIG_FILE",
            "BERTH_METRICS",
            "RUST_LOG",
            "TOKEN",
            "NODE",
        ]
    );
    let spec = daemon_set();
    let value = |name: &str| env_var(&spec, name).and_then(|e| e.value);
    assert_eq!(value("BERTH_ADMIN_ADDR").as_deref(), Some("0.0.0.0:9090"));
    assert_eq!(value("BERTH_PRE_STOP_DELAY").as_deref(), Some("5s"));
    assert_eq!(value("BERTH_DRAIN_TIMEOUT").as_deref(), Some("20s"));
    assert_eq!(
        value("BERTH_CONFIG_FILE").as_deref(),
        Some("/etc/echo-daemon/echo.toml")
    );
    assert_eq!(value("BERTH_METRICS").as_deref(), Some("true"));
    let node = serde_json::to_value(env_var(&spec, "NODE_NAME").unwrap()).unwrap();
    assert_eq!(
        node,
        json!({"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}})
    );
    let token = serde_json::to_value(env_var(&spec, "TOKEN").unwrap()).unwrap();
    assert_eq!(
        token,
        json!({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"key": "token", "name": "echo-secrets"}}})
    );
}

#[test]
fn user_node_name_replaces_the_downward_api_one() {
    let mut spec = daemon_set();
    spec.env.push(SpecEnvVar {
        name: "NODE_NAME".into(),
        value: EnvSource::ConfigMap {
            name: "settings".into(),
            key: "node".into(),
        },
    });
    let names = env_names(&spec);
    assert_eq!(names.iter().filter(|n| *n == "NODE_NAME").count(), 1);
    assert_eq!(names.last().map(String::as_str), Some("NODE_NAME"));
    let v = serde_json::to_value(env_var(&spec, "NODE_NAME").unwrap()).unwrap();
    assert_eq!(
        v["valueFrom"],
        json!({"configMapKeyRef": {"key": "node", "name": "settings"}})
    );
}

#[test]
fn config_file_is_a_configmap_mounted_as_a_directory() {
    let spec = deployment();
    let Some(Object::ConfigMap(cm)) = find(&spec, "ConfigMap") else {
        panic!("no configmap")
    };
    assert_eq!(
        cm.data,
        Some(BTreeMap::from([(
            "echo.toml".to_string(),
            "greeting = \"hello\"\n".to_string()
        )]))
    );
    let c = serde_json::to_value(container(&spec)).unwrap();
    assert_eq!(
        c["volumeMounts"],
        json!([
            {"name": "varlog", "mountPath": "/host/var/log"},
            {"name": "config", "mountPath": "/etc/echo-daemon", "readOnly": true},
        ])
    );
    assert!(c["volumeMounts"][1].get("subPath").is_none());
    let p = serde_json::to_value(pod(&spec)).unwrap();
    assert_eq!(
        p["volumes"],
        json!([
            {"name": "varlog", "emptyDir": {}},
            {"name": "config", "configMap": {"name": "echo-daemon-config", "items": [{"key": "echo.toml", "path": "echo.toml"}]}},
        ])
    );
}

#[test]
fn config_file_renamed_in_the_container() {
    let mut spec = deployment();
    if let Some(config) = spec.config.as_mut() {
        config.mount_path = "/etc/echo/settings.toml".into();
    }
    let p = serde_json::to_value(pod(&spec)).unwrap();
    assert_eq!(
        p["volumes"][1]["configMap"]["items"],
        json!([{"key": "echo.toml", "path": "settings.toml"}])
    );
    let c = serde_json::to_value(container(&spec)).unwrap();
    assert_eq!(c["volumeMounts"][1]["mountPath"], "/etc/echo");
}

#[test]
fn no_config_means_no_configmap_volume_or_env() {
    let mut spec = deployment();
    spec.config = None;
    assert_eq!(
        kinds(&spec),
        [
            "ServiceAccount",
            "Service",
            "Service",
            "Deployment",
            "PodDisruptionBudget"
        ]
    );
    assert!(!env_names(&spec).iter().any(|n| n == "BERTH_CONFIG_FILE"));
    let p = pod(&spec);
    assert!(p.volumes.unwrap().iter().all(|v| v.name != "config"));
    assert!(
        container(&spec)
            .volume_mounts
            .unwrap()
            .iter()
            .all(|m| m.name != "config")
    );
    assert!(
        !template(&spec)
            .metadata
            .unwrap()
            .annotations
            .unwrap()
            .contains_key("checksum/config")
    );
}

#[test]
fn no_volumes_at_all() {
    let mut spec = deployment();
    spec.config = None;
    spec.volumes.clear();
    let v = workload_json(&spec);
    assert!(v["spec"]["template"]["spec"].get("volumes").is_none());
    assert!(
        v["spec"]["template"]["spec"]["containers"][0]
            .get("volumeMounts")
            .is_none()
    );
}

#[test]
fn checksum_annotation_only_without_reload() {
    let spec = deployment();
    assert!(spec.config.as_ref().unwrap().reload);
    let annotations = template(&spec).metadata.unwrap().annotations.unwrap();
    assert!(!annotations.contains_key("checksum/config"));

    let mut spec = deployment();
    spec.config.as_mut().unwrap().reload = false;
    let annotations = template(&spec).metadata.unwrap().annotations.unwrap();
    assert_eq!(
        annotations.get("checksum/config").map(String::as_str),
        Some("821cf820abc7e55628407f1a4f737414fa52d386498aaa62464fa18e765068a6"),
        "sha256 of the exact bytes, as `sha256sum` prints it"
    );
    assert_eq!(
        config_checksum(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn metrics_annotations_follow_metrics_enabled() {
    let annotations = template(&deployment())
        .metadata
        .unwrap()
        .annotations
        .unwrap();
    assert_eq!(
        annotations,
        BTreeMap::from([
            ("prometheus.io/path".to_string(), "/metrics".to_string()),
            ("prometheus.io/port".to_string(), "9090".to_string()),
            ("prometheus.io/scrape".to_string(), "true".to_string()),
        ])
    );
    let mut spec = deployment();
    spec.metrics.enabled = false;
    assert!(template(&spec).metadata.unwrap().annotations.is_none());
    assert_eq!(
        env_var(&spec, "BERTH_METRICS").unwrap().value.as_deref(),
        Some("false")
    );
}

#[test]
fn deployment_rolls_without_unavailability_and_spreads() {
    let v = workload_json(&deployment());
    assert_eq!(v["spec"]["replicas"], 2);
    assert_eq!(v["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(
        v["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["topologySpreadConstraints"],
        json!([{
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "echo-daemon", "app.kubernetes.io/name": "echo-daemon"}},
        }])
    );
    let pdb = values(&deployment()).unwrap().pop().unwrap();
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
}

#[test]
fn one_replica_has_no_pdb() {
    let mut spec = deployment();
    spec.replicas = 1;
    assert!(find(&spec, "PodDisruptionBudget").is_none());
    assert_eq!(workload_json(&spec)["spec"]["replicas"], 1);
}

#[test]
fn daemon_set_rolls_node_by_node() {
    let v = workload_json(&daemon_set());
    assert!(v["spec"].get("replicas").is_none());
    assert_eq!(
        v["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    let pod = &v["spec"]["template"]["spec"];
    assert!(pod.get("topologySpreadConstraints").is_none());
    assert_eq!(pod["tolerations"], json!([{"operator": "Exists"}]));
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert!(pod.get("priorityClassName").is_none());
    assert!(
        pod.get("hostNetwork").is_none()
            && pod.get("hostPID").is_none()
            && pod.get("dnsPolicy").is_none()
    );
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "varlog", "hostPath": {"path": "/var/log"}})
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0],
        json!({"name": "varlog", "mountPath": "/host/var/log", "readOnly": true})
    );

    let mut spec = daemon_set();
    spec.scheduling.max_unavailable = IntOrPercent::Percent("25%".into());
    spec.scheduling.priority_class_name = "system-node-critical".into();
    let v = workload_json(&spec);
    assert_eq!(
        v["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
        "25%"
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["priorityClassName"],
        "system-node-critical"
    );
}

#[test]
fn host_namespaces_only_when_asked() {
    let mut spec = daemon_set();
    spec.host.network = true;
    spec.host.pid = true;
    let p = pod(&spec);
    assert_eq!(p.host_network, Some(true));
    assert_eq!(p.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
    assert_eq!(p.host_pid, Some(true));
    let a = workload_annotations(&spec);
    assert!(a["checkov.io/skip4"].starts_with("CKV_K8S_19="));
    assert!(a["checkov.io/skip5"].starts_with("CKV_K8S_17="));
    assert!(a.contains_key("ignore-check.kube-linter.io/host-network"));
    assert!(a.contains_key("ignore-check.kube-linter.io/host-pid"));
    assert_eq!(a["polaris.fairwinds.com/hostNetworkSet-exempt"], "true");
    assert_eq!(a["polaris.fairwinds.com/hostPIDSet-exempt"], "true");

    let a = workload_annotations(&daemon_set());
    for key in [
        "checkov.io/skip4",
        "checkov.io/skip5",
        "ignore-check.kube-linter.io/host-network",
    ] {
        assert!(!a.contains_key(key), "{key}");
    }
}

#[test]
fn digest_only_image() {
    let mut spec = deployment();
    spec.image.tag = None;
    spec.image.digest = Some(format!("sha256:{}", "ab12cd34ef56".repeat(5) + "abcd"));
    assert_eq!(version_label(&spec), "ab12cd34ef56");
    let c = container(&spec);
    assert_eq!(
        c.image.as_deref(),
        Some(
            "ghcr.io/acme/echo-daemon@sha256:ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56abcd"
        )
    );
    assert_eq!(labels(&spec)["app.kubernetes.io/version"], "ab12cd34ef56");
    assert!(!workload_annotations(&spec).contains_key("checkov.io/skip3"));
    assert!(workload_annotations(&deployment())["checkov.io/skip3"].starts_with("CKV_K8S_43="));

    spec.image.tag = Some("1.2.3".into());
    assert_eq!(
        version_label(&spec),
        "1.2.3",
        "the tag wins over the digest"
    );
    assert!(c.image_pull_policy.as_deref() == Some("IfNotPresent"));
}

#[test]
fn command_args_and_resources_only_when_set() {
    let mut spec = deployment();
    let c = container(&spec);
    assert!(c.command.is_none());
    assert_eq!(c.args, Some(vec!["--verbose".to_string()]));
    spec.command = vec!["/usr/local/bin/echo-daemon".into(), "serve".into()];
    spec.args.clear();
    spec.resources.limits = Default::default();
    spec.resources.requests.memory = None;
    let v = serde_json::to_value(container(&spec)).unwrap();
    assert_eq!(v["command"], json!(["/usr/local/bin/echo-daemon", "serve"]));
    assert!(v.get("args").is_none());
    assert_eq!(v["resources"], json!({"requests": {"cpu": "50m"}}));
    spec.resources = Default::default();
    assert!(container(&spec).resources.is_none());
}

#[test]
fn linter_exemptions_on_every_object_and_the_workload() {
    for spec in [deployment(), daemon_set()] {
        for object in objects(&spec) {
            let a = object.metadata().annotations.clone().unwrap_or_default();
            assert_eq!(
                a.get("checkov.io/skip1").map(String::as_str),
                Some(crate::render::plan::EXEMPTIONS[0].value)
            );
            for (key, value) in &a {
                assert!(
                    !value.contains(": ") && !value.contains('#'),
                    "{key}: {value}"
                );
            }
        }
    }
    let a = workload_annotations(&deployment());
    assert_eq!(
        a["kube-score/ignore"],
        "container-ephemeral-storage-request-and-limit,container-image-pull-policy,pod-networkpolicy,deployment-has-host-podantiaffinity"
    );
    assert!(a.contains_key("ignore-check.kube-linter.io/no-anti-affinity"));
    assert!(
        !a.contains_key("ignore-check.kube-linter.io/sensitive-host-mounts"),
        "emptyDir only"
    );
    assert!(
        a["checkov.io/skip7"].starts_with("CKV_K8S_35="),
        "TOKEN comes from a Secret"
    );
    let a = workload_annotations(&daemon_set());
    assert_eq!(
        a["kube-score/ignore"],
        "container-ephemeral-storage-request-and-limit,container-image-pull-policy,pod-networkpolicy"
    );
    assert!(!a.contains_key("ignore-check.kube-linter.io/no-anti-affinity"));
    assert!(a.contains_key("ignore-check.kube-linter.io/sensitive-host-mounts"));
    assert_eq!(
        a["polaris.fairwinds.com/topologySpreadConstraint-exempt"],
        "true"
    );

    let mut spec = daemon_set();
    spec.env
        .retain(|e| !matches!(e.value, EnvSource::Secret { .. }));
    spec.volumes
        .iter_mut()
        .for_each(|v| v.source = VolumeSource::EmptyDir);
    let a = workload_annotations(&spec);
    assert!(!a.contains_key("checkov.io/skip7"));
    assert!(!a.contains_key("ignore-check.kube-linter.io/sensitive-host-mounts"));
    assert!(
        !workload_annotations(&deployment())
            .contains_key("polaris.fairwinds.com/topologySpreadConstraint-exempt")
    );
}

#[test]
fn manifest_file_is_multi_document_and_deterministic() {
    let spec = deployment();
    let mut files = FileSet::new();
    render(&spec, &mut files).unwrap();
    assert_eq!(files.len(), 1);
    let file = files.get("k8s/echo-daemon.yaml").expect("k8s/<name>.yaml");
    assert_eq!(file.target, Target::K8s);
    let text = &file.contents;
    assert!(text.starts_with("# Generated by berth"), "{text}");
    assert!(text.contains("kubectl apply -f k8s/echo-daemon.yaml"));
    assert_eq!(text.lines().filter(|l| *l == "---").count(), 6);
    let first_doc = text.lines().position(|l| l == "---").unwrap();
    assert!(text.lines().take(first_doc).all(|l| l.starts_with('#')));
    assert_eq!(manifest(&spec).unwrap(), *text);
    assert_eq!(
        manifest(&deployment()).unwrap(),
        manifest(&deployment()).unwrap()
    );
    assert!(!text.contains("namespace:"));
}

#[test]
fn split_path_edges() {
    assert_eq!(
        split_path("/etc/echo/echo.toml"),
        ("/etc/echo", "echo.toml")
    );
    assert_eq!(split_path("/echo.toml"), ("/", "echo.toml"));
    assert_eq!(split_path("echo.toml"), (".", "echo.toml"));
}

#[test]
fn admin_service_is_headless_and_separate() {
    let mut spec = daemon_set();
    spec.health.port = 9191;
    let admin = values(&spec)
        .unwrap()
        .into_iter()
        .find(|v| v["metadata"]["name"] == "echo-daemon-admin")
        .expect("admin Service");
    assert_eq!(admin["kind"], "Service");
    assert_eq!(
        admin["spec"],
        json!({
            "clusterIP": "None",
            "ports": [{"name": "admin", "port": 9191, "protocol": "TCP", "targetPort": "admin"}],
            "selector": {"app.kubernetes.io/instance": "echo-daemon", "app.kubernetes.io/name": "echo-daemon"},
            "type": "ClusterIP",
        })
    );
    let client = client_service(&spec).unwrap();
    assert!(client["spec"].get("clusterIP").is_none());
    assert!(!client.to_string().contains("9191"));
}
