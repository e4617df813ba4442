//! Peer "bare axum": the routes of `examples/echo-daemon` served by `axum::serve` with
//! `with_graceful_shutdown`, as in axum's graceful-shutdown example, plus a hand-written
//! readiness flip and pre-stop delay. No drain deadline (axum has none).

use std::process::ExitCode;

use berth_bench::peer::{self, Peer};

#[tokio::main]
async fn main() -> ExitCode {
    let started = Peer::start().await;
    let (args, ready) = (started.args, started.ready);
    // The probe server answers until the process exits.
    tokio::spawn(axum::serve(started.admin, peer::admin_router(ready.clone())).into_future());
    let stop = peer::pre_stop(peer::terminate_signal(), ready, args.pre_stop_delay);
    match axum::serve(started.app, peer::app_router())
        .with_graceful_shutdown(stop)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
