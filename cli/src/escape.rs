//! Backslash escapes as kcat reads them in `-f` formats and `-K`
//! delimiters, so a format or delimiter written for kcat means the same
//! bytes here.
//!
//! What kcat 1.7 does, observed: `\n`, `\r` and `\t` are the control
//! characters; `\xHH..` is a hexadecimal byte (every hex digit that
//! follows is read, and the value is cut to its low byte; with no digit
//! the escape stands for nothing); a backslash and a digit start a number
//! read as C's `strtol` with base 0 does (`0x41` hex, `065` octal, `65`
//! decimal), also cut to its low byte; any other escaped character stands
//! for itself, and a lone backslash at the end is kept.

/// Decodes one escape. `rest` starts just after the backslash; returns the
/// bytes it stands for (none, or one) and how many bytes of `rest` it used.
pub fn decode_escape(rest: &[u8]) -> (Option<u8>, usize) {
    let Some(&first) = rest.first() else {
        return (Some(b'\\'), 0);
    };
    match first {
        b'n' => (Some(b'\n'), 1),
        b'r' => (Some(b'\r'), 1),
        b't' => (Some(b'\t'), 1),
        b'x' => {
            let (value, used) = parse_radix(&rest[1..], 16);
            (value, 1 + used)
        }
        b'0'..=b'9' => {
            let (value, used) = parse_c_number(rest);
            (value, used)
        }
        other => (Some(other), 1),
    }
}

/// Decodes every escape in `text` (for `-K` delimiters, which have no `%`
/// tokens).
pub fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let (byte, used) = decode_escape(&bytes[i + 1..]);
            out.extend(byte);
            i += 1 + used;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A number in base 0 (`strtol`'s rule): `0x` then hex, `0` then octal,
/// else decimal. `text` starts with a digit.
fn parse_c_number(text: &[u8]) -> (Option<u8>, usize) {
    match text {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => {
            let (value, used) = parse_radix(&text[2..], 16);
            (value, 2 + used)
        }
        [b'0', ..] => parse_radix(text, 8),
        _ => parse_radix(text, 10),
    }
}

/// Reads every digit of `radix` at the start of `text` (hex may carry a
/// `0x` prefix, as `strtol` allows). The value saturates, as `strtol`'s
/// does, and is cut to its low byte, as kcat's cast to `char` does.
fn parse_radix(text: &[u8], radix: u32) -> (Option<u8>, usize) {
    let mut start = 0;
    if radix == 16 {
        if let [b'0', b'x' | b'X', next, ..] = text {
            if next.is_ascii_hexdigit() {
                start = 2;
            }
        }
    }
    let mut value: u64 = 0;
    let mut used = start;
    for &b in &text[start..] {
        let Some(digit) = (b as char).to_digit(radix) else {
            break;
        };
        value = value
            .saturating_mul(u64::from(radix))
            .saturating_add(u64::from(digit))
            .min(i64::MAX as u64);
        used += 1;
    }
    if used == start {
        return (None, 0);
    }
    (Some((value & 0xff) as u8), used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters() {
        assert_eq!(unescape(r"a\nb\tc\rd"), b"a\nb\tc\rd");
    }

    #[test]
    fn hex_reads_every_digit_and_keeps_the_low_byte() {
        assert_eq!(unescape(r"\x41|"), b"A|");
        assert_eq!(unescape(r"\x414|"), b"\x14|");
    }

    #[test]
    fn hex_without_digits_stands_for_nothing() {
        assert_eq!(unescape(r"\xg"), b"g");
        assert_eq!(unescape(r"\x"), b"");
    }

    #[test]
    fn digits_read_as_strtol_base_zero() {
        assert_eq!(unescape(r"\65|"), b"A|");
        assert_eq!(unescape(r"\065|"), b"5|");
        assert_eq!(unescape(r"\0x41|"), b"A|");
        assert_eq!(unescape(r"\9"), b"\t");
        assert_eq!(unescape(r"\1234"), [0xd2]);
    }

    #[test]
    fn other_escapes_stand_for_the_character_and_a_trailing_backslash_stays() {
        assert_eq!(unescape(r"\q\\"), b"q\\");
        assert_eq!(unescape(r"a\"), b"a\\");
    }

    #[test]
    fn huge_numbers_saturate_instead_of_overflowing() {
        assert_eq!(unescape(r"\99999999999999999999999"), [0xff]);
    }
}
