//! What a console line looks like once it is faithful: Jenkins console notes removed, ANSI colour
//! turned into styled runs (or dropped), other escape sequences and control bytes removed, bytes
//! that are not UTF-8 replaced. Nothing here can fail on what a server sends.

/// The colours an SGR sequence can name: the 16 basic ones, the 256-colour palette, or RGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnsiColor {
    Indexed(u8),
    Rgb(u8, u8, u8),
}

/// The style of a run of text, as the log's SGR sequences set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnsiStyle {
    pub fg: Option<AnsiColor>,
    pub bg: Option<AnsiColor>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
}

/// One run of text in one style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub style: AnsiStyle,
}

/// A line ready to show: its runs, and the plain text (the runs joined) for matching and copying.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanLine {
    pub runs: Vec<Run>,
    pub text: String,
}

const ESC: u8 = 0x1b;
const TAB_WIDTH: usize = 8;
/// Longer lines are cut for display: nobody reads past this, and it bounds the work per line.
pub const MAX_SHOWN: usize = 4096;

/// Does this raw line need more than a lossy UTF-8 conversion?
pub fn needs_cleaning(raw: &[u8]) -> bool {
    raw.iter()
        .any(|&b| b == ESC || b == b'\r' || b == b'\t' || (b < 0x20 && b != b'\n'))
}

/// The visible bytes of a raw line (no trailing newline), for rules and search: notes, escape
/// sequences and carriage-return overwrites removed. Borrowed when there is nothing to remove.
pub fn visible(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !needs_cleaning(raw) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    walk(raw, |piece| match piece {
        Piece::Text(t) => out.extend_from_slice(t),
        Piece::Tab => out.push(b'\t'),
        Piece::Sgr(_) => {}
        Piece::CarriageReturn => out.clear(),
    });
    std::borrow::Cow::Owned(out)
}

/// Clean a raw line (without its newline) for display: styled runs, tabs expanded.
pub fn clean(raw: &[u8]) -> CleanLine {
    let raw = &raw[..raw.len().min(MAX_SHOWN * 4)];
    let mut line = CleanLine::default();
    let mut style = AnsiStyle::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut width = 0usize;
    let flush = |pending: &mut Vec<u8>, style: AnsiStyle, line: &mut CleanLine, width: &mut usize| {
        if pending.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(pending).into_owned();
        pending.clear();
        *width += text.chars().count();
        line.text.push_str(&text);
        match line.runs.last_mut() {
            Some(last) if last.style == style => last.text.push_str(&text),
            _ => line.runs.push(Run { text, style }),
        }
    };
    walk(raw, |piece| match piece {
        Piece::Text(t) => pending.extend_from_slice(t),
        Piece::Tab => {
            let col = width + String::from_utf8_lossy(&pending).chars().count();
            let spaces = TAB_WIDTH - col % TAB_WIDTH;
            pending.extend(std::iter::repeat_n(b' ', spaces));
        }
        Piece::Sgr(params) => {
            flush(&mut pending, style, &mut line, &mut width);
            apply_sgr(&mut style, params);
        }
        Piece::CarriageReturn => {
            // A progress bar redraws its line: show what the terminal would, the last redraw.
            pending.clear();
            line = CleanLine::default();
            width = 0;
        }
    });
    flush(&mut pending, style, &mut line, &mut width);
    if line.text.chars().count() > MAX_SHOWN {
        truncate(&mut line, MAX_SHOWN);
    }
    line
}

