//! Rollout status of a Deployment or DaemonSet, and why pods are not Ready: pure functions of
//! the objects the API server returns, so they are unit-tested on hand-built objects.
//!
//! The rollout logic is `kubectl rollout status` (`k8s.io/kubectl/pkg/polymorphichelpers/
//! rollout_status.go`): nothing counts until the controller has observed the current
//! generation; a Deployment is done when every replica is updated, no old replica is left and
//! every updated replica is available; a DaemonSet when every node that should run a pod runs
//! an updated, available one.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Pod};

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Every pod runs the current template and is available.
    Complete,
    /// Still rolling out; the message says what it waits for (kubectl's wording).
    Progressing(String),
    /// The controller gave up (a Deployment past its `progressDeadlineSeconds`), or the status
    /// cannot be tracked (a DaemonSet with the `OnDelete` strategy).
    Failed(String),
}

/// Counts of a workload's pods, and its phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// `deployment.apps` or `daemonset.apps`.
    pub resource: &'static str,
    /// The workload's name.
    pub name: String,
    /// Pods wanted: `spec.replicas` (Deployment) or `desiredNumberScheduled` (DaemonSet).
    pub desired: i32,
    /// Pods running the current pod template.
    pub updated: i32,
    /// Ready pods.
    pub ready: i32,
    /// Pods ready for at least `minReadySeconds`.
    pub available: i32,
    /// Where the rollout stands.
    pub phase: Phase,
}

impl Rollout {
    /// `true` when the rollout completed.
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    /// `deployment.apps/NAME`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.resource, self.name)
    }

    /// One line of counts: `desired 3, updated 3, ready 2, available 2`.
    pub fn counts(&self) -> String {
        format!(
            "desired {}, updated {}, ready {}, available {}",
            self.desired, self.updated, self.ready, self.available
        )
    }
}

impl fmt::Display for Rollout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: ", self.reference(), self.counts())?;
        match &self.phase {
            Phase::Complete => f.write_str("successfully rolled out"),
            Phase::Progressing(m) => f.write_str(m),
            Phase::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

/// The rollout status of a Deployment (kubectl's `DeploymentStatusViewer`).
pub fn deployment(d: &Deployment) -> Rollout {
    let name = d.metadata.name.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let generation = d.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let phase = if generation > observed {
        Phase::Progressing("waiting for the deployment spec update to be observed".into())
    } else if let Some(cond) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        Phase::Failed(format!(
            "deployment {name:?} exceeded its progress deadline{}",
            cond.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ))
    } else if updated < desired {
        Phase::Progressing(format!(
            "{updated} out of {desired} new replicas have been updated"
        ))
    } else if replicas > updated {
        Phase::Progressing(format!(
            "{} old replicas are pending termination",
            replicas - updated
        ))
    } else if available < updated {
        Phase::Progressing(format!(
            "{available} of {updated} updated replicas are available"
        ))
    } else {
        Phase::Complete
    };
    Rollout {
        resource: "deployment.apps",
        name,
        desired,
        updated,
        ready: status.ready_replicas.unwrap_or(0),
        available,
        phase,
    }
}

/// The rollout status of a DaemonSet (kubectl's `DaemonSetStatusViewer`).
pub fn daemon_set(ds: &DaemonSet) -> Rollout {
    let name = ds.metadata.name.clone().unwrap_or_default();
    let status = ds.status.clone().unwrap_or_default();
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    let generation = ds.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let strategy = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate");
    let phase = if strategy != "RollingUpdate" {
        Phase::Failed(format!(
            "rollout status is only available for the RollingUpdate strategy (this one is {strategy})"
        ))
    } else if generation > observed {
        Phase::Progressing("waiting for the daemon set spec update to be observed".into())
    } else if updated < desired {
        Phase::Progressing(format!(
            "{updated} out of {desired} new pods have been updated"
        ))
    } else if available < desired {
        Phase::Progressing(format!(
            "{available} of {desired} updated pods are available"
        ))
    } else {
        Phase::Complete
    };
    Rollout {
        resource: "daemonset.apps",
        name,
        desired,
        updated,
        ready: status.number_ready,
        available,
        phase,
    }
}

