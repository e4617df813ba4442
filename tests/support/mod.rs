//! Shared by the integration tests: finding a tool (with the `BERTH_REQUIRE_TOOLS` rule), the
//! repository's descriptions, description variants, and the fixed-seed PRNG of the
//! randomized tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use berth::spec::sample::sample;
use berth::spec::*;

/// Descriptions covering both workload kinds with every optional field set and unset.
pub fn cases() -> Vec<(&'static str, Spec)> {
    vec![
        ("deployment-sample", sample(WorkloadKind::Deployment)),
        ("daemonset-sample", sample(WorkloadKind::DaemonSet)),
        ("deployment-full", full(WorkloadKind::Deployment)),
        ("daemonset-full", full(WorkloadKind::DaemonSet)),
        ("deployment-minimal", minimal(WorkloadKind::Deployment)),
        ("daemonset-minimal", minimal(WorkloadKind::DaemonSet)),
    ]
}

/// Every `<dir>/<case>/berth.yaml` of the repository under `dir` (`tests/fixtures`,
/// `examples`), named `<prefix>-<case>`, loaded by the real parser, sorted. A description that
/// does not load fails the test: each one is meant to be valid.
pub fn descriptions(prefix: &str, dir: &str) -> Vec<(String, Spec)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("berth.yaml"))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let case = path
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| format!("{prefix}-{}", n.to_string_lossy()))
                .unwrap_or_default();
            match berth::spec::load(&path) {
                Ok(loaded) => (case, loaded.spec),
                Err(diagnostics) => panic!("{}: does not load: {diagnostics:?}", path.display()),
            }
        })
        .collect()
}

/// Every `tests/fixtures/<case>/berth.yaml`, named `fixture-<case>`.
pub fn fixtures() -> Vec<(String, Spec)> {
    descriptions("fixture", "tests/fixtures")
}

/// [`cases`] plus every description of the repository: the fixtures and
/// `examples/*/berth.yaml`.
pub fn all_cases() -> Vec<(String, Spec)> {
    cases()
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .chain(fixtures())
        .chain(descriptions("example", "examples"))
        .collect()
}

/// Every optional field set.
pub fn full(kind: WorkloadKind) -> Spec {
    let mut spec = sample(kind);
    spec.name = format!(
        "full-{}",
        if kind == WorkloadKind::Deployment {
            "deploy"
        } else {
            "agent"
        }
    );
    spec.image.tag = Some("1.4.2".into());
    spec.image.digest = Some(format!("sha256:{}", "0123456789abcdef".repeat(4)));
    spec.command = vec!["/usr/local/bin/echo-daemon".into(), "serve".into()];
    spec.args = vec!["--port".into(), "8080".into()];
    if kind == WorkloadKind::Deployment {
        spec.replicas = 3;
    }
    spec.ports.push(Port {
        name: "statsd".into(),
        port: 8125,
        protocol: Protocol::Udp,
        expose: true,
    });
    spec.ports.push(Port {
        name: "pprof".into(),
        port: 6060,
        protocol: Protocol::Tcp,
        expose: false,
    });
    spec.health.port = 9191;
    spec.health.startup_timeout = Duration::from_secs(95);
    spec.shutdown.pre_stop_delay = Duration::from_millis(2500);
    spec.shutdown.drain_timeout = Duration::from_secs(45);
    spec.env.push(EnvVar {
        name: "REGION".into(),
        value: EnvSource::ConfigMap {
            name: "cluster-info".into(),
            key: "region".into(),
        },
    });
    spec.volumes.push(Volume {
        name: "tls".into(),
        source: VolumeSource::Secret("echo-tls".into()),
        mount_path: "/etc/tls".into(),
        read_only: true,
    });
    spec.volumes.push(Volume {
        name: "rules".into(),
        source: VolumeSource::ConfigMap("echo-rules".into()),
        mount_path: "/etc/rules".into(),
        read_only: true,
    });
    spec.volumes.push(Volume {
        name: "scratch".into(),
        source: VolumeSource::EmptyDir,
        mount_path: "/var/cache/echo".into(),
        read_only: false,
    });
    if let Some(config) = spec.config.as_mut() {
        config.reload = false;
        config.mount_path = "/etc/echo-daemon/settings.toml".into();
        config.contents = "greeting = \"hello\"\n[limits]\nmax = 10\n".into();
    }
    spec.scheduling
        .node_selector
        .insert("node-role.example.com/edge".into(), "true".into());
    spec.scheduling.priority_class_name = "system-node-critical".into();
    spec.scheduling.tolerations.push(Toleration {
        key: Some("node.kubernetes.io/unreachable".into()),
        operator: Some("Exists".into()),
        value: None,
        effect: Some("NoExecute".into()),
        toleration_seconds: Some(30),
    });
    spec.scheduling.tolerations.push(Toleration {
        key: Some("dedicated".into()),
        operator: Some("Equal".into()),
        value: Some("edge".into()),
        effect: Some("NoSchedule".into()),
        toleration_seconds: None,
    });
    if kind == WorkloadKind::DaemonSet {
        spec.scheduling.max_unavailable = IntOrPercent::Percent("25%".into());
        spec.host.network = true;
        spec.host.pid = true;
    }
    spec.security.capabilities = vec!["NET_BIND_SERVICE".into()];
    spec
}

