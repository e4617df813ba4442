//! The `windows` target: cmd.exe scripts that install, upgrade and remove the daemon as a
//! Windows service, a README, and the configuration file.
//!
//! The layout lives in `templates/windows/*.j2`; this module computes every value, already
//! escaped for cmd.exe. The scripts use only what every Windows has and wine runs (`cmd.exe`,
//! `sc.exe`, `reg.exe`, `icacls.exe`, `find.exe`, `ping.exe`), so CI runs them for real.
//!
//! Mapping decisions:
//! - The service runs the installed `.exe` directly (`sc create binPath=`); berth-sidecar's
//!   `windows` feature talks to the Service Control Manager, so no wrapper is involved.
//! - The contract goes into the service's `Environment` value (REG_MULTI_SZ), with
//!   `BERTH_CONFIG_FILE` pointing at `%ProgramData%\<name>\config\<file>`; a service has no
//!   console, so its log goes to the Windows Event Log (`BERTH_EVENT_LOG_SOURCE=<name>`, the
//!   source registered by `install.cmd` with [`EVENT_MESSAGE_FILE`], removed by
//!   `uninstall.cmd`) and to `%ProgramData%\<name>\logs\<name>.log` (`BERTH_LOG_FILE`).
//! - The stop budget is the one of every target ([`Shutdown::stop_timeout`]): the service's
//!   `PreshutdownTimeout`, and the time the scripts wait for STOPPED.
//! - `{field: spec.nodeName}` becomes the computer name; Secret/ConfigMap references and other
//!   downward-API fields have no Windows equivalent: the install script says how to set them.
//! - A daemon that reads the Linux host (`host.pid`, `hostPath` volumes) gets no Windows files
//!   ([`skip_reason`]); `berth generate` prints why.
//!
//! [`Shutdown::stop_timeout`]: crate::spec::model::Shutdown::stop_timeout

use serde::Serialize;

use super::{FileSet, RenderError, Target, assets, template};
use crate::spec::Spec;
use crate::spec::model::{EnvSource, ServiceAccount};

/// The downward-API field that has a Windows equivalent (the computer name).
const NODE_NAME_FIELD: &str = "spec.nodeName";

/// The install script, relative to the output directory.
pub const INSTALL_SCRIPT: &str = "windows/install.cmd";

/// The Rust target the Windows service is built for (MinGW: links with
/// `x86_64-w64-mingw32-gcc`, so it cross-compiles from Linux; the CI workflow and the Windows
/// end-to-end suite build it).
pub const RUST_TARGET: &str = "x86_64-pc-windows-gnu";

/// The linker of [`RUST_TARGET`] and the Debian/Ubuntu package that has it.
pub const LINKER: &str = "x86_64-w64-mingw32-gcc";
/// See [`LINKER`].
pub const LINKER_PACKAGE: &str = "gcc-mingw-w64-x86-64";

/// Where the scripts register the service's event source (a subkey named after the service).
pub const EVENT_LOG_KEY: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application";

/// The event source's message file: `EventCreate.exe`, part of every Windows since XP, whose
/// message table maps each event ID 1 to 1000 to the text `%1`, so Event Viewer shows the line
/// berth-sidecar reports (its IDs are 1, 2 and 3) without a message DLL of the daemon's own.
pub const EVENT_MESSAGE_FILE: &str = r"%SystemRoot%\System32\EventCreate.exe";

/// `TypesSupported` of the event source: error (1), warning (2) and information (4).
pub const EVENT_TYPES_SUPPORTED: u32 = 7;

/// Why the `windows` target renders nothing for `spec`, if it does not.
pub fn skip_reason(spec: &Spec) -> Option<String> {
    if spec.windows.enabled {
        return None;
    }
    Some(
        match crate::spec::model::Windows::linux_only_reason(&spec.host, &spec.volumes) {
            Some(reason) => format!("the daemon cannot run as a Windows service: {reason}"),
            None => "windows.enabled is false in berth.yaml".to_owned(),
        },
    )
}

