//! The admin server: `/livez`, `/readyz`, `/startupz`, `/metrics` on their own port.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header,
};
use axum::routing::get;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::check::CheckKind;
use crate::contract;
use crate::health::{Health, Line};
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;

/// What the admin server reads: health for the probes, the lifecycle for the phase, the
/// metrics registry. It changes none of them.
pub(crate) struct Admin {
    pub health: Arc<Health>,
    pub lifecycle: Arc<Lifecycle>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub metrics: Arc<Metrics>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub metrics_enabled: bool,
}

/// Default header read timeout: probes may not dawdle over their headers (idle admin
/// connections close after it too).
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Read buffer limit per admin connection: a request head must fit (else 431).
pub(crate) const MAX_BUF: usize = 8 * 1024;
/// Largest request body the admin server reads (else 413); its endpoints take none.
pub(crate) const MAX_BODY: usize = 1024;
/// Concurrent admin connections (bounds memory: 1024 × 8 KiB); more are closed at once.
/// Slow clients cannot hold a slot for long: the header-read timeout closes them.
pub(crate) const MAX_CONNECTIONS: usize = 1024;

pub(crate) fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route(contract::PATH_LIVEZ, get(livez))
        .route(contract::PATH_READYZ, get(readyz))
        .route(contract::PATH_STARTUPZ, get(startupz))
        .route(contract::PATH_METRICS, get(metrics))
        .with_state(admin)
}

async fn livez(State(s): State<Arc<Admin>>, uri: Uri) -> Response<Body> {
    probe(&s, CheckKind::Liveness, verbose(&uri), HeaderMap::new()).map(Body::new)
}

async fn readyz(State(s): State<Arc<Admin>>, uri: Uri) -> Response<Body> {
    probe(&s, CheckKind::Readiness, verbose(&uri), HeaderMap::new()).map(Body::new)
}

async fn startupz(State(s): State<Arc<Admin>>, uri: Uri) -> Response<Body> {
    probe(&s, CheckKind::Startup, verbose(&uri), HeaderMap::new()).map(Body::new)
}

fn verbose(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|p| p == "verbose" || p.starts_with("verbose="))
    })
}

/// kube-apiserver style: `ok`, or the failing lines; `?verbose` lists every check.
pub(crate) fn render(lines: &[Line], name: &str, verbose: bool) -> (bool, String) {
    let ok = lines.iter().all(|l| l.result.is_ok());
    if ok && !verbose {
        return (true, "ok".to_owned());
    }
    let mut body = String::new();
    for line in lines {
        match &line.result {
            Ok(()) if verbose => {
                let _ = writeln!(body, "[+]{} ok", line.name);
            }
            Ok(()) => {}
            Err(reason) => {
                let _ = writeln!(body, "[-]{} failed: {}", line.name, reason);
            }
        }
    }
    let _ = writeln!(
        body,
        "{name} check {}",
        if ok { "passed" } else { "failed" }
    );
    (ok, body)
}

/// The answer to a probe of `kind`. A passing plain probe is answered from the cached
/// verdicts (one atomic load, [`crate::verdict`]) with a static body and allocates nothing:
/// the headers are written into `headers`, which the fast path takes from the request
/// (cleared here), so their storage is the map hyper recycles from one request of a
/// connection to the next. A failing or `?verbose` probe renders the report.
fn probe(
    admin: &Admin,
    kind: CheckKind,
    verbose: bool,
    mut headers: HeaderMap,
) -> Response<Full<Bytes>> {
    let now = admin.lifecycle.verdicts().load();
    let (ok, body) = if !verbose && now.passes(kind) {
        (true, Bytes::from_static(b"ok"))
    } else {
        let name = kind.path().trim_start_matches('/');
        let (ok, text) = render(&admin.health.report(kind), name, verbose);
        (ok, Bytes::from(text))
    };
    headers.clear();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PHASE_HEADER, HeaderValue::from_static(now.phase().as_str()));
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    *res.headers_mut() = headers;
    res
}

/// Every probe response names the lifecycle phase (`x-berth-phase: draining`).
pub(crate) const PHASE_HEADER: HeaderName = HeaderName::from_static("x-berth-phase");

