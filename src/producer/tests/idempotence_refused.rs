//! When idempotence cannot be had: asked for, records fail with a typed
//! error; by default, the producer goes on without it and says so.

use super::scripted_broker::{value, Log, Setup};
use crate::producer::*;
use crate::protocol::ErrorCode;

fn refusing(code: ErrorCode) -> Log {
    Log {
        init_error: Some(code.0),
        ..Log::default()
    }
}

fn record(i: usize) -> ProducerRecord {
    ProducerRecord::new("t").partition(0).value(value(i))
}

fn disabled_events(s: &Setup) -> Vec<IdempotenceUnavailable> {
    s.events
        .iter()
        .filter_map(|e| match e {
            ProducerEvent::IdempotenceDisabled { reason } => Some(*reason),
            _ => None,
        })
        .collect()
}

#[test]
fn asked_for_idempotence_the_broker_refuses_fails_the_records() {
    let config = ProducerConfig::default().with_idempotence(true);
    let code = ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
    let mut s = Setup::with_log(config, 9, refusing(code));
    let id = s.send_to(0, value(0));
    s.flush();

    let error = ProduceError::Idempotence(IdempotenceUnavailable::Refused(code));
    assert_eq!(s.failed(), [(id, error.clone())]);
    assert!(s.stored_values(0).is_empty(), "nothing without idempotence");
    assert!(!s.p.is_idempotent());
    assert_eq!(disabled_events(&s), [], "not a fallback");
    // Later records are refused at once.
    assert_eq!(s.send(record(1)), Err(error));
    assert_eq!(s.log.borrow().produce_versions, Vec::<i16>::new());
}

#[test]
fn asked_for_idempotence_on_a_broker_without_producer_ids_fails_the_records() {
    let config = ProducerConfig::default().with_idempotence(true);
    let log = Log {
        init_producer_id_max: Some(-1),
        ..Log::default()
    };
    let mut s = Setup::with_log(config, 9, log);
    let id = s.send_to(0, value(0));
    s.flush();
    let error = ProduceError::Idempotence(IdempotenceUnavailable::Unsupported);
    assert_eq!(s.failed(), [(id, error)]);
    assert!(s.stored_values(0).is_empty());
}

#[test]
fn default_idempotence_the_broker_refuses_goes_on_without_it_and_says_so() {
    let code = ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
    let mut s = Setup::with_log(ProducerConfig::default(), 9, refusing(code));
    let id = s.send_to(0, value(0));
    s.flush();

    assert_eq!(disabled_events(&s), [IdempotenceUnavailable::Refused(code)]);
    assert!(!s.p.is_idempotent());
    assert_eq!(s.failed(), []);
    assert!(s.delivered().iter().any(|(d, _)| *d == id));
    let log = s.log.borrow();
    assert_eq!(log.values(0), [value(0)]);
    assert_eq!(log.attempts_on(0), [(-1, -1, -1)], "no producer id");
}

#[test]
fn acks_below_all_turn_default_idempotence_off_and_refuse_asked_for_idempotence() {
    let mut s = Setup::new(ProducerConfig::default().with_acks(Acks::Leader), 9);
    s.send_to(0, value(0));
    s.flush();
    assert_eq!(disabled_events(&s), [IdempotenceUnavailable::NeedsAcksAll]);
    assert_eq!(s.stored_values(0), [value(0)]);

    let asked = ProducerConfig::default()
        .with_idempotence(true)
        .with_acks(Acks::Leader);
    let mut s = Setup::new(asked, 9);
    let error = ProduceError::Idempotence(IdempotenceUnavailable::NeedsAcksAll);
    assert_eq!(s.send(record(0)), Err(error));
    s.flush();
    assert!(s.stored_values(0).is_empty());
    assert_eq!(s.log.borrow().init_producer_id_calls, 0);
}
