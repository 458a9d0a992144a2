//! The session's admin operations: the requests and their reading come from
//! [`kafkite::admin`]; this file sends them and retries what may succeed on
//! a second try (NOT_CONTROLLER, a moved leader, a topic the metadata has
//! not caught up with), a bounded number of times with backoff.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use kafkite::admin::{self, AdminError, ClusterDescription, NewTopic, OffsetSpec, Phrasing};
use kafkite::client::{RequestError, Target};
use kafkite::protocol::messages::{CreateTopicsRequest, ListOffsetsResponse};
use kafkite::protocol::ApiKey;

use crate::error::Error;
use crate::runtime::Runtime;
use crate::session::{Session, ANY_VERSION};

/// Tries per admin operation (the first included).
const ATTEMPTS: u32 = 6;
/// Backoff before the second try; doubles up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl<R: Runtime> Session<R> {
    /// The names of every topic in the cluster, internal ones included.
    pub async fn list_topics(&self) -> Result<BTreeSet<String>, Error> {
        let answer = self
            .call_phrased(Target::AnyBroker, admin::list_topics_requests(), None)
            .await?;
        Ok(admin::topic_names(&answer.body))
    }

    /// Creates topics through the controller. Fails with the first topic's
    /// error (by name) if any could not be created, e.g.
    /// [`AdminError::Topic`] with TOPIC_ALREADY_EXISTS, or with
    /// [`AdminError::UnsupportedVersion`] on a broker older than 0.10.1.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<(), Error> {
        let timeout = self.config().request_timeout;
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        let outcome = self
            .per_key_rounds(names, |pending| async move {
                let asked: Vec<NewTopic> = topics
                    .iter()
                    .filter(|t| pending.contains(&t.name))
                    .cloned()
                    .collect();
                let request: CreateTopicsRequest = admin::create_topics_request(&asked, timeout);
                let phrasing = Phrasing {
                    request,
                    versions: ANY_VERSION,
                };
                let answer = self
                    .call_phrased(self.controller(), vec![phrasing], None)
                    .await
                    .map_err(|e| unsupported_as_admin(e, ApiKey::CreateTopics))?;
                Ok(admin::create_topics_outcome(&pending, &answer.body))
            })
            .await?;
        first_error(outcome)
    }

    /// Deletes topics through the controller. Fails with the first topic's
    /// error (by name), e.g. UNKNOWN_TOPIC_OR_PARTITION for a topic that is
    /// not there.
    pub async fn delete_topics<S: AsRef<str>>(&self, names: &[S]) -> Result<(), Error> {
        let timeout = self.config().request_timeout;
        let names: Vec<String> = names.iter().map(|n| n.as_ref().to_string()).collect();
        let outcome = self
            .per_key_rounds(names, |pending| async move {
                let phrasings = admin::delete_topics_requests(&pending, timeout);
                let answer = self
                    .call_phrased(self.controller(), phrasings, None)
                    .await
                    .map_err(|e| unsupported_as_admin(e, ApiKey::DeleteTopics))?;
                Ok(admin::delete_topics_outcome(&pending, &answer.body))
            })
            .await?;
        first_error(outcome)
    }

    /// The earliest or latest offset of each partition, asked of each
    /// partition's leader. Follows leaders that move, refreshing the
    /// metadata in between.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<i32, i64>, Error> {
        if !self.metadata().topics.contains_key(topic) {
            self.add_topics(&[topic]).await?;
        }
        let outcome = self
            .per_key_rounds(partitions.to_vec(), |pending| async move {
                let plan = admin::list_offsets_requests(&self.metadata(), topic, &pending, spec);
                let mut results = plan
                    .unroutable
                    .into_iter()
                    .map(|(p, e)| (p, Err(e)))
                    .collect::<BTreeMap<_, _>>();
                // Submit every leader's request before waiting for any.
                let mut waiting = Vec::new();
                for (leader, request) in plan.requests {
                    let asked: Vec<i32> = request
                        .topics
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
                        .collect();
                    let target = Target::Broker(leader);
                    let pending = self
                        .submit::<ListOffsetsResponse>(target, request.into(), Default::default())
                        .await?;
                    waiting.push((asked, pending));
                }
                for (asked, pending) in waiting {
                    let answer = pending.wait().await?;
                    results.extend(admin::list_offsets_outcome(
                        topic,
                        &asked,
                        &answer.body,
                        answer.version,
                    ));
                }
                Ok(results)
            })
            .await?;
        let mut offsets = BTreeMap::new();
        for (partition, result) in outcome {
            offsets.insert(partition, result.map_err(Error::Admin)?);
        }
        Ok(offsets)
    }

    /// The cluster's id, controller and brokers: DescribeCluster where the
    /// broker has it (Kafka 2.8+), else the same facts from Metadata.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, Error> {
        let phrasing = Phrasing {
            request: admin::describe_cluster_request(),
            versions: ANY_VERSION,
        };
        match self
            .call_phrased(Target::AnyBroker, vec![phrasing], None)
            .await
        {
            Ok(answer) => Ok(admin::describe_cluster_outcome(&answer.body)?),
            Err(e) if e.is_unsupported_version() => {
                let phrasing = Phrasing {
                    request: admin::cluster_metadata_request(),
                    versions: ANY_VERSION,
                };
                let answer = self
                    .call_phrased(Target::AnyBroker, vec![phrasing], None)
                    .await?;
                Ok(admin::cluster_from_metadata(&answer.body))
            }
            Err(e) => Err(e),
        }
    }

    /// Where controller requests go: the controller when the metadata names
    /// a broker as such, else any broker. Since Kafka 2.8 any broker
    /// forwards them (KIP-590); an older broker that is not the controller
    /// answers NOT_CONTROLLER, which refreshes the metadata and retries;
    /// and a broker without the API says so, instead of the request waiting
    /// for a controller that never appears.
    fn controller(&self) -> Target {
        let metadata = self.metadata();
        match metadata.controller {
            Some(id) if metadata.brokers.contains_key(&id) => Target::Controller,
            _ => Target::AnyBroker,
        }
    }

    /// Runs `round` for the keys still pending until each has a final
    /// outcome or the tries run out. A retriable failure of the whole
    /// round retries every pending key; a retriable failure of one key
    /// retries that key. Between rounds it backs off, and refreshes the
    /// metadata when a failure says it is stale.
    async fn per_key_rounds<K, T, F, Fut>(
        &self,
        keys: Vec<K>,
        mut round: F,
    ) -> Result<BTreeMap<K, Result<T, AdminError>>, Error>
    where
        K: Ord + Clone,
        F: FnMut(Vec<K>) -> Fut,
        Fut: Future<Output = Result<BTreeMap<K, Result<T, AdminError>>, Error>>,
    {
        let mut done: BTreeMap<K, Result<T, AdminError>> = BTreeMap::new();
        let mut pending = keys;
        let mut backoff = BACKOFF_FIRST;
        for attempt in 1..=ATTEMPTS {
            let last_try = attempt == ATTEMPTS;
            let mut refresh = false;
            match round(pending.clone()).await {
                Ok(results) => {
                    let mut retry = Vec::new();
                    for (key, result) in results {
                        match result {
                            Err(e) if e.is_retriable() && !last_try => {
                                refresh |= e.needs_metadata_refresh();
                                retry.push(key);
                            }
                            other => {
                                done.insert(key, other);
                            }
                        }
                    }
                    pending = retry;
                }
                Err(e) if e.is_retriable() && !last_try => {
                    refresh |= e.needs_metadata_refresh();
                }
                Err(e) => return Err(e),
            }
            if pending.is_empty() {
                break;
            }
            self.sleep_until(Instant::now() + backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            if refresh {
                // A failed refresh shows up as the next round's failure.
                let _ = self.refresh_metadata().await;
            }
        }
        Ok(done)
    }
}

/// A broker that has no version of the API at all is an admin failure
/// with a hint, not a transport one.
fn unsupported_as_admin(error: Error, api: ApiKey) -> Error {
    match error {
        Error::Request {
            api: sent,
            target,
            source,
        } => match *source {
            RequestError::UnsupportedVersion { broker, .. } => {
                Error::Admin(AdminError::unsupported(api, broker))
            }
            source => Error::Request {
                api: sent,
                target,
                source: Box::new(source),
            },
        },
        other => other,
    }
}

fn first_error<K>(outcome: BTreeMap<K, Result<(), AdminError>>) -> Result<(), Error> {
    match outcome.into_values().find_map(Result::err) {
        Some(e) => Err(Error::Admin(e)),
        None => Ok(()),
    }
}
