//! Writes seed corpora for the fuzz targets in fuzz/: valid frames of every
//! API at every version, so the fuzzers start from inputs that reach deep
//! into each decoder, and the consumer protocol's subscriptions and
//! assignments. Run by `fuzz/run.sh` through an ignored test.

use std::path::Path;

use bytes::BytesMut;
use quickcheck::Gen;

use super::frame::{encode_request_with, RequestContext};
use super::{AnyRequest, AnyResponse, ApiKey};

fn write_seeds(dir: &Path) -> std::io::Result<usize> {
    let responses = dir.join("response_decoder");
    let requests = dir.join("request_decoder");
    std::fs::create_dir_all(&responses)?;
    std::fs::create_dir_all(&requests)?;
    let mut g = Gen::new(4);
    let mut count = 0;
    for (index, key) in ApiKey::ALL.iter().enumerate() {
        let range = key.versions();
        for version in range.min..=range.max {
            // Response target input: key index, version offset, body.
            let response = AnyResponse::arbitrary(*key, &mut g, version);
            let mut buf = BytesMut::new();
            buf.extend_from_slice(&[index as u8, (version - range.min) as u8]);
            if response.encode(&mut buf, version).is_ok() {
                let name = format!("{}-v{version}", key.name());
                std::fs::write(responses.join(name), &buf)?;
                count += 1;
            }
            // Request target input: a frame without its size prefix.
            let request = AnyRequest::arbitrary(*key, &mut g, version);
            let mut frame = BytesMut::new();
            let ctx = RequestContext {
                api_key: *key,
                api_version: version,
                correlation_id: 1,
                client_id: Some("seed"),
            };
            if encode_request_with(&mut frame, &ctx, |b| request.encode(b, version)).is_ok() {
                let name = format!("{}-v{version}", key.name());
                std::fs::write(requests.join(name), &frame[4..])?;
                count += 1;
            }
        }
    }
    Ok(count + write_consumer_protocol_seeds(dir)?)
}

/// The consumer_protocol target's seeds: subscriptions and assignments as
/// members write them, at every version (and one from a future version,
/// which is read at the newest known).
fn write_consumer_protocol_seeds(dir: &Path) -> std::io::Result<usize> {
    use crate::consumer::group::protocol::{Assignment, Subscription};
    let out = dir.join("consumer_protocol");
    std::fs::create_dir_all(&out)?;
    let owned: Vec<(String, i32)> = [("t", 0), ("t", 3), ("orders", 1), ("other", 70)]
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect();
    let subscription = Subscription {
        topics: vec!["t".into(), "orders".into(), "other".into()],
        user_data: Some(bytes::Bytes::from_static(b"sticky")),
        owned_partitions: owned.clone(),
        generation_id: Some(4),
        rack_id: Some("rack-1".into()),
    };
    let assignment = Assignment {
        partitions: owned,
        user_data: None,
    };
    let mut count = 0;
    for version in 0..=3 {
        let encoded = subscription
            .encode(version)
            .expect("a subscription encodes");
        std::fs::write(out.join(format!("subscription-v{version}")), &encoded)?;
        let encoded = assignment.encode(version).expect("an assignment encodes");
        std::fs::write(out.join(format!("assignment-v{version}")), &encoded)?;
        count += 2;
    }
    let mut future = subscription
        .encode(3)
        .expect("a subscription encodes")
        .to_vec();
    future[..2].copy_from_slice(&9i16.to_be_bytes());
    future.extend_from_slice(b"fields of v9");
    std::fs::write(out.join("subscription-v9"), &future)?;
    Ok(count + 1)
}

#[test]
#[ignore = "writes files; run by fuzz/run.sh with KAFKITE_FUZZ_SEED_DIR set"]
fn write_fuzz_seed_corpora() {
    let dir = std::env::var("KAFKITE_FUZZ_SEED_DIR").expect("KAFKITE_FUZZ_SEED_DIR is set");
    let count = write_seeds(Path::new(&dir)).expect("seeds written");
    assert!(count > 300, "only {count} seeds");
}
