//! The security event trail: stored, listed through filters, purged by age.

use super::*;

use std::net::IpAddr;

use tollgate_application::{
    EventFilter, LoginFailure, RequestOrigin, SecurityEvent, SecurityEventKind, SecurityEventLog,
    SecurityEventRecord,
};

contract! {
    an_event_is_stored_with_every_column_and_listed_back,
    events_are_listed_newest_first_and_by_id_within_an_instant,
    the_filter_narrows_by_user_since_and_kind_and_the_limit_caps,
    a_name_tried_at_login_is_never_stored_in_clear,
    a_long_detail_is_cut_to_the_column_limit,
    the_purge_deletes_events_older_than_the_cutoff_in_batches,
}

fn client() -> ClientId {
    ClientId::parse("web-app").unwrap()
}

fn address() -> IpAddr {
    "2001:db8::7".parse().unwrap()
}

fn event(at: DateTime<Utc>, kind: SecurityEventKind) -> SecurityEvent {
    SecurityEvent {
        at,
        origin: RequestOrigin::default(),
        kind,
    }
}

fn disabled(user: UserId, at: DateTime<Utc>) -> SecurityEvent {
    event(at, SecurityEventKind::UserDisabled { user_id: user })
}

fn all(db: &Database) -> Vec<SecurityEventRecord> {
    db.security_event_store()
        .list(&EventFilter {
            limit: 10_000,
            ..EventFilter::default()
        })
        .unwrap()
}

fn an_event_is_stored_with_every_column_and_listed_back(t: &TestDatabase) {
    let db = connect(t);
    let store = db.security_event_store();
    let user = UserId::from_uuid(Uuid::new_v4());
    let family = FamilyId::from_uuid(Uuid::new_v4());
    store
        .append(&SecurityEvent {
            at: t0(),
            origin: RequestOrigin {
                client_id: Some(client()),
                address: Some(address()),
            },
            kind: SecurityEventKind::FamilyRevoked {
                user_id: user,
                family_id: Some(family),
                reason: RevokeReason::Logout,
                count: 1,
            },
        })
        .unwrap();
    store
        .append(&event(
            t0(),
            SecurityEventKind::KeyGenerated { kid: "ABC".into() },
        ))
        .unwrap();

    let listed = all(&db);
    assert_eq!(listed.len(), 2);
    let revoked = &listed[1];
    assert!(revoked.id < listed[0].id, "ids grow with insertion");
    assert_eq!(
        revoked,
        &SecurityEventRecord {
            id: revoked.id,
            // Microseconds survive the round trip on both backends.
            occurred_at: t0(),
            kind: "family_revoked".into(),
            user_id: Some(user),
            client_id: Some("web-app".into()),
            address: Some("2001:db8::7".into()),
            family_id: Some(family),
            detail: Some("logout".into()),
        }
    );
    let key = &listed[0];
    assert_eq!(
        (
            key.kind.as_str(),
            key.user_id,
            key.client_id.as_deref(),
            key.address.as_deref(),
            key.family_id,
            key.detail.as_deref()
        ),
        ("key_generated", None, None, None, None, Some("kid ABC"))
    );
}

fn events_are_listed_newest_first_and_by_id_within_an_instant(t: &TestDatabase) {
    let db = connect(t);
    let store = db.security_event_store();
    let user = UserId::from_uuid(Uuid::new_v4());
    // Stored out of time order; two share an instant.
    for minutes in [5, 1, 9, 5] {
        store
            .append(&disabled(user, t0() + Duration::minutes(minutes)))
            .unwrap();
    }
    let listed = all(&db);
    let times: Vec<_> = listed.iter().map(|e| e.occurred_at - t0()).collect();
    let m = Duration::minutes;
    assert_eq!(times, [m(9), m(5), m(5), m(1)]);
    assert!(
        listed[1].id > listed[2].id,
        "the later insert first: {listed:?}"
    );
}

