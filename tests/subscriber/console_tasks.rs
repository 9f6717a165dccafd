//! tokio-console and taskscope side by side, through `taskscope::subscriber()`: tasks spawned
//! with `taskscope::spawn!` reach the console (read with console-api's own gRPC client) under
//! the names of the measured functions they run, taskscope's counts for those functions are
//! exact, and tokio's `runtime.spawn` spans, one per task, never become taskscope functions
//! nor reach the other layers.
//!
//! Only meaningful with `--cfg tokio_unstable` (tokio reports no tasks without it):
//! `.ci/run` runs it in that build, in its own target directory. The subscriber is global, so
//! this file is its own test binary with one test.
#![cfg(all(feature = "console", tokio_unstable))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use console_api::field::{Name, Value};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;
use taskscope::ConsoleStatus;
use tracing_core::span::{Attributes, Id};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::Registry;

#[derive(Debug)]
struct NotFound;

#[taskscope::measure]
async fn fetch_profile(id: u32) -> Result<u32, NotFound> {
    tokio::task::yield_now().await;
    if id == 3 { Err(NotFound) } else { Ok(id) }
}

#[taskscope::measure]
async fn store_profile(id: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    id
}

struct Service;

impl Service {
    #[taskscope::measure]
    async fn handle_request(self: Arc<Self>, n: u32) -> u32 {
        traced_step(n).await
    }
}

#[tracing::instrument]
async fn traced_step(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n + 1
}

/// A layer of the user's own: the names and targets of the spans it is given.
#[derive(Clone, Default)]
struct SeenSpans(Arc<Mutex<Vec<(String, String)>>>);

impl tracing_subscriber::Layer<Registry> for SeenSpans {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, Registry>) {
        let meta = attrs.metadata();
        self.0
            .lock()
            .unwrap()
            .push((meta.name().to_owned(), meta.target().to_owned()));
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

const EXPECTED_TASKS: [(&str, usize); 3] = [
    ("fetch_profile", 4),
    ("store_profile", 2),
    ("handle_request", 1),
];

#[test]
fn the_console_lists_tasks_named_after_the_measured_functions() {
    if crate::support::alone(
        module_path!(),
        "the_console_lists_tasks_named_after_the_measured_functions",
    ) {
        return;
    }
    let addr = free_addr();
    let seen = SeenSpans::default();
    let telemetry = taskscope::subscriber()
        .with_console_addr(addr)
        .with_layer(seen.clone())
        .try_init()
        .expect("installed");
    assert_eq!(telemetry.console(), &ConsoleStatus::Serving(addr));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks = rt.block_on(async {
        for id in 0..4 {
            let _ = taskscope::spawn!(fetch_profile(id)).await.unwrap();
        }
        for id in 0..2 {
            taskscope::spawn!(store_profile(id)).await.unwrap();
        }
        let service = Arc::new(Service);
        assert_eq!(
            taskscope::spawn!(service.clone().handle_request(1))
                .await
                .unwrap(),
            2
        );
        tokio::time::timeout(Duration::from_secs(60), console_task_names(addr))
            .await
            .expect("the console listed the tasks within 60 s")
    });
    for (name, count) in EXPECTED_TASKS {
        assert_eq!(tasks.get(name), Some(&count), "console tasks: {tasks:?}");
    }

    // taskscope: exact counts of the measured functions and of the span inside them.
    let snap = taskscope::snapshot();
    let counts = |name: &str| {
        let f = snap
            .function(name)
            .unwrap_or_else(|| panic!("{name} recorded"));
        (
            f.ok.count,
            f.error.count,
            f.cancelled.count,
            f.panicked.count,
        )
    };
    assert_eq!(counts("fetch_profile"), (3, 1, 0, 0));
    assert_eq!(counts("store_profile"), (2, 0, 0, 0));
    assert_eq!(counts("handle_request"), (1, 0, 0, 0));
    assert_eq!(counts("traced_step"), (1, 0, 0, 0));
    // tokio made a `runtime.spawn` span per task (the console's task names come from them);
    // none of them is a taskscope function.
    let functions: Vec<_> = snap.functions.iter().map(|f| (f.name, f.target)).collect();
    assert!(
        functions
            .iter()
            .all(|(name, target)| !name.starts_with("runtime.") && !target.starts_with("tokio")),
        "{functions:?}"
    );
    // The layer records every span by default: the test's own console client brings h2's.
    let ours: Vec<_> = functions
        .iter()
        .filter(|(_, target)| *target == module_path!())
        .collect();
    assert_eq!(ours.len(), 4, "{functions:?}");

    // The user's own layer got the application's span, and none of tokio's.
    let spans = seen.0.lock().unwrap().clone();
    assert!(
        spans.iter().any(|(name, _)| name == "traced_step"),
        "{spans:?}"
    );
    assert!(
        spans
            .iter()
            .all(|(name, target)| !name.starts_with("runtime.") && !target.starts_with("tokio")),
        "{spans:?}"
    );
    drop(telemetry);
}

/// Watches the console with console-api's client until the new tasks named after the
/// measured functions reach the expected counts; returns the count of every task name seen.
async fn console_task_names(addr: SocketAddr) -> BTreeMap<String, usize> {
    let mut client = loop {
        match InstrumentClient::connect(format!("http://{addr}")).await {
            Ok(client) => break client,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let mut updates = client
        .watch_updates(InstrumentRequest::default())
        .await
        .expect("the console accepts a watch")
        .into_inner();
    // Field names arrive either as strings or as indexes into their metadata's names.
    let mut field_names: HashMap<u64, Vec<String>> = HashMap::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    // A task can be announced twice (in the first update's state and again as new).
    let mut seen_ids = HashSet::new();
    while let Some(update) = updates.message().await.expect("a console update") {
        for new in update.new_metadata.map(|m| m.metadata).unwrap_or_default() {
            if let (Some(id), Some(meta)) = (new.id, new.metadata) {
                field_names.insert(id.id, meta.field_names);
            }
        }
        for task in update.task_update.map(|t| t.new_tasks).unwrap_or_default() {
            if !seen_ids.insert(task.id.map(|id| id.id)) {
                continue;
            }
            for field in &task.fields {
                let name = match &field.name {
                    Some(Name::StrName(name)) => Some(name.clone()),
                    Some(Name::NameIdx(i)) => field
                        .metadata_id
                        .as_ref()
                        .and_then(|m| field_names.get(&m.id))
                        .and_then(|names| names.get(*i as usize).cloned()),
                    None => None,
                };
                if name.as_deref() != Some("task.name") {
                    continue;
                }
                if let Some(Value::StrVal(value) | Value::DebugVal(value)) = &field.value {
                    *names.entry(value.trim_matches('"').to_owned()).or_default() += 1;
                }
            }
        }
        if EXPECTED_TASKS
            .iter()
            .all(|(name, count)| names.get(*name).copied().unwrap_or(0) >= *count)
        {
            break;
        }
    }
    names
}
