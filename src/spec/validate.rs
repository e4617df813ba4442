//! From a positioned YAML tree to a resolved [`Spec`]: every rule of `berth.yaml` v1 checked,
//! every problem collected (not only the first), every default filled in.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::diag::{Diagnostic, Severity};
use super::duration::Duration;
use super::model::*;
use super::rules;
use crate::yaml::{Node, NodeKind, Pos, Scalar, ScalarStyle};

/// Largest configuration file `config.file` may name.
pub const MAX_CONFIG_FILE_SIZE: u64 = 512 * 1024;

/// Top-level fields, in the documented order.
pub const TOP_FIELDS: &[&str] = &[
    "apiVersion",
    "name",
    "description",
    "workload",
    "replicas",
    "image",
    "command",
    "args",
    "ports",
    "health",
    "shutdown",
    "env",
    "resources",
    "volumes",
    "config",
    "scheduling",
    "host",
    "security",
    "metrics",
    "build",
    "systemd",
    "windows",
];

const DURATION_EXPECTED: &str = "a duration such as 500ms, 20s or 1m30s";
const QUANTITY_EXPECTED: &str =
    "a Kubernetes quantity such as 50m, 0.5 or 2 (cpu), 64Mi or 1Gi (memory)";
const LABEL_EXPECTED: &str = "a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit";

/// Collects diagnostics for one file.
pub(crate) struct Cx<'a> {
    file: &'a str,
    pub(crate) diags: Vec<Diagnostic>,
    /// Errors found after the report was full.
    pub(crate) dropped_errors: usize,
}

/// At most this many diagnostics are reported for one file.
pub const MAX_DIAGNOSTICS: usize = 100;

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The fields of one mapping, unknown and duplicate keys already reported.
struct Fields<'n> {
    pos: Pos,
    found: Vec<(&'static str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn empty(pos: Pos) -> Self {
        Fields {
            pos,
            found: Vec::new(),
        }
    }

    /// The value of a field, `None` when absent or null.
    fn get(&self, name: &str) -> Option<&'n Node> {
        self.found
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
            .filter(|v| !v.is_null())
    }

    /// The value of a field even when it is null.
    fn raw(&self, name: &str) -> Option<&'n Node> {
        self.found
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
    }

    /// The key node of a field, when present (even with a null value).
    fn key(&self, name: &str) -> Option<&'n Node> {
        self.found
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, k, _)| *k)
    }
}

impl<'a> Cx<'a> {
    pub(crate) fn new(file: &'a str) -> Self {
        Cx {
            file,
            diags: Vec::new(),
            dropped_errors: 0,
        }
    }

    /// True once [`MAX_DIAGNOSTICS`] problems are collected: later ones are only counted, and
    /// no suggestions are computed for them (an input of 100 000 typos must stay fast).
    fn full(&self) -> bool {
        self.diags.len() >= MAX_DIAGNOSTICS
    }

    /// A did-you-mean candidate, unless the report is already full.
    fn suggest<'c>(&self, input: &str, candidates: &[&'c str]) -> Option<&'c str> {
        if self.full() {
            None
        } else {
            rules::suggest(input, candidates)
        }
    }

    fn push(
        &mut self,
        severity: Severity,
        pos: Pos,
        message: String,
        expected: Option<String>,
        hint: Option<String>,
    ) {
        if self.full() {
            if severity == Severity::Error {
                self.dropped_errors += 1;
            }
            return;
        }
        self.diags.push(Diagnostic {
            severity,
            file: self.file.to_owned(),
            line: pos.line,
            column: pos.column,
            message,
            expected,
            hint,
        });
    }

    pub(crate) fn err(
        &mut self,
        pos: Pos,
        message: impl Into<String>,
        expected: &str,
        hint: Option<String>,
    ) {
        self.push(Severity::Error, pos, message.into(), opt(expected), hint);
    }

    fn warn(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Warning, pos, message.into(), None, hint);
    }

    fn note(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Note, pos, message.into(), None, hint);
    }

    fn type_err(&mut self, node: &Node, path: &str, kind: &str, expected: &str) {
        let hint = match (&node.kind, node.scalar()) {
            (
                NodeKind::Scalar {
                    style: ScalarStyle::Quoted,
                    text,
                },
                _,
            ) if kind != "a string"
                && !matches!(crate::yaml::resolve_plain(text), Scalar::Str(_)) =>
            {
                Some(format!("remove the quotes: {text}"))
            }
            (
                NodeKind::Scalar { text, .. },
                Some(Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_)),
            ) if kind == "a string" => Some(format!("quote it: \"{text}\"")),
            (NodeKind::Scalar { text, .. }, Some(Scalar::Str(_)))
                if kind == "true or false"
                    && matches!(
                        text.to_ascii_lowercase().as_str(),
                        "yes" | "no" | "on" | "off" | "y" | "n"
                    ) =>
            {
                Some("YAML 1.2 reads yes/no/on/off as strings: write true or false".to_owned())
            }
            _ => None,
        };
        self.err(
            node.pos,
            format!("{path}: expected {kind}, found {}", node.describe()),
            expected,
            hint,
        );
    }

    /// Checks that `node` is a mapping with only `known` keys. A null node is an empty mapping.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&'static str],
    ) -> Option<Fields<'n>> {
        if node.is_null() {
            return Some(Fields::empty(node.pos));
        }
        let NodeKind::Map(entries) = &node.kind else {
            let what = if path.is_empty() {
                "the description"
            } else {
                path
            };
            self.err(
                node.pos,
                format!("{what}: expected a mapping, found {}", node.describe()),
                &format!("a mapping with the fields {}", known.join(", ")),
                None,
            );
            return None;
        };
        let mut fields = Fields::empty(node.pos);
        for e in entries {
            let Some(key) = self.key_text(&e.key, path) else {
                continue;
            };
            match known.iter().find(|k| **k == key) {
                Some(name) => {
                    if let Some((_, first, _)) = fields.found.iter().find(|(n, _, _)| n == name) {
                        let line = first.pos.line;
                        self.err(
                            e.key.pos,
                            format!("duplicate field '{key}'"),
                            "each field once",
                            Some(format!("'{key}' is already set on line {line}")),
                        );
                    } else {
                        fields.found.push((name, &e.key, &e.value));
                    }
                }
                None => {
                    let message = match self.suggest(key, known) {
                        Some(s) => format!("unknown field '{key}', did you mean '{s}'?"),
                        None => format!("unknown field '{key}'"),
                    };
                    let expected = if path.is_empty() {
                        format!("a top-level field: {}", known.join(", "))
                    } else {
                        format!("a field of {path}: {}", known.join(", "))
                    };
                    self.err(e.key.pos, message, &expected, None);
                }
            }
        }
        Some(fields)
    }

    fn key_text<'n>(&mut self, key: &'n Node, path: &str) -> Option<&'n str> {
        match &key.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => {
                let what = if path.is_empty() {
                    "the description"
                } else {
                    path
                };
                self.err(
                    key.pos,
                    format!(
                        "{what}: a key must be a plain string, found {}",
                        key.describe()
                    ),
                    "",
                    None,
                );
                None
            }
        }
    }

    /// A mapping with free keys (env, nodeSelector): `(key node, key text, value)`, duplicates
    /// reported.
    fn entries<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        expected: &str,
    ) -> Vec<(&'n Node, &'n str, &'n Node)> {
        if node.is_null() {
            return Vec::new();
        }
        let NodeKind::Map(entries) = &node.kind else {
            self.type_err(node, path, "a mapping", expected);
            return Vec::new();
        };
        let mut out: Vec<(&Node, &str, &Node)> = Vec::new();
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for e in entries {
            let Some(key) = self.key_text(&e.key, path) else {
                continue;
            };
            if let Some(first) = seen.get(key) {
                let line = first.line;
                self.err(
                    e.key.pos,
                    format!("{path}: duplicate key '{key}'"),
                    "each key once",
                    Some(format!("'{key}' is already set on line {line}")),
                );
                continue;
            }
            seen.insert(key, e.key.pos);
            out.push((&e.key, key, &e.value));
        }
        out
    }

    fn required<'n>(
        &mut self,
        f: &Fields<'n>,
        name: &str,
        path: &str,
        expected: &str,
    ) -> Option<&'n Node> {
        let value = f.get(name);
        if value.is_none() {
            let full = join(path, name);
            match f.key(name) {
                Some(key) => self.err(
                    key.pos,
                    format!("{full}: a value is required"),
                    expected,
                    None,
                ),
                None => {
                    let within = if path.is_empty() {
                        String::new()
                    } else {
                        format!(" in {path}")
                    };
                    self.err(
                        f.pos,
                        format!("missing required field '{name}'{within}"),
                        expected,
                        None,
                    )
                }
            }
        }
        value
    }

    /// A string: quoted, a block, or a plain scalar that is not a number, boolean or null.
    fn string(&mut self, node: &Node, path: &str, expected: &str) -> Option<String> {
        match node.scalar() {
            Some(Scalar::Str(s)) => Some(s.to_owned()),
            _ => {
                self.type_err(node, path, "a string", expected);
                None
            }
        }
    }

    /// Any scalar's text as written (`8080`, `true` and `1.95` are kept as text).
    fn text(&mut self, node: &Node, path: &str, expected: &str) -> Option<String> {
        match node.scalar() {
            Some(Scalar::Null) | None => {
                self.type_err(node, path, "a string", expected);
                None
            }
            Some(_) => node.as_scalar().map(str::to_owned),
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node.scalar() {
            Some(Scalar::Bool(b)) => Some(b),
            _ => {
                self.type_err(node, path, "true or false", "true or false");
                None
            }
        }
    }

    fn integer(
        &mut self,
        node: &Node,
        path: &str,
        min: i128,
        max: i128,
        expected: &str,
    ) -> Option<i128> {
        match node.scalar() {
            Some(Scalar::Int(i)) if (min..=max).contains(&i) => Some(i),
            Some(Scalar::Int(i)) => {
                self.err(
                    node.pos,
                    format!("{path}: {i} is out of range"),
                    expected,
                    None,
                );
                None
            }
            _ => {
                self.type_err(node, path, "an integer", expected);
                None
            }
        }
    }

    fn port(&mut self, node: &Node, path: &str) -> Option<u16> {
        self.integer(
            node,
            path,
            rules::PORT_MIN.into(),
            rules::PORT_MAX.into(),
            "a port number from 1 to 65535",
        )
        .and_then(|p| u16::try_from(p).ok())
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let text = match node.scalar() {
            Some(Scalar::Str(s)) => s.to_owned(),
            Some(Scalar::Int(0)) => return Some(Duration::ZERO),
            Some(Scalar::Int(i)) => {
                self.err(
                    node.pos,
                    format!("{path}: invalid duration \"{i}\": a unit is missing"),
                    DURATION_EXPECTED,
                    Some(format!("write {i}s for {i} seconds")),
                );
                return None;
            }
            _ => {
                self.type_err(node, path, "a duration", DURATION_EXPECTED);
                return None;
            }
        };
        match Duration::parse(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                let full = e.to_string();
                let what = full.split(" (expected").next().unwrap_or(&full).to_owned();
                let hint = text
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| format!("write {text}s for {text} seconds"))
                    .or_else(|| {
                        text.strip_suffix("sec")
                            .or_else(|| text.strip_suffix("secs"))
                            .or_else(|| text.strip_suffix("min"))
                            .map(|n| {
                                format!(
                                    "use the units ns, us, ms, s, m, h: e.g. {}s or {}m",
                                    n.trim(),
                                    n.trim()
                                )
                            })
                    });
                self.err(node.pos, format!("{path}: {what}"), DURATION_EXPECTED, hint);
                None
            }
        }
    }

    fn seq<'n>(&mut self, node: &'n Node, path: &str, expected: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.type_err(node, path, "a list", expected);
                None
            }
        }
    }

    fn choice(
        &mut self,
        node: &Node,
        path: &str,
        allowed: &[&'static str],
    ) -> Option<&'static str> {
        let text = match node.scalar() {
            Some(Scalar::Str(s)) => s,
            _ => {
                let expected = format!("one of {}", allowed.join(", "));
                self.type_err(node, path, "a string", &expected);
                return None;
            }
        };
        if let Some(a) = allowed.iter().find(|a| **a == text) {
            return Some(a);
        }
        let hint = self
            .suggest(text, allowed)
            .map(|s| format!("did you mean '{s}'?"));
        self.err(
            node.pos,
            format!("{path}: \"{text}\" is not one of {}", allowed.join(", ")),
            &format!("one of {}", allowed.join(", ")),
            hint,
        );
        None
    }

    /// A list of scalars (strict strings unless `lenient`), with their positions.
    fn string_list(
        &mut self,
        node: &Node,
        path: &str,
        lenient: bool,
        expected: &str,
    ) -> Vec<(String, Pos)> {
        let Some(items) = self.seq(node, path, expected) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let v = if lenient {
                self.text(item, &p, expected)
            } else {
                self.string(item, &p, expected)
            };
            if let Some(v) = v {
                out.push((v, item.pos));
            }
        }
        out
    }
}

