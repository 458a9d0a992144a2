//! Commits and committed-offset fetches on behalf of the member, retried
//! through coordinator moves and loads until `offsets_timeout`.
//!
//! A commit carries the generation and member id the member had when it
//! was asked for: should a rebalance intervene, the coordinator rejects it
//! (ILLEGAL_GENERATION) rather than letting a former owner's offsets
//! overwrite the new owner's.
//!
//! Commits of one partition never land out of order: requests go to the
//! coordinator on one connection, in order, and a commit waiting to be
//! retried drops the partitions a newer commit has been asked for since
//! (reporting them as done: their stored offset is the newer commit's
//! business). Without that, an older offset retried after a newer one
//! succeeded would move the group back (found by kafkite-sim).

use std::collections::BTreeMap;
use std::time::Instant;

use super::event::{CommitId, CommittedOffsets, GroupEvent, OffsetFetchId};
use super::member::{GroupMember, Purpose};
use super::TopicPartition;
use crate::client::{Client, RequestError, RequestId, Response};
use crate::consumer::offsets::{
    offset_commit_outcome, offset_commit_request, offset_fetch_outcome, offset_fetch_requests,
    Committer, OffsetAndMetadata, OffsetError,
};
use crate::protocol::{AnyResponse, ApiKey};

#[derive(Debug)]
pub(super) struct CommitJob {
    committer: Committer,
    /// Partitions still to commit.
    pending: BTreeMap<TopicPartition, OffsetAndMetadata>,
    results: BTreeMap<TopicPartition, Result<(), OffsetError>>,
    deadline: Instant,
    pub retry_at: Option<Instant>,
    pub in_flight: Option<RequestId>,
}

#[derive(Debug)]
pub(super) struct FetchJob {
    /// Partitions whose offsets are still to read.
    pending: Vec<TopicPartition>,
    results: CommittedOffsets,
    deadline: Instant,
    pub retry_at: Option<Instant>,
    pub in_flight: Option<RequestId>,
}

impl GroupMember {
    /// Commits `offsets` (each the next offset to read) under the member's
    /// current generation, or outside group management (generation -1) when
    /// it has none. The answer comes as [`GroupEvent::Committed`].
    pub fn commit(
        &mut self,
        client: &mut Client,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        now: Instant,
    ) -> CommitId {
        let id = CommitId(self.next_job);
        self.next_job += 1;
        for tp in offsets.keys() {
            self.newest_commit.insert(tp.clone(), id);
        }
        let committer = Committer {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        };
        self.commits.insert(
            id,
            CommitJob {
                committer,
                pending: offsets,
                results: BTreeMap::new(),
                deadline: now + self.config.offsets_timeout,
                retry_at: Some(now),
                in_flight: None,
            },
        );
        self.drive(client, now);
        id
    }

    /// Reads the group's committed offsets of `partitions`; the answer
    /// comes as [`GroupEvent::CommittedOffsets`].
    pub fn fetch_committed(
        &mut self,
        client: &mut Client,
        partitions: Vec<TopicPartition>,
        now: Instant,
    ) -> OffsetFetchId {
        let id = OffsetFetchId(self.next_job);
        self.next_job += 1;
        self.fetches.insert(
            id,
            FetchJob {
                pending: partitions,
                results: BTreeMap::new(),
                deadline: now + self.config.offsets_timeout,
                retry_at: Some(now),
                in_flight: None,
            },
        );
        self.drive(client, now);
        id
    }

    /// Sends the commits and fetches whose (re)try is due; reports those
    /// with nothing left to do.
    pub(super) fn drive_offset_jobs(&mut self, client: &mut Client, now: Instant) {
        let due: Vec<CommitId> = self
            .commits
            .iter()
            .filter(|(_, j)| j.retry_at.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(job) = self.commits.get_mut(&id) else {
                continue;
            };
            job.retry_at = None;
            let newest = &self.newest_commit;
            let superseded: Vec<TopicPartition> = job
                .pending
                .keys()
                .filter(|tp| newest.get(*tp).is_some_and(|newer| *newer > id))
                .cloned()
                .collect();
            for tp in superseded {
                job.pending.remove(&tp);
                job.results.insert(tp, Ok(()));
            }
            if job.pending.is_empty() {
                self.finish_commit(id);
                continue;
            }
            let request = offset_commit_request(&job.committer, &job.pending);
            let request_id =
                self.send_phrased(client, request, Vec::new(), Purpose::Commit(id), None, now);
            if let Some(job) = self.commits.get_mut(&id) {
                job.in_flight = Some(request_id);
            }
        }
        let due: Vec<OffsetFetchId> = self
            .fetches
            .iter()
            .filter(|(_, j)| j.retry_at.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(job) = self.fetches.get_mut(&id) else {
                continue;
            };
            job.retry_at = None;
            let group = &self.config.group_id;
            let stable = self.config.require_stable_offsets;
            let mut phrasings = offset_fetch_requests(group, Some(&job.pending), stable);
            if job.pending.is_empty() || phrasings.is_empty() {
                self.finish_fetch(id, None);
                continue;
            }
            let first = phrasings.remove(0);
            let request_id =
                self.send_phrased(client, first, phrasings, Purpose::Fetch(id), None, now);
            if let Some(job) = self.fetches.get_mut(&id) {
                job.in_flight = Some(request_id);
            }
        }
    }

