//! The application router, driven in-process with `tower::ServiceExt::oneshot`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use echo_daemon::{AppState, Config, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn call(state: &AppState, method: Method, uri: &str) -> (StatusCode, String) {
    let response = router(state.clone())
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn echo_uses_the_configured_greeting() {
    let state = AppState::new(Config::default(), false);
    assert_eq!(
        call(&state, Method::GET, "/echo?msg=hi").await,
        (StatusCode::OK, "echo hi".to_owned())
    );
    assert_eq!(
        call(&state, Method::GET, "/echo?msg=a%20b").await,
        (StatusCode::OK, "echo a b".to_owned())
    );
    state.set_config(Config {
        greeting: "hello".to_owned(),
    });
    assert_eq!(
        call(&state, Method::GET, "/echo?msg=hi").await.1,
        "hello hi"
    );
    assert_eq!(call(&state, Method::GET, "/echo").await.1, "hello ");
}

#[tokio::test]
async fn root_answers() {
    let state = AppState::new(Config::default(), false);
    let (status, body) = call(&state, Method::GET, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("/echo"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn slow_sleeps_the_requested_time_capped() {
    let state = AppState::new(Config::default(), false);
    let start = tokio::time::Instant::now();
    assert_eq!(
        call(&state, Method::GET, "/slow?ms=1500").await.1,
        "slept 1500 ms"
    );
    assert_eq!(start.elapsed().as_millis(), 1500);
    assert_eq!(
        call(&state, Method::GET, "/slow?ms=999999999").await.1,
        "slept 120000 ms"
    );
    let (status, _) = call(&state, Method::GET, "/slow?ms=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn debug_endpoints_are_404_unless_enabled() {
    let state = AppState::new(Config::default(), false);
    assert_eq!(
        call(&state, Method::GET, "/debug/identity").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&state, Method::POST, "/debug/liveness?fail=true")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&state, Method::POST, "/debug/write?path=/tmp/x")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert!(state.liveness().is_ok());
}

#[tokio::test]
async fn debug_liveness_toggles_the_check() {
    let state = AppState::new(Config::default(), true);
    assert_eq!(
        call(&state, Method::POST, "/debug/liveness?fail=true")
            .await
            .0,
        StatusCode::OK
    );
    assert!(state.liveness().is_err());
    assert_eq!(
        call(&state, Method::POST, "/debug/liveness?fail=false")
            .await
            .0,
        StatusCode::OK
    );
    assert!(state.liveness().is_ok());
    assert_eq!(
        call(&state, Method::POST, "/debug/liveness?fail=maybe")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn debug_write_and_identity() {
    let state = AppState::new(Config::default(), true);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("written");
    let (status, body) = call(
        &state,
        Method::POST,
        &format!("/debug/write?path={}", target.display()),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("echo-daemon")
    );
    let missing = dir.path().join("no/such/dir/file");
    let (status, body) = call(
        &state,
        Method::POST,
        &format!("/debug/write?path={}", missing.display()),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("No such file"), "{body}");

    let (status, body) = call(&state, Method::GET, "/debug/identity").await;
    assert_eq!(status, StatusCode::OK);
    let (uid, gid) = echo_daemon::app::process_ids().unwrap();
    assert_eq!(body, format!("uid={uid} gid={gid}"));
}
