//! Table-driven tests of `berth validate` on bad descriptions: every case runs the real binary
//! in an empty directory and asserts the exact diagnostics (line and column included), exit
//! code 2, an empty stdout, and that nothing was written.

use std::path::Path;
use std::process::Command;

const BASE: &str =
    "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\n";

struct Case {
    name: &'static str,
    source: Vec<u8>,
    /// Extra files written beside berth.yaml before the run.
    files: &'static [(&'static str, &'static str)],
    /// The `FILE:LINE:COLUMN: severity: message` lines, in order.
    expected: &'static [&'static str],
}

fn case(name: &'static str, source: impl Into<Vec<u8>>, expected: &'static [&'static str]) -> Case {
    Case {
        name,
        source: source.into(),
        files: &[],
        expected,
    }
}

/// BASE followed by `extra`: line 5 is the first line of `extra`.
fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn cases() -> Vec<Case> {
    vec![
        case("empty", "", &["berth.yaml:1:1: error: the description is empty"]),
        case("comments only", "# nothing here\n", &["berth.yaml:1:1: error: the description is empty"]),
        case(
            "top-level list",
            "- apiVersion: berth/v1\n",
            &["berth.yaml:1:1: error: the description must be a mapping, found a list"],
        ),
        case(
            "top-level string",
            "hello\n",
            &["berth.yaml:1:1: error: the description must be a mapping, found the string \"hello\""],
        ),
        case(
            "yaml syntax error",
            "apiVersion: berth/v1\nname: echo\n  workload: Deployment\n",
            &["berth.yaml:3:11: error: YAML syntax error: mapping values are not allowed in this context"],
        ),
        case(
            "unterminated quote",
            "apiVersion: 'berth/v1\n",
            &["berth.yaml:1:13: error: YAML syntax error: while scanning a quoted scalar, found unexpected end of stream"],
        ),
        case(
            "binary garbage",
            b"apiVersion: berth/v1\nname: \xff\xfe\x00\x01\n".to_vec(),
            &["berth.yaml:2:7: error: the file is not UTF-8 text (byte 0xff)"],
        ),
        case("alias", with("args: &a [x]\ncommand: *a\n"), &["berth.yaml:6:10: error: YAML aliases (*name) are not supported"]),
        case("two documents", with("---\nname: other\n"), &["berth.yaml:5:1: error: more than one YAML document in the file"]),
        case(
            "deep nesting",
            with(&format!("args: {}{}\n", "[".repeat(70), "]".repeat(70))),
            &["berth.yaml:5:70: error: nesting deeper than 64 levels"],
        ),
        case(
            "missing required fields",
            "description: hello\n",
            &[
                "berth.yaml:1:1: error: missing required field 'apiVersion'",
                "berth.yaml:1:1: error: missing required field 'name'",
                "berth.yaml:1:1: error: missing required field 'workload'",
                "berth.yaml:1:1: error: missing required field 'image'",
            ],
        ),
        case(
            "required field without value",
            "apiVersion: berth/v1\nname:\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\n",
            &["berth.yaml:2:1: error: name: a value is required"],
        ),
        case(
            "wrong apiVersion",
            BASE.replace("berth/v1", "berth/v2"),
            &["berth.yaml:1:13: error: apiVersion: unsupported version \"berth/v2\""],
        ),
        case("upper-case name", BASE.replace("name: echo", "name: Echo"), &["berth.yaml:2:7: error: name: \"Echo\" is not a valid name"]),
        case(
            "name too long",
            BASE.replace("name: echo", &format!("name: {}", "a".repeat(54))),
            &["berth.yaml:2:7: error: name: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is 54 characters long, at most 53 are allowed"],
        ),
        case("numeric name", BASE.replace("name: echo", "name: 42"), &["berth.yaml:2:7: error: name: expected a string, found the integer 42"]),
        case(
            "lower-case workload",
            BASE.replace("Deployment", "daemonset"),
            &["berth.yaml:3:11: error: workload: \"daemonset\" is not one of Deployment, DaemonSet"],
        ),
        case(
            "replicas on a DaemonSet",
            BASE.replace("Deployment", "DaemonSet") + "replicas: 3\n",
            &["berth.yaml:5:11: error: replicas: a DaemonSet has no replicas, it runs one pod on every matching node"],
        ),
        case("negative replicas", with("replicas: -1\n"), &["berth.yaml:5:11: error: replicas: -1 is out of range"]),
        case("replicas as text", with("replicas: two\n"), &["berth.yaml:5:11: error: replicas: expected an integer, found the string \"two\""]),
        case(
            "image without tag",
            BASE.replace(":0.1.0", ""),
            &["berth.yaml:4:8: error: image: image \"ghcr.io/acme/echo\" has no tag"],
        ),
        case(
            "image tag latest",
            BASE.replace(":0.1.0", ":latest"),
            &["berth.yaml:4:8: error: image: image \"ghcr.io/acme/echo:latest\" uses the tag 'latest'"],
        ),
        case(
            "image upper case",
            BASE.replace("acme/echo", "Acme/echo"),
            &["berth.yaml:4:8: error: image: \"Acme\" is not a valid image repository path component"],
        ),
        case(
            "image bad digest",
            BASE.replace(":0.1.0", "@sha256:abc"),
            &["berth.yaml:4:8: error: image: image digest \"sha256:abc\" is not sha256:<64 lower-case hex digits>"],
        ),
        case(
            "image bad registry port",
            BASE.replace("ghcr.io", "localhost:99999"),
            &["berth.yaml:4:8: error: image: \"localhost:99999\" is not a valid registry host"],
        ),
        case("unknown top-level field", with("replica: 2\n"), &["berth.yaml:5:1: error: unknown field 'replica', did you mean 'replicas'?"]),
        case("unknown field without suggestion", with("colour: blue\n"), &["berth.yaml:5:1: error: unknown field 'colour'"]),
        case(
            "unknown nested field",
            with("shutdown:\n  drainTimout: 20s\n"),
            &["berth.yaml:6:3: error: unknown field 'drainTimout', did you mean 'drainTimeout'?"],
        ),
        case("duplicate field", with("replicas: 2\nreplicas: 3\n"), &["berth.yaml:6:1: error: duplicate field 'replicas'"]),
        case("section not a mapping", with("health: 9090\n"), &["berth.yaml:5:9: error: health: expected a mapping, found the integer 9090"]),
        case("ports not a list", with("ports: http\n"), &["berth.yaml:5:8: error: ports: expected a list, found the string \"http\""]),
        case(
            "port out of range",
            with("ports:\n  - name: http\n    port: 70000\n"),
            &["berth.yaml:7:11: error: ports[0].port: 70000 is out of range"],
        ),
        case(
            "port as quoted string",
            with("ports:\n  - name: http\n    port: \"8080\"\n"),
            &["berth.yaml:7:11: error: ports[0].port: expected an integer, found the string \"8080\""],
        ),
        case(
            "port missing",
            with("ports:\n  - name: http\n"),
            &["berth.yaml:6:5: error: missing required field 'port' in ports[0]"],
        ),
        case(
            "duplicate port",
            with("ports:\n  - {name: http, port: 8080}\n  - {name: grpc, port: 8080}\n"),
            &["berth.yaml:7:24: error: ports[1].port: duplicate port 8080/TCP"],
        ),
        case(
            "port is the admin port",
            with("ports:\n  - {name: http, port: 9090}\n"),
            &["berth.yaml:6:24: error: ports[0].port: 9090 is the admin port (health.port)"],
        ),
        case(
            "port equals a custom admin port",
            with("health: {port: 8080}\nports:\n  - {name: http, port: 8080}\n"),
            &["berth.yaml:7:24: error: ports[0].port: 8080 is the admin port (health.port)"],
        ),
        case(
            "invalid port name",
            with("ports:\n  - {name: HTTP_1, port: 8080}\n"),
            &["berth.yaml:6:12: error: ports[0].name: \"HTTP_1\" is not a valid port name"],
        ),
        case(
            "port name too long",
            with("ports:\n  - {name: a-very-long-port-name, port: 8080}\n"),
            &["berth.yaml:6:12: error: ports[0].name: \"a-very-long-port-name\" is not a valid port name"],
        ),
        case(
            "duplicate port name",
            with("ports:\n  - {name: http, port: 8080}\n  - {name: http, port: 8081}\n"),
            &["berth.yaml:7:12: error: ports[1].name: duplicate port name \"http\""],
        ),
        case(
            "lower-case protocol",
            with("ports:\n  - {name: dns, port: 5353, protocol: udp}\n"),
            &["berth.yaml:6:39: error: ports[0].protocol: \"udp\" is not one of TCP, UDP"],
        ),
        case(
            "expose not a boolean",
            with("ports:\n  - {name: http, port: 8080, expose: yes}\n"),
            &["berth.yaml:6:38: error: ports[0].expose: expected true or false, found the string \"yes\""],
        ),
        case("admin port zero", with("health:\n  port: 0\n"), &["berth.yaml:6:9: error: health.port: 0 is out of range"]),
        case(
            "duration without unit",
            with("health:\n  startupTimeout: 60\n"),
            &["berth.yaml:6:19: error: health.startupTimeout: invalid duration \"60\": a unit is missing"],
        ),
        case(
            "zero startup timeout",
            with("health:\n  startupTimeout: 0s\n"),
            &["berth.yaml:6:19: error: health.startupTimeout: must be longer than 0s"],
        ),
        case(
            "duration with unknown unit",
            with("shutdown:\n  preStopDelay: 5sec\n"),
            &["berth.yaml:6:17: error: shutdown.preStopDelay: invalid duration \"5sec\": unknown unit"],
        ),
        case(
            "negative duration",
            with("shutdown:\n  preStopDelay: -5s\n"),
            &["berth.yaml:6:17: error: shutdown.preStopDelay: invalid duration \"-5s\": it is negative"],
        ),
        case(
            "zero drain timeout",
            with("shutdown:\n  drainTimeout: 0s\n"),
            &["berth.yaml:6:17: error: shutdown.drainTimeout: must be longer than 0s"],
        ),
        case("invalid env name", with("env:\n  1BAD: x\n"), &["berth.yaml:6:3: error: env: \"1BAD\" is not a valid variable name"]),
        case("reserved env name", with("env:\n  BERTH_ADMIN_ADDR: x\n"), &["berth.yaml:6:3: error: env: BERTH_ADMIN_ADDR is reserved for berth"]),
        case("env without value", with("env:\n  TOKEN:\n"), &["berth.yaml:6:3: error: env.TOKEN: a value is required"]),
        case("duplicate env", with("env:\n  A: x\n  A: y\n"), &["berth.yaml:7:3: error: env: duplicate key 'A'"]),
        case(
            "env secret without key",
            with("env:\n  TOKEN: {secret: echo-secrets}\n"),
            &["berth.yaml:6:10: error: missing required field 'key' in env.TOKEN"],
        ),
        case(
            "env secret and configMap",
            with("env:\n  TOKEN: {secret: a, configMap: b, key: k}\n"),
            &["berth.yaml:6:22: error: env.TOKEN: secret and configMap cannot be combined"],
        ),
        case(
            "env bad field path",
            with("env:\n  NODE: {field: spec.nodename}\n"),
            &["berth.yaml:6:17: error: env.NODE.field: \"spec.nodename\" is not a field path an environment variable can use"],
        ),
        case(
            "env field with key",
            with("env:\n  NODE: {field: spec.nodeName, key: x}\n"),
            &["berth.yaml:6:32: error: env.NODE.key: key is only used with secret or configMap"],
        ),
        case(
            "bad quantity",
            with("resources:\n  requests: {cpu: lots}\n"),
            &["berth.yaml:6:19: error: resources.requests.cpu: \"lots\" is not a Kubernetes quantity"],
        ),
        case(
            "limit below request",
            with("resources:\n  requests: {memory: 128Mi}\n  limits: {memory: 64Mi}\n"),
            &["berth.yaml:7:20: error: resources.limits.memory: the limit 64Mi is below the request 128Mi"],
        ),
        case(
            "memory in millibytes",
            with("resources:\n  limits: {memory: 64m}\n"),
            &["berth.yaml:6:20: error: resources.limits.memory: \"64m\" is a fraction of a byte"],
        ),
        case(
            "volume without source",
            with("volumes:\n  - {name: data, mountPath: /data}\n"),
            &["berth.yaml:6:5: error: volumes[0]: no volume source"],
        ),
        case(
            "volume with two sources",
            with("volumes:\n  - {name: data, emptyDir: {}, secret: s, mountPath: /data}\n"),
            &["berth.yaml:6:32: error: volumes[0]: emptyDir and secret cannot be combined"],
        ),
        case(
            "relative mount path",
            with("volumes:\n  - {name: data, emptyDir: {}, mountPath: data}\n"),
            &["berth.yaml:6:43: error: volumes[0].mountPath: \"data\" is not an absolute path"],
        ),
        case(
            "duplicate volume name",
            with("volumes:\n  - {name: data, emptyDir: {}, mountPath: /a}\n  - {name: data, emptyDir: {}, mountPath: /b}\n"),
            &["berth.yaml:7:12: error: volumes[1].name: duplicate volume name \"data\""],
        ),
        case(
            "duplicate mount path",
            with("volumes:\n  - {name: a, emptyDir: {}, mountPath: /data}\n  - {name: b, emptyDir: {}, mountPath: /data}\n"),
            &["berth.yaml:7:40: error: volumes[1].mountPath: \"/data\" is already mounted"],
        ),
        case(
            "emptyDir with options",
            with("volumes:\n  - {name: a, emptyDir: {medium: Memory}, mountPath: /data}\n"),
            &["berth.yaml:6:25: error: volumes[0].emptyDir: expected {}, found a mapping"],
        ),
        case(
            "config file missing",
            with("config:\n  file: config/echo.toml\n"),
            &["berth.yaml:6:9: error: config.file: \"config/echo.toml\" does not exist"],
        ),
        case(
            "config file absolute",
            with("config:\n  file: /etc/echo.toml\n"),
            &["berth.yaml:6:9: error: config.file: \"/etc/echo.toml\" is not a relative path"],
        ),
        Case {
            name: "config mount path relative",
            source: with("config:\n  file: echo.toml\n  mountPath: etc/echo.toml\n").into(),
            files: &[("echo.toml", "a = 1\n")],
            expected: &["berth.yaml:7:14: error: config.mountPath: \"etc/echo.toml\" is not an absolute path"],
        },
        Case {
            name: "config mount path collides with a volume",
            source: with("volumes:\n  - {name: a, emptyDir: {}, mountPath: /etc/echo/echo.toml}\nconfig:\n  file: echo.toml\n").into(),
            files: &[("echo.toml", "a = 1\n")],
            expected: &["berth.yaml:8:3: error: config: the default mount path \"/etc/echo/echo.toml\" is already mounted"],
        },
        case(
            "volume name reserved for the config file",
            with("volumes:\n  - {name: config, emptyDir: {}, mountPath: /data}\n"),
            &["berth.yaml:6:12: error: volumes[0].name: \"config\" is reserved"],
        ),
        Case {
            name: "config file directly under /",
            source: with("config:\n  file: echo.toml\n  mountPath: /echo.toml\n").into(),
            files: &[("echo.toml", "a = 1\n")],
            expected: &["berth.yaml:7:14: error: config.mountPath: \"/echo.toml\" is directly under /"],
        },
        Case {
            name: "config directory is a volume mount",
            source: with("volumes:\n  - {name: a, emptyDir: {}, mountPath: /etc/echo}\nconfig:\n  file: echo.toml\n  mountPath: /etc/echo/echo.toml\n").into(),
            files: &[("echo.toml", "a = 1\n")],
            expected: &["berth.yaml:9:14: error: config.mountPath: its directory \"/etc/echo\" is already a mount path"],
        },
        case(
            "invalid node selector key",
            with("scheduling:\n  nodeSelector: {\"bad key\": x}\n"),
            &["berth.yaml:6:18: error: scheduling.nodeSelector: \"bad key\" is not a valid label key"],
        ),
        case(
            "toleration Exists with value",
            with("scheduling:\n  tolerations: [{key: k, operator: Exists, value: v}]\n"),
            &["berth.yaml:6:51: error: scheduling.tolerations[0].value: a toleration with operator Exists has no value"],
        ),
        case(
            "tolerationSeconds without NoExecute",
            with("scheduling:\n  tolerations: [{key: k, value: v, tolerationSeconds: 30}]\n"),
            &["berth.yaml:6:55: error: scheduling.tolerations[0].tolerationSeconds: only applies with effect: NoExecute"],
        ),
        case(
            "maxUnavailable zero",
            BASE.replace("Deployment", "DaemonSet") + "scheduling:\n  maxUnavailable: 0\n",
            &["berth.yaml:6:19: error: scheduling.maxUnavailable: 0 is out of range"],
        ),
        case(
            "maxUnavailable above 100%",
            BASE.replace("Deployment", "DaemonSet") + "scheduling:\n  maxUnavailable: 150%\n",
            &["berth.yaml:6:19: error: scheduling.maxUnavailable: \"150%\" is not a count or a percentage"],
        ),
        case(
            "root without runAsRoot",
            with("security:\n  runAsUser: 0\n"),
            &["berth.yaml:6:14: error: security.runAsUser: 0 is root, which needs runAsRoot: true"],
        ),
        case(
            "unknown capability",
            with("security:\n  capabilities: [NET_BIND_SERVIC]\n"),
            &["berth.yaml:6:18: error: security.capabilities[0]: \"NET_BIND_SERVIC\" is not a Linux capability"],
        ),
        case(
            "capability ALL",
            with("security:\n  capabilities: [ALL]\n"),
            &["berth.yaml:6:18: error: security.capabilities[0]: ALL would make the daemon privileged"],
        ),
        case(
            "boolean written as yes",
            with("metrics:\n  enabled: yes\n"),
            &["berth.yaml:6:12: error: metrics.enabled: expected true or false, found the string \"yes\""],
        ),
        case("unknown base image", with("build:\n  base: alpine\n"), &["berth.yaml:6:9: error: build.base: \"alpine\" is not one of distroless, debian-slim, scratch"]),
        case("bad rust version", with("build:\n  rustVersion: stable\n"), &["berth.yaml:6:16: error: build.rustVersion: \"stable\" is not a Rust version"]),
        case("bad package name", with("build:\n  package: my package\n"), &["berth.yaml:6:12: error: build.package: \"my package\" is not a valid Cargo name"]),
        case("unknown platform", with("build:\n  platforms: [linux/amd64, linux/arm]\n"), &["berth.yaml:6:28: error: build.platforms[1]: \"linux/arm\" is not a supported platform"]),
        case("duplicate platform", with("build:\n  platforms:\n    - linux/arm64\n    - linux/arm64\n"), &["berth.yaml:8:7: error: build.platforms[1]: duplicate platform \"linux/arm64\""]),
        case("empty platforms", with("build:\n  platforms: []\n"), &["berth.yaml:6:14: error: build.platforms: the list is empty"]),
        case("platforms not a list", with("build:\n  platforms: linux/arm64\n"), &["berth.yaml:6:14: error: build.platforms: expected a list, found the string \"linux/arm64\""]),
        case(
            "unknown restart policy",
            with("systemd:\n  restart: never\n"),
            &["berth.yaml:6:12: error: systemd.restart: \"never\" is not one of always, on-failure, no"],
        ),
        case("watchdog too short", with("systemd:\n  watchdog: 100ms\n"), &["berth.yaml:6:13: error: systemd.watchdog: 100ms is too short"]),
        case("invalid systemd user", with("systemd:\n  user: Bad User\n"), &["berth.yaml:6:9: error: systemd.user: \"Bad User\" is not a valid user name"]),
        case(
            "unknown windows start type",
            with("windows:\n  startType: auto\n"),
            &["berth.yaml:6:14: error: windows.startType: \"auto\" is not one of automatic, delayed, manual"],
        ),
        case(
            "unknown windows account",
            with("windows:\n  account: Administrator\n"),
            &["berth.yaml:6:12: error: windows.account: \"Administrator\" is not one of virtual, LocalService, NetworkService, LocalSystem"],
        ),
        case(
            "relative windows installDir",
            with("windows:\n  installDir: Services\\echo\n"),
            &["berth.yaml:6:15: error: windows.installDir: \"Services\\echo\" is not an absolute Windows directory"],
        ),
        case(
            "windows installDir with a quote",
            with("windows:\n  installDir: 'C:\\Services\\\"x'\n"),
            &["berth.yaml:6:15: error: windows.installDir: \"C:\\Services\\\"x\" is not an absolute Windows directory"],
        ),
        case(
            "windows displayName with a percent",
            with("windows:\n  displayName: 100% echo\n"),
            &["berth.yaml:6:16: error: windows.displayName: \"100% echo\" cannot be passed safely to sc.exe"],
        ),
        case(
            "windows recovery field typo",
            with("windows:\n  recovery:\n    restartDeley: 5s\n"),
            &["berth.yaml:7:5: error: unknown field 'restartDeley', did you mean 'restartDelay'?"],
        ),
        case(
            "windows enabled on a node agent reading the host",
            with("host:\n  pid: true\nwindows:\n  enabled: true\n"),
            &[
                "berth.yaml:6:8: warning: host.pid on a Deployment: the daemon sees and can signal every process of the node",
                "berth.yaml:8:12: error: windows.enabled: this daemon cannot run as a Windows service (host.pid: the daemon reads the Linux host's processes)",
            ],
        ),
        case(
            "errors and warnings together",
            "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo\nhost: {network: true}\nshutdown: {drainTimout: 20s}\n",
            &[
                "berth.yaml:4:8: error: image: image \"ghcr.io/acme/echo\" has no tag",
                "berth.yaml:5:17: warning: host.network on a Deployment: replicas on the same node compete for the same host ports",
                "berth.yaml:6:12: error: unknown field 'drainTimout', did you mean 'drainTimeout'?",
            ],
        ),
    ]
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            out.push(format!(
                "{} {}",
                entry.path().strip_prefix(dir).unwrap().display(),
                meta.len()
            ));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn bad_descriptions_are_rejected_with_exact_positions() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("berth.yaml"), &case.source).unwrap();
        for (name, contents) in case.files {
            std::fs::write(dir.path().join(name), contents).unwrap();
        }
        let before = listing(dir.path());
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("validate")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let headlines: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                l.starts_with("berth.yaml:")
                    && (l.contains(": error: ") || l.contains(": warning: "))
            })
            .collect();
        let errors = case
            .expected
            .iter()
            .filter(|l| l.contains(": error: "))
            .count();
        let warnings = case.expected.len() - errors;
        let mut summary = format!(
            "berth.yaml: {errors} error{}",
            if errors == 1 { "" } else { "s" }
        );
        if warnings > 0 {
            summary.push_str(&format!(
                ", {warnings} warning{}",
                if warnings == 1 { "" } else { "s" }
            ));
        }
        let ok = out.status.code() == Some(2)
            && out.stdout.is_empty()
            && headlines == case.expected
            && stderr.trim_end().ends_with(&summary)
            && listing(dir.path()) == before;
        if !ok {
            failures.push(format!(
                "case {:?}: exit {:?}, stdout {:?}\nexpected:\n{:#?}\nactual stderr:\n{stderr}",
                case.name,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                case.expected
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn full_diagnostic_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berth.yaml"),
        with("shutdown:\n  drainTimout: 20s\nhealth:\n  startupTimeout: 60\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["validate", "-f", "berth.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "berth.yaml:6:3: error: unknown field 'drainTimout', did you mean 'drainTimeout'?\n  \
         expected: a field of shutdown: preStopDelay, drainTimeout\n\
         berth.yaml:8:19: error: health.startupTimeout: invalid duration \"60\": a unit is missing\n  \
         expected: a duration such as 500ms, 20s or 1m30s\n  \
         hint: write 60s for 60 seconds\n\
         berth.yaml: 2 errors\n"
    );
}

#[test]
fn oversized_file_is_rejected_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = with("description: |\n");
    while big.len() <= 2 * 1024 * 1024 {
        big.push_str("  lorem ipsum dolor sit amet, consectetur adipiscing elit\n");
    }
    std::fs::write(dir.path().join("berth.yaml"), &big).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("validate")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("berth.yaml:1:1: error: the file is "),
        "{stderr}"
    );
    assert!(
        stderr.contains("larger than the 1 MiB a description may be"),
        "{stderr}"
    );
}
