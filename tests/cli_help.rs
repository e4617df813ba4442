//! The help of `berth` and of every subcommand, as insta snapshots; `--version`; completions.

use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The subcommands listed by `berth --help` (so a new subcommand gets its snapshot too).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_snapshots() {
    let _names = crate::support::snapshot_names_without_module();
    let (code, top) = run(&["--help"]);
    assert_eq!(code, Some(0));
    insta::assert_snapshot!("cli_help__help_berth", top);
    let commands = subcommands(&top);
    for expected in [
        "init",
        "validate",
        "schema",
        "generate",
        "diff",
        "completions",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected} missing from {commands:?}"
        );
    }
    for name in &commands {
        let (code, out) = run(&[name, "--help"]);
        assert_eq!(code, Some(0), "{name} --help");
        assert!(out.contains(&format!("Usage: berth {name}")), "{out}");
        insta::assert_snapshot!(format!("cli_help__help_{name}"), out);
    }
}

#[test]
fn version() {
    let (code, out) = run(&["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("berth {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out) = run(&["completions", shell]);
        assert_eq!(code, Some(0));
        assert!(
            out.contains("validate") && out.contains("init") && out.contains("schema"),
            "{shell}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let (code, _) = run(&["no-such-command"]);
    assert_eq!(code, Some(2));
    // Outside a Cargo project (no package name to detect), init needs --name. (Inside this
    // repository it would detect berth's own package and write a berth.yaml here.)
    let dir = tempfile::tempdir().unwrap();
    let (code, _) = run(&["init", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(!dir.path().join("berth.yaml").exists());
}
