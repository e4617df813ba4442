//! The `berth` command line.

mod cli;

use std::process::ExitCode;

use berth::commands;
use clap::{CommandFactory, Parser};
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => commands::init::run(&commands::init::InitOptions {
            dir: args.dir,
            name: args.name,
            daemonset: matches!(args.workload, cli::WorkloadArg::Daemonset),
            image: args.image,
        }),
        Command::Validate(args) => commands::validate::run(&args.file),
        Command::Schema => commands::schema::run(),
        Command::Generate(args) => commands::generate::run(&commands::generate::GenerateOptions {
            file: args.input.file,
            out: args.out,
            only: args.only,
            force: args.force,
        }),
        Command::Diff(args) => commands::generate::diff(&commands::generate::GenerateOptions {
            file: args.input.file,
            out: args.out,
            only: args.only,
            force: false,
        }),
        Command::Build(args) => commands::build::run(&commands::build::BuildOptions {
            file: args.input.file,
            platforms: args.platforms,
            dist: args.dist,
            skip_compile: args.skip_compile,
            no_image: args.no_image,
            output: args.output,
            push: args.push,
            runtime_image: args.runtime_image,
        }),
        Command::Apply(args) => commands::apply::run(&commands::apply::ApplyCommand {
            file: args.input.file,
            context: args.cluster.context,
            namespace: args.cluster.namespace,
            create_namespace: args.create_namespace,
            dry_run: args.dry_run,
            force_conflicts: args.force_conflicts,
        }),
        Command::Status(args) => commands::status::run(&commands::status::StatusCommand {
            file: args.input.file,
            context: args.cluster.context,
            namespace: args.cluster.namespace,
            wait: args.wait,
            timeout: args.timeout,
        }),
        Command::Debug(args) => commands::debug::run(&commands::debug::DebugCommand {
            file: args.input.file,
            context: args.cluster.context,
            namespace: args.cluster.namespace,
            image: args.image,
            pod: args.pod,
            command: args.command,
        }),
        Command::Completions(args) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "berth",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let message = err.report();
            if !message.is_empty() {
                eprintln!("{message}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
