//! A complete daemon using berth-sidecar: readiness + liveness checks, a delayed
//! `mark_ready()`, an HTTP app served with drain support, a reload hook, a custom metric,
//! probe mode and logging.
//!
//! ```text
//! cargo run -p berth-sidecar --example quickstart
//! curl -s localhost:9090/readyz?verbose; kill -TERM <pid>
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::{Router, routing::get};
use berth_sidecar::prometheus_client::metrics::counter::Counter;
use berth_sidecar::{Check, Reload};

fn main() -> ExitCode {
    // 1. `run` does what every daemon needs first: probe mode (`quickstart --berth-probe
    //    readyz` exits 0/1 there), logging (JSON when BERTH_LOG_FORMAT=json, filter from
    //    RUST_LOG), the builder from the BERTH_* environment (a malformed value exits 2 naming
    //    it) and the Tokio runtime. At the end it returns the lifecycle's exit code.
    berth_sidecar::run(|builder| async move {
        // 2. Health state the checks read (liveness can be made to fail on demand).
        let alive = Arc::new(AtomicBool::new(true));
        let alive_check = alive.clone();

        let sidecar = builder
            .check(
                Check::readiness("upstream", || async {
                    // e.g. ping the database; errors become "[-]upstream failed: <error>"
                    Ok::<(), String>(())
                })
                .timeout(Duration::from_millis(500))
                .interval(Duration::from_secs(5))
                .failure_threshold(2),
            )
            .check(Check::liveness("worker", move || {
                let ok = alive_check.load(Ordering::Relaxed);
                async move { if ok { Ok(()) } else { Err("worker wedged") } }
            }))
            .on_reload(|reload: Reload| async move {
                let Some(path) = reload.path() else {
                    return Ok(()); // SIGHUP without a config file
                };
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if text.trim().is_empty() {
                    return Err("empty configuration".to_owned()); // old config stays
                }
                tracing::info!(bytes = text.len(), "configuration applied");
                Ok(())
            })
            .start() // binds the admin server: an error exits 1 with the OS reason
            .await?;

        // 3. A custom metric in the sidecar's registry (served on /metrics).
        let hellos = Counter::<u64>::default();
        sidecar.metrics_registry().register(
            "quickstart_hellos",
            "Hello requests served",
            hellos.clone(),
        );

        // 4. The application on its own port, with drain support.
        let app = Router::new()
            .route(
                "/",
                get(move || {
                    let hellos = hellos.clone();
                    async move {
                        hellos.inc();
                        "hello\n"
                    }
                }),
            )
            .route(
                "/sick",
                get(move || {
                    let alive = alive.clone();
                    async move {
                        alive.store(false, Ordering::Relaxed);
                        "liveness will fail\n"
                    }
                }),
            );
        sidecar.serve(berth_sidecar::bind("0.0.0.0:8080").await?, app);

        // 5. A tracked background task that ends when the shutdown token fires.
        sidecar.spawn("heartbeat", |token| async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tick.tick() => tracing::debug!("still here"),
                }
            }
        });

        // 6. Start-up done after a warm-up: /startupz, /readyz and systemd READY=1 flip
        //    together.
        let handle = sidecar.handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            handle.mark_ready();
        });

        // 7. Returned to `run`, which waits for SIGTERM/SIGINT, the pre-stop delay and the
        //    drain, and exits with the documented code.
        Ok(sidecar)
    })
}
