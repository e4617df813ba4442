//! Talking to a Kubernetes cluster (`berth apply`, `berth status`) with the `kube` client.
//!
//! - [`connect`] resolves the kubeconfig and context as kubectl does (`$KUBECONFIG`, else
//!   `~/.kube/config`, the current or the named context; in a pod without a kubeconfig, the
//!   in-cluster service account) and checks that the API server answers.
//! - [`apply`] server-side applies the typed objects of [`crate::render::k8s::objects`] (the
//!   objects of `k8s/<name>.yaml`, not re-parsed text) with field manager `berth`.
//! - [`rollout()`](fn@rollout) and [`pod_problems`] read the workload's rollout status and why pods are not
//!   Ready; the logic itself is pure and lives in [`rollout`](mod@rollout).

pub mod rollout;

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, ValidationDirective};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::chain;
use crate::render::k8s::{self as objects, Object};
use crate::spec::{Spec, WorkloadKind};

pub use rollout::{Phase, Rollout};

/// How long connecting to the API server (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "berth";

/// A failure talking to the cluster: what failed and where ([`Display`](std::fmt::Display)),
/// and what to do ([`ClusterError::hint`]).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No usable kubeconfig (missing file, unknown context, bad credentials file).
    #[error("no usable Kubernetes configuration{context}: {message}")]
    Config {
        /// ` (context C)` or empty.
        context: String,
        /// Why.
        message: String,
    },
    /// The API server does not answer.
    #[error("cannot reach the Kubernetes API server at {server}{context}: {message}")]
    Unreachable {
        /// The server URL of the context.
        server: String,
        /// ` (context C)` or empty.
        context: String,
        /// Why.
        message: String,
    },
    /// A request failed.
    #[error("{what}: {message}")]
    Request {
        /// What was being done, e.g. `apply deployment.apps/x in namespace n`.
        what: String,
        /// Why (the API server's message when there is one).
        message: String,
        /// What to do, when the status says (401, 403, a missing namespace, a conflict).
        hint: Option<String>,
    },
    /// The API server did not answer a request, or answered that it cannot serve now (a
    /// connection refused or reset, a timeout, 429, 5xx): worth retrying.
    #[error("{what}: the API server did not answer: {message}")]
    Unavailable {
        /// What was being done.
        what: String,
        /// Why.
        message: String,
    },
    /// The workload does not exist.
    #[error("{reference} not found in namespace {namespace}")]
    NotFound {
        /// `deployment.apps/x`.
        reference: String,
        /// The namespace looked in.
        namespace: String,
    },
}

impl ClusterError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            ClusterError::Config { .. } => {
                "kubectl's rules apply: $KUBECONFIG, else ~/.kube/config; --context picks a context".into()
            }
            ClusterError::Unreachable { .. } => {
                "check that the API server is up and reachable from here (kubectl cluster-info), and that the context names the right server".into()
            }
            ClusterError::Request { hint, .. } => hint.as_deref()?.into(),
            ClusterError::Unavailable { .. } => {
                "check that the API server is up (kubectl get --raw /readyz) and run the command again".into()
            }
            ClusterError::NotFound { .. } => "`berth apply` (or helm install) creates it".into(),
        })
    }
}

/// The API server's own message for a failed request, or the error chain.
fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => chain(other),
    }
}

fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

impl ClusterError {
    /// True for failures that may go away by themselves (the API server restarting or
    /// overloaded): [`ClusterError::Unreachable`] and [`ClusterError::Unavailable`].
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClusterError::Unreachable { .. } | ClusterError::Unavailable { .. }
        )
    }
}

/// True when a failed request is worth retrying: no answer at all (connection refused or
/// reset, timeout) or an answer that says "later" (408, 429, 5xx).
fn transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 408 | 429 | 500..=599),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// The hint for a request the API server refused because of who asks: 401 (the
/// credentials) or 403 (RBAC). `can_i` is the `kubectl auth can-i` arguments to check with.
fn auth_hint(err: &kube::Error, can_i: &str) -> Option<String> {
    match api_code(err) {
        Some(401) => Some(
            "the API server rejected the credentials of this kubeconfig user (an invalid, expired or revoked token or certificate); get fresh credentials (e.g. run your provider's get-credentials command again) and retry"
                .to_string(),
        ),
        Some(403) => Some(format!(
            "the kubeconfig user lacks an RBAC permission; check with `kubectl auth can-i {can_i}` and ask a cluster admin for a Role and RoleBinding that grant it"
        )),
        _ => None,
    }
}

