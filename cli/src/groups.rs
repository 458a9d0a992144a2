//! `kafkite groups list|describe`: ListGroups asked of every broker (each
//! lists only the groups it coordinates) and DescribeGroups asked of the
//! group's coordinator, with members' assignments decoded when the group
//! speaks the consumer protocol.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use kafkite::consumer::group::protocol::Assignment;
use kafkite::protocol::messages::{
    describe_groups_response::DescribedGroup, DescribeGroupsRequest, DescribeGroupsResponse,
    ListGroupsRequest,
};
use kafkite::protocol::ErrorCode;
use kafkite_smol::{Session, Target};

use crate::args::{Global, GroupsCommand};
use crate::error::CliError;
use crate::printable::printable;
use crate::session::with_session;

/// Tries of DescribeGroups while the coordinator is still loading the
/// group or has moved (a coordinator answers before it has read its
/// partition of `__consumer_offsets`).
const DESCRIBE_ATTEMPTS: u32 = 10;
const DESCRIBE_BACKOFF: Duration = Duration::from_millis(200);

pub async fn run(global: &Global, command: GroupsCommand) -> Result<(), CliError> {
    with_session(global, async |session| match command {
        GroupsCommand::List { .. } => list(session).await,
        GroupsCommand::Describe { groups, .. } => describe(session, &groups).await,
    })
    .await
}

async fn list(session: &Session) -> Result<(), CliError> {
    let brokers: Vec<i32> = session.metadata().brokers.keys().copied().collect();
    let mut rows = BTreeMap::new();
    for broker in brokers {
        let answer = session
            .send(Target::Broker(broker), ListGroupsRequest::default())
            .await
            .map_err(CliError::cluster(format!(
                "listing groups on broker {broker}"
            )))?;
        let code = ErrorCode(answer.error_code);
        if !code.is_ok() {
            return Err(CliError::Invalid(format!(
                "listing groups on broker {broker}: {code:?}"
            )));
        }
        for group in answer.groups {
            let state = if group.group_state.is_empty() {
                "-".to_string()
            } else {
                group.group_state
            };
            let protocol = if group.protocol_type.is_empty() {
                "-".to_string()
            } else {
                group.protocol_type
            };
            rows.insert(group.group_id, (protocol, state, broker));
        }
    }
    print(&list_text(&rows))
}

/// The listing: a head line, then per group (by id) its protocol type,
/// state and coordinator. Ids, types and states are the brokers' strings
/// (group ids chosen by any client), so they are escaped.
fn list_text(rows: &BTreeMap<String, (String, String, i32)>) -> String {
    let mut out = String::from("group\tprotocol-type\tstate\tcoordinator\n");
    for (group, (protocol, state, broker)) in rows {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{broker}",
            printable(group),
            printable(protocol),
            printable(state)
        );
    }
    out
}

async fn describe(session: &Session, groups: &[String]) -> Result<(), CliError> {
    let mut out = String::new();
    for name in groups {
        let group = describe_one(session, name).await?;
        render_group(&group, &mut out);
    }
    print(&out)
}

async fn describe_one(session: &Session, name: &str) -> Result<DescribedGroup, CliError> {
    let mut attempt = 1;
    loop {
        let request = DescribeGroupsRequest {
            groups: vec![name.to_string()],
            ..Default::default()
        };
        let answer: DescribeGroupsResponse = session
            .send(Target::GroupCoordinator(name.to_string()), request)
            .await
            .map_err(CliError::cluster(format!("describing group {name:?}")))?;
        let group = answer
            .groups
            .into_iter()
            .find(|g| g.group_id == name)
            .ok_or_else(|| CliError::Group {
                group: name.to_string(),
                reason: "missing from the coordinator's answer".into(),
            })?;
        let code = ErrorCode(group.error_code);
        if code.is_ok() {
            return Ok(group);
        }
        if !code.is_retriable() || attempt == DESCRIBE_ATTEMPTS {
            return Err(CliError::Group {
                group: name.to_string(),
                reason: format!("{code:?}"),
            });
        }
        attempt += 1;
        smol::Timer::after(DESCRIBE_BACKOFF).await;
    }
}

