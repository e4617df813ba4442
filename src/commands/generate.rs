//! `berth generate` and `berth diff`: load the description, render the targets, then write
//! the files ([`crate::output`]) or show how they differ from what is on disk.

use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::{CommandError, CommandResult};
use crate::error::chain;
use crate::output::{self, Change, OutputLock, Plan, Recovery};
use crate::render::plan::{self, paths};
use crate::render::{self, Target};
use crate::spec::Spec;
use crate::util::shell_quote;

/// Options of `berth generate` / `berth diff`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The description.
    pub file: PathBuf,
    /// Output directory; `deploy/` beside the description when `None`.
    pub out: Option<PathBuf>,
    /// Targets; empty means all.
    pub only: Vec<Target>,
    /// Overwrite hand-edited files.
    pub force: bool,
}

impl GenerateOptions {
    /// The output directory: `--out`, or `deploy/` beside the description.
    pub fn out_dir(&self) -> PathBuf {
        match &self.out {
            Some(out) => out.clone(),
            None => match self.file.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.join("deploy"),
                _ => PathBuf::from("deploy"),
            },
        }
    }

    /// The targets to render, in output order: `--only`, else [`Target::DEFAULT`].
    pub fn targets(&self) -> Vec<Target> {
        Target::ALL
            .into_iter()
            .filter(|t| {
                if self.only.is_empty() {
                    Target::DEFAULT.contains(t)
                } else {
                    self.only.contains(t)
                }
            })
            .collect()
    }
}

/// The directory of the description (`.` for a bare file name).
fn description_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Everything both commands compute before touching the output directory.
struct Prepared {
    spec: Spec,
    plan: Plan,
}

/// How long a run waits for another run that holds the output directory's lock.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Renders the description, then takes the output directory's lock (`lock`) and plans.
fn prepare(
    options: &GenerateOptions,
    lock: impl FnOnce(&Path) -> Result<Option<OutputLock>, CommandError>,
) -> Result<(Prepared, Option<OutputLock>), CommandError> {
    let spec = super::load_spec(&options.file, "; nothing was written")?;
    let targets = options.targets();
    let files = render::render(&spec, &targets)?;
    let out = options.out_dir();
    let held = lock(&out)?;
    match output::plan(&out, &files, &targets) {
        Ok(plan) => Ok((Prepared { spec, plan }, held)),
        Err(e) => {
            if let Some(held) = held {
                held.release_if_unused();
            }
            Err(e.into())
        }
    }
}

fn say_waiting(out: &Path) -> impl FnMut() + '_ {
    move || {
        let _ = writeln!(
            io::stderr(),
            "waiting for another berth run that is writing {} ...",
            out.display()
        );
    }
}

/// The exclusive lock of `berth generate`, then the recovery of an interrupted run.
fn lock_for_writing(out: &Path) -> Result<Option<OutputLock>, CommandError> {
    let lock = OutputLock::exclusive_new(out, LOCK_WAIT, &mut say_waiting(out))
        .map_err(CommandError::Output)?;
    match output::recover(out) {
        Ok(Recovery::Nothing) => {}
        Ok(Recovery::RolledForward) => {
            let _ = writeln!(
                io::stderr(),
                "finished the update an interrupted berth run left in {}",
                out.display()
            );
        }
        Ok(Recovery::RolledBack) => {
            let _ = writeln!(
                io::stderr(),
                "undid the partial update an interrupted berth run left in {}",
                out.display()
            );
        }
        Err(e) => {
            return Err(CommandError::runtime(format!(
                "{}\nan interrupted berth run left {} part-way through an update, and it could not be finished or undone",
                chain(&e),
                out.display(),
            ))
            .with_hint(e.hint().map_or_else(
                || {
                    format!(
                        "fix the cause and run berth generate again (the journal {} is kept until then)",
                        output::JOURNAL_FILE
                    )
                },
                str::to_owned,
            )));
        }
    }
    Ok(Some(lock))
}

/// Writes to stdout; a closed pipe (`berth diff | head`) is not an error.
fn print_stdout(text: &str) -> CommandResult {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CommandError::runtime(format!(
            "could not write to stdout: {e}"
        ))),
    }
}

