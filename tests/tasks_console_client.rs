//! The Tasks view's client against a real console-subscriber server: it reconnects until
//! the app's console is up, then lists the app's tasks by name with their polls and busy
//! time. Runs in the `--cfg tokio_unstable` build (`.ci/run` builds it in its own target
//! directory): without the cfg, tokio announces no tasks and console-subscriber refuses
//! to start.

#![cfg(all(feature = "tasks", tokio_unstable))]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use taskscope::view::{ConsoleClient, TaskState};
use tracing_subscriber::prelude::*;

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_client_reconnects_then_lists_the_apps_named_tasks() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The dashboard starts first: nothing listens yet, so it says it will retry.
    let client = ConsoleClient::connect(&format!("http://127.0.0.1:{port}")).unwrap();
    wait_for("a reconnecting state", || {
        client
            .tasks()
            .connection
            .starts_with("reconnecting")
            .then_some(())
    });
    // Then the app comes up with its console.
    let console = console_subscriber::ConsoleLayer::builder()
        .server_addr(([127, 0, 0, 1], port))
        .spawn();
    tracing_subscriber::registry().with(console).init();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let busy = tokio::task::Builder::new()
        .name("place_order")
        .spawn(async {
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(1));
                tokio::task::yield_now().await;
            }
            std::future::pending::<()>().await
        })
        .unwrap();
    let _idle = tokio::task::Builder::new()
        .name("load_user")
        .spawn(std::future::pending::<()>())
        .unwrap();
    let tasks = wait_for("the named tasks", || {
        let t = client.tasks();
        let found = t.rows.iter().any(|r| &*r.name == "load_user")
            && t.rows
                .iter()
                .any(|r| &*r.name == "place_order" && r.polls >= 20);
        found.then_some(t)
    });
    assert_eq!(tasks.connection, "live");
    let order = tasks
        .rows
        .iter()
        .find(|r| &*r.name == "place_order")
        .unwrap();
    assert!(order.busy >= Duration::from_millis(20), "{order:?}");
    assert_eq!(order.state, TaskState::Idle, "{order:?}");
    assert!(
        order.location.contains("tasks_console_client.rs"),
        "{order:?}"
    );
    busy.abort();
    wait_for("the aborted task to be done", || {
        client
            .tasks()
            .rows
            .iter()
            .any(|r| &*r.name == "place_order" && r.state == TaskState::Done)
            .then_some(())
    });
}
