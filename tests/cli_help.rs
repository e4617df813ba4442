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

#[test]
fn help_snapshots() {
    for (name, args) in [
        ("berth", vec!["--help"]),
        ("init", vec!["init", "--help"]),
        ("validate", vec!["validate", "--help"]),
        ("schema", vec!["schema", "--help"]),
        ("generate", vec!["generate", "--help"]),
        ("diff", vec!["diff", "--help"]),
        ("completions", vec!["completions", "--help"]),
    ] {
        let (code, out) = run(&args);
        assert_eq!(code, Some(0), "{args:?}");
        insta::assert_snapshot!(format!("help_{name}"), out);
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
    let (code, _) = run(&["init"]);
    assert_eq!(code, Some(2));
}
