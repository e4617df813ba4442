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
//! - kube-score's ignore annotation names checks only: each ignored check's reason is emitted
//!   beside it as `kube-score.berth.io/<check>`;
//! - a Deployment spreads its pods with a topology spread constraint instead of pod
//!   anti-affinity (kube-score, kube-linter); a DaemonSet runs one pod per node, so it needs
//!   no spread constraint (Polaris).
//!
//! - settings the description states (a writable root file system, a UID below 10000 or root,
//!   `SYS_ADMIN`, resources set only in part, one replica): skips whose reason names the
//!   setting ([`declared`]).
//!
//! Not exempted on purpose: no resources at all (`resources: {}`, which `berth validate` warns
//! about; an omitted `resources` gets berth's starting values). `tests/validate-generated.sh`
//! runs checkov and kube-score on every fixture and fails on any finding without a reason here.

use std::collections::BTreeMap;

use crate::spec::{EnvSource, Spec, VolumeSource, WorkloadKind};

/// checkov's per-object skip annotation for the default-namespace check.
pub const CHECKOV_NAMESPACE: &str =
    "CKV_K8S_21=the namespace is chosen at apply time (kubectl -n, helm -n)";

/// Why berth sets pull policy `IfNotPresent` (checkov CKV_K8S_15, kube-score).
pub const PULL_POLICY_REASON: &str = "pull policy IfNotPresent is deliberate; the image is pinned and Always ties every pod start to the registry";
/// Why berth writes no NetworkPolicy (checkov CKV2_K8S_6, kube-score).
pub const NETWORK_POLICY_REASON: &str =
    "the daemon traffic is not known to berth; add a NetworkPolicy for your cluster";
/// Why a Deployment has no pod anti-affinity (kube-linter, kube-score).
pub const SPREAD_REASON: &str = "pods are spread across nodes by topologySpreadConstraints";
/// Why there is no ephemeral-storage request or limit (kube-score).
pub const EPHEMERAL_STORAGE_REASON: &str = "berth.yaml has no ephemeral-storage setting; the daemon writes to its volumes, not its root file system";

/// kube-score's `kube-score/ignore` takes check IDs only, so each ignored check's reason is
/// emitted beside it as `kube-score.berth.io/<check>: <reason>`.
pub const KUBE_SCORE_REASON_PREFIX: &str = "kube-score.berth.io/";

/// A finding a setting of `berth.yaml` causes on purpose, and the skips that record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// checkov skips: (annotation key, check ID).
    pub checkov: Vec<(&'static str, &'static str)>,
    /// The kube-score check, if kube-score reports it.
    pub kube_score: Option<&'static str>,
    /// Why: the setting behind it.
    pub reason: String,
}

/// The resource values a description that sets `resources` leaves out, with their checkov
/// check and annotation key. Empty for `resources: {}` (no requests and no limits at all),
/// which stays a finding on purpose: berth warns about it (BestEffort) and emits no reason.
fn missing_resources(spec: &Spec) -> Vec<(&'static str, &'static str, &'static str)> {
    let r = &spec.resources;
    if r.is_empty() {
        return Vec::new();
    }
    [
        (
            r.requests.cpu.is_none(),
            "requests.cpu",
            "checkov.io/skip13",
            "CKV_K8S_10",
        ),
        (
            r.limits.cpu.is_none(),
            "limits.cpu",
            "checkov.io/skip14",
            "CKV_K8S_11",
        ),
        (
            r.requests.memory.is_none(),
            "requests.memory",
            "checkov.io/skip15",
            "CKV_K8S_12",
        ),
        (
            r.limits.memory.is_none(),
            "limits.memory",
            "checkov.io/skip16",
            "CKV_K8S_13",
        ),
    ]
    .into_iter()
    .filter(|(missing, ..)| *missing)
    .map(|(_, field, key, id)| (field, key, id))
    .collect()
}