/// Runs `berth generate`.
pub fn run(options: &GenerateOptions) -> CommandResult {
    let (prepared, lock) = prepare(options, lock_for_writing)?;
    let applied = prepared.plan.apply(options.force);
    if let Some(lock) = lock {
        if applied.is_err() {
            lock.release_if_unused();
        } else {
            drop(lock);
        }
    }
    applied?;
    let cwd = std::env::current_dir().ok();
    let view = PathView {
        cwd: cwd.as_deref(),
    };
    print_stdout(&summary(&prepared, options, &view))
}

/// Runs `berth diff`.
pub fn diff(options: &GenerateOptions) -> CommandResult {
    let (prepared, _lock) = prepare(options, |out| {
        Ok(OutputLock::shared(out, LOCK_WAIT, &mut say_waiting(out))?)
    })?;
    let cwd = std::env::current_dir().ok();
    let view = PathView {
        cwd: cwd.as_deref(),
    };
    let out = view.show(&options.out_dir());
    if prepared.plan.is_clean() {
        let _ = writeln!(
            io::stderr(),
            "{out} is up to date with {}",
            view.show(&options.file)
        );
        return Ok(());
    }
    print_stdout(&prepared.plan.diff(&out))?;
    let mut command = format!(
        "berth generate -f {}",
        shell_quote(&view.show(&options.file))
    );
    if options.out.is_some() {
        command.push_str(&format!(" -o {}", shell_quote(&out)));
    }
    if !options.only.is_empty() {
        let only: Vec<&str> = options.targets().iter().map(|t| t.as_str()).collect();
        command.push_str(&format!(" --only {}", only.join(",")));
    }
    if !prepared.plan.hand_edited().is_empty() {
        command.push_str(" --force");
    }
    Err(CommandError::runtime(format!(
        "{out} differs from what berth generates; to update it run: {command}"
    )))
}

/// Shows paths relative to the current directory when they are under it.
struct PathView<'a> {
    cwd: Option<&'a Path>,
}

impl PathView<'_> {
    fn show(&self, path: &Path) -> String {
        let relative = match (path.is_absolute(), self.cwd) {
            (true, Some(cwd)) => path.strip_prefix(cwd).unwrap_or(path),
            _ => path,
        };
        let parts: Vec<String> = relative
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| match c {
                Component::RootDir => String::new(),
                other => other.as_os_str().to_string_lossy().into_owned(),
            })
            .collect();
        match parts.as_slice() {
            [] => ".".to_string(),
            [root] if root.is_empty() => "/".to_string(),
            _ => parts.join("/"),
        }
    }
}

/// The summary `generate` prints: counts per target, each changed file, the next commands.
fn summary(prepared: &Prepared, options: &GenerateOptions, view: &PathView<'_>) -> String {
    let spec = &prepared.spec;
    let out = view.show(&options.out_dir());
    let join = |path: &str| {
        if out == "." {
            path.to_string()
        } else {
            format!("{out}/{path}")
        }
    };
    let mut text = format!(
        "Generated {} ({}) from {} into {out}/\n",
        spec.name,
        spec.workload.as_str(),
        view.show(&options.file)
    );
    for target in options.targets() {
        if target == Target::Windows
            && let Some(reason) = render::windows::skip_reason(spec)
        {
            text.push_str(&format!("  {:<8}skipped: {reason}\n", target.as_str()));
            continue;
        }
        let entries: Vec<_> = prepared
            .plan
            .entries()
            .iter()
            .filter(|e| e.target == Some(target))
            .collect();
        let produced = entries
            .iter()
            .filter(|e| e.change != Change::Remove)
            .count();
        let mut counts = Vec::new();
        for change in [
            Change::Create,
            Change::Update,
            Change::Unchanged,
            Change::Remove,
        ] {
            let n = entries.iter().filter(|e| e.change == change).count();
            if n > 0 {
                counts.push(format!("{n} {}", change.as_str()));
            }
        }
        text.push_str(&format!(
            "  {:<8}{produced:>3} file{}: {}\n",
            target.as_str(),
            if produced == 1 { "" } else { "s" },
            counts.join(", ")
        ));
    }
    // On a first run the counts say it all; later runs list each file that changed.
    let first_run = prepared
        .plan
        .entries()
        .iter()
        .any(|e| e.path == output::MANIFEST_FILE && e.change == Change::Create);
    for entry in prepared.plan.entries() {
        if entry.target.is_some()
            && entry.change != Change::Unchanged
            && !(first_run && entry.change == Change::Create)
        {
            text.push_str(&format!(
                "  {:<10}{}\n",
                entry.change.as_str(),
                join(&entry.path)
            ));
        }
    }
    let context = view.show(&build_context(&options.file));
    let steps = next_steps(spec, options, view, &context);
    if !steps.is_empty() {
        text.push_str("Next steps:\n");
        for step in steps {
            text.push_str(&format!("  {step}\n"));
        }
    }
    text
}

