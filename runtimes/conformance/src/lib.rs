//! The behaviour every runtime must show against real brokers, written once
//! and generic over [`Runtime`](kafkite_driver::Runtime). Each runtime crate runs it
//! with [`conformance_tests!`](crate::conformance_tests) in a tests/ file.
//!
//! Every scenario panics with what went wrong (these are tests), waits only
//! for bounded times, and fails, never skips, when a broker cannot be had.
//! Apache Kafka takes seconds to start, so one is shared per test binary
//! (`kafkite_testkit::shared`); tests keep apart by unique topic names.
//! Scenarios that inject faults start a mock cluster of their own.

#![warn(missing_docs)]

mod brokers;
mod consumer;
mod consumer_faults;
mod group_members;
mod group_offsets;
pub mod log_capture;
mod mock;
mod producer;
mod producer_faults;
pub mod security;
mod support;

pub use brokers::{
    bootstraps_and_discovers_every_broker, creates_lists_and_deletes_topics,
    lists_earliest_and_latest_offsets, negotiated_versions_match_what_each_broker_advertises,
};
pub use consumer::{
    batches_commit_each_partitions_next_offset, envelopes_commit_ack_cancel_and_limit,
    fetcher_and_offset_master_read_what_the_broker_holds, large_responses_arrive_whole,
    offset_out_of_range_policies,
};
pub use consumer_faults::envelope_consumer_survives_leader_move_and_broker_restart;
pub use group_members::{
    an_idle_member_wakes_only_for_its_timers, group_members_split_partitions_and_take_over,
    member_config, member_without_auto_commit_closes_while_owning_partitions,
};
pub use group_offsets::{
    commits_and_fetches_offsets_with_metadata,
    confluent_consumer_resumes_where_the_group_committed,
    consumer_group_follows_a_moved_and_loading_coordinator, fresh_group_has_no_committed_offsets,
    resets_offsets_to_earliest_and_latest,
};
pub use kafkite_testkit::{shared, Peer, PeerKind};
pub use mock::{
    first_bootstrap_address_dead_second_used, follows_a_partition_leader_that_moved,
    reconnects_to_a_broker_brought_back,
};
pub use producer::{produce_every_codec, produces_every_codec_with_both_apis, ExpectedLog};
pub use producer_faults::{
    idempotent_producer_survives_faults_exactly_once_in_order,
    memory_bound_holds_while_the_cluster_is_stalled,
};

