//! A stable, time-bounded stand-in for `cargo fuzz run load` (see fuzz/README.md): 20 000
//! mutations of real descriptions, generated with a fixed-seed PRNG so every run is the same,
//! fed to the loader. Nothing may panic, every diagnostic must point inside the input, and
//! every parsed tree must survive a write/read round trip through `berth::yaml::to_string`.

use std::path::{Path, PathBuf};

use crate::support::Rng;

const TOKENS: &[&str] = &[
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "!x ",
    "\n",
    "\n  ",
    "\n    - ",
    "'",
    "\"",
    "# c",
    "---\n",
    "...\n",
    "|\n  ",
    ">-\n  ",
    "~",
    "null",
    "0x1F",
    "-1",
    "1e9",
    "99999999999999999999",
    "\t",
    "é",
    "\u{feff}",
    "\0",
    "? ",
    "<<: ",
    "true",
    "yes",
    "0s",
    "1m30s",
    "500ms",
    "64Mi",
    "50m",
    "sha256:",
    "@",
    ":latest",
    "%YAML 1.2\n",
    "\\",
    "\r\n",
    "apiVersion",
    "workload",
    "DaemonSet",
    "replicas",
    "ports",
    "port",
    "health",
    "env",
    "secret",
    "field",
    "volumes",
    "hostPath",
    "emptyDir",
    "mountPath",
    "config",
    "capabilities",
    "SYS_ADMIN",
    "runAsUser",
    "0",
    "65536",
];

fn seeds() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![
        String::new(),
        "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\n".to_owned(),
        berth::commands::init::template("echo-daemon", false, "ghcr.io/acme/echo-daemon:0.1.0"),
        berth::commands::init::template("node-agent", true, "localhost:5000/node-agent@sha256:0000000000000000000000000000000000000000000000000000000000000000"),
        "apiVersion: berth/v1\nname: x\nworkload: DaemonSet\nimage: a/b:1\nports: [{name: a, port: 1, protocol: UDP}]\n\
         env: {A: {secret: s, key: k}, B: {field: spec.nodeName}, C: {configMap: c, key: k}}\n\
         scheduling: {tolerations: [{operator: Exists}], maxUnavailable: 10%, nodeSelector: {a/b: c}}\n\
         security: {runAsUser: 0, runAsRoot: true, capabilities: [cap_net_raw]}\n\
         resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 2, memory: 2Gi}}\n"
            .to_owned(),
    ];
    for dir in ["tests/fixtures", "examples"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path().join("berth.yaml"))
            .collect();
        paths.sort();
        for p in paths {
            if let Ok(text) = std::fs::read_to_string(&p) {
                out.push(text);
            }
        }
    }
    out
}

fn mutate(rng: &mut Rng, seeds: &[String]) -> String {
    let mut bytes = seeds[rng.below(seeds.len())].clone().into_bytes();
    for _ in 0..1 + rng.below(6) {
        let len = bytes.len();
        let at = rng.below(len + 1);
        match rng.below(7) {
            0 if len > 0 => bytes[rng.below(len)] = rng.next() as u8,
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, t.bytes());
            }
            2 if len > 0 => {
                let end = (at + rng.below(16)).min(len);
                bytes.drain(at..end);
            }
            3 if len > 0 => {
                let end = (at + rng.below(64)).min(len);
                let chunk = bytes[at..end].to_vec();
                let to = rng.below(len + 1);
                bytes.splice(to..to, chunk);
            }
            4 => {
                // Splice a line of another seed.
                let other = &seeds[rng.below(seeds.len())];
                if let Some(line) = other.lines().nth(rng.below(other.lines().count().max(1))) {
                    let mut l = line.as_bytes().to_vec();
                    l.push(b'\n');
                    bytes.splice(at..at, l);
                }
            }
            5 => {
                // Change the indentation of a line.
                let line_start = bytes[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let spaces = vec![b' '; rng.below(5)];
                bytes.splice(line_start..line_start, spaces);
            }
            _ if len > 0 => {
                let end = (at + rng.below(8)).min(len);
                bytes.truncate(end.max(at));
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn without_nulls(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, v)| !v.is_null() || k == "emptyDir")
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[test]
fn twenty_thousand_mutated_descriptions_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let dir = Path::new("/nonexistent-berth-fuzz-dir");
    let (mut accepted, mut rejected, mut round_trips) = (0, 0, 0);
    let schema = jsonschema::validator_for(&berth::spec::schema::schema()).unwrap();
    for i in 0..20_000 {
        let input = mutate(&mut rng, &seeds);
        // Parse once: resolve the tree when it parses (what load_str does after its size and
        // BOM checks), let load_str report the syntax error otherwise.
        let parsed = berth::yaml::parse(&input);
        let result = match &parsed {
            Ok(Some(node)) if i % 10 != 0 => berth::spec::resolve(node, "fuzz.yaml", dir),
            _ => berth::spec::load_str(&input, "fuzz.yaml", dir),
        };
        match result {
            Ok(_) => {
                accepted += 1;
                // What the validator accepts, the JSON Schema accepts too (a field without a
                // value counts as absent, so nulls are dropped first, except `emptyDir:`).
                if let Ok(Some(node)) = &parsed {
                    let instance = without_nulls(node.to_json());
                    let errors: Vec<String> = schema
                        .iter_errors(&instance)
                        .map(|e| format!("{e} at {}", e.instance_path()))
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "case {i}: the schema rejects an accepted description: {errors:?}\n{input}"
                    );
                }
            }
            Err(diags) => {
                rejected += 1;
                assert!(
                    diags.error_count() > 0,
                    "case {i}: rejected without an error:\n{input}"
                );
                // YAML counts \n, \r\n and a lone \r as line breaks; one more line for the end.
                let lines = input.replace("\r\n", "\n").matches(['\n', '\r']).count() + 2;
                for d in &diags {
                    assert!(
                        d.line >= 1 && d.line <= lines && d.column >= 1,
                        "case {i}: {d} outside the input:\n{input:?}"
                    );
                }
            }
        }
        if let Ok(Some(node)) = parsed {
            let value = node.to_json();
            let written = berth::yaml::to_string(&value);
            let again = berth::yaml::parse(&written)
                .unwrap_or_else(|e| panic!("case {i}: written YAML does not parse: {e}\n{written}"))
                .map(|n| n.to_json())
                .unwrap_or(serde_json::Value::Null);
            assert_eq!(
                again, value,
                "case {i}: round trip changed the value:\n{written}"
            );
            round_trips += 1;
        }
    }
    eprintln!("{accepted} accepted, {rejected} rejected, {round_trips} round trips");
    // The mutations must exercise both outcomes, or the test proves little.
    assert!(
        accepted > 100 && rejected > 5_000 && round_trips > 5_000,
        "{accepted} accepted, {rejected} rejected, {round_trips} round trips"
    );
}

