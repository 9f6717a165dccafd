//! The demo, headless with a fixed seed: its final report shows every outcome and every
//! error kind with non-zero counts, and flags the function that blocks the executor.

#![cfg(feature = "cli")]

mod cli;

use std::process::Command;

#[test]
fn the_demo_shows_every_outcome_every_error_kind_and_the_blocking_function() {
    let out = Command::new(cli::example("demo"))
        .args([
            "--no-tui",
            "--duration",
            "4s",
            "--seed",
            "7",
            "--rate",
            "300",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.rsplit("taskscope top |").next().unwrap();
    let column = |name: &str, index_from_end: usize| -> u64 {
        let r = cli::row(last, name).unwrap_or_else(|| panic!("no {name}:\n{last}"));
        r[r.len() - index_from_end].parse().unwrap()
    };
    // Plain table: ... err panic canc inflt p50 p90 p99 p99.9 max busy% slow
    let (err, panic, canc) = (11, 10, 9);
    assert!(column("fetch_once", err) > 0, "{last}");
    assert!(column("fetch_once", canc) > 0, "timed-out attempts: {last}");
    assert!(column("charge_card", panic) > 0, "{last}");
    assert!(column("render_invoice", 1) > 0, "slow polls: {last}");
    for kind in [
        "Network",
        "RetriesExhausted",
        "Downstream",
        "MissingField",
        "OutOfRange",
        "ConnectionReset",
        "OutOfStock",
        "PaymentDeclined",
        "Timeout",
        "Crashed",
    ] {
        let count: Option<u64> = last
            .split([',', ':', '\n'])
            .find_map(|part| part.trim().strip_prefix(&format!("{kind} ")))
            .and_then(|n| n.trim().parse().ok());
        assert!(count.is_some_and(|c| c > 0), "no {kind} errors:\n{last}");
    }
    assert!(
        last.lines()
            .any(|l| l.contains("! render_invoice:") && l.contains("slow polls")),
        "{last}"
    );
}

#[test]
fn an_unknown_demo_flag_is_a_usage_error() {
    let out = Command::new(cli::example("demo"))
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: demo"));
}
