//! What `berth init` learns from the Cargo project it runs in, through `cargo metadata
//! --no-deps` (no network, no lock file needed): the package, its binary, its `rust-version`
//! and edition, and whether it is a member of a workspace rooted elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::spec::model::DEFAULT_RUST_VERSION;

/// The package `berth init` describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoPackage {
    /// `package.name`.
    pub package: String,
    /// The binary target the image runs.
    pub bin: String,
    /// `package.rust-version`, when declared.
    pub rust_version: Option<String>,
    /// `package.edition`.
    pub edition: String,
    /// The package's directory.
    pub dir: PathBuf,
    /// The workspace root (the Docker build context); equal to `dir` for a lone package.
    pub workspace_root: PathBuf,
}

impl CargoPackage {
    /// True when the package belongs to a workspace rooted in another directory.
    pub fn is_workspace_member(&self) -> bool {
        self.dir != self.workspace_root
    }

    /// The Rust version of the builder image: berth's default, raised to the package's
    /// `rust-version` and to the first Rust release of its edition when either is newer.
    pub fn builder_rust_version(&self) -> String {
        let mut best = DEFAULT_RUST_VERSION.to_owned();
        let candidates = [
            self.rust_version.clone(),
            edition_minimum(&self.edition).map(str::to_owned),
        ];
        for candidate in candidates.into_iter().flatten() {
            if version_key(&candidate) > version_key(&best) {
                best = candidate;
            }
        }
        best
    }
}

/// The first Rust release that accepts `edition`.
pub fn edition_minimum(edition: &str) -> Option<&'static str> {
    match edition {
        "2015" => Some("1.0"),
        "2018" => Some("1.31"),
        "2021" => Some("1.56"),
        "2024" => Some("1.85"),
        _ => None,
    }
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Why nothing was detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDetected {
    /// No `Cargo.toml` at or above the directory (or no `cargo` to read it with).
    NoProject(String),
    /// A Cargo project, but no single package and binary to describe.
    Unusable(String),
}

/// Reads the Cargo project around `dir` (which may not exist yet: its nearest existing
/// ancestor is asked). The package is the one whose directory holds `dir`; in a virtual
/// workspace root, the only member with a binary.
pub fn detect(dir: &Path) -> Result<CargoPackage, NotDetected> {
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| NotDetected::NoProject(format!("no current directory: {e}")))?
            .join(dir)
    };
    let mut existing = absolute.as_path();
    while !existing.is_dir() {
        existing = existing
            .parent()
            .ok_or_else(|| NotDetected::NoProject("no existing directory".into()))?;
    }
    let existing = existing
        .canonicalize()
        .map_err(|e| NotDetected::NoProject(format!("{}: {e}", existing.display())))?;
    let target = existing.join(absolute.strip_prefix(&existing).unwrap_or(Path::new("")));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(&existing)
        .output()
        .map_err(|e| {
            NotDetected::NoProject(format!("cannot run {}: {e}", Path::new(&cargo).display()))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("could not find `Cargo.toml`") {
            return Err(NotDetected::NoProject(format!(
                "no Cargo.toml in {} or above",
                existing.display()
            )));
        }
        return Err(NotDetected::Unusable(format!(
            "cargo metadata failed: {}",
            stderr.trim()
        )));
    }
    let metadata: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| NotDetected::Unusable(format!("cargo metadata printed no JSON: {e}")))?;
    select(&metadata, &target)
}

