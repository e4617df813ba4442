//! `berth debug`: an ephemeral debug container in a running pod of the daemon's workload,
//! targeting the daemon's container so it shares its process namespace (the daemon's image
//! has no shell: distroless or scratch). berth picks the pod (a Ready one, by the workload's
//! selector labels) and the container; `kubectl debug` creates the ephemeral container and
//! attaches to it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::core::v1::Pod;

use super::apply::{connect, load_spec, runtime};
use super::{CommandError, CommandResult};
use crate::cluster::{self, rollout::pod_ready};

/// The debug image when `--image` is not given: a shell and the usual tools, small.
pub const DEFAULT_IMAGE: &str = "busybox:1.37";

/// Options of `berth debug`.
#[derive(Debug, Clone)]
pub struct DebugCommand {
    /// The description.
    pub file: PathBuf,
    /// The kubeconfig context (default: the current context).
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    pub namespace: Option<String>,
    /// The debug container's image.
    pub image: String,
    /// This pod instead of the first Ready one.
    pub pod: Option<String>,
    /// The command to run (empty: the image's entrypoint).
    pub command: Vec<String>,
}

fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

/// The pod to debug and its daemon container: `wanted` when given (it must be one of the
/// workload's pods and running), else the first Ready pod by name that is not terminating.
pub fn choose(pods: &[Pod], wanted: Option<&str>) -> Result<(String, String), String> {
    let live = |p: &&Pod| p.metadata.deletion_timestamp.is_none();
    let pod = match wanted {
        Some(w) => pods.iter().find(|p| name(p) == w).ok_or_else(|| {
            let mut names: Vec<&str> = pods.iter().map(name).collect();
            names.sort_unstable();
            format!(
                "pod {w} is not a pod of the workload (its pods: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?,
        None => {
            let mut ready: Vec<&Pod> = pods.iter().filter(live).filter(|p| pod_ready(p)).collect();
            ready.sort_by(|a, b| name(a).cmp(name(b)));
            *ready.first().ok_or_else(|| {
                format!(
                    "no Ready pod of the workload ({} pod{} found; `berth status` says why)",
                    pods.len(),
                    if pods.len() == 1 { "" } else { "s" }
                )
            })?
        }
    };
    let container = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| c.name.clone())
        .ok_or_else(|| format!("pod {} has no container", name(pod)))?;
    Ok((name(pod).to_string(), container))
}

/// The arguments of `kubectl debug`: an ephemeral container from `image` targeting
/// `container` (its process namespace), the `general` profile, stdin attached (and a TTY
/// when `tty`), then `command`.
pub fn kubectl_args(
    context: Option<&str>,
    namespace: &str,
    pod: &str,
    container: &str,
    image: &str,
    tty: bool,
    command: &[String],
) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if let Some(c) = context {
        args.extend(["--context".to_string(), c.to_string()]);
    }
    args.extend(
        [
            "debug",
            "--namespace",
            namespace,
            pod,
            "--image",
            image,
            "--target",
            container,
            "--profile",
            "general",
            if tty { "-it" } else { "-i" },
        ]
        .map(str::to_string),
    );
    if !command.is_empty() {
        args.push("--".to_string());
        args.extend(command.iter().cloned());
    }
    args
}

/// Runs `berth debug`: finds the pod, then runs `kubectl debug` (`$KUBECTL`, else `kubectl`
/// on the PATH) with this terminal.
pub fn run(options: &DebugCommand) -> CommandResult {
    let spec = load_spec(&options.file)?;
    let (namespace, pod, container) = runtime()?.block_on(async {
        let conn = connect(options.context.as_deref(), options.namespace.as_deref()).await?;
        let pods = cluster::workload_pods(&conn, &spec).await?;
        let (pod, container) = choose(&pods, options.pod.as_deref()).map_err(|m| {
            CommandError::runtime(format!(
                "{}: {m} in namespace {}",
                cluster::workload_reference(&spec),
                conn.namespace
            ))
        })?;
        Ok::<_, CommandError>((conn.namespace, pod, container))
    })?;
    eprintln!(
        "berth: debugging pod {pod} (target container {container}) in namespace {namespace} with {}",
        options.image
    );
    let kubectl = std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into());
    let args = kubectl_args(
        options.context.as_deref(),
        &namespace,
        &pod,
        &container,
        &options.image,
        std::io::stdin().is_terminal(),
        &options.command,
    );
    let status = Command::new(&kubectl).args(&args).status().map_err(|e| {
        CommandError::runtime(format!(
            "cannot run {}: {e} (berth debug runs `kubectl debug`: install kubectl, or set KUBECTL)",
            kubectl.to_string_lossy()
        ))
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(CommandError::runtime(format!(
            "kubectl debug failed ({status})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(name: &str, ready: bool, terminating: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                deletion_timestamp: terminating.then(|| Time(Default::default())),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "echo-daemon".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn picks_the_first_ready_live_pod_by_name() {
        let pods = [
            pod("c", true, false),
            pod("a", true, true),
            pod("b", false, false),
            pod("d", true, false),
        ];
        assert_eq!(
            choose(&pods, None).unwrap(),
            ("c".to_string(), "echo-daemon".to_string())
        );
    }

    #[test]
    fn a_named_pod_must_belong_to_the_workload() {
        let pods = [pod("b", false, false), pod("a", true, false)];
        assert_eq!(choose(&pods, Some("b")).unwrap().0, "b");
        assert_eq!(
            choose(&pods, Some("x")).unwrap_err(),
            "pod x is not a pod of the workload (its pods: a, b)"
        );
    }

    #[test]
    fn no_ready_pod_is_an_error() {
        let pods = [pod("a", false, false)];
        assert_eq!(
            choose(&pods, None).unwrap_err(),
            "no Ready pod of the workload (1 pod found; `berth status` says why)"
        );
        assert!(choose(&[], None).unwrap_err().contains("0 pods found"));
    }

    #[test]
    fn kubectl_arguments() {
        let args = kubectl_args(
            Some("prod"),
            "ns",
            "p",
            "c",
            "img:1",
            false,
            &["ps".into(), "-o".into(), "pid,args".into()],
        );
        assert_eq!(
            args.join(" "),
            "--context prod debug --namespace ns p --image img:1 --target c --profile general -i -- ps -o pid,args"
        );
        let args = kubectl_args(None, "ns", "p", "c", "img:1", true, &[]);
        assert_eq!(
            args.join(" "),
            "debug --namespace ns p --image img:1 --target c --profile general -it"
        );
    }
}