/// Resolves a parsed description. Returns the spec only when there is no error; the diagnostics
/// (errors and warnings) are left in `cx`.
pub(crate) fn resolve(cx: &mut Cx<'_>, root: &Node, base_dir: &Path) -> Option<Spec> {
    let top = cx.fields(root, "", TOP_FIELDS)?;

    let api = cx.required(
        &top,
        "apiVersion",
        "",
        &format!("apiVersion: {API_VERSION}"),
    );
    if let Some(node) = api
        && let Some(v) = cx.string(node, "apiVersion", API_VERSION)
        && v != API_VERSION
    {
        cx.err(
            node.pos,
            format!("apiVersion: unsupported version \"{v}\""),
            API_VERSION,
            Some(format!("this berth reads {API_VERSION}")),
        );
    }

    let name_expected = "a DNS-1123 label of 1 to 53 characters (a-z, 0-9, '-'), e.g. echo-daemon";
    let name = cx
        .required(&top, "name", "", name_expected)
        .and_then(|node| {
            let v = cx.string(node, "name", name_expected)?;
            if v.len() > 53 {
                cx.err(
                    node.pos,
                    format!(
                        "name: \"{v}\" is {} characters long, at most 53 are allowed",
                        v.len()
                    ),
                    name_expected,
                    Some("Helm release names are limited to 53 characters".into()),
                );
                return None;
            }
            if !rules::is_dns1123_label(&v, 53) {
                let lower = v.to_ascii_lowercase().replace(['_', '.', ' '], "-");
                let hint = (lower != v && rules::is_dns1123_label(&lower, 53))
                    .then(|| format!("did you mean '{lower}'?"));
                cx.err(
                    node.pos,
                    format!("name: \"{v}\" is not a valid name"),
                    name_expected,
                    hint,
                );
                return None;
            }
            Some(v)
        });

    let description = top
        .get("description")
        .and_then(|n| cx.text(n, "description", "free text"))
        .unwrap_or_default();

    let workload = cx
        .required(&top, "workload", "", "Deployment or DaemonSet")
        .and_then(|n| cx.choice(n, "workload", rules::WORKLOADS))
        .map(|w| {
            if w == "DaemonSet" {
                WorkloadKind::DaemonSet
            } else {
                WorkloadKind::Deployment
            }
        });
    let daemonset = workload == Some(WorkloadKind::DaemonSet);
    let deployment = workload == Some(WorkloadKind::Deployment);

    let mut replicas = if daemonset { 0 } else { 2 };
    if let Some(node) = top.get("replicas")
        && let Some(r) = cx.integer(
            node,
            "replicas",
            0,
            i32::MAX as i128,
            "a non-negative integer",
        )
    {
        if daemonset {
            cx.err(
                node.pos,
                "replicas: a DaemonSet has no replicas, it runs one pod on every matching node",
                "no replicas field with workload: DaemonSet",
                Some("remove replicas, or use workload: Deployment".into()),
            );
        } else {
            replicas = r as u32;
        }
    }

    let image_expected = "repository[:tag][@sha256:<64 hex>], e.g. ghcr.io/acme/echo-daemon:0.1.0";
    let image = cx
        .required(&top, "image", "", image_expected)
        .and_then(|node| {
            let v = cx.string(node, "image", image_expected)?;
            match rules::parse_image(&v) {
                Ok(i) => Some(i),
                Err(e) => {
                    cx.err(
                        node.pos,
                        format!("image: {}", e.message),
                        image_expected,
                        e.hint,
                    );
                    None
                }
            }
        });

    let command: Vec<String> = top
        .get("command")
        .map(|n| cx.string_list(n, "command", true, "a list of strings"))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let args: Vec<String> = top
        .get("args")
        .map(|n| cx.string_list(n, "args", true, "a list of strings"))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s)
        .collect();

    // health before ports: port numbers must differ from the admin port.
    let mut health = Health {
        port: berth_sidecar::contract::DEFAULT_ADMIN_PORT,
        startup_timeout: Duration::from_secs(60),
    };
    let mut health_port_pos = None;
    if let Some(h) = top
        .get("health")
        .and_then(|n| cx.fields(n, "health", &["port", "startupTimeout"]))
    {
        if let Some(node) = h.get("port")
            && let Some(p) = cx.port(node, "health.port")
        {
            health.port = p;
            health_port_pos = Some(node.pos);
        }
        if let Some(node) = h.get("startupTimeout")
            && let Some(d) = cx.duration(node, "health.startupTimeout")
        {
            if d.is_zero() {
                cx.err(
                    node.pos,
                    "health.startupTimeout: must be longer than 0s",
                    DURATION_EXPECTED,
                    None,
                );
            } else {
                health.startup_timeout = d;
            }
        }
    }

    let (ports, port_positions) = resolve_ports(cx, &top, health.port, health_port_pos);

    // The runtime's own defaults, so a description without `shutdown` and a daemon started
    // without the environment agree.
    let mut shutdown = Shutdown {
        pre_stop_delay: berth_sidecar::contract::DEFAULT_PRE_STOP_DELAY.into(),
        drain_timeout: berth_sidecar::contract::DEFAULT_DRAIN_TIMEOUT.into(),
    };
    if let Some(s) = top
        .get("shutdown")
        .and_then(|n| cx.fields(n, "shutdown", &["preStopDelay", "drainTimeout"]))
    {
        if let Some(d) = s
            .get("preStopDelay")
            .and_then(|n| cx.duration(n, "shutdown.preStopDelay"))
        {
            shutdown.pre_stop_delay = d;
        }
        if let Some(node) = s.get("drainTimeout")
            && let Some(d) = cx.duration(node, "shutdown.drainTimeout")
        {
            if d.is_zero() {
                cx.err(
                    node.pos,
                    "shutdown.drainTimeout: must be longer than 0s",
                    DURATION_EXPECTED,
                    Some("in-flight work needs time to finish; 20s is the default".into()),
                );
            } else {
                shutdown.drain_timeout = d;
            }
        }
    }

    let env = top
        .get("env")
        .map(|n| resolve_env(cx, n))
        .unwrap_or_default();
    let resources = match top.get("resources") {
        Some(n) => {
            let before = (cx.diags.len(), cx.dropped_errors);
            let resources = resolve_resources(cx, n);
            // Only when nothing inside was wrong: a rejected value is reported as such.
            if resources.is_empty() && (cx.diags.len(), cx.dropped_errors) == before {
                cx.warn(
                    n.pos,
                    "resources sets no requests and no limits: the pods get the BestEffort QoS class, the first evicted when a node runs short of memory",
                    Some("set requests (and limits) to what the daemon needs, or omit resources for berth's starting values".into()),
                );
            }
            resources
        }
        None => {
            let (requests, limits) = Resources::starting_values_text();
            cx.note(
                root.pos,
                format!(
                    "resources omitted: using berth's starting values, requests {requests} and limits {limits}"
                ),
                Some("measure the daemon and set resources to its needs; `resources: {}` sets none".into()),
            );
            Resources::starting_values()
        }
    };
    let mut mounts: HashMap<String, Pos> = HashMap::new();
    let volumes = top
        .get("volumes")
        .map(|n| resolve_volumes(cx, n, deployment, &mut mounts))
        .unwrap_or_default();
    let config = top
        .get("config")
        .and_then(|n| resolve_config(cx, n, name.as_deref(), base_dir, &mut mounts));
    let scheduling = resolve_scheduling(cx, top.get("scheduling"), deployment);

    let mut host = Host::default();
    if let Some(h) = top
        .get("host")
        .and_then(|n| cx.fields(n, "host", &["network", "pid"]))
    {
        if let Some(node) = h.get("network") {
            host.network = cx.boolean(node, "host.network").unwrap_or(false);
            if host.network && deployment {
                cx.warn(
                    node.pos,
                    "host.network on a Deployment: replicas on the same node compete for the same host ports",
                    Some("host networking suits node agents (workload: DaemonSet)".into()),
                );
            }
        }
        if let Some(node) = h.get("pid") {
            host.pid = cx.boolean(node, "host.pid").unwrap_or(false);
            if host.pid && deployment {
                cx.warn(
                    node.pos,
                    "host.pid on a Deployment: the daemon sees and can signal every process of the node",
                    Some("the host PID namespace suits node agents (workload: DaemonSet)".into()),
                );
            }
        }
    }

    let security = resolve_security(cx, top.get("security"));

    let mut metrics = Metrics { enabled: true };
    if let Some(m) = top
        .get("metrics")
        .and_then(|n| cx.fields(n, "metrics", &["enabled"]))
        && let Some(b) = m
            .get("enabled")
            .and_then(|n| cx.boolean(n, "metrics.enabled"))
    {
        metrics.enabled = b;
    }

    let build = resolve_build(cx, top.get("build"), name.as_deref());
    let systemd = resolve_systemd(cx, top.get("systemd"));
    let windows = resolve_windows(cx, top.get("windows"), name.as_deref(), &host, &volumes);

    // Cross-field: a port below 1024 needs root or NET_BIND_SERVICE.
    let can_bind_low = security.run_as_user == 0
        || security
            .capabilities
            .iter()
            .any(|c| c == "NET_BIND_SERVICE");
    if !can_bind_low {
        for (port, (i, pos)) in ports.iter().zip(&port_positions) {
            if port.port < 1024 {
                cx.warn(
                    *pos,
                    format!(
                        "ports[{i}].port: {} is a privileged port; a non-root daemon cannot bind it",
                        port.port
                    ),
                    Some("add NET_BIND_SERVICE to security.capabilities, or listen on a port from 1024 up".into()),
                );
            }
        }
    }

    if cx.diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Spec {
        name: name?,
        description,
        workload: workload?,
        replicas,
        image: image?,
        command,
        args,
        ports,
        health,
        shutdown,
        env,
        resources,
        volumes,
        config,
        scheduling,
        host,
        security,
        metrics,
        build,
        systemd,
        windows,
    })
}

