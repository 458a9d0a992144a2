//! kcat's `-f` output format: a format string is parsed once into
//! [`Format`], then each consumed record renders into bytes with
//! [`Format::render`], a pure function of the record.
//!
//! The aim is byte-for-byte kcat output for the same records (checked
//! against kcat with librdkafka 2.16 in `tests/consume_matches_kcat.rs`).
//! What kcat 1.7 prints, observed:
//! - `%k` and `%s` are the raw key and value bytes; a null key or value
//!   prints nothing, and `%K` / `%S` print its length, -1 when null.
//!   `%R` is the value length as a 4-byte big-endian integer.
//! - `%h` is the headers as `name=value` joined by commas, in record order;
//!   a null header value prints `NULL`; no headers prints nothing.
//! - `%t` topic, `%p` partition, `%o` offset, `%T` timestamp in ms.
//! - `%%` is a percent sign; any other letter after `%`, or a `%` at the
//!   end, is an error before anything is consumed.
//! - Backslash escapes are read in the same pass (so `\x25s` is a literal
//!   `%s`, not a token): see [`crate::escape`].

use crate::escape::decode_escape;

/// kcat's format when none is given: the value and a newline.
pub const DEFAULT_FORMAT: &str = r"%s\n";

/// A parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    KeyLength,
    Value,
    ValueLength,
    /// `%R`: the value length as a big-endian i32.
    ValueLengthBinary,
    Timestamp,
    Headers,
}

/// A format string kcat would refuse, and so do we.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("unsupported format token %{0} (known: %t %p %o %k %K %s %S %R %T %h %%)")]
    UnsupportedToken(char),
    #[error("the format ends with a lone %")]
    TrailingPercent,
}

/// One record as the format sees it.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the Unix epoch (-1 when the record has none).
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [HeaderView<'a>],
}

/// One record header.
#[derive(Debug, Clone, Copy)]
pub struct HeaderView<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl Format {
    /// Parses a format string as kcat's `-f` does.
    pub fn parse(text: &str) -> Result<Format, FormatError> {
        let bytes = text.as_bytes();
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    let (byte, used) = decode_escape(&bytes[i + 1..]);
                    literal.extend(byte);
                    i += 1 + used;
                }
                b'%' => {
                    let Some(&token) = bytes.get(i + 1) else {
                        return Err(FormatError::TrailingPercent);
                    };
                    i += 2;
                    let piece = match token {
                        b'%' => {
                            literal.push(b'%');
                            continue;
                        }
                        b't' => Piece::Topic,
                        b'p' => Piece::Partition,
                        b'o' => Piece::Offset,
                        b'k' => Piece::Key,
                        b'K' => Piece::KeyLength,
                        b's' => Piece::Value,
                        b'S' => Piece::ValueLength,
                        b'R' => Piece::ValueLengthBinary,
                        b'T' => Piece::Timestamp,
                        b'h' => Piece::Headers,
                        _ => {
                            // The whole character, for the message, even if
                            // it is not ASCII.
                            let c = text[i - 1..].chars().next().unwrap_or('?');
                            return Err(FormatError::UnsupportedToken(c));
                        }
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                }
                other => {
                    literal.push(other);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Format { pieces })
    }

    /// Appends `record` rendered in this format to `out`.
    pub fn render(&self, record: &RecordView<'_>, out: &mut Vec<u8>) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.extend_from_slice(bytes),
                Piece::Topic => out.extend_from_slice(record.topic.as_bytes()),
                Piece::Partition => push_number(out, i64::from(record.partition)),
                Piece::Offset => push_number(out, record.offset),
                Piece::Key => out.extend_from_slice(record.key.unwrap_or_default()),
                Piece::KeyLength => push_number(out, length(record.key)),
                Piece::Value => out.extend_from_slice(record.value.unwrap_or_default()),
                Piece::ValueLength => push_number(out, length(record.value)),
                Piece::ValueLengthBinary => {
                    let len = i32::try_from(length(record.value)).unwrap_or(i32::MAX);
                    out.extend_from_slice(&len.to_be_bytes());
                }
                Piece::Timestamp => push_number(out, record.timestamp),
                Piece::Headers => push_headers(out, record.headers),
            }
        }
    }
}