/// Large inputs (250 kB, tens of thousands of items; one near the 1 MiB limit), shaped to hit every per-item check many times: they must be
/// rejected (or accepted) in linear time, with at most `MAX_DIAGNOSTICS` + 1 diagnostics.
#[test]
fn large_hostile_inputs_finish_quickly() {
    const BASE: &str =
        "apiVersion: berth/v1\nname: echo\nworkload: Deployment\nimage: ghcr.io/acme/echo:0.1.0\n";
    let fill = |prefix: &str, item: &dyn Fn(usize) -> String| {
        let mut s = format!("{BASE}{prefix}");
        let mut i = 0;
        while s.len() < 250_000 {
            s.push_str(&item(i));
            i += 1;
        }
        s
    };
    let inputs = [
        ("unknown keys", fill("", &|i| format!("k{i}: 1\n"))),
        ("typo keys", fill("", &|i| format!("replicaz{i}: 1\n"))),
        ("env", fill("env:\n", &|i| format!("  V{i}: x\n"))),
        ("duplicate env", fill("env:\n", &|_| "  A: x\n".to_owned())),
        (
            "volumes on one path",
            fill("volumes:\n", &|i| {
                format!("  - {{name: v{i}, emptyDir: {{}}, mountPath: /d}}\n")
            }),
        ),
        (
            "bad capabilities",
            fill("security:\n  capabilities:\n", &|_| {
                "    - SYS_ADMN\n".to_owned()
            }),
        ),
        (
            "duplicate capabilities",
            fill("security:\n  capabilities:\n", &|_| {
                "    - CHOWN\n".to_owned()
            }),
        ),
        (
            "features",
            fill("build:\n  features:\n", &|i| {
                format!("    - f{}\n", i % 1000)
            }),
        ),
        (
            "ports",
            fill("ports:\n", &|i| {
                format!("  - {{name: p{i}, port: {}}}\n", 1 + i % 60000)
            }),
        ),
        ("args", fill("args: [", &|i| format!("{i}, "))),
        (
            "one long key",
            format!("{BASE}{}: 1\n", "k".repeat(1_000_000)),
        ),
        (
            "nested block",
            (0..10_000)
                .map(|i| format!("{}k:\n", " ".repeat(i % 200)))
                .collect::<String>(),
        ),
    ];
    for (name, input) in &inputs {
        let start = std::time::Instant::now();
        let result = berth::spec::load_str(input, "big.yaml", Path::new("/nonexistent"));
        let took = start.elapsed();
        if let Err(d) = &result {
            assert!(
                d.len() <= berth::spec::MAX_DIAGNOSTICS + 1,
                "{name}: {} diagnostics",
                d.len()
            );
        }
        eprintln!(
            "{name}: {} bytes, {:?}, {}",
            input.len(),
            took,
            if result.is_ok() {
                "accepted"
            } else {
                "rejected"
            }
        );
    }
}
