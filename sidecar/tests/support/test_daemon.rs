//! Test daemon for the integration tests (`tests/*.rs`) and `bench/run.sh`.
//!
//! Configuration comes from the `BERTH_*` environment plus these flags:
//! `--app-addr H:P` (default 127.0.0.1:0), `--bare-addr H:P` (same routes served by plain
//! hyper, no sidecar layer: the benchmark baseline; `/ok` is a bare 200 handler), `--ready-after-ms N` (delay before
//! `mark_ready()`), `--slow-check` (a readiness check that times out), `--panic-check` (a
//! readiness check that panics), `--task-ms N` (a tracked task that lingers N ms after the
//! shutdown token), `--task-panic` (a tracked task that panics; liveness then fails),
//! `--live-interval-ms N` (interval of the `worker` liveness check, default 50).
//!
//! Routes: `/` (counted), `/ok`, `/slow?ms=N`, `/panic`, `/sick`, `/config`, `/stream` and
//! `POST /echo` (answers the body's length).
//!
//! It prints `LISTENING admin=<addr> app=<addr> [bare=<addr>]` on stdout once bound, and
//! `RELOADED <trigger> <content>` / `RELOAD-FAILED <error>` for every reload.

use std::convert::Infallible;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use berth_sidecar::prometheus_client::metrics::counter::Counter;
use berth_sidecar::{Check, Reload, UsageError};

#[derive(Default)]
struct Flags {
    app_addr: Option<String>,
    bare_addr: Option<String>,
    ready_after_ms: u64,
    slow_check: bool,
    panic_check: bool,
    task_ms: Option<u64>,
    task_panic: bool,
    live_interval_ms: u64,
}

