//! `kafkite topics create|delete|list`.

use std::io::Write;

use kafkite_smol::{NewTopic, Session};

use crate::args::{CreateTopicArgs, Global, TopicsCommand};
use crate::error::CliError;
use crate::printable::printable;
use crate::session::{topic_partitions, with_session};

pub async fn run(global: &Global, command: TopicsCommand) -> Result<(), CliError> {
    with_session(global, async |session| match command {
        TopicsCommand::Create(args) => create(session, args).await,
        TopicsCommand::Delete { topics, .. } => delete(session, &topics).await,
        TopicsCommand::List { .. } => list(session).await,
    })
    .await
}

async fn create(session: &Session, args: CreateTopicArgs) -> Result<(), CliError> {
    let mut topic = NewTopic::new(&args.topic, args.partitions, args.replication_factor);
    for (name, value) in args.configs {
        topic = topic.with_config(name, value);
    }
    session
        .create_topics(&[topic])
        .await
        .map_err(CliError::cluster(format!(
            "creating topic {:?}",
            args.topic
        )))?;
    // Returns once the topic can be used: a command run right after this
    // one finds it with its leaders.
    let partitions = topic_partitions(session, &args.topic).await?;
    say(&format!(
        "created topic {:?} with {} partitions",
        args.topic,
        partitions.len()
    ))
}

async fn delete(session: &Session, topics: &[String]) -> Result<(), CliError> {
    session
        .delete_topics(topics)
        .await
        .map_err(CliError::cluster(format!("deleting {}", topics.join(", "))))?;
    for topic in topics {
        say(&format!("deleted topic {topic:?}"))?;
    }
    Ok(())
}

async fn list(session: &Session) -> Result<(), CliError> {
    let names = session
        .list_topics()
        .await
        .map_err(CliError::cluster("listing topics"))?;
    std::io::stdout()
        .lock()
        .write_all(list_text(names).as_bytes())
        .map_err(CliError::Stdout)
}

/// A topic name per line, escaped: the names are the broker's (Kafka
/// allows only `[a-zA-Z0-9._-]`, but a hostile or broken broker need not).
fn list_text(names: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    for name in names {
        out.push_str(&printable(&name));
        out.push('\n');
    }
    out
}

fn say(line: &str) -> Result<(), CliError> {
    writeln!(std::io::stdout().lock(), "{line}").map_err(CliError::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_escapes_topic_names() {
        let names = ["orders".to_string(), "x\u{1b}[1A\u{1b}[2Kfake".to_string()];
        assert_eq!(list_text(names), "orders\nx\\x1b[1A\\x1b[2Kfake\n");
    }
}