/// A failed request as a [`ClusterError`]: [`ClusterError::Unavailable`] when it is worth
/// retrying, else [`ClusterError::Request`] with the API server's message and, for 401 and
/// 403, what to do.
fn request_error(what: String, err: &kube::Error, can_i: &str) -> ClusterError {
    if transient(err) {
        return ClusterError::Unavailable {
            what,
            message: api_message(err),
        };
    }
    ClusterError::Request {
        what,
        message: api_message(err),
        hint: auth_hint(err, can_i),
    }
}

/// `deployments.apps` (kubectl's `resource.group`) of a resource type.
fn resource_name<K: k8s_openapi::Resource>() -> String {
    if K::GROUP.is_empty() {
        K::URL_PATH_SEGMENT.to_string()
    } else {
        format!("{}.{}", K::URL_PATH_SEGMENT, K::GROUP)
    }
}

/// A client for one cluster, and the namespace commands act in.
#[derive(Clone)]
pub struct Connection {
    /// The client.
    pub client: Client,
    /// `--namespace`, else the context's namespace, else `default`.
    pub namespace: String,
    /// The API server URL.
    pub server: String,
    /// The context used (`None`: the current context, or in-cluster).
    pub context: Option<String>,
    /// The API server's version (`v1.32.13`).
    pub server_version: String,
}

fn context_note(context: Option<&str>) -> String {
    context
        .map(|c| format!(" (context {c})"))
        .unwrap_or_default()
}

/// Connects as kubectl would: the kubeconfig from `$KUBECONFIG` (a `:`-separated list, merged)
/// or `~/.kube/config`, its current context or `context`; without any kubeconfig and inside a
/// pod, the in-cluster service account. The namespace is `namespace`, else the context's,
/// else `default`. Fails with [`ClusterError::Unreachable`] when the API server does not
/// answer within a few seconds.
pub async fn connect(
    context: Option<&str>,
    namespace: Option<&str>,
) -> Result<Connection, ClusterError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = match Config::from_kubeconfig(&options).await {
        Ok(config) => config,
        Err(err) => {
            let in_cluster = context.is_none()
                && std::env::var_os("KUBECONFIG").is_none()
                && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
                && Kubeconfig::read().is_err();
            match in_cluster.then(Config::incluster) {
                Some(Ok(config)) => config,
                _ => {
                    return Err(ClusterError::Config {
                        context: context_note(context),
                        message: chain(&err),
                    });
                }
            }
        }
    };
    connect_with(config, context, namespace).await
}

/// Connects with an explicit configuration (tests, and [`connect`]).
pub async fn connect_with(
    mut config: Config,
    context: Option<&str>,
    namespace: Option<&str>,
) -> Result<Connection, ClusterError> {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(Duration::from_secs(30));
    let server = config.cluster_url.to_string();
    let server = server.trim_end_matches('/').to_string();
    let namespace = namespace
        .map(str::to_string)
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| ClusterError::Config {
        context: context_note(context),
        message: chain(&e),
    })?;
    let unreachable = |message: String| ClusterError::Unreachable {
        server: server.clone(),
        context: context_note(context),
        message,
    };
    let version = tokio::time::timeout(Duration::from_secs(15), client.apiserver_version())
        .await
        .map_err(|_| unreachable("no answer within 15s".into()))?
        .map_err(|e| match api_code(&e) {
            // It answered: the problem is who asks, not where.
            Some(401 | 403) => request_error(
                format!(
                    "the Kubernetes API server at {server}{} refused this kubeconfig user",
                    context_note(context)
                ),
                &e,
                "get --raw /version",
            ),
            // The connect timeout (TCP and TLS) says only "deadline has elapsed".
            _ => unreachable(chain(&e).replace(
                "deadline has elapsed",
                &format!(
                    "no answer within {}s (connect timeout)",
                    CONNECT_TIMEOUT.as_secs()
                ),
            )),
        })?;
    Ok(Connection {
        client,
        namespace,
        server,
        context: context.map(str::to_string),
        server_version: version.git_version,
    })
}

/// What a server-side apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The object did not exist.
    Created,
    /// The object existed and changed.
    Configured,
    /// The object existed and the apply changed nothing.
    Unchanged,
}

impl Change {
    /// `created`, `configured` or `unchanged` (kubectl's words).
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Unchanged => "unchanged",
        }
    }
}

/// The result of applying one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `deployment.apps/NAME` (kubectl's `resource.group/name`).
    pub reference: String,
    /// What happened.
    pub change: Change,
}

