//! Leaving and closing: the member gives up its partitions (waiting for
//! the user's `revocation_done`), then leaves the group, except that a
//! static member closing stays in it until its session times out.

use std::time::Instant;

use super::event::GroupEvent;
use super::member::{AfterRevoke, GroupMember, Heartbeat, Phase, Purpose};
use super::requests;
use super::TopicPartition;
use crate::client::Client;

impl GroupMember {
    /// Leaves the group: revokes what the member owns (waiting for
    /// [`GroupMember::revocation_done`]), then sends LeaveGroup so the
    /// group rebalances at once, static member or not. Reports
    /// [`GroupEvent::Closed`] when done.
    pub fn leave(&mut self, client: &mut Client, now: Instant) {
        self.shutdown(client, true, now);
    }

    /// Closes the member: like [`GroupMember::leave`], except that a static
    /// member does not send LeaveGroup (KIP-345): its partitions wait for
    /// it through a restart within the session timeout.
    pub fn close(&mut self, client: &mut Client, now: Instant) {
        let leave = self.config.group_instance_id.is_none();
        self.shutdown(client, leave, now);
    }

    fn shutdown(&mut self, client: &mut Client, leave: bool, now: Instant) {
        self.rejoin_pending = None;
        match &mut self.phase {
            Phase::Leaving(_) | Phase::Closed => return,
            Phase::Failed => {
                self.phase = Phase::Closed;
                self.events.push_back(GroupEvent::Closed);
                return;
            }
            Phase::Revoking { partitions, then } => {
                // Revoke the rest too, in a second event.
                let rest: Vec<TopicPartition> = self
                    .owned
                    .iter()
                    .filter(|tp| !partitions.contains(tp))
                    .cloned()
                    .collect();
                partitions.extend(rest.iter().cloned());
                *then = AfterRevoke::Close { leave };
                if !rest.is_empty() {
                    self.events.push_back(GroupEvent::PartitionsRevoked(rest));
                }
                return;
            }
            _ => {}
        }
        if !self.owned.is_empty() && self.generation_id >= 0 {
            let partitions = self.assignment();
            self.events
                .push_back(GroupEvent::PartitionsRevoked(partitions.clone()));
            self.phase = Phase::Revoking {
                partitions,
                then: AfterRevoke::Close { leave },
            };
        } else {
            self.lose_all();
            self.finish_close(client, leave, now);
        }
        self.drive(client, now);
    }

    pub(super) fn finish_close(&mut self, client: &mut Client, leave: bool, now: Instant) {
        self.heartbeat = Heartbeat::default();
        self.owned.clear();
        if leave && !self.member_id.is_empty() {
            let [members, single] =
                requests::leave_group(&self.identity(), "the consumer is closing");
            let id = self.send_phrased(client, members, vec![single], Purpose::Leave, None, now);
            self.phase = Phase::Leaving(id);
        } else {
            self.phase = Phase::Closed;
            self.events.push_back(GroupEvent::Closed);
        }
        self.generation_id = -1;
    }
}
