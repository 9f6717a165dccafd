//! Text as taskscope writes it for people: durations with three significant digits, and
//! names from elsewhere made safe for a terminal. The report, the dashboard's screens and
//! its summaries share these.

/// `text` with every control character (C0 and C1, so escape sequences too) and every
/// bidirectional override or isolate replaced by U+FFFD: names made at run time (span
/// names, `name = ...`, a sender's attributes) can then never move the cursor, recolour the
/// terminal or reorder what is printed around them.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if unprintable(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// Whether `c` must never reach a terminal as it is: a control character (C0, DEL, C1) or
/// a bidirectional override or isolate.
pub(crate) fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A duration in seconds, compact, with three significant digits: `850ns`, `12.3µs`,
/// `4.56ms`, `1.23s`, `2m03s`, `1h05m`; `-` when it is not a duration. `micro` is the unit
/// for microseconds (`µs`, or `us` where only ASCII is wanted).
pub(crate) fn duration(value: f64, micro: &str) -> String {
    if !value.is_finite() || value < 0.0 {
        return "-".into();
    }
    let ns = value * 1e9;
    if ns < 1_000.0 {
        format!("{ns:.0}ns")
    } else if ns < 1e6 {
        format!("{}{micro}", three_digits(ns / 1e3))
    } else if ns < 1e9 {
        format!("{}ms", three_digits(ns / 1e6))
    } else if value < 60.0 {
        format!("{}s", three_digits(value))
    } else if value < 3600.0 {
        let m = (value / 60.0).floor();
        format!("{m:.0}m{:02.0}s", (value - m * 60.0).floor())
    } else {
        let h = (value / 3600.0).floor();
        format!("{h:.0}h{:02.0}m", ((value - h * 3600.0) / 60.0).floor())
    }
}

/// Three significant digits: `1.23`, `12.3`, `123`.
fn three_digits(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_three_significant_digits() {
        assert_eq!(duration(812e-9, "µs"), "812ns");
        assert_eq!(duration(1.25e-3, "µs"), "1.25ms");
        assert_eq!(duration(3.4, "µs"), "3.40s");
        assert_eq!(duration(125e-6, "µs"), "125µs");
        assert_eq!(duration(12.3e-6, "us"), "12.3us");
        assert_eq!(duration(123.0, "µs"), "2m03s");
        assert_eq!(duration(3900.0, "µs"), "1h05m");
        assert_eq!(duration(f64::NAN, "µs"), "-");
        assert_eq!(duration(-1.0, "µs"), "-");
    }

    #[test]
    fn nothing_that_moves_the_cursor_gets_through() {
        assert_eq!(
            printable("a\x1b[2Jb\u{202E}c\u{85}"),
            "a\u{FFFD}[2Jb\u{FFFD}c\u{FFFD}"
        );
        assert_eq!(printable("naïve ☃"), "naïve ☃");
    }
}
