//! The runtime's environment contract on arbitrary bytes: the five values of `BERTH_*` read
//! by `Settings::from_lookup`, and each parser alone. Nothing may panic; an error names its
//! variable and quotes its value; a parsed duration formats and parses back to itself; an
//! accepted admin address is `HOST:PORT`.
#![no_main]

use berth_sidecar::contract::{
    ENV_ADMIN_ADDR, ENV_CONFIG_FILE, ENV_DRAIN_TIMEOUT, ENV_METRICS, ENV_PRE_STOP_DELAY,
    Settings, format_duration, parse_bool, parse_duration, validate_host_port,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // One value per line: admin address, pre-stop delay, drain timeout, config file, metrics.
    let mut lines = text.split('\n');
    let vars = [
        ENV_ADMIN_ADDR,
        ENV_PRE_STOP_DELAY,
        ENV_DRAIN_TIMEOUT,
        ENV_CONFIG_FILE,
        ENV_METRICS,
    ];
    let values: Vec<Option<String>> = vars
        .iter()
        .map(|_| lines.next().map(str::to_owned))
        .collect();
    let lookup = |k: &str| {
        vars.iter()
            .position(|v| *v == k)
            .and_then(|i| values[i].clone())
    };
    match Settings::from_lookup(lookup) {
        Ok(s) => assert!(validate_host_port(&s.admin_addr).is_ok()),
        Err(e) => {
            assert!(vars.contains(&e.variable()));
            assert!(e.to_string().contains(e.variable()));
            assert_eq!(Some(e.value().to_owned()), lookup(e.variable()));
        }
    }
    if let Ok(d) = parse_duration(text) {
        let formatted = format_duration(d);
        assert_eq!(parse_duration(&formatted).ok(), Some(d), "{formatted}");
    }
    let _ = parse_bool(text);
    if validate_host_port(text).is_ok() {
        let (_, port) = text.trim().rsplit_once(':').unwrap();
        assert!(port.parse::<u16>().is_ok());
    }
});
