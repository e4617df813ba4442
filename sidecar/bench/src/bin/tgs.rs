//! Peer "tokio-graceful-shutdown": the routes of `examples/echo-daemon` in a subsystem of a
//! `Toplevel` that catches SIGTERM/SIGINT and gives the subsystems `--drain-timeout` (plus
//! the pre-stop delay) to finish: the crate's axum pattern, with the readiness flip and the
//! pre-stop delay written by hand.

use std::process::ExitCode;

use berth_bench::peer::{self, Peer};
use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};

#[tokio::main]
async fn main() -> ExitCode {
    let started = Peer::start().await;
    let (args, ready) = (started.args, started.ready);
    let delay = args.pre_stop_delay;
    let result = Toplevel::new(async move |s: &mut SubsystemHandle| {
        let admin_ready = ready.clone();
        s.start(SubsystemBuilder::new(
            "admin",
            async move |s: &mut SubsystemHandle| {
                let token = s.create_cancellation_token();
                // Probes are answered through the pre-stop delay.
                let stop = async move {
                    token.cancelled().await;
                    tokio::time::sleep(delay).await;
                };
                axum::serve(started.admin, peer::admin_router(admin_ready))
                    .with_graceful_shutdown(stop)
                    .await
            },
        ));
        s.start(SubsystemBuilder::new(
            "http",
            async move |s: &mut SubsystemHandle| {
                let token = s.create_cancellation_token();
                let stop = peer::pre_stop(async move { token.cancelled().await }, ready, delay);
                axum::serve(started.app, peer::app_router())
                    .with_graceful_shutdown(stop)
                    .await
            },
        ));
    })
    .catch_signals()
    .handle_shutdown_requests(args.pre_stop_delay + args.drain_timeout)
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(124)
        }
    }
}