/// The findings `spec`'s own settings cause: a writable root file system, a low UID or root,
/// `SYS_ADMIN`, resources set only in part, a single-replica Deployment. Each is the user's
/// stated choice, so each carries the setting as its reason.
pub fn declared(spec: &Spec) -> Vec<Declared> {
    let mut out = Vec::new();
    let uid = spec.security.run_as_user;
    if !spec.security.read_only_root_filesystem {
        out.push(Declared {
            checkov: vec![("checkov.io/skip9", "CKV_K8S_22")],
            kube_score: Some("container-security-context-readonlyrootfilesystem"),
            reason: "a writable root file system is requested in berth.yaml (security.readOnlyRootFilesystem: false)".into(),
        });
    }
    if uid < 10000 {
        let mut checkov = vec![("checkov.io/skip11", "CKV_K8S_40")];
        if uid == 0 {
            checkov.insert(0, ("checkov.io/skip10", "CKV_K8S_23"));
        }
        out.push(Declared {
            checkov,
            kube_score: Some("container-security-context-user-group-id"),
            reason: format!(
                "runAsUser {uid} (runAsGroup and fsGroup follow it) is set in berth.yaml (security.runAsUser)"
            ),
        });
    }
    if spec.security.capabilities.iter().any(|c| c == "SYS_ADMIN") {
        out.push(Declared {
            checkov: vec![("checkov.io/skip12", "CKV_K8S_39")],
            kube_score: None,
            reason: "SYS_ADMIN is added in berth.yaml (security.capabilities)".into(),
        });
    }
    let missing = missing_resources(spec);
    if !missing.is_empty() {
        let fields: Vec<&str> = missing.iter().map(|(f, ..)| *f).collect();
        out.push(Declared {
            checkov: missing.iter().map(|(_, key, id)| (*key, *id)).collect(),
            kube_score: Some("container-resources"),
            reason: format!(
                "berth.yaml sets resources without {} (resources)",
                fields.join(", ")
            ),
        });
    }
    if spec.workload == WorkloadKind::Deployment && spec.replicas < 2 {
        out.push(Declared {
            checkov: Vec::new(),
            kube_score: Some("deployment-replicas"),
            reason: format!("replicas: {} is set in berth.yaml", spec.replicas),
        });
    }
    out
}

/// The kube-score checks a workload ignores, each with its reason.
pub fn kube_score_ignored(spec: &Spec) -> Vec<(&'static str, String)> {
    let mut checks = vec![
        (
            "container-ephemeral-storage-request-and-limit",
            EPHEMERAL_STORAGE_REASON.to_owned(),
        ),
        ("container-image-pull-policy", PULL_POLICY_REASON.to_owned()),
        ("pod-networkpolicy", NETWORK_POLICY_REASON.to_owned()),
    ];
    if spec.workload == WorkloadKind::Deployment {
        checks.push((
            "deployment-has-host-podantiaffinity",
            SPREAD_REASON.to_owned(),
        ));
    }
    for d in declared(spec) {
        if let Some(check) = d.kube_score {
            checks.push((check, d.reason));
        }
    }
    checks
}

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
        &format!("CKV_K8S_15={PULL_POLICY_REASON}"),
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
        &format!("CKV2_K8S_6={NETWORK_POLICY_REASON}"),
    );
    if deployment {
        set(
            "ignore-check.kube-linter.io/no-anti-affinity",
            SPREAD_REASON,
        );
    }
    if has_host_path {
        set(
            "ignore-check.kube-linter.io/sensitive-host-mounts",
            "hostPath volumes requested in berth.yaml (volumes)",
        );
    }
    for d in declared(spec) {
        for (key, id) in &d.checkov {
            set(key, &format!("{id}={}", d.reason));
        }
    }
    let kube_score = kube_score_ignored(spec);
    let ids: Vec<&str> = kube_score.iter().map(|(id, _)| *id).collect();
    set("kube-score/ignore", &ids.join(","));
    for (id, reason) in &kube_score {
        set(&format!("{KUBE_SCORE_REASON_PREFIX}{id}"), reason);
    }
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
