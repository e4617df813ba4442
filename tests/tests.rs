//! Every CLI, golden and tool test of berth, in one test binary (ripgrep's `tests/tests.rs`
//! layout): each file of this directory is a module of it, so `cargo test` links kube and
//! k8s-openapi into one executable instead of one per file. `Cargo.toml` sets
//! `autotests = false`; a new file here must be declared below, and
//! [`every_test_file_is_a_module`] fails until it is.
//!
//! Run one file's tests with a filter: `cargo test -p berth --test tests golden::`.

mod support;

mod cli_generate;
mod cli_help;
mod cli_init;
mod cli_schema;
mod cluster_cli;
mod docker_tools;
mod generate_faults;
mod golden;
mod helm_tools;
mod k8s_helm_equivalence;
mod k8s_tools;
mod systemd_tools;
mod validate;
mod validate_accept;
mod validate_fuzz;

/// A file of `tests/` that is not declared above would never compile or run.
#[test]
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let this = std::fs::read_to_string(dir.join("tests.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path
            .extension()
            .filter(|e| *e == "rs")
            .and(path.file_stem())
            .and_then(|s| s.to_str())
        else {
            continue;
        };
        if stem != "tests" {
            assert!(
                this.contains(&format!("\nmod {stem};\n")),
                "tests/{stem}.rs is not a module of tests/tests.rs: add `mod {stem};`"
            );
        }
    }
}
