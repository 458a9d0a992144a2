//! Versions Kafka added to an API without changing its schema, which the
//! spec folder we generate from may not list yet.
//!
//! Kafka sometimes bumps an API's version only to tell the broker that
//! the client means something new by the same bytes (KIP-890: Produce v12
//! and TxnOffsetCommit v5 ask the transaction coordinator for the second
//! transaction protocol, where those requests add their partition or group
//! to the transaction themselves). The wire format stays the previous
//! version's, so the generator only has to let the generated code accept
//! the new number: each bump raises the highest valid version of the API's
//! request and response, and stretches every field range that ended at
//! the old highest version, as Kafka's own spec for the new version does.
//!
//! A bump the spec folder already has (its highest version is `to` or
//! more) is left to the spec; a spec that stops below `from` means this
//! table does not fit the spec folder, and generation fails.

use crate::spec::{FieldSpec, MessageSpec};
use crate::versions::Versions;

/// One API version that is the previous one's schema under a new number.
#[derive(Debug, Clone, Copy)]
pub struct VersionBump {
    /// The API key.
    pub api_key: i16,
    /// The highest version the specs describe.
    pub from: i16,
    /// The version with the same schema as `from`.
    pub to: i16,
    /// Why the version exists, for the reader of this table.
    pub reason: &'static str,
}

/// The bumps applied to the specs before generating.
pub const VERSION_BUMPS: &[VersionBump] = &[
    VersionBump {
        api_key: 0, // Produce
        from: 11,
        to: 12,
        reason: "KIP-890 part 2: under transaction protocol 2 a transactional \
                 Produce adds its partitions to the transaction itself",
    },
    VersionBump {
        api_key: 28, // TxnOffsetCommit
        from: 4,
        to: 5,
        reason: "KIP-890 part 2: under transaction protocol 2 TxnOffsetCommit \
                 adds the group to the transaction itself (no AddOffsetsToTxn)",
    },
];

/// Applies `bumps` to a parsed request or response spec.
pub fn apply(spec: &mut MessageSpec, bumps: &[VersionBump]) -> Result<(), String> {
    if spec.kind != "request" && spec.kind != "response" {
        return Ok(());
    }
    let Some(api_key) = spec.api_key else {
        return Ok(());
    };
    for bump in bumps.iter().filter(|b| b.api_key == api_key) {
        let highest = spec.valid_versions.hi;
        if highest >= bump.to {
            continue;
        }
        if highest != bump.from {
            return Err(format!(
                "{}: version bump {} -> {} ({}) expects the spec to end at v{}, it ends at v{highest}",
                spec.name, bump.from, bump.to, bump.reason, bump.from
            ));
        }
        stretch(&mut spec.valid_versions, bump);
        for field in &mut spec.fields {
            stretch_field(field, bump);
        }
        for common in &mut spec.common_structs {
            for field in &mut common.fields {
                stretch_field(field, bump);
            }
        }
    }
    Ok(())
}

/// A range that ended at the bump's `from` goes on to its `to`.
fn stretch(range: &mut Versions, bump: &VersionBump) {
    if !range.is_empty() && range.hi == bump.from {
        range.hi = bump.to;
    }
}

fn stretch_field(field: &mut FieldSpec, bump: &VersionBump) {
    stretch(&mut field.versions, bump);
    stretch(&mut field.nullable_versions, bump);
    stretch(&mut field.tagged_versions, bump);
    if let Some(flexible) = field.flexible_versions.as_mut() {
        stretch(flexible, bump);
    }
    for inner in field.fields.iter_mut().flatten() {
        stretch_field(inner, bump);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::FieldType;

    fn field(name: &str, versions: &str) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            ty: FieldType::Int32,
            versions: Versions::parse(versions).expect("range"),
            nullable_versions: Versions::NONE,
            tagged_versions: Versions::NONE,
            tag: None,
            ignorable: false,
            default: None,
            flexible_versions: None,
            about: None,
            fields: None,
        }
    }

    fn spec(valid: &str, fields: Vec<FieldSpec>) -> MessageSpec {
        MessageSpec {
            name: "ProduceRequest".into(),
            kind: "request".into(),
            api_key: Some(0),
            valid_versions: Versions::parse(valid).expect("range"),
            flexible_versions: Versions::parse("9+").expect("range"),
            fields,
            common_structs: Vec::new(),
            listeners: Vec::new(),
        }
    }

    const BUMP: VersionBump = VersionBump {
        api_key: 0,
        from: 11,
        to: 12,
        reason: "test",
    };

    #[test]
    fn a_bump_raises_the_valid_versions_and_fields_that_ended_there() {
        let mut s = spec(
            "0-11",
            vec![
                field("Open", "3+"),
                field("Old", "0-2"),
                field("Last", "5-11"),
            ],
        );
        apply(&mut s, &[BUMP]).expect("applies");
        assert_eq!(s.valid_versions, Versions { lo: 0, hi: 12 });
        assert_eq!(s.fields[0].versions, Versions::parse("3+").expect("range"));
        assert_eq!(s.fields[1].versions, Versions { lo: 0, hi: 2 });
        assert_eq!(s.fields[2].versions, Versions { lo: 5, hi: 12 });
    }

    #[test]
    fn a_spec_that_already_has_the_version_is_left_alone() {
        let mut s = spec("0-13", vec![field("Last", "5-11")]);
        apply(&mut s, &[BUMP]).expect("applies");
        assert_eq!(s.valid_versions, Versions { lo: 0, hi: 13 });
        assert_eq!(s.fields[0].versions, Versions { lo: 5, hi: 11 });
    }

    #[test]
    fn a_spec_that_stops_short_of_the_bump_is_an_error() {
        let mut s = spec("0-9", Vec::new());
        assert!(apply(&mut s, &[BUMP]).is_err());
    }
}
