//! taskscope never observes itself: with the gRPC exporter (to a host name, so DNS runs on
//! a blocking thread), the Prometheus endpoint being scraped and the receiver taking the
//! exports, all in one app whose subscriber has the taskscope layer with its default
//! targets (every span), a layer of the user's own and, in the `tokio_unstable` build,
//! tokio-console's layer, only the app's own functions appear: in `snapshot()`, in
//! `/metrics`, in what the receiver got, in the user's layer, and in the console's task list
//! (read with console-api's own client). hyper's, h2's and tonic's spans and the tasks of
//! taskscope's background runtimes reach none of them.
//!
//! The subscriber is global, so this file is its own test binary with one test.
#![cfg(all(
    feature = "layer",
    feature = "otlp",
    feature = "prometheus",
    feature = "receiver"
))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::scrape;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskscope::receive::Receiver;
use tracing_core::span::{Attributes, Id};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::Registry;

/// The app's functions: one measured, one a `tracing` span.
const APP_FUNCTIONS: [&str; 2] = ["handle_request", "traced_step"];
const CALLS: u64 = 40;

#[taskscope::measure]
async fn handle_request(n: u64) -> Result<u64, std::io::Error> {
    Ok(traced_step(n).await)
}

#[tracing::instrument]
async fn traced_step(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n + 1
}

/// A layer of the user's own: the names and targets of the spans it is given.
#[derive(Clone, Default)]
struct SeenSpans(Arc<Mutex<BTreeSet<(String, String)>>>);

impl tracing_subscriber::Layer<Registry> for SeenSpans {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, Registry>) {
        let meta = attrs.metadata();
        self.0
            .lock()
            .unwrap()
            .insert((meta.name().to_owned(), meta.target().to_owned()));
    }
}

fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `function` labels of a Prometheus scrape.
fn scraped_functions(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split("code_function_name=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(|q| q.rsplit("::").next().unwrap_or(q).to_owned())
        .collect()
}

fn app_functions() -> BTreeSet<String> {
    APP_FUNCTIONS.iter().map(|s| s.to_string()).collect()
}

#[test]
fn no_span_or_task_of_taskscope_reaches_any_output() {
    if crate::support::alone(
        module_path!(),
        "no_span_or_task_of_taskscope_reaches_any_output",
    ) {
        return;
    }
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .start()
        .expect("the receiver starts");
    let grpc_port = receiver.grpc_addr().unwrap().port();
    let seen = SeenSpans::default();
    let builder = taskscope::subscriber().with_layer(seen.clone()).with_otlp(
        taskscope::otlp()
            .with_endpoint(format!("http://localhost:{grpc_port}"))
            .with_protocol(taskscope::Protocol::Grpc)
            .with_interval(Duration::from_millis(200))
            .with_trace_sampling(1.0),
    );
    #[cfg(all(feature = "console", tokio_unstable))]
    let console_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    #[cfg(all(feature = "console", tokio_unstable))]
    let builder = builder.with_console_addr(console_addr);
    let telemetry = builder.try_init().expect("installed");
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .start();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    #[cfg(all(feature = "console", tokio_unstable))]
    let console = console::watch(console_addr);
    rt.block_on(async {
        for n in 0..CALLS {
            #[cfg(all(feature = "console", tokio_unstable))]
            taskscope::spawn!(handle_request(n)).await.unwrap().unwrap();
            #[cfg(not(all(feature = "console", tokio_unstable)))]
            handle_request(n).await.unwrap();
        }
    });

    // Exports and scrapes until the receiver has every call, then a few more rounds, so that
    // the spans of those exports and scrapes have closed and would have been recorded.
    let mut scrapes = 0;
    wait_for(Duration::from_secs(30), "the calls at the receiver", || {
        scrape::get(endpoint.local_addr(), "/metrics", None);
        scrapes += 1;
        let frame = receiver.frame();
        let got = frame
            .series
            .iter()
            .find(|s| &*s.function == "handle_request")
            .map_or(0, |s| s.total_calls());
        (got == CALLS).then_some(())
    });
    let exports = telemetry.otlp().unwrap().flush().expect("flushed").exports;
    std::thread::sleep(Duration::from_millis(600));
    let (_, _, metrics) = scrape::get(endpoint.local_addr(), "/metrics", None);
    assert!(
        scrapes >= 1 && exports >= 1,
        "{scrapes} scrapes, {exports} exports"
    );

    let snap = taskscope::snapshot();
    let recorded: BTreeSet<String> = snap.functions.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(recorded, app_functions(), "functions in snapshot()");
    assert_eq!(snap.function("handle_request").unwrap().ok.count, CALLS);
    assert_eq!(snap.function("traced_step").unwrap().ok.count, CALLS);
    for f in &snap.functions {
        assert_eq!(f.in_flight, 0, "{} in flight", f.name);
    }
    assert_eq!(scraped_functions(&metrics), app_functions(), "{metrics}");
    let received: BTreeSet<String> = receiver
        .frame()
        .series
        .iter()
        .map(|s| s.function.to_string())
        .collect();
    assert_eq!(received, app_functions(), "functions the receiver got");
    let user_layer: BTreeSet<(String, String)> = seen.0.lock().unwrap().clone();
    let foreign: Vec<_> = user_layer
        .iter()
        .filter(|(name, _)| !APP_FUNCTIONS.contains(&name.as_str()))
        .collect();
    assert!(foreign.is_empty(), "the user's layer saw {foreign:?}");

    #[cfg(all(feature = "console", tokio_unstable))]
    {
        std::thread::sleep(Duration::from_millis(1500));
        drop(console);
        let tasks = console::seen();
        let named = tasks.iter().filter(|t| t.0 == "handle_request").count();
        assert_eq!(named as u64, CALLS, "{tasks:?}");
        let foreign: Vec<_> = tasks
            .iter()
            .filter(|(name, location)| {
                // The app's: its named tasks, and its runtime's worker threads, which tokio
                // reports as blocking tasks spawned in its scheduler.
                name != "handle_request"
                    && !location.contains("self_observation")
                    && !location.contains("runtime/scheduler/multi_thread/worker.rs")
            })
            .collect();
        assert!(foreign.is_empty(), "tasks not of the app: {foreign:?}");
    }
    drop(telemetry);
}

/// Every task the console reports, as (name, spawn location), read with console-api's
/// own client.
#[cfg(all(feature = "console", tokio_unstable))]
mod console {
    use std::collections::{BTreeMap, HashMap};
    use std::net::SocketAddr;
    use std::sync::Mutex;

    use console_api::field::{Name, Value};
    use console_api::instrument::InstrumentRequest;
    use console_api::instrument::instrument_client::InstrumentClient;

    /// By the console's task id.
    static SEEN: Mutex<BTreeMap<u64, (String, String)>> = Mutex::new(BTreeMap::new());

    pub(crate) fn seen() -> Vec<(String, String)> {
        SEEN.lock().unwrap().values().cloned().collect()
    }

    /// Watches on a thread of its own whose spans and tasks (the test's own client) reach
    /// no subscriber; the thread ends with the test.
    pub(crate) fn watch(addr: SocketAddr) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let quiet =
                tracing_core::Dispatch::new(tracing_core::subscriber::NoSubscriber::default());
            tracing_core::dispatcher::with_default(&quiet, || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(watch_on(addr));
            });
        })
    }

    async fn watch_on(addr: SocketAddr) {
        let url = format!("http://{addr}");
        let mut client = loop {
            match InstrumentClient::connect(url.clone()).await {
                Ok(c) => break c,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        let mut stream = client
            .watch_updates(InstrumentRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut field_names: HashMap<u64, Vec<String>> = HashMap::new();
        while let Ok(Some(update)) = stream.message().await {
            if let Some(meta) = update.new_metadata {
                for m in meta.metadata {
                    if let (Some(id), Some(md)) = (m.id, m.metadata) {
                        field_names.insert(id.id, md.field_names);
                    }
                }
            }
            for task in update.task_update.into_iter().flat_map(|u| u.new_tasks) {
                let Some(id) = task.id.map(|i| i.id) else {
                    continue;
                };
                let mut name = String::new();
                for f in &task.fields {
                    let field = match &f.name {
                        Some(Name::StrName(s)) => Some(s.clone()),
                        Some(Name::NameIdx(i)) => f
                            .metadata_id
                            .as_ref()
                            .and_then(|m| field_names.get(&m.id))
                            .and_then(|n| n.get(*i as usize).cloned()),
                        None => None,
                    };
                    if field.as_deref() == Some("task.name")
                        && let Some(Value::StrVal(s) | Value::DebugVal(s)) = &f.value
                    {
                        name = s.trim_matches('"').to_owned();
                    }
                }
                let location = task
                    .location
                    .map(|l| l.file.unwrap_or_default())
                    .unwrap_or_default();
                SEEN.lock().unwrap().insert(id, (name, location));
            }
        }
    }
}