/// The probe a request asks for when it may skip the router: `GET` of `/livez`, `/readyz` or
/// `/startupz` without a query string or a body, which is what the kubelet, Docker's
/// `HEALTHCHECK` and load balancers send. Everything else (`?verbose`, `/metrics`, other
/// methods, unknown paths) goes through the router. Skipping it saves about 5 % of the CPU
/// a `/readyz` costs (route matching, request extensions, body boxing; `docs/benchmarks.md`).
fn fast_probe<B: hyper::body::Body>(req: &Request<B>) -> Option<CheckKind> {
    if req.method() != Method::GET || req.uri().query().is_some() || !req.body().is_end_stream() {
        return None;
    }
    match req.uri().path() {
        contract::PATH_READYZ => Some(CheckKind::Readiness),
        contract::PATH_LIVEZ => Some(CheckKind::Liveness),
        contract::PATH_STARTUPZ => Some(CheckKind::Startup),
        _ => None,
    }
}

#[cfg(feature = "metrics")]
async fn metrics(State(s): State<Arc<Admin>>, req: Request<Body>) -> Response<Body> {
    if !s.metrics_enabled {
        return not_found();
    }
    let openmetrics = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let now = crate::metrics::Snapshot {
        phase: s.lifecycle.phase(),
        ready: s.health.passes(CheckKind::Readiness),
        in_flight: s.lifecycle.in_flight(),
        last_drain: s.lifecycle.last_drain(),
    };
    let mut res = Response::new(Body::from(s.metrics.encode(&now)));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if openmetrics {
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        } else {
            "text/plain; version=0.0.4; charset=utf-8"
        }),
    );
    res
}

#[cfg(not(feature = "metrics"))]
async fn metrics(State(_): State<Arc<Admin>>, _req: Request<Body>) -> Response<Body> {
    not_found()
}

