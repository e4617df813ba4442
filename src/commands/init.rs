//! `berth init`: a commented `berth.yaml` that passes `berth validate`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::cargo_project::{self, CargoPackage, NotDetected};
use super::{CommandError, CommandResult};
use crate::spec::{self, rules, schema::SCHEMA_URL};

/// Options of `berth init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Directory to write `berth.yaml` into.
    pub dir: PathBuf,
    /// Daemon name (default: the Cargo package's name).
    pub name: Option<String>,
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

/// The commented description `berth init` writes outside a Cargo project.
pub fn template(name: &str, daemonset: bool, image: &str) -> String {
    template_for(name, daemonset, image, None)
}

/// `to` as seen from `from` (both absolute): `.`, `..`, `../..`, `crates/x`, ...
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// The `build:` section: the detected package, binary and builder Rust version, or the
/// commented defaults. `dir` is where berth.yaml goes (absolute).
fn build_section(name: &str, cargo: Option<(&CargoPackage, &Path)>) -> String {
    let Some((cargo, dir)) = cargo else {
        return format!(
            "build:
  # package: {name}               # default: name
  # bin: {name}                   # default: package
  rustVersion: \"{}\"
  base: distroless                # distroless | debian-slim | scratch
",
            spec::DEFAULT_RUST_VERSION
        );
    };
    let manifest = relative(dir, &cargo.dir.join("Cargo.toml"));
    let mut needs = Vec::new();
    if let Some(v) = &cargo.rust_version {
        needs.push(format!("rust-version {v}"));
    }
    if let Some(min) = cargo_project::edition_minimum(&cargo.edition) {
        needs.push(format!("edition {} ({min}+)", cargo.edition));
    }
    let mut text = format!(
        "# Detected in {manifest} (cargo metadata): the package, its binary, rust-version and edition.
"
    );
    if cargo.is_workspace_member() {
        text.push_str(&format!(
            "# {} is a member of the Cargo workspace at {}: the image is built from there (the\n# Docker build context holds Cargo.lock and every member; berth generate prints the command).\n",
            cargo.package,
            relative(dir, &cargo.workspace_root)
        ));
    }
    text.push_str(&format!(
        "build:
  package: {}
  bin: {}
  rustVersion: \"{}\"   # the builder image; meets {}
  base: distroless                # distroless | debian-slim | scratch
",
        yaml_scalar(&cargo.package),
        yaml_scalar(&cargo.bin),
        cargo.builder_rust_version(),
        if needs.is_empty() {
            "berth's default".to_owned()
        } else {
            needs.join(" and ")
        }
    ));
    text
}

/// The commented description `berth init` writes; `cargo` is the detected package and the
/// directory berth.yaml goes into.
pub fn template_for(
    name: &str,
    daemonset: bool,
    image: &str,
    cargo: Option<(&CargoPackage, &Path)>,
) -> String {
    let build = build_section(name, cargo);
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
    let (requests, limits) = spec::Resources::starting_values_text();
    use berth_sidecar::contract as c;
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

# berth-sidecar serves {livez}, {readyz}, {startupz} and {metrics} on this port.
health:
  port: 9090
  startupTimeout: 60s

# On SIGTERM readiness fails at once and the daemon keeps serving for preStopDelay while
# load balancers catch up; in-flight work then gets drainTimeout before a forced stop.
# Stop budget on every target: preStopDelay + drainTimeout + {margin}s.
shutdown:
  preStopDelay: 5s
  drainTimeout: 20s

env:
  RUST_LOG: info
  # TOKEN: {{secret: {name}-secrets, key: token}}
  # NODE_NAME: {{field: spec.nodeName}}

# Starting values, also what berth uses when resources is omitted; `resources: {{}}` sets none.
resources:
  requests: {requests}
  limits: {limits}

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
  runAsUser: {uid}                # distroless nonroot
  readOnlyRootFilesystem: true
  capabilities: []                # e.g. [NET_BIND_SERVICE]; all others are dropped

metrics:
  enabled: true

{build}
systemd:
  user: \"\"                        # empty: DynamicUser=yes
  restart: on-failure             # always | on-failure | no
  watchdog: 30s                   # 0s disables
",
        livez = c::PATH_LIVEZ,
        readyz = c::PATH_READYZ,
        startupz = c::PATH_STARTUPZ,
        metrics = c::PATH_METRICS,
        margin = c::STOP_MARGIN.as_secs(),
        uid = rules::NONROOT_UID,
    )
}

