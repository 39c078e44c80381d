//! Compact human formats for narrow columns.

use chrono::{DateTime, Utc};

/// "12s", "4m", "3h", "2d".
pub fn age(from_ms: i64, now: DateTime<Utc>) -> String {
    let secs = ((now.timestamp_millis() - from_ms) / 1000).max(0);
    short_secs(secs)
}

pub fn short_secs(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// "1m05s", "42s", "2h03m".
pub fn duration(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Cut to `width` display columns with an ellipsis.
pub fn fit(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Pad or cut to exactly `width` columns.
pub fn pad(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    let t = fit(text, width);
    let w = t.width();
    format!("{t}{}", " ".repeat(width.saturating_sub(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration(65_000), "1m05s");
        assert_eq!(short_secs(7200), "2h");
        assert_eq!(fit("payments-api", 8), "payment…");
        assert_eq!(pad("ab", 4), "ab  ");
    }
}
