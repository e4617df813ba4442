//! Golden tests: every fixture `tests/fixtures/<case>/berth.yaml` rendered for every target,
//! as one insta snapshot per case (`tests/snapshots/golden__generated@<case>__berth.yaml.snap`) holding
//! every generated file under a `==== path ====` header, so a reviewer reads one file per case.
//!
//! Update after an intended change: `INSTA_UPDATE=always cargo test --test tests golden::` (or
//! `cargo insta test --accept`), then review the diff of `tests/snapshots/`.

use std::path::Path;

use berth::render::{self, FileSet, Target};

/// The snapshot text: the description's warnings (if any), then each file in path order.
fn combined(warnings: &[String], files: &FileSet) -> String {
    let mut text = String::new();
    if !warnings.is_empty() {
        text.push_str("==== (warnings from berth.yaml) ====\n");
        for warning in warnings {
            text.push_str(warning);
            text.push('\n');
        }
    }
    for (path, file) in files.iter() {
        text.push_str(&format!("==== {path} ====\n"));
        text.push_str(&file.contents);
    }
    text
}

#[test]
fn generated() {
    let _names = crate::support::snapshot_names_without_module();
    insta::glob!("fixtures/*/berth.yaml", |path| {
        // Load by the path relative to the package root (the test's working directory), so
        // diagnostics and anything derived from the path are the same on every machine.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let relative = path.strip_prefix(root).unwrap_or(path);
        let loaded =
            berth::spec::load(relative).unwrap_or_else(|d| panic!("{}: {d}", relative.display()));
        let files = render::render(&loaded.spec, &Target::DEFAULT).expect("render");

        let case = relative
            .parent()
            .and_then(Path::file_name)
            .unwrap()
            .to_string_lossy();
        for target in Target::DEFAULT {
            // A daemon that reads the Linux host gets no Windows files, by design.
            let skipped =
                target == Target::Windows && render::windows::skip_reason(&loaded.spec).is_some();
            assert_eq!(
                files.iter().any(|(_, f)| f.target == target),
                !skipped,
                "{case}: files for {target}"
            );
        }
        for (path, file) in files.iter() {
            assert!(
                file.contents.ends_with('\n'),
                "{case}: {path} does not end with a newline"
            );
            assert!(
                !file.contents.contains(root.to_string_lossy().as_ref()),
                "{case}: {path} contains an absolute path of this machine"
            );
        }
        // Deterministic: a second load and render give the same bytes.
        let again = berth::spec::load(relative).expect("load again");
        assert_eq!(
            render::render(&again.spec, &Target::DEFAULT).expect("render again"),
            files
        );

        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!("golden__generated", combined(&warnings, &files));
    });
}

#[test]
fn there_are_at_least_twelve_fixtures_each_in_its_own_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cases = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("berth.yaml").is_file())
        .count();
    assert!(cases >= 12, "only {cases} fixtures in {}", dir.display());
}

#[test]
fn every_golden_snapshot_belongs_to_a_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(root.join("snapshots"))
        .unwrap()
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(case) = name
            .strip_prefix("golden__generated@")
            .and_then(|rest| rest.strip_suffix("__berth.yaml.snap"))
        else {
            continue;
        };
        assert!(
            root.join("fixtures")
                .join(case)
                .join("berth.yaml")
                .is_file(),
            "tests/snapshots/{name} has no fixture tests/fixtures/{case}/berth.yaml: delete it"
        );
    }
}

