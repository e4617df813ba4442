//! Unit tests of loading and resolving; the table of bad descriptions is in `tests/validate.rs`.

use std::path::Path;

use super::*;

fn load_ok(src: &str) -> Loaded {
    load_str(src, "berth.yaml", Path::new(".")).unwrap_or_else(|d| panic!("{d}"))
}

const MINIMAL: &str = "apiVersion: berth/v1\nname: echo-daemon\nworkload: Deployment\nimage: ghcr.io/acme/echo-daemon:0.1.0\n";

#[test]
fn minimal_gets_every_default() {
    let loaded = load_ok(MINIMAL);
    assert!(loaded.warnings.is_empty());
    let s = loaded.spec;
    assert_eq!(s.replicas, 2);
    assert_eq!(s.health.port, 9090);
    assert_eq!(s.health.startup_timeout, Duration::from_secs(60));
    assert_eq!(s.shutdown.pre_stop_delay, Duration::from_secs(5));
    assert_eq!(s.shutdown.drain_timeout, Duration::from_secs(20));
    assert_eq!(
        s.scheduling
            .node_selector
            .get("kubernetes.io/os")
            .map(String::as_str),
        Some("linux")
    );
    assert_eq!(s.scheduling.max_unavailable, IntOrPercent::Int(1));
    assert_eq!(s.security.run_as_user, 65532);
    assert!(s.security.read_only_root_filesystem);
    assert!(s.metrics.enabled);
    assert_eq!(s.build.package, "echo-daemon");
    assert_eq!(s.build.bin, "echo-daemon");
    assert_eq!(s.build.rust_version, "1.95");
    assert_eq!(s.build.base, BaseImage::Distroless);
    assert_eq!(s.build.platforms, vec![Platform::LinuxAmd64]);
    assert_eq!(s.systemd.user, None);
    assert_eq!(s.systemd.restart, RestartPolicy::OnFailure);
    assert_eq!(s.systemd.watchdog, Duration::from_secs(30));
    assert_eq!(s.config, None);
    assert_eq!(s.image.to_string(), "ghcr.io/acme/echo-daemon:0.1.0");
}

#[test]
fn daemonset_has_no_replicas() {
    let s = load_ok(&MINIMAL.replace("Deployment", "DaemonSet")).spec;
    assert_eq!(s.workload, WorkloadKind::DaemonSet);
    assert_eq!(s.replicas, 0);
}

#[test]
fn the_issue_example_resolves_like_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/echo.toml"),
        "greeting = \"hello\"\n",
    )
    .unwrap();
    let src = r#"apiVersion: berth/v1
name: echo-daemon
description: Echo server
workload: Deployment
image: ghcr.io/acme/echo-daemon:0.1.0
args: [--verbose]
ports:
  - name: http
    port: 8080
env:
  RUST_LOG: info
  TOKEN: {secret: echo-secrets, key: token}
  NODE: {field: spec.nodeName}
resources:
  requests: {cpu: 50m, memory: 64Mi}
  limits: {cpu: 500m, memory: 128Mi}
volumes:
  - name: varlog
    emptyDir: {}
    mountPath: /host/var/log
config:
  file: config/echo.toml
  mountPath: /etc/echo-daemon/echo.toml
  reload: true
"#;
    let loaded = load_str(src, "berth.yaml", dir.path()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(loaded.spec, sample::sample(WorkloadKind::Deployment));
}

#[test]
fn daemonset_sample_resolves() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/echo.toml"),
        "greeting = \"hello\"\n",
    )
    .unwrap();
    let src = r#"apiVersion: berth/v1
name: echo-daemon
description: Echo server
workload: DaemonSet
image: ghcr.io/acme/echo-daemon:0.1.0
args: [--verbose]
ports: [{name: http, port: 8080}]
env:
  RUST_LOG: info
  TOKEN: {secret: echo-secrets, key: token}
  NODE: {field: spec.nodeName}
