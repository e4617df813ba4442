//! `berth schema`: the committed `docs/berth.schema.json` is current, the schema is a valid
//! draft 2020-12 schema, it accepts every fixture and example, and rejects bad descriptions.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_output() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    String::from_utf8(out.stdout).unwrap()
}

fn yaml_to_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    berth::yaml::parse(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|n| n.to_json())
        .unwrap_or(Value::Null)
}

/// Every `*/berth.yaml` one level under `dir`.
fn descriptions(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("berth.yaml"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn committed_schema_is_current() {
    let committed = std::fs::read_to_string(root().join("docs/berth.schema.json")).unwrap();
    assert!(
        committed == schema_output(),
        "docs/berth.schema.json is stale: run `cargo run -q -- schema > docs/berth.schema.json`"
    );
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema: Value = serde_json::from_str(&schema_output()).unwrap();
    jsonschema::meta::validate(&schema).unwrap();
    assert_eq!(schema["$id"], berth::spec::schema::SCHEMA_URL);
    assert_eq!(
        schema["required"],
        serde_json::json!(["apiVersion", "name", "workload", "image"])
    );
    // Every top-level field of the validator is in the schema, and nothing else.
    let props: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(props, berth::spec::TOP_FIELDS);
}

#[test]
fn schema_accepts_every_fixture_and_example() {
    let schema: Value = serde_json::from_str(&schema_output()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut files = descriptions(&root().join("tests/fixtures"));
    files.extend(descriptions(&root().join("examples")));
    let mut failures = Vec::new();
    for file in &files {
        let instance = yaml_to_json(file);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{}: {}", file.display(), errors.join("; ")));
        }
        // ... and the validator agrees.
        berth::spec::load(file).unwrap_or_else(|d| panic!("{d}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The init templates too.
    for daemonset in [false, true] {
        let text = berth::commands::init::template(
            "echo-daemon",
            daemonset,
            "ghcr.io/acme/echo-daemon:0.1.0",
        );
        let instance = berth::yaml::parse(&text).unwrap().unwrap().to_json();
        assert!(
            validator.is_valid(&instance),
            "init template (daemonset: {daemonset})"
        );
    }
}

#[test]
fn schema_rejects_bad_descriptions() {
    let schema: Value = serde_json::from_str(&schema_output()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let base =
        "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\n";
    let parse = |s: &str| berth::yaml::parse(s).unwrap().unwrap().to_json();
    assert!(validator.is_valid(&parse(base)));
    let bad = [
        base.replace("berth/v1", "berth/v2"),
        base.replace("name: echo", "name: Echo"),
        base.replace("Deployment", "Job"),
        base.replace(":0.1.0", ""),
        base.replace(":0.1.0", ":latest"),
        base.replace("acme", "Acme"),
        "apiVersion: berth/v1\nname: echo\nworkload: Deployment\n".to_owned(),
        format!("{base}replica: 2\n"),
        format!("{base}shutdown: {{drainTimout: 20s}}\n"),
        format!("{base}shutdown: {{drainTimeout: 20}}\n"),
        format!("{base}health: {{startupTimeout: 5sec}}\n"),
        format!("{base}ports: [{{name: http, port: 70000}}]\n"),
        format!("{base}ports: [{{name: HTTP, port: 80}}]\n"),
        format!("{base}ports: [{{port: 80}}]\n"),
        format!("{base}ports: [{{name: dns, port: 53, protocol: udp}}]\n"),
        format!("{base}env: {{BERTH_X: a}}\n"),
        format!("{base}env: {{A: {{secret: s}}}}\n"),
        format!("{base}env: {{A: {{secret: s, configMap: c, key: k}}}}\n"),
        format!("{base}resources: {{limits: {{cpu: lots}}}}\n"),
        format!("{base}volumes: [{{name: a, mountPath: /a}}]\n"),
        format!("{base}volumes: [{{name: a, emptyDir: {{}}, secret: s, mountPath: /a}}]\n"),
        format!("{base}volumes: [{{name: a, emptyDir: {{}}, mountPath: rel}}]\n"),
        format!("{base}config: {{mountPath: /etc/x}}\n"),
        format!("{base}security: {{runAsUser: 0}}\n"),
        format!("{base}security: {{capabilities: [SYS_ADMN]}}\n"),
        format!("{base}metrics: {{enabled: yes}}\n"),
        format!("{base}build: {{base: alpine}}\n"),
        format!("{base}systemd: {{restart: never}}\n"),
        format!("{base}scheduling: {{maxUnavailable: 0}}\n"),
        base.replace("Deployment", "DaemonSet") + "replicas: 2\n",
    ];
    for b in &bad {
        assert!(!validator.is_valid(&parse(b)), "schema accepted:\n{b}");
        assert!(
            berth::spec::load_str(b, "b.yaml", Path::new(".")).is_err(),
            "validator accepted:\n{b}"
        );
    }
}

/// docs/berth-yaml.md documents every field the schema (and so the validator) knows.
#[test]
fn reference_documents_every_field() {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, sub) in props {
                out.push(k.clone());
                walk(sub, &format!("{path}.{k}"), out);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(sub) = v.get(key) {
                walk(sub, path, out);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(list) = v.get(key).and_then(Value::as_array) {
                for sub in list {
                    walk(sub, path, out);
                }
            }
        }
    }
    let schema: Value = serde_json::from_str(&schema_output()).unwrap();
    let mut fields = Vec::new();
    walk(&schema, "", &mut fields);
    let doc = std::fs::read_to_string(root().join("docs/berth-yaml.md")).unwrap();
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !doc.contains(&format!("`{f}`")) && !doc.contains(&format!(".{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/berth-yaml.md does not mention {missing:?}"
    );
}
