//! Template files embedded at compile time. Each template stays a real file in the repository
//! (so it can be read, diffed and linted on its own): `charts/berth/` is a complete Helm chart,
//! `docker/` holds the Dockerfile templates, `templates/` the systemd and documentation ones.

use include_dir::{Dir, include_dir};

/// `charts/berth/`: the chart whose `templates/` every generated chart ships unchanged.
pub static CHART: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/charts/berth");
/// `docker/`: Dockerfile templates.
pub static DOCKER: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/docker");
/// `templates/`: systemd unit, environment file and chart README templates.
pub static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

#[cfg(test)]
mod tests {
    use super::{DOCKER, TEMPLATES};
    use berth_sidecar::contract as c;
    use include_dir::Dir;

    fn files<'a>(dir: &'a Dir<'a>, out: &mut Vec<(String, &'a str)>) {
        for file in dir.files() {
            if let Some(text) = file.contents_utf8() {
                out.push((file.path().display().to_string(), text));
            }
        }
        for sub in dir.dirs() {
            files(sub, out);
        }
    }

    /// The Dockerfile, systemd, Windows, CI and README templates take the runtime contract from
    /// the renderer's context (`berth_sidecar::contract`), never as text of their own; the
    /// chart's templates have their own test (`chart_templates_take_every_constant_from_the_plan`).
    #[test]
    fn templates_spell_no_contract_fact() {
        let mut all = Vec::new();
        files(&DOCKER, &mut all);
        files(&TEMPLATES, &mut all);
        assert!(all.iter().any(|(p, _)| p.ends_with("install.cmd.j2")));
        assert!(all.iter().any(|(p, _)| p.ends_with(".service.j2")));
        let margin = format!("+ {}s", c::STOP_MARGIN.as_secs());
        let facts = [
            c::ENV_ADMIN_ADDR,
            c::ENV_PRE_STOP_DELAY,
            c::ENV_DRAIN_TIMEOUT,
            c::ENV_CONFIG_FILE,
            c::ENV_METRICS,
            c::ENV_LOG_FORMAT,
            c::ENV_HEADER_READ_TIMEOUT,
            c::ENV_LOG_FILE,
            c::ENV_EVENT_LOG_SOURCE,
            c::PATH_LIVEZ,
            c::PATH_READYZ,
            c::PATH_STARTUPZ,
            c::PATH_METRICS,
            c::PROBE_FLAG,
            margin.as_str(),
        ];
        for (path, text) in &all {
            for fact in facts {
                assert!(
                    !text.contains(fact),
                    "{path} spells {fact:?}: take it from the renderer's context"
                );
            }
        }
    }
}
