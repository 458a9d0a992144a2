//! `kafkite topics create|delete|list`.

use std::io::Write;

use kafkite_smol::{NewTopic, Session};

use crate::args::{CreateTopicArgs, Global, TopicsCommand};
use crate::error::CliError;
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
    let mut out = String::new();
    for name in names {
        out.push_str(&name);
        out.push('\n');
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(CliError::Stdout)
}

fn say(line: &str) -> Result<(), CliError> {
    writeln!(std::io::stdout().lock(), "{line}").map_err(CliError::Stdout)
}