#[test]
fn fixtures_cover_every_option_of_the_format() {
    use berth::spec::{
        BaseImage, EnvSource, IntOrPercent, Protocol, RestartPolicy, ServiceAccount, StartType,
        VolumeSource, WorkloadKind,
    };

    let dir = Path::new("tests/fixtures");
    let mut specs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let file = entry.path().join("berth.yaml");
        if file.is_file() {
            specs.push(
                berth::spec::load(&file)
                    .unwrap_or_else(|d| panic!("{d}"))
                    .spec,
            );
        }
    }
    let any = |what: &str, f: &dyn Fn(&berth::spec::Spec) -> bool| {
        assert!(specs.iter().any(f), "no fixture has {what}");
    };
    any("a Deployment", &|s| s.workload == WorkloadKind::Deployment);
    any("a DaemonSet", &|s| s.workload == WorkloadKind::DaemonSet);
    any("a UDP port", &|s| {
        s.ports.iter().any(|p| p.protocol == Protocol::Udp)
    });
    any("an unexposed port", &|s| s.ports.iter().any(|p| !p.expose));
    any("no ports", &|s| s.ports.is_empty());
    any("a literal env value", &|s| {
        s.env.iter().any(|e| matches!(e.value, EnvSource::Value(_)))
    });
    any("a Secret env value", &|s| {
        s.env
            .iter()
            .any(|e| matches!(e.value, EnvSource::Secret { .. }))
    });
    any("a ConfigMap env value", &|s| {
        s.env
            .iter()
            .any(|e| matches!(e.value, EnvSource::ConfigMap { .. }))
    });
    any("a field env value", &|s| {
        s.env
            .iter()
            .any(|e| matches!(e.value, EnvSource::Field { .. }))
    });
    any("requests and limits", &|s| {
        !s.resources.requests.is_empty() && !s.resources.limits.is_empty()
    });
    any("requests only", &|s| {
        !s.resources.requests.is_empty() && s.resources.limits.is_empty()
    });
    for (what, f) in [
        (
            "a hostPath volume",
            (|v: &VolumeSource| matches!(v, VolumeSource::HostPath(_)))
                as fn(&VolumeSource) -> bool,
        ),
        ("an emptyDir volume", |v| {
            matches!(v, VolumeSource::EmptyDir)
        }),
        ("a Secret volume", |v| matches!(v, VolumeSource::Secret(_))),
        ("a ConfigMap volume", |v| {
            matches!(v, VolumeSource::ConfigMap(_))
        }),
    ] {
        any(what, &|s| s.volumes.iter().any(|v| f(&v.source)));
    }
    any("a config file reloaded in place", &|s| {
        s.config.as_ref().is_some_and(|c| c.reload)
    });
    any("a config file that restarts", &|s| {
        s.config.as_ref().is_some_and(|c| !c.reload)
    });
    any("tolerations", &|s| !s.scheduling.tolerations.is_empty());
    any("a priorityClassName", &|s| {
        !s.scheduling.priority_class_name.is_empty()
    });
    any("a percentage maxUnavailable", &|s| {
        matches!(s.scheduling.max_unavailable, IntOrPercent::Percent(_))
    });
    any("a custom nodeSelector", &|s| {
        s.scheduling.node_selector.len() > 1
    });
    any("host network", &|s| s.host.network);
    any("host PID", &|s| s.host.pid);
    any("capabilities", &|s| !s.security.capabilities.is_empty());
    any("runAsRoot", &|s| s.security.run_as_root);
    any("a writable root file system", &|s| {
        !s.security.read_only_root_filesystem
    });
    any("metrics off", &|s| !s.metrics.enabled);
    any("one replica", &|s| {
        s.workload == WorkloadKind::Deployment && s.replicas == 1
    });
    for base in [
        BaseImage::Distroless,
        BaseImage::DebianSlim,
        BaseImage::Scratch,
    ] {
        any(base.as_str(), &|s| s.build.base == base);
    }
    any("Cargo features", &|s| !s.build.features.is_empty());
    any("a bin that differs from the package", &|s| {
        s.build.bin != s.build.package
    });
    any("a systemd user", &|s| s.systemd.user.is_some());
    for restart in [
        RestartPolicy::Always,
        RestartPolicy::OnFailure,
        RestartPolicy::No,
    ] {
        any(restart.as_str(), &|s| s.systemd.restart == restart);
    }
    any("watchdog 0", &|s| s.systemd.watchdog.is_zero());
    any("a digest-only image", &|s| {
        s.image.digest.is_some() && s.image.tag.is_none()
    });
    any("a tag and a digest", &|s| {
        s.image.digest.is_some() && s.image.tag.is_some()
    });
    any("a command", &|s| !s.command.is_empty());
    any("args", &|s| !s.args.is_empty());
    any("a daemon skipped on Windows", &|s| !s.windows.enabled);
    for start in [StartType::Automatic, StartType::Delayed, StartType::Manual] {
        any(start.as_str(), &|s| {
            s.windows.enabled && s.windows.start_type == start
        });
    }
    for account in [
        ServiceAccount::Virtual,
        ServiceAccount::LocalService,
        ServiceAccount::NetworkService,
        ServiceAccount::LocalSystem,
    ] {
        any(account.as_str(), &|s| s.windows.account == account);
    }
    any("a custom installDir", &|s| {
        !s.windows.install_dir.starts_with('%')
    });
    any("no restart actions", &|s| {
        s.windows.recovery.restart_delay.is_zero()
    });
    any("recovery only on crashes", &|s| {
        !s.windows.recovery.on_non_crash_failures
    });
}

/// The CI workflow (`--only ci`, not part of the default targets) of a few fixtures: one
/// platform, two platforms, an image pinned by digest only.
#[test]
fn ci_workflow() {
    for case in ["minimal-deployment", "daemonset-node-agent", "digest-only"] {
        let path = format!("tests/fixtures/{case}/berth.yaml");
        let loaded = berth::spec::load(Path::new(&path)).unwrap_or_else(|d| panic!("{path}: {d}"));
        let files = render::render(&loaded.spec, &[Target::Ci]).expect("render");
        assert_eq!(files.len(), 1, "{case}: one workflow");
        assert!(
            files
                .iter()
                .all(|(path, f)| f.target == Target::Ci && path.starts_with("ci/"))
        );
        insta::assert_snapshot!(format!("ci@{case}"), combined(&[], &files));
    }
}
