//! All YAML reading and writing of berth lives here, so the library choice can change in one
//! place (see `docs/yaml.md`).