resources:
  requests: {cpu: 50m, memory: 64Mi}
  limits: {cpu: 500m, memory: 128Mi}
volumes:
  - {name: varlog, hostPath: /var/log, mountPath: /host/var/log, readOnly: true}
config: {file: ./config/echo.toml, reload: true}
scheduling:
  tolerations: [{operator: Exists}]
"#;
    let path = dir.path().join("berth.yaml");
    std::fs::write(&path, src).unwrap();
    let loaded = load(&path).unwrap_or_else(|d| panic!("{d}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.spec, sample::sample(WorkloadKind::DaemonSet));
}

#[test]
fn capabilities_are_normalized() {
    let src = format!(
        "{MINIMAL}security:\n  capabilities: [cap_net_bind_service, CHOWN, NET_BIND_SERVICE, sys_admin]\n"
    );
    let loaded = load_ok(&src);
    assert_eq!(
        loaded.spec.security.capabilities,
        ["CHOWN", "NET_BIND_SERVICE", "SYS_ADMIN"]
    );
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0].message.contains("SYS_ADMIN"),
        "{}",
        loaded.warnings[0]
    );
}

#[test]
fn systemd_user_and_explicit_values() {
    let src = format!(
        "{MINIMAL}systemd: {{user: echo, restart: always, watchdog: 0s}}\nbuild: {{package: echo, rustVersion: 1.90, base: scratch}}\nscheduling: {{nodeSelector: {{}}}}\n"
    );
    let s = load_ok(&src).spec;
    assert_eq!(s.systemd.user.as_deref(), Some("echo"));
    assert_eq!(s.systemd.restart, RestartPolicy::Always);
    assert!(s.systemd.watchdog.is_zero());
    assert_eq!(
        (
            s.build.package.as_str(),
            s.build.bin.as_str(),
            s.build.rust_version.as_str()
        ),
        ("echo", "echo", "1.90")
    );
    assert!(s.scheduling.node_selector.is_empty());
}

