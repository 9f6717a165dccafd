//! An app that already uses `tracing`: one line adds taskscope's layer, and every
//! `#[tracing::instrument]` function gets calls, outcomes (`err` makes errors, with their
//! kind from the `error.kind` field when given), latency percentiles and poll counts.
//! `cargo run --example layer --features layer`

use std::time::Duration;

use tracing_subscriber::prelude::*;

#[tracing::instrument(err)]
async fn lookup(id: u64) -> Result<u64, String> {
    tokio::time::sleep(Duration::from_millis(1 + id % 7)).await;
    if id.is_multiple_of(9) {
        return Err(format!("no user {id}"));
    }
    Ok(id)
}

#[tracing::instrument(fields(error.kind))]
async fn checkout(id: u64) -> bool {
    let ok = lookup(id).await.is_ok();
    if !ok {
        tracing::Span::current().record("error.kind", "UnknownUser");
    }
    ok
}

#[tokio::main]
async fn main() {
    tracing_subscriber::registry()
        .with(taskscope::layer())
        .init();
    for id in 1..=100 {
        checkout(id).await;
    }
    print!("{}", taskscope::report());
}