/// Renders the `windows` files of `spec` into `out` (nothing when [`skip_reason`] says so).
pub fn render(spec: &Spec, out: &mut FileSet) -> Result<(), RenderError> {
    if skip_reason(spec).is_some() {
        return Ok(());
    }
    let cx = Context::new(spec);
    for script in ["install.cmd", "upgrade.cmd", "uninstall.cmd"] {
        let text = template::render(&assets::TEMPLATES, &format!("windows/{script}.j2"), &cx)?;
        // cmd.exe reads batch files line by line with CRLF; `goto` and labels misbehave on LF.
        out.insert(Target::Windows, format!("windows/{script}"), crlf(&text))?;
    }
    let text = template::render(&assets::TEMPLATES, "windows/README.md.j2", &cx)?;
    out.insert(Target::Windows, "windows/README.md", text)?;
    if let Some(config) = &spec.config {
        out.insert(
            Target::Windows,
            format!("windows/config/{}", config.file_name),
            config.contents.clone(),
        )?;
    }
    Ok(())
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// Values of the Windows templates.
#[derive(Debug, Serialize)]
struct Context {
    name: String,
    exe: String,
    display_name: String,
    display_name_text: String,
    description: String,
    install_dir: String,
    /// `sc create binPath=` value, escaped for a batch line.
    bin_path: String,
    start: &'static str,
    start_type: &'static str,
    account: &'static str,
    /// `obj=` value; also the account `icacls` grants.
    object_name: String,
    /// Whether the scripts grant the account rights on its directories (not for LocalSystem).
    grant: bool,
    /// `sc failure` arguments; `None` without restart actions.
    failure_actions: Option<String>,
    reset_secs: u64,
    restart_delay: String,
    reset_period: String,
    failure_flag: u8,
    /// `PreshutdownTimeout` in milliseconds: the stop budget.
    preshutdown_ms: u128,
    stop_budget_secs: u64,
    stop_budget: String,
    pre_stop_delay: String,
    drain_timeout: String,
    /// The `reg add /s` separator and the `/d` value, escaped for a batch line.
    env_separator: String,
    env_data: String,
    /// `NAME=value` lines for the README.
    env_lines: Vec<String>,
    /// Variables that cannot be set by the script, each with how to set it.
    env_manual: Vec<String>,
    env_manual_text: Vec<String>,
    config_file: Option<String>,
    /// The event source's registry key, its message file (escaped for a batch line) and types.
    event_log_key: String,
    event_message_file: String,
    event_message_file_text: &'static str,
    event_types: u32,
    admin_port: u16,
    ports: Vec<u16>,
    rust_target: &'static str,
    /// The stop budget's margin (`contract::STOP_MARGIN`).
    stop_margin: String,
    /// The admin paths, e.g. `/livez` (`contract::PATH_*`).
    env_log_file: &'static str,
    env_log_format: &'static str,
    env_event_log_source: &'static str,
    path_livez: &'static str,
    path_readyz: &'static str,
    path_startupz: &'static str,
    path_metrics: &'static str,
    /// The probe mode's flag and argument, e.g. `--berth-probe readyz`.
    probe_readyz: String,
}

impl Context {
    fn new(spec: &Spec) -> Self {
        use berth_sidecar::contract as c;
        let w = &spec.windows;
        let exe = format!("{}.exe", spec.build.bin);
        let mut command = vec![format!("%INSTALL_DIR%\\{exe}")];
        if spec.command.len() > 1 {
            command.extend(spec.command[1..].iter().cloned());
        }
        command.extend(spec.args.iter().cloned());
        let command_line = command
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i == 0 {
                    format!("\"{a}\"")
                } else {
                    argv_quote(a)
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        // binPath= takes the command line as one argument of sc.exe: quote it once more.
        let bin_path = batch_escape_keeping_variables(&argv_quote(&keep_variables(&command_line)));

        let description = spec
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('"', "'");
        let description = if description.is_empty() {
            format!("{} (installed by berth)", spec.name)
        } else {
            description
        };

        let mut env: Vec<(String, String)> = Vec::new();
        for (name, value) in spec.contract_env() {
            let value = if name == c::ENV_CONFIG_FILE {
                match &spec.config {
                    Some(config) => format!("%DATA_ROOT%\\config\\{}", config.file_name),
                    None => value,
                }
            } else {
                value
            };
            env.push((name.to_owned(), value));
        }
        env.push((
            c::ENV_LOG_FILE.to_owned(),
            format!("%DATA_ROOT%\\logs\\{}.log", spec.name),
        ));
        env.push((c::ENV_EVENT_LOG_SOURCE.to_owned(), spec.name.clone()));
        let mut env_manual = Vec::new();
        for v in &spec.env {
            match &v.value {
                EnvSource::Value(value) if value.chars().any(|ch| ch == '"' || ch.is_control()) => {
                    env_manual.push(format!(
                        "{}: its value holds a double quote or a control character, which reg.exe cannot take on a command line; add it to the Environment value with regedit",
                        v.name
                    ));
                }
                EnvSource::Value(value) => env.push((v.name.clone(), value.clone())),
                EnvSource::Field { path } if path == NODE_NAME_FIELD => {
                    env.push((v.name.clone(), "%COMPUTERNAME%".to_owned()));
                }
                EnvSource::Field { path } => env_manual.push(format!(
                    "{}: the Kubernetes field {path} has no Windows equivalent; add NAME=value to the Environment value",
                    v.name
                )),
                EnvSource::Secret { name, key } => env_manual.push(format!(
                    "{}: Secret {name}, key {key} on Kubernetes; a Windows host has no Secrets: add NAME=value to the Environment value (readable by administrators only)",
                    v.name
                )),
                EnvSource::ConfigMap { name, key } => env_manual.push(format!(
                    "{}: ConfigMap {name}, key {key} on Kubernetes: add NAME=value to the Environment value",
                    v.name
                )),
            }
        }
        let separator = ['|', '~', '#', ';', ',', '`', '@', '$']
            .into_iter()
            .find(|s| env.iter().all(|(n, v)| !n.contains(*s) && !v.contains(*s)))
            .unwrap_or('|');
        let env_data = env
            .iter()
            .map(|(n, v)| format!("{n}={}", keep_variables(v)))
            .collect::<Vec<_>>()
            .join(&separator.to_string());
        let env_lines = env.iter().map(|(n, v)| format!("{n}={v}")).collect();

        let stop = spec.shutdown.stop_timeout();
        let failure_actions = (!w.recovery.restart_delay.is_zero()).then(|| {
            let ms = w.recovery.restart_delay.std().as_millis();
            format!("restart/{ms}/restart/{ms}/restart/{ms}")
        });

        Context {
            name: spec.name.clone(),
            exe,
            display_name: batch_escape(&w.display_name, true),
            display_name_text: w.display_name.clone(),
            description: batch_escape(&description, true),
            install_dir: w.install_dir.clone(),
            bin_path,
            start: w.start_type.sc_value(),
            start_type: w.start_type.as_str(),
            account: w.account.as_str(),
            object_name: w.account.object_name(&spec.name),
            grant: w.account != ServiceAccount::LocalSystem,
            failure_actions,
            reset_secs: w.recovery.reset_period.as_secs_ceil(),
            restart_delay: w.recovery.restart_delay.to_string(),
            reset_period: w.recovery.reset_period.to_string(),
            failure_flag: u8::from(w.recovery.on_non_crash_failures),
            preshutdown_ms: stop.std().as_millis(),
            stop_budget_secs: spec.shutdown.stop_timeout_secs(),
            stop_budget: stop.to_string(),
            pre_stop_delay: spec.shutdown.pre_stop_delay.to_string(),
            drain_timeout: spec.shutdown.drain_timeout.to_string(),
            env_separator: separator.to_string(),
            env_data: batch_escape_keeping_variables(&env_data),
            env_lines,
            env_manual: env_manual.iter().map(|l| batch_escape(l, false)).collect(),
            env_manual_text: env_manual,
            config_file: spec.config.as_ref().map(|c| c.file_name.clone()),
            event_log_key: format!("{EVENT_LOG_KEY}\\{}", spec.name),
            event_message_file: batch_escape(EVENT_MESSAGE_FILE, true),
            event_message_file_text: EVENT_MESSAGE_FILE,
            event_types: EVENT_TYPES_SUPPORTED,
            admin_port: spec.health.port,
            ports: spec.ports.iter().map(|p| p.port).collect(),
            rust_target: RUST_TARGET,
            stop_margin: crate::spec::model::STOP_MARGIN.to_string(),
            env_log_file: c::ENV_LOG_FILE,
            env_log_format: c::ENV_LOG_FORMAT,
            env_event_log_source: c::ENV_EVENT_LOG_SOURCE,
            path_livez: c::PATH_LIVEZ,
            path_readyz: c::PATH_READYZ,
            path_startupz: c::PATH_STARTUPZ,
            path_metrics: c::PATH_METRICS,
            probe_readyz: super::plan::readyz_probe_args().join(" "),
        }
    }
}

/// Marks the script's own variables (`%DATA_ROOT%`, `%COMPUTERNAME%`) so that
/// [`batch_escape_keeping_variables`] leaves them expandable while every other `%` is doubled.
fn keep_variables(value: &str) -> String {
    ["%DATA_ROOT%", "%COMPUTERNAME%", "%INSTALL_DIR%"]
        .iter()
        .fold(value.replace('%', "\u{1}"), |acc, var| {
            acc.replace(&var.replace('%', "\u{1}"), &var.replace('%', "\u{2}"))
        })
}

fn batch_escape_keeping_variables(value: &str) -> String {
    batch_escape(value, true)
        .replace('\u{1}', "%%")
        .replace('\u{2}', "%")
}

/// Quotes one argument the way `CommandLineToArgvW` and the C runtime read it back.
fn argv_quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_owned();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0;
    for ch in arg.chars() {
        match ch {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            _ => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(ch);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

/// Escapes text for a line of a batch file whose surrounding double quotes the template writes
/// (`quoted`): `%` is doubled (no expansion), and wherever cmd.exe's own quote state (toggled by
/// every `"`) is outside quotes, its operators `^ & | < > ( )` get a caret.
fn batch_escape(text: &str, quoted: bool) -> String {
    let mut inside = quoted;
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '%' => out.push_str("%%"),
            '"' => {
                inside = !inside;
                out.push(ch);
            }
            '^' | '&' | '|' | '<' | '>' | '(' | ')' if !inside => {
                out.push('^');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_quote_round_trips_the_c_runtime_rules() {
        assert_eq!(argv_quote("plain"), "plain");
        assert_eq!(argv_quote(""), "\"\"");
        assert_eq!(argv_quote("a b"), "\"a b\"");
        assert_eq!(argv_quote("say \"hi\""), r#""say \"hi\"""#);
        assert_eq!(
            argv_quote(r"C:\dir with space\"),
            r#""C:\dir with space\\""#
        );
    }

    #[test]
    fn batch_escape_doubles_percent_and_carets_operators_outside_quotes() {
        assert_eq!(batch_escape("100% & more", true), "100%% & more");
        assert_eq!(batch_escape("a&b", false), "a^&b");
        // An embedded quote closes cmd's quoting: what follows needs carets, until the next.
        assert_eq!(batch_escape(r#"x "y a|b"#, true), r#"x "y a^|b"#);
        assert_eq!(batch_escape(r#"x "y" a|b"#, true), r#"x "y" a|b"#);
    }

    #[test]
    fn script_variables_stay_expandable_and_other_percents_do_not() {
        let data = keep_variables("P=%DATA_ROOT%\\x|Q=50%|H=%COMPUTERNAME%");
        assert_eq!(
            batch_escape_keeping_variables(&data),
            "P=%DATA_ROOT%\\x|Q=50%%|H=%COMPUTERNAME%"
        );
    }
}
