//! Every screen of the dashboard rendered into ratatui's `TestBackend` at 80x24 and 160x48,
//! compared with stored snapshots.

use super::fixtures as top;
use crate::view::model::{Model, Msg, Settings};
use crate::view::style::Glyphs;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn both_sizes(name: &str, model: &Model) {
    insta::assert_snapshot!(format!("{name}_80x24"), top::render(model, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), top::render(model, 160, 48));
}

#[test]
fn function_list() {
    both_sizes("list", &top::model(20));
}

#[test]
fn function_detail() {
    let mut m = top::model(20);
    m.update(key(KeyCode::Down));
    m.update(key(KeyCode::Enter));
    both_sizes("detail", &m);
}

#[test]
fn help_overlay() {
    let mut m = top::model(20);
    m.update(key(KeyCode::Char('?')));
    both_sizes("help", &m);
}

#[test]
fn filter_prompt_and_paused() {
    let mut m = top::model(20);
    m.update(key(KeyCode::Char(' ')));
    m.update(key(KeyCode::Char('/')));
    for c in "order".chars() {
        m.update(key(KeyCode::Char(c)));
    }
    both_sizes("filter_editing_paused", &m);
    m.update(key(KeyCode::Enter));
    both_sizes("filter_applied", &m);
}

/// A foreign sender: busy shows `-` (it sent none, which is not 0 %), errors without a kind
/// are listed as `(no kind)`, and long names lose their middle, not the end that tells
/// them apart.
#[test]
fn foreign_sender() {
    let mut m = Model::new(top::settings());
    for t in 1..=10 {
        m.update(Msg::Frame(top::foreign_frame(t)));
    }
    both_sizes("foreign_list", &m);
    let wide = top::render(&m, 160, 48);
    assert!(
        wide.contains("rejected 3 (last: Content-Type text/plain: OTLP/HTTP is"),
        "the last refusal's reason in the header:\n{wide}"
    );
    let list = top::render(&m, 80, 24);
    assert!(list.contains("charge_…ard_with_retries"), "{list}");
    assert!(list.contains("refund_…ard_with_retries"), "{list}");
    m.update(key(KeyCode::Enter));
    both_sizes("foreign_detail", &m);
    let detail = top::render(&m, 160, 48);
    assert!(detail.contains("busy  -"), "{detail}");
    assert!(detail.contains("(no kind)"), "{detail}");
    assert!(!detail.contains("no errors in the window"), "{detail}");
    let table = crate::view::summary::table(&m);
    assert!(table.contains("| service py-checkout |"), "{table}");
    assert!(
        table.contains("\nlast rejection: Content-Type text/plain"),
        "{table}"
    );
    let widths: Vec<usize> = table
        .lines()
        .skip(2)
        .take(3)
        .map(|l| l.chars().count())
        .collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "aligned:\n{table}");
    assert!(table.contains(": (no kind) 54"), "{table}");
    assert!(
        table.lines().nth(3).unwrap().ends_with("      -      -"),
        "{table}"
    );
}

/// A sender whose explicit buckets are far too wide (the Python SDK's default bounds, made
/// for milliseconds, with values in seconds): the percentiles stay between the sender's min
/// and max and are marked approximate, the detail draws the bucket clamped to [min, max],
/// and a p99 over budget that comes from that bucket alone raises no warning.
#[test]
fn coarse_buckets_are_marked_and_raise_no_warning() {
    let mut m = Model::new(Settings {
        limits: crate::view::rows::Limits {
            p99_budget: 0.1,
            ..crate::view::rows::Limits::default()
        },
        ..top::settings()
    });
    for t in 1..=10 {
        m.update(Msg::Frame(top::coarse_frame(t)));
    }
    let row = &m.rows[0];
    assert!(row.coarse, "the row is marked coarse");
    assert!(row.warnings.is_empty(), "{:?}", row.warnings);
    let p99 = row.quantile(0.99).unwrap();
    assert!(
        p99 > 0.1 && p99 <= 0.200,
        "p99 {p99} between budget and max"
    );
    both_sizes("coarse_list", &m);
    let list = top::render(&m, 160, 48);
    assert!(
        list.contains('≈'),
        "approximate percentiles are marked:\n{list}"
    );
    assert!(!list.contains("over budget"), "{list}");
    m.update(key(KeyCode::Enter));
    both_sizes("coarse_detail", &m);
    let detail = top::render(&m, 160, 48);
    assert!(detail.contains("wide buckets"), "{detail}");
    assert!(
        detail.contains("9.59ms - 200ms"),
        "the sender's bucket, clamped to its min and max:\n{detail}"
    );
    assert!(
        !detail.contains("4.29") && !detail.contains("17.2") && !detail.contains("5.00 s"),
        "no bar beyond the sender's max:\n{detail}"
    );
}

