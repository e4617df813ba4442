use std::collections::BTreeSet;

use serde_json::{Value, json};
use yaml_rust2::{Yaml, YamlLoader};

use super::*;
use crate::spec::sample::sample;
use crate::spec::{Duration, ImageRef};

fn files(spec: &Spec) -> FileSet {
    let mut out = FileSet::new();
    render(spec, &mut out).expect("render");
    out
}

fn file<'a>(set: &'a FileSet, spec: &Spec, path: &str) -> &'a str {
    let full = format!("helm/{}/{path}", spec.name);
    &set.get(&full)
        .unwrap_or_else(|| panic!("{full} missing"))
        .contents
}

fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => json!(r.parse::<f64>().expect("real")),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => json!(s),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| (k.as_str().expect("string key").to_owned(), yaml_to_json(v)))
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

fn parse_yaml(text: &str) -> Value {
    let docs = YamlLoader::load_from_str(text).expect("valid YAML");
    assert_eq!(docs.len(), 1);
    yaml_to_json(&docs[0])
}

fn parsed_values(spec: &Spec) -> Value {
    parse_yaml(file(&files(spec), spec, "values.yaml"))
}

fn variants() -> Vec<(&'static str, Spec)> {
    let mut v = vec![
        ("deployment", sample(WorkloadKind::Deployment)),
        ("daemonset", sample(WorkloadKind::DaemonSet)),
    ];
    let mut s = sample(WorkloadKind::Deployment);
    s.config = None;
    v.push(("no-config", s));
    let mut s = sample(WorkloadKind::DaemonSet);
    s.ports.clear();
    v.push(("no-ports", s));
    let mut s = sample(WorkloadKind::Deployment);
    s.metrics.enabled = false;
    v.push(("metrics-off", s));
    let mut s = sample(WorkloadKind::DaemonSet);
    s.host.network = true;
    s.host.pid = true;
    v.push(("host-network", s));
    let mut s = sample(WorkloadKind::DaemonSet);
    s.security.capabilities = vec!["NET_ADMIN".into(), "NET_RAW".into()];
    v.push(("capabilities", s));
    let mut s = sample(WorkloadKind::Deployment);
    s.image = ImageRef {
        repository: "registry.example.com/team/echo".into(),
        tag: None,
        digest: Some(format!("sha256:{}", "ab12".repeat(16))),
    };
    v.push(("digest", s));
    let mut s = sample(WorkloadKind::Deployment);
    s.replicas = 1;
    s.env.clear();
    s.volumes.clear();
    s.resources = Default::default();
    v.push(("replicas-1", s));
    v
}

#[test]
fn renders_the_documented_file_set() {
    for (case, spec) in variants() {
        let set = files(&spec);
        let paths: BTreeSet<&str> = set.iter().map(|(p, _)| p).collect();
        let expected: BTreeSet<String> = [
            ".helmignore",
            "Chart.yaml",
            "README.md",
            "values.yaml",
            "values.schema.json",
            "templates/NOTES.txt",
            "templates/_helpers.tpl",
            "templates/_plan.tpl",
            "templates/configmap.yaml",
            "templates/pdb.yaml",
            "templates/service.yaml",
            "templates/serviceaccount.yaml",
            "templates/servicemonitor.yaml",
            "templates/tests/test-health.yaml",
            "templates/workload.yaml",
        ]
        .iter()
        .map(|p| format!("helm/{}/{p}", spec.name))
        .collect();
        let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        assert_eq!(paths, expected, "{case}");
        assert!(set.iter().all(|(_, f)| f.target == Target::Helm));
    }
}

#[test]
fn templates_are_copied_verbatim() {
    let spec = sample(WorkloadKind::DaemonSet);
    let set = files(&spec);
    for path in [
        "templates/workload.yaml",
        "templates/_helpers.tpl",
        ".helmignore",
        "templates/tests/test-health.yaml",
    ] {
        let original = assets::CHART
            .get_file(path)
            .unwrap()
            .contents_utf8()
            .unwrap();
        assert_eq!(file(&set, &spec, path), original, "{path}");
    }
}

