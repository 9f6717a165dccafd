//! Every screen of the dashboard rendered into ratatui's `TestBackend` at 80x24 and 160x48,
//! compared with stored snapshots.

#![cfg(feature = "tui")]

mod top;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use taskscope::view::{Model, Msg, Settings, format::Glyphs};

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
