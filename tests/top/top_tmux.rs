//! End to end: `taskscope top` in a real terminal (a tmux pane) receives a real app's OTLP
//! export and shows its functions with sane numbers; a malformed request is refused with the
//! protocol's error while the screen keeps running; `q` gives the terminal back.
//! `.ci/run` installs Debian's `tmux`.

#![cfg(feature = "cli")]

use crate::support::cli;

use std::time::Duration;

#[test]
fn top_in_a_terminal_shows_a_real_apps_functions_and_survives_bad_input() {
    if crate::support::alone(
        module_path!(),
        "top_in_a_terminal_shows_a_real_apps_functions_and_survives_bad_input",
    ) {
        return;
    }
    let (grpc, http) = (cli::free_port(), cli::free_port());
    let session = cli::Session::start(
        "e2e",
        &format!(
            "{} top --grpc 127.0.0.1:{grpc} --http 127.0.0.1:{http} --window all --refresh 250ms; echo EXITED=$?; sleep 30",
            cli::binary().display()
        ),
    );
    cli::wait_for(Duration::from_secs(20), "the dashboard", || {
        session.capture().contains("taskscope top").then_some(())
    });
    cli::run_example(&format!("http://127.0.0.1:{grpc}"), "grpc", 2);
    let screen = cli::wait_for(Duration::from_secs(10), "the app's functions", || {
        let s = session.capture();
        (cli::row(&s, "authorize").is_some() && cli::row(&s, "load_cart").is_some()).then_some(s)
    });
    // Wait one more refresh so the final export is in.
    std::thread::sleep(Duration::from_millis(600));
    let screen = {
        let s = session.capture();
        if cli::row(&s, "authorize").is_some() {
            s
        } else {
            screen
        }
    };
    assert!(screen.contains("live"), "{screen}");
    cli::assert_sane(&screen, "authorize", true, false);
    cli::assert_sane(&screen, "load_cart", false, false);

    // Malformed protobuf: refused with 400, counted, and the screen goes on.
    let status = cli::post(
        http,
        "/v1/metrics",
        "application/x-protobuf",
        b"\xff\xff\xff\xff garbage",
    );
    assert_eq!(status, 400);
    let screen = cli::wait_for(Duration::from_secs(10), "the rejected count", || {
        let s = session.capture();
        s.contains("rejected 1").then_some(s)
    });
    assert!(cli::row(&screen, "authorize").is_some(), "{screen}");

    // Keys work: the detail of the selected function, then back, then quit.
    session.keys("Enter");
    cli::wait_for(Duration::from_secs(10), "the detail screen", || {
        session
            .capture()
            .contains("percentiles")
            .then_some(())
            .or_else(|| {
                session
                    .capture()
                    .contains("latency histogram")
                    .then_some(())
            })
    });
    session.keys("Escape");
    session.keys("q");
    let end = cli::wait_for(Duration::from_secs(10), "the exit", || {
        let s = session.capture();
        s.contains("EXITED=").then_some(s)
    });
    assert!(end.contains("EXITED=0"), "{end}");
    // The alternate screen is gone: the dashboard's header no longer shows.
    assert!(!end.contains("taskscope top ·"), "{end}");
}

#[test]
fn on_a_terminal_duration_ends_with_the_last_summary_and_json_prints_json_lines() {
    if crate::support::alone(
        module_path!(),
        "on_a_terminal_duration_ends_with_the_last_summary_and_json_prints_json_lines",
    ) {
        return;
    }
    let (grpc, http) = (cli::free_port(), cli::free_port());
    let session = cli::Session::start(
        "duration",
        &format!(
            "{} top --grpc {grpc} --http {http} --refresh 250ms --duration 2s; echo EXITED=$?; sleep 30",
            cli::binary().display()
        ),
    );
    let screen = session.wait_for("EXITED=");
    assert!(screen.contains("EXITED=0"), "{screen}");
    assert!(
        screen.lines().any(|l| l.starts_with("taskscope top |")),
        "the last summary after the dashboard:\n{screen}"
    );
    assert!(screen.contains("function"), "{screen}");
    drop(session);

    let (grpc, http) = (cli::free_port(), cli::free_port());
    let session = cli::Session::start(
        "json",
        &format!(
            "{} top --grpc {grpc} --http {http} --json --interval 500ms --duration 2s; echo EXITED=$?; sleep 30",
            cli::binary().display()
        ),
    );
    let screen = session.wait_for("EXITED=");
    assert!(screen.contains("EXITED=0"), "{screen}");
    let json_lines = screen
        .lines()
        .filter(|l| l.starts_with("{\"window\":"))
        .count();
    assert!(json_lines >= 2, "JSON lines on the terminal:\n{screen}");
}