#[test]
fn waiting_for_data() {
    both_sizes("waiting", &Model::new(top::settings()));
}

#[test]
fn ascii_fallback_has_no_wide_glyphs() {
    let mut m = Model::new(Settings {
        glyphs: Glyphs::ASCII,
        color: false,
        ..top::settings()
    });
    for t in 1..=20 {
        m.update(Msg::Frame(top::frame(t)));
    }
    let list = top::render(&m, 160, 48);
    assert!(list.is_ascii(), "{list}");
    both_sizes("ascii_list", &m);
    m.update(key(KeyCode::Enter));
    let detail = top::render(&m, 160, 48);
    assert!(detail.is_ascii(), "{detail}");
}

#[test]
fn no_color_means_no_colour_anywhere() {
    let mut m = Model::new(Settings {
        color: false,
        ..top::settings()
    });
    for t in 1..=20 {
        m.update(Msg::Frame(top::frame(t)));
    }
    for screen in [None, Some(KeyCode::Enter)] {
        if let Some(k) = screen {
            m.update(key(k));
        }
        let t = top::terminal(&m, 160, 48);
        for cell in t.backend().buffer().content() {
            assert!(
                matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
                "coloured cell {cell:?}"
            );
        }
    }
    // With colours on, the failing function's ok% is red.
    let coloured = top::terminal(&top::model(20), 160, 48);
    assert!(
        coloured
            .backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg == Color::Red)
    );
}

#[test]
fn tasks_view_next_to_the_functions() {
    use crate::frame::{TaskName, TaskRow, TaskState, TaskTimes, Tasks};
    use std::sync::Arc;
    use std::time::Duration;
    let ms = Duration::from_millis;
    let row = |id, name: &str, state, busy, scheduled, idle, polls| TaskRow {
        id,
        name: name.into(),
        state,
        busy: ms(busy),
        scheduled: ms(scheduled),
        idle: ms(idle),
        polls,
        location: "orders.rs:42".into(),
    };
    let us = Duration::from_micros;
    let name = |name: &str, spawned, alive, busy, scheduled, polls| TaskName {
        name: name.into(),
        spawned,
        alive,
        completed: spawned - alive,
        busy: ms(busy),
        scheduled: ms(scheduled),
        polls,
        // Tasks with histograms from the console show their poll and scheduled times.
        timed: if polls > 100 { spawned } else { 0 },
        poll_time: (polls > 100).then(|| TaskTimes {
            p50: us(polls / 10),
            p99: us(polls),
            max: us(polls * 3),
        }),
        scheduled_time: (polls > 100).then(|| TaskTimes {
            p50: us(40),
            p99: us(900),
            max: ms(2),
        }),
    };
    let mut tasks = Tasks {
        url: "http://127.0.0.1:6669".into(),
        connection: "live".into(),
        rows: vec![
            row(1, "place_order", TaskState::Idle, 12, 3, 900, 40),
            row(2, "load_user", TaskState::Running, 450, 8, 100, 310),
            row(3, "", TaskState::Scheduled, 2, 1, 30, 4),
            row(4, "render_invoice", TaskState::Done, 1500, 20, 5, 9),
        ],
        // 2500 short-lived tasks of one name, finished long before this frame.
        names: vec![
            name("place_order", 2500, 1, 31_000, 900, 9_800),
            name("load_user", 310, 1, 450, 8, 310),
            name("", 1, 1, 2, 1, 4),
            name("render_invoice", 1, 0, 1500, 20, 9),
        ],
    };
    tasks.sort();
    tasks.sort_names();
    let mut m = Model::new(top::settings());
    for t in 1..=20 {
        let mut f = top::frame(t);
        f.tasks = Some(Arc::new(tasks.clone()));
        m.update(Msg::Frame(f));
    }
    both_sizes("tasks", &m);
    let screen = top::render(&m, 160, 48);
    assert!(
        screen.contains("place_order") && screen.contains("2500"),
        "{screen}"
    );
    // The detail of a function shows the tasks of its name.
    m.update(key(KeyCode::Down));
    m.update(key(KeyCode::Enter));
    let detail = top::render(&m, 160, 48);
    assert!(
        detail.contains("tasks: 2500 spawned, 1 alive, 2499 done"),
        "{detail}"
    );
    assert!(detail.contains("poll p50 980µs p99 9.80ms"), "{detail}");
    m.update(key(KeyCode::Esc));
    // `t` hides them; the function list takes the whole screen again.
    m.update(key(KeyCode::Char('t')));
    assert!(!top::render(&m, 160, 48).contains("tasks · http"));
}

