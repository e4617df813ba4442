//! `berth apply`: server-side apply of the daemon's Kubernetes objects (the objects of
//! `k8s/<name>.yaml`) with field manager `berth`, printing what each apply changed.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CommandError, CommandResult};
use crate::cluster::{self, ApplyOptions, Connection};
use crate::spec::Spec;

/// Options of `berth apply`.
#[derive(Debug, Clone, Default)]
pub struct ApplyCommand {
    /// The description.
    pub file: PathBuf,
    /// The kubeconfig context (default: the current context).
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    pub namespace: Option<String>,
    /// Apply the namespace first.
    pub create_namespace: bool,
    /// Server-side dry run.
    pub dry_run: bool,
    /// Take over fields owned by another field manager.
    pub force_conflicts: bool,
}

/// Reads and checks a description for the cluster commands (see [`super::load_spec`]).
pub(crate) fn load_spec(file: &Path) -> Result<Spec, CommandError> {
    super::validate::check_readable(file)?;
    super::load_spec(file, "")
}

/// A single-threaded async runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::runtime(format!("cannot start the async runtime: {e}")))
}

/// Connects as kubectl would (see [`cluster::connect`]); failures are exit code 1.
pub(crate) async fn connect(
    context: Option<&str>,
    namespace: Option<&str>,
) -> Result<Connection, CommandError> {
    cluster::connect(context, namespace)
        .await
        .map_err(CommandError::from)
}

/// Runs `berth apply`: one line per object on stdout (`deployment.apps/x created`, with
/// ` (server dry run)` under `--dry-run`).
pub fn run(options: &ApplyCommand) -> CommandResult {
    let spec = load_spec(&options.file)?;
    let objects = crate::render::k8s::objects(&spec);
    let apply_options = ApplyOptions {
        dry_run: options.dry_run,
        force_conflicts: options.force_conflicts,
        create_namespace: options.create_namespace,
    };
    let suffix = if options.dry_run {
        " (server dry run)"
    } else {
        ""
    };
    runtime()?.block_on(async {
        let conn = connect(options.context.as_deref(), options.namespace.as_deref()).await?;
        cluster::apply(&conn, &objects, apply_options, |applied| {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(
                stdout,
                "{} {}{suffix}",
                applied.reference,
                applied.change.as_str()
            );
            let _ = stdout.flush();
        })
        .await
        .map(|_| ())
        .map_err(CommandError::from)
    })
}