/// Expands to the conformance tests for one runtime: every broker scenario
/// against Apache Kafka, tansu, noida-db and librdkafka's mock cluster, the
/// mock's fault scenarios, and interop checks against Apache Kafka.
///
/// `$runtime` is the [`Runtime`](kafkite_driver::Runtime) type (it must implement
/// `Default`); `$block_on` is a function in scope that runs a future to
/// completion on that runtime.
///
/// ```ignore
/// fn block_on<F: std::future::Future>(f: F) -> F::Output { smol::block_on(f) }
/// kafkite_conformance::conformance_tests!(kafkite_smol::SmolRuntime, block_on);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($runtime:ty, $block_on:ident) => {
        $crate::conformance_tests!(@broker kafka, Kafka, $runtime, $block_on);
        $crate::conformance_tests!(@broker tansu, Tansu, $runtime, $block_on);
        $crate::conformance_tests!(@broker noida, Noida, $runtime, $block_on);
        $crate::conformance_tests!(@broker mock, Mock, $runtime, $block_on);
        $crate::conformance_tests!(@group kafka_group, Kafka, $runtime, $block_on);
        $crate::conformance_tests!(@group tansu_group, Tansu, $runtime, $block_on);
        $crate::conformance_tests!(@group noida_group, Noida, $runtime, $block_on);

        mod kafka_interop {
            use super::*;
            use $crate as c;

            #[test]
            fn consumer_group_confluent_consumer_resumes_where_the_group_committed() {
                let peer = c::shared(c::PeerKind::Kafka);
                $block_on(c::confluent_consumer_resumes_where_the_group_committed::<$runtime>(peer))
            }
        }

        mod mock_faults {
            use super::*;
            use $crate as c;

            #[test]
            fn first_bootstrap_address_dead_second_used() {
                let peer = c::shared(c::PeerKind::Mock);
                $block_on(c::first_bootstrap_address_dead_second_used::<$runtime>(peer))
            }

            #[test]
            fn reconnects_to_a_broker_brought_back() {
                $block_on(c::reconnects_to_a_broker_brought_back::<$runtime>())
            }

            #[test]
            fn follows_a_partition_leader_that_moved() {
                $block_on(c::follows_a_partition_leader_that_moved::<$runtime>())
            }

            #[test]
            fn idempotent_producer_survives_faults_exactly_once_in_order() {
                $block_on(c::idempotent_producer_survives_faults_exactly_once_in_order::<$runtime>())
            }

            #[test]
            fn memory_bound_holds_while_the_cluster_is_stalled() {
                $block_on(c::memory_bound_holds_while_the_cluster_is_stalled::<$runtime>())
            }

            #[test]
            fn envelope_consumer_survives_leader_move_and_broker_restart() {
                $block_on(c::envelope_consumer_survives_leader_move_and_broker_restart::<$runtime>())
            }

            #[test]
            fn consumer_group_follows_a_moved_and_loading_coordinator() {
                $block_on(c::consumer_group_follows_a_moved_and_loading_coordinator::<$runtime>())
            }
        }
    };
    // Group membership scenarios, on the brokers that serve the classic
    // group protocol as specified (not librdkafka's mock: see
    // `group_members_split_partitions_and_take_over`).
    (@group $module:ident, $kind:ident, $runtime:ty, $block_on:ident) => {
        mod $module {
            use super::*;
            use $crate as c;

            #[test]
            fn group_members_split_partitions_and_take_over() {
                let peer = c::shared(c::PeerKind::$kind);
                $block_on(c::group_members_split_partitions_and_take_over::<$runtime>(peer))
            }

            #[test]
            fn member_without_auto_commit_closes_while_owning_partitions() {
                let peer = c::shared(c::PeerKind::$kind);
                $block_on(c::member_without_auto_commit_closes_while_owning_partitions::<$runtime>(peer))
            }

            #[test]
            fn an_idle_member_wakes_only_for_its_timers() {
                let peer = c::shared(c::PeerKind::$kind);
                $block_on(c::an_idle_member_wakes_only_for_its_timers::<$runtime>(peer))
            }
        }
    };
    (@broker $module:ident, $kind:ident, $runtime:ty, $block_on:ident) => {
        mod $module {
            use super::*;
            use $crate as c;

            fn peer() -> &'static c::Peer {
                c::shared(c::PeerKind::$kind)
            }

            #[test]
            fn bootstraps_and_discovers_every_broker() {
                $block_on(c::bootstraps_and_discovers_every_broker::<$runtime>(peer()))
            }

            #[test]
            fn negotiated_versions_match_what_each_broker_advertises() {
                $block_on(c::negotiated_versions_match_what_each_broker_advertises::<$runtime>(peer()))
            }

            #[test]
            fn creates_lists_and_deletes_topics() {
                $block_on(c::creates_lists_and_deletes_topics::<$runtime>(peer()))
            }

            #[test]
            fn lists_earliest_and_latest_offsets() {
                $block_on(c::lists_earliest_and_latest_offsets::<$runtime>(peer()))
            }

            #[test]
            fn produces_every_codec_with_both_apis() {
                $block_on(c::produces_every_codec_with_both_apis::<$runtime>(peer()))
            }

            #[test]
            fn consumer_group_fresh_group_has_no_committed_offsets() {
                $block_on(c::fresh_group_has_no_committed_offsets::<$runtime>(peer()))
            }

            #[test]
            fn consumer_group_commits_and_fetches_offsets_with_metadata() {
                $block_on(c::commits_and_fetches_offsets_with_metadata::<$runtime>(peer()))
            }

            #[test]
            fn consumer_group_resets_offsets_to_earliest_and_latest() {
                $block_on(c::resets_offsets_to_earliest_and_latest::<$runtime>(peer()))
            }

            #[test]
            fn consumer_envelopes_commit_ack_cancel_and_limit() {
                $block_on(c::envelopes_commit_ack_cancel_and_limit::<$runtime>(peer()))
            }

            #[test]
            fn consumer_batches_commit_each_partitions_next_offset() {
                $block_on(c::batches_commit_each_partitions_next_offset::<$runtime>(peer()))
            }

            #[test]
            fn consumer_offset_out_of_range_policies() {
                $block_on(c::offset_out_of_range_policies::<$runtime>(peer()))
            }

            #[test]
            fn consumer_fetcher_and_offset_master_read_what_the_broker_holds() {
                $block_on(c::fetcher_and_offset_master_read_what_the_broker_holds::<$runtime>(peer()))
            }

            #[test]
            fn consumer_large_responses_arrive_whole() {
                $block_on(c::large_responses_arrive_whole::<$runtime>(peer()))
            }
        }
    };
}

/// Expands to the secured-connection tests for one runtime, against a
/// secured Apache Kafka 4.4 started once per test binary
/// (`kafkite_testkit::secure::shared_secure`): TLS, mutual TLS with each
/// client key form, SASL over plaintext and TLS with each mechanism,
/// re-authentication, and every refusal (see [`security`]).
///
/// ```ignore
/// kafkite_conformance::security_tests!(kafkite_smol::SmolRuntime, block_on);
/// ```
#[macro_export]
macro_rules! security_tests {
    ($runtime:ty, $block_on:ident) => {
        mod security {
            use super::*;
            use kafkite_testkit::{shared_secure, Listener};
            use $crate::security::{self as s, ClientKey, Mechanism};

            #[test]
            fn tls() {
                $block_on(s::round_trips_over_tls::<$runtime>(shared_secure()))
            }

            #[test]
            fn tls_files_are_read_once_per_session() {
                $block_on(s::tls_files_are_read_once_per_session::<$runtime>(
                    shared_secure(),
                ))
            }

            #[test]
            fn mutual_tls_with_every_key_form() {
                for key in ClientKey::ALL {
                    $block_on(s::round_trips_over_mutual_tls::<$runtime>(
                        shared_secure(),
                        key,
                    ))
                }
            }

            #[test]
            fn sasl_plaintext_with_every_mechanism() {
                for mechanism in Mechanism::ALL {
                    $block_on(s::round_trips_over_sasl::<$runtime>(
                        shared_secure(),
                        Listener::SaslPlaintext,
                        mechanism,
                    ))
                }
            }

            #[test]
            fn sasl_ssl_with_every_mechanism() {
                for mechanism in Mechanism::ALL {
                    $block_on(s::round_trips_over_sasl::<$runtime>(
                        shared_secure(),
                        Listener::SaslSsl,
                        mechanism,
                    ))
                }
            }

            #[test]
            fn refusals_are_typed_prompt_and_not_retried() {
                $block_on(s::refusals_are_typed_prompt_and_not_retried::<$runtime>(
                    shared_secure(),
                ))
            }

            #[test]
            fn reauthenticates_without_losing_anything() {
                let _one_at_a_time = s::reauth_lock();
                $block_on(s::reauthenticates_without_losing_anything::<$runtime>(
                    shared_secure(),
                    Mechanism::ScramSha512,
                ))
            }
        }
    };
}
