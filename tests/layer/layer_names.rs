//! Span names from fields: `otel.name` by default, given at creation or recorded later, and
//! the fields given to `with_name_fields`, such as tower-http's route in a real axum service;
//! names per callsite are capped like error kinds, with a visible overflow. The name fields
//! are process-wide, so this file is its own test binary and every test sets the same list.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::io::{Read, Write};
use std::sync::Mutex;

use tracing_subscriber::prelude::*;

const NAME_FIELDS: [&str; 2] = ["otel.name", "http.route"];

/// The tests share the recorder; one at a time keeps their counts their own.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn with_layer<R>(f: impl FnOnce() -> R) -> R {
    let subscriber =
        tracing_subscriber::registry().with(taskscope::layer().with_name_fields(NAME_FIELDS));
    tracing::subscriber::with_default(subscriber, f)
}

fn calls(name: &str) -> (u64, u64, i64) {
    taskscope::snapshot()
        .function(name)
        .map_or((0, 0, -1), |f| {
            (f.ok.count, f.error.count, f.in_flight as i64)
        })
}

#[test]
fn otel_name_names_a_span_at_creation_or_when_recorded_later() {
    if crate::support::alone(
        module_path!(),
        "otel_name_names_a_span_at_creation_or_when_recorded_later",
    ) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    with_layer(|| {
        for _ in 0..3 {
            let _s = tracing::info_span!("handler", otel.name = "GET /users").entered();
        }
        let late = tracing::info_span!("handler", otel.name = tracing::field::Empty);
        {
            let _e = late.enter();
        }
        // In flight under its own name until the name comes.
        assert_eq!(calls("handler").2, 1);
        late.record("otel.name", "POST /orders");
        // (A function with nothing started or finished is left out of a snapshot: -1.)
        assert!(calls("handler").2 <= 0, "the start moved with the name");
        assert_eq!(calls("POST /orders").2, 1);
        drop(late);
        // A blank name keeps the span's own.
        drop(tracing::info_span!("handler", otel.name = " "));
    });
    assert_eq!(calls("GET /users"), (3, 0, 0));
    assert_eq!(calls("POST /orders"), (1, 0, 0));
    assert_eq!(calls("handler"), (1, 0, 0));
    let snap = taskscope::snapshot();
    let users = snap.function("GET /users").unwrap();
    assert_eq!(users.source, taskscope::Source::Span);
    assert_eq!(users.module, module_path!());
}

#[test]
fn an_error_kind_given_before_the_name_goes_with_the_span() {
    if crate::support::alone(
        module_path!(),
        "an_error_kind_given_before_the_name_goes_with_the_span",
    ) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    with_layer(|| {
        let span = tracing::info_span!(
            "job",
            error.kind = tracing::field::Empty,
            otel.name = tracing::field::Empty
        );
        span.record("error.kind", "Timeout");
        span.record("otel.name", "nightly_backup");
    });
    let snap = taskscope::snapshot();
    let f = snap.function("nightly_backup").unwrap();
    assert_eq!((f.ok.count, f.error.count), (0, 1));
    assert_eq!(f.error_kind_count("Timeout"), 1, "{:?}", f.error_kinds);
    assert!(snap.function("job").is_none_or(|j| j.calls() == 0));
}

#[test]
fn names_per_callsite_are_capped_with_a_visible_overflow() {
    if crate::support::alone(
        module_path!(),
        "names_per_callsite_are_capped_with_a_visible_overflow",
    ) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The error-kind limit is 32 by default; 40 names leave 8 spans over the cap.
    with_layer(|| {
        for i in 0..40 {
            let name = format!("route_{i:02}");
            drop(
                tracing::info_span!(target: "capped", "capped_request", http.route = name.as_str()),
            );
        }
    });
    let snap = taskscope::snapshot();
    let named: Vec<_> = snap
        .functions
        .iter()
        .filter(|f| f.name.starts_with("route_"))
        .collect();
    assert_eq!(named.len(), 32);
    assert!(named.iter().all(|f| f.ok.count == 1));
    let overflow = snap
        .functions
        .iter()
        .find(|f| f.name == taskscope::OVERFLOW_KIND && f.target == "capped")
        .expect("an overflow function beside the named ones");
    assert_eq!(overflow.ok.count, 8);
}

/// tower-http's `TraceLayer` names every span `request`; with the matched route in
/// `http.route` (and `otel.name` as tracing-opentelemetry users write it), each route of
/// a real axum service is its own function, with exact counts.
#[test]
fn a_tower_http_trace_layer_gives_one_function_per_route() {
    if crate::support::alone(
        module_path!(),
        "a_tower_http_trace_layer_gives_one_function_per_route",
    ) {
        return;
    }
    use axum::Router;
    use axum::extract::MatchedPath;
    use axum::routing::get;
    use tower_http::trace::TraceLayer;

    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/orders",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") }),
        )
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("request", method = %req.method(), http.route = route)
            }),
        );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    with_layer(|| {
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            for path in ["/users/1", "/users/2", "/users/3", "/orders", "/orders"] {
                let status = tokio::task::spawn_blocking(move || get_status(addr, path))
                    .await
                    .unwrap();
                assert!(status == 200 || status == 500, "{path}: {status}");
            }
            server.abort();
        });
    });
    let snap = taskscope::snapshot();
    let users = snap.function("/users/{id}").expect("a function per route");
    assert_eq!(users.calls(), 3);
    let orders = snap.function("/orders").expect("a function per route");
    assert_eq!(orders.calls(), 2);
    // tower-http's `on_failure` logs a 5xx at ERROR inside the span: an error.
    assert_eq!((orders.ok.count, orders.error.count), (0, 2));
    assert_eq!((users.ok.count, users.error.count), (3, 0));
    assert!(snap.function("request").is_none_or(|r| r.calls() == 0));
}

/// One HTTP/1.1 GET over a plain socket: the status.
fn get_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}
