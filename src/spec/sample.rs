//! A fully populated [`Spec`] for unit tests of renderers that must not depend on the parser.

use std::collections::BTreeMap;

use super::Duration;
use super::model::*;

/// A resolved description with every optional part set (config file, volumes, env of every
/// kind, resources, tolerations) for the given workload kind.
pub fn sample(workload: WorkloadKind) -> Spec {
    let daemonset = workload == WorkloadKind::DaemonSet;
    let spec = Spec {
        name: "echo-daemon".into(),
        description: "Echo server".into(),
        workload,
        replicas: if daemonset { 0 } else { 2 },
        image: ImageRef {
            repository: "ghcr.io/acme/echo-daemon".into(),
            tag: Some("0.1.0".into()),
            digest: None,
        },
        command: vec![],
        args: vec!["--verbose".into()],
        ports: vec![Port {
            name: "http".into(),
            port: 8080,
            protocol: Protocol::Tcp,
            expose: true,
        }],
        health: Health {
            port: 9090,
            startup_timeout: Duration::from_secs(60),
        },
        shutdown: Shutdown {
            pre_stop_delay: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(20),
        },
        env: vec![
            EnvVar {
                name: "RUST_LOG".into(),
                value: EnvSource::Value("info".into()),
            },
            EnvVar {
                name: "TOKEN".into(),
                value: EnvSource::Secret {
                    name: "echo-secrets".into(),
                    key: "token".into(),
                },
            },
            EnvVar {
                name: "NODE".into(),
                value: EnvSource::Field {
                    path: "spec.nodeName".into(),
                },
            },
        ],
        resources: Resources {
            requests: ResourceList {
                cpu: Some("50m".into()),
                memory: Some("64Mi".into()),
            },
            limits: ResourceList {
                cpu: Some("500m".into()),
                memory: Some("128Mi".into()),
            },
        },
        volumes: vec![Volume {
            name: "varlog".into(),
            source: if daemonset {
                VolumeSource::HostPath("/var/log".into())
            } else {
                VolumeSource::EmptyDir
            },
            mount_path: "/host/var/log".into(),
            read_only: daemonset,
        }],
        config: Some(ConfigFile {
            file: "config/echo.toml".into(),
            file_name: "echo.toml".into(),
            contents: "greeting = \"hello\"\n".into(),
            mount_path: "/etc/echo-daemon/echo.toml".into(),
            reload: true,
        }),
        scheduling: Scheduling {
            node_selector: BTreeMap::from([("kubernetes.io/os".into(), "linux".into())]),
            tolerations: if daemonset {
                vec![Toleration {
                    key: None,
                    operator: Some("Exists".into()),
                    value: None,
                    effect: None,
                    toleration_seconds: None,
                }]
            } else {
                vec![]
            },
            priority_class_name: String::new(),
            max_unavailable: IntOrPercent::Int(1),
        },
        host: Host::default(),
        security: Security {
            run_as_user: crate::spec::rules::NONROOT_UID,
            run_as_root: false,
            read_only_root_filesystem: true,
            capabilities: vec![],
        },
        metrics: Metrics { enabled: true },
        build: Build {
            package: "echo-daemon".into(),
            bin: "echo-daemon".into(),
            rust_version: DEFAULT_RUST_VERSION.into(),
            platforms: DEFAULT_PLATFORMS.to_vec(),
            base: BaseImage::Distroless,
            features: vec![],
        },
        systemd: Systemd {
            user: None,
            restart: RestartPolicy::OnFailure,
            watchdog: Duration::from_secs(30),
        },
        windows: Windows::defaults("echo-daemon"),
    };
    Spec {
        windows: Windows {
            enabled: Windows::linux_only_reason(&spec.host, &spec.volumes).is_none(),
            ..spec.windows.clone()
        },
        ..spec
    }
}
