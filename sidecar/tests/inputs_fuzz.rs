//! A stable, time-bounded stand-in for `cargo fuzz run contract_env` and `cargo fuzz run
//! probe_args` (see fuzz/README.md): the runtime's inputs — the contract's environment values
//! (durations, addresses, booleans) and the probe mode's arguments — built from a fixed-seed
//! PRNG, so every run is the same. Nothing may panic, and every accepted value must mean what
//! it says: a parsed duration formats and parses back to itself, an accepted address is
//! `HOST:PORT`, an error names its variable, a probe has a known path.

use std::time::Duration;

use berth_sidecar::contract::{
    self, ENV_ADMIN_ADDR, ENV_CONFIG_FILE, ENV_DRAIN_TIMEOUT, ENV_LOG_FORMAT, ENV_METRICS,
    ENV_PRE_STOP_DELAY, Settings, format_duration, parse_bool, parse_duration, validate_host_port,
};
use berth_sidecar::probe::Probe;

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces of durations, addresses, booleans and arguments, valid and not.
const TOKENS: &[&str] = &[
    "0",
    "1",
    "5",
    "20",
    "999",
    "007",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999999",
    "1.5",
    ".5",
    "5.",
    ".",
    "..",
    "1.999999999999999999999999999999",
    "ns",
    "us",
    "µs",
    "μs",
    "ms",
    "s",
    "m",
    "h",
    "d",
    "S",
    "H",
    "sec",
    "+",
    "-",
    " ",
    "\t",
    "\n",
    "e9",
    "1e3",
    "_",
    ",",
    ":",
    "::",
    "[",
    "]",
    "[::]",
    "[::1]",
    "0.0.0.0",
    "127.0.0.1",
    "localhost",
    "9090",
    "65535",
    "65536",
    "-1",
    "true",
    "false",
    "TRUE",
    "yes",
    "no",
    "on",
    "off",
    "maybe",
    "\u{0}",
    "é",
    "\u{feff}",
    "%",
    "/",
    "*",
];

fn random_text(rng: &mut Rng) -> String {
    let n = rng.below(8);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(TOKENS));
    }
    if rng.below(10) == 0 {
        // Raw random characters now and then.
        for _ in 0..rng.below(6) {
            let c = char::from_u32((rng.next() % 0x800) as u32).unwrap_or('?');
            s.push(c);
        }
    }
    s
}

/// Inputs that once broke a parser; kept as fixed cases.
const REGRESSIONS: &[&str] = &[
    // 30 fraction digits times the unit overflowed u128 (a panic in debug builds, a wrong
    // value in release).
    "1.999999999999999999999999999999h",
    "0.999999999999999999999999999999999999999h",
    "5124095h34m33.709551615999999999999999999s",
];

#[test]
fn durations_parse_without_panic_and_round_trip() {
    let mut rng = Rng(0xd0_2a_71_0e);
    let mut accepted = 0;
    let mut inputs: Vec<String> = REGRESSIONS.iter().map(|s| s.to_string()).collect();
    inputs.extend((0..30_000).map(|_| random_text(&mut rng)));
    for input in &inputs {
        match parse_duration(input) {
            Ok(d) => {
                accepted += 1;
                let text = format_duration(d);
                assert_eq!(
                    parse_duration(&text).ok(),
                    Some(d),
                    "{input:?} -> {d:?} -> {text:?} does not parse back"
                );
            }
            Err(e) => {
                let message = e.to_string();
                assert!(!message.is_empty(), "{input:?}: empty error");
            }
        }
    }
    // Random durations (every magnitude) format and parse back exactly.
    for _ in 0..20_000 {
        let ns = rng.next() >> rng.below(64);
        let d = Duration::from_nanos(ns);
        let text = format_duration(d);
        assert_eq!(parse_duration(&text).ok(), Some(d), "{d:?} -> {text:?}");
    }
    for input in REGRESSIONS {
        assert!(parse_duration(input).is_ok(), "{input}");
    }
    assert!(
        accepted > 100,
        "the generator hardly ever makes a valid duration ({accepted})"
    );
}

