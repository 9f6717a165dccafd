//! The async patterns on the Prometheus endpoint: their functions carry `taskscope_kind`,
//! a retried operation's attempts are an exact histogram (`le="1"` to `le="15"`), accepted
//! by `promtool check metrics` and read by a real Prometheus; plain functions keep the
//! labels they always had.
#![cfg(feature = "prometheus")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;
use crate::support::scrape::{Prometheus, get, promtool_accepts};

use std::time::Duration;

use taskscope::patterns::{Retries, Semaphore};

static FETCH: Retries = Retries::new("scraped_fetch");

async fn attempt(n: u32, ok_at: u32) -> Result<u32, std::io::Error> {
    if n >= ok_at {
        Ok(n)
    } else {
        Err(std::io::Error::other("down"))
    }
}

/// One operation that succeeds at attempt `ok_at` (gives up after 4).
async fn operation(ok_at: u32) {
    let retry = FETCH.start();
    let mut n = 0;
    loop {
        n += 1;
        match retry.attempt(attempt(n, ok_at)).await {
            Err(_) if n < 4 => retry.backoff(Duration::from_millis(1)).await,
            _ => break,
        }
    }
}

#[taskscope::measure]
fn scraped_plain() {}

const OP: &str = r#"code_function_name="scraped_fetch",taskscope_kind="retry""#;

#[test]
fn patterns_carry_their_kind_and_retries_their_attempts() {
    if crate::support::alone(
        module_path!(),
        "patterns_carry_their_kind_and_retries_their_attempts",
    ) {
        return;
    }
    common::init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let _held = rt.block_on(async {
        // 5 at the first try, 3 at the second, 2 give up after 4 attempts.
        for ok_at in [1, 1, 1, 1, 1, 2, 2, 2, 9, 9] {
            operation(ok_at).await;
        }
        let sem = Semaphore::new("scraped_pool", 2);
        sem.acquire_owned().await.unwrap()
    });
    scraped_plain();
    let e = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    let (status, _, body) = get(e.local_addr(), "/metrics", None);
    assert_eq!(status, 200);
    let scope = r#"otel_scope_name="taskscope",otel_scope_version="0.1.0""#;
    for line in [
        "# TYPE function_retry_attempts histogram".to_string(),
        format!("function_retry_attempts_bucket{{{OP},{scope},le=\"1\"}} 5"),
        format!("function_retry_attempts_bucket{{{OP},{scope},le=\"2\"}} 8"),
        format!("function_retry_attempts_bucket{{{OP},{scope},le=\"3\"}} 8"),
        format!("function_retry_attempts_bucket{{{OP},{scope},le=\"4\"}} 10"),
        format!("function_retry_attempts_count{{{OP},{scope}}} 10"),
        format!("function_retry_attempts_sum{{{OP},{scope}}} 19"),
        format!("function_calls_total{{{OP},taskscope_outcome=\"ok\",{scope}}} 8"),
        format!(
            "function_calls_concurrent{{code_function_name=\"scraped_pool.hold\",taskscope_kind=\"semaphore\",{scope}}} 1"
        ),
        format!(
            "function_calls_total{{code_function_name=\"scraped_fetch.backoff\",taskscope_kind=\"retry\",taskscope_outcome=\"ok\",{scope}}} 9"
        ),
    ] {
        assert!(body.contains(&line), "missing {line}\n{body}");
    }
    let plain = body
        .lines()
        .find(|l| l.starts_with("function_calls_total{") && l.contains("scraped_plain"))
        .unwrap();
    assert!(
        !plain.contains("taskscope_kind"),
        "a function has no kind label: {plain}"
    );
    promtool_accepts(&body);

    let p = Prometheus::scraping("patterns", e.local_addr());
    let retried = p.wait_for_value(&format!(
        "function_retry_attempts_count{{{OP}}} - on() function_retry_attempts_bucket{{{OP},le=\"1\"}}"
    ));
    assert_eq!(retried, 5.0, "five operations retried");
    let gave_up = p.wait_for_value(
        r#"sum(function_calls_total{taskscope_kind="retry",code_function_name="scraped_fetch",taskscope_outcome="error"})"#,
    );
    assert_eq!(gave_up, 2.0);
}