/// Why the pods that are not Ready are not: one line per distinct reason, most frequent
/// first, e.g. `ImagePullBackOff (2 pods: a, b): Back-off pulling image "x"`. Sources, in
/// order of precedence for each pod: a container waiting in a known failure state
/// (`ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`, ...), a container that last
/// terminated with an error, the `PodScheduled=False` condition (`Unschedulable`), the latest
/// Warning event about the pod, then the `Ready=False` condition ("not Ready"). Pods being
/// deleted and Ready pods are skipped. Empty when every pod is Ready.
pub fn pod_problems(pods: &[Pod], events: &[Event]) -> Vec<String> {
    // (reason, message) -> pod names
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() || pod_ready(pod) {
            continue;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let (reason, message) = pod_problem(pod, &name, events);
        groups.entry((reason, message)).or_default().push(name);
    }
    let mut lines: Vec<(usize, String)> = groups
        .into_iter()
        .map(|((reason, message), mut names)| {
            names.sort();
            let who = if names.len() == 1 {
                format!("pod {}", names[0])
            } else {
                format!("{} pods: {}", names.len(), names.join(", "))
            };
            let text = if message.is_empty() {
                format!("{reason} ({who})")
            } else {
                format!("{reason} ({who}): {message}")
            };
            (names.len(), text)
        })
        .collect();
    lines.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    lines.into_iter().map(|(_, l)| l).collect()
}

/// `true` when the pod's `Ready` condition is `True`.
pub fn pod_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

fn condition<'a>(
    pod: &'a Pod,
    type_: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The reason and message of one pod that is not Ready.
fn pod_problem(pod: &Pod, name: &str, events: &[Event]) -> (String, String) {
    let status = pod.status.as_ref();
    let containers = status
        .into_iter()
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .collect::<Vec<_>>();
    // A container stuck waiting for a reason other than the normal start-up.
    for c in &containers {
        if let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && reason != "ContainerCreating"
            && reason != "PodInitializing"
        {
            let mut message = one_line(waiting.message.as_deref().unwrap_or_default());
            if reason == "CrashLoopBackOff"
                && let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
            {
                let last = format!(
                    "last exit code {}{}",
                    t.exit_code,
                    t.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                message = if message.is_empty() {
                    last
                } else {
                    format!("{last}; {message}")
                };
            }
            return (reason.to_string(), message);
        }
    }
    for c in &containers {
        if let Some(t) = c.state.as_ref().and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            return (
                t.reason.clone().unwrap_or_else(|| "Terminated".into()),
                format!("container {} exited with code {}", c.name, t.exit_code),
            );
        }
    }
    if let Some(c) = condition(pod, "PodScheduled")
        && c.status == "False"
    {
        return (
            c.reason.clone().unwrap_or_else(|| "Unschedulable".into()),
            one_line(c.message.as_deref().unwrap_or_default()),
        );
    }
    let latest_warning = events
        .iter()
        .filter(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.involved_object.kind.as_deref() == Some("Pod")
                && e.involved_object.name.as_deref() == Some(name)
        })
        .max_by_key(|e| event_time(e));
    if let Some(e) = latest_warning {
        return (
            e.reason.clone().unwrap_or_else(|| "Warning".into()),
            one_line(e.message.as_deref().unwrap_or_default()),
        );
    }
    if status.and_then(|s| s.phase.as_deref()) == Some("Pending") && containers.is_empty() {
        return ("Pending".into(), String::new());
    }
    match condition(pod, "Ready") {
        Some(c) => {
            let mut message = c.reason.clone().unwrap_or_default();
            if let Some(m) = c.message.as_deref() {
                message = if message.is_empty() {
                    one_line(m)
                } else {
                    format!("{message}: {}", one_line(m))
                };
            }
            ("not Ready".into(), message)
        }
        None => ("not Ready".into(), String::new()),
    }
}

