//! The embedded consumer protocol a group's members exchange through the
//! broker (`src/consumer/group/protocol.rs`): the input, as another
//! member's JoinGroup metadata or a leader's SyncGroup assignment, goes
//! through `Subscription::decode`, `Subscription::decode_grouped`,
//! `flatten` (with and without an existence filter), `Assignment::decode`
//! and `Assignment::decode_keeping`.
//!
//! Checked: no panic; what decodes re-encodes at its version and decodes
//! again to the same value; `decode` and `decode_grouped` agree; flattened
//! partitions are sorted and distinct, and a filter keeps exactly what it
//! accepts; and what decoding holds is bounded by the input: no more
//! partitions than the wire has INT32s for, and with a filter that keeps
//! partitions below 64 of a fixed set of topics, at most 64 per topic of
//! that set whatever the input repeats.
#![no_main]

use bytes::Bytes;
use kafkite::consumer::group::protocol::{flatten, Assignment, Subscription};
use libfuzzer_sys::fuzz_target;

/// The topics that "exist" for the filtering decoders.
const EXISTING: [&str; 3] = ["t", "orders", "a.b-c_d"];
/// Partitions below this exist in each of them.
const PARTITIONS_PER_TOPIC: i32 = 64;

fn exists(topic: &str, partition: i32) -> bool {
    EXISTING.contains(&topic) && (0..PARTITIONS_PER_TOPIC).contains(&partition)
}

/// Sorted and distinct: each pair strictly after the one before.
fn assert_strictly_sorted(partitions: &[(String, i32)]) {
    for pair in partitions.windows(2) {
        assert!(pair[0] < pair[1], "not sorted and distinct: {pair:?}");
    }
}

/// The bound a filtered result must keep whatever the input repeats.
const FILTERED_MAX: usize = EXISTING.len() * PARTITIONS_PER_TOPIC as usize;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    // Every partition is an INT32 on the wire, after the 2-byte version.
    let wire_max = data.len().saturating_sub(2) / 4;

    let decoded = Subscription::decode(&bytes);
    let grouped = Subscription::decode_grouped(&bytes);
    assert_eq!(
        decoded.is_ok(),
        grouped.is_ok(),
        "decode and decode_grouped disagree"
    );
    if let Ok((subscription, version)) = &decoded {
        assert_strictly_sorted(&subscription.owned_partitions);
        assert!(subscription.owned_partitions.len() <= wire_max);
        let again = subscription
            .encode(*version)
            .expect("a decoded subscription encodes");
        let (back, back_version) =
            Subscription::decode(&again).expect("a re-encoded subscription decodes");
        assert_eq!(&back, subscription, "subscription round trip at v{version}");
        // Read above the newest version this build knows, it was read at
        // that one, and is written at it.
        assert_eq!(back_version, (*version).min(3));
    }
    if let (Ok((subscription, owned, version)), Ok((full, full_version))) = (grouped, &decoded) {
        assert_eq!(version, *full_version);
        assert!(subscription.owned_partitions.is_empty());
        let all = flatten(owned.clone(), |_, _| true);
        assert_eq!(all, full.owned_partitions);
        let mut calls = 0usize;
        let kept = flatten(owned, |topic, partition| {
            calls += 1;
            exists(topic, partition)
        });
        // The filter is asked at most once per partition on the wire.
        assert!(calls <= wire_max);
        check_filtered(&kept, &all);
    }

    let assignment = Assignment::decode(&bytes);
    let kept = Assignment::decode_keeping(&bytes, exists);
    assert_eq!(
        assignment.is_ok(),
        kept.is_ok(),
        "decode and decode_keeping disagree"
    );
    if let Ok(assignment) = &assignment {
        assert_strictly_sorted(&assignment.partitions);
        assert!(assignment.partitions.len() <= wire_max);
        // The version it came at (empty bytes: an empty assignment, which
        // any version writes).
        let version = match data {
            [hi, lo, ..] => i16::from_be_bytes([*hi, *lo]),
            _ => 0,
        };
        let again = assignment
            .encode(version)
            .expect("a decoded assignment encodes");
        let back = Assignment::decode(&again).expect("a re-encoded assignment decodes");
        assert_eq!(&back, assignment, "assignment round trip at v{version}");
    }
    if let (Ok(kept), Ok(all)) = (kept, &assignment) {
        assert_eq!(kept.user_data, all.user_data);
        check_filtered(&kept.partitions, &all.partitions);
    }
});

/// `kept` is exactly the pairs of `all` the filter accepts, sorted and
/// distinct, and within the filter's bound.
fn check_filtered(kept: &[(String, i32)], all: &[(String, i32)]) {
    assert_strictly_sorted(kept);
    assert!(kept.len() <= FILTERED_MAX, "{} partitions kept", kept.len());
    let expected: Vec<&(String, i32)> = all.iter().filter(|(t, p)| exists(t, *p)).collect();
    assert_eq!(kept.iter().collect::<Vec<_>>(), expected);
}