fn resolve_ports(
    cx: &mut Cx<'_>,
    top: &Fields<'_>,
    health_port: u16,
    health_port_pos: Option<Pos>,
) -> (Vec<Port>, Vec<(usize, Pos)>) {
    let mut positions = Vec::new();
    let Some(node) = top.get("ports") else {
        return (Vec::new(), positions);
    };
    let Some(items) = cx.seq(
        node,
        "ports",
        "a list of ports, e.g. [{name: http, port: 8080}]",
    ) else {
        return (Vec::new(), positions);
    };
    let mut ports = Vec::new();
    let mut names: HashMap<String, Pos> = HashMap::new();
    let mut numbers: HashMap<(u16, &str), Pos> = HashMap::new();
    let name_expected =
        "an IANA service name: 1 to 15 of a-z, 0-9 and '-', with at least one letter";
    for (i, item) in items.iter().enumerate() {
        let path = format!("ports[{i}]");
        let Some(f) = cx.fields(item, &path, &["name", "port", "protocol", "expose"]) else {
            continue;
        };
        let name = cx.required(&f, "name", &path, name_expected).and_then(|n| {
            let v = cx.string(n, &format!("{path}.name"), name_expected)?;
            if !rules::is_iana_svc_name(&v) {
                let hint =
                    (v.len() > 15).then(|| format!("\"{v}\" is {} characters long", v.len()));
                cx.err(
                    n.pos,
                    format!("{path}.name: \"{v}\" is not a valid port name"),
                    name_expected,
                    hint,
                );
                return None;
            }
            if let Some(first) = names.get(&v) {
                cx.err(
                    n.pos,
                    format!("{path}.name: duplicate port name \"{v}\""),
                    "a name used by no other port",
                    Some(format!("\"{v}\" is already used on line {}", first.line)),
                );
                return None;
            }
            names.insert(v.clone(), n.pos);
            Some(v)
        });
        let port_node = cx.required(&f, "port", &path, "a port number from 1 to 65535");
        let port = port_node.and_then(|n| cx.port(n, &format!("{path}.port")));
        let protocol = match f.get("protocol") {
            Some(n) => cx
                .choice(n, &format!("{path}.protocol"), rules::PROTOCOLS)
                .map(|p| {
                    if p == "UDP" {
                        Protocol::Udp
                    } else {
                        Protocol::Tcp
                    }
                }),
            None => Some(Protocol::Tcp),
        };
        let expose = f
            .get("expose")
            .map(|n| cx.boolean(n, &format!("{path}.expose")))
            .unwrap_or(Some(true));
        if let (Some(p), Some(proto), Some(pn)) = (port, protocol, port_node) {
            if p == health_port && proto == Protocol::Tcp {
                let hint = match health_port_pos {
                    Some(hp) => format!("health.port is set to {p} on line {}", hp.line),
                    None => format!(
                        "{p} is the default health.port; pick another port or set health.port"
                    ),
                };
                cx.err(
                    pn.pos,
                    format!("{path}.port: {p} is the admin port (health.port)"),
                    "a port different from health.port and every other port",
                    Some(hint),
                );
            } else if let Some(first) = numbers.get(&(p, proto.as_str())) {
                cx.err(
                    pn.pos,
                    format!("{path}.port: duplicate port {p}/{}", proto.as_str()),
                    "a port different from health.port and every other port",
                    Some(format!("port {p} is already used on line {}", first.line)),
                );
            } else {
                numbers.insert((p, proto.as_str()), pn.pos);
            }
        }
        if let (Some(name), Some(port), Some(protocol), Some(expose), Some(pn)) =
            (name, port, protocol, expose, port_node)
        {
            ports.push(Port {
                name,
                port,
                protocol,
                expose,
            });
            positions.push((i, pn.pos));
        }
    }
    (ports, positions)
}