/// A group's description: a head line, then a line per member with its
/// assignment when it can be read. Every string in it came from the
/// coordinator or from the members themselves (their ids, hosts and
/// assignments), so each is escaped: the group id by `Debug`, the rest by
/// [`printable`].
fn render_group(group: &DescribedGroup, out: &mut String) {
    let protocol = match (group.protocol_type.as_str(), group.protocol_data.as_str()) {
        ("", _) => "-".to_string(),
        (kind, "") => printable(kind).into_owned(),
        (kind, name) => format!("{}/{}", printable(kind), printable(name)),
    };
    let _ = writeln!(
        out,
        "group {:?}: state {}, protocol {protocol}, {} members",
        group.group_id,
        printable(&group.group_state),
        group.members.len()
    );
    for member in &group.members {
        let instance = member
            .group_instance_id
            .as_deref()
            .map(|id| format!(", instance {}", printable(id)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  member {}: client {}, host {}{instance}",
            printable(&member.member_id),
            printable(&member.client_id),
            printable(&member.client_host)
        );
        if group.protocol_type == "consumer" && !member.member_assignment.is_empty() {
            let assignment = match Assignment::decode(&member.member_assignment) {
                Ok(a) => assignment_text(&a),
                Err(e) => format!("(unreadable: {e})"),
            };
            let _ = writeln!(out, "    assigned: {assignment}");
        }
    }
}

/// `topic[0,1],other[2]`, the topic names escaped: a member's assignment
/// is bytes its group's leader (any client) wrote.
fn assignment_text(assignment: &Assignment) -> String {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in &assignment.partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    if by_topic.is_empty() {
        return "nothing".into();
    }
    by_topic
        .into_iter()
        .map(|(topic, partitions)| {
            let list: Vec<String> = partitions.iter().map(i32::to_string).collect();
            format!("{}[{}]", printable(topic), list.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn print(text: &str) -> Result<(), CliError> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(CliError::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkite::protocol::messages::describe_groups_response::DescribedGroupMember;

    #[test]
    fn assignments_group_partitions_by_topic() {
        let assignment = Assignment {
            partitions: vec![("a".into(), 0), ("a".into(), 1), ("b".into(), 2)],
            user_data: None,
        };
        assert_eq!(assignment_text(&assignment), "a[0,1],b[2]");
        assert_eq!(assignment_text(&Assignment::default()), "nothing");
    }

    #[test]
    fn the_list_escapes_what_brokers_and_clients_chose() {
        let rows = BTreeMap::from([(
            "g\u{1b}[8m".to_string(),
            ("consumer\u{7}".to_string(), "Stable\r".to_string(), 3),
        )]);
        assert_eq!(
            list_text(&rows),
            "group\tprotocol-type\tstate\tcoordinator\n\
             g\\x1b[8m\tconsumer\\x07\tStable\\r\t3\n"
        );
    }

    #[test]
    fn a_description_escapes_what_brokers_and_members_chose() {
        // A topic name no broker allows: the assignment is refused, and
        // the refusal shows the name escaped.
        let assignment = Assignment {
            partitions: vec![("t\u{202e}".into(), 0)],
            user_data: None,
        };
        let group = DescribedGroup {
            group_id: "g\u{1b}]0;x\u{7}".into(),
            group_state: "Stable\u{8}".into(),
            protocol_type: "consumer".into(),
            protocol_data: "range\u{2066}".into(),
            members: vec![DescribedGroupMember {
                member_id: "m\u{1b}[2K".into(),
                group_instance_id: Some("i\r".into()),
                client_id: "c\u{9b}".into(),
                client_host: "/10.0.0.1\u{202e}".into(),
                member_assignment: assignment.encode(0).expect("encodes"),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut out = String::new();
        render_group(&group, &mut out);
        assert_eq!(
            out,
            "group \"g\\u{1b}]0;x\\u{7}\": state Stable\\x08, \
             protocol consumer/range\\u{2066}, 1 members\n  \
             member m\\x1b[2K: client c\\u{9b}, host /10.0.0.1\\u{202e}, instance i\\r\n    \
             assigned: (unreadable: consumer protocol assignment names a topic t\\u{202e} \
             that cannot exist: a topic name can hold only ASCII letters, digits, '.', '_' \
             and '-' (byte 0xe2 at 1))\n"
        );
    }
}