/// Every optional field unset.
pub fn minimal(kind: WorkloadKind) -> Spec {
    let mut spec = sample(kind);
    spec.name = format!(
        "min-{}",
        if kind == WorkloadKind::Deployment {
            "deploy"
        } else {
            "agent"
        }
    );
    spec.image.tag = None;
    spec.image.digest = Some(format!("sha256:{}", "fedcba9876543210".repeat(4)));
    spec.args.clear();
    spec.ports.clear();
    spec.env.clear();
    spec.resources = Resources::default();
    spec.volumes.clear();
    spec.config = None;
    spec.scheduling.node_selector.clear();
    spec.scheduling.tolerations.clear();
    spec.metrics.enabled = false;
    if kind == WorkloadKind::Deployment {
        spec.replicas = 1;
    }
    spec
}

/// True when a missing tool must fail the test instead of skipping it (CI sets it).
pub fn require_tools() -> bool {
    std::env::var("BERTH_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Whether `program --version`-style probing finds the tool.
fn runs(program: &PathBuf, probe_arg: &str) -> bool {
    Command::new(program)
        .arg(probe_arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The suites' long-lived cache (`$BERTH_E2E_CACHE`, default `/var/cache/berth-e2e`, as in
/// `tests/e2e/lib/common.sh`): `.ci/install-deps.sh` puts checkov's virtualenv there.
fn e2e_cache() -> PathBuf {
    std::env::var_os("BERTH_E2E_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/berth-e2e"), PathBuf::from)
}

/// checkov: `$BERTH_CHECKOV`, on PATH, or in its own virtualenv in the cache, where
/// `.ci/install-deps.sh` installs it (required in CI, see [`find_tool`]).
pub fn checkov() -> Option<PathBuf> {
    let venv = e2e_cache().join("checkov-venv/bin/checkov");
    find_tool(
        "BERTH_CHECKOV",
        &["checkov", &venv.display().to_string()],
        "--version",
        true,
    )
}

/// kube-score: `$BERTH_KUBE_SCORE`, on PATH or in Go's bin directory (required in CI).
pub fn kube_score() -> Option<PathBuf> {
    find_tool("BERTH_KUBE_SCORE", &["kube-score"], "version", true)
}

/// Where `go install` puts binaries (`$GOBIN`, else `$GOPATH/bin`, else `~/go/bin`), as
/// `.ci/install-deps.sh` installs helm, helm4 and kube-score.
fn go_bin_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("GOBIN")
        .or_else(|| var("GOPATH").map(|p| p.join("bin")))
        .or_else(|| var("HOME").map(|h| h.join("go/bin")))
}

/// Finds a tool: `$env_var` when set (an explicit choice: nothing else is tried), else the
/// candidates (names on PATH, the same names in Go's bin directory, or absolute paths), each probed
/// with `probe_arg`. Without it: panics when `required` and [`require_tools`], else prints why
/// and returns `None` (the test is skipped).
pub fn find_tool(
    env_var: &str,
    candidates: &[&str],
    probe_arg: &str,
    required: bool,
) -> Option<PathBuf> {
    let list: Vec<PathBuf> = match std::env::var_os(env_var) {
        Some(explicit) => vec![PathBuf::from(explicit)],
        None => {
            let go_bin = go_bin_dir();
            let mut list = Vec::new();
            for c in candidates {
                list.push(PathBuf::from(c));
                if let Some(dir) = &go_bin
                    && !c.contains('/')
                {
                    list.push(dir.join(c));
                }
            }
            list
        }
    };
    let mut tried = Vec::new();
    for program in list {
        if runs(&program, probe_arg) {
            return Some(program);
        }
        tried.push(program.display().to_string());
    }
    let message = format!("tool not found (tried {})", tried.join(", "));
    if required && require_tools() {
        panic!("{message}; BERTH_REQUIRE_TOOLS=1 makes this a failure");
    }
    eprintln!("SKIPPED: {message}; set BERTH_REQUIRE_TOOLS=1 to fail instead");
    None
}

/// Snapshot files keep the names they had when each test file was its own binary
/// (`golden__generated@...`, `cli_help__help_...`): the tests name them in full, and this
/// guard stops insta from prepending the module path (`tests::golden`) for the current scope.
pub fn snapshot_names_without_module() -> insta::internals::SettingsBindDropGuard {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind_to_scope()
}

/// xorshift64*: small and deterministic, so a randomized test makes the same choices on
/// every run (a failure reproduces from its seed).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}