fn resolve_env(cx: &mut Cx<'_>, node: &Node) -> Vec<EnvVar> {
    let expected = "a mapping NAME: value, where value is a string or one of {secret, key}, {configMap, key}, {field}";
    let mut out = Vec::new();
    for (key, name, value) in cx.entries(node, "env", expected) {
        let path = format!("env.{name}");
        if !rules::is_env_name(name) {
            cx.err(
                key.pos,
                format!("env: \"{name}\" is not a valid variable name"),
                "a C identifier: letters, digits and '_', not starting with a digit",
                None,
            );
            continue;
        }
        if name.starts_with("BERTH_") {
            cx.err(
                key.pos,
                format!("env: {name} is reserved for berth"),
                "a name that does not start with BERTH_",
                Some("berth sets BERTH_* from health, shutdown, config and metrics: set those fields instead".into()),
            );
            continue;
        }
        let source = match &value.kind {
            NodeKind::Scalar { .. } if value.is_null() => {
                cx.err(
                    key.pos,
                    format!("{path}: a value is required"),
                    expected,
                    Some("write \"\" for an empty value".into()),
                );
                None
            }
            NodeKind::Scalar { text, .. } => Some(EnvSource::Value(text.clone())),
            NodeKind::Seq(_) => {
                cx.type_err(value, &path, "a string or a mapping", expected);
                None
            }
            NodeKind::Map(_) => resolve_env_ref(cx, value, &path),
        };
        if let Some(value) = source {
            out.push(EnvVar {
                name: name.to_owned(),
                value,
            });
        }
    }
    out
}

fn resolve_env_ref(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<EnvSource> {
    let f = cx.fields(node, path, &["secret", "configMap", "key", "field"])?;
    let kinds: Vec<&str> = ["secret", "configMap", "field"]
        .into_iter()
        .filter(|k| f.key(k).is_some())
        .collect();
    let one_of = "exactly one of {secret: NAME, key: KEY}, {configMap: NAME, key: KEY} or {field: FIELD_PATH}";
    if kinds.len() != 1 {
        let message = if kinds.is_empty() {
            format!("{path}: no value source")
        } else {
            format!("{path}: {} cannot be combined", kinds.join(" and "))
        };
        let pos = kinds
            .get(1)
            .and_then(|k| f.key(k))
            .map_or(node.pos, |k| k.pos);
        cx.err(pos, message, one_of, None);
        return None;
    }
    let kind = kinds[0];
    if kind == "field" {
        if let Some(k) = f.key("key") {
            cx.err(
                k.pos,
                format!("{path}.key: key is only used with secret or configMap"),
                one_of,
                None,
            );
        }
        let expected = format!(
            "a downward-API field path: {}",
            rules::FIELD_PATHS.join(", ")
        );
        let n = cx.required(&f, "field", path, &expected)?;
        let v = cx.string(n, &format!("{path}.field"), &expected)?;
        if !rules::is_field_path(&v) {
            let hint = cx
                .suggest(&v, rules::FIELD_PATHS)
                .map(|s| format!("did you mean '{s}'?"));
            cx.err(
                n.pos,
                format!(
                    "{path}.field: \"{v}\" is not a field path an environment variable can use"
                ),
                &expected,
                hint,
            );
            return None;
        }
        return Some(EnvSource::Field { path: v });
    }
    let name_expected = format!(
        "the name of a {} (a DNS-1123 subdomain)",
        if kind == "secret" {
            "Secret"
        } else {
            "ConfigMap"
        }
    );
    let obj = cx.required(&f, kind, path, &name_expected).and_then(|n| {
        let v = cx.string(n, &format!("{path}.{kind}"), &name_expected)?;
        if !rules::is_dns1123_subdomain(&v) {
            cx.err(
                n.pos,
                format!("{path}.{kind}: \"{v}\" is not a valid name"),
                &name_expected,
                None,
            );
            return None;
        }
        Some(v)
    });
    let key_expected = "a key of 1 to 253 of a-z, A-Z, 0-9, '-', '_' and '.'";
    let key = cx.required(&f, "key", path, key_expected).and_then(|n| {
        let v = cx.text(n, &format!("{path}.key"), key_expected)?;
        if !rules::is_config_key(&v) {
            cx.err(
                n.pos,
                format!("{path}.key: \"{v}\" is not a valid key"),
                key_expected,
                None,
            );
            return None;
        }
        Some(v)
    });
    let (name, key) = (obj?, key?);
    Some(if kind == "secret" {
        EnvSource::Secret { name, key }
    } else {
        EnvSource::ConfigMap { name, key }
    })
}

fn resolve_resources(cx: &mut Cx<'_>, node: &Node) -> Resources {
    let mut out = Resources::default();
    let Some(f) = cx.fields(node, "resources", &["requests", "limits"]) else {
        return out;
    };
    let mut parsed: BTreeMap<(&str, &str), (f64, String)> = BTreeMap::new();
    for part in ["requests", "limits"] {
        let path = format!("resources.{part}");
        let Some(sub) = f
            .get(part)
            .and_then(|n| cx.fields(n, &path, &["cpu", "memory"]))
        else {
            continue;
        };
        for res in ["cpu", "memory"] {
            let Some(n) = sub.get(res) else { continue };
            let p = format!("{path}.{res}");
            let Some(text) = cx.text(n, &p, QUANTITY_EXPECTED) else {
                continue;
            };
            let Some(value) = rules::parse_quantity(&text) else {
                cx.err(
                    n.pos,
                    format!("{p}: \"{text}\" is not a Kubernetes quantity"),
                    QUANTITY_EXPECTED,
                    None,
                );
                continue;
            };
            if res == "memory" && value.fract() != 0.0 {
                let hint = text
                    .strip_suffix('m')
                    .map(|n| format!("did you mean {n}Mi?"));
                cx.err(
                    n.pos,
                    format!("{p}: \"{text}\" is a fraction of a byte"),
                    "a whole number of bytes, e.g. 64Mi",
                    hint,
                );
                continue;
            }
            parsed.insert((part, res), (value, text.clone()));
            let list = if part == "requests" {
                &mut out.requests
            } else {
                &mut out.limits
            };
            if res == "cpu" {
                list.cpu = Some(text);
            } else {
                list.memory = Some(text);
            }
        }
    }
    for res in ["cpu", "memory"] {
        if let (Some((req, req_text)), Some((lim, lim_text))) =
            (parsed.get(&("requests", res)), parsed.get(&("limits", res)))
            && lim < req
        {
            let pos = f
                .get("limits")
                .and_then(|l| match &l.kind {
                    NodeKind::Map(entries) => entries
                        .iter()
                        .find(|e| e.key.as_scalar() == Some(res))
                        .map(|e| e.value.pos),
                    _ => None,
                })
                .unwrap_or(f.pos);
            cx.err(
                pos,
                format!(
                    "resources.limits.{res}: the limit {lim_text} is below the request {req_text}"
                ),
                &format!("a limit of at least {req_text}"),
                Some("raise the limit or lower the request".into()),
            );
        }
    }
    out
}

const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/root",
    "/var/lib/kubelet",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
];

