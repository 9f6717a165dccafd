//! The dashboard without a terminal: the same model and screens, drawn into memory.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::model::{Effect, Model, Msg};
use super::run::{Exit, RunOptions, export};
use super::screens::draw;
use super::summary;
use crate::frame::Frame;

/// The dashboard in memory: made by [`TopBuilder::headless`](super::TopBuilder::headless)
/// with the builder's settings and source. It draws exactly what the terminal would show,
/// into a buffer of its size; the screens, the summaries and the keys are the terminal's.
///
/// ```
/// use ratatui::crossterm::event::{KeyCode, KeyEvent};
///
/// #[taskscope::measure]
/// fn checkout(items: u32) -> Result<u32, std::fmt::Error> { Ok(items * 3) }
///
/// checkout(2).unwrap();
/// let mut dashboard = taskscope::top().with_ascii(true).headless(100, 30);
/// dashboard.tick(); // reads this process's recorder
/// assert!(dashboard.screen().contains("checkout"));
/// dashboard.press(KeyEvent::from(KeyCode::Char('?')));
/// assert!(dashboard.screen().contains("keys (Esc closes)"));
/// assert!(dashboard.json().contains("\"checkout\""));
/// ```
pub struct Headless {
    model: Model,
    source: Box<dyn FnMut() -> Frame + Send>,
    options: RunOptions,
    terminal: Terminal<TestBackend>,
}

impl std::fmt::Debug for Headless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = self.terminal.backend().buffer().area;
        f.debug_struct("Headless")
            .field("width", &size.width)
            .field("height", &size.height)
            .field("rows", &self.model.rows.len())
            .finish_non_exhaustive()
    }
}

impl Headless {
    pub(crate) fn new(
        model: Model,
        source: Box<dyn FnMut() -> Frame + Send>,
        options: RunOptions,
        width: u16,
        height: u16,
    ) -> Headless {
        let mut h = Headless {
            model,
            source,
            options,
            terminal: Terminal::new(TestBackend::new(width, height))
                .expect("a test backend needs no terminal"),
        };
        h.model.update(Msg::Resize(height));
        h
    }

    /// Reads a frame from the source (this process's recorder, or the receiver), as each
    /// refresh of the terminal does.
    pub fn tick(&mut self) {
        let frame = (self.source)();
        self.push(frame);
    }

    /// Takes a frame from elsewhere, as if the source had made it.
    pub fn push(&mut self, frame: Frame) {
        self.model.update(Msg::Frame(frame));
    }

    /// Presses a key. Ctrl-S writes its files as on the terminal. `Some` when the key ends
    /// the dashboard (`q`, Ctrl-C).
    pub fn press(&mut self, key: KeyEvent) -> Option<Exit> {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match self.model.update(Msg::Key(key)) {
            Effect::Quit if ctrl_c => Some(Exit::Interrupted),
            Effect::Quit => Some(Exit::Quit),
            Effect::Export => {
                let written = export(&self.model, &self.options.export_dir);
                self.model.update(Msg::Exported(written));
                None
            }
            #[cfg(feature = "receiver")]
            Effect::Replay(command) => {
                if let Some(frame) = super::run::replay_command(&self.options, command) {
                    self.model.update(Msg::Frame(frame));
                }
                None
            }
            #[cfg(not(feature = "receiver"))]
            Effect::Replay(_) => None,
            Effect::None | Effect::Redraw => None,
        }
    }

    /// Changes the size the screens are drawn at.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.terminal.backend_mut().resize(width, height);
        self.model.update(Msg::Resize(height));
    }

    /// Draws the screen as it is now and gives its cells, with their styles.
    pub fn draw(&mut self) -> &Buffer {
        let model = &self.model;
        // Drawing into memory cannot fail.
        let _ = self.terminal.draw(|f| draw(f, model));
        self.terminal.backend().buffer()
    }

    /// Draws the screen and gives it as text: one line per row, without trailing spaces.
    pub fn screen(&mut self) -> String {
        let buffer = self.draw();
        let area = buffer.area;
        let mut out = String::new();
        for y in 0..area.height {
            let mut line = String::new();
            for x in 0..area.width {
                line.push_str(buffer[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The summary table the plain mode prints, for the window shown.
    pub fn table(&self) -> String {
        summary::table(&self.model)
    }

    /// The rows shown, as CSV (what Ctrl-S writes).
    pub fn csv(&self) -> String {
        summary::csv(&self.model.rows)
    }

    /// The summary as one JSON object (what `--json` prints, and Ctrl-S writes).
    pub fn json(&self) -> String {
        summary::json(&self.model)
    }
}