/// Runs `berth init`: refuses an invalid name or image and an existing `berth.yaml` (exit 2).
/// Detects the Cargo project around the target directory; prints what it found.
pub fn run(options: &InitOptions) -> CommandResult {
    let detected = cargo_project::detect(&options.dir);
    let name = match (&options.name, &detected) {
        (Some(name), _) => name.clone(),
        (None, Ok(cargo)) => {
            let name = cargo_project::daemon_name(&cargo.package);
            if !rules::is_dns1123_label(&name, 53) {
                return Err(CommandError::invalid(format!(
                    "the Cargo package name {:?} does not make a daemon name ({name:?} is not a DNS-1123 label of at most 53 characters)",
                    cargo.package)).with_hint("pass --name NAME"));
            }
            name
        }
        (None, Err(why)) => {
            let why = match why {
                NotDetected::NoProject(m) | NotDetected::Unusable(m) => m,
            };
            return Err(CommandError::invalid(format!(
                "--name is required here: no Cargo package to take it from ({why})"
            ))
            .with_hint("berth init --name NAME"));
        }
    };
    let name = name.as_str();
    if !rules::is_dns1123_label(name, 53) {
        return Err(CommandError::invalid(format!(
            "--name {name:?} is not a valid name\n  expected: a DNS-1123 label of 1 to 53 characters (a-z, 0-9, '-'), e.g. echo-daemon"
        )));
    }
    let image = options
        .image
        .clone()
        .unwrap_or_else(|| format!("ghcr.io/example/{name}:0.1.0"));
    if let Err(e) = rules::parse_image(&image) {
        let err = CommandError::invalid(format!("--image: {}", e.message));
        return Err(match e.hint {
            Some(h) => err.with_hint(h),
            None => err,
        });
    }
    let dir_abs = std::env::current_dir()
        .map(|cwd| cwd.join(&options.dir))
        .unwrap_or_else(|_| options.dir.clone());
    // Compare like with like: the package paths from cargo are canonical.
    let dir_abs = canonical_prefix(&dir_abs);
    let cargo = detected.as_ref().ok().map(|c| (c, dir_abs.as_path()));
    let text = template_for(name, options.daemonset, &image, cargo);
    // The template must always validate; a failure here is a bug in berth, not in the input.
    if let Err(d) = spec::load_str(&text, "berth.yaml", Path::new(".")) {
        return Err(CommandError::runtime(format!(
            "the berth.yaml berth generated is invalid (a bug in berth):\n{d}"
        )));
    }
    let path = options.dir.join("berth.yaml");
    if path.exists() {
        return Err(CommandError::invalid(format!(
            "{} already exists; berth init does not overwrite it",
            path.display()
        ))
        .with_hint("edit it, or remove it first"));
    }
    std::fs::create_dir_all(&options.dir).map_err(|e| {
        CommandError::runtime(format!("cannot create {}: {e}", options.dir.display()))
    })?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CommandError::invalid(format!(
                "{} already exists; berth init does not overwrite it",
                path.display()
            )));
        }
        Err(e) => {
            return Err(CommandError::runtime(format!(
                "cannot write {}: {e}",
                path.display()
            )));
        }
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CommandError::runtime(format!("cannot write {}: {e}", path.display())))?;
    match &detected {
        Ok(c) => {
            println!(
                "detected Cargo package {} (binary {}, edition {}, rust-version {}){}",
                c.package,
                c.bin,
                c.edition,
                c.rust_version.as_deref().unwrap_or("not set"),
                if c.is_workspace_member() {
                    format!(
                        ", a member of the workspace at {}",
                        relative(&dir_abs, &c.workspace_root)
                    )
                } else {
                    String::new()
                }
            );
            println!(
                "build: package {}, bin {}, rustVersion {}",
                c.package,
                c.bin,
                c.builder_rust_version()
            );
        }
        Err(NotDetected::Unusable(why)) => {
            println!("no Cargo package detected: {why}; build: uses the defaults (package = name)");
        }
        Err(NotDetected::NoProject(_)) => {}
    }
    println!("wrote {}", path.display());
    println!(
        "next: edit it, then `berth validate -f {}` and `berth generate -f {}`",
        path.display(),
        path.display()
    );
    Ok(())
}

/// `path` with its longest existing prefix canonicalized (the rest, not yet created, kept).
fn canonical_prefix(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(c, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(part)) => {
                rest.push(part.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
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