/// The name of the pod volume that carries the `config:` file.
const CONFIG_VOLUME: &str = "config";

fn check_mount(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    mounts: &mut HashMap<String, Pos>,
) -> Option<String> {
    let expected = "an absolute path such as /var/lib/NAME (no '.', '..' or trailing '/')";
    let v = cx.string(node, path, expected)?;
    if !rules::is_clean_absolute_path(&v, false) {
        cx.err(
            node.pos,
            format!("{path}: \"{v}\" is not an absolute path"),
            expected,
            None,
        );
        return None;
    }
    if let Some(first) = mounts.get(&v) {
        cx.err(
            node.pos,
            format!("{path}: \"{v}\" is already mounted"),
            "a mount path used once",
            Some(format!(
                "\"{v}\" is already a mount path on line {}",
                first.line
            )),
        );
        return None;
    }
    mounts.insert(v.clone(), node.pos);
    Some(v)
}

fn resolve_volumes(
    cx: &mut Cx<'_>,
    node: &Node,
    deployment: bool,
    mounts: &mut HashMap<String, Pos>,
) -> Vec<Volume> {
    let Some(items) = cx.seq(node, "volumes", "a list of volumes") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut names: HashMap<String, Pos> = HashMap::new();
    let sources = ["hostPath", "emptyDir", "secret", "configMap"];
    let one_of = "exactly one of hostPath: PATH, emptyDir: {}, secret: NAME, configMap: NAME";
    for (i, item) in items.iter().enumerate() {
        let path = format!("volumes[{i}]");
        let Some(f) = cx.fields(
            item,
            &path,
            &[
                "name",
                "hostPath",
                "emptyDir",
                "secret",
                "configMap",
                "mountPath",
                "readOnly",
            ],
        ) else {
            continue;
        };
        let name = cx
            .required(&f, "name", &path, LABEL_EXPECTED)
            .and_then(|n| {
                let v = cx.string(n, &format!("{path}.name"), LABEL_EXPECTED)?;
                if !rules::is_dns1123_label(&v, 63) {
                    cx.err(
                        n.pos,
                        format!("{path}.name: \"{v}\" is not a valid volume name"),
                        LABEL_EXPECTED,
                        None,
                    );
                    return None;
                }
                if v == CONFIG_VOLUME {
                    cx.err(
                        n.pos,
                        format!("{path}.name: \"{v}\" is reserved"),
                        "a volume name other than \"config\"",
                        Some("berth names the volume of the `config:` file \"config\"; pick another name".into()),
                    );
                    return None;
                }
                if let Some(first) = names.get(&v) {
                    cx.err(
                        n.pos,
                        format!("{path}.name: duplicate volume name \"{v}\""),
                        "a name used by no other volume",
                        Some(format!("\"{v}\" is already used on line {}", first.line)),
                    );
                    return None;
                }
                names.insert(v.clone(), n.pos);
                Some(v)
            });
        let present: Vec<&str> = sources.into_iter().filter(|s| f.key(s).is_some()).collect();
        let source = if present.len() != 1 {
            let message = if present.is_empty() {
                format!("{path}: no volume source")
            } else {
                format!("{path}: {} cannot be combined", present.join(" and "))
            };
            let pos = present
                .get(1)
                .and_then(|k| f.key(k))
                .map_or(f.pos, |k| k.pos);
            cx.err(pos, message, one_of, None);
            None
        } else {
            let kind = present[0];
            let p = format!("{path}.{kind}");
            match kind {
                "emptyDir" => {
                    let n = f.raw("emptyDir");
                    match n {
                        Some(n) if n.is_null() || matches!(&n.kind, NodeKind::Map(e) if e.is_empty()) => Some(VolumeSource::EmptyDir),
                        Some(n) => {
                            cx.err(n.pos, format!("{p}: expected {{}}, found {}", n.describe()), "emptyDir: {}", None);
                            None
                        }
                        None => None,
                    }
                }
                "hostPath" => cx.required(&f, "hostPath", &path, "an absolute path on the node").and_then(|n| {
                    let v = cx.string(n, &p, "an absolute path on the node")?;
                    if !rules::is_clean_absolute_path(&v, true) {
                        cx.err(n.pos, format!("{p}: \"{v}\" is not an absolute path"), "an absolute path on the node", None);
                        return None;
                    }
                    if deployment {
                        cx.warn(
                            n.pos,
                            format!("{p} on a Deployment: each pod sees whatever its node has at {v}"),
                            Some("hostPath suits node agents (workload: DaemonSet); a Deployment usually wants emptyDir or a Secret/ConfigMap".into()),
                        );
                    }
                    let read_only = f.get("readOnly").and_then(|r| r.scalar()) == Some(Scalar::Bool(true));
                    // Monitoring agents read /proc and /sys of the node: fine when read-only.
                    let read_only_ok = read_only && matches!(v.as_str(), "/proc" | "/sys");
                    if SENSITIVE_HOST_PATHS.contains(&v.as_str()) && !read_only_ok {
                        cx.warn(
                            n.pos,
                            format!("{p}: mounting {v} gives the daemon control over the node"),
                            Some("mount the narrowest path the daemon needs, read-only".into()),
                        );
                    }
                    Some(VolumeSource::HostPath(v))
                }),
                _ => {
                    let expected = format!("the name of a {} (a DNS-1123 subdomain)", if kind == "secret" { "Secret" } else { "ConfigMap" });
                    cx.required(&f, kind, &path, &expected).and_then(|n| {
                        let v = cx.string(n, &p, &expected)?;
                        if !rules::is_dns1123_subdomain(&v) {
                            cx.err(n.pos, format!("{p}: \"{v}\" is not a valid name"), &expected, None);
                            return None;
                        }
                        Some(if kind == "secret" { VolumeSource::Secret(v) } else { VolumeSource::ConfigMap(v) })
                    })
                }
            }
        };
        let mount_path = cx
            .required(&f, "mountPath", &path, "an absolute path in the container")
            .and_then(|n| check_mount(cx, n, &format!("{path}.mountPath"), mounts));
        let read_only = f
            .get("readOnly")
            .map(|n| cx.boolean(n, &format!("{path}.readOnly")))
            .unwrap_or(Some(false));
        if let (Some(name), Some(source), Some(mount_path), Some(read_only)) =
            (name, source, mount_path, read_only)
        {
            out.push(Volume {
                name,
                source,
                mount_path,
                read_only,
            });
        }
    }
    out
}