enum Piece<'a> {
    Text(&'a [u8]),
    Tab,
    Sgr(&'a [u8]),
    CarriageReturn,
}

/// Split a raw line into text, tabs, SGR parameter lists and carriage returns, dropping console
/// notes, other escape sequences and control bytes.
fn walk<'a>(raw: &'a [u8], mut emit: impl FnMut(Piece<'a>)) {
    let mut i = 0;
    let mut start = 0;
    // A `\r` right before the end of the line is a CRLF ending, not an overwrite.
    let end = if raw.last() == Some(&b'\r') {
        raw.len() - 1
    } else {
        raw.len()
    };
    let raw = &raw[..end];
    while i < raw.len() {
        let b = raw[i];
        if b == ESC || b == b'\t' || b == b'\r' || b < 0x20 || b == 0x7f {
            if start < i {
                emit(Piece::Text(&raw[start..i]));
            }
            i = match b {
                ESC => escape(raw, i, &mut emit),
                b'\t' => {
                    emit(Piece::Tab);
                    i + 1
                }
                b'\r' => {
                    emit(Piece::CarriageReturn);
                    i + 1
                }
                _ => i + 1,
            };
            start = i;
        } else {
            i += 1;
        }
    }
    if start < raw.len() {
        emit(Piece::Text(&raw[start..]));
    }
}

/// Consume the escape sequence at `i`; returns the index after it.
fn escape<'a>(raw: &'a [u8], i: usize, emit: &mut impl FnMut(Piece<'a>)) -> usize {
    // A Jenkins console note: ESC[8m, the serialized note (`ha:…`), ESC[0m. Hidden text in a
    // browser, garbage anywhere else.
    if raw[i..].starts_with(b"\x1b[8mha:") {
        return match find(&raw[i + 7..], b"\x1b[0m") {
            Some(k) => i + 7 + k + 4,
            None => raw.len(),
        };
    }
    match raw.get(i + 1) {
        Some(b'[') => {
            // CSI: parameters and intermediates, then one final byte in 0x40..=0x7e.
            let mut j = i + 2;
            while j < raw.len() && (0x20..=0x3f).contains(&raw[j]) {
                j += 1;
            }
            if j >= raw.len() {
                return raw.len();
            }
            if raw[j] == b'm' {
                emit(Piece::Sgr(&raw[i + 2..j]));
            }
            j + 1
        }
        Some(b']') => {
            // OSC (hyperlinks, titles): ends with BEL or ESC \.
            let mut j = i + 2;
            while j < raw.len() {
                if raw[j] == 0x07 {
                    return j + 1;
                }
                if raw[j] == ESC && raw.get(j + 1) == Some(&b'\\') {
                    return j + 2;
                }
                j += 1;
            }
            raw.len()
        }
        Some(_) => (i + 2).min(raw.len()),
        None => raw.len(),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn apply_sgr(style: &mut AnsiStyle, params: &[u8]) {
    let text = std::str::from_utf8(params).unwrap_or("");
    let mut codes = text.split([';', ':']).map(|p| {
        if p.is_empty() {
            0
        } else {
            p.parse::<u16>().unwrap_or(u16::MAX)
        }
    });
    // `ESC[m` is a reset.
    let mut any = false;
    while let Some(code) = codes.next() {
        any = true;
        match code {
            0 => *style = AnsiStyle::default(),
            1 => style.bold = true,
            2 => style.dim = true,
            3 => style.italic = true,
            4 => style.underline = true,
            22 => {
                style.bold = false;
                style.dim = false;
            }
            23 => style.italic = false,
            24 => style.underline = false,
            30..=37 => style.fg = Some(AnsiColor::Indexed((code - 30) as u8)),
            90..=97 => style.fg = Some(AnsiColor::Indexed((code - 90 + 8) as u8)),
            39 => style.fg = None,
            40..=47 => style.bg = Some(AnsiColor::Indexed((code - 40) as u8)),
            100..=107 => style.bg = Some(AnsiColor::Indexed((code - 100 + 8) as u8)),
            49 => style.bg = None,
            38 | 48 => {
                let color = match codes.next() {
                    Some(5) => codes.next().and_then(|n| u8::try_from(n).ok()).map(AnsiColor::Indexed),
                    Some(2) => {
                        let mut c = [0u8; 3];
                        for v in &mut c {
                            *v = codes.next().and_then(|n| u8::try_from(n).ok()).unwrap_or(0);
                        }
                        Some(AnsiColor::Rgb(c[0], c[1], c[2]))
                    }
                    _ => None,
                };
                if code == 38 {
                    style.fg = color;
                } else {
                    style.bg = color;
                }
            }
            _ => {}
        }
    }
    if !any {
        *style = AnsiStyle::default();
    }
}

fn truncate(line: &mut CleanLine, max: usize) {
    let mut left = max;
    let mut runs = Vec::new();
    for mut run in std::mem::take(&mut line.runs) {
        let n = run.text.chars().count();
        if n <= left {
            left -= n;
            runs.push(run);
        } else {
            run.text = run.text.chars().take(left).collect();
            runs.push(run);
            break;
        }
    }
    runs.push(Run {
        text: " …".into(),
        style: AnsiStyle {
            dim: true,
            ..AnsiStyle::default()
        },
    });
    line.text = runs.iter().map(|r| r.text.as_str()).collect();
    line.runs = runs;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maven_colour_becomes_runs_and_plain_text() {
        let line = clean(b"[\x1b[1;31mERROR\x1b[m] Tests run: 3, Failures: 1");
        assert_eq!(line.text, "[ERROR] Tests run: 3, Failures: 1");
        assert_eq!(line.runs.len(), 3);
        assert!(line.runs[1].style.bold);
        assert_eq!(line.runs[1].style.fg, Some(AnsiColor::Indexed(1)));
        assert_eq!(line.runs[2].style, AnsiStyle::default());
    }

    #[test]
    fn console_notes_vanish() {
        let raw = b"\x1b[8mha:////4GZ2l3rV0hYAAAA=\x1b[0m[Pipeline] sh";
        assert_eq!(clean(raw).text, "[Pipeline] sh");
        assert_eq!(&*visible(raw), b"[Pipeline] sh");
    }

    #[test]
    fn broken_bytes_and_odd_controls_never_show_as_garbage() {
        let line = clean(b"caf\xe9 \x07bell\x1b[2Kcleared\x1b]8;;http://x\x07link\x1b]8;;\x07");
        assert_eq!(line.text, "caf\u{fffd} bellclearedlink");
        // An escape cut off at the end of the line is dropped, not printed.
        assert_eq!(clean(b"tail\x1b[1;3").text, "tail");
        assert_eq!(clean(b"note\x1b[8mha:AAAA").text, "note");
    }

    #[test]
    fn carriage_return_keeps_the_last_redraw_and_crlf_is_an_ending() {
        assert_eq!(clean(b"10%\r50%\r100% done").text, "100% done");
        assert_eq!(clean(b"windows line\r").text, "windows line");
    }

    #[test]
    fn tabs_expand_to_columns() {
        assert_eq!(clean(b"\tat x").text, "        at x");
        assert_eq!(clean(b"ab\tc").text, "ab      c");
    }
}