/// When an event last happened (series, last timestamp, event time, creation), as RFC 3339
/// text that sorts chronologically (all UTC).
fn event_time(e: &Event) -> String {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| {
            e.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(v: serde_json::Value) -> Deployment {
        serde_json::from_value(v).unwrap()
    }

    fn ds(v: serde_json::Value) -> DaemonSet {
        serde_json::from_value(v).unwrap()
    }

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn d_status(generation: i64, replicas: i32, status: serde_json::Value) -> Deployment {
        deploy(json!({
            "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": replicas, "selector": {}, "template": {}},
            "status": status,
        }))
    }

    #[test]
    fn deployment_waits_for_observed_generation() {
        let r = deployment(&d_status(
            3,
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                   "readyReplicas": 2, "availableReplicas": 2}),
        ));
        assert_eq!(
            r.phase,
            Phase::Progressing("waiting for the deployment spec update to be observed".into())
        );
        assert_eq!((r.desired, r.updated, r.ready, r.available), (2, 2, 2, 2));
    }

    #[test]
    fn deployment_progress_messages_in_kubectl_order() {
        let r = deployment(&d_status(
            2,
            3,
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1}),
        ));
        assert_eq!(
            r.phase,
            Phase::Progressing("1 out of 3 new replicas have been updated".into())
        );
        let r = deployment(&d_status(
            2,
            3,
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3}),
        ));
        assert_eq!(
            r.phase,
            Phase::Progressing("1 old replicas are pending termination".into())
        );
        let r = deployment(&d_status(
            2,
            3,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                   "readyReplicas": 3, "availableReplicas": 2}),
        ));
        assert_eq!(
            r.phase,
            Phase::Progressing("2 of 3 updated replicas are available".into())
        );
        assert!(!r.is_complete());
    }

    #[test]
    fn deployment_complete() {
        let r = deployment(&d_status(
            5,
            2,
            json!({"observedGeneration": 5, "replicas": 2, "updatedReplicas": 2,
                   "readyReplicas": 2, "availableReplicas": 2}),
        ));
        assert!(r.is_complete());
        assert_eq!(r.reference(), "deployment.apps/web");
        assert_eq!(
            r.to_string(),
            "deployment.apps/web: desired 2, updated 2, ready 2, available 2: successfully rolled out"
        );
    }

    #[test]
    fn deployment_replicas_default_to_one_and_empty_status_progresses() {
        let d = deploy(json!({"metadata": {"name": "x", "generation": 1},
                              "spec": {"selector": {}, "template": {}}}));
        let r = deployment(&d);
        assert_eq!(r.desired, 1);
        assert!(matches!(r.phase, Phase::Progressing(_)));
    }

    #[test]
    fn deployment_progress_deadline_exceeded_fails() {
        let r = deployment(&d_status(
            2,
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "False",
                                   "reason": "ProgressDeadlineExceeded",
                                   "message": "ReplicaSet \"web-1\" has timed out progressing."}]}),
        ));
        match r.phase {
            Phase::Failed(m) => assert!(m.contains("exceeded its progress deadline"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    fn ds_status(generation: i64, strategy: &str, status: serde_json::Value) -> DaemonSet {
        ds(json!({
            "metadata": {"name": "agent", "generation": generation},
            "spec": {"selector": {}, "template": {}, "updateStrategy": {"type": strategy}},
            "status": status,
        }))
    }

    #[test]
    fn daemon_set_phases() {
        let base = json!({"observedGeneration": 1, "currentNumberScheduled": 3,
            "numberMisscheduled": 0, "desiredNumberScheduled": 3, "numberReady": 3,
            "updatedNumberScheduled": 3, "numberAvailable": 3});
        assert!(daemon_set(&ds_status(1, "RollingUpdate", base.clone())).is_complete());
        assert_eq!(
            daemon_set(&ds_status(2, "RollingUpdate", base.clone())).phase,
            Phase::Progressing("waiting for the daemon set spec update to be observed".into())
        );
        let mut s = base.clone();
        s["updatedNumberScheduled"] = json!(1);
        assert_eq!(
            daemon_set(&ds_status(1, "RollingUpdate", s)).phase,
            Phase::Progressing("1 out of 3 new pods have been updated".into())
        );
        let mut s = base.clone();
        s["numberAvailable"] = json!(2);
        s["numberReady"] = json!(2);
        let r = daemon_set(&ds_status(1, "RollingUpdate", s));
        assert_eq!(
            r.phase,
            Phase::Progressing("2 of 3 updated pods are available".into())
        );
        assert_eq!((r.desired, r.updated, r.ready, r.available), (3, 3, 2, 2));
        assert!(matches!(
            daemon_set(&ds_status(1, "OnDelete", base)).phase,
            Phase::Failed(_)
        ));
    }

    #[test]
    fn daemon_set_with_no_nodes_is_complete() {
        let r = daemon_set(&ds_status(
            1,
            "RollingUpdate",
            json!({"observedGeneration": 1, "currentNumberScheduled": 0,
                   "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}),
        ));
        assert!(r.is_complete());
    }

    #[test]
    fn problems_skip_ready_and_terminating_pods() {
        let ready = pod(json!({"metadata": {"name": "a"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        let deleting = pod(json!({"metadata": {"name": "b",
                "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}}));
        assert!(pod_problems(&[ready, deleting], &[]).is_empty());
    }

    #[test]
    fn problems_report_image_pull_and_crash_loop() {
        let pull = |n: &str| {
            pod(
                json!({"metadata": {"name": n}, "status": {"phase": "Pending",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff",
                        "message": "Back-off pulling image \"x:nope\""}}}]}}),
            )
        };
        let crash = pod(
            json!({"metadata": {"name": "z"}, "status": {"phase": "Running",
            "containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false,
                "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}}),
        );
        let lines = pod_problems(&[pull("p2"), crash, pull("p1")], &[]);
        assert_eq!(
            lines,
            vec![
                "ImagePullBackOff (2 pods: p1, p2): Back-off pulling image \"x:nope\"".to_string(),
                "CrashLoopBackOff (pod z): last exit code 2 (Error); back-off 40s".to_string(),
            ]
        );
    }

    #[test]
    fn problems_report_unschedulable() {
        let p = pod(
            json!({"metadata": {"name": "u"}, "status": {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}}),
        );
        assert_eq!(
            pod_problems(&[p], &[]),
            vec!["Unschedulable (pod u): 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.".to_string()]
        );
    }

    #[test]
    fn problems_fall_back_to_latest_warning_event_then_not_ready() {
        let p = pod(
            json!({"metadata": {"name": "w"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                "message": "containers with unready status: [c]"}],
            "containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"running": {}}}]}}),
        );
        let ev = |reason: &str, t: &str, kind: &str| -> Event {
            serde_json::from_value(json!({"metadata": {"name": format!("w.{reason}")},
                "involvedObject": {"kind": kind, "name": "w"}, "type": "Warning",
                "reason": reason, "message": format!("{reason} happened"),
                "lastTimestamp": t}))
            .unwrap()
        };
        let events = vec![
            ev("Unhealthy", "2026-01-01T00:00:05Z", "Pod"),
            ev("Older", "2026-01-01T00:00:01Z", "Pod"),
            ev("OtherKind", "2026-01-01T00:00:09Z", "ReplicaSet"),
        ];
        assert_eq!(
            pod_problems(std::slice::from_ref(&p), &events),
            vec!["Unhealthy (pod w): Unhealthy happened".to_string()]
        );
        assert_eq!(
            pod_problems(&[p], &[]),
            vec![
                "not Ready (pod w): ContainersNotReady: containers with unready status: [c]"
                    .to_string()
            ]
        );
    }
}
