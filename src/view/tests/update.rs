//! `Model::update` driven by synthetic key events: sort, filter, pause, window, detail,
//! back, help, problems, export and quit.

use super::fixtures as top;
use crate::view::model::{Column, Effect, Model, Msg, Screen};
use crate::view::rows::Window;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn press(m: &mut Model, code: KeyCode) -> Effect {
    m.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(m: &mut Model, c: char) -> Effect {
    m.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

fn names(m: &Model) -> Vec<String> {
    m.rows
        .iter()
        .map(|r| r.series.function.to_string())
        .collect()
}

fn typed(m: &mut Model, text: &str) {
    for c in text.chars() {
        press(m, KeyCode::Char(c));
    }
}

#[test]
fn sorting_moves_between_columns_and_inverts() {
    let mut m = top::model(10);
    assert_eq!(m.sort, Column::Rate);
    assert_eq!(names(&m)[0], "load_user", "busiest first");
    // Right to ok%: ascending, the least healthy first.
    press(&mut m, KeyCode::Char('l'));
    assert_eq!(m.sort, Column::Ok);
    assert_eq!(names(&m)[0], "place_order");
    // Right again: errors, most first.
    press(&mut m, KeyCode::Right);
    assert_eq!(m.sort, Column::Errors);
    assert_eq!(names(&m)[0], "place_order");
    press(&mut m, KeyCode::Char('i'));
    assert_eq!(names(&m)[0], "render_invoice", "no errors, then by name");
    // Left twice goes back to calls/s; from the first column, left wraps to the last.
    press(&mut m, KeyCode::Char('h'));
    press(&mut m, KeyCode::Left);
    assert_eq!(m.sort, Column::Rate);
    press(&mut m, KeyCode::Left);
    press(&mut m, KeyCode::Left);
    assert_eq!(m.sort, Column::SlowPolls);
    assert_eq!(names(&m)[0], "render_invoice");
}

#[test]
fn selection_follows_the_function_when_the_order_changes() {
    let mut m = top::model(10);
    press(&mut m, KeyCode::Char('j'));
    let chosen = names(&m)[m.selected].clone();
    press(&mut m, KeyCode::Char('i'));
    assert_eq!(names(&m)[m.selected], chosen);
    press(&mut m, KeyCode::Char('G'));
    assert_eq!(m.selected, m.rows.len() - 1);
    press(&mut m, KeyCode::Char('g'));
    assert_eq!(m.selected, 0);
    press(&mut m, KeyCode::Up);
    assert_eq!(m.selected, 0, "stays at the top");
    press(&mut m, KeyCode::PageDown);
    assert_eq!(m.selected, m.rows.len() - 1, "a page is more than the rows");
}

#[test]
fn filter_applies_on_enter_cancels_on_esc_and_clears_on_a_second_esc() {
    let mut m = top::model(10);
    press(&mut m, KeyCode::Char('/'));
    typed(&mut m, "PLACE");
    assert_eq!(m.rows.len(), 4, "not applied while typing");
    // Keys typed into the prompt are text, not commands.
    assert_eq!(press(&mut m, KeyCode::Char('q')), Effect::None);
    press(&mut m, KeyCode::Backspace);
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.filter, "PLACE");
    assert_eq!(names(&m), ["place_order"]);
    // A new edit cancelled with Esc keeps the applied filter.
    press(&mut m, KeyCode::Char('/'));
    typed(&mut m, "xyz");
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.editing, None);
    assert_eq!(names(&m), ["place_order"]);
    // The module matches too.
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.filter, "");
    assert_eq!(m.rows.len(), 4);
    press(&mut m, KeyCode::Char('/'));
    typed(&mut m, "shop::");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.rows.len(), 4);
}

#[test]
fn pause_freezes_the_numbers_until_resumed() {
    let mut m = top::model(10);
    let calls = m.rows[0].total();
    press(&mut m, KeyCode::Char(' '));
    assert!(m.paused);
    m.update(Msg::Frame(top::frame(11)));
    m.update(Msg::Frame(top::frame(12)));
    assert_eq!(m.rows[0].total(), calls);
    press(&mut m, KeyCode::Char(' '));
    m.update(Msg::Frame(top::frame(13)));
    assert!(m.rows[0].total() > calls);
}