fn resolve_config(
    cx: &mut Cx<'_>,
    node: &Node,
    name: Option<&str>,
    base_dir: &Path,
    mounts: &mut HashMap<String, Pos>,
) -> Option<ConfigFile> {
    let f = cx.fields(node, "config", &["file", "mountPath", "reload"])?;
    if f.found.is_empty() {
        return None;
    }
    let expected = "a path relative to the directory of berth.yaml, e.g. config/daemon.toml";
    let file_node = cx.required(&f, "file", "config", expected);
    let file = file_node.and_then(|n| {
        let v = cx.string(n, "config.file", expected)?;
        if v.starts_with('/') || v.contains('\\') || v.contains('\0') || v.is_empty() {
            cx.err(
                n.pos,
                format!("config.file: \"{v}\" is not a relative path"),
                expected,
                Some("the file travels with berth.yaml; use forward slashes and no leading '/'".into()),
            );
            return None;
        }
        let parts: Vec<&str> = v.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        if parts.is_empty() {
            cx.err(n.pos, format!("config.file: \"{v}\" names no file"), expected, None);
            return None;
        }
        let normalized = parts.join("/");
        let full = base_dir.join(&normalized);
        let meta = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                cx.err(
                    n.pos,
                    format!("config.file: \"{v}\" does not exist"),
                    expected,
                    Some("create the file, or fix the path (it is relative to berth.yaml)".into()),
                );
                return None;
            }
            Err(e) => {
                cx.err(n.pos, format!("config.file: cannot read \"{v}\": {e}"), expected, None);
                return None;
            }
        };
        if !meta.is_file() {
            cx.err(n.pos, format!("config.file: \"{v}\" is not a regular file"), expected, None);
            return None;
        }
        if meta.len() > MAX_CONFIG_FILE_SIZE {
            cx.err(
                n.pos,
                format!("config.file: \"{v}\" is {} bytes, more than the 512 KiB a ConfigMap entry should hold", meta.len()),
                "a configuration file of at most 512 KiB",
                None,
            );
            return None;
        }
        let bytes = match std::fs::read(&full) {
            Ok(b) => b,
            Err(e) => {
                cx.err(n.pos, format!("config.file: cannot read \"{v}\": {e}"), expected, None);
                return None;
            }
        };
        let Ok(contents) = String::from_utf8(bytes) else {
            cx.err(n.pos, format!("config.file: \"{v}\" is not UTF-8 text"), "a UTF-8 text file", None);
            return None;
        };
        let file_name = parts[parts.len() - 1].to_owned();
        Some((normalized, file_name, contents))
    });
    let mount_path = match f.get("mountPath") {
        Some(n) => check_mount(cx, n, "config.mountPath", mounts),
        None => match (&file, name) {
            (Some((_, file_name, _)), Some(name)) => {
                let p = format!("/etc/{name}/{file_name}");
                if let Some(first) = mounts.get(&p) {
                    cx.err(
                        f.pos,
                        format!("config: the default mount path \"{p}\" is already mounted"),
                        "config.mountPath set to a free path",
                        Some(format!("\"{p}\" is a mount path on line {}", first.line)),
                    );
                    None
                } else {
                    Some(p)
                }
            }
            _ => None,
        },
    };
    // The ConfigMap is mounted on the file's directory (not with subPath, so updates reach
    // the file): that directory must be neither `/` nor another volume's mount path.
    if let Some(p) = &mount_path {
        let dir = p.rsplit_once('/').map(|(d, _)| d).unwrap_or_default();
        let pos = f.get("mountPath").map(|n| n.pos).unwrap_or(f.pos);
        if dir.is_empty() {
            cx.err(
                pos,
                format!("config.mountPath: \"{p}\" is directly under /"),
                "a path in a directory of its own, e.g. /etc/NAME/FILE",
                Some(
                    "the config file's directory is mounted from a ConfigMap, and / cannot be"
                        .into(),
                ),
            );
        } else if let Some(first) = mounts.get(dir) {
            cx.err(
                pos,
                format!("config.mountPath: its directory \"{dir}\" is already a mount path"),
                "a config file in a directory no volume is mounted on",
                Some(format!(
                    "the config file's directory is mounted from a ConfigMap; \"{dir}\" is mounted on line {}",
                    first.line
                )),
            );
        }
    }
    let reload = f
        .get("reload")
        .map(|n| cx.boolean(n, "config.reload"))
        .unwrap_or(Some(false));
    let (file, file_name, contents) = file?;
    Some(ConfigFile {
        file,
        file_name,
        contents,
        mount_path: mount_path?,
        reload: reload?,
    })
}

fn resolve_scheduling(cx: &mut Cx<'_>, node: Option<&Node>, deployment: bool) -> Scheduling {
    let mut out = Scheduling {
        node_selector: BTreeMap::from([("kubernetes.io/os".to_owned(), "linux".to_owned())]),
        tolerations: Vec::new(),
        priority_class_name: String::new(),
        max_unavailable: IntOrPercent::Int(1),
    };
    let Some(node) = node else { return out };
    let Some(f) = cx.fields(
        node,
        "scheduling",
        &[
            "nodeSelector",
            "tolerations",
            "priorityClassName",
            "maxUnavailable",
        ],
    ) else {
        return out;
    };
    if let Some(n) = f.get("nodeSelector") {
        let expected = "a mapping of node label keys to values, e.g. {kubernetes.io/os: linux}";
        let mut selector = BTreeMap::new();
        for (key, k, value) in cx.entries(n, "scheduling.nodeSelector", expected) {
            let p = format!("scheduling.nodeSelector.{k}");
            if !rules::is_label_key(k) {
                cx.err(
                    key.pos,
                    format!("scheduling.nodeSelector: \"{k}\" is not a valid label key"),
                    "[prefix/]name, the name at most 63 characters",
                    None,
                );
                continue;
            }
            let Some(v) = cx.string(value, &p, "a label value (at most 63 characters)") else {
                continue;
            };
            if !rules::is_label_value(&v) {
                cx.err(
                    value.pos,
                    format!("{p}: \"{v}\" is not a valid label value"),
                    "at most 63 of A-Z, a-z, 0-9, '-', '_', '.', starting and ending alphanumeric",
                    None,
                );
                continue;
            }
            selector.insert(k.to_owned(), v);
        }
        out.node_selector = selector;
    }
    if let Some(n) = f.get("tolerations")
        && let Some(items) = cx.seq(
            n,
            "scheduling.tolerations",
            "a list of Kubernetes tolerations",
        )
    {
        for (i, item) in items.iter().enumerate() {
            if let Some(t) = resolve_toleration(cx, item, &format!("scheduling.tolerations[{i}]")) {
                out.tolerations.push(t);
            }
        }
    }
    if let Some(n) = f.get("priorityClassName") {
        let expected = "the name of a PriorityClass, e.g. system-node-critical";
        if let Some(v) = cx.string(n, "scheduling.priorityClassName", expected) {
            if !v.is_empty() && !rules::is_dns1123_subdomain(&v) {
                cx.err(
                    n.pos,
                    format!("scheduling.priorityClassName: \"{v}\" is not a valid name"),
                    expected,
                    None,
                );
            } else {
                out.priority_class_name = v;
            }
        }
    }
    if let Some(n) = f.get("maxUnavailable") {
        let expected = "a number of at least 1, or a percentage from 1% to 100%";
        let value = match n.scalar() {
            Some(Scalar::Int(i)) if (1..=i32::MAX as i128).contains(&i) => {
                Some(IntOrPercent::Int(i as u32))
            }
            Some(Scalar::Int(i)) => {
                cx.err(
                    n.pos,
                    format!("scheduling.maxUnavailable: {i} is out of range"),
                    expected,
                    (i == 0).then(|| {
                        "a rolling update with 0 unavailable pods never progresses".to_owned()
                    }),
                );
                None
            }
            Some(Scalar::Str(s)) => match s.strip_suffix('%').and_then(|p| p.parse::<u32>().ok()) {
                Some(p) if (1..=100).contains(&p) && format!("{p}%") == s => {
                    Some(IntOrPercent::Percent(format!("{p}%")))
                }
                _ => {
                    cx.err(
                        n.pos,
                        format!(
                            "scheduling.maxUnavailable: \"{s}\" is not a count or a percentage"
                        ),
                        expected,
                        None,
                    );
                    None
                }
            },
            _ => {
                cx.type_err(
                    n,
                    "scheduling.maxUnavailable",
                    "a number or a percentage",
                    expected,
                );
                None
            }
        };
        if let Some(v) = value {
            if deployment {
                cx.warn(
                    n.pos,
                    "scheduling.maxUnavailable has no effect on a Deployment, which rolls with maxUnavailable 0",
                    Some("it applies to workload: DaemonSet".into()),
                );
            }
            out.max_unavailable = v;
        }
    }
    out
}

