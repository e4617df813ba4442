//! The plain manifests (`k8s/<name>.yaml`, built from k8s-openapi types) are semantically the
//! same objects as `helm template <name> helm/<name>` renders with the chart's default values,
//! ignoring only Helm's own labels (`helm.sh/chart`, `app.kubernetes.io/managed-by`) and the
//! Helm-only objects (the `helm test` hook pod, the ServiceMonitor).
//!
//! Both files are read back with the same YAML parser and compared as JSON values keyed by
//! kind and name (mapping key order is not significant, list order is). Nothing else is
//! normalized: a field present on one side and absent on the other is a mismatch, even when
//! Kubernetes would default it.
//!
//! Needs `helm` (`$BERTH_HELM`, `helm` on PATH or `~/go/bin/helm`); without it the test is
//! skipped with a message, unless `BERTH_REQUIRE_TOOLS=1`.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use berth::render::{self, Target, k8s};
use berth::spec::Spec;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// The Kubernetes version `helm template` renders for.
const KUBE_VERSION: &str = "v1.33.0";

/// Labels Helm adds (or sets differently) that the plain manifests do not carry.
const HELM_LABELS: [&str; 2] = ["helm.sh/chart", "app.kubernetes.io/managed-by"];

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => panic!("unsupported mapping key {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => panic!("unexpected YAML node {yaml:?}"),
    }
}

/// Every non-empty document of a multi-document YAML text.
fn documents(text: &str) -> Vec<Value> {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("invalid YAML ({e}):\n{text}"))
        .iter()
        .map(to_json)
        .filter(|v| !v.is_null())
        .collect()
}

/// Removes Helm's own labels from every `labels` mapping (object and pod template).
fn drop_helm_labels(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "labels"
                    && let Value::Object(labels) = child
                {
                    for label in HELM_LABELS {
                        labels.shift_remove(label);
                    }
                }
                drop_helm_labels(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_helm_labels),
        _ => {}
    }
}

fn is_helm_only(object: &Value) -> bool {
    object["metadata"]["annotations"]
        .get("helm.sh/hook")
        .is_some()
        || object["kind"] == "ServiceMonitor"
}

fn key(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

fn by_kind_and_name(objects: Vec<Value>) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for mut object in objects {
        drop_helm_labels(&mut object);
        let previous = map.insert(key(&object), object);
        assert!(previous.is_none(), "an object is rendered twice");
    }
    map
}

/// The paths at which two values differ, for a readable failure.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => differences(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: only in k8s ({va})")),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: only in helm ({vb})"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: k8s {a} != helm {b}")),
        _ => {}
    }
}

fn helm_template(helm: &Path, dir: &Path, spec: &Spec) -> String {
    let chart = dir.join("helm").join(&spec.name);
    let out = Command::new(helm)
        .arg("template")
        .arg(&spec.name)
        .arg(&chart)
        // The chart requires Kubernetes >= 1.29; helm's offline default is 1.20.
        .args(["--kube-version", KUBE_VERSION])
        .output()
        .expect("run helm template");
    assert!(
        out.status.success(),
        "helm template {} failed:\n{}",
        spec.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("helm output is UTF-8")
}

#[test]
fn plain_manifests_equal_helm_template_with_default_values() {
    let Some(helm) = support::find_tool("BERTH_HELM", &["helm"], "version", true) else {
        return;
    };
    let mut report = Vec::new();
    for (case, spec) in support::all_cases() {
        let dir = tempfile::tempdir().unwrap();
        let files = render::render(&spec, &[Target::Helm, Target::K8s]).expect("render");
        for (path, file) in files.iter() {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, &file.contents).unwrap();
        }
        let manifest = &files.get(&k8s::path(&spec)).expect("k8s manifest").contents;

        // The YAML writer is faithful: the file reads back as the typed objects.
        let plain = documents(manifest);
        assert_eq!(
            plain,
            k8s::values(&spec).unwrap(),
            "{case}: k8s/<name>.yaml reads back as written"
        );

        let helm_objects: Vec<Value> = documents(&helm_template(&helm, dir.path(), &spec))
            .into_iter()
            .filter(|o| !is_helm_only(o))
            .collect();
        let plain = by_kind_and_name(plain);
        let helm_objects = by_kind_and_name(helm_objects);

        let mut diffs = Vec::new();
        for (name, object) in &plain {
            match helm_objects.get(name) {
                Some(other) => differences(name, object, other, &mut diffs),
                None => diffs.push(format!("{name}: only in k8s")),
            }
        }
        for name in helm_objects.keys().filter(|n| !plain.contains_key(*n)) {
            diffs.push(format!("{name}: only in helm"));
        }
        if !diffs.is_empty() {
            report.push(format!("{case}:\n  {}", diffs.join("\n  ")));
        }
        println!("{case}: {} objects compared", plain.len());
    }
    assert!(
        report.is_empty(),
        "k8s and helm differ:\n{}",
        report.join("\n")
    );
}
