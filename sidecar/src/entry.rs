//! The entry point: probe mode, logging, the `BERTH_*` environment, the runtime and the exit
//! code, so a daemon's `main` holds only its own work.
//!
//! [`run`] is synchronous on purpose: it builds the Tokio runtime itself, so a platform that
//! must take over the main thread before any runtime exists (the Windows service control
//! dispatcher) can do so here without any change to the daemons. [`run_async`] is the same
//! for a daemon that owns its runtime.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::process::ExitCode;

use crate::{Builder, Error, Sidecar};

/// The error type of the daemon's start-up closure: anything that converts into it (`?` on
/// `std::io::Error`, [`Error`], `String`, ...) ends the process with exit 1, a [`UsageError`]
/// or a malformed `BERTH_*` variable with exit 2.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The daemon's own configuration is unusable (a malformed environment variable or argument):
/// [`run`] prints it and exits with 2, the usage-error code.
///
/// ```
/// use berth_sidecar::UsageError;
/// let err = UsageError::new("ECHO_LISTEN=\"x\": expected HOST:PORT");
/// assert_eq!(err.to_string(), "ECHO_LISTEN=\"x\": expected HOST:PORT");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(String);

impl UsageError {
    /// A usage error with this message.
    ///
    /// ```
    /// let err: berth_sidecar::BoxError = berth_sidecar::UsageError::new("bad flag").into();
    /// assert_eq!(err.to_string(), "bad flag");
    /// ```
    pub fn new(message: impl Into<String>) -> UsageError {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for UsageError {}

/// Runs a daemon: the whole of `main`.
///
/// In order: probe mode (`<bin> --berth-probe readyz` exits here with 0 or 1, see
/// [`probe`](crate::probe)), [`logging::init`](crate::logging::init),
/// [`Builder::from_env`] (a malformed `BERTH_*` value prints `error: ...` and exits 2), a
/// multi-threaded Tokio runtime, then `main(builder)`: the daemon configures the builder,
/// starts the sidecar, serves and marks itself ready, and returns the [`Sidecar`]. `run`
/// then waits for the end of the lifecycle ([`Sidecar::run`]) and returns its exit code:
/// 0 clean drain, 124 drain timeout, 130/143 second signal. An error from `main` prints
/// `error: <message>: <cause>...` and exits 1 ([`UsageError`]: 2).
///
/// ```no_run
/// use berth_sidecar::Check;
///
/// fn main() -> std::process::ExitCode {
///     berth_sidecar::run(|builder| async move {
///         let sidecar = builder
///             .check(Check::readiness("db", || async { Ok::<(), String>(()) }))
///             .start()
///             .await?;
///         let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
///         sidecar.serve(berth_sidecar::bind("0.0.0.0:8080").await?, app);
///         sidecar.mark_ready();
///         Ok(sidecar)
///     })
/// }
/// ```
pub fn run<F, Fut>(main: F) -> ExitCode
where
    F: FnOnce(Builder) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Sidecar, BoxError>>,
{
    let builder = match prepare() {
        Ok(builder) => builder,
        Err(code) => return code.into(),
    };
    // Started by the Windows Service Control Manager: the main thread becomes its
    // dispatcher and the daemon runs on the service thread, driven by the SCM.
    #[cfg(all(feature = "windows", windows))]
    {
        let daemon = Box::new(move |driver: Option<crate::windows::ServiceDriver>| {
            let builder = match driver {
                Some(driver) => builder.driver(move |lifecycle| driver.attach(lifecycle)),
                None => builder,
            };
            block_on(builder, main)
        });
        match crate::windows::run_as_service(daemon) {
            Ok(code) => code,
            Err(console) => ExitCode::from(console(None)),
        }
    }
    #[cfg(not(all(feature = "windows", windows)))]
    ExitCode::from(block_on(builder, main))
}

/// [`run`] for a daemon that owns its Tokio runtime: the same steps, minus building the
/// runtime.
///
/// ```no_run
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> std::process::ExitCode {
///     berth_sidecar::run_async(|builder| async move {
///         let sidecar = builder.auto_ready(true).start().await?;
///         Ok(sidecar)
///     })
///     .await
/// }
/// ```
pub async fn run_async<F, Fut>(main: F) -> ExitCode
where
    F: FnOnce(Builder) -> Fut,
    Fut: Future<Output = Result<Sidecar, BoxError>>,
{
    match prepare() {
        Ok(builder) => ExitCode::from(lifecycle(builder, main).await),
        Err(code) => code.into(),
    }
}

/// Probe mode, logging, the environment; `Err` with the exit code when the process should
/// end here.
fn prepare() -> Result<Builder, u8> {
    crate::probe::run_if_requested();
    crate::logging::init();
    Builder::from_env().map_err(|err| report(&err))
}

/// Builds the multi-threaded runtime and runs the daemon in it; returns the exit code. The
/// place a service manager's dispatcher (Windows) calls from its own thread.
pub(crate) fn block_on<F, Fut>(builder: Builder, main: F) -> u8
where
    F: FnOnce(Builder) -> Fut,
    Fut: Future<Output = Result<Sidecar, BoxError>>,
{
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(lifecycle(builder, main)),
        Err(err) => {
            eprintln!("error: cannot start the Tokio runtime: {err}");
            1
        }
    }
}

/// The daemon's start-up, then the lifecycle; the exit code.
async fn lifecycle<F, Fut>(builder: Builder, main: F) -> u8
where
    F: FnOnce(Builder) -> Fut,
    Fut: Future<Output = Result<Sidecar, BoxError>>,
{
    match main(builder).await {
        Ok(sidecar) => sidecar.run().await.code(),
        Err(err) => report(&*err),
    }
}

/// Prints `error: <message>: <cause>: ...` to stderr; returns 2 for usage errors (a
/// [`UsageError`], a malformed `BERTH_*` variable), 1 otherwise.
fn report(err: &(dyn StdError + 'static)) -> u8 {
    let mut line = format!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{line}");
    tracing::debug!(error = %line, "start-up failed");
    exit_code(err)
}

fn exit_code(err: &(dyn StdError + 'static)) -> u8 {
    if err.is::<UsageError>() || matches!(err.downcast_ref::<Error>(), Some(Error::Env(_))) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Settings;

    #[test]
    fn usage_and_environment_errors_exit_2_others_1() {
        let usage: BoxError = UsageError::new("bad").into();
        assert_eq!(exit_code(&*usage), 2);
        let env = Settings::from_lookup(|k| (k == "BERTH_METRICS").then(|| "perhaps".into()))
            .unwrap_err();
        let env: BoxError = Error::from(env).into();
        assert_eq!(exit_code(&*env), 2);
        let io: BoxError = std::io::Error::other("disk on fire").into();
        assert_eq!(exit_code(&*io), 1);
        let text: BoxError = "plain text".into();
        assert_eq!(exit_code(&*text), 1);
    }

    #[test]
    fn a_failing_main_is_reported_with_its_exit_code() {
        let code = block_on(Builder::default(), |_| async {
            Err::<Sidecar, BoxError>(UsageError::new("no").into())
        });
        assert_eq!(code, 2);
        let code = block_on(Builder::default(), |_| async {
            Err::<Sidecar, BoxError>("broken".into())
        });
        assert_eq!(code, 1);
    }

    #[test]
    fn the_exit_code_is_the_lifecycle_s() {
        let code = block_on(Builder::default(), |builder| async move {
            let sidecar = builder
                .admin_addr("127.0.0.1:0")
                .signals(false)
                .auto_ready(true)
                .pre_stop_delay(std::time::Duration::ZERO)
                .start()
                .await?;
            sidecar.shutdown();
            Ok(sidecar)
        });
        assert_eq!(code, 0);
    }
}