/// Options of [`apply`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Server-side dry run: admission and validation run, nothing is stored.
    pub dry_run: bool,
    /// Take over fields another manager (kubectl, helm) owns instead of failing.
    pub force_conflicts: bool,
    /// Apply the namespace first.
    pub create_namespace: bool,
}

/// What changed between the object before and after an apply: nothing before → created;
/// the same `resourceVersion` → unchanged. A server dry run never stores anything, so there
/// the objects themselves are compared, without the fields every write touches
/// (`resourceVersion`, `generation`, `managedFields`).
pub fn change(before: Option<&Value>, after: &Value, dry_run: bool) -> Change {
    let Some(before) = before else {
        return Change::Created;
    };
    let rv = |v: &Value| v.pointer("/metadata/resourceVersion").cloned();
    if !dry_run {
        return if rv(before) == rv(after) {
            Change::Unchanged
        } else {
            Change::Configured
        };
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["resourceVersion", "generation", "managedFields"] {
                meta.remove(key);
            }
        }
        v
    };
    if strip(before) == strip(after) {
        Change::Unchanged
    } else {
        Change::Configured
    }
}

/// `kind.group/name` as kubectl prints it (`deployment.apps/x`, `service/x`).
pub fn reference<K: k8s_openapi::Resource>(name: &str) -> String {
    let kind = K::KIND.to_ascii_lowercase();
    if K::GROUP.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{}/{name}", K::GROUP)
    }
}

fn patch_params(options: ApplyOptions) -> PatchParams {
    let mut params = PatchParams::apply(FIELD_MANAGER).validation(ValidationDirective::Strict);
    if options.force_conflicts {
        params = params.force();
    }
    if options.dry_run {
        params = params.dry_run();
    }
    params
}

async fn apply_object<K>(
    api: Api<K>,
    object: &K,
    name: &str,
    namespace: Option<&str>,
    options: ApplyOptions,
) -> Result<Applied, ClusterError>
where
    K: kube::Resource<DynamicType = ()>
        + k8s_openapi::Resource
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug,
{
    let reference = reference::<K>(name);
    let where_ = namespace
        .map(|n| format!(" in namespace {n}"))
        .unwrap_or_default();
    let failed = |verb: &str, err: &kube::Error| {
        let what = format!("{verb} {reference}{where_}");
        if transient(err) || matches!(api_code(err), Some(401 | 403)) {
            let can_i = format!(
                "{} {}{}",
                if verb == "get" { "get" } else { "patch" },
                resource_name::<K>(),
                namespace.map(|n| format!(" -n {n}")).unwrap_or_default()
            );
            return request_error(what, err, &can_i);
        }
        let hint = if api_code(err) == Some(404)
            && let Some(n) = namespace
        {
            Some(if options.create_namespace && options.dry_run {
                "a server dry run stores nothing, so it cannot create the namespace for the objects; apply without --dry-run first".to_string()
            } else {
                format!("namespace {n} does not exist; --create-namespace creates it")
            })
        } else if api_code(err) == Some(409) {
            Some(
                "another field manager owns these fields; --force-conflicts takes them over"
                    .to_string(),
            )
        } else {
            None
        };
        ClusterError::Request {
            what,
            message: api_message(err),
            hint,
        }
    };
    let before = api.get_opt(name).await.map_err(|e| failed("get", &e))?;
    let after = api
        .patch(name, &patch_params(options), &Patch::Apply(object))
        .await
        .map_err(|e| failed("apply", &e))?;
    let to_value = |o: &K| serde_json::to_value(o).unwrap_or(Value::Null);
    let change = change(
        before.as_ref().map(to_value).as_ref(),
        &to_value(&after),
        options.dry_run,
    );
    Ok(Applied { reference, change })
}

fn namespaced<K>(conn: &Connection) -> Api<K>
where
    K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(conn.client.clone(), &conn.namespace)
}