#[test]
fn errors_are_collected_and_sorted() {
    let src =
        "apiVersion: berth/v2\nname: Echo\nworkload: Job\nimage: x\nshutdown: {drainTimout: 20s}\n";
    let d = load_str(src, "b.yaml", Path::new(".")).unwrap_err();
    let lines: Vec<String> = d
        .iter()
        .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(
        lines,
        [
            "1:13 apiVersion: unsupported version \"berth/v2\"",
            "2:7 name: \"Echo\" is not a valid name",
            "3:11 workload: \"Job\" is not one of Deployment, DaemonSet",
            "4:8 image: image \"x\" has no tag",
            "5:12 unknown field 'drainTimout', did you mean 'drainTimeout'?",
        ]
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    for src in [
        "",
        "\0\u{1}\u{2}",
        "- a\n- b\n",
        "just a string",
        "~",
        "a: &a [*a]",
        "{",
        "]",
        "key: 'unterminated",
        "? [a]\n: b\n",
        "apiVersion: berth/v1\napiVersion: berth/v1\n",
        "\u{feff}apiVersion: berth/v1\n",
        "%YAML 1.2\n---\na: 1\n",
        "!!binary a: b",
        "a: !custom b",
    ] {
        assert!(load_str(src, "x", Path::new(".")).is_err(), "{src:?}");
    }
    let big = "a".repeat(MAX_FILE_SIZE as usize + 1);
    let d = load_str(&big, "x", Path::new(".")).unwrap_err();
    assert!(d.to_string().contains("1 MiB"), "{d}");
    let deep = format!("a: {}", "[".repeat(200_000));
    assert!(load_str(&deep, "x", Path::new(".")).is_err());
}

#[test]
fn privileged_port_warning_points_at_the_port() {
    let src =
        format!("{MINIMAL}ports:\n  - {{name: http, port: 80}}\n  - {{name: https, port: 443}}\n");
    let loaded = load_ok(&src);
    let w: Vec<String> = loaded
        .warnings
        .iter()
        .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(
        w,
        [
            "6:24 ports[0].port: 80 is a privileged port; a non-root daemon cannot bind it",
            "7:25 ports[1].port: 443 is a privileged port; a non-root daemon cannot bind it",
        ]
    );
    let with_cap = format!("{src}security: {{capabilities: [NET_BIND_SERVICE]}}\n");
    assert!(load_ok(&with_cap).warnings.is_empty());
}

#[test]
fn too_many_problems_are_capped() {
    let mut src = MINIMAL.to_owned();
    for i in 0..500 {
        src.push_str(&format!("unknown{i}: 1\n"));
    }
    let d = load_str(&src, "b.yaml", Path::new(".")).unwrap_err();
    assert_eq!(d.len(), MAX_DIAGNOSTICS + 1);
    let last = d.iter().last().unwrap();
    assert_eq!(
        last.message,
        "400 more errors not shown (at most 100 are reported)"
    );
}

#[test]
fn omitted_resources_get_the_starting_values_with_a_note() {
    let loaded = load_ok(MINIMAL);
    assert_eq!(loaded.spec.resources, Resources::starting_values());
    assert_eq!(
        loaded.spec.resources.requests.cpu.as_deref(),
        Some(STARTING_REQUESTS.0)
    );
    assert_eq!(
        loaded.spec.resources.limits.memory.as_deref(),
        Some(STARTING_LIMITS.1)
    );
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.notes.len(), 1, "{:?}", loaded.notes);
    let note = loaded.notes[0].to_string();
    assert!(
        note.starts_with(
            "berth.yaml:1:1: note: resources omitted: using berth's starting values, requests {cpu: 50m, memory: 64Mi} and limits {cpu: 500m, memory: 128Mi}"
        ),
        "{note}"
    );
    // The same text `berth init` writes.
    let (requests, limits) = Resources::starting_values_text();
    let init = crate::commands::init::template("x", false, "ghcr.io/acme/x:1.0.0");
    assert!(init.contains(&format!("  requests: {requests}\n  limits: {limits}\n")));
    assert_eq!(load_ok(&init).spec.resources, Resources::starting_values());
}

#[test]
fn explicit_empty_resources_mean_none_with_a_warning() {
    for written in ["resources: {}\n", "resources: {requests: {}, limits: {}}\n"] {
        let loaded = load_ok(&format!("{MINIMAL}{written}"));
        assert!(loaded.spec.resources.is_empty(), "{written}");
        assert!(loaded.notes.is_empty(), "{written}");
        assert_eq!(loaded.warnings.len(), 1, "{written}");
        let w = loaded.warnings[0].to_string();
        assert!(
            w.starts_with("berth.yaml:5:12: warning: resources sets no requests and no limits: the pods get the BestEffort QoS class"),
            "{w}"
        );
    }
    // Only some values: no warning (Burstable), no note.
    let partial = load_ok(&format!(
        "{MINIMAL}resources: {{requests: {{memory: 32Mi}}}}\n"
    ));
    assert!(partial.warnings.is_empty() && partial.notes.is_empty());
    assert_eq!(
        partial.spec.resources.requests.memory.as_deref(),
        Some("32Mi")
    );
    assert_eq!(partial.spec.resources.limits.cpu, None);
}

#[test]
fn platforms_keep_their_order_and_suggest_spellings() {
    let s = load_ok(&format!(
        "{MINIMAL}build:\n  platforms: [linux/arm64, linux/amd64]\n"
    ))
    .spec;
    assert_eq!(
        s.build.platforms,
        vec![Platform::LinuxArm64, Platform::LinuxAmd64]
    );
    let err = load_str(
        &format!("{MINIMAL}build:\n  platforms: [linux/aarch64, linux/amd46]\n"),
        "berth.yaml",
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("write linux/arm64"), "{err}");
    assert!(err.contains("did you mean 'linux/amd64'?"), "{err}");
    assert!(
        err.contains("platforms among linux/amd64, linux/arm64"),
        "{err}"
    );
}
