//! The probe mode's command line on arbitrary arguments (NUL-separated): never panics; a
//! parsed probe has a known endpoint and a connectable (non-wildcard) address; anything else
//! starting with `--berth-probe` is a usage error.
#![no_main]

use berth_sidecar::probe::Probe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<&str> = text.split('\0').collect();
    match Probe::from_args(&args) {
        Ok(None) => assert_ne!(args.get(1).copied(), Some("--berth-probe")),
        Ok(Some(p)) => {
            assert!(["/livez", "/readyz", "/startupz"].contains(&p.path));
            assert!(!p.addr.starts_with("0.0.0.0:") && !p.addr.starts_with("[::]:"));
        }
        Err(usage) => assert!(usage.starts_with("usage: --berth-probe")),
    }
});
