//! Heartbeats: they keep the member in the group between rebalances and
//! are how it learns that a rebalance began (REBALANCE_IN_PROGRESS) or that
//! it was dropped (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION).

use std::time::Instant;

use super::member::{GroupMember, Purpose};
use super::rebalance::Reaction;
use super::requests;
use crate::client::{Client, RequestError, RequestId, Response};
use crate::protocol::{AnyResponse, ApiKey, ErrorCode};

impl GroupMember {
    /// Sends the heartbeat when due, and gives the membership up when the
    /// coordinator has not answered for a whole session: by then it has
    /// dropped the member and another may own its partitions (librdkafka
    /// reports them lost at that point too, rather than waiting to hear).
    pub(super) fn drive_heartbeat(&mut self, client: &mut Client, now: Instant) {
        if !self.heartbeats_on() {
            return;
        }
        if self.heartbeat.session_deadline.is_some_and(|t| t <= now) {
            client.coordinator_moved(&self.config.group_id, now);
            self.fenced(false, now);
            return;
        }
        let due = self.heartbeat.due.is_some_and(|t| t <= now);
        if due && self.heartbeat.in_flight.is_none() {
            let generation_id = self.generation_id;
            let request = requests::heartbeat(&self.identity());
            let purpose = Purpose::Heartbeat { generation_id };
            let id = self.send_phrased(client, request, Vec::new(), purpose, None, now);
            self.heartbeat.in_flight = Some(id);
            self.heartbeat.due = None;
        }
    }

    pub(super) fn on_heartbeat(
        &mut self,
        client: &mut Client,
        id: RequestId,
        generation_id: i32,
        result: &Result<Response, RequestError>,
        now: Instant,
    ) {
        if self.heartbeat.in_flight == Some(id) {
            self.heartbeat.in_flight = None;
        }
        // An answer about a generation the member has since left.
        if generation_id != self.generation_id || !self.heartbeats_on() {
            return;
        }
        let reaction = match result {
            Ok(Response {
                body: Some(AnyResponse::Heartbeat(r)),
                ..
            }) => match ErrorCode(r.error_code) {
                ErrorCode::NONE => {
                    self.heard_from_coordinator(now);
                    return;
                }
                code => self.react_to_code(ApiKey::Heartbeat, code),
            },
            Ok(_) => Reaction::Retry {
                coordinator_moved: true,
            },
            Err(error) => self.react_to_request_error(ApiKey::Heartbeat, error),
        };
        match reaction {
            Reaction::Rejoin => {
                // The coordinator knows the member: the session is alive.
                self.heard_from_coordinator(now);
                self.request_rejoin("the group is rebalancing", now);
            }
            Reaction::Retry { coordinator_moved } => {
                if coordinator_moved {
                    client.coordinator_moved(&self.config.group_id, now);
                }
                self.heartbeat.due = Some(now + self.config.retry_backoff);
            }
            Reaction::Fenced { reset_member_id } => self.fenced(reset_member_id, now),
            Reaction::Fatal(error) => self.fail(error),
            Reaction::Wait(error) => {
                self.events.push_back(super::GroupEvent::Error(error));
                self.heartbeat.due = Some(now + self.config.retry_backoff);
            }
        }
    }

    fn heard_from_coordinator(&mut self, now: Instant) {
        self.heartbeat.due = Some(now + self.config.heartbeat_interval);
        self.heartbeat.session_deadline = Some(now + self.config.session_timeout);
    }
}
