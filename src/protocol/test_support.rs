//! Random values for the generated round-trip properties (test builds only).

use bytes::{Bytes, BytesMut};
use quickcheck::{Arbitrary, Gen};

use super::{Message, RawTaggedField, Reader, UnknownTaggedFields, Uuid};

/// Random values per version and message; kept small so that deep message
/// trees stay cheap, and over enough cases to reach every field shape.
const CASES_PER_VERSION: usize = 24;

/// Encodes random values of `M` at every version and checks that decoding
/// gives back the same value and consumes every byte.
pub fn check_round_trip<M: Message>(arbitrary: fn(&mut Gen, i16) -> M) {
    let mut g = Gen::new(6);
    for version in M::VERSIONS.min..=M::VERSIONS.max {
        for _ in 0..CASES_PER_VERSION {
            let value = arbitrary(&mut g, version);
            let mut buf = BytesMut::new();
            value
                .encode(&mut buf, version)
                .unwrap_or_else(|e| panic!("{} v{version}: encode failed: {e}", M::NAME));
            let mut reader = Reader::new(buf.freeze());
            let decoded = M::decode(&mut reader, version)
                .unwrap_or_else(|e| panic!("{} v{version}: decode failed: {e}", M::NAME));
            assert_eq!(decoded, value, "{} v{version} did not round-trip", M::NAME);
            assert_eq!(reader.remaining(), 0, "{} v{version} left bytes", M::NAME);
        }
    }
}

pub fn arb_is_null(g: &mut Gen) -> bool {
    u8::arbitrary(g) % 4 == 0
}

pub fn arb_f64(g: &mut Gen) -> f64 {
    let v = f64::arbitrary(g);
    if v.is_finite() {
        v
    } else {
        0.5
    }
}

pub fn arb_uuid(g: &mut Gen) -> Uuid {
    let mut id = [0u8; 16];
    for b in &mut id {
        *b = u8::arbitrary(g);
    }
    Uuid(id)
}

pub fn arb_string(g: &mut Gen) -> String {
    String::arbitrary(g)
}

pub fn arb_bytes(g: &mut Gen) -> Bytes {
    Bytes::from(Vec::<u8>::arbitrary(g))
}

pub fn arb_vec<T>(g: &mut Gen, mut element: impl FnMut(&mut Gen) -> T) -> Vec<T> {
    let len = usize::arbitrary(g) % 4;
    (0..len).map(|_| element(g)).collect()
}

/// Sometimes one tagged field with a tag no spec uses, to prove unknown
/// tags survive a decode and re-encode.
pub fn arb_unknown_tagged_fields(g: &mut Gen) -> UnknownTaggedFields {
    if bool::arbitrary(g) {
        UnknownTaggedFields::from_fields([RawTaggedField {
            tag: 10_000 + u32::from(u8::arbitrary(g)),
            data: arb_bytes(g),
        }])
    } else {
        UnknownTaggedFields::default()
    }
}
