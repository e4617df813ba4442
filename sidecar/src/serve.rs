//! Serving the application's router with the lifecycle wired in.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, Version, header};
use futures_util::FutureExt;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;

/// The hyper service around the application's router.
#[derive(Clone)]
pub(crate) struct AppService {
    router: Router,
    lifecycle: Arc<Lifecycle>,
    metrics: Arc<Metrics>,
    /// Requests received on this connection.
    served: Arc<AtomicUsize>,
}

impl<B> hyper::service::Service<Request<B>> for AppService
where
    B: hyper::body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, req: Request<B>) -> Self::Future {
        self.served.fetch_add(1, Ordering::Relaxed);
        let guard = self.lifecycle.request_started();
        let http1 = req.version() < Version::HTTP_2;
        let router = self.router.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let handled = AssertUnwindSafe(async move { router.oneshot(req.map(Body::new)).await })
                .catch_unwind()
                .await;
            let mut res = match handled {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(payload) => {
                    let msg = crate::check::panic_message(&*payload);
                    tracing::error!(panic = %msg, "request handler panicked; answering 500");
                    metrics.handler_panic();
                    let mut res = Response::new(Body::from("internal server error\n"));
                    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    res
                }
            };
            if http1 && guard.lifecycle().draining_token().is_cancelled() {
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(res.map(move |body| {
                Body::new(body.map_frame(move |frame| {
                    let _held = &guard;
                    frame
                }))
            }))
        })
    }
}

/// Binds the application's listener; unlike a bare `TcpListener::bind`, the error names the
/// address as well as the operating system's reason.
///
/// ```no_run
/// # async fn demo() -> Result<(), berth_sidecar::Error> {
/// let listener = berth_sidecar::bind("0.0.0.0:8080").await?;
/// # drop(listener); Ok(()) }
/// ```
pub async fn bind<A>(addr: A) -> Result<TcpListener, crate::Error>
where
    A: tokio::net::ToSocketAddrs + std::fmt::Display,
{
    TcpListener::bind(&addr)
        .await
        .map_err(|error| crate::Error::Listen {
            addr: addr.to_string(),
            error,
        })
}

/// How long a connection that has not sent its first request yet may still send it after
/// the listener closed. Closing it at once would break a client whose request was already on
/// its way (it connected just before the listener closed).
pub(crate) const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(250);

/// Accept loop: stops accepting when the shutdown token fires, accepts what is already in
/// the kernel's backlog, closes the listener (new connections are refused), then closes every
/// connection gracefully — HTTP/1 after its current response, HTTP/2 with GOAWAY. The drain
/// (the `servers` tracker) waits for the connections; its deadline is the lifecycle's.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    lifecycle: Arc<Lifecycle>,
    metrics: Arc<Metrics>,
) {
    let shutdown = lifecycle.shutdown_token().clone();
    let builder = auto::Builder::new(TokioExecutor::new());
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, "serving application");
    loop {
        let stream = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        spawn_connection(&builder, stream, &router, &lifecycle, &metrics);
    }
    // Connections the kernel completed before the close are served, not reset.
    let mut backlog = 0usize;
    match listener.into_std() {
        Ok(std_listener) => {
            while let Ok((stream, _)) = std_listener.accept() {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                    backlog += 1;
                    spawn_connection(&builder, stream, &router, &lifecycle, &metrics);
                }
            }
            drop(std_listener);
        }
        Err(err) => tracing::debug!(error = %err, "cannot drain the accept backlog"),
    }
    tracing::info!(addr = ?local, backlog, "listener closed; draining connections");
}

