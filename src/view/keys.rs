//! The key map: one table that drives input handling, the hint line and the `?` help, so
//! the help can never drift from what the keys do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Leave the dashboard.
    Quit,
    /// Show or hide the help overlay.
    Help,
    /// Start editing the filter.
    Filter,
    /// Select the row above.
    Up,
    /// Select the row below.
    Down,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// The first row.
    Top,
    /// The last row.
    Bottom,
    /// Sort by the column to the left.
    SortLeft,
    /// Sort by the column to the right.
    SortRight,
    /// Invert the sort order.
    Invert,
    /// Open the selected function's detail.
    Detail,
    /// Close the help, the detail, or clear the filter.
    Back,
    /// Freeze or resume the numbers.
    Pause,
    /// A longer time window.
    WindowLonger,
    /// A shorter time window.
    WindowShorter,
    /// The default time window.
    WindowReset,
    /// Write the visible table (CSV), the snapshot (JSON) and, with the cargo feature
    /// `hdrhistogram`, the latencies as an HdrHistogram interval log.
    Export,
    /// Show only functions with a warning.
    Problems,
    /// The runtime screen, or back from it.
    Runtime,
    /// Redraw the whole screen.
    Redraw,
    /// Show or hide tokio-console's tasks.
    Tasks,
    /// The call graph screen, or back from it.
    CallGraph,
    /// Show the next kind only: functions, retries, semaphores, channels, ...
    Kind,
    /// A replay: play faster.
    Faster,
    /// A replay: play slower.
    Slower,
    /// A replay: one step (also while paused).
    Step,
    /// A replay: jump forward.
    JumpForward,
    /// A replay: jump back.
    JumpBack,
}

/// A key, with the modifiers it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    /// The key.
    pub(crate) code: KeyCode,
    /// Whether Ctrl must be held.
    pub(crate) ctrl: bool,
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}
const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

/// One line of the key map.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Binding {
    /// The keys that trigger the action.
    pub(crate) keys: &'static [Key],
    /// How the help writes the keys.
    pub(crate) label: &'static str,
    /// What the action does, for the help.
    pub(crate) help: &'static str,
    /// The short word on the hint line, if the binding is shown there.
    pub(crate) hint: Option<&'static str>,
    /// The action.
    pub(crate) action: Action,
    /// Whether it acts on a replayed recording only (the help lists it then).
    pub(crate) replay: bool,
}

/// What Ctrl-S writes, as the help says it.
#[cfg(feature = "hdrhistogram")]
const EXPORT_HELP: &str = "export table (CSV), snapshot (JSON), latencies (.hlog)";
#[cfg(not(feature = "hdrhistogram"))]
const EXPORT_HELP: &str = "export the visible table (CSV) and the snapshot (JSON)";

