//! Command-line arguments (clap derive) and nothing else: parsing only, no behaviour. `main`
//! maps each subcommand onto a function in `berth::commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// berth: one description (berth.yaml) in; Dockerfile, Helm chart, Kubernetes manifests and
/// systemd unit and Windows service scripts out, all agreeing with the berth-sidecar runtime inside the daemon.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 runtime failure (I/O, cluster), 2 invalid input or usage.\n\
Typical flow: berth init --name my-daemon → edit berth.yaml → berth validate → berth generate"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented berth.yaml that passes `berth validate`.
    ///
    /// Run inside a Cargo project, it reads `cargo metadata --no-deps` and detects: the package
    /// (the one whose directory holds DIR; in a virtual workspace root, the only member with a
    /// binary) and its name (the default --name), the binary target (the only one, else
    /// default-run, else the one named like the package), rust-version and edition (the
    /// builder image's rustVersion is berth's default raised to either when newer), and whether
    /// the package is a member of a workspace rooted elsewhere (the Docker build context). It
    /// writes them into build: and prints what it detected, so the first `berth generate`
    /// builds without edits.
    Init(InitArgs),
    /// Check a berth.yaml and report every problem with its line and column.
    Validate(FileArgs),
    /// Print the JSON Schema of the berth.yaml format (for editors and CI).
    Schema,
    /// Write the Dockerfile, Helm chart, Kubernetes manifests and systemd unit.
    Generate(GenerateArgs),
    /// Show what `berth generate` would change; exit 1 when anything differs.
    Diff(DiffArgs),
    /// Compile the daemon for each platform and assemble a multi-arch OCI image (no Docker).
    Build(BuildArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Server-side apply the Kubernetes objects to a cluster (field manager `berth`).
    Apply(ApplyArgs),
    /// Show the rollout status of the workload; --wait waits for it to complete.
    Status(StatusArgs),
    /// Attach an ephemeral debug container (kubectl debug) to a Ready pod of the workload.
    Debug(DebugArgs),
}

/// `berth init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write berth.yaml into (created when missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Name of the daemon (a DNS-1123 label, at most 53 characters); default: the detected
    /// Cargo package's name, `_` as `-`.
    #[arg(long)]
    pub name: Option<String>,
    /// The Kubernetes workload kind.
    #[arg(long, value_enum, default_value_t = WorkloadArg::Deployment)]
    pub workload: WorkloadArg,
    /// Container image, repository:tag (default: ghcr.io/example/NAME:0.1.0).
    #[arg(long)]
    pub image: Option<String>,
}

/// Workload kinds accepted by `berth init --workload`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WorkloadArg {
    /// A replicated Deployment.
    Deployment,
    /// One pod per node.
    Daemonset,
}

/// Arguments of commands that read one description.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// The description to read.
    #[arg(
        short = 'f',
        long = "file",
        default_value = "berth.yaml",
        value_name = "FILE"
    )]
    pub file: PathBuf,
}

/// `berth generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub input: FileArgs,
    /// Output directory (default: deploy/ beside the description).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Only these targets (comma-separated: docker,helm,k8s,systemd,windows,ci; default: all but ci).
    #[arg(long, value_delimiter = ',', value_name = "TARGETS")]
    pub only: Vec<berth::render::Target>,
    /// Overwrite files that were edited by hand since berth wrote them.
    #[arg(long)]
    pub force: bool,
}

/// `berth diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub input: FileArgs,
    /// Output directory to compare with (default: deploy/ beside the description).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Only these targets (comma-separated: docker,helm,k8s,systemd,windows,ci; default: all but ci).
    #[arg(long, value_delimiter = ',', value_name = "TARGETS")]
    pub only: Vec<berth::render::Target>,
}

/// `berth build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub input: FileArgs,
    /// Only these platforms of build.platforms (repeat or comma-separate; default: all).
    #[arg(long = "platform", value_delimiter = ',', value_name = "OS/ARCH")]
    pub platforms: Vec<String>,
    /// Directory of the binaries: DIST/<os>-<arch>/<bin>.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub dist: PathBuf,
    /// Use the binaries already in --dist instead of compiling (e.g. from a CI build matrix).
    #[arg(long)]
    pub skip_compile: bool,
    /// Compile only; assemble no image.
    #[arg(long)]
    pub no_image: bool,
    /// The OCI image layout to write (default: DIST/image).
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Push the multi-arch image to this reference (REGISTRY/NAME:TAG) with crane.
    #[arg(long, value_name = "REF")]
    pub push: Option<String>,
    /// Runtime base image instead of the one the Dockerfile names (its RUNTIME_IMAGE).
    #[arg(long, env = "BERTH_RUNTIME_IMAGE", value_name = "REF")]
    pub runtime_image: Option<String>,
}

/// `berth completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Which cluster and namespace the cluster commands talk to (resolved as kubectl does).
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The kubeconfig context (default: the current context of $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else `default`).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

/// `berth apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub input: FileArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Create the namespace when it does not exist (server-side apply of the Namespace).
    #[arg(long)]
    pub create_namespace: bool,
    /// Server-side dry run: the API server validates and admits, nothing is stored.
    #[arg(long)]
    pub dry_run: bool,
    /// Take over fields another field manager (kubectl, helm) owns instead of failing.
    #[arg(long)]
    pub force_conflicts: bool,
}

/// `berth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub input: FileArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Wait until the rollout completes (exit 0) or the timeout passes (exit 1).
    #[arg(short = 'w', long)]
    pub wait: bool,
    /// How long --wait waits (30s, 5m, 1h30m).
    #[arg(long, default_value = "5m", value_parser = berth::cluster::parse_duration, value_name = "DURATION")]
    pub timeout: std::time::Duration,
}

/// `berth debug`.
#[derive(Debug, Args)]
pub struct DebugArgs {
    #[command(flatten)]
    pub input: FileArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The debug container's image (it shares the daemon's process namespace).
    #[arg(long, default_value = berth::commands::debug::DEFAULT_IMAGE, value_name = "IMAGE")]
    pub image: String,
    /// Debug this pod instead of the first Ready one (it must belong to the workload).
    #[arg(long, value_name = "POD")]
    pub pod: Option<String>,
    /// The command to run in the debug container, after `--` (default: the image's own,
    /// interactive).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}
