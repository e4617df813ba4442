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
