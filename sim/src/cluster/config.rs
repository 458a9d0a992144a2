//! How a simulated cluster is built and how it behaves.

/// Settings of a [`super::Cluster`], named after the broker settings they
/// mirror. Build with [`ClusterConfig::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The advertised `(host, port)` of each broker; broker ids are
    /// 1, 2, ... in this order.
    pub listeners: Vec<(String, u16)>,
    /// Behave as Kafka 0.8.2: close the connection on ApiVersions, and
    /// speak only the v0 APIs (v0-v1 for offset commit and fetch).
    pub legacy_0_8_2: bool,
    /// Acks=all writes need this many in-sync replicas
    /// (`min.insync.replicas`). Default 2.
    pub min_insync_replicas: usize,
    /// How long a follower takes to copy the leader's new batches.
    /// Default 5 ms.
    pub replication_delay_ms: u64,
    /// A follower that has not caught up for this long leaves the ISR
    /// (`replica.lag.time.max.ms`). Default 2 s (Kafka: 30 s).
    pub replica_lag_max_ms: u64,
    /// Create unknown topics that Metadata asks for
    /// (`auto.create.topics.enable`). Default true, as Kafka.
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic (`num.partitions`). Default 1.
    pub default_partitions: i32,
    /// Replicas of an auto-created topic, capped at the broker count
    /// (`default.replication.factor`). Default 3.
    pub default_replication_factor: i16,
    /// Wait this long before the first rebalance of an empty group, for
    /// more members to arrive (`group.initial.rebalance.delay.ms`).
    /// Default 0 (Kafka: 3 s).
    pub initial_rebalance_delay_ms: u64,
    /// Answer this many requests in a thousand with a retriable error
    /// instead of serving them (fault injection). Default 0.
    pub injected_error_per_mille: u32,
    /// Seed of the cluster's own choices (which injected error).
    pub seed: u64,
    /// The finalized `transaction.version` feature: 2 serves KIP-890's
    /// second transaction protocol (Produce v12, TxnOffsetCommit v5 and
    /// EndTxn v5 with their meaning), as Kafka 4.x does; 1 (the default)
    /// serves the first only, as Kafka 3.x does.
    pub transaction_version: i16,
}

impl ClusterConfig {
    /// `brokers` brokers advertised as `broker-<id>:9092`.
    pub fn new(brokers: usize) -> Self {
        ClusterConfig {
            listeners: (1..=brokers)
                .map(|id| (format!("broker-{id}"), 9092))
                .collect(),
            legacy_0_8_2: false,
            transaction_version: 1,
            min_insync_replicas: 2,
            replication_delay_ms: 5,
            replica_lag_max_ms: 2_000,
            auto_create_topics: true,
            default_partitions: 1,
            default_replication_factor: 3,
            initial_rebalance_delay_ms: 0,
            injected_error_per_mille: 0,
            seed: 0,
        }
    }

    /// Advertises these `(host, port)` pairs instead (one per broker).
    pub fn with_listeners(mut self, listeners: Vec<(String, u16)>) -> Self {
        self.listeners = listeners;
        self
    }

    /// Sets [`legacy_0_8_2`](Self::legacy_0_8_2): behave as Kafka 0.8.2.
    pub fn with_legacy_0_8_2(mut self, legacy: bool) -> Self {
        self.legacy_0_8_2 = legacy;
        self
    }

    /// Sets [`min_insync_replicas`](Self::min_insync_replicas).
    pub fn with_min_insync_replicas(mut self, n: usize) -> Self {
        self.min_insync_replicas = n;
        self
    }

    /// Sets [`replication_delay_ms`](Self::replication_delay_ms).
    pub fn with_replication_delay_ms(mut self, ms: u64) -> Self {
        self.replication_delay_ms = ms;
        self
    }

    /// Sets [`replica_lag_max_ms`](Self::replica_lag_max_ms).
    pub fn with_replica_lag_max_ms(mut self, ms: u64) -> Self {
        self.replica_lag_max_ms = ms;
        self
    }

    /// Sets [`auto_create_topics`](Self::auto_create_topics).
    pub fn with_auto_create_topics(mut self, on: bool) -> Self {
        self.auto_create_topics = on;
        self
    }

    /// Sets [`default_partitions`](Self::default_partitions); at least 1.
    pub fn with_default_partitions(mut self, n: i32) -> Self {
        self.default_partitions = n.max(1);
        self
    }

    /// Sets [`default_replication_factor`](Self::default_replication_factor);
    /// at least 1.
    pub fn with_default_replication_factor(mut self, n: i16) -> Self {
        self.default_replication_factor = n.max(1);
        self
    }

    /// Sets [`initial_rebalance_delay_ms`](Self::initial_rebalance_delay_ms).
    pub fn with_initial_rebalance_delay_ms(mut self, ms: u64) -> Self {
        self.initial_rebalance_delay_ms = ms;
        self
    }

    /// Sets [`injected_error_per_mille`](Self::injected_error_per_mille);
    /// capped at 1000 (every request).
    pub fn with_injected_error_per_mille(mut self, per_mille: u32) -> Self {
        self.injected_error_per_mille = per_mille.min(1000);
        self
    }

    /// Sets [`ClusterConfig::transaction_version`] (1 or 2).
    pub fn with_transaction_version(mut self, version: i16) -> Self {
        self.transaction_version = version.clamp(1, 2);
        self
    }

    /// Sets [`seed`](Self::seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}
