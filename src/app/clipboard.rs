//! Copy to the operator's clipboard with OSC 52: the terminal (not this machine) owns the
//! clipboard, so it works over SSH. tmux passes it on with `set -g set-clipboard on`.

use std::io::Write;

use base64::Engine;

/// Most terminals refuse longer OSC 52 payloads; a copy is cut rather than lost.
const MAX_BYTES: usize = 74_994;

pub fn osc52(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(sequence(text).as_bytes())?;
    out.flush()
}

pub fn sequence(text: &str) -> String {
    let mut end = text.len().min(MAX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[..end]);
    format!("\x1b]52;c;{encoded}\x07")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sequence_carries_base64_text() {
        assert_eq!(super::sequence("at x"), "\x1b]52;c;YXQgeA==\x07");
    }
}