/// The length kcat prints: -1 for null.
fn length(bytes: Option<&[u8]>) -> i64 {
    bytes.map_or(-1, |b| i64::try_from(b.len()).unwrap_or(i64::MAX))
}

fn push_number(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(n.to_string().as_bytes());
}

fn push_headers(out: &mut Vec<u8>, headers: &[HeaderView<'_>]) {
    for (i, header) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(header.name);
        out.push(b'=');
        out.extend_from_slice(header.value.unwrap_or(b"NULL"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(headers: &'a [HeaderView<'a>]) -> RecordView<'a> {
        RecordView {
            topic: "orders",
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_123,
            key: Some(b"k1"),
            value: Some(b"v\x00\xff"),
            headers,
        }
    }

    fn render(format: &str, record: &RecordView<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        Format::parse(format)
            .expect("valid format")
            .render(record, &mut out);
        out
    }

    #[test]
    fn every_token_renders_like_kcat() {
        let headers = [HeaderView {
            name: b"a",
            value: Some(b"1"),
        }];
        let r = record(&headers);
        assert_eq!(
            render(r"%t|%p|%o|%k|%K|%s|%S|%T|%h\n", &r),
            b"orders|2|41|k1|2|v\x00\xff|3|1700000000123|a=1\n"
        );
    }

    #[test]
    fn null_key_and_value_print_nothing_and_length_minus_one() {
        let r = RecordView {
            key: None,
            value: None,
            ..record(&[])
        };
        assert_eq!(render("[%k][%K][%s][%S]", &r), b"[][-1][][-1]");
    }

    #[test]
    fn empty_key_and_value_have_length_zero() {
        let r = RecordView {
            key: Some(b""),
            value: Some(b""),
            ..record(&[])
        };
        assert_eq!(render("[%k][%K][%s][%S]", &r), b"[][0][][0]");
    }

    #[test]
    fn headers_join_with_commas_and_null_values_print_null() {
        let headers = [
            HeaderView {
                name: b"n",
                value: None,
            },
            HeaderView {
                name: b"e",
                value: Some(b""),
            },
            HeaderView {
                name: b"x",
                value: Some(b"1"),
            },
            HeaderView {
                name: b"x",
                value: Some(b"2"),
            },
        ];
        assert_eq!(render("%h", &record(&headers)), b"n=NULL,e=,x=1,x=2");
    }

    #[test]
    fn no_headers_print_nothing() {
        assert_eq!(render("<%h>", &record(&[])), b"<>");
    }

    #[test]
    fn value_length_binary_is_big_endian_i32() {
        assert_eq!(render("%R", &record(&[])), [0, 0, 0, 3]);
        let null = RecordView {
            value: None,
            ..record(&[])
        };
        assert_eq!(render("%R", &null), [0xff; 4]);
    }

    #[test]
    fn percent_percent_is_a_percent_and_escapes_are_literal_not_tokens() {
        assert_eq!(render(r"%%|\x25s|\\", &record(&[])), b"%|%s|\\");
    }

    #[test]
    fn default_format_is_the_value_and_a_newline() {
        assert_eq!(render(DEFAULT_FORMAT, &record(&[])), b"v\x00\xff\n");
    }

    #[test]
    fn unknown_token_and_trailing_percent_are_errors() {
        assert_eq!(Format::parse("%z"), Err(FormatError::UnsupportedToken('z')));
        assert_eq!(Format::parse("%é"), Err(FormatError::UnsupportedToken('é')));
        assert_eq!(Format::parse("end%"), Err(FormatError::TrailingPercent));
    }
}
