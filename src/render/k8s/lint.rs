//! Explicit, documented linter exemptions, as per-object annotations. The Helm chart emits the
//! same ones (`tests/k8s_helm_equivalence.rs` compares them).
//!
//! Each one is a deliberate decision, not a silenced finding:
//! - no `metadata.namespace`: the namespace is chosen at apply time (checkov CKV_K8S_21);
//! - `imagePullPolicy: IfNotPresent`: the image is pinned, and `Always` makes every pod start
//!   depend on the registry (kube-score, Polaris, checkov CKV_K8S_15);
//! - a tag without a digest is the user's pinning choice (checkov CKV_K8S_43);
//! - host network / PID namespace, hostPath volumes, added capabilities and secrets in the
//!   environment only when `berth.yaml` asks for them (node agents need them);
//! - no NetworkPolicy: berth does not know the daemon's traffic (kube-score, checkov);
//! - no ephemeral-storage request or limit: `berth.yaml` has no such setting (kube-score);
//! - a Deployment spreads its pods with a topology spread constraint instead of pod
//!   anti-affinity (kube-score, kube-linter); a DaemonSet runs one pod per node, so it needs
//!   no spread constraint (Polaris).
//!
//! Not exempted on purpose: unset resources, a writable root file system, UID 0 and
//! `SYS_ADMIN` stay visible as findings.

use std::collections::BTreeMap;

use crate::spec::{EnvSource, Spec, VolumeSource, WorkloadKind};

/// checkov's per-object skip annotation for the default-namespace check.
pub const CHECKOV_NAMESPACE: &str =
    "CKV_K8S_21=the namespace is chosen at apply time (kubectl -n, helm -n)";

/// The annotations every object carries.
pub fn common() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "checkov.io/skip1".to_string(),
        CHECKOV_NAMESPACE.to_string(),
    )])
}

/// The annotations of the workload object (Deployment or DaemonSet).
pub fn workload(spec: &Spec) -> BTreeMap<String, String> {
    let deployment = spec.workload == WorkloadKind::Deployment;
    let has_host_path = spec
        .volumes
        .iter()
        .any(|v| matches!(v.source, VolumeSource::HostPath(_)));
    let has_secret_env = spec
        .env
        .iter()
        .any(|e| matches!(e.value, EnvSource::Secret { .. }));

    let mut a = common();
    let mut set = |key: &str, value: &str| {
        a.insert(key.to_string(), value.to_string());
    };

    set(
        "checkov.io/skip2",
        "CKV_K8S_15=pull policy IfNotPresent is deliberate; the image is pinned and Always ties every pod start to the registry",
    );
    if spec.image.digest.is_none() {
        set(
            "checkov.io/skip3",
            "CKV_K8S_43=the image is pinned by tag; set a digest in berth.yaml to pin by digest",
        );
    }
    if spec.host.network {
        set(
            "checkov.io/skip4",
            "CKV_K8S_19=host network requested in berth.yaml (host.network)",
        );
        set(
            "ignore-check.kube-linter.io/host-network",
            "host network requested in berth.yaml (host.network)",
        );
        set("polaris.fairwinds.com/hostNetworkSet-exempt", "true");
    }
    if spec.host.pid {
        set(
            "checkov.io/skip5",
            "CKV_K8S_17=host PID namespace requested in berth.yaml (host.pid)",
        );
        set(
            "ignore-check.kube-linter.io/host-pid",
            "host PID namespace requested in berth.yaml (host.pid)",
        );
        set("polaris.fairwinds.com/hostPIDSet-exempt", "true");
    }
    if !spec.security.capabilities.is_empty() {
        set(
            "checkov.io/skip6",
            "CKV_K8S_25=capabilities added in berth.yaml (security.capabilities); all others are dropped",
        );
    }
    if has_secret_env {
        set(
            "checkov.io/skip7",
            "CKV_K8S_35=secret environment variables declared in berth.yaml (env)",
        );
    }
    set(
        "checkov.io/skip8",
        "CKV2_K8S_6=the daemon traffic is not known to berth; add a NetworkPolicy for your cluster",
    );
    if deployment {
        set(
            "ignore-check.kube-linter.io/no-anti-affinity",
            "pods are spread across nodes by topologySpreadConstraints",
        );
    }
    if has_host_path {
        set(
            "ignore-check.kube-linter.io/sensitive-host-mounts",
            "hostPath volumes requested in berth.yaml (volumes)",
        );
    }
    set(
        "kube-score/ignore",
        if deployment {
            "container-ephemeral-storage-request-and-limit,container-image-pull-policy,pod-networkpolicy,deployment-has-host-podantiaffinity"
        } else {
            "container-ephemeral-storage-request-and-limit,container-image-pull-policy,pod-networkpolicy"
        },
    );
    set("polaris.fairwinds.com/pullPolicyNotAlways-exempt", "true");
    if !deployment {
        // One pod per node already: a spread constraint means nothing for a DaemonSet.
        set(
            "polaris.fairwinds.com/topologySpreadConstraint-exempt",
            "true",
        );
    }
    a
}