#[test]
fn environment_values_never_panic_and_errors_name_their_variable() {
    let mut rng = Rng(0xe4_71_20_14);
    let variables = [
        ENV_ADMIN_ADDR,
        ENV_PRE_STOP_DELAY,
        ENV_DRAIN_TIMEOUT,
        ENV_CONFIG_FILE,
        ENV_METRICS,
        ENV_LOG_FORMAT,
    ];
    let (mut ok, mut rejected) = (0, 0);
    for _ in 0..20_000 {
        let values: Vec<Option<String>> = variables
            .iter()
            .map(|_| (rng.below(3) != 0).then(|| random_text(&mut rng)))
            .collect();
        let lookup = |k: &str| {
            variables
                .iter()
                .position(|v| *v == k)
                .and_then(|i| values[i].clone())
        };
        match Settings::from_lookup(lookup) {
            Ok(s) => {
                ok += 1;
                assert!(
                    validate_host_port(&s.admin_addr).is_ok(),
                    "accepted admin address {:?}",
                    s.admin_addr
                );
                assert_eq!(s.admin_addr, s.admin_addr.trim());
            }
            Err(e) => {
                rejected += 1;
                assert!(variables.contains(&e.variable()), "{e}");
                assert!(e.to_string().contains(e.variable()), "{e}");
                let value = lookup(e.variable()).unwrap_or_default();
                assert_eq!(e.value(), value, "the error quotes the value it rejected");
            }
        }
        // Each parser on its own.
        let text = random_text(&mut rng);
        if let Some(b) = parse_bool(&text) {
            let t = text.trim().to_ascii_lowercase();
            assert_eq!(
                b,
                matches!(t.as_str(), "true" | "1" | "yes" | "on"),
                "{text:?}"
            );
        }
        if validate_host_port(&text).is_ok() {
            let (host, port) = text.trim().rsplit_once(':').expect("HOST:PORT");
            assert!(!host.is_empty());
            assert!(port.parse::<u16>().is_ok());
        }
    }
    assert!(
        ok > 100 && rejected > 100,
        "{ok} accepted, {rejected} rejected"
    );
    let _ = contract::DEFAULT_ADMIN_ADDR;
}

#[test]
fn probe_arguments_never_panic() {
    let mut rng = Rng(0x9b_0b_e5);
    let words = [
        "app",
        "--berth-probe",
        "livez",
        "readyz",
        "startupz",
        "healthz",
        "--addr",
        "--addr=1",
        "",
        "0.0.0.0:9090",
        "[::]:9090",
        "[::]:",
        "0.0.0.0:",
        "127.0.0.1:1",
    ];
    let mut probes = 0;
    for _ in 0..20_000 {
        let n = rng.below(7);
        let mut args: Vec<String> = Vec::with_capacity(n);
        for i in 0..n {
            let word = if i == 1 && rng.below(4) != 0 {
                "--berth-probe".to_owned()
            } else if rng.below(5) == 0 {
                random_text(&mut rng)
            } else {
                rng.pick(&words).to_owned()
            };
            args.push(word);
        }
        match Probe::from_args(&args) {
            Ok(None) => assert_ne!(args.get(1).map(String::as_str), Some("--berth-probe")),
            Ok(Some(p)) => {
                probes += 1;
                assert!(
                    ["/livez", "/readyz", "/startupz"].contains(&p.path),
                    "{args:?} -> {p:?}"
                );
                assert!(args.len() == 3 || args.len() == 5, "{args:?}");
                assert!(!p.addr.starts_with("0.0.0.0:") && !p.addr.starts_with("[::]:"));
            }
            Err(usage) => assert!(usage.starts_with("usage: --berth-probe"), "{usage}"),
        }
    }
    assert!(probes > 100, "{probes}");
}
