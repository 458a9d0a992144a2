//! Text from a broker or another client, made safe to print.
//!
//! Host names, racks, cluster ids, group, member, client and instance ids,
//! protocol names and topic names in answers are whatever a broker (or a
//! client that joined a group) chose to send. Printed as they are, a
//! hostile one could drive the terminal (ESC sequences that recolour,
//! move the cursor or retitle the window, BEL, backspace and CR that
//! overwrite what was printed) or reorder what the user reads (Unicode
//! bidi overrides, invisible characters). [`printable`] shows every such
//! character as a visible escape instead: `\n`, `\r`, `\t`, `\x1b` for
//! other ASCII, `\u{202e}` beyond.
//!
//! A backslash stays as it is: a name may spell out `\x1b` to mislead a
//! reader, but no text can reach the terminal as a control character.
//!
//! Record keys, values and headers in `consume` output are not text but
//! data, printed byte for byte as kcat prints them (see [`crate::format`]).

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every unprintable character shown as an escape; borrowed
/// when there is none (almost always).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unprintable) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if !unprintable(c) => out.push(c),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// `message` on one line (line breaks become spaces: an error's own text
/// may have them), everything else unprintable escaped as [`printable`]
/// does: errors quote brokers too (a SASL error message, a group's
/// answer).
pub fn one_line(message: &str) -> String {
    printable(&message.replace(['\r', '\n'], " ")).into_owned()
}

/// Prints a warning on stderr as one line, escaped as errors are: the
/// errors it reports may quote a broker.
pub fn warn(message: &str) {
    eprintln!("kafkite: warning: {}", one_line(message));
}

/// Whether `c` must not reach the terminal as it is: what Rust's own
/// `Debug` escaping deems unprintable (control characters, format
/// characters such as the bidi overrides and zero-width ones, line and
/// paragraph separators, spaces other than U+0020, private use and
/// unassigned code points).
///
/// Asked of `str::escape_debug` for the character after a letter: there
/// a combining mark is left alone (it is text, joined to the letter),
/// while an unprintable character comes out escaped. Quotes, which that
/// escapes too, are printable.
fn unprintable(c: char) -> bool {
    if matches!(c, '"' | '\'' | '\\') {
        return false;
    }
    let mut buf = [0u8; 5];
    buf[0] = b'a';
    let len = 1 + c.encode_utf8(&mut buf[1..]).len();
    // Always UTF-8: a letter and an encoded char. Unprintable if not.
    std::str::from_utf8(&buf[..len]).map_or(true, |pair| pair.escape_debug().nth(1) == Some('\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_as_escapes() {
        assert_eq!(
            printable("a\u{1b}[31mred\u{7}\u{8}\r\n\t\0\u{7f}z"),
            "a\\x1b[31mred\\x07\\x08\\r\\n\\t\\x00\\x7fz"
        );
        // C1 controls: U+009B is a one-character CSI on some terminals.
        assert_eq!(printable("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
    }

    #[test]
    fn bidi_overrides_and_invisible_characters_are_shown_as_escapes() {
        for c in ('\u{202a}'..='\u{202e}').chain('\u{2066}'..='\u{2069}') {
            assert_eq!(
                printable(&format!("x{c}y")),
                format!("x\\u{{{:x}}}y", u32::from(c))
            );
        }
        assert_eq!(
            printable("\u{200e}\u{200f}\u{61c}\u{200b}\u{2060}\u{feff}\u{2028}\u{a0}"),
            "\\u{200e}\\u{200f}\\u{61c}\\u{200b}\\u{2060}\\u{feff}\\u{2028}\\u{a0}"
        );
    }

    #[test]
    fn printable_text_is_left_as_it_is_and_borrowed() {
        for text in [
            "broker-1.example.com:9092",
            "consumer-group_7 \"quoted\" 'single' back\\slash",
            "caf\u{e9} cafe\u{301} \u{4e2d}\u{6587} \u{1f600}",
            "",
        ] {
            assert!(
                matches!(printable(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn errors_are_one_line_without_control_characters() {
        let hostile = "SCRAM-SHA-512 authentication failed: bad\n\u{1b}[31mred\u{7}\u{202e}";
        assert_eq!(
            one_line(hostile),
            "SCRAM-SHA-512 authentication failed: bad \\x1b[31mred\\x07\\u{202e}"
        );
    }
}