#[test]
fn windows_step_through_and_reset() {
    let mut m = top::model(30);
    assert_eq!(m.window, Window::OneMinute);
    press(&mut m, KeyCode::Char('-'));
    assert_eq!(m.window, Window::TenSeconds);
    // 10 s of load_user at 303 calls/s.
    assert_eq!(m.rows[0].total(), 3030);
    assert!((m.rows[0].rate - 303.0).abs() < 1e-9);
    press(&mut m, KeyCode::Char('-'));
    assert_eq!(m.window, Window::TenSeconds);
    for _ in 0..6 {
        press(&mut m, KeyCode::Char('+'));
    }
    assert_eq!(m.window, Window::All);
    assert_eq!(m.rows[0].total(), 303 * 29, "since the first frame");
    press(&mut m, KeyCode::Char('='));
    assert_eq!(m.window, Window::OneMinute);
}

#[test]
fn detail_opens_on_enter_and_esc_goes_back_never_quits() {
    let mut m = top::model(10);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Enter);
    let Screen::Detail(_, function, _) = &m.screen else {
        panic!("not on the detail screen")
    };
    assert_eq!(&**function, "place_order");
    assert_eq!(
        m.detail_row().unwrap().series.function.as_ref(),
        "place_order"
    );
    // The detail follows its function across frames and re-sorts.
    m.update(Msg::Frame(top::frame(11)));
    press(&mut m, KeyCode::Char('i'));
    assert_eq!(
        m.detail_row().unwrap().series.function.as_ref(),
        "place_order"
    );
    assert_eq!(press(&mut m, KeyCode::Esc), Effect::None);
    assert_eq!(m.screen, Screen::List);
    assert_eq!(press(&mut m, KeyCode::Esc), Effect::None);
}

#[test]
fn help_toggles_and_swallows_other_keys() {
    let mut m = top::model(10);
    press(&mut m, KeyCode::Char('?'));
    assert!(m.help);
    press(&mut m, KeyCode::Char('i'));
    assert!(m.descending, "keys under the help do nothing");
    press(&mut m, KeyCode::Esc);
    assert!(!m.help);
    press(&mut m, KeyCode::Char('?'));
    press(&mut m, KeyCode::Char('?'));
    assert!(!m.help);
}

#[test]
fn problems_shows_only_functions_with_warnings() {
    let mut m = top::model(10);
    press(&mut m, KeyCode::Char('!'));
    let mut shown = names(&m);
    shown.sort();
    assert_eq!(shown, ["place_order", "render_invoice", "wait_for_stock"]);
    press(&mut m, KeyCode::Char('!'));
    assert_eq!(m.rows.len(), 4);
}

