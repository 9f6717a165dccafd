//! The taskscope layer on one registry with the fmt layer, console-subscriber's layer and
//! tracing-opentelemetry's layer, each behind its own filter: every layer gets its own data,
//! checked at each layer's own output (the fmt text, the OpenTelemetry SDK's finished spans,
//! and the console's gRPC stream read with its own client).
//!
//! console-subscriber refuses to start unless it was compiled with `--cfg tokio_unstable`,
//! so the console part runs only in that build: `.ci/run` runs this file a second time with
//! `RUSTFLAGS="--cfg tokio_unstable"` in its own target directory. Without the cfg, the other
//! three layers are checked.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::io::Write;
use std::sync::{Arc, Mutex};
#[cfg(tokio_unstable)]
use std::time::Duration;

#[cfg(tokio_unstable)]
use console_api::instrument::InstrumentRequest;
#[cfg(tokio_unstable)]
use console_api::instrument::instrument_client::InstrumentClient;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// The fmt layer's output, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tracing::instrument(err)]
async fn composed_handler(fail: bool) -> Result<u32, String> {
    tracing::info!("composed handler ran");
    tracing::debug!("composed debug detail");
    if fail {
        Err("composed failure".into())
    } else {
        Ok(7)
    }
}

#[cfg(tokio_unstable)]
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn fmt_console_opentelemetry_and_taskscope_each_get_their_data() {
    if crate::support::alone(
        module_path!(),
        "fmt_console_opentelemetry_and_taskscope_each_get_their_data",
    ) {
        return;
    }
    common::init();
    let here = module_path!();
    let fmt_out = Captured::default();
    let writer = fmt_out.clone();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    #[cfg(tokio_unstable)]
    let console_port = free_port();
    #[cfg(tokio_unstable)]
    let console = console_subscriber::ConsoleLayer::builder()
        .server_addr(([127, 0, 0, 1], console_port))
        .publish_interval(Duration::from_millis(50))
        .spawn();
    #[cfg(not(tokio_unstable))]
    let console = tracing_subscriber::layer::Identity::new();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_filter(Targets::new().with_target(here, Level::INFO)),
        )
        .with(console)
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("composition-test"))
                .with_filter(Targets::new().with_target(here, Level::TRACE)),
        )
        .with(taskscope::layer().with_filter(Targets::new().with_target(here, Level::TRACE)));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(subscriber);
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            for fail in [false, true, false] {
                let _ = composed_handler(fail).await;
            }
            // A task as tokio announces it to the console (under `tokio_unstable`), so the
            // console has something of its own to show without that cfg.
            let task = tracing::trace_span!(
                target: "tokio::task",
                "runtime.spawn",
                kind = "task",
                task.name = "composed_task",
                loc.file = "composition.rs",
                loc.line = 1u32,
                loc.col = 1u32,
            );
            let _entered = task.enter();
        });
    });

    // taskscope: exactly its target's spans, with outcomes.
    let snap = taskscope::snapshot();
    let f = snap
        .function("composed_handler")
        .expect("taskscope saw the handler");
    assert_eq!((f.ok.count, f.error.count), (2, 1));
    assert!(
        snap.function("runtime.spawn").is_none(),
        "the console's span is not ours"
    );

    // fmt: the INFO events of its target, not the DEBUG ones, nor the console's spans.
    let text = fmt_out.text();
    assert_eq!(text.matches("composed handler ran").count(), 3, "{text}");
    assert!(!text.contains("composed debug detail"), "{text}");
    assert!(
        text.contains("composed failure"),
        "the err event reaches fmt: {text}"
    );
    assert!(!text.contains("runtime.spawn"), "{text}");

    // OpenTelemetry: one span per call.
    let spans = exporter.get_finished_spans().unwrap();
    let handler_spans = spans
        .iter()
        .filter(|s| s.name == "composed_handler")
        .count();
    assert_eq!(handler_spans, 3, "{spans:#?}");
    assert!(spans.iter().all(|s| s.name != "runtime.spawn"));

    // The console: its own client sees the task over gRPC.
    #[cfg(tokio_unstable)]
    {
        let seen = rt.block_on(async {
            let watch = console_task_named(console_port, "composed_task");
            tokio::time::timeout(Duration::from_secs(30), watch)
                .await
                .expect("the console reported the task within 30 s")
        });
        assert!(seen);
    }
    drop(dispatch);
}

#[cfg(tokio_unstable)]
/// Connects to the console server with console-api's client and waits for a task whose
/// fields mention `name`.
async fn console_task_named(port: u16, name: &str) -> bool {
    let mut client = loop {
        match InstrumentClient::connect(format!("http://127.0.0.1:{port}")).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let mut updates = client
        .watch_updates(InstrumentRequest::default())
        .await
        .expect("the console accepts a watch")
        .into_inner();
    while let Some(update) = updates.message().await.expect("a console update") {
        let tasks = update.task_update.map(|t| t.new_tasks).unwrap_or_default();
        if tasks
            .iter()
            .flat_map(|t| &t.fields)
            .any(|f| format!("{:?}", f.value).contains(name))
        {
            return true;
        }
    }
    false
}
