//! The minijinja set-up shared by the text-template renderers (`docker`, `systemd`).
//!
//! Templates are embedded [`include_dir::Dir`]s (see [`super::assets`]). Every renderer uses the
//! same engine settings so templates read alike: `{% %}` lines vanish (`trim_blocks` +
//! `lstrip_blocks`), the final newline is kept, nothing is HTML-escaped, and an undefined
//! variable is an error (a typo in a template fails the unit tests instead of rendering empty).

use include_dir::Dir;
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::RenderError;

/// Renders the template at `path` inside `dir` (e.g. `Dockerfile.j2`) with `context`.
///
/// Every `.j2` file of `dir` is loaded, so templates may `{% include %}` or `{% import %}` each
/// other by their path relative to `dir`.
pub(crate) fn render<C: Serialize>(
    dir: &'static Dir<'static>,
    path: &str,
    context: &C,
) -> Result<String, RenderError> {
    let template_error = |name: &str, source: minijinja::Error| RenderError::Template {
        name: name.to_owned(),
        source,
    };
    let env = environment(dir).map_err(|e| template_error(path, e))?;
    let template = env
        .get_template(path)
        .map_err(|e| template_error(path, e))?;
    template
        .render(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(|e| template_error(path, e))
}

/// An environment holding every `.j2` file of `dir` (recursively), keyed by relative path.
fn environment(dir: &'static Dir<'static>) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()?;
    env.set_syntax(syntax);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let mut pending = vec![dir];
    while let Some(d) = pending.pop() {
        pending.extend(d.dirs());
        for file in d.files() {
            let Some(name) = file.path().to_str() else {
                continue;
            };
            if !name.ends_with(".j2") {
                continue;
            }
            let source = file.contents_utf8().ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("template '{name}' is not UTF-8"),
                )
            })?;
            env.add_template(name, source)?;
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::super::assets::DOCKER;
    use super::*;

    #[test]
    fn unknown_template_is_an_error() {
        let err = render(&DOCKER, "missing.j2", &()).unwrap_err();
        assert!(err.to_string().contains("missing.j2"), "{err}");
    }

    #[test]
    fn undefined_variables_fail() {
        #[derive(Serialize)]
        struct Empty {}
        // The Dockerfile template needs many variables; an empty context must not render.
        assert!(render(&DOCKER, "Dockerfile.j2", &Empty {}).is_err());
    }
}