fn spawn_connection(
    builder: &auto::Builder<TokioExecutor>,
    stream: tokio::net::TcpStream,
    router: &Router,
    lifecycle: &Arc<Lifecycle>,
    metrics: &Arc<Metrics>,
) {
    let _ = stream.set_nodelay(true);
    let served = Arc::new(AtomicUsize::new(0));
    let service = AppService {
        router: router.clone(),
        lifecycle: lifecycle.clone(),
        metrics: metrics.clone(),
        served: served.clone(),
    };
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .into_owned();
    let shutdown = lifecycle.shutdown_token().clone();
    let stopped = lifecycle.stopped_token().clone();
    lifecycle.servers().spawn(async move {
        tokio::pin!(conn);
        tokio::select! {
            biased;
            _ = conn.as_mut() => return,
            _ = stopped.cancelled() => return,
            _ = shutdown.cancelled() => {}
        }
        if served.load(Ordering::Relaxed) == 0 {
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stopped.cancelled() => return,
                _ = tokio::time::sleep(FIRST_REQUEST_GRACE) => {}
            }
        }
        conn.as_mut().graceful_shutdown();
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stopped.cancelled() => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::{Exit, Sidecar};
    use axum::routing::get;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use std::time::{Duration, Instant};

    /// HTTP/2: the in-flight stream finishes after GOAWAY; the connection then ends and the
    /// drain completes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http2_connections_get_goaway_and_in_flight_streams_finish() {
        let sidecar = Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .auto_ready(true)
            .pre_stop_delay(Duration::ZERO)
            .drain_timeout(Duration::from_secs(5))
            .start()
            .await
            .unwrap();
        let app = axum::Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "done"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        sidecar.serve(listener, app);

        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        let conn = tokio::spawn(conn);
        let req = hyper::Request::get(format!("http://{addr}/slow"))
            .body(Empty::<axum::body::Bytes>::new())
            .unwrap();
        let in_flight = tokio::spawn(sender.send_request(req));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let h = sidecar.handle();
        let started = Instant::now();
        h.shutdown();
        let res = in_flight.await.unwrap().expect("in-flight h2 request");
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"done");
        // GOAWAY: the client connection ends without error.
        tokio::time::timeout(Duration::from_secs(2), conn)
            .await
            .expect("connection not closed")
            .unwrap()
            .expect("h2 connection error");
        assert_eq!(sidecar.run().await, Exit::Clean);
        assert!(started.elapsed() < Duration::from_secs(1));
        // The listener is closed.
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    /// WebSocket: the handler sees the shutdown token and sends a close frame with 1001
    /// (going away); the drain waits for it through a drain guard (axum#3003).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn websocket_handlers_close_with_1001_and_the_drain_waits() {
        use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let sidecar = Sidecar::builder()
            .admin_addr("127.0.0.1:0")
            .signals(false)
            .auto_ready(true)
            .pre_stop_delay(Duration::ZERO)
            .drain_timeout(Duration::from_secs(5))
            .start()
            .await
            .unwrap();
        let h = sidecar.handle();
        let app = axum::Router::new().route(
            "/ws",
            get(move |ws: WebSocketUpgrade| {
                let guard = h.drain_guard();
                let token = h.shutdown_token();
                async move {
                    ws.on_upgrade(move |mut socket| async move {
                        token.cancelled().await;
                        // Some last work, which the drain must wait for.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let close = CloseFrame {
                            code: 1001,
                            reason: "going away".into(),
                        };
                        let _ = socket.send(Message::Close(Some(close))).await;
                        drop(guard);
                    })
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        sidecar.serve(listener, app);

        let mut ws = tokio::net::TcpStream::connect(addr).await.unwrap();
        ws.write_all(
            format!(
                "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(ws.read_u8().await.unwrap());
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );

        let started = Instant::now();
        sidecar.shutdown();
        // A server frame is unmasked: FIN+opcode, length, then the payload.
        let opcode = ws.read_u8().await.unwrap();
        let len = ws.read_u8().await.unwrap() as usize;
        let mut payload = vec![0; len];
        ws.read_exact(&mut payload).await.unwrap();
        assert_eq!(opcode, 0x88, "expected a close frame");
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
        assert_eq!(&payload[2..], b"going away");
        assert_eq!(sidecar.run().await, Exit::Clean);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}
