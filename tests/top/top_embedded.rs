//! The embedded dashboard (`taskscope::top()`) in a real terminal (a tmux pane): it shows the
//! app's own functions with no network, and gives the terminal back when the app ends, when
//! the user presses Ctrl-C, and when the app panics. `.ci/run` installs Debian's `tmux`.

#![cfg(feature = "cli")]

use crate::support::cli;

/// The shell line: the example, then its exit code and whether the terminal is back in
/// canonical (cooked) mode, which raw mode turns off.
fn command(args: &str) -> String {
    format!(
        "{} {args}; echo EXITED=$?; stty -a | grep -o -- '-\\?icanon' | sed 's/^/MODE=/'; sleep 30",
        cli::example("embedded").display()
    )
}

#[test]
fn the_app_ending_gives_the_terminal_back() {
    if crate::support::alone(module_path!(), "the_app_ending_gives_the_terminal_back") {
        return;
    }
    let session = cli::Session::start("embedded-end", &command("3"));
    let screen = session.wait_for("check_stock");
    assert!(screen.contains("in-process"), "{screen}");
    assert!(cli::row(&screen, "check_stock").is_some() || screen.contains("check_stock"));
    let end = session.wait_for("MODE=");
    assert!(end.contains("dashboard closed: Stopped"), "{end}");
    assert!(
        end.contains("EXITED=0") && end.contains("MODE=icanon"),
        "{end}"
    );
    assert!(
        !end.contains("taskscope top ·"),
        "the alternate screen is gone:\n{end}"
    );
    // The app's own report follows, with the calls made while the dashboard was open.
    assert!(end.contains("reserve"), "{end}");
}

#[test]
fn ctrl_c_closes_the_dashboard_and_tells_the_app() {
    if crate::support::alone(
        module_path!(),
        "ctrl_c_closes_the_dashboard_and_tells_the_app",
    ) {
        return;
    }
    let session = cli::Session::start("embedded-ctrl-c", &command(""));
    session.wait_for("check_stock");
    session.keys("C-c");
    let end = session.wait_for("MODE=");
    assert!(end.contains("dashboard closed: Interrupted"), "{end}");
    assert!(
        end.contains("EXITED=0") && end.contains("MODE=icanon"),
        "{end}"
    );
}

#[test]
fn a_panic_on_the_main_thread_restores_the_terminal_before_it_is_printed() {
    if crate::support::alone(
        module_path!(),
        "a_panic_on_the_main_thread_restores_the_terminal_before_it_is_printed",
    ) {
        return;
    }
    let session = cli::Session::start("embedded-panic", &command("30 panic"));
    let end = session.wait_for("MODE=");
    assert!(end.contains("boom: the app panicked"), "{end}");
    assert!(
        end.contains("EXITED=101") && end.contains("MODE=icanon"),
        "{end}"
    );
}