fn not_found() -> Response<Body> {
    let mut res = Response::new(Body::from("metrics are disabled\n"));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// Reads a request body of at most [`MAX_BODY`] bytes; a bigger one (declared or sent) is
/// answered 413 and the connection closed. Probes send no body and skip all of this.
async fn limit_body(req: Request<Incoming>) -> Result<Request<Body>, Response<Body>> {
    use http_body_util::{BodyExt, Limited};
    use hyper::body::Body as _;
    if req.body().is_end_stream() {
        return Ok(req.map(Body::new));
    }
    let too_large = || {
        let mut res = Response::new(Body::from("request body too large\n"));
        *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        res
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Err(_) => Err(too_large()),
    }
}

/// Accept loop of the admin server; runs until [`Sidecar::run`](crate::Sidecar::run)
/// returns — it outlives the drain so probes are answered to the very end.
pub(crate) async fn serve(listener: TcpListener, admin: Arc<Admin>, header_read_timeout: Duration) {
    let stopped = admin.lifecycle.stopped_token().clone();
    let app = router(admin.clone());
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = tokio::select! {
            _ = stopped.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    tracing::debug!(error = %err, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!("too many admin connections; closing one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let admin = admin.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                // The fast path: no router, no boxed body, the request's header map reused.
                let routed = match fast_probe(&req) {
                    Some(kind) => {
                        let (parts, _) = req.into_parts();
                        Err(probe(&admin, kind, false, parts.headers))
                    }
                    None => Ok(req),
                };
                let app = app.clone();
                async move {
                    let req = match routed {
                        Ok(req) => req,
                        Err(answered) => return Ok(answered.map(Either::Left)),
                    };
                    let req = match limit_body(req).await {
                        Ok(req) => req,
                        Err(too_large) => return Ok::<_, Infallible>(too_large.map(Either::Right)),
                    };
                    let res = app.oneshot(req).await;
                    Ok(match res {
                        Ok(r) => r.map(Either::Right),
                        Err(never) => match never {},
                    })
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .max_buf_size(MAX_BUF)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stopped.cancelled() => {}
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Check, Sidecar};
    use http_body_util::BodyExt;

    async fn call(app: &Router, uri: &str) -> (StatusCode, String) {
        let res = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// A sidecar (admin port, no signals) whose readiness check `db` always fails.
    async fn failing_db() -> Sidecar {
        Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .check(
                Check::readiness("db", || async { Err::<(), _>("connection refused") })
                    .failure_threshold(1),
            )
            .start()
            .await
            .unwrap()
    }

    #[test]
    fn only_plain_probe_gets_skip_the_router() {
        let req = |method: Method, uri: &str, body: &'static str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .body(http_body_util::Full::new(axum::body::Bytes::from_static(
                    body.as_bytes(),
                )))
                .unwrap()
        };
        assert_eq!(
            fast_probe(&req(Method::GET, "/readyz", "")),
            Some(CheckKind::Readiness)
        );
        assert_eq!(
            fast_probe(&req(Method::GET, "/livez", "")),
            Some(CheckKind::Liveness)
        );
        assert_eq!(
            fast_probe(&req(Method::GET, "/startupz", "")),
            Some(CheckKind::Startup)
        );
        for (method, uri, body) in [
            (Method::GET, "/readyz?verbose", ""),
            (Method::HEAD, "/readyz", ""),
            (Method::POST, "/readyz", ""),
            (Method::GET, "/readyz", "x"),
            (Method::GET, "/metrics", ""),
            (Method::GET, "/readyz/", ""),
        ] {
            assert_eq!(fast_probe(&req(method, uri, body)), None, "{uri}");
        }
    }

    /// The fast path answers exactly what the router answers.
    #[tokio::test(start_paused = true)]
    async fn fast_path_and_router_agree() {
        let sidecar = failing_db().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let admin = sidecar.handle().admin_state();
        let app = router(admin.clone());
        for path in [
            contract::PATH_LIVEZ,
            contract::PATH_READYZ,
            contract::PATH_STARTUPZ,
        ] {
            let request = Request::get(path)
                .header(header::HOST, "x")
                .header(header::USER_AGENT, "kube-probe/1.37")
                .body(Body::empty())
                .unwrap();
            let kind = fast_probe(&request).unwrap();
            let fast = probe(&admin, kind, false, request.headers().clone());
            let mut routed = app.clone().oneshot(request).await.unwrap();
            // axum writes `content-length` from the body's size; hyper does the same on the
            // wire for the fast path's body of known size.
            let length = routed.headers_mut().remove(header::CONTENT_LENGTH).unwrap();
            assert_eq!(fast.status(), routed.status(), "{path}");
            assert_eq!(fast.headers(), routed.headers(), "{path}");
            let fast = fast.into_body().collect().await.unwrap().to_bytes();
            let routed = routed.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(fast, routed, "{path}");
            assert_eq!(length, fast.len().to_string().as_str(), "{path}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn endpoints_render_kube_style() {
        let sidecar = failing_db().await;
        let app = router(sidecar.handle().admin_state());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(call(&app, "/livez").await, (StatusCode::OK, "ok".into()));
        let res = app
            .clone()
            .oneshot(Request::get("/livez").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.headers()[PHASE_HEADER], "starting");
        assert_eq!(
            call(&app, "/livez?verbose").await,
            (StatusCode::OK, "[+]ping ok\nlivez check passed\n".into())
        );
        assert_eq!(
            call(&app, "/readyz").await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "[-]startup failed: start-up not complete\n[-]db failed: connection refused\nreadyz check failed\n".into()
            )
        );
        sidecar.mark_ready();
        assert_eq!(
            call(&app, "/readyz?verbose").await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "[+]startup ok\n[+]shutdown ok\n[-]db failed: connection refused\nreadyz check failed\n".into()
            )
        );
        assert_eq!(call(&app, "/startupz").await, (StatusCode::OK, "ok".into()));
        let (status, metrics) = call(&app, "/metrics").await;
        if cfg!(feature = "metrics") {
            assert_eq!(status, StatusCode::OK);
            assert!(metrics.contains("berth_ready 0\n"), "{metrics}");
            assert!(metrics.contains("berth_check_up{check=\"db\",kind=\"readiness\"} 0\n"));
            assert!(metrics.contains("berth_lifecycle_phase{phase=\"ready\"} 1\n"));
            assert!(
                metrics.contains("berth_check_failures_total{check=\"db\",kind=\"readiness\"} 1\n")
            );
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        assert_eq!(call(&app, "/nope").await.0, StatusCode::NOT_FOUND);
    }

    /// The admin header read timeout is the builder's (default 2 s).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_admin_header_timeout_is_configurable() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let sidecar = Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .admin_header_read_timeout(Duration::from_millis(300))
            .start()
            .await
            .unwrap();
        let mut slow = tokio::net::TcpStream::connect(sidecar.admin_addr())
            .await
            .unwrap();
        slow.write_all(b"GET /livez HTTP/1.1\r\n").await.unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut buf))
            .await
            .expect("the slow admin client was not closed")
            .ok();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
}
