//! The generated Helm chart under the real tools, Helm 3 (`helm`) and Helm 4 (`helm4`):
//! `helm lint --strict`, `helm template` for every Kubernetes minor of the supported range
//! (`berth::render::helm::supported_kube_versions`, 1.29 to 1.37; Helm 4 must render the same
//! lines as Helm 3, blank lines aside), `kubernetes-validate --strict` on the output, `yamllint` on the generated
//! YAML files, the schema rejecting wrong types, and the schema being self-contained.
//!
//! Skips (with a message) when `helm` is missing, unless `BERTH_REQUIRE_TOOLS=1` (CI), which
//! turns a missing tool into a failure. Tools: helm from `$BERTH_HELM`, `$PATH` or Go's bin directory
//! (`.ci/install-deps.sh` installs it), `kubernetes-validate` and `yamllint` from PyPI.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth::render::{self, Target};
use berth::spec::sample::sample;
use berth::spec::{
    Duration, ImageRef, IntOrPercent, Resources, Spec, Toleration, Volume, VolumeSource,
    WorkloadKind,
};
use sha2::{Digest, Sha256};
use yaml_rust2::{Yaml, YamlLoader};

use crate::support;

/// `helm` (`BERTH_HELM` overrides; `~/go/bin/helm` is where `.ci/install-deps.sh` puts it).
fn helm() -> Option<PathBuf> {
    support::find_tool("BERTH_HELM", &["helm"], "version", true)
}

/// Helm 4 (`BERTH_HELM4` overrides; `.ci/install-deps.sh` installs it as `~/go/bin/helm4`).
fn helm4() -> Option<PathBuf> {
    support::find_tool("BERTH_HELM4", &["helm4"], "version", true)
}

