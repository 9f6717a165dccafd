//! The console's standard variables reach the console: with `TOKIO_CONSOLE_RETENTION=1s`,
//! tasks that finished three seconds before a client connects are gone from its first
//! update (console-subscriber's own default, an hour, would still list them), while the
//! tasks still running are there. Read with console-api's own client.
//!
//! Only meaningful with `--cfg tokio_unstable`; `.ci/run` runs it in that build. The
//! subscriber is global and the variable process-wide, so this file is its own test binary.
#![cfg(all(feature = "console", tokio_unstable))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::collections::HashMap;
use std::time::Duration;

use console_api::field::{Name, Value};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;
use taskscope::ConsoleStatus;

#[taskscope::measure]
async fn early_task(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[taskscope::measure]
async fn late_task(done: std::sync::Arc<tokio::sync::Notify>) {
    done.notified().await;
}

#[test]
fn finished_tasks_leave_the_console_after_tokio_console_retention() {
    if crate::support::alone(
        module_path!(),
        "finished_tasks_leave_the_console_after_tokio_console_retention",
    ) {
        return;
    }
    // SAFETY: the test harness runs this binary's one test; no other thread reads or writes
    // the environment while it is set.
    unsafe { std::env::set_var("TOKIO_CONSOLE_RETENTION", "1s") };
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let telemetry = taskscope::subscriber()
        .with_console_addr(addr)
        .try_init()
        .expect("installed");
    assert_eq!(telemetry.console(), &ConsoleStatus::Serving(addr));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let names = rt.block_on(async {
        for n in 0..20 {
            taskscope::spawn!(early_task(n)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let done = std::sync::Arc::new(tokio::sync::Notify::new());
        let late: Vec<_> = (0..5)
            .map(|_| taskscope::spawn!(late_task(done.clone())))
            .collect();
        let names = first_update_names(addr).await;
        done.notify_waiters();
        for t in late {
            t.await.unwrap();
        }
        names
    });
    assert_eq!(names.get("late_task"), Some(&5), "{names:?}");
    assert_eq!(names.get("early_task"), None, "{names:?}");
}

/// The task names the console reports, with how many tasks have each, read until five
/// `late_task`s are among them. A finished task the console still keeps comes in the first
/// update; the later ones only bring tasks spawned since.
async fn first_update_names(addr: std::net::SocketAddr) -> HashMap<String, usize> {
    let mut client = InstrumentClient::connect(format!("http://{addr}"))
        .await
        .expect("the console answers");
    let mut stream = client
        .watch_updates(InstrumentRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut field_names: HashMap<u64, Vec<String>> = HashMap::new();
    // By task id: the console may report a task in more than one update.
    let mut tasks: HashMap<u64, String> = HashMap::new();
    let count = |tasks: &HashMap<u64, String>, name: &str| {
        tasks.values().filter(|n| n.as_str() == name).count()
    };
    while count(&tasks, "late_task") < 5 {
        let update = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("the console sends the late tasks within 10 s")
            .unwrap()
            .expect("an update");
        add_names(update, &mut field_names, &mut tasks);
    }
    let mut names = HashMap::new();
    for name in tasks.into_values() {
        *names.entry(name).or_insert(0) += 1;
    }
    names
}

fn add_names(
    update: console_api::instrument::Update,
    field_names: &mut HashMap<u64, Vec<String>>,
    tasks: &mut HashMap<u64, String>,
) {
    for m in update.new_metadata.map(|m| m.metadata).unwrap_or_default() {
        if let (Some(id), Some(md)) = (m.id, m.metadata) {
            field_names.insert(id.id, md.field_names);
        }
    }
    for task in update.task_update.map(|u| u.new_tasks).unwrap_or_default() {
        let Some(id) = task.id.map(|i| i.id) else {
            continue;
        };
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
                tasks.insert(id, s.trim_matches('"').to_owned());
            }
        }
    }
}