    pub(super) fn on_commit(
        &mut self,
        client: &mut Client,
        id: CommitId,
        result: &Result<Response, RequestError>,
        now: Instant,
    ) {
        let group = self.config.group_id.clone();
        let backoff = self.config.retry_backoff;
        let Some(job) = self.commits.get_mut(&id) else {
            return;
        };
        job.in_flight = None;
        let can_retry = now + backoff < job.deadline;
        let outcome = match result {
            Ok(Response {
                body: Some(AnyResponse::OffsetCommit(r)),
                ..
            }) => offset_commit_outcome(&group, &job.pending, r),
            Ok(_) | Err(_) => {
                let error = request_error(ApiKey::OffsetCommit, result);
                job.pending
                    .keys()
                    .map(|tp| (tp.clone(), Err(error.clone())))
                    .collect()
            }
        };
        let mut moved = false;
        for (tp, result) in outcome {
            match result {
                Err(e) if e.is_retriable() && can_retry => {
                    moved |= e.coordinator_moved() || matches!(e, OffsetError::Request { .. });
                }
                result => {
                    job.pending.remove(&tp);
                    job.results.insert(tp, result);
                }
            }
        }
        if job.pending.is_empty() {
            self.finish_commit(id);
        } else {
            job.retry_at = Some(now + backoff);
        }
        if moved {
            client.coordinator_moved(&group, now);
        }
    }

    pub(super) fn on_fetch(
        &mut self,
        client: &mut Client,
        id: OffsetFetchId,
        result: &Result<Response, RequestError>,
        now: Instant,
    ) {
        let group = self.config.group_id.clone();
        let backoff = self.config.retry_backoff;
        let Some(job) = self.fetches.get_mut(&id) else {
            return;
        };
        job.in_flight = None;
        let can_retry = now + backoff < job.deadline;
        let outcome = match result {
            Ok(Response {
                body: Some(AnyResponse::OffsetFetch(r)),
                version,
                ..
            }) => offset_fetch_outcome(&group, Some(&job.pending), r, *version),
            Ok(_) | Err(_) => Err(request_error(ApiKey::OffsetFetch, result)),
        };
        let mut moved = false;
        match outcome {
            Err(e) if e.is_retriable() && can_retry => {
                moved = e.coordinator_moved() || matches!(e, OffsetError::Request { .. });
                job.retry_at = Some(now + backoff);
            }
            Err(e) => return self.finish_fetch(id, Some(e)),
            Ok(per_partition) => {
                for (tp, result) in per_partition {
                    match result {
                        Err(e) if e.is_retriable() && can_retry => moved |= e.coordinator_moved(),
                        result => {
                            job.pending.retain(|p| p != &tp);
                            job.results.insert(tp, result);
                        }
                    }
                }
                if job.pending.is_empty() {
                    self.finish_fetch(id, None);
                } else {
                    job.retry_at = Some(now + backoff);
                }
            }
        }
        if moved {
            client.coordinator_moved(&group, now);
        }
    }

    fn finish_commit(&mut self, id: CommitId) {
        if let Some(job) = self.commits.remove(&id) {
            self.events.push_back(GroupEvent::Committed {
                id,
                results: job.results,
            });
        }
    }

    /// Reports a fetch: its per-partition results, or `error` for all.
    fn finish_fetch(&mut self, id: OffsetFetchId, error: Option<OffsetError>) {
        if let Some(job) = self.fetches.remove(&id) {
            let result = match error {
                Some(e) => Err(e),
                None => Ok(job.results),
            };
            self.events
                .push_back(GroupEvent::CommittedOffsets { id, result });
        }
    }
}

/// The error for an answer that is not the expected response.
fn request_error(api: ApiKey, result: &Result<Response, RequestError>) -> OffsetError {
    match result {
        Err(error) => OffsetError::Request {
            api,
            error: error.clone(),
        },
        Ok(_) => OffsetError::MissingAnswer {
            api,
            what: "the response body".into(),
        },
    }
}
