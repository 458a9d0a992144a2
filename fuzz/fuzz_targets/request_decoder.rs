//! The broker-side request decoder (what the simulated cluster runs on
//! every frame a client sends): no input may panic.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafkite::protocol::frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, request)) = frame::decode_request(Bytes::copy_from_slice(data)) {
        let mut buf = BytesMut::new();
        request
            .encode(&mut buf, header.request_api_version)
            .expect("a decoded request re-encodes");
    }
});