fn the_filter_narrows_by_user_since_and_kind_and_the_limit_caps(t: &TestDatabase) {
    let db = connect(t);
    let store = db.security_event_store();
    let (alice, bob) = (
        UserId::from_uuid(Uuid::new_v4()),
        UserId::from_uuid(Uuid::new_v4()),
    );
    for i in 0..6 {
        let at = t0() + Duration::hours(i);
        store.append(&disabled(alice, at)).unwrap();
        store
            .append(&event(
                at,
                SecurityEventKind::PasswordChanged { user_id: bob },
            ))
            .unwrap();
    }
    store
        .append(&event(t0(), SecurityEventKind::ClientAuthenticationFailed))
        .unwrap();
    let list = |filter: EventFilter| store.list(&filter).unwrap();

    let of_alice = list(EventFilter {
        user_id: Some(alice),
        ..EventFilter::default()
    });
    assert_eq!(of_alice.len(), 6);
    assert!(of_alice.iter().all(|e| e.user_id == Some(alice)));

    let recent = list(EventFilter {
        since: Some(t0() + Duration::hours(4)),
        ..EventFilter::default()
    });
    assert_eq!(recent.len(), 4, "since is inclusive: {recent:?}");

    let changes = list(EventFilter {
        kind: Some("password_changed".into()),
        since: Some(t0() + Duration::hours(1)),
        ..EventFilter::default()
    });
    assert_eq!(changes.len(), 5);
    assert!(changes.iter().all(|e| e.user_id == Some(bob)));

    let capped = list(EventFilter {
        limit: 3,
        ..EventFilter::default()
    });
    assert_eq!(capped.len(), 3);
    assert_eq!(capped[0].occurred_at, t0() + Duration::hours(5));

    let none = list(EventFilter {
        user_id: Some(alice),
        kind: Some("password_changed".into()),
        ..EventFilter::default()
    });
    assert!(none.is_empty());
}

fn a_name_tried_at_login_is_never_stored_in_clear(t: &TestDatabase) {
    let db = connect(t);
    let store = db.security_event_store();
    // A password typed into the name field.
    let typed = "Tr0ub4dor&3-in-the-name";
    for kind in [
        SecurityEventKind::LoginFailed {
            user_id: None,
            user_name: Some(UserName::parse(typed).unwrap()),
            failure: LoginFailure::UnknownUser,
        },
        SecurityEventKind::LoginThrottled {
            user_name: Some(UserName::parse(typed).unwrap()),
        },
    ] {
        store
            .append(&SecurityEvent {
                at: t0(),
                origin: RequestOrigin {
                    client_id: None,
                    address: Some(address()),
                },
                kind,
            })
            .unwrap();
    }
    let listed = all(&db);
    assert_eq!(listed.len(), 2);
    for e in &listed {
        let row = format!("{e:?}");
        assert!(!row.contains(typed), "{row}");
        assert!(e.detail.as_deref().unwrap_or("").contains("u:"), "{row}");
    }
}

fn a_long_detail_is_cut_to_the_column_limit(t: &TestDatabase) {
    let db = connect(t);
    let kid = "K".repeat(500);
    db.security_event_store()
        .append(&event(t0(), SecurityEventKind::KeyRetired { kid }))
        .unwrap();
    let detail = all(&db)[0].detail.clone().unwrap();
    assert_eq!(detail.chars().count(), 200);
    assert!(detail.starts_with("kid KKK"));
}

fn the_purge_deletes_events_older_than_the_cutoff_in_batches(t: &TestDatabase) {
    let db = connect(t);
    let store = db.security_event_store();
    let user = UserId::from_uuid(Uuid::new_v4());
    let cutoff = t0() + Duration::days(90);
    for day in [0, 10, 30, 60, 89] {
        store
            .append(&disabled(user, t0() + Duration::days(day)))
            .unwrap();
    }
    // At the cutoff and after: kept.
    for day in [90, 91, 120] {
        store
            .append(&disabled(user, t0() + Duration::days(day)))
            .unwrap();
    }
    let policy = PurgePolicy {
        expired_before: t0(),
        revoked_before: t0(),
        failures_before: t0(),
        batch: 2,
        events_before: Some(cutoff),
    };

    assert_eq!(db.purge_preview(&policy).unwrap().events, 5);
    assert_eq!(all(&db).len(), 8, "a preview deletes nothing");

    let report = db.purge(&policy).unwrap();
    assert_eq!(report.events, 5);
    assert_eq!((report.families, report.tokens), (0, 0));
    // Five events in batches of two: three that delete, plus one per family/token step.
    assert!(report.batches >= 3, "{report:?}");
    let left: Vec<_> = all(&db).iter().map(|e| e.occurred_at).collect();
    assert_eq!(
        left,
        [120, 91, 90].map(|d| t0() + Duration::days(d)),
        "only events from the cutoff on stay"
    );

    assert_eq!(db.purge(&policy).unwrap().events, 0);
    let keep_all = PurgePolicy {
        events_before: None,
        ..policy
    };
    assert_eq!(db.purge(&keep_all).unwrap().events, 0);
    assert_eq!(db.purge_preview(&keep_all).unwrap().events, 0);
    assert_eq!(all(&db).len(), 3);
}
