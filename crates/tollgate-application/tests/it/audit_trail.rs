//! Reading the security event trail (`tollgate audit`): the user is named by login name or id,
//! the rest of the filter goes to the store as given.

use std::sync::Arc;

use mockall::predicate::eq;
use tollgate_application::{
    AuditTrail, AuditTrailPorts, Error, EventFilter, MockSecurityEventLog, MockUserStore,
    SecurityEventRecord,
};

use crate::common::{alice, alice_name, now, unavailable, user_id};

fn record() -> SecurityEventRecord {
    SecurityEventRecord {
        id: 7,
        occurred_at: now(),
        kind: "login_failed".to_owned(),
        user_id: Some(user_id()),
        client_id: None,
        address: Some("192.0.2.1".to_owned()),
        family_id: None,
        detail: Some("wrong_password".to_owned()),
    }
}

fn trail(users: MockUserStore, log: MockSecurityEventLog) -> AuditTrail {
    AuditTrail::new(AuditTrailPorts {
        users: Arc::new(users),
        log: Arc::new(log),
    })
}

fn filter() -> EventFilter {
    EventFilter {
        since: Some(now()),
        kind: Some("login_failed".to_owned()),
        limit: 5,
        ..EventFilter::default()
    }
}

#[test]
fn a_user_named_by_login_name_is_looked_up_and_listed_by_id() {
    let mut users = MockUserStore::new();
    users
        .expect_find_by_name()
        .with(eq(alice_name()))
        .times(1)
        .returning(|_| Ok(Some(alice())));
    let mut log = MockSecurityEventLog::new();
    let expected = EventFilter {
        user_id: Some(user_id()),
        ..filter()
    };
    log.expect_list()
        .with(eq(expected))
        .times(1)
        .returning(|_| Ok(vec![record()]));
    assert_eq!(
        trail(users, log).list(Some("alice"), filter()).unwrap(),
        vec![record()]
    );
}

#[test]
fn a_user_named_by_id_is_listed_even_when_deleted() {
    let mut users = MockUserStore::new();
    users.expect_find_by_name().returning(|_| Ok(None));
    let mut log = MockSecurityEventLog::new();
    log.expect_list()
        .withf(|f| f.user_id == Some(user_id()))
        .times(1)
        .returning(|_| Ok(vec![]));
    let id = user_id().to_string();
    assert_eq!(trail(users, log).list(Some(&id), filter()).unwrap(), vec![]);
}

#[test]
fn an_unknown_user_is_user_not_found_and_lists_nothing() {
    let mut users = MockUserStore::new();
    users.expect_find_by_name().returning(|_| Ok(None));
    let mut log = MockSecurityEventLog::new();
    log.expect_list().never();
    let result = trail(users, log).list(Some("nobody"), filter());
    assert!(matches!(result, Err(Error::UserNotFound)), "{result:?}");
}

#[test]
fn without_a_user_the_filter_goes_to_the_store_unchanged() {
    let mut users = MockUserStore::new();
    users.expect_find_by_name().never();
    let mut log = MockSecurityEventLog::new();
    log.expect_list()
        .with(eq(filter()))
        .times(1)
        .returning(|_| Err(unavailable()));
    let result = trail(users, log).list(None, filter());
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}