#[test]
fn runtimes_in_the_header_their_warnings_and_their_screen() {
    let mut m = Model::new(Settings {
        limits: crate::view::rows::Limits {
            p99_budget: 0.001,
            ..crate::view::rows::Limits::default()
        },
        ..top::settings()
    });
    for t in 1..=20 {
        m.update(Msg::Frame(top::runtime_frame(t)));
    }
    both_sizes("runtime_list", &m);
    let list = top::render(&m, 160, 48);
    assert!(
        list.contains("runtime api: executor saturated: workers 97% busy, global queue 3 -> 60"),
        "{list}"
    );
    assert!(
        list.contains("runtime batch: blocking pool exhausted: 512 threads busy, 12 tasks waiting"),
        "{list}"
    );
    assert!(
        list.contains("api: busy 97%, queue 3 -> 60, 860 tasks, 2 workers"),
        "{list}"
    );
    let table = crate::view::summary::table(&m);
    assert!(
        table.contains(
            "runtime api: busy 97%, global queue 3 -> 60, 860 tasks, 2 workers ! executor saturated"
        ),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&crate::view::summary::json(&m)).unwrap();
    assert_eq!(
        json["runtimes"][1]["warnings"][0],
        "blocking pool exhausted"
    );
    assert_eq!(json["runtimes"][0]["global_queue_depth"], 60);
    // A slow function's p99 is said to coincide with the saturated runtime, on screen, in
    // the plain summary and in the JSON.
    assert!(list.contains("while runtime api is saturated"), "{list}");
    assert!(
        table.contains("! load_user: p99 over budget while runtime api is saturated"),
        "{table}"
    );
    let load_user = json["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == "load_user")
        .unwrap();
    assert_eq!(load_user["saturated_runtime"], "api", "{load_user}");
    m.update(key(KeyCode::Char('r')));
    both_sizes("runtime_screen", &m);
    let screen = top::render(&m, 160, 48);
    assert!(screen.contains("worker 0   busy   98%"), "{screen}");
    assert!(
        screen.contains("polls 20000: p50 55.6µs, p99 1.00ms"),
        "{screen}"
    );
    m.update(key(KeyCode::Char('r')));
    assert!(
        top::render(&m, 160, 48).contains("function"),
        "r again returns"
    );
    // Without runtimes the header keeps its two lines: the other screens are unchanged.
    assert!(!top::render(&top::model(20), 160, 48).contains("runtimes"));
}

/// The call graph: the callers and callees panel of a function's detail, with its self
/// time, and the tree from the roots, opened and ordered by self time.
#[test]
fn call_graph_in_the_detail_and_as_a_tree() {
    let mut m = Model::new(top::settings());
    for t in 1..=20 {
        m.update(Msg::Frame(top::graph_frame(t)));
    }
    let place_order = m
        .rows
        .iter()
        .position(|r| &*r.series.function == "place_order")
        .unwrap();
    m.selected = place_order;
    m.update(key(KeyCode::Enter));
    both_sizes("graph_detail", &m);
    let detail = top::render(&m, 160, 48);
    assert!(detail.contains("self 4.04ms/call, 40% of busy"), "{detail}");
    assert!(detail.contains("> load_user"), "{detail}");
    assert!(detail.contains("< (root)"), "{detail}");

    let json: serde_json::Value = serde_json::from_str(&crate::view::summary::json(&m)).unwrap();
    let place = json["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == "place_order")
        .unwrap();
    assert_eq!(place["callers"][0]["caller"], "(root)");
    assert_eq!(place["callers"][0]["calls"], 1881);
    assert!(place["self_busy_seconds"].as_f64().unwrap() > 7.5);

    m.update(key(KeyCode::Esc));
    m.update(key(KeyCode::Char('c')));
    both_sizes("graph_tree_closed", &m);
    // Open the first root (the busiest: place_order), then order by self time.
    m.update(key(KeyCode::Enter));
    m.update(key(KeyCode::Char('l')));
    both_sizes("graph_tree_open", &m);
    let tree = top::render(&m, 160, 48);
    assert!(tree.contains("call graph by self busy time"), "{tree}");
    let lines: Vec<&str> = tree.lines().collect();
    let at = |name: &str| lines.iter().position(|l| l.contains(name)).unwrap();
    assert!(at("- shop::orders::place_order") < at("    shop::orders::render_invoice"));
    assert!(
        at("    shop::orders::render_invoice") < at("    shop::orders::load_user"),
        "by self time, render_invoice (6 s) before load_user (4 s): {tree}"
    );
}

#[test]
fn patterns_one_kind_at_a_time_with_the_columns_of_the_kind() {
    use crate::words::function::Pattern;
    let mut m = Model::new(top::settings());
    for t in 1..=20 {
        m.update(Msg::Frame(top::patterns_frame(t)));
    }
    let all = m.rows.len();
    // `p` cycles through the kinds present: function, retry, semaphore, channel, all.
    m.update(key(KeyCode::Char('p')));
    assert_eq!(m.kind, Some(Pattern::Function));
    assert!(m.rows.iter().all(|r| r.series.pattern == Pattern::Function));
    m.update(key(KeyCode::Char('p')));
    assert_eq!(m.kind, Some(Pattern::Retry));
    assert_eq!(m.rows.len(), 1);
    both_sizes("patterns_retry", &m);
    let list = top::render(&m, 80, 24);
    assert!(list.contains("kind retry"), "{list}");
    assert!(list.contains("gave up"), "{list}");
    assert!(list.contains("att/op"), "{list}");
    assert!(list.contains("1.12"), "1.12 attempts per operation: {list}");
    m.update(key(KeyCode::Enter));
    let detail = top::render(&m, 160, 48);
    assert!(
        detail.contains("attempts     1.12/op  max 3  gave up 38"),
        "{detail}"
    );
    assert!(
        detail.contains("fetch_user · checkout ·  · retry"),
        "{detail}"
    );
    let json: serde_json::Value = serde_json::from_str(&crate::view::summary::json(&m)).unwrap();
    let op = &json["functions"][0];
    assert_eq!(op["kind"], "retry");
    assert!(
        (op["attempts_per_call"].as_f64().unwrap() - 1.12).abs() < 1e-9,
        "{op}"
    );
    m.update(key(KeyCode::Esc));
    m.update(key(KeyCode::Char('p')));
    assert_eq!(m.kind, Some(Pattern::Semaphore));
    assert_eq!(m.rows.len(), 2);
    both_sizes("patterns_semaphore", &m);
    m.update(key(KeyCode::Char('p')));
    assert_eq!(m.kind, Some(Pattern::Channel));
    m.update(key(KeyCode::Char('p')));
    assert_eq!(m.kind, None);
    assert_eq!(m.rows.len(), all);
}
