//! The `kafkite` binary against a real Apache Kafka (one broker shared by
//! every test here, started by kafkite-testkit) and kcat on librdkafka
//! 2.16 as the witness. One test binary, so Kafka starts once.

mod cli {
    pub mod admin_commands;
    pub mod bad_invocations;
    pub mod consume_matches_kcat;
    pub mod group_commits;
    pub mod group_members;
    pub mod produce_to_kcat;
    pub mod properties;
    pub mod secured;
    pub mod sim;
    pub mod support;
}
