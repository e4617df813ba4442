//! Parser + validator on arbitrary bytes: must never panic, and must either resolve a spec or
//! report at least one error with a position inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match berth::spec::load_str(text, "fuzz.yaml", std::path::Path::new("/nonexistent")) {
        Ok(loaded) => {
            // A resolved spec serializes and its image reference parses again.
            assert!(berth::spec::rules::parse_image(&loaded.spec.image.to_string()).is_ok());
        }
        Err(diags) => {
            assert!(diags.error_count() > 0);
            // YAML counts \n, \r\n and a lone \r as line breaks; one more line for the end.
            let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() + 2;
            for d in &diags {
                assert!(
                    d.line >= 1 && d.line <= lines,
                    "line {} of {lines}: {d}",
                    d.line
                );
                assert!(d.column >= 1);
            }
        }
    }
});
