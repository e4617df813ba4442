//! `berth init`: a commented `berth.yaml` that passes `berth validate`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CommandError, CommandResult};
use crate::spec::{self, rules, schema::SCHEMA_URL};

/// Options of `berth init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Directory to write `berth.yaml` into.
    pub dir: PathBuf,
    /// Daemon name.
    pub name: String,
    /// DaemonSet instead of Deployment.
    pub daemonset: bool,
    /// Image reference.
    pub image: Option<String>,
}

fn yaml_scalar(s: &str) -> String {
    crate::yaml::to_string(&serde_json::Value::String(s.to_owned()))
        .trim_end()
        .to_owned()
}

/// The commented description `berth init` writes.
pub fn template(name: &str, daemonset: bool, image: &str) -> String {
    let image = yaml_scalar(image);
    let (workload, replicas, scheduling) = if daemonset {
        (
            "DaemonSet           # Deployment | DaemonSet (one pod on every node)",
            String::new(),
            "\n# Where pods run; a DaemonSet rolls maxUnavailable pods at a time.\nscheduling:\n  nodeSelector:\n    kubernetes.io/os: linux\n  maxUnavailable: 1\n  # tolerations: [{operator: Exists}]   # run on tainted nodes too\n",
        )
    } else {
        (
            "Deployment          # Deployment | DaemonSet (one pod on every node)",
            "replicas: 2                   # Deployment only\n".to_owned(),
            "",
        )
    };
    format!(
        "# yaml-language-server: $schema={SCHEMA_URL}
# berth description of {name}: `berth validate` checks it, `berth generate` writes the
# Dockerfile, Helm chart, Kubernetes manifests and systemd unit from it.
# Every field is described in docs/berth-yaml.md. Only apiVersion, name, workload and image
# are required; the other values below are berth's defaults or starting points to adapt.
apiVersion: berth/v1
name: {name}
# description: What {name} does
workload: {workload}
{replicas}image: {image}   # repository:tag or @sha256:<digest>; never :latest

# Application ports (the admin port in health is separate).
ports:
  - name: http
    port: 8080
    # protocol: TCP               # TCP | UDP
    # expose: true                # include in the Service

# berth-sidecar serves /livez, /readyz, /startupz and /metrics on this port.
health:
  port: 9090
  startupTimeout: 60s

# On SIGTERM readiness fails at once and the daemon keeps serving for preStopDelay while
# load balancers catch up; in-flight work then gets drainTimeout before a forced stop.
# Stop budget on every target: preStopDelay + drainTimeout + 5s.
shutdown:
  preStopDelay: 5s
  drainTimeout: 20s

env:
  RUST_LOG: info
  # TOKEN: {{secret: {name}-secrets, key: token}}
  # NODE_NAME: {{field: spec.nodeName}}

resources:
  requests: {{cpu: 50m, memory: 64Mi}}
  limits: {{cpu: 500m, memory: 128Mi}}

# volumes:
#   - name: data
#     emptyDir: {{}}
#     mountPath: /var/lib/{name}

# One configuration file shipped with the daemon; `file` is relative to this file and must
# exist. With reload: true berth-sidecar reloads it on change instead of restarting.
# config:
#   file: config/{name}.toml
#   mountPath: /etc/{name}/{name}.toml
#   reload: true
{scheduling}
security:
  runAsUser: 65532                # distroless nonroot
  readOnlyRootFilesystem: true
  capabilities: []                # e.g. [NET_BIND_SERVICE]; all others are dropped

metrics:
  enabled: true

build:
  # package: {name}               # default: name
  # bin: {name}                   # default: package
  rustVersion: \"1.95\"
  base: distroless                # distroless | debian-slim | scratch

systemd:
  user: \"\"                        # empty: DynamicUser=yes
  restart: on-failure             # always | on-failure | no
  watchdog: 30s                   # 0s disables
"
    )
}

/// Runs `berth init`: refuses an invalid name or image and an existing `berth.yaml` (exit 2).
pub fn run(options: &InitOptions) -> CommandResult {
    let name = options.name.as_str();
    if !rules::is_dns1123_label(name, 53) {
        return Err(CommandError::Invalid(format!(
            "error: --name {name:?} is not a valid name\n  expected: a DNS-1123 label of 1 to 53 characters (a-z, 0-9, '-'), e.g. echo-daemon"
        )));
    }
    let image = options
        .image
        .clone()
        .unwrap_or_else(|| format!("ghcr.io/example/{name}:0.1.0"));
    if let Err(e) = rules::parse_image(&image) {
        let mut msg = format!("error: --image: {}", e.message);
        if let Some(h) = e.hint {
            msg.push_str(&format!("\n  hint: {h}"));
        }
        return Err(CommandError::Invalid(msg));
    }
    let text = template(name, options.daemonset, &image);
    // The template must always validate; a failure here is a bug in berth, not in the input.
    if let Err(d) = spec::load_str(&text, "berth.yaml", Path::new(".")) {
        return Err(CommandError::Runtime(format!(
            "internal error: the generated berth.yaml is invalid:\n{d}"
        )));
    }
    let path = options.dir.join("berth.yaml");
    if path.exists() {
        return Err(CommandError::Invalid(format!(
            "error: {} already exists; berth init does not overwrite it\n  hint: edit it, or remove it first",
            path.display()
        )));
    }
    std::fs::create_dir_all(&options.dir).map_err(|e| {
        CommandError::Runtime(format!(
            "error: cannot create {}: {e}",
            options.dir.display()
        ))
    })?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CommandError::Invalid(format!(
                "error: {} already exists; berth init does not overwrite it",
                path.display()
            )));
        }
        Err(e) => {
            return Err(CommandError::Runtime(format!(
                "error: cannot write {}: {e}",
                path.display()
            )));
        }
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            CommandError::Runtime(format!("error: cannot write {}: {e}", path.display()))
        })?;
    println!("wrote {}", path.display());
    println!(
        "next: edit it, then `berth validate -f {}` and `berth generate -f {}`",
        path.display(),
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_validate() {
        for daemonset in [false, true] {
            let text = template("echo-daemon", daemonset, "ghcr.io/acme/echo-daemon:0.1.0");
            let loaded = spec::load_str(&text, "berth.yaml", Path::new("."))
                .unwrap_or_else(|d| panic!("{d}\n{text}"));
            assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
            assert_eq!(
                loaded.spec.workload == spec::WorkloadKind::DaemonSet,
                daemonset
            );
            assert!(text.starts_with("# yaml-language-server: $schema="));
        }
    }
}
