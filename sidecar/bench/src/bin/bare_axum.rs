//! Peer "bare axum": the routes of `examples/echo-daemon` served by `axum::serve` with
//! `with_graceful_shutdown`, as in axum's graceful-shutdown example, plus a hand-written
//! readiness flip and pre-stop delay. No drain deadline (axum has none).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use berth_bench::peer::{self, PeerArgs};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match PeerArgs::from_env() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (app, admin) = match (
        TcpListener::bind(args.app).await,
        TcpListener::bind(args.admin).await,
    ) {
        (Ok(app), Ok(admin)) => (app, admin),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: cannot bind: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ready = Arc::new(AtomicBool::new(true));
    // The probe server answers until the process exits.
    tokio::spawn(axum::serve(admin, peer::admin_router(ready.clone())).into_future());
    let stop = peer::pre_stop(peer::terminate_signal(), ready, args.pre_stop_delay);
    match axum::serve(app, peer::app_router())
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