/// Server-side applies `objects` in order into the connection's namespace (the namespace
/// itself first when `options.create_namespace`), calling `report` after each object.
/// Stops at the first failure.
pub async fn apply(
    conn: &Connection,
    objects: &[Object],
    options: ApplyOptions,
    mut report: impl FnMut(&Applied),
) -> Result<Vec<Applied>, ClusterError> {
    let mut done = Vec::new();
    let ns = Some(conn.namespace.as_str());
    if options.create_namespace {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(conn.namespace.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let api: Api<Namespace> = Api::all(conn.client.clone());
        let applied = apply_object(api, &namespace, &conn.namespace, None, options).await?;
        report(&applied);
        done.push(applied);
    }
    for object in objects {
        let name = object.name();
        let applied = match object {
            Object::ServiceAccount(o) => apply_object(namespaced(conn), o, name, ns, options).await,
            Object::ConfigMap(o) => apply_object(namespaced(conn), o, name, ns, options).await,
            Object::Service(o) => apply_object(namespaced(conn), o, name, ns, options).await,
            Object::Deployment(o) => apply_object(namespaced(conn), o, name, ns, options).await,
            Object::DaemonSet(o) => apply_object(namespaced(conn), o, name, ns, options).await,
            Object::PodDisruptionBudget(o) => {
                apply_object(namespaced(conn), o, name, ns, options).await
            }
        }?;
        report(&applied);
        done.push(applied);
    }
    Ok(done)
}

/// `deployment.apps/NAME` or `daemonset.apps/NAME`: the workload of `spec`.
pub fn workload_reference(spec: &Spec) -> String {
    match spec.workload {
        WorkloadKind::Deployment => reference::<Deployment>(&spec.name),
        WorkloadKind::DaemonSet => reference::<DaemonSet>(&spec.name),
    }
}

/// The rollout status of the workload of `spec` in the connection's namespace.
pub async fn rollout(conn: &Connection, spec: &Spec) -> Result<Rollout, ClusterError> {
    let reference = workload_reference(spec);
    let failed = |e: kube::Error| {
        let can_i = match spec.workload {
            WorkloadKind::Deployment => resource_name::<Deployment>(),
            WorkloadKind::DaemonSet => resource_name::<DaemonSet>(),
        };
        request_error(
            format!("get {reference} in namespace {}", conn.namespace),
            &e,
            &format!("get {can_i} -n {}", conn.namespace),
        )
    };
    let not_found = || ClusterError::NotFound {
        reference: reference.clone(),
        namespace: conn.namespace.clone(),
    };
    match spec.workload {
        WorkloadKind::Deployment => namespaced::<Deployment>(conn)
            .get_opt(&spec.name)
            .await
            .map_err(failed)?
            .map(|d| rollout::deployment(&d))
            .ok_or_else(not_found),
        WorkloadKind::DaemonSet => namespaced::<DaemonSet>(conn)
            .get_opt(&spec.name)
            .await
            .map_err(failed)?
            .map(|d| rollout::daemon_set(&d))
            .ok_or_else(not_found),
    }
}

/// The pods of the workload of `spec`: those matching its selector labels in the
/// connection's namespace (whoever created them: `berth apply`, Helm or kubectl).
pub async fn workload_pods(conn: &Connection, spec: &Spec) -> Result<Vec<Pod>, ClusterError> {
    let selector = objects::selector_labels(spec)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    namespaced::<Pod>(conn)
        .list(&ListParams::default().labels(&selector))
        .await
        .map(|list| list.items)
        .map_err(|e| {
            request_error(
                format!("list pods in namespace {}", conn.namespace),
                &e,
                &format!("list pods -n {}", conn.namespace),
            )
        })
}

/// Why the workload's pods that are not Ready are not (see [`rollout::pod_problems`]): the
/// pods matching the workload's selector labels, and the Warning events about pods.
pub async fn pod_problems(conn: &Connection, spec: &Spec) -> Result<Vec<String>, ClusterError> {
    let failed = |what: &str, e: kube::Error| {
        request_error(
            format!("list {what} in namespace {}", conn.namespace),
            &e,
            &format!("list {what} -n {}", conn.namespace),
        )
    };
    let pods = workload_pods(conn, spec).await?;
    if pods
        .iter()
        .all(|p| p.metadata.deletion_timestamp.is_some() || rollout::pod_ready(p))
    {
        return Ok(Vec::new());
    }
    let events = namespaced::<Event>(conn)
        .list(&ListParams::default().fields("involvedObject.kind=Pod,type=Warning"))
        .await
        .map_err(|e| failed("events", e))?
        .items;
    Ok(rollout::pod_problems(&pods, &events))
}

/// Parses a timeout: Go-style durations (`30s`, `5m`, `1h30m`, `1.5m`, `250ms`) or a bare
/// number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("invalid duration {text:?} (examples: 30s, 5m, 1h30m)");
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Service, ServiceAccount};
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use serde_json::json;

    #[test]
    fn references_are_kubectls() {
        assert_eq!(reference::<Deployment>("x"), "deployment.apps/x");
        assert_eq!(reference::<DaemonSet>("x"), "daemonset.apps/x");
        assert_eq!(reference::<Service>("x"), "service/x");
        assert_eq!(reference::<ServiceAccount>("x"), "serviceaccount/x");
        assert_eq!(
            reference::<PodDisruptionBudget>("x"),
            "poddisruptionbudget.policy/x"
        );
        assert_eq!(reference::<Namespace>("x"), "namespace/x");
    }

    #[test]
    fn change_by_resource_version() {
        let a = json!({"metadata": {"name": "x", "resourceVersion": "5"}, "data": {"a": "1"}});
        let b = json!({"metadata": {"name": "x", "resourceVersion": "7"}, "data": {"a": "1"}});
        assert_eq!(change(None, &a, false), Change::Created);
        assert_eq!(change(None, &a, true), Change::Created);
        assert_eq!(change(Some(&a), &a, false), Change::Unchanged);
        assert_eq!(change(Some(&a), &b, false), Change::Configured);
    }

    #[test]
    fn dry_run_change_compares_content() {
        let before = json!({"metadata": {"name": "x", "resourceVersion": "5", "generation": 1,
            "managedFields": [{"manager": "berth", "time": "2026-01-01T00:00:00Z"}]},
            "spec": {"replicas": 2}});
        let same = json!({"metadata": {"name": "x", "resourceVersion": "6", "generation": 1,
            "managedFields": [{"manager": "berth", "time": "2026-01-01T00:00:09Z"}]},
            "spec": {"replicas": 2}});
        let changed = json!({"metadata": {"name": "x", "resourceVersion": "5", "generation": 2},
            "spec": {"replicas": 3}});
        assert_eq!(change(Some(&before), &same, true), Change::Unchanged);
        assert_eq!(change(Some(&before), &changed, true), Change::Configured);
        assert_eq!(Change::Configured.as_str(), "configured");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "m", "5x", "s5", "-1s", "5m-", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_chain_includes_sources() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = ClusterError::Config {
            context: String::new(),
            message: chain(&inner),
        };
        assert!(outer.to_string().contains("refused"));
    }

    fn api_error(code: u16, message: &str) -> kube::Error {
        let status: kube::core::Status =
            serde_json::from_value(json!({"code": code, "message": message})).unwrap();
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn failures_are_sorted_into_retry_credentials_rbac_and_the_rest() {
        for code in [408, 429, 500, 503, 504] {
            let e = request_error("get x".into(), &api_error(code, "later"), "get x");
            assert!(e.is_transient(), "{code}: {e}");
            assert!(
                e.hint()
                    .is_some_and(|h| h.contains("run the command again")),
                "{e}"
            );
        }
        let e = request_error("get x".into(), &api_error(401, "Unauthorized"), "get x");
        assert!(!e.is_transient());
        assert!(e.to_string().contains("Unauthorized"), "{e}");
        assert!(
            e.hint()
                .is_some_and(|h| h.contains("get fresh credentials")),
            "{e}"
        );
        let e = request_error(
            "apply deployment.apps/x in namespace n".into(),
            &api_error(403, "deployments.apps \"x\" is forbidden"),
            "patch deployments.apps -n n",
        );
        let text = e.hint().unwrap_or_default().into_owned();
        assert!(!e.is_transient());
        assert!(
            text.contains("kubectl auth can-i patch deployments.apps -n n"),
            "{text}"
        );
        let e = request_error("get x".into(), &api_error(422, "invalid"), "get x");
        assert!(!e.is_transient());
        assert_eq!(e.to_string(), "get x: invalid");
        assert_eq!(e.hint(), None);
        assert_eq!(resource_name::<Deployment>(), "deployments.apps");
        assert_eq!(resource_name::<ServiceAccount>(), "serviceaccounts");
    }

    #[tokio::test]
    async fn unreachable_server_is_a_clear_error() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let config = Config::new("https://127.0.0.1:9".parse().unwrap());
        let err = connect_with(config, Some("nowhere"), None)
            .await
            .err()
            .expect("no API server on 127.0.0.1:9");
        let text = crate::error::Error::from(err).report();
        assert!(
            text.starts_with(
                "error: cannot reach the Kubernetes API server at https://127.0.0.1:9 (context nowhere): "
            ),
            "{text}"
        );
        assert!(
            text.contains("\n  hint: check that the API server is up"),
            "{text}"
        );
    }
}