#[test]
fn export_is_an_effect_and_its_result_flashes_in_the_header() {
    let mut m = top::model(10);
    assert_eq!(ctrl(&mut m, 's'), Effect::Export);
    m.update(Msg::Exported(Ok(vec!["a.csv".into(), "a.json".into()])));
    assert!(top::render(&m, 160, 48).contains("wrote a.csv, a.json"));
    for t in 11..=15 {
        m.update(Msg::Frame(top::frame(t)));
    }
    assert!(m.flash.is_none(), "the flash fades after a few frames");
    let dir = std::env::temp_dir().join(format!("taskscope-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = crate::view::run::export(&m, &dir).unwrap();
    let csv = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("checkout,load_user,shop::orders,")
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    assert_eq!(json["functions"].as_array().unwrap().len(), 4);
    assert_eq!(json["functions"][1]["error_kinds"][0]["kind"], "OutOfStock");
    // Only the function measured with `scheduling` has its waits, and they add up.
    let waits = &json["functions"][1]["scheduling_seconds"];
    assert!(
        (waits["p50"].as_f64().unwrap() - 0.0002).abs() < 0.00001,
        "{waits}"
    );
    assert!(
        (waits["max"].as_f64().unwrap() - 0.004).abs() < 0.0001,
        "{waits}"
    );
    assert!(json["functions"][0].get("scheduling_seconds").is_none());
    #[cfg(feature = "hdrhistogram")]
    interval_log_reads_back(&m, &files);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ctrl-S's third file: the latencies as an HdrHistogram interval log, read back with the
/// crate's own reader.
#[cfg(feature = "hdrhistogram")]
fn interval_log_reads_back(m: &Model, files: &[String]) {
    assert!(files[2].ends_with(".hlog"), "{files:?}");
    let log = std::fs::read(&files[2]).unwrap();
    let mut de = hdrhistogram::serialization::Deserializer::new();
    let (mut tags, mut timed) = (Vec::new(), 0);
    for entry in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&log) {
        let hdrhistogram::serialization::interval_log::LogEntry::Interval(i) = entry.unwrap()
        else {
            continue;
        };
        let tag = i.tag().unwrap().as_str().to_owned();
        let row = m
            .rows
            .iter()
            .find(|r| {
                tag == format!(
                    "{}/{}::{}",
                    r.series.service, r.series.module, r.series.function
                )
            })
            .unwrap_or_else(|| panic!("{tag}"));
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            i.encoded_histogram(),
        )
        .unwrap();
        let h: hdrhistogram::Histogram<u64> = de.deserialize(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.len(), row.latency.count(), "{tag}");
        if let Some(p99) = row.latency.quantile(0.99) {
            let p99 = p99 * 1e9;
            let rel = (h.value_at_quantile(0.99) as f64 - p99).abs() / p99;
            assert!(
                rel < 0.02,
                "{tag}: p99 {} vs {p99}",
                h.value_at_quantile(0.99)
            );
            timed += 1;
        }
        tags.push(tag);
    }
    assert_eq!(tags.len(), 4, "{tags:?}");
    assert!(timed >= 3, "functions with calls in the window: {timed}");
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut m = top::model(3);
    assert_eq!(press(&mut m, KeyCode::Char('q')), Effect::Quit);
    assert_eq!(ctrl(&mut m, 'c'), Effect::Quit);
    // Even from the filter prompt, Ctrl-C quits.
    press(&mut m, KeyCode::Char('/'));
    assert_eq!(ctrl(&mut m, 'c'), Effect::Quit);
}

#[test]
fn a_counter_reset_never_makes_a_negative_rate() {
    // A source that restarted (cumulative counts went down) gives zero, not a negative
    // or wrapped number.
    let mut m = top::model(10);
    m.update(Msg::Frame(top::frame(2)));
    assert!(
        m.rows
            .iter()
            .all(|r| r.rate >= 0.0 && r.total() < 1_000_000)
    );
}

#[test]
fn rows_are_grouped_by_service_whatever_the_sort() {
    use std::sync::Arc;
    let mut m = Model::new(top::settings());
    for t in 1..=5 {
        let mut f = top::frame(t);
        let others: Vec<_> = f
            .series
            .iter()
            .map(|s| {
                let mut s = (**s).clone();
                s.service = "billing".into();
                s.calls = s.calls.map(|c| c * 2);
                Arc::new(s)
            })
            .collect();
        f.series.extend(others);
        f.status.services = 2;
        m.update(Msg::Frame(f));
    }
    let services: Vec<&str> = m.rows.iter().map(|r| &*r.series.service).collect();
    assert_eq!(
        services,
        ["billing"; 4]
            .iter()
            .chain(&["checkout"; 4])
            .copied()
            .collect::<Vec<_>>()
    );
    assert_eq!(names(&m)[0], "load_user", "busiest of billing first");
    assert!(top::render(&m, 160, 48).contains("billing > load_user"));
}

#[test]
fn series_over_the_cap_are_a_warning() {
    let mut m = Model::new(top::settings());
    let mut f = top::frame(1);
    f.status.overflow = 12;
    m.update(Msg::Frame(f));
    let screen = top::render(&m, 160, 48);
    assert!(
        screen.contains("12 data points over the series cap"),
        "{screen}"
    );
    assert!(screen.contains("overflow 12"), "{screen}");
}
