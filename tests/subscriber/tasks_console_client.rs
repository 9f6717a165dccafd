//! The Tasks view's client against a real console-subscriber server: it reconnects until
//! the app's console is up, then lists the app's tasks by name with their polls and busy
//! time, and counts every task by name, short-lived finished ones included, with the poll
//! and scheduled times of the console's per-task histograms. Runs in the `--cfg tokio_unstable` build (`.ci/run` builds it in its own target
//! directory): without the cfg, tokio announces no tasks and console-subscriber refuses
//! to start.

#![cfg(all(feature = "tasks", tokio_unstable))]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use taskscope::frame::TaskState;
use taskscope::receive::ConsoleClient;

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
    if crate::support::alone(
        module_path!(),
        "the_client_reconnects_then_lists_the_apps_named_tasks",
    ) {
        return;
    }
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
    // Then the app comes up with its console, served by taskscope.
    let telemetry = taskscope::subscriber()
        .with_console_addr(([127, 0, 0, 1], port).into())
        .init();
    assert!(matches!(
        telemetry.console(),
        taskscope::ConsoleStatus::Serving(_)
    ));
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
    // Its poll times come from the console's own per-task histogram: twenty polls of at
    // least a millisecond each.
    let polls = wait_for("place_order's poll times", || {
        let t = client.tasks();
        let n = t.named("place_order")?;
        let p = n.poll_time?;
        (n.timed == 1 && p.p50 >= Duration::from_micros(980)).then_some(p)
    });
    assert!(
        polls.p99 >= polls.p50 && polls.max >= polls.p99,
        "{polls:?}"
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

    // 2500 short-lived tasks, each done long before the view's next refresh: they count,
    // by name, finished ones included, each once.
    rt.block_on(async {
        let jobs: Vec<_> = (0..2500u64)
            .map(|i| {
                tokio::task::Builder::new()
                    .name("short_job")
                    .spawn(async move {
                        tokio::task::yield_now().await;
                        std::hint::black_box(i)
                    })
                    .unwrap()
            })
            .collect();
        for j in jobs {
            j.await.unwrap();
        }
    });
    let jobs = wait_for("2500 finished short_job tasks", || {
        let t = client.tasks();
        let n = t.named("short_job")?.clone();
        (n.completed == 2500).then_some(n)
    });
    assert_eq!((jobs.spawned, jobs.alive, jobs.completed), (2500, 0, 2500));
    assert!(jobs.polls >= 5000, "two polls each: {jobs:?}");
    assert!(jobs.busy > Duration::ZERO, "{jobs:?}");
    // Their histograms are asked for a batch at a time; those the console still had are
    // merged by name, each task once.
    let jobs = wait_for("short_job's poll and scheduled times", || {
        let n = client.tasks().named("short_job")?.clone();
        (n.timed > 0 && n.poll_time.is_some() && n.scheduled_time.is_some()).then_some(n)
    });
    assert!(jobs.timed <= jobs.completed, "{jobs:?}");
    let poll = jobs.poll_time.unwrap();
    assert!(
        poll.p50 > Duration::ZERO && poll.p50 < Duration::from_secs(1),
        "{jobs:?}"
    );
    let orders = client.tasks().named("place_order").cloned().unwrap();
    assert_eq!((orders.spawned, orders.alive, orders.completed), (1, 0, 1));
    assert!(orders.busy >= Duration::from_millis(20), "{orders:?}");
    // A few seconds on, the rows of finished tasks are gone, their counts are not.
    std::thread::sleep(taskscope::receive::DONE_RETENTION + Duration::from_secs(1));
    let later = client.tasks();
    assert!(!later.rows.iter().any(|r| &*r.name == "short_job"));
    let later_jobs = later.named("short_job").unwrap();
    assert_eq!(later_jobs.completed, 2500);
    // Settled times stay when the rows go.
    assert!(
        later_jobs.timed >= jobs.timed && later_jobs.timed <= 2500,
        "{later_jobs:?}"
    );
    assert!(later_jobs.poll_time.is_some(), "{later_jobs:?}");
    eprintln!(
        "short_job: histograms of {} of 2500 tasks",
        later_jobs.timed
    );
}