/// The package of `metadata` (cargo metadata JSON) that describes `target`.
pub fn select(metadata: &Value, target: &Path) -> Result<CargoPackage, NotDetected> {
    let workspace_root = PathBuf::from(metadata["workspace_root"].as_str().unwrap_or_default());
    let packages: Vec<&Value> = metadata["packages"]
        .as_array()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let dir_of = |p: &Value| {
        Path::new(p["manifest_path"].as_str().unwrap_or_default())
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let bins = |p: &Value| -> Vec<String> {
        p["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    // The deepest package directory holding the target directory.
    let holding = packages
        .iter()
        .filter(|p| target.starts_with(dir_of(p)))
        .max_by_key(|p| dir_of(p).components().count());
    let package = match holding {
        Some(p) => *p,
        None => {
            let with_bins: Vec<&&Value> = packages.iter().filter(|p| !bins(p).is_empty()).collect();
            match with_bins.as_slice() {
                [only] => **only,
                [] => {
                    return Err(NotDetected::Unusable(format!(
                        "the workspace at {} has no package with a binary",
                        workspace_root.display()
                    )));
                }
                many => {
                    let names: Vec<&str> = many.iter().filter_map(|p| p["name"].as_str()).collect();
                    return Err(NotDetected::Unusable(format!(
                        "the workspace at {} has {} packages with binaries ({}): run berth init in the package's directory",
                        workspace_root.display(),
                        names.len(),
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let name = package["name"].as_str().unwrap_or_default().to_owned();
    let all_bins = bins(package);
    let bin = match all_bins.as_slice() {
        [] => {
            return Err(NotDetected::Unusable(format!(
                "package {name} has no binary target (src/main.rs or [[bin]])"
            )));
        }
        [only] => only.clone(),
        many => {
            let default_run = package["default_run"].as_str();
            match many
                .iter()
                .find(|b| Some(b.as_str()) == default_run)
                .or_else(|| many.iter().find(|b| **b == name))
            {
                Some(b) => b.clone(),
                None => {
                    return Err(NotDetected::Unusable(format!(
                        "package {name} has {} binaries ({}) and no default-run: set build.bin in berth.yaml",
                        many.len(),
                        many.join(", ")
                    )));
                }
            }
        }
    };
    Ok(CargoPackage {
        bin,
        rust_version: package["rust_version"].as_str().map(str::to_owned),
        edition: package["edition"].as_str().unwrap_or("2015").to_owned(),
        dir: dir_of(package),
        workspace_root,
        package: name,
    })
}

/// A daemon name from a package name: lower case, `_` as `-` (DNS-1123 label rules are
/// checked by the caller).
pub fn daemon_name(package: &str) -> String {
    package.to_ascii_lowercase().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pkg(name: &str, dir: &str, bins: &[&str], rust_version: Option<&str>) -> Value {
        let mut targets: Vec<Value> = bins
            .iter()
            .map(|b| json!({"name": b, "kind": ["bin"]}))
            .collect();
        targets.push(json!({"name": name, "kind": ["lib"]}));
        json!({
            "name": name,
            "manifest_path": format!("{dir}/Cargo.toml"),
            "targets": targets,
            "rust_version": rust_version,
            "edition": "2021",
            "default_run": null,
        })
    }

    #[test]
    fn member_package_in_its_directory() {
        let m = json!({
            "workspace_root": "/w",
            "packages": [pkg("agent_x", "/w/crates/agent", &["agent_x"], Some("1.97")), pkg("lib", "/w/crates/lib", &[], None)],
        });
        let p = select(&m, Path::new("/w/crates/agent")).unwrap();
        assert_eq!(p.package, "agent_x");
        assert_eq!(p.bin, "agent_x");
        assert!(p.is_workspace_member());
        assert_eq!(p.builder_rust_version(), "1.97");
        assert_eq!(daemon_name(&p.package), "agent-x");
        // A new subdirectory of the package (`berth init deploy`) still finds it.
        assert_eq!(
            select(&m, Path::new("/w/crates/agent/deploy"))
                .unwrap()
                .package,
            "agent_x"
        );
    }

    #[test]
    fn virtual_root_takes_the_only_package_with_a_binary() {
        let m = json!({
            "workspace_root": "/w",
            "packages": [pkg("d", "/w/d", &["d"], None), pkg("lib", "/w/lib", &[], None)],
        });
        let p = select(&m, Path::new("/w")).unwrap();
        assert_eq!((p.package.as_str(), p.bin.as_str()), ("d", "d"));
        assert_eq!(p.builder_rust_version(), DEFAULT_RUST_VERSION);
        let two = json!({
            "workspace_root": "/w",
            "packages": [pkg("a", "/w/a", &["a"], None), pkg("b", "/w/b", &["b"], None)],
        });
        assert!(
            matches!(select(&two, Path::new("/w")), Err(NotDetected::Unusable(m)) if m.contains("(a, b)"))
        );
    }

    #[test]
    fn several_binaries_need_default_run_or_the_package_name() {
        let m = json!({"workspace_root": "/p", "packages": [pkg("p", "/p", &["tool", "p"], None)]});
        assert_eq!(select(&m, Path::new("/p")).unwrap().bin, "p");
        let m = json!({"workspace_root": "/p", "packages": [pkg("p", "/p", &["a", "b"], None)]});
        assert!(matches!(
            select(&m, Path::new("/p")),
            Err(NotDetected::Unusable(_))
        ));
        let lib_only = json!({"workspace_root": "/p", "packages": [pkg("p", "/p", &[], None)]});
        assert!(
            matches!(select(&lib_only, Path::new("/p")), Err(NotDetected::Unusable(m)) if m.contains("no binary"))
        );
    }

    #[test]
    fn edition_raises_the_builder_only_above_the_default() {
        assert_eq!(edition_minimum("2024"), Some("1.85"));
        let p = CargoPackage {
            package: "p".into(),
            bin: "p".into(),
            rust_version: Some("1.70".into()),
            edition: "2024".into(),
            dir: "/p".into(),
            workspace_root: "/p".into(),
        };
        assert_eq!(p.builder_rust_version(), DEFAULT_RUST_VERSION);
        assert!(!p.is_workspace_member());
    }
}