/// The Docker build context and Cargo workspace: the nearest directory at or above the
/// description whose `Cargo.toml` has a `[workspace]` table, else the nearest with a
/// `Cargo.toml`, else the description's directory.
fn build_context(file: &Path) -> PathBuf {
    let dir = description_dir(file);
    let Ok(absolute) = std::path::absolute(&dir) else {
        return dir;
    };
    let mut nearest = None;
    for candidate in absolute.ancestors() {
        if let Ok(text) = std::fs::read_to_string(candidate.join("Cargo.toml")) {
            if crate::util::declares_workspace(&text) {
                return candidate.to_path_buf();
            }
            nearest.get_or_insert_with(|| candidate.to_path_buf());
        }
    }
    nearest.unwrap_or(dir)
}

/// The commands that deploy what was generated, one per line, in target order, from the
/// deployment plan's paths. `context` is the Cargo workspace (and Docker build context) as
/// shown to the user.
fn next_steps(
    spec: &Spec,
    options: &GenerateOptions,
    view: &PathView<'_>,
    context: &str,
) -> Vec<String> {
    let in_context = |path: &str| {
        if context == "." {
            path.to_string()
        } else {
            format!("{context}/{path}")
        }
    };
    let out = view.show(&options.out_dir());
    let at = |path: &str| {
        shell_quote(&if out == "." {
            path.to_string()
        } else {
            format!("{out}/{path}")
        })
    };
    let install = plan::install(spec);
    let mut steps = Vec::new();
    for target in options.targets() {
        match target {
            Target::Docker => {
                let tag = match &spec.image.tag {
                    Some(tag) => format!("{}:{tag}", spec.image.repository),
                    None => spec.image.repository.clone(),
                };
                steps.push(format!(
                    "DOCKER_BUILDKIT=1 docker build -f {} -t {} {}",
                    at(paths::DOCKERFILE),
                    shell_quote(&tag),
                    shell_quote(context)
                ));
            }
            Target::Helm => {
                steps.push(format!(
                    "helm install {} {}",
                    spec.name,
                    at(&paths::chart(spec))
                ));
            }
            Target::K8s => {
                steps.push(format!("kubectl apply -f {}", at(&paths::manifest(spec))));
            }
            Target::Systemd => {
                if spec.command.is_empty() {
                    let mut build = String::from("cargo build --release --locked");
                    if context != "." {
                        build.push_str(&format!(
                            " --manifest-path {}",
                            shell_quote(&in_context("Cargo.toml"))
                        ));
                    }
                    build.push_str(&format!(
                        " -p {} --bin {}",
                        spec.build.package, spec.build.bin
                    ));
                    if !spec.build.features.is_empty() {
                        build.push_str(&format!(" --features {}", spec.build.features.join(",")));
                    }
                    steps.push(build);
                    steps.push(format!(
                        "sudo install -m 0755 {} {}",
                        shell_quote(&in_context(&format!("target/release/{}", spec.build.bin))),
                        install.binary
                    ));
                }
                steps.push(format!(
                    "sudo install -m 0644 {} {}",
                    at(&paths::unit(spec)),
                    install.unit_dir
                ));
                steps.push(format!(
                    "sudo install -D -m 0600 {} {}",
                    at(&paths::env(spec)),
                    shell_quote(&install.env_file)
                ));
                if let Some(config) = &spec.config {
                    let source = description_dir(&options.file).join(&config.file);
                    steps.push(format!(
                        "sudo install -D -m 0644 {} {}",
                        shell_quote(&view.show(&source)),
                        shell_quote(&config.mount_path)
                    ));
                }
                steps.push(format!(
                    "sudo systemctl daemon-reload && sudo systemctl enable --now {}",
                    install.unit_name
                ));
            }
            Target::Ci => {
                steps.push(format!(
                    "mkdir -p .github/workflows && cp {} .github/workflows/",
                    at(&paths::workflow(spec))
                ));
            }
            Target::Windows => {
                if render::windows::skip_reason(spec).is_none() {
                    steps.push(format!(
                        "on Windows (elevated cmd.exe), with {}.exe built for x86_64-pc-windows-gnu (berth-sidecar feature windows): {} PATH\\TO\\{}.exe",
                        spec.build.bin,
                        at(render::windows::INSTALL_SCRIPT).replace('/', "\\"),
                        spec.build.bin
                    ));
                }
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::FileSet;
    use crate::spec::WorkloadKind;
    use crate::spec::sample::sample;

    fn files() -> FileSet {
        let mut set = FileSet::new();
        set.insert(Target::Docker, "docker/Dockerfile", "FROM scratch")
            .unwrap();
        set.insert(
            Target::Helm,
            "helm/echo-daemon/Chart.yaml",
            "name: echo-daemon",
        )
        .unwrap();
        set.insert(Target::K8s, "k8s/echo-daemon.yaml", "kind: Deployment")
            .unwrap();
        set.insert(
            Target::Systemd,
            "systemd/echo-daemon.service",
            "[Service]\nEnvironmentFile=-/etc/default/echo-daemon\n",
        )
        .unwrap();
        set.insert(
            Target::Systemd,
            "systemd/echo-daemon.env",
            "BERTH_METRICS=true",
        )
        .unwrap();
        set
    }

    fn options(file: &str, out: Option<&str>, only: &[Target]) -> GenerateOptions {
        GenerateOptions {
            file: file.into(),
            out: out.map(PathBuf::from),
            only: only.to_vec(),
            force: false,
        }
    }

    #[test]
    fn out_defaults_to_deploy_beside_the_description() {
        assert_eq!(
            options("berth.yaml", None, &[]).out_dir(),
            PathBuf::from("deploy")
        );
        assert_eq!(
            options("examples/echo/berth.yaml", None, &[]).out_dir(),
            PathBuf::from("examples/echo/deploy")
        );
        assert_eq!(
            options("berth.yaml", Some("/tmp/x"), &[]).out_dir(),
            PathBuf::from("/tmp/x")
        );
    }

    #[test]
    fn paths_are_shown_relative_to_the_current_directory() {
        let view = PathView {
            cwd: Some(Path::new("/work/repo")),
        };
        assert_eq!(view.show(Path::new("./deploy")), "deploy");
        assert_eq!(view.show(Path::new(".")), ".");
        assert_eq!(
            view.show(Path::new("/work/repo/examples/echo/deploy")),
            "examples/echo/deploy"
        );
        assert_eq!(view.show(Path::new("/work/repo")), ".");
        assert_eq!(
            view.show(Path::new("/elsewhere/deploy")),
            "/elsewhere/deploy"
        );
        assert_eq!(view.show(Path::new("/")), "/");
    }

    #[test]
    fn next_steps_for_every_target() {
        let spec = sample(WorkloadKind::Deployment);
        let view = PathView { cwd: None };
        let steps = next_steps(
            &spec,
            &options("examples/echo/berth.yaml", None, &[]),
            &view,
            "examples/echo",
        );
        assert_eq!(
            steps,
            vec![
                "DOCKER_BUILDKIT=1 docker build -f examples/echo/deploy/docker/Dockerfile -t ghcr.io/acme/echo-daemon:0.1.0 examples/echo",
                "helm install echo-daemon examples/echo/deploy/helm/echo-daemon",
                "kubectl apply -f examples/echo/deploy/k8s/echo-daemon.yaml",
                "cargo build --release --locked --manifest-path examples/echo/Cargo.toml -p echo-daemon --bin echo-daemon",
                "sudo install -m 0755 examples/echo/target/release/echo-daemon /usr/local/bin/echo-daemon",
                "sudo install -m 0644 examples/echo/deploy/systemd/echo-daemon.service /etc/systemd/system/",
                "sudo install -D -m 0600 examples/echo/deploy/systemd/echo-daemon.env /etc/echo-daemon/echo-daemon.env",
                "sudo install -D -m 0644 examples/echo/config/echo.toml /etc/echo-daemon/echo.toml",
                "sudo systemctl daemon-reload && sudo systemctl enable --now echo-daemon",
                "on Windows (elevated cmd.exe), with echo-daemon.exe built for x86_64-pc-windows-gnu (berth-sidecar feature windows): examples\\echo\\deploy\\windows\\install.cmd PATH\\TO\\echo-daemon.exe",
            ]
        );
        let only_helm = next_steps(
            &spec,
            &options("berth.yaml", None, &[Target::Helm]),
            &view,
            ".",
        );
        assert_eq!(
            only_helm,
            vec!["helm install echo-daemon deploy/helm/echo-daemon"]
        );
    }

    #[test]
    fn the_build_context_is_the_cargo_workspace_above_the_description() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("ws/crates/daemon")).unwrap();
        std::fs::write(
            root.join("ws/Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\n",
        )
        .unwrap();
        std::fs::write(
            root.join("ws/crates/daemon/Cargo.toml"),
            "[package]\nname = \"d\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("lone/deploy")).unwrap();
        std::fs::write(root.join("lone/Cargo.toml"), "[package]\nname = \"l\"\n").unwrap();
        std::fs::create_dir_all(root.join("nothing")).unwrap();
        assert_eq!(
            build_context(&root.join("ws/crates/daemon/berth.yaml")),
            root.join("ws")
        );
        assert_eq!(
            build_context(&root.join("lone/berth.yaml")),
            root.join("lone")
        );
        assert_eq!(
            build_context(&root.join("nothing/berth.yaml")),
            root.join("nothing")
        );
    }

    #[test]
    fn summary_counts_files_per_target_and_lists_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("deploy");
        let opts = options("berth.yaml", Some(out.to_str().unwrap()), &[]);
        let view = PathView {
            cwd: Some(tmp.path()),
        };
        let prepared = |files: FileSet| Prepared {
            spec: sample(WorkloadKind::DaemonSet),
            plan: output::plan(&out, &files, &[]).unwrap(),
        };
        let first = prepared(files());
        first.plan.apply(false).unwrap();
        let text = summary(&first, &opts, &view);
        assert!(
            text.starts_with("Generated echo-daemon (DaemonSet) from berth.yaml into deploy/\n"),
            "{text}"
        );
        assert!(text.contains("  docker    1 file: 1 created\n"), "{text}");
        assert!(text.contains("  systemd   2 files: 2 created\n"), "{text}");
        assert!(
            !text.contains("  created   deploy/"),
            "a first run lists no file: {text}"
        );
        assert!(!text.contains(".berth-manifest"), "{text}");
        assert!(
            text.contains(
                "Next steps:\n  DOCKER_BUILDKIT=1 docker build -f deploy/docker/Dockerfile"
            ),
            "{text}"
        );

        let mut fewer = FileSet::new();
        for (path, file) in files().iter() {
            if path != "systemd/echo-daemon.env" {
                let contents = if path == "docker/Dockerfile" {
                    "FROM debian"
                } else {
                    &file.contents
                };
                fewer.insert(file.target, path, contents).unwrap();
            }
        }
        let second = prepared(fewer);
        second.plan.apply(false).unwrap();
        let text = summary(&second, &opts, &view);
        assert!(text.contains("  docker    1 file: 1 updated\n"), "{text}");
        assert!(text.contains("  helm      1 file: 1 unchanged\n"), "{text}");
        assert!(
            text.contains("  systemd   1 file: 1 unchanged, 1 removed\n"),
            "{text}"
        );
        assert!(
            text.contains("  updated   deploy/docker/Dockerfile\n"),
            "{text}"
        );
        assert!(
            text.contains("  removed   deploy/systemd/echo-daemon.env\n"),
            "{text}"
        );
        assert!(!text.contains("unchanged deploy/"), "{text}");
    }
}