/// The key map. Order is the order of the help and the hint line.
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[ch('q'), ctrl('c')],
        label: "q, Ctrl-C",
        help: "quit",
        hint: Some("quit"),
        action: Action::Quit,
        replay: false,
    },
    Binding {
        keys: &[ch('?')],
        label: "?",
        help: "help (Esc closes)",
        hint: Some("help"),
        action: Action::Help,
        replay: false,
    },
    Binding {
        keys: &[ch('/')],
        label: "/",
        help: "filter: Enter applies, Esc cancels, a second Esc clears",
        hint: Some("filter"),
        action: Action::Filter,
        replay: false,
    },
    Binding {
        keys: &[ch('k'), code(KeyCode::Up)],
        label: "k, Up",
        help: "select the row above",
        hint: None,
        action: Action::Up,
        replay: false,
    },
    Binding {
        keys: &[ch('j'), code(KeyCode::Down)],
        label: "j, Down",
        help: "select the row below",
        hint: None,
        action: Action::Down,
        replay: false,
    },
    Binding {
        keys: &[code(KeyCode::PageUp)],
        label: "PgUp",
        help: "one page up",
        hint: None,
        action: Action::PageUp,
        replay: false,
    },
    Binding {
        keys: &[code(KeyCode::PageDown)],
        label: "PgDn",
        help: "one page down",
        hint: None,
        action: Action::PageDown,
        replay: false,
    },
    Binding {
        keys: &[ch('g'), code(KeyCode::Home)],
        label: "g, Home",
        help: "first row",
        hint: None,
        action: Action::Top,
        replay: false,
    },
    Binding {
        keys: &[ch('G'), code(KeyCode::End)],
        label: "G, End",
        help: "last row",
        hint: None,
        action: Action::Bottom,
        replay: false,
    },
    Binding {
        keys: &[ch('h'), code(KeyCode::Left)],
        label: "h, Left",
        help: "sort by the column to the left",
        hint: None,
        action: Action::SortLeft,
        replay: false,
    },
    Binding {
        keys: &[ch('l'), code(KeyCode::Right)],
        label: "l, Right",
        help: "sort by the column to the right",
        hint: Some("sort"),
        action: Action::SortRight,
        replay: false,
    },
    Binding {
        keys: &[ch('i')],
        label: "i",
        help: "invert the sort order",
        hint: Some("invert"),
        action: Action::Invert,
        replay: false,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        help: "detail of the selected function",
        hint: Some("detail"),
        action: Action::Detail,
        replay: false,
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        label: "Esc",
        help: "back: close help or detail, clear the filter; never quits",
        hint: Some("back"),
        action: Action::Back,
        replay: false,
    },
    Binding {
        keys: &[ch(' ')],
        label: "Space",
        help: "pause or resume",
        hint: Some("pause"),
        action: Action::Pause,
        replay: false,
    },
    Binding {
        keys: &[ch('+')],
        label: "+",
        help: "longer window (10s, 1m, 5m, 15m, 1h, all)",
        hint: Some("window"),
        action: Action::WindowLonger,
        replay: false,
    },
    Binding {
        keys: &[ch('-')],
        label: "-",
        help: "shorter window",
        hint: None,
        action: Action::WindowShorter,
        replay: false,
    },
    Binding {
        keys: &[ch('=')],
        label: "=",
        help: "default window",
        hint: None,
        action: Action::WindowReset,
        replay: false,
    },
    Binding {
        keys: &[ctrl('s')],
        label: "Ctrl-S",
        help: EXPORT_HELP,
        hint: Some("export"),
        action: Action::Export,
        replay: false,
    },
    Binding {
        keys: &[ch('!')],
        label: "!",
        help: "only functions with a warning",
        hint: Some("problems"),
        action: Action::Problems,
        replay: false,
    },
    Binding {
        keys: &[ch('p')],
        label: "p",
        help: "one kind at a time: function, retry, semaphore, ...",
        hint: Some("kind"),
        action: Action::Kind,
        replay: false,
    },
    Binding {
        keys: &[ch('>')],
        label: ">",
        help: "replay: faster (1x, 10x, 100x, max)",
        hint: None,
        action: Action::Faster,
        replay: true,
    },
    Binding {
        keys: &[ch('<')],
        label: "<",
        help: "replay: slower",
        hint: None,
        action: Action::Slower,
        replay: true,
    },
    Binding {
        keys: &[ch('.')],
        label: ".",
        help: "replay: one step (paused too)",
        hint: None,
        action: Action::Step,
        replay: true,
    },
    Binding {
        keys: &[ch(']')],
        label: "]",
        help: "replay: jump 10 s forward",
        hint: None,
        action: Action::JumpForward,
        replay: true,
    },
    Binding {
        keys: &[ch('[')],
        label: "[",
        help: "replay: jump 10 s back",
        hint: None,
        action: Action::JumpBack,
        replay: true,
    },
    Binding {
        keys: &[ch('t')],
        label: "t",
        help: "show or hide the console's tasks (with --console)",
        hint: None,
        action: Action::Tasks,
        replay: false,
    },
    Binding {
        keys: &[ch('r')],
        label: "r",
        help: "the tokio runtimes (r again or Esc returns)",
        hint: None,
        action: Action::Runtime,
        replay: false,
    },
    Binding {
        keys: &[ch('c')],
        label: "c",
        help: "call graph: Enter opens a line, h/l total or self",
        hint: None,
        action: Action::CallGraph,
        replay: false,
    },
    Binding {
        keys: &[ctrl('l')],
        label: "Ctrl-L",
        help: "redraw the screen",
        hint: None,
        action: Action::Redraw,
        replay: false,
    },
];

/// The action bound to `event`, if any.
pub(crate) fn action_for(event: &KeyEvent) -> Option<Action> {
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    // Shift is part of the character (`G`), whatever modifiers the terminal reports.
    let code = event.code;
    KEYS.iter()
        .find(|b| b.keys.iter().any(|k| k.code == code && k.ctrl == ctrl))
        .map(|b| b.action)
}

/// The hint line: the bindings marked for it, as `key word` pairs.
pub(crate) fn hints() -> Vec<(&'static str, &'static str)> {
    KEYS.iter()
        .filter_map(|b| {
            b.hint
                .map(|h| (b.label.split(',').next().unwrap_or(b.label), h))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_action() {
        let mut seen = Vec::new();
        for b in KEYS {
            for k in b.keys {
                assert!(!seen.contains(k), "{k:?} bound twice");
                seen.push(*k);
            }
        }
    }

    #[test]
    fn ctrl_c_quits_and_esc_never_does() {
        let e = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&e), Some(Action::Quit));
        let e = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(action_for(&e), Some(Action::Back));
        let e = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(action_for(&e), Some(Action::Bottom));
    }
}
