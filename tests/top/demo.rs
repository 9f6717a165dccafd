//! The demo, headless with a fixed seed: its final report shows every outcome and every
//! error kind with non-zero counts, and flags the function that blocks the executor.

#![cfg(feature = "cli")]

use crate::support::cli;

use std::process::Command;

#[test]
fn the_demo_shows_every_outcome_every_error_kind_and_the_blocking_function() {
    if crate::support::alone(
        module_path!(),
        "the_demo_shows_every_outcome_every_error_kind_and_the_blocking_function",
    ) {
        return;
    }
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
    let (summaries, report) = stdout
        .rsplit_once("The whole run:\n")
        .expect("the demo prints the report when it quits");
    let last = summaries.rsplit("taskscope top |").next().unwrap();
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
    // The report: a header with slow polls, the error kinds under their functions.
    let header = report.lines().next().unwrap();
    assert!(
        header.starts_with("function") && header.ends_with("slow polls"),
        "{report}"
    );
    let lines: Vec<&str> = report.lines().collect();
    let fetch_once = lines
        .iter()
        .position(|l| l.contains("::fetch_once "))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        lines[fetch_once + 1].trim_start().starts_with("error: "),
        "{report}"
    );
    let slow: u64 = lines
        .iter()
        .find(|l| l.contains("::render_invoice "))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(slow > 0, "{report}");
}

/// The saturation phase from the start: CPU work arrives faster than the two workers take
/// it, and the summary blames the runtime: saturated, its global queue grown, and the
/// functions' slow p99 said to come while it is saturated.
#[test]
fn the_demo_saturation_phase_names_the_runtime_as_the_cause() {
    if crate::support::alone(
        module_path!(),
        "the_demo_saturation_phase_names_the_runtime_as_the_cause",
    ) {
        return;
    }
    let out = Command::new(cli::example("demo"))
        .args([
            "--no-tui",
            "--duration",
            "5s",
            "--seed",
            "7",
            "--rate",
            "100",
            "--saturate-at",
            "0s",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (summaries, _) = stdout.rsplit_once("The whole run:\n").unwrap();
    let last = summaries.rsplit("taskscope top |").next().unwrap();
    let runtime = last
        .lines()
        .find(|l| l.starts_with("runtime demo: "))
        .unwrap_or_else(|| panic!("no runtime line:\n{last}"));
    assert!(runtime.ends_with("! executor saturated"), "{runtime}");
    let (before, after) = runtime
        .split_once("global queue ")
        .and_then(|(_, q)| q.split_once(','))
        .and_then(|(q, _)| q.split_once(" -> "))
        .unwrap_or_else(|| panic!("{runtime}"));
    let (before, after): (u64, u64) = (before.parse().unwrap(), after.parse().unwrap());
    assert!(after > before, "the global queue grew: {runtime}");
    assert!(
        last.lines().any(|l| l.contains("! handle_request:")
            && l.contains("p99 over budget while runtime demo is saturated")),
        "{last}"
    );
}

#[test]
fn an_unknown_demo_flag_is_a_usage_error() {
    if crate::support::alone(module_path!(), "an_unknown_demo_flag_is_a_usage_error") {
        return;
    }
    let out = Command::new(cli::example("demo"))
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: demo"));
}
