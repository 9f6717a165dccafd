//! taskscope's own numbers do not depend on tokio-console: a deterministic workload (tokio's
//! paused clock, polls that advance it by fixed amounts) is measured with the console asked
//! for, and compared with constants.
//!
//! `.ci/run` runs this file in both builds: without `--cfg tokio_unstable` the console is
//! off (`NeedsTokioUnstable`, a warning, no panic); with it, in its own target directory, the
//! console serves while the same constants hold. The recorder and the subscriber are global,
//! so this file is its own test binary with one test.
#![cfg(feature = "console")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Blocking, outcomes, work_for};
use taskscope::{ConsoleStatus, Histogram};

#[derive(Debug, taskscope::ErrorKind)]
enum BatchError {
    Empty,
}

/// `polls + 1` polls of 3 ms each; the batch of two polls fails.
#[taskscope::measure]
async fn parse_batch(polls: u32) -> Result<u32, BatchError> {
    Blocking {
        polls_left: polls,
        per_poll: Duration::from_millis(3),
    }
    .await;
    if polls == 2 {
        Err(BatchError::Empty)
    } else {
        Ok(polls)
    }
}

/// One poll of `6 * n` ms.
#[taskscope::measure]
async fn write_batch(n: u32) -> u32 {
    Blocking {
        polls_left: 0,
        per_poll: Duration::from_millis(6 * u64::from(n)),
    }
    .await;
    n
}

/// A span the taskscope layer records: 7 ms in one poll.
#[tracing::instrument]
async fn traced_flush(n: u32) {
    work_for(Duration::from_millis(7 * u64::from(n)));
}

fn millis(values: &[u64]) -> Histogram {
    let mut h = Histogram::new();
    for &ms in values {
        h.record(Duration::from_millis(ms));
    }
    h
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn taskscope_records_the_same_numbers_whether_the_console_runs_or_not() {
    if crate::support::alone(
        module_path!(),
        "taskscope_records_the_same_numbers_whether_the_console_runs_or_not",
    ) {
        return;
    }
    let addr = free_addr();
    let telemetry = taskscope::subscriber()
        .with_recorder(
            taskscope::builder()
                .with_clock(common::tokio_clock)
                .with_slow_poll_threshold(Duration::from_millis(10)),
        )
        .with_console_addr(addr)
        .try_init()
        .expect("asking for the console never fails, with or without --cfg tokio_unstable");
    #[cfg(tokio_unstable)]
    assert_eq!(telemetry.console(), &ConsoleStatus::Serving(addr));
    #[cfg(not(tokio_unstable))]
    assert_eq!(telemetry.console(), &ConsoleStatus::NeedsTokioUnstable);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        for polls in 0..5 {
            let _ = taskscope::spawn!(parse_batch(polls)).await.unwrap();
        }
        for n in 1..=3 {
            taskscope::spawn!(write_batch(n)).await.unwrap();
        }
        taskscope::spawn!(traced_flush(1)).await.unwrap();
        // What tokio emits for the console under `tokio_unstable` (and does here for real in
        // that build): a `runtime.spawn` span per task, `runtime::*` events.
        tracing::trace_span!(target: "tokio::task", "runtime.spawn", kind = "task").in_scope(
            || tracing::trace!(target: "runtime::waker", op = "waker.wake", task.id = 1u64),
        );
        tracing::trace_span!(target: "tokio::sync::mutex", "runtime.resource", kind = "Sync")
            .in_scope(|| {});
    });

    // parse_batch: 3, 6, 9, 12 and 15 ms, one error (the 9 ms one), 15 polls, none slow.
    assert_eq!(outcomes("parse_batch"), (4, 1, 0, 0));
    let parse = common::function("parse_batch");
    assert_eq!(parse.wall(), millis(&[3, 6, 9, 12, 15]));
    assert_eq!(parse.busy(), millis(&[3, 6, 9, 12, 15]));
    assert_eq!(parse.error.wall, millis(&[9]));
    assert_eq!(parse.error_kinds[0].kind, "Empty");
    assert_eq!((parse.polls(), parse.slow_polls()), (15, 0));
    assert_eq!(parse.wall().p50(), millis(&[9]).p50());
    assert_eq!(parse.wall().max(), Duration::from_millis(15));
    assert_eq!(parse.in_flight, 0);

    // write_batch: 6, 12 and 18 ms in one poll each; two over the 10 ms threshold.
    assert_eq!(outcomes("write_batch"), (3, 0, 0, 0));
    let write = common::function("write_batch");
    assert_eq!(write.wall(), millis(&[6, 12, 18]));
    assert_eq!((write.polls(), write.slow_polls()), (3, 2));

    // The span: one call of 7 ms, its future's poll plus the enter that drops it.
    let flush = common::function("traced_flush");
    assert_eq!(flush.source, taskscope::Source::Span);
    assert_eq!(outcomes("traced_flush"), (1, 0, 0, 0));
    assert_eq!(flush.wall(), millis(&[7]));
    assert_eq!(flush.polls(), 2);

    // tokio's instrumentation reaches the console only.
    let snap = taskscope::snapshot();
    let names: Vec<_> = snap.functions.iter().map(|f| (f.name, f.target)).collect();
    assert_eq!(
        names.len(),
        3,
        "only the three functions above are recorded: {names:?}"
    );
    assert!(
        names
            .iter()
            .all(|(name, target)| !name.starts_with("runtime.") && !target.starts_with("tokio")),
        "{names:?}"
    );
    drop(telemetry);
}
