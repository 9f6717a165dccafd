//! Numbers, durations and names as the screens and the plain summary print them.

use super::style::Glyphs;

/// A duration in seconds, compact: `850ns`, `12.3µs`, `4.56ms`, `1.23s`, `2m03s`.
pub(crate) fn seconds(value: f64, glyphs: &Glyphs) -> String {
    crate::words::text::duration(value, glyphs.micro)
}

/// An optional duration, `-` when absent.
pub(crate) fn opt_seconds(value: Option<f64>, glyphs: &Glyphs) -> String {
    value.map_or_else(|| "-".into(), |v| seconds(v, glyphs))
}

/// A rate or count, compact: `0.50`, `35.0`, `1.2k`, `3.4M`.
pub(crate) fn rate(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v == 0.0 {
        "0".into()
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 1000.0 {
        format!("{v:.1}")
    } else if v < 1e6 {
        format!("{:.1}k", v / 1e3)
    } else if v < 1e9 {
        format!("{:.1}M", v / 1e6)
    } else {
        format!("{:.1}G", v / 1e9)
    }
}

/// A whole count, compact past five digits.
pub(crate) fn count(v: u64) -> String {
    if v < 100_000 {
        v.to_string()
    } else {
        rate(v as f64)
    }
}

/// A percentage with one decimal, `-` when absent.
pub(crate) fn percent(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if (99.95..100.0).contains(&v) => "99.9".into(),
        Some(v) => format!("{v:.1}"),
    }
}

/// A window length: `10s`, `1m`, `1h`.
pub(crate) fn window(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        if s.is_multiple_of(60) {
            format!("{}m", s / 60)
        } else {
            format!("{}m{:02}s", s / 60, s % 60)
        }
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// `text` cut to at most `width` characters where it loses least: a module-qualified name
/// keeps its last segment (the function) whole and as much of its start as fits
/// (`my_app::or…::charge_card`); a segment longer than the width loses its middle, keeping
/// more of its end (`charge…d_with_retries`). Names that differ anywhere in their last
/// segment stay apart.
pub(crate) fn fit(text: &str, width: usize, glyphs: &Glyphs) -> String {
    let len = text.chars().count();
    if len <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let last = text
        .rfind("::")
        .map(|i| i + 2)
        .or_else(|| text.rfind(['/', '.']).map(|i| i + 1))
        .map_or(text, |i| &text[i..]);
    let last_len = last.chars().count();
    if last_len < width {
        let mut out: String = text.chars().take(width - 1 - last_len).collect();
        out.push(glyphs.ellipsis);
        out.push_str(last);
        return out;
    }
    let keep = width - 1;
    let head = keep / 3;
    let tail = keep - head;
    let mut out: String = last.chars().take(head).collect();
    out.push(glyphs.ellipsis);
    out.extend(last.chars().skip(last_len - tail));
    out
}

/// A percentile, marked approximate when it came from coarse buckets.
pub(crate) fn percentile(value: Option<f64>, coarse: bool, glyphs: &Glyphs) -> String {
    let text = opt_seconds(value, glyphs);
    if coarse && value.is_some() {
        format!("{}{text}", glyphs.approx)
    } else {
        text
    }
}

/// Prose cut to at most `width` characters at its end (a reason, a message).
pub(crate) fn clip(text: &str, width: usize, glyphs: &Glyphs) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push(glyphs.ellipsis);
    }
    out
}

/// Text from a sender with every control character (C0 and C1, so escape sequences too)
/// and every bidirectional override or isolate replaced, so nothing a sender writes can move
/// the cursor, recolour the screen, or reorder what is shown around it.
pub(crate) fn sanitize(text: &str) -> String {
    crate::words::text::printable(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_three_significant_digits() {
        let g = Glyphs::UNICODE;
        assert_eq!(seconds(850e-9, &g), "850ns");
        assert_eq!(seconds(12.34e-6, &g), "12.3µs");
        assert_eq!(seconds(4.567e-3, &g), "4.57ms");
        assert_eq!(seconds(1.234, &g), "1.23s");
        assert_eq!(seconds(123.0, &g), "2m03s");
        assert_eq!(seconds(12.34e-6, &Glyphs::ASCII), "12.3us");
    }

    #[test]
    fn control_characters_never_reach_the_screen() {
        assert_eq!(sanitize("a\x1b[2Jb\n"), "a\u{FFFD}[2Jb\u{FFFD}");
        assert_eq!(
            sanitize("\u{9b}31m\u{202e}x\u{2066}"),
            "\u{FFFD}31m\u{FFFD}x\u{FFFD}"
        );
    }

    #[test]
    fn long_names_keep_their_function_and_lose_their_middle() {
        let g = Glyphs::UNICODE;
        let name = "my_app::orders::payments::providers::charge_card_with_retries";
        let cut = fit(name, 34, &g);
        assert_eq!(cut.chars().count(), 34);
        assert_eq!(cut, "my_app::o…charge_card_with_retries");
        // A last segment longer than the width loses its middle.
        let a = fit(name, 20, &g);
        assert_eq!(a, "charge…_with_retries");
        let b = fit("my_app::orders::refund_card_with_retries", 20, &g);
        assert_eq!(b, "refund…_with_retries");
        assert_eq!(fit("short", 30, &g), "short");
        assert_eq!(fit("/api/v1/users/{id}/orders", 12, &g), "/api/…orders");
        assert_eq!(fit(name, 1, &Glyphs::ASCII), "~");
        assert_eq!(fit(name, 0, &g), "");
    }

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(Glyphs::ASCII.sparkline(&[0, 1, 2, 4]), " ,~#");
    }
}