fn resolve_toleration(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Toleration> {
    let f = cx.fields(
        node,
        path,
        &["key", "operator", "value", "effect", "tolerationSeconds"],
    )?;
    let mut ok = true;
    let key = f.get("key").and_then(|n| {
        let v = cx.string(n, &format!("{path}.key"), "a taint key");
        if v.as_deref()
            .is_some_and(|k| !k.is_empty() && !rules::is_label_key(k))
        {
            cx.err(
                n.pos,
                format!(
                    "{path}.key: \"{}\" is not a valid taint key",
                    v.as_deref().unwrap_or("")
                ),
                "[prefix/]name",
                None,
            );
            ok = false;
            return None;
        }
        if v.is_none() {
            ok = false;
        }
        v
    });
    let operator = match f.get("operator") {
        Some(n) => {
            let v = cx.choice(n, &format!("{path}.operator"), rules::TOLERATION_OPERATORS);
            ok &= v.is_some();
            v
        }
        None => None,
    };
    let value = f.get("value").and_then(|n| {
        let v = cx.text(n, &format!("{path}.value"), "a taint value");
        ok &= v.is_some();
        v
    });
    let effect = match f.get("effect") {
        Some(n) => {
            let v = cx.choice(n, &format!("{path}.effect"), rules::TOLERATION_EFFECTS);
            ok &= v.is_some();
            v
        }
        None => None,
    };
    let seconds = match f.get("tolerationSeconds") {
        Some(n) => {
            let v = cx.integer(
                n,
                &format!("{path}.tolerationSeconds"),
                i64::MIN as i128,
                i64::MAX as i128,
                "a number of seconds",
            );
            ok &= v.is_some();
            if v.is_some() && effect != Some("NoExecute") {
                cx.err(
                    n.pos,
                    format!("{path}.tolerationSeconds: only applies with effect: NoExecute"),
                    "effect: NoExecute",
                    None,
                );
                ok = false;
            }
            v.map(|s| s as i64)
        }
        None => None,
    };
    let exists = operator == Some("Exists");
    if exists && value.as_deref().is_some_and(|v| !v.is_empty()) {
        cx.err(
            f.get("value").map_or(f.pos, |n| n.pos),
            format!("{path}.value: a toleration with operator Exists has no value"),
            "no value with operator: Exists",
            None,
        );
        ok = false;
    }
    if key.as_deref().unwrap_or("").is_empty() && !exists && ok {
        cx.err(
            f.pos,
            format!("{path}: a toleration without a key must use operator: Exists"),
            "key: TAINT_KEY, or operator: Exists to tolerate every taint",
            None,
        );
        ok = false;
    }
    ok.then(|| Toleration {
        key,
        operator: operator.map(str::to_owned),
        value,
        effect: effect.map(str::to_owned),
        toleration_seconds: seconds,
    })
}

fn resolve_security(cx: &mut Cx<'_>, node: Option<&Node>) -> Security {
    let mut out = Security {
        run_as_user: rules::NONROOT_UID,
        run_as_root: false,
        read_only_root_filesystem: true,
        capabilities: Vec::new(),
    };
    let Some(f) = node.and_then(|n| {
        cx.fields(
            n,
            "security",
            &[
                "runAsUser",
                "runAsRoot",
                "readOnlyRootFilesystem",
                "capabilities",
            ],
        )
    }) else {
        return out;
    };
    if let Some(b) = f
        .get("runAsRoot")
        .and_then(|n| cx.boolean(n, "security.runAsRoot"))
    {
        out.run_as_root = b;
        if b && f.get("runAsUser").is_none() {
            out.run_as_user = 0;
        }
    }
    if let Some(n) = f.get("runAsUser")
        && let Some(uid) = cx.integer(
            n,
            "security.runAsUser",
            0,
            rules::MAX_UID.into(),
            "a user id from 0 to 2147483647",
        )
    {
        if uid == 0 && !out.run_as_root {
            cx.err(
                    n.pos,
                    "security.runAsUser: 0 is root, which needs runAsRoot: true",
                    &format!("a non-zero user id, e.g. {}", rules::NONROOT_UID),
                    Some(format!("run as an unprivileged user ({} is distroless' nonroot), or set security.runAsRoot: true", rules::NONROOT_UID)),
                );
        } else {
            if uid != 0 && out.run_as_root {
                cx.warn(
                    n.pos,
                    format!("security.runAsRoot has no effect: runAsUser is {uid}"),
                    Some("remove runAsRoot, or set runAsUser: 0".into()),
                );
            }
            out.run_as_user = uid as i64;
        }
    }
    if let Some(b) = f
        .get("readOnlyRootFilesystem")
        .and_then(|n| cx.boolean(n, "security.readOnlyRootFilesystem"))
    {
        out.read_only_root_filesystem = b;
    }
    if let Some(n) = f.get("capabilities") {
        let expected = "Linux capability names such as NET_BIND_SERVICE";
        for (i, (cap, pos)) in cx
            .string_list(n, "security.capabilities", false, expected)
            .into_iter()
            .enumerate()
        {
            let p = format!("security.capabilities[{i}]");
            let norm = rules::normalize_capability(&cap);
            if norm == "ALL" {
                cx.err(
                    pos,
                    format!("{p}: ALL would make the daemon privileged"),
                    expected,
                    Some("list the capabilities the daemon needs".into()),
                );
                continue;
            }
            if !rules::CAPABILITIES.contains(&norm.as_str()) {
                let hint = cx
                    .suggest(&norm, rules::CAPABILITIES)
                    .map(|s| format!("did you mean '{s}'?"));
                cx.err(
                    pos,
                    format!("{p}: \"{cap}\" is not a Linux capability"),
                    expected,
                    hint,
                );
                continue;
            }
            if rules::PRIVILEGED_CAPABILITIES.contains(&norm.as_str())
                && !out.capabilities.contains(&norm)
            {
                cx.warn(
                    pos,
                    format!("{p}: {norm} is a privileged capability; it gives the daemon power over the node"),
                    Some("keep it only if the daemon cannot work without it".into()),
                );
            }
            if !out.capabilities.contains(&norm) {
                out.capabilities.push(norm);
            }
        }
        out.capabilities.sort();
        out.capabilities.dedup();
    }
    out
}

fn resolve_build(cx: &mut Cx<'_>, node: Option<&Node>, name: Option<&str>) -> Build {
    let mut out = Build {
        package: name.unwrap_or_default().to_owned(),
        bin: String::new(),
        rust_version: DEFAULT_RUST_VERSION.to_owned(),
        base: BaseImage::Distroless,
        features: Vec::new(),
        platforms: DEFAULT_PLATFORMS.to_vec(),
    };
    let f = node.and_then(|n| {
        cx.fields(
            n,
            "build",
            &[
                "package",
                "bin",
                "rustVersion",
                "base",
                "features",
                "platforms",
            ],
        )
    });
    let cargo_expected = "a Cargo name: letters, digits, '-' and '_', starting with a letter";
    if let Some(f) = &f {
        for field in ["package", "bin"] {
            let Some(n) = f.get(field) else { continue };
            let p = format!("build.{field}");
            let Some(v) = cx.string(n, &p, cargo_expected) else {
                continue;
            };
            if !rules::is_cargo_name(&v) {
                cx.err(
                    n.pos,
                    format!("{p}: \"{v}\" is not a valid Cargo name"),
                    cargo_expected,
                    None,
                );
                continue;
            }
            if field == "package" {
                out.package = v;
            } else {
                out.bin = v;
            }
        }
        if let Some(n) = f.get("rustVersion") {
            let expected = "a Rust release such as \"1.95\" or \"1.95.0\"";
            if let Some(v) = cx.text(n, "build.rustVersion", expected) {
                if rules::is_rust_version(&v) {
                    out.rust_version = v;
                } else {
                    cx.err(
                        n.pos,
                        format!("build.rustVersion: \"{v}\" is not a Rust version"),
                        expected,
                        None,
                    );
                }
            }
        }
        if let Some(n) = f.get("base")
            && let Some(b) = cx.choice(n, "build.base", &["distroless", "debian-slim", "scratch"])
        {
            out.base = match b {
                "debian-slim" => BaseImage::DebianSlim,
                "scratch" => BaseImage::Scratch,
                _ => BaseImage::Distroless,
            };
        }
        if let Some(n) = f.get("features") {
            let expected = "Cargo feature names";
            let mut seen = std::collections::HashSet::new();
            for (i, (feat, pos)) in cx
                .string_list(n, "build.features", false, expected)
                .into_iter()
                .enumerate()
            {
                if !rules::is_cargo_feature(&feat) {
                    cx.err(
                        pos,
                        format!("build.features[{i}]: \"{feat}\" is not a Cargo feature name"),
                        expected,
                        None,
                    );
                } else if !seen.insert(feat.clone()) {
                    cx.err(
                        pos,
                        format!("build.features[{i}]: duplicate feature \"{feat}\""),
                        "each feature once",
                        None,
                    );
                } else {
                    out.features.push(feat);
                }
            }
        }
        if let Some(n) = f.get("platforms") {
            resolve_platforms(cx, n, &mut out.platforms);
        }
    }
    if out.bin.is_empty() {
        out.bin = out.package.clone();
    }
    out
}

/// `build.platforms`: known `os/arch` names, each once, at least one. Leaves `out` at its
/// default when the list is unusable.
fn resolve_platforms(cx: &mut Cx<'_>, node: &Node, out: &mut Vec<Platform>) {
    let known: Vec<&'static str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
    let expected = format!("platforms among {}", known.join(", "));
    let Some(items) = cx.seq(node, "build.platforms", &expected) else {
        return;
    };
    if items.is_empty() {
        cx.err(
            node.pos,
            "build.platforms: the list is empty",
            &expected,
            Some("leave build.platforms out for the default [linux/amd64]".into()),
        );
        return;
    }
    let mut platforms = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("build.platforms[{i}]");
        let Some(v) = cx.string(item, &p, &expected) else {
            ok = false;
            continue;
        };
        match Platform::parse(&v) {
            Some(platform) if platforms.contains(&platform) => {
                ok = false;
                cx.err(
                    item.pos,
                    format!("{p}: duplicate platform \"{v}\""),
                    "each platform once",
                    None,
                );
            }
            Some(platform) => platforms.push(platform),
            None => {
                ok = false;
                let hint = match v.as_str() {
                    "linux/arm64/v8" | "linux/aarch64" => Some("write linux/arm64".to_owned()),
                    "linux/x86_64" | "linux/x86-64" => Some("write linux/amd64".to_owned()),
                    _ => cx
                        .suggest(&v, &known)
                        .map(|s| format!("did you mean '{s}'?")),
                };
                cx.err(
                    item.pos,
                    format!("{p}: \"{v}\" is not a supported platform"),
                    &expected,
                    hint,
                );
            }
        }
    }
    if ok {
        *out = platforms;
    }
}

