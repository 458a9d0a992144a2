//! Every response decoder, with the API key and version taken from the
//! input: no input may panic, and whatever decodes must re-encode to bytes
//! that decode to the same encoding again.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafkite::protocol::messages::ResponseHeader;
use kafkite::protocol::{frame, AnyResponse, ApiKey, Message, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let key = ApiKey::ALL[data[0] as usize % ApiKey::ALL.len()];
    let range = key.versions();
    let span = (range.max - range.min + 1) as u8;
    let version = range.min + (data[1] % span) as i16;
    let body = Bytes::copy_from_slice(&data[2..]);

    // Through the framing, as a client sees it.
    let _ = frame::peek_correlation_id(&body);
    let mut header = Reader::new(body.clone());
    let header_version = key.response_header_version(version);
    let _ = ResponseHeader::decode(&mut header, header_version);

    let mut r = Reader::new(body);
    if let Ok(decoded) = AnyResponse::decode(key.key(), version, &mut r) {
        let mut first = BytesMut::new();
        decoded
            .encode(&mut first, version)
            .expect("a decoded response re-encodes");
        let again =
            AnyResponse::decode(key.key(), version, &mut Reader::new(first.clone().freeze()))
                .expect("a re-encoded response decodes");
        let mut second = BytesMut::new();
        again
            .encode(&mut second, version)
            .expect("re-encodes again");
        assert_eq!(
            first, second,
            "{key:?} v{version} is not stable under re-encoding"
        );
    }
});
