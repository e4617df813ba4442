//! The YAML writer: whatever tree the reader builds, writing it as YAML and reading it back
//! gives the same JSON value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Some(node)) = berth::yaml::parse(text) else {
        return;
    };
    let value = node.to_json();
    let written = berth::yaml::to_string(&value);
    let again = berth::yaml::parse(&written)
        .unwrap_or_else(|e| panic!("written YAML does not parse: {e}\n{written}"))
        .map(|n| n.to_json())
        .unwrap_or(serde_json::Value::Null);
    assert_eq!(again, value, "\n{written}");
});