fn resolve_systemd(cx: &mut Cx<'_>, node: Option<&Node>) -> Systemd {
    let mut out = Systemd {
        user: None,
        restart: RestartPolicy::OnFailure,
        watchdog: Duration::from_secs(30),
    };
    let Some(f) = node.and_then(|n| cx.fields(n, "systemd", &["user", "restart", "watchdog"]))
    else {
        return out;
    };
    if let Some(n) = f.get("user") {
        let expected = "empty for DynamicUser=yes, or a user name such as echo";
        if let Some(v) = cx.string(n, "systemd.user", expected) {
            if v.is_empty() {
            } else if !rules::is_unix_user(&v) {
                cx.err(
                    n.pos,
                    format!("systemd.user: \"{v}\" is not a valid user name"),
                    expected,
                    None,
                );
            } else {
                if v == "root" || v == "0" {
                    cx.warn(
                        n.pos,
                        "systemd.user: the daemon runs as root on the host",
                        Some("leave user empty for a DynamicUser".into()),
                    );
                }
                out.user = Some(v);
            }
        }
    }
    if let Some(n) = f.get("restart")
        && let Some(r) = cx.choice(n, "systemd.restart", &["always", "on-failure", "no"])
    {
        out.restart = match r {
            "always" => RestartPolicy::Always,
            "no" => RestartPolicy::No,
            _ => RestartPolicy::OnFailure,
        };
    }
    if let Some(n) = f.get("watchdog")
        && let Some(d) = cx.duration(n, "systemd.watchdog")
    {
        if !d.is_zero() && d < Duration::from_secs(1) {
            cx.err(
                n.pos,
                format!("systemd.watchdog: {d} is too short"),
                "0s (disabled) or at least 1s",
                Some("berth-sidecar pings at half the interval; 30s is the default".into()),
            );
        } else {
            out.watchdog = d;
        }
    }
    out
}

/// Characters `windows.installDir` and `windows.displayName` may not hold: they end or change a
/// double-quoted cmd.exe argument (`"`), expand (`%` outside a leading `%VAR%`, `!`) or are
/// cmd.exe operators even inside quotes in some positions (`^`). Control characters neither.
fn cmd_unsafe(c: char) -> bool {
    matches!(c, '"' | '!' | '^' | '%') || c.is_control()
}

fn resolve_windows(
    cx: &mut Cx<'_>,
    node: Option<&Node>,
    name: Option<&str>,
    host: &Host,
    volumes: &[Volume],
) -> Windows {
    let name = name.unwrap_or_default();
    let linux_only = Windows::linux_only_reason(host, volumes);
    let mut out = Windows {
        enabled: linux_only.is_none(),
        ..Windows::defaults(name)
    };
    let Some(f) = node.and_then(|n| {
        cx.fields(
            n,
            "windows",
            &[
                "enabled",
                "displayName",
                "startType",
                "account",
                "installDir",
                "recovery",
            ],
        )
    }) else {
        return out;
    };
    if let Some(n) = f.get("enabled")
        && let Some(b) = cx.boolean(n, "windows.enabled")
    {
        if b && let Some(reason) = &linux_only {
            cx.err(
                n.pos,
                format!("windows.enabled: this daemon cannot run as a Windows service ({reason})"),
                "false, or no windows.enabled (the target is then skipped with this reason)",
                Some("a node agent that reads the Linux host has no Windows equivalent".into()),
            );
        }
        out.enabled = b;
    }
    if let Some(n) = f.get("displayName") {
        let expected = "text without \", %, ! or ^ (at most 256 characters)";
        if let Some(v) = cx.string(n, "windows.displayName", expected) {
            if v.trim().is_empty() || v.chars().count() > 256 || v.chars().any(cmd_unsafe) {
                cx.err(
                    n.pos,
                    format!("windows.displayName: \"{v}\" cannot be passed safely to sc.exe"),
                    expected,
                    None,
                );
            } else {
                out.display_name = v;
            }
        }
    }
    if let Some(n) = f.get("startType")
        && let Some(v) = cx.choice(n, "windows.startType", &["automatic", "delayed", "manual"])
    {
        out.start_type = match v {
            "delayed" => StartType::Delayed,
            "manual" => StartType::Manual,
            _ => StartType::Automatic,
        };
    }
    if let Some(n) = f.get("account")
        && let Some(v) = cx.choice(
            n,
            "windows.account",
            &["virtual", "LocalService", "NetworkService", "LocalSystem"],
        )
    {
        out.account = match v {
            "LocalService" => ServiceAccount::LocalService,
            "NetworkService" => ServiceAccount::NetworkService,
            "LocalSystem" => ServiceAccount::LocalSystem,
            _ => ServiceAccount::Virtual,
        };
        if out.account == ServiceAccount::LocalSystem {
            cx.warn(
                n.pos,
                "windows.account: LocalSystem has full control of the machine",
                Some("the default virtual account (NT SERVICE\\NAME) needs no password and holds only what the scripts grant it".into()),
            );
        }
    }
    if let Some(n) = f.get("installDir") {
        let expected = r"an absolute Windows path such as C:\Services\echo or %ProgramFiles%\echo";
        if let Some(v) = cx.string(n, "windows.installDir", expected) {
            let rest = match v.strip_prefix('%').and_then(|r| r.split_once('%')) {
                Some((var, rest))
                    if !var.is_empty()
                        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    Some(rest)
                }
                Some(_) => None,
                None => {
                    let b = v.as_bytes();
                    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
                        .then(|| &v[2..])
                }
            };
            let ok = rest.is_some_and(|r| {
                r.starts_with('\\')
                    && !r
                        .chars()
                        .any(|c| cmd_unsafe(c) || matches!(c, '/' | '<' | '>' | '|' | '*' | '?'))
                    && !r.ends_with('\\')
                    && !r.split('\\').any(|part| part == "..")
            });
            if ok {
                out.install_dir = v;
            } else {
                cx.err(
                    n.pos,
                    format!("windows.installDir: \"{v}\" is not an absolute Windows directory"),
                    expected,
                    Some(r"a drive letter or one leading %VARIABLE%, backslashes, no trailing \, no quotes".into()),
                );
            }
        }
    }
    if let Some(r) = f.get("recovery").and_then(|n| {
        cx.fields(
            n,
            "windows.recovery",
            &["restartDelay", "resetPeriod", "onNonCrashFailures"],
        )
    }) {
        if let Some(n) = r.get("restartDelay")
            && let Some(d) = cx.duration(n, "windows.recovery.restartDelay")
        {
            if d.std().as_millis() > u128::from(u32::MAX) {
                cx.err(
                    n.pos,
                    format!("windows.recovery.restartDelay: {d} is too long"),
                    "at most 49 days (a 32-bit count of milliseconds)",
                    None,
                );
            } else {
                out.recovery.restart_delay = d;
            }
        }
        if let Some(n) = r.get("resetPeriod")
            && let Some(d) = cx.duration(n, "windows.recovery.resetPeriod")
        {
            if d.as_secs_ceil() > u64::from(u32::MAX) {
                cx.err(
                    n.pos,
                    format!("windows.recovery.resetPeriod: {d} is too long"),
                    "a duration that fits a 32-bit count of seconds",
                    None,
                );
            } else {
                out.recovery.reset_period = d;
            }
        }
        if let Some(n) = r.get("onNonCrashFailures")
            && let Some(b) = cx.boolean(n, "windows.recovery.onNonCrashFailures")
        {
            out.recovery.on_non_crash_failures = b;
        }
    }
    out
}