/// `text` without its empty lines: Helm 4 keeps each template's trailing newline (a blank line
/// before every `---`), where Helm 3 trims it; the YAML is the same.
fn without_blank_lines(text: &str) -> String {
    text.lines()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Both Helm majors, each that is installed.
fn helms() -> Vec<PathBuf> {
    helm().into_iter().chain(helm4()).collect()
}

fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(program: &Path, args: &[&str]) -> String {
    let out = run(program, args, None);
    assert!(
        out.status.success(),
        "{} {} failed:\n{}{}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes the chart of `spec` under `dir` and returns the chart directory.
fn write_chart(spec: &Spec, dir: &Path) -> PathBuf {
    let files = render::render(spec, &[Target::Helm]).expect("render");
    for (path, file) in files.iter() {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, &file.contents).unwrap();
    }
    dir.join("helm").join(&spec.name)
}

/// Every optional field unset.
fn minimal(kind: WorkloadKind) -> Spec {
    let mut s = sample(kind);
    s.name = format!("min-{}", kind.as_str().to_lowercase());
    s.description.clear();
    s.args.clear();
    s.ports.clear();
    s.env.clear();
    s.volumes.clear();
    s.resources = Resources::default();
    s.config = None;
    s.scheduling.node_selector.clear();
    s.scheduling.tolerations.clear();
    s.metrics.enabled = false;
    if kind == WorkloadKind::Deployment {
        s.replicas = 1;
    }
    s
}

/// Every optional field set, the node-agent features included.
fn maximal(kind: WorkloadKind) -> Spec {
    let mut s = sample(kind);
    s.name = format!("max-{}", kind.as_str().to_lowercase());
    s.command = vec!["/usr/local/bin/echo-daemon".into(), "serve".into()];
    s.image = ImageRef {
        repository: "registry.example.com:5000/team/echo".into(),
        tag: Some("1.2.3".into()),
        digest: Some(format!("sha256:{}", "0123456789abcdef".repeat(4))),
    };
    s.health.startup_timeout = Duration::from_secs(95);
    s.shutdown.drain_timeout = Duration::from_millis(12_500);
    s.volumes.push(Volume {
        name: "proc".into(),
        source: VolumeSource::HostPath("/proc".into()),
        mount_path: "/host/proc".into(),
        read_only: true,
    });
    s.volumes.push(Volume {
        name: "certs".into(),
        source: VolumeSource::Secret("echo-certs".into()),
        mount_path: "/etc/certs".into(),
        read_only: true,
    });
    s.volumes.push(Volume {
        name: "extra".into(),
        source: VolumeSource::ConfigMap("echo-extra".into()),
        mount_path: "/etc/extra".into(),
        read_only: false,
    });
    if let Some(config) = &mut s.config {
        config.reload = false;
        config.contents =
            "# comment: with colon\ngreeting = \"hello\"\n\n[section]\nkey = 'v'  # trailing\n"
                .into();
    }
    s.scheduling.priority_class_name = "system-node-critical".into();
    s.scheduling.max_unavailable = IntOrPercent::Percent("25%".into());
    s.scheduling.tolerations.push(Toleration {
        key: Some("node.kubernetes.io/unreachable".into()),
        operator: Some("Exists".into()),
        value: None,
        effect: Some("NoExecute".into()),
        toleration_seconds: Some(30),
    });
    s.host.network = true;
    s.host.pid = true;
    s.security.capabilities = vec!["NET_ADMIN".into(), "NET_RAW".into()];
    s.security.read_only_root_filesystem = false;
    s
}

fn cases() -> Vec<(String, Spec)> {
    let mut cases = Vec::new();
    for kind in [WorkloadKind::Deployment, WorkloadKind::DaemonSet] {
        let k = kind.as_str().to_lowercase();
        cases.push((format!("sample-{k}"), sample(kind)));
        cases.push((format!("minimal-{k}"), minimal(kind)));
        cases.push((format!("maximal-{k}"), maximal(kind)));
    }
    let mut digest_only = sample(WorkloadKind::Deployment);
    digest_only.name = "digest-only".into();
    digest_only.image.tag = None;
    digest_only.image.digest = Some(format!("sha256:{}", "fedcba9876543210".repeat(4)));
    cases.push(("digest-only".into(), digest_only));
    cases
}

/// The documents of a multi-document YAML stream.
fn documents(text: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text)
        .expect("helm output is YAML")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn kind_of(doc: &Yaml) -> (&str, &str) {
    (
        doc["kind"].as_str().unwrap_or_default(),
        doc["metadata"]["name"].as_str().unwrap_or_default(),
    )
}

#[test]
fn generated_charts_lint_render_and_validate() {
    let Some(helm) = helm() else { return };
    let validate = support::find_tool(
        "BERTH_KUBERNETES_VALIDATE",
        &["kubernetes-validate"],
        "--version",
        true,
    );
    let helm4 = helm4();
    let tmp = tempfile::tempdir().unwrap();
    let versions = berth::render::helm::supported_kube_versions();
    // version -> rendered files
    let mut rendered: BTreeMap<&str, Vec<PathBuf>> = BTreeMap::new();
    for (case, spec) in cases() {
        let chart = write_chart(&spec, &tmp.path().join(&case));
        let chart_arg = chart.to_str().unwrap();
        ok(&helm, &["lint", "--strict", chart_arg]);
        if let Some(helm4) = &helm4 {
            ok(helm4, &["lint", "--strict", chart_arg]);
        }
        for version in &versions {
            let args = ["template", &spec.name, chart_arg, "--kube-version", version];
            let out = ok(&helm, &args);
            if let Some(helm4) = &helm4 {
                assert_eq!(
                    without_blank_lines(&ok(helm4, &args)),
                    without_blank_lines(&out),
                    "{case}: helm4 template --kube-version {version} differs from helm 3"
                );
            }
            let docs = documents(&out);
            check_objects(&case, &spec, &docs);
            let file = tmp.path().join(format!("{case}-{version}.yaml"));
            std::fs::write(&file, &out).unwrap();
            rendered.entry(version).or_default().push(file);
        }
    }
    let Some(validate) = validate else { return };
    for (version, files) in &rendered {
        let mut args = vec!["--strict", "-k", version];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        let out = ok(&validate, &args);
        let passed = out
            .lines()
            .filter(|l| l.contains(" passed for resource "))
            .count();
        assert!(
            passed >= files.len() * 4,
            "kubernetes-validate {version}: only {passed} resources passed\n{out}"
        );
        eprintln!(
            "kubernetes-validate --strict -k {version}: {passed} resources in {} charts passed",
            files.len()
        );
    }
}

/// The rendered objects follow /work/notes/objects.md for `spec` with default values.
fn check_objects(case: &str, spec: &Spec, docs: &[Yaml]) {
    let kinds: Vec<(&str, &str)> = docs.iter().map(kind_of).collect();
    let has = |kind: &str| kinds.iter().any(|(k, _)| *k == kind);
    let deployment = spec.workload == WorkloadKind::Deployment;
    assert!(
        kinds.contains(&("ServiceAccount", spec.name.as_str())),
        "{case}: {kinds:?}"
    );
    assert!(
        kinds.contains(&(spec.workload.as_str(), spec.name.as_str())),
        "{case}: {kinds:?}"
    );
    assert_eq!(has("ConfigMap"), spec.config.is_some(), "{case}: {kinds:?}");
    let app_service = kinds.contains(&("Service", spec.name.as_str()));
    assert_eq!(
        app_service,
        spec.exposed_ports().next().is_some(),
        "{case}: {kinds:?}"
    );
    assert_eq!(
        has("PodDisruptionBudget"),
        deployment && spec.replicas > 1,
        "{case}: {kinds:?}"
    );
    assert!(
        !has("ServiceMonitor"),
        "{case}: a ServiceMonitor without the API"
    );

    let workload = docs
        .iter()
        .find(|d| kind_of(d).0 == spec.workload.as_str())
        .unwrap();
    let pod = &workload["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"].as_str(),
        Some(spec.image.to_string().as_str()),
        "{case}"
    );
    assert_eq!(
        pod["terminationGracePeriodSeconds"].as_i64(),
        Some(spec.shutdown.stop_timeout_secs() as i64),
        "{case}"
    );
    let env: Vec<&str> = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = spec.contract_env().iter().map(|(k, _)| *k).collect();
    if !deployment {
        expected.push("NODE_NAME");
    }
    expected.extend(spec.env.iter().map(|e| e.name.as_str()));
    assert_eq!(env, expected, "{case}");
    for (name, value) in spec.contract_env() {
        let entry = container["env"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .unwrap();
        assert_eq!(
            entry["value"].as_str(),
            Some(value.as_str()),
            "{case}: {name}"
        );
    }
    let startup = &container["startupProbe"];
    let threshold = startup["failureThreshold"].as_i64().unwrap() as u64;
    assert!(
        threshold * 2 >= spec.health.startup_timeout.as_secs_ceil(),
        "{case}"
    );
    assert_eq!(startup["httpGet"]["port"].as_str(), Some("admin"), "{case}");
    let ports: Vec<&str> = container["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(ports.last(), Some(&"admin"), "{case}");

    // The Service never carries the admin port.
    for doc in docs
        .iter()
        .filter(|d| kind_of(d) == ("Service", spec.name.as_str()))
    {
        for port in doc["spec"]["ports"].as_vec().unwrap() {
            assert_ne!(port["name"].as_str(), Some("admin"), "{case}");
            assert_ne!(
                port["port"].as_i64(),
                Some(i64::from(spec.health.port)),
                "{case}"
            );
        }
    }

    // Security defaults.
    let sc = &container["securityContext"];
    assert_eq!(
        sc["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "{case}"
    );
    assert_eq!(
        sc["capabilities"]["drop"][0].as_str(),
        Some("ALL"),
        "{case}"
    );
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault"),
        "{case}"
    );
    assert_eq!(
        pod["automountServiceAccountToken"].as_bool(),
        Some(false),
        "{case}"
    );

    // Pod annotations: checksum only without reload, scrape annotations only with metrics.
    let annotations = &workload["spec"]["template"]["metadata"]["annotations"];
    let checksum = spec.config.as_ref().is_some_and(|c| !c.reload);
    assert_eq!(
        !annotations["checksum/config"].is_badvalue(),
        checksum,
        "{case}"
    );
    if let (true, Some(config)) = (checksum, &spec.config) {
        let hex: String = Sha256::digest(config.contents.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            annotations["checksum/config"].as_str(),
            Some(hex.as_str()),
            "{case}: checksum/config"
        );
    }
    if let Some(config) = &spec.config {
        let map = docs.iter().find(|d| kind_of(d).0 == "ConfigMap").unwrap();
        assert_eq!(
            map["data"][config.file_name.as_str()].as_str(),
            Some(config.contents.as_str()),
            "{case}"
        );
    }
    assert_eq!(
        !annotations["prometheus.io/scrape"].is_badvalue(),
        spec.metrics.enabled,
        "{case}"
    );

    // Linter exemptions only for the features in use.
    let meta = &workload["metadata"]["annotations"];
    let present = |key: &str| !meta[key].is_badvalue();
    assert!(
        present("checkov.io/skip1") && present("checkov.io/skip2") && present("checkov.io/skip8"),
        "{case}"
    );
    assert_eq!(
        present("ignore-check.kube-linter.io/host-network"),
        spec.host.network,
        "{case}"
    );
    assert_eq!(present("checkov.io/skip4"), spec.host.network, "{case}");
    assert_eq!(
        present("ignore-check.kube-linter.io/host-pid"),
        spec.host.pid,
        "{case}"
    );
    let host_path = spec
        .volumes
        .iter()
        .any(|v| matches!(v.source, VolumeSource::HostPath(_)));
    assert_eq!(
        present("ignore-check.kube-linter.io/sensitive-host-mounts"),
        host_path,
        "{case}"
    );
    assert_eq!(
        present("polaris.fairwinds.com/topologySpreadConstraint-exempt"),
        !deployment,
        "{case}"
    );
    assert_eq!(
        present("checkov.io/skip6"),
        !spec.security.capabilities.is_empty(),
        "{case}"
    );
    assert_eq!(
        present("checkov.io/skip3"),
        spec.image.digest.is_none(),
        "{case}"
    );

    // The helm test pod: the daemon's own image in probe mode, hardened, with resources.
    let test = docs
        .iter()
        .find(|d| kind_of(d).0 == "Pod")
        .expect("test pod");
    assert_eq!(
        test["metadata"]["annotations"]["helm.sh/hook"].as_str(),
        Some("test"),
        "{case}"
    );
    let probe = &test["spec"]["containers"][0];
    assert_eq!(
        probe["image"].as_str(),
        Some(spec.image.to_string().as_str()),
        "{case}"
    );
    assert_eq!(
        probe["command"][0].as_str(),
        Some(spec.binary_path().as_str()),
        "{case}"
    );
    let args: Vec<&str> = probe["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let addr = format!("{}-admin:{}", spec.name, spec.health.port);
    assert_eq!(
        args,
        ["--berth-probe", "readyz", "--addr", addr.as_str()],
        "{case}"
    );
    assert_eq!(
        probe["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true),
        "{case}"
    );
    assert_eq!(
        probe["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true),
        "{case}"
    );
    assert!(
        !probe["resources"]["limits"]["memory"].is_badvalue(),
        "{case}"
    );
    assert!(
        kinds.contains(&("Service", format!("{}-admin", spec.name).as_str())),
        "{case}"
    );
}

#[test]
fn service_monitor_only_with_the_prometheus_operator_api() {
    let Some(helm) = helm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let spec = sample(WorkloadKind::DaemonSet);
    let chart = write_chart(&spec, tmp.path());
    let chart = chart.to_str().unwrap();
    let api = ["--api-versions", "monitoring.coreos.com/v1"];
    let with_api = ok(
        &helm,
        &[&["template", "echo-daemon", chart][..], &api].concat(),
    );
    let monitor = documents(&with_api)
        .into_iter()
        .find(|d| kind_of(d).0 == "ServiceMonitor")
        .expect("ServiceMonitor with the API");
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"].as_str(),
        Some("admin")
    );
    assert_eq!(
        monitor["spec"]["endpoints"][0]["path"].as_str(),
        Some("/metrics")
    );
    let metrics_off = ok(
        &helm,
        &[
            &[
                "template",
                "echo-daemon",
                chart,
                "--set",
                "metrics.enabled=false",
            ][..],
            &api,
        ]
        .concat(),
    );
    assert!(!metrics_off.contains("kind: ServiceMonitor"));
    let no_admin = run(
        &helm,
        &[
            &[
                "template",
                "echo-daemon",
                chart,
                "--set",
                "adminService.enabled=false",
            ][..],
            &api,
        ]
        .concat(),
        None,
    );
    assert!(
        !no_admin.status.success(),
        "a ServiceMonitor without the admin Service must fail"
    );
    assert!(String::from_utf8_lossy(&no_admin.stderr).contains("adminService.enabled"));
}

#[test]
fn schema_rejects_wrong_types_and_unknown_keys() {
    for helm in helms() {
        schema_rejects_wrong_types_and_unknown_keys_with(&helm);
    }
}

fn schema_rejects_wrong_types_and_unknown_keys_with(helm: &Path) {
    let helm = helm.to_path_buf();
    let tmp = tempfile::tempdir().unwrap();
    let spec = sample(WorkloadKind::Deployment);
    let chart = write_chart(&spec, tmp.path());
    let chart = chart.to_str().unwrap();
    let bad: [(&[&str], &str); 9] = [
        // Duplicate list keys: refused by the chart itself (server-side apply, Helm 4's
        // default, would refuse them at install time; client-side apply hid them).
        (
            &[
                "--set-json",
                r#"env=[{"name":"BERTH_METRICS","value":"false"}]"#,
            ],
            "env: BERTH_METRICS is set twice",
        ),
        (
            &[
                "--set-json",
                r#"ports=[{"name":"http","port":8080,"protocol":"TCP","expose":true},{"name":"web","port":8080,"protocol":"TCP","expose":true}]"#,
            ],
            "ports: web (8080/TCP) repeats",
        ),
        (
            &[
                "--set-json",
                r#"ports=[{"name":"admin","port":7000,"protocol":"TCP","expose":false}]"#,
            ],
            "ports: admin (7000/TCP) repeats",
        ),
        (&["--set", "replicas=abc"], "replicas"),
        (&["--set-json", r#"health={"port":"admin"}"#], "port"),
        (&["--set", "workload=StatefulSet"], "workload"),
        (&["--set", "image.tagg=1"], "tagg"),
        (&["--set", "shutdown.drainTimeout=20"], "drainTimeout"),
        (
            &["--set-json", r#"volumes=[{"name":"a","mountPath":"/a"}]"#],
            "volumes",
        ),
    ];
    for (i, (flags, needle)) in bad.into_iter().enumerate() {
        // The first three fail in the templates (`fail`), which `helm lint` only logs.
        let commands: &[&str] = if i < 3 {
            &["template"]
        } else {
            &["lint", "template"]
        };
        for &command in commands {
            let mut args = vec![command];
            if command == "lint" {
                args.push("--strict");
            } else {
                args.push("echo-daemon");
            }
            args.push(chart);
            args.extend_from_slice(flags);
            let out = run(&helm, &args, None);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !out.status.success(),
                "helm {} accepted {flags:?}",
                args.join(" ")
            );
            assert!(text.contains(needle), "helm {command} {flags:?}: {text}");
        }
    }
    // Right types pass.
    ok(
        &helm,
        &[
            "lint",
            "--strict",
            chart,
            "--set",
            "replicas=3",
            "--set",
            "rollingUpdate.maxUnavailable=25%",
        ],
    );
}

/// Every `$ref` in a JSON Schema document, with its JSON pointer.
fn refs(value: &serde_json::Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    out.push((at.to_owned(), v.as_str().unwrap_or_default().to_owned()));
                }
                refs(v, &format!("{at}/{key}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// values.schema.json is self-contained: no `$ref` leaves the document and no `$id` names a
/// remote base, for every generated chart and the repository chart. Both Helm majors fetch a
/// remote `$ref` over HTTP when they load the schema (lint, template, install), so such a
/// chart breaks without network access or when the URL changes: the control below shows the
/// real tools failing on one (`example.invalid` never resolves).
#[test]
fn values_schema_is_self_contained() {
    let tmp = tempfile::tempdir().unwrap();
    let mut schemas = vec![(
        "charts/berth".to_owned(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/berth"),
    )];
    for (case, spec) in cases().into_iter().chain(support::all_cases()) {
        let dir = tmp.path().join(&case);
        schemas.push((case, write_chart(&spec, &dir)));
    }
    for (case, chart) in &schemas {
        let text = std::fs::read_to_string(chart.join("values.schema.json")).unwrap();
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut found = Vec::new();
        refs(&schema, "", &mut found);
        for (at, target) in &found {
            assert!(
                target.starts_with('#'),
                "{case}: values.schema.json{at}: $ref {target:?} leaves the document"
            );
        }
        assert!(
            schema.get("$id").is_none() && !text.contains("\"$id\""),
            "{case}: values.schema.json sets $id"
        );
    }
    // Control: a schema with a remote $ref fails both Helm majors when the reference cannot be
    // fetched.
    let (_, chart) = &schemas[1];
    let path = chart.join("values.schema.json");
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    schema["properties"]["replicas"] =
        serde_json::json!({"$ref": "https://example.invalid/replicas.json"});
    std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
    let mut found = Vec::new();
    refs(&schema, "", &mut found);
    assert!(found.iter().any(|(_, t)| !t.starts_with('#')));
    for helm in helms() {
        let out = run(&helm, &["lint", "--strict", chart.to_str().unwrap()], None);
        assert!(
            !out.status.success(),
            "{} lint accepted a remote $ref:\n{}",
            helm.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn repository_chart_lints_on_its_own() {
    let Some(helm) = helm() else { return };
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/berth");
    ok(&helm, &["lint", "--strict", chart.to_str().unwrap()]);
    if let Some(helm4) = helm4() {
        ok(&helm4, &["lint", "--strict", chart.to_str().unwrap()]);
        assert_eq!(
            without_blank_lines(&ok(&helm4, &["template", "berth", chart.to_str().unwrap()])),
            without_blank_lines(&ok(&helm, &["template", "berth", chart.to_str().unwrap()])),
            "helm4 renders charts/berth differently"
        );
    }
    let out = ok(&helm, &["template", "berth", chart.to_str().unwrap()]);
    let kinds: Vec<String> = documents(&out)
        .iter()
        .map(|d| kind_of(d).0.to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "PodDisruptionBudget",
            "ServiceAccount",
            "ConfigMap",
            "Service",
            "Service",
            "Deployment",
            "Pod"
        ],
    );
}

#[test]
fn generated_yaml_files_pass_yamllint() {
    let Some(yamllint) = support::find_tool("BERTH_YAMLLINT", &["yamllint"], "--version", true)
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = "{extends: default, rules: {line-length: {max: 120}, document-start: disable}}";
    for (case, spec) in cases() {
        let chart = write_chart(&spec, &tmp.path().join(&case));
        for file in ["values.yaml", "Chart.yaml"] {
            let path = chart.join(file);
            let out = run(
                &yamllint,
                &["-s", "-d", config, path.to_str().unwrap()],
                None,
            );
            assert!(
                out.status.success(),
                "yamllint {case}/{file}:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

/// checkov and kube-score report nothing on a fully described daemon except deliberate,
/// documented choices: every exemption is an annotation with its reason.
#[test]
fn linters_report_only_documented_findings() {
    let Some(helm) = helm() else { return };
    let checkov = support::checkov();
    let kube_score = support::kube_score();
    if checkov.is_none() && kube_score.is_none() {
        return;
    }
    // Not a dot-directory: checkov skips hidden directories.
    let tmp = tempfile::Builder::new()
        .prefix("berth-helm-")
        .tempdir()
        .unwrap();
    let out_dir = tmp.path().join("rendered");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut node_agent = sample(WorkloadKind::DaemonSet);
    node_agent.name = "node-agent".into();
    node_agent.host.network = true;
    node_agent.host.pid = true;
    node_agent.security.capabilities = vec!["NET_ADMIN".into()];
    for spec in [sample(WorkloadKind::Deployment), node_agent] {
        let chart = write_chart(&spec, &tmp.path().join(&spec.name));
        let out = ok(&helm, &["template", &spec.name, chart.to_str().unwrap()]);
        std::fs::write(out_dir.join(format!("{}.yaml", spec.name)), out).unwrap();
    }
    if let Some(checkov) = checkov {
        let out = run(
            &checkov,
            &[
                "-d",
                out_dir.to_str().unwrap(),
                "--framework",
                "kubernetes",
                "--skip-download",
                "--compact",
            ],
            None,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Passed checks:"),
            "checkov did not run:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains("FAILED for resource"),
            "checkov findings:\n{text}"
        );
        assert!(out.status.success(), "checkov failed:\n{text}");
    }
    if let Some(kube_score) = kube_score {
        let files: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path().to_str().unwrap().to_owned())
            .collect();
        let mut args = vec!["score"];
        args.extend(files.iter().map(String::as_str));
        let out = run(&kube_score, &args, None);
        let text = String::from_utf8_lossy(&out.stdout);
        let findings: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("[CRITICAL]") || l.contains("[WARNING]"))
            .map(str::trim)
            .collect();
        assert!(
            findings.is_empty(),
            "kube-score findings: {findings:?}\n{text}"
        );
    }
}

/// NOTES.txt renders (helm template skips it, so it is wrapped into a template here) and
/// names the workload, the Service and the `helm test` command.
#[test]
fn notes_render_for_both_workloads() {
    let Some(helm) = helm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (case, spec) in cases() {
        let chart = write_chart(&spec, &tmp.path().join(&case));
        let notes = std::fs::read_to_string(chart.join("templates/NOTES.txt")).unwrap();
        let wrapper = format!(
            "{{{{- define \"notes\" }}}}{notes}{{{{- end }}}}\nnotes: {{{{ include \"notes\" . | toJson }}}}\n"
        );
        std::fs::write(chart.join("templates/zz-notes.yaml"), wrapper).unwrap();
        let out = ok(
            &helm,
            &[
                "template",
                &spec.name,
                chart.to_str().unwrap(),
                "-n",
                "demo",
                "--show-only",
                "templates/zz-notes.yaml",
            ],
        );
        let docs = documents(&out);
        let text = docs[0]["notes"].as_str().unwrap();
        let kind = spec.workload.as_str();
        assert!(
            text.contains(&format!(
                "{kind} {} is installed in namespace demo.",
                spec.name
            )),
            "{case}: {text}"
        );
        assert!(
            text.contains(&format!(
                "rollout status {}/{}",
                kind.to_lowercase(),
                spec.name
            )),
            "{case}: {text}"
        );
        assert!(
            text.contains(&format!("helm test {} --namespace demo", spec.name)),
            "{case}: {text}"
        );
        assert_eq!(
            text.contains("port-forward service/"),
            spec.exposed_ports().next().is_some(),
            "{case}: {text}"
        );
        assert!(
            text.contains(&format!(
                "Stopping takes up to {}s",
                spec.shutdown.stop_timeout_secs()
            )),
            "{case}: {text}"
        );
    }
}

/// The test pod never runs as root, even for a daemon that does.
#[test]
fn test_pod_is_non_root_for_a_root_daemon() {
    let Some(helm) = helm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = sample(WorkloadKind::DaemonSet);
    spec.security.run_as_user = 0;
    spec.security.run_as_root = true;
    let chart = write_chart(&spec, tmp.path());
    let out = ok(&helm, &["template", &spec.name, chart.to_str().unwrap()]);
    let docs = documents(&out);
    let daemon = docs.iter().find(|d| kind_of(d).0 == "DaemonSet").unwrap();
    let pod_sc = &daemon["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(pod_sc["runAsUser"].as_i64(), Some(0));
    assert_eq!(pod_sc["runAsNonRoot"].as_bool(), Some(false));
    let test = docs.iter().find(|d| kind_of(d).0 == "Pod").unwrap();
    assert_eq!(
        test["spec"]["securityContext"]["runAsUser"].as_i64(),
        Some(65532)
    );
    assert_eq!(
        test["spec"]["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    let container_sc = &test["spec"]["containers"][0]["securityContext"];
    assert_eq!(container_sc["runAsUser"].as_i64(), Some(65532));
    assert_eq!(container_sc["runAsNonRoot"].as_bool(), Some(true));
}