fn parse_flags() -> Result<Flags, String> {
    let mut f = Flags {
        live_interval_ms: 50,
        ..Flags::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| e.to_string());
        match arg.as_str() {
            "--app-addr" => f.app_addr = Some(value("--app-addr")?),
            "--bare-addr" => f.bare_addr = Some(value("--bare-addr")?),
            "--ready-after-ms" => f.ready_after_ms = number(value("--ready-after-ms")?)?,
            "--task-ms" => f.task_ms = Some(number(value("--task-ms")?)?),
            "--live-interval-ms" => f.live_interval_ms = number(value("--live-interval-ms")?)?,
            "--slow-check" => f.slow_check = true,
            "--panic-check" => f.panic_check = true,
            "--task-panic" => f.task_panic = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(f)
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    berth_sidecar::run(|builder| async move {
        let flags = parse_flags().map_err(|e| UsageError::new(format!("test-daemon: {e}")))?;
        start(builder, flags).await
    })
}

async fn start(
    builder: berth_sidecar::Builder,
    flags: Flags,
) -> Result<berth_sidecar::Sidecar, berth_sidecar::BoxError> {
    let alive = Arc::new(AtomicBool::new(true));
    let config = Arc::new(Mutex::new(String::new()));
    let mut builder = builder
        .fail_liveness_on_task_panic(true)
        .reload_debounce(Duration::from_millis(100))
        .check({
            let alive = alive.clone();
            Check::liveness("worker", move || {
                let ok = alive.load(Ordering::Relaxed);
                async move {
                    if ok {
                        Ok(())
                    } else {
                        Err("made sick on demand")
                    }
                }
            })
            .interval(Duration::from_millis(flags.live_interval_ms))
            .failure_threshold(1)
        })
        .on_reload({
            let config = config.clone();
            move |reload: Reload| {
                let config = config.clone();
                async move {
                    let text = match reload.path() {
                        Some(p) => std::fs::read_to_string(p).map_err(|e| e.to_string()),
                        None => Ok(String::new()),
                    };
                    let result = text.and_then(|t| {
                        let t = t.trim().to_owned();
                        if t.starts_with("bad") {
                            Err(format!("rejected configuration {t:?}"))
                        } else {
                            Ok(t)
                        }
                    });
                    match result {
                        Ok(t) => {
                            // Applied before it is announced: a test that saw the line reads
                            // the new configuration.
                            let line = format!("RELOADED {:?} {t}", reload.trigger());
                            *config.lock().unwrap() = t;
                            say(line);
                            Ok(())
                        }
                        Err(e) => {
                            say(format!("RELOAD-FAILED {e}"));
                            Err(e)
                        }
                    }
                }
            }
        });
    if flags.slow_check {
        builder = builder.check(
            Check::readiness("slow", || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<(), String>(())
            })
            .timeout(Duration::from_millis(100))
            .interval(Duration::from_millis(200))
            .failure_threshold(1),
        );
    }
    if flags.panic_check {
        builder = builder.check(
            Check::readiness("boom", || async {
                if std::hint::black_box(true) {
                    panic!("check exploded");
                }
                Ok::<(), String>(())
            })
            .interval(Duration::from_millis(200))
            .failure_threshold(1),
        );
    }
    let sidecar = builder.start().await?;
    if let Some(path) = std::env::var_os(berth_sidecar::contract::ENV_CONFIG_FILE)
        && let Ok(text) = std::fs::read_to_string(path)
    {
        *config.lock().unwrap() = text.trim().to_owned();
    }

    let hits = Counter::<u64>::default();
    sidecar
        .metrics_registry()
        .register("test_daemon_hits", "Requests to /", hits.clone());
    let handle = sidecar.handle();
    let app = Router::new()
        .route(
            "/",
            get(move || {
                hits.inc();
                async { "hello\n" }
            }),
        )
        .route("/ok", get(|| async { "ok" }))
        // The request body's length; axum's default body limit (2 MiB) answers 413 above it.
        .route(
            "/echo",
            axum::routing::post(
                |body: axum::body::Bytes| async move { format!("{}\n", body.len()) },
            ),
        )
        .route("/slow", get(slow))
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("handler exploded");
                }
                "unreachable"
            }),
        )
        .route(
            "/sick",
            get({
                let alive = alive.clone();
                move || {
                    alive.store(false, Ordering::Relaxed);
                    async { "sick\n" }
                }
            }),
        )
        .route(
            "/config",
            get({
                let config = config.clone();
                move || {
                    let c = config.lock().unwrap().clone();
                    async move { c }
                }
            }),
        )
        .route(
            "/stream",
            get({
                let handle = handle.clone();
                move || {
                    let ticks = futures_util::stream::unfold((), |()| async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((Ok::<_, Infallible>("tick\n"), ()))
                    });
                    let body = axum::body::Body::from_stream(handle.until_shutdown(ticks));
                    async move { body }
                }
            }),
        );

    let app_addr = flags.app_addr.as_deref().unwrap_or("127.0.0.1:0");
    let listener = berth_sidecar::bind(app_addr).await?;
    let mut line = format!(
        "LISTENING admin={} app={}",
        sidecar.admin_addr(),
        listener.local_addr().unwrap()
    );
    sidecar.serve(listener, app.clone());
    if let Some(bare) = &flags.bare_addr {
        let bare = tokio::net::TcpListener::bind(bare).await.unwrap();
        line.push_str(&format!(" bare={}", bare.local_addr().unwrap()));
        tokio::spawn(serve_bare(bare, app));
    }
    if let Some(ms) = flags.task_ms {
        sidecar.spawn("lingering", move |token| async move {
            token.cancelled().await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
        });
    }
    if flags.task_panic {
        sidecar.spawn("doomed", |_token| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if std::hint::black_box(true) {
                panic!("task exploded");
            }
        });
    }
    say(line);
    if flags.ready_after_ms == 0 {
        sidecar.mark_ready();
    } else {
        let h = sidecar.handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(flags.ready_after_ms)).await;
            h.mark_ready();
        });
    }
    Ok(sidecar)
}

async fn slow(uri: axum::http::Uri) -> &'static str {
    let ms = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slow done\n"
}

/// The same router served by plain hyper: no in-flight tracking, no drain.
async fn serve_bare(listener: tokio::net::TcpListener, app: Router) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tower::ServiceExt;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    app.clone().oneshot(req.map(axum::body::Body::new))
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