#[test]
fn output_is_deterministic() {
    for (case, spec) in variants() {
        assert_eq!(files(&spec), files(&spec), "{case}");
    }
}

#[test]
fn values_yaml_reads_back_as_the_values() {
    for (case, spec) in variants() {
        let expected = serde_json::to_value(values::Values::of(&spec)).unwrap();
        assert_eq!(parsed_values(&spec), expected, "{case}");
    }
}

#[test]
fn every_key_is_documented_and_typed() {
    fn walk(tree: &[(&str, &str, Node<'_>)], path: &str) {
        for (key, doc, node) in tree {
            let key = format!("{path}{key}");
            assert!(!doc.trim().is_empty(), "{key} has no comment");
            // Every placeholder is expanded: only literal braces (`{name, value}`, `{}`) remain.
            let unexpanded = doc.split('{').skip(1).any(|p| {
                let name = p.split('}').next().unwrap_or("");
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            assert!(!unexpanded, "{key}: an unknown placeholder in {doc:?}");
            match node {
                Node::Group(children) => walk(children, &format!("{key}.")),
                Node::Leaf { schema, .. } => {
                    assert!(
                        schema.get("type").is_some() || schema.get("anyOf").is_some(),
                        "{key} is untyped"
                    );
                }
            }
        }
    }
    let spec = sample(WorkloadKind::Deployment);
    let (data, schema) = values::documented(&spec);
    walk(&values::tree(&data, &schema), "");
    // Every `key:` line of values.yaml outside list items follows a comment line.
    let text = file(&files(&spec), &spec, "values.yaml").to_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut in_data = 0usize; // indentation of a data leaf whose children are not documented
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if in_data > 0 && indent >= in_data {
            continue;
        }
        in_data = 0;
        assert!(
            lines[i - 1].trim_start().starts_with('#'),
            "no comment above line {}: {line}",
            i + 1
        );
        checked += 1;
        if let Some(key) = trimmed.strip_suffix(':').or_else(|| {
            trimmed
                .split(": |")
                .next()
                .filter(|_| trimmed.contains(": |"))
        }) {
            // A group (documented children) or a block (data): children of data keys are data.
            let _ = key;
            let is_group = lines
                .get(i + 1)
                .is_some_and(|n| n.trim_start().starts_with('#'));
            if !is_group {
                in_data = indent + 1;
            }
        }
    }
    assert!(checked > 60, "only {checked} keys checked");
}

#[test]
fn schema_accepts_the_values_and_rejects_wrong_types() {
    for (case, spec) in variants() {
        let set = files(&spec);
        let schema: Value = serde_json::from_str(file(&set, &spec, "values.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).expect("valid schema");
        let values = parsed_values(&spec);
        let errors: Vec<String> = validator
            .iter_errors(&values)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{case}: {errors:?}");

        let mutate = |f: &dyn Fn(&mut Value)| {
            let mut v = values.clone();
            f(&mut v);
            validator.is_valid(&v)
        };
        assert!(
            !mutate(&|v| v["replicas"] = json!("abc")),
            "{case}: replicas string"
        );
        assert!(
            !mutate(&|v| v["workload"] = json!("StatefulSet")),
            "{case}: workload enum"
        );
        assert!(
            !mutate(&|v| v["health"]["port"] = json!(70000)),
            "{case}: port range"
        );
        assert!(
            !mutate(&|v| v["image"]["tagg"] = json!("x")),
            "{case}: unknown key"
        );
        assert!(
            !mutate(&|v| v["shutdown"]["drainTimeout"] = json!("20")),
            "{case}: duration"
        );
        assert!(
            !mutate(&|v| v["rollingUpdate"]["maxUnavailable"] = json!("ten")),
            "{case}: int or percent"
        );
        assert!(
            !mutate(&|v| v["resources"] = json!({"limits": {"cpu": "lots"}})),
            "{case}: quantity"
        );
        assert!(
            !mutate(&|v| v["volumes"] = json!([{"name": "a", "mountPath": "/a"}])),
            "{case}: volume source"
        );
        assert!(
            !mutate(&|v| v["env"] = json!([{"name": "A", "value": 1}])),
            "{case}: env value type"
        );
        assert!(
            mutate(&|v| v["rollingUpdate"]["maxUnavailable"] = json!("25%")),
            "{case}: percent"
        );
        assert!(mutate(&|v| v["global"] = json!({"x": 1})), "{case}: global");
        // Durations follow the sidecar's grammar; the ServiceMonitor's follow Prometheus'.
        assert!(
            mutate(&|v| v["shutdown"]["preStopDelay"] = json!("1.5s")),
            "{case}: sidecar duration"
        );
        assert!(
            !mutate(&|v| v["metrics"]["serviceMonitor"]["interval"] = json!("1.5s")),
            "{case}: Prometheus duration"
        );
        assert!(
            !mutate(
                &|v| v["env"] = json!([{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])
            ),
            "{case}: env value and valueFrom"
        );
        assert!(
            !mutate(&|v| v["image"]["digest"] = Value::Null),
            "{case}: null is no value"
        );
        // Self-contained (Helm 3.18.5+ refuses to fetch a remote `$ref`): schemars' subschemas
        // are all inline, so the document has no reference at all.
        let text = file(&set, &spec, "values.schema.json");
        for word in ["$ref", "$defs", "definitions", "$id"] {
            assert!(
                !text.contains(word),
                "{case}: values.schema.json has {word}"
            );
        }
    }
}

#[test]
fn values_follow_the_spec() {
    let spec = sample(WorkloadKind::Deployment);
    let v = parsed_values(&spec);
    assert_eq!(v["workload"], "Deployment");
    assert_eq!(v["replicas"], 2);
    assert_eq!(
        v["rollingUpdate"],
        json!({"maxUnavailable": 0, "maxSurge": 1})
    );
    assert_eq!(
        v["image"],
        json!({"repository": "ghcr.io/acme/echo-daemon", "tag": "0.1.0", "digest": "", "pullPolicy": "IfNotPresent"})
    );
    assert_eq!(v["health"]["port"], 9090);
    assert_eq!(
        v["health"]["startupProbe"],
        json!({"periodSeconds": 2, "timeoutSeconds": 1, "failureThreshold": 30})
    );
    assert_eq!(
        v["health"]["livenessProbe"],
        json!({"periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3})
    );
    assert_eq!(
        v["health"]["readinessProbe"],
        json!({"periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 2})
    );
    assert_eq!(
        v["shutdown"],
        json!({"preStopDelay": "5s", "drainTimeout": "20s", "terminationGracePeriodSeconds": 30})
    );
    assert_eq!(
        v["env"],
        json!([
            {"name": "RUST_LOG", "value": "info"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "echo-secrets", "key": "token"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
        ])
    );
    assert_eq!(
        v["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP", "expose": true}])
    );
    assert_eq!(
        v["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}})
    );
    assert_eq!(
        v["volumes"],
        json!([{"name": "varlog", "mountPath": "/host/var/log", "readOnly": false, "emptyDir": {}}])
    );
    assert_eq!(
        v["config"],
        json!({"enabled": true, "fileName": "echo.toml", "mountPath": "/etc/echo-daemon/echo.toml", "reload": true, "content": "greeting = \"hello\"\n"})
    );
    assert_eq!(
        v["security"],
        json!({"runAsUser": 65532, "readOnlyRootFilesystem": true, "capabilities": []})
    );
    assert_eq!(v["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(v["topologySpread"]["enabled"], true);
    assert_eq!(v["metrics"]["enabled"], true);
    assert_eq!(v["test"]["binary"], "/usr/local/bin/echo-daemon");
    assert_eq!(v["serviceAccount"]["automount"], false);

    let ds = sample(WorkloadKind::DaemonSet);
    let v = parsed_values(&ds);
    assert_eq!(v["workload"], "DaemonSet");
    assert_eq!(
        v["rollingUpdate"],
        json!({"maxUnavailable": 1, "maxSurge": 0})
    );
    assert_eq!(v["tolerations"], json!([{"operator": "Exists"}]));
    assert_eq!(v["topologySpread"]["enabled"], false);
    assert_eq!(
        v["volumes"],
        json!([{"name": "varlog", "mountPath": "/host/var/log", "readOnly": true, "hostPath": "/var/log"}])
    );
}

#[test]
fn variants_change_the_values() {
    let by_case: std::collections::BTreeMap<&str, Value> = variants()
        .into_iter()
        .map(|(c, s)| (c, parsed_values(&s)))
        .collect();
    assert_eq!(by_case["no-config"]["config"]["enabled"], false);
    assert_eq!(by_case["no-config"]["config"]["content"], "");
    assert_eq!(by_case["no-ports"]["ports"], json!([]));
    assert_eq!(by_case["metrics-off"]["metrics"]["enabled"], false);
    assert_eq!(
        by_case["host-network"]["host"],
        json!({"network": true, "pid": true})
    );
    assert_eq!(
        by_case["capabilities"]["security"]["capabilities"],
        json!(["NET_ADMIN", "NET_RAW"])
    );
    assert_eq!(by_case["digest"]["image"]["tag"], "");
    assert_eq!(
        by_case["digest"]["image"]["digest"],
        format!("sha256:{}", "ab12".repeat(16))
    );
    assert_eq!(by_case["replicas-1"]["replicas"], 1);
    assert_eq!(by_case["replicas-1"]["resources"], json!({}));
    assert_eq!(by_case["replicas-1"]["env"], json!([]));
}

#[test]
fn chart_yaml_names_the_chart_and_versions() {
    let spec = sample(WorkloadKind::Deployment);
    let chart = parse_yaml(file(&files(&spec), &spec, "Chart.yaml"));
    assert_eq!(
        chart,
        json!({
            "apiVersion": "v2", "name": "echo-daemon", "description": "Echo server", "type": "application",
            "version": "0.1.0", "appVersion": "0.1.0"
        })
    );
    let mut digest = sample(WorkloadKind::Deployment);
    digest.image.tag = None;
    digest.image.digest = Some(format!("sha256:{}", "0123456789abcdef".repeat(4)));
    digest.description.clear();
    let chart = parse_yaml(file(&files(&digest), &digest, "Chart.yaml"));
    assert_eq!(chart["appVersion"], "0123456789ab");
    assert_eq!(chart["version"], "0.1.0");
    assert_eq!(
        chart["description"],
        "The echo-daemon daemon, packaged by berth"
    );
}

#[test]
fn chart_version_is_the_tag_when_semver() {
    let mut spec = sample(WorkloadKind::Deployment);
    for (tag, version) in [
        ("1.2.3", "1.2.3"),
        ("v2.0.0-rc.1", "2.0.0-rc.1"),
        ("1.0.0+build.5", "1.0.0+build.5"),
        ("1.2", "0.1.0"),
        ("01.2.3", "0.1.0"),
        ("stable", "0.1.0"),
        ("1.2.3-", "0.1.0"),
    ] {
        spec.image.tag = Some(tag.into());
        assert_eq!(chart_version(&spec), version, "{tag}");
    }
}

#[test]
fn startup_threshold_covers_the_startup_timeout() {
    let mut spec = sample(WorkloadKind::Deployment);
    for (timeout, n) in [
        (Duration::from_secs(60), 30),
        (Duration::from_secs(61), 31),
        (Duration::from_millis(500), 1),
        (Duration::ZERO, 1),
    ] {
        spec.health.startup_timeout = timeout;
        assert_eq!(plan::startup_failure_threshold(&spec), n, "{timeout}");
        assert!(n * plan::STARTUP_PERIOD_SECONDS >= timeout.as_secs_ceil());
    }
}

#[test]
fn yaml_writer_round_trips_awkward_strings() {
    let awkward = [
        "",
        "yes",
        "No",
        "on",
        "null",
        "~",
        "1",
        "0.5",
        "1e3",
        "0x1F",
        "1:30",
        "-",
        "- a",
        "a: b",
        "a #b",
        "#c",
        " lead",
        "trail ",
        "a\"b",
        "back\\slash",
        "tab\there",
        "multi\nline",
        "multi\nline\n",
        "keep\n\n",
        "\nleading newline",
        "  indented\nblock\n",
        "trailing space \nline\n",
        "del\u{7f}",
        "bom\u{feff}",
        "bell\u{7}",
        "ünïcödé ✓",
        "@at",
        "%pct",
        "*star",
        "&amp",
        "!tag",
        "|pipe",
        ">gt",
        "[x]",
        "{y}",
        "a,b",
        "?q",
        "'s'",
        "=eq",
        "ghcr.io/a/b:1.0@sha256:ab",
        "last:",
        "kubernetes.io/os",
        "crlf\r\nline\n",
        "2024-01-01",
        ".5",
        "+1",
        ".inf",
        "NaN",
    ];
    let strings = json!(awkward.to_vec());
    let map = Value::Object(
        awkward
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("k{i}{s}"), json!(s)))
            .collect(),
    );
    let nested = json!([{"a": [1, {"b": []}], "c": {}}, [["x"]], []]);
    let num = json!(-3);
    let any = json!({});
    let leaf = |value| Node::Leaf {
        value,
        schema: &any,
    };
    let tree = vec![
        ("strings", "doc", leaf(&strings)),
        ("map", "doc", leaf(&map)),
        ("nested", "doc", leaf(&nested)),
        (
            "g",
            "doc\ntwo lines",
            Node::Group(vec![("num", "doc", leaf(&num))]),
        ),
    ];
    let text = values_yaml(&tree);
    let expected = json!({"strings": strings, "map": map, "nested": nested, "g": {"num": -3}});
    assert_eq!(parse_yaml(&text), expected, "{text}");
    assert!(
        text.contains("\n# doc\n# two lines\ng:\n  # doc\n  num: -3\n"),
        "{text}"
    );
}

#[test]
fn readme_documents_every_value() {
    for (case, spec) in variants() {
        let set = files(&spec);
        let readme = file(&set, &spec, "README.md");
        let mut rows = Vec::new();
        let (data, schema) = values::documented(&spec);
        readme_rows(&values::tree(&data, &schema), "", &mut rows);
        for row in &rows {
            assert!(
                readme.contains(&format!("| `{}` |", row.key)),
                "{case}: {} missing",
                row.key
            );
        }
        assert!(readme.starts_with(&format!("# {}\n", spec.name)), "{case}");
        assert!(readme.contains("--berth-probe readyz"), "{case}");
        assert!(!readme.contains("{{") && !readme.contains("{%"), "{case}");
    }
}

/// `charts/berth/` is the chart generated from [`static_chart_spec`], so `helm lint
/// charts/berth` tests exactly what users get. `BERTH_UPDATE_CHART=1` rewrites it.
#[test]
fn static_chart_matches_the_generator() {
    let spec = static_chart_spec();
    let set = files(&spec);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/berth");
    let update = std::env::var_os("BERTH_UPDATE_CHART").is_some_and(|v| v == "1");
    for path in [
        "Chart.yaml",
        "values.yaml",
        "values.schema.json",
        "README.md",
        plan::CHART_HELPERS,
    ] {
        let generated = file(&set, &spec, path);
        let on_disk = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        if on_disk != generated {
            if update {
                std::fs::write(root.join(path), generated).unwrap();
            } else {
                panic!(
                    "charts/berth/{path} is stale: run `BERTH_UPDATE_CHART=1 cargo test --lib render::helm`"
                );
            }
        }
    }
}

fn static_chart_spec() -> Spec {
    let mut spec = sample(WorkloadKind::Deployment);
    spec.name = "berth".into();
    spec.description =
        "Example chart of berth: its templates ship unchanged in every chart berth generates"
            .into();
    spec
}

/// The constants of the plan and the runtime contract that neither a chart template nor a doc
/// comment of the values may spell: each has one definition in Rust.
fn plan_constants() -> Vec<String> {
    use berth_sidecar::contract as c;
    let mut constants: Vec<&str> = vec![
        c::ENV_ADMIN_ADDR,
        c::ENV_PRE_STOP_DELAY,
        c::ENV_DRAIN_TIMEOUT,
        c::ENV_CONFIG_FILE,
        c::ENV_METRICS,
        c::PATH_LIVEZ,
        c::PATH_READYZ,
        c::PATH_STARTUPZ,
        c::PATH_METRICS,
        plan::CONFIG_MAP_SUFFIX,
        plan::ADMIN_SERVICE_SUFFIX,
        plan::TEST_POD_SUFFIX,
        plan::NODE_NAME_ENV,
        plan::NODE_NAME_FIELD,
        plan::label::COMPONENT,
        plan::label::PART_OF,
        plan::KUBE_SCORE_IGNORE,
    ];
    for row in plan::EXEMPTIONS {
        constants.push(row.key);
        if row.value != "true" {
            constants.push(row.value);
        }
        constants.extend(row.reason);
    }
    constants.push(plan::KUBE_SCORE_REASON_PREFIX);
    let mut owned: Vec<String> = constants.into_iter().map(str::to_owned).collect();
    owned.push(plan::NONROOT_UID.to_string());
    owned
}

/// The doc comments of [`values::Values`] name the plan's constants as placeholders, so a
/// constant re-typed in a doc comment fails here.
#[test]
fn values_docs_take_every_constant_from_the_plan() {
    fn descriptions<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    match child {
                        Value::String(d) if k == "description" => out.push(d),
                        other => descriptions(other, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|c| descriptions(c, out)),
            _ => {}
        }
    }
    let schema = values::derived_schema();
    let mut docs = Vec::new();
    descriptions(&schema, &mut docs);
    assert!(docs.len() > 60, "only {} descriptions", docs.len());
    // The placeholders themselves (`{NODE_NAME_ENV}`) are names, not the constants.
    let blank: Vec<(&str, String)> = values::placeholders(&sample(WorkloadKind::Deployment))
        .into_iter()
        .map(|(name, _)| (name, String::new()))
        .collect();
    let docs: Vec<String> = docs.iter().map(|d| values::expand(d, &blank)).collect();
    for constant in plan_constants() {
        for doc in &docs {
            assert!(
                !doc.contains(constant.as_str()),
                "a doc comment of Values spells {constant:?}: use its placeholder\n{doc}"
            );
        }
    }
}

/// The chart's own templates spell none of the plan's constants: they include the generated
/// `templates/_plan.tpl` (kept current by `static_chart_matches_the_generator`) instead, so a
/// constant changed in Rust cannot leave a stale copy in the chart.
#[test]
fn chart_templates_take_every_constant_from_the_plan() {
    let owned = plan_constants();
    let constants: Vec<&str> = owned.iter().map(String::as_str).collect();
    let files = static_files().unwrap();
    assert!(files.iter().any(|(p, _)| p == "templates/workload.yaml"));
    for (path, text) in files {
        assert_ne!(
            path,
            plan::CHART_HELPERS,
            "the helpers are generated, not copied"
        );
        for constant in &constants {
            assert!(
                !text.contains(constant),
                "charts/berth/{path} spells {constant:?}: include a helper of templates/_plan.tpl"
            );
        }
    }
    let helpers = plan::chart_helpers();
    for constant in &constants {
        // A value naming a placeholder is written around the chart value standing for it.
        for (is_value, part) in plan::split_placeholders(constant) {
            assert!(
                is_value || helpers.contains(part.as_str()),
                "{part:?} of {constant:?} missing from _plan.tpl"
            );
        }
    }
}
