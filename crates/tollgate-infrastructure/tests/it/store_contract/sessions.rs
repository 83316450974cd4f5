//! Sessions: families and their refresh tokens, lookups, rotation and revocation.

use super::*;

contract! {
    deleting_a_user_removes_their_sessions_and_tokens,
    a_family_is_found_through_its_first_token,
    a_token_is_found_with_its_owner_as_the_owner_is_now,
    a_token_of_a_user_tollgate_does_not_store_is_found_without_an_owner,
    a_store_for_external_users_leaves_the_owner_to_the_host,
    a_taken_family_id_is_conflict_and_stores_nothing,
    a_taken_token_id_is_conflict_and_stores_no_family,
    a_family_can_belong_to_a_user_tollgate_does_not_store,
    deleting_a_user_keeps_families_of_users_tollgate_does_not_store,
    an_unknown_token_is_none,
    a_family_is_found_by_id_and_unknown_ones_are_none,
    a_users_families_are_listed_newest_first_with_revoked_ones,
    a_successor_is_found_by_its_parent,
    a_token_can_have_only_one_successor,
    rotating_spends_the_token_and_stores_the_successor,
    rotating_a_spent_token_is_already_used_and_writes_nothing,
    rotating_in_a_revoked_family_is_family_revoked_and_writes_nothing,
    rotating_an_unknown_token_is_not_found_and_writes_nothing,
    rotating_onto_a_taken_successor_id_is_conflict_and_rolls_back,
    revoking_twice_keeps_the_first_reason_and_instant,
    revoking_an_unknown_family_is_false,
    revoking_a_users_families_counts_only_live_ones,
    a_familys_client_is_stored_and_every_lookup_and_successor_carries_it,
}

fn a_family_is_found_through_its_first_token(t: &TestDatabase) {
    let db = connect(t);
    let (mut f, first) = family(stored_user(&db).id);
    f.long_lived = true;
    db.session_store().create_family(&f, &first).unwrap();

    assert_eq!(
        db.session_store().find_token(first.id).unwrap(),
        Some((first, f))
    );
}

fn a_token_is_found_with_its_owner_as_the_owner_is_now(t: &TestDatabase) {
    let db = connect(t);
    let owner = stored_user(&db);
    let (f, first) = family(owner.id);
    db.session_store().create_family(&f, &first).unwrap();

    assert_eq!(
        db.session_store().find_token_with_owner(first.id).unwrap(),
        Some((first.clone(), f.clone(), Some(owner.clone())))
    );
    // The owner is read, not remembered: disabling shows on the next lookup.
    db.user_store().set_disabled(owner.id, true).unwrap();
    let disabled = User {
        disabled: true,
        ..owner
    };
    assert_eq!(
        db.session_store().find_token_with_owner(first.id).unwrap(),
        Some((first, f, Some(disabled)))
    );
    assert_eq!(
        db.session_store()
            .find_token_with_owner(TokenId::from_uuid(Uuid::new_v4()))
            .unwrap(),
        None
    );
}

fn a_token_of_a_user_tollgate_does_not_store_is_found_without_an_owner(t: &TestDatabase) {
    let db = connect(t);
    stored_user(&db);
    let (f, first) = family(UserId::from_uuid(Uuid::new_v4()));
    db.session_store().create_family(&f, &first).unwrap();

    // No owner row: the caller asks its user store (which answers "gone").
    assert_eq!(
        db.session_store().find_token_with_owner(first.id).unwrap(),
        Some((first, f, None))
    );
}

fn a_store_for_external_users_leaves_the_owner_to_the_host(t: &TestDatabase) {
    let db = connect(t);
    // Even a `users` row with the family's user id is not the host's user.
    let (f, first) = stored_family(&db);
    let sessions = db.session_store_for_external_users();

    assert_eq!(
        sessions.find_token_with_owner(first.id).unwrap(),
        Some((first, f, None))
    );
}

fn a_taken_family_id_is_conflict_and_stores_nothing(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let (_, mut other_first) = family(f.user_id);
    other_first.family_id = f.id;

    assert!(matches!(
        store.create_family(&f, &other_first),
        Err(Error::Conflict(_))
    ));
    assert_eq!(token(&db, other_first.id), None);
    assert_eq!(token(&db, first.id), Some(first));
}

fn a_taken_token_id_is_conflict_and_stores_no_family(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let (other, mut other_first) = family(f.user_id);
    other_first.id = first.id;

    assert!(matches!(
        store.create_family(&other, &other_first),
        Err(Error::Conflict(_))
    ));
    // The family insert was rolled back with the token insert: revoking finds nothing.
    assert!(!store
        .revoke_family(other.id, t0(), RevokeReason::Admin)
        .unwrap());
    assert_eq!(family_of(&db, first.id), f);
}

fn a_family_can_belong_to_a_user_tollgate_does_not_store(t: &TestDatabase) {
    let db = connect(t);
    // A host with its own user table: the id is in no table Tollgate knows.
    let (f, first) = family(UserId::from_uuid(Uuid::new_v4()));

    db.session_store().create_family(&f, &first).unwrap();

    assert_eq!(family_of(&db, first.id), f);
    let at = t0() + Duration::minutes(1);
    let next = successor(&first, at);
    assert_eq!(
        db.session_store().rotate(first.id, at, &next).unwrap(),
        RotateOutcome::Rotated
    );
    assert_eq!(
        db.session_store().list_user_families(f.user_id).unwrap(),
        vec![f]
    );
}

fn deleting_a_user_keeps_families_of_users_tollgate_does_not_store(t: &TestDatabase) {
    let db = connect(t);
    let (f, first) = family(UserId::from_uuid(Uuid::new_v4()));
    db.session_store().create_family(&f, &first).unwrap();
    let (own, _) = stored_family(&db);

    // Deleting an id Tollgate does not store deletes nothing, not even that id's families.
    assert!(matches!(
        db.user_store().delete(f.user_id),
        Err(Error::UserNotFound)
    ));
    db.user_store().delete(own.user_id).unwrap();

    assert_eq!(family_of(&db, first.id), f);
    assert_eq!(db.session_store().find_family(own.id).unwrap(), None);
}

fn an_unknown_token_is_none(t: &TestDatabase) {
    let db = connect(t);
    stored_family(&db);

    assert_eq!(
        db.session_store()
            .find_token(TokenId::from_uuid(Uuid::new_v4()))
            .unwrap(),
        None
    );
}

fn deleting_a_user_removes_their_sessions_and_tokens(t: &TestDatabase) {
    let db = connect(t);
    let (users, sessions) = (db.user_store(), db.session_store());
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(1);
    let next = successor(&first, at);
    sessions.rotate(first.id, at, &next).unwrap();
    let (other, other_first) = stored_family(&db);

    users.delete(f.user_id).unwrap();

    assert_eq!(users.find_by_id(f.user_id).unwrap(), None);
    assert_eq!(sessions.find_family(f.id).unwrap(), None);
    assert_eq!(sessions.find_token(first.id).unwrap(), None);
    assert_eq!(sessions.find_token(next.id).unwrap(), None);
    // Someone else's session is untouched.
    assert_eq!(family_of(&db, other_first.id), other);
    assert!(matches!(users.delete(f.user_id), Err(Error::UserNotFound)));
}

// ---------------------------------------------------------------------------------------------
// Lookups

fn a_family_is_found_by_id_and_unknown_ones_are_none(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, _) = stored_family(&db);
    assert_eq!(store.find_family(f.id).unwrap(), Some(f));
    let unknown = FamilyId::from_uuid(Uuid::new_v4());
    assert_eq!(store.find_family(unknown).unwrap(), None);
}

fn a_users_families_are_listed_newest_first_with_revoked_ones(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let owner = stored_user(&db);
    let mut created = Vec::new();
    for minutes in [0, 20, 10] {
        let (mut f, first) = family(owner.id);
        f.created_at = t0() + Duration::minutes(minutes);
        store.create_family(&f, &first).unwrap();
        created.push(f);
    }
    store
        .revoke_family(
            created[0].id,
            t0() + Duration::hours(1),
            RevokeReason::Logout,
        )
        .unwrap();
    // Someone else's family stays out of the list.
    stored_family(&db);

    let listed = store.list_user_families(owner.id).unwrap();
    let ids: Vec<FamilyId> = listed.iter().map(|f| f.id).collect();
    assert_eq!(ids, [created[1].id, created[2].id, created[0].id]);
    assert_eq!(listed[2].revoke_reason, Some(RevokeReason::Logout));
    assert!(store
        .list_user_families(UserId::from_uuid(Uuid::new_v4()))
        .unwrap()
        .is_empty());
}

fn a_successor_is_found_by_its_parent(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (_, first) = stored_family(&db);
    assert_eq!(store.find_successor(first.id).unwrap(), None);
    let at = t0() + Duration::minutes(1);
    let next = successor(&first, at);
    store.rotate(first.id, at, &next).unwrap();
    assert_eq!(store.find_successor(first.id).unwrap(), Some(next.clone()));
    assert_eq!(store.find_successor(next.id).unwrap(), None);
}

fn a_token_can_have_only_one_successor(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(1);
    store.rotate(first.id, at, &successor(&first, at)).unwrap();
    // Even a second token naming the same parent, inserted through another path, is refused by
    // the database: the unique parent index backs the single-use rule.
    let (_, mut other_first) = family(f.user_id);
    other_first.parent_id = Some(first.id);
    let (mut other_family, _) = family(f.user_id);
    other_first.family_id = other_family.id;
    other_family.user_id = f.user_id;
    assert!(matches!(
        store.create_family(&other_family, &other_first),
        Err(Error::Conflict(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Rotation

fn rotating_spends_the_token_and_stores_the_successor(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(10);
    let next = successor(&first, at);

    assert_eq!(
        store.rotate(first.id, at, &next).unwrap(),
        RotateOutcome::Rotated
    );

    let spent = token(&db, first.id).unwrap();
    assert_eq!(spent.used_at, Some(at));
    assert_eq!(store.find_token(next.id).unwrap(), Some((next.clone(), f)));

    // The successor rotates in turn.
    let later = at + Duration::minutes(10);
    assert_eq!(
        store
            .rotate(next.id, later, &successor(&next, later))
            .unwrap(),
        RotateOutcome::Rotated
    );
}

fn rotating_a_spent_token_is_already_used_and_writes_nothing(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (_, first) = stored_family(&db);
    let at = t0() + Duration::minutes(10);
    store.rotate(first.id, at, &successor(&first, at)).unwrap();

    let again = at + Duration::minutes(1);
    let second = successor(&first, again);
    assert_eq!(
        store.rotate(first.id, again, &second).unwrap(),
        RotateOutcome::AlreadyUsed
    );
    assert_eq!(token(&db, second.id), None);
    assert_eq!(
        token(&db, first.id).unwrap().used_at,
        Some(at),
        "first use is kept"
    );
}

fn rotating_in_a_revoked_family_is_family_revoked_and_writes_nothing(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    assert!(store
        .revoke_family(f.id, t0(), RevokeReason::Logout)
        .unwrap());

    let at = t0() + Duration::minutes(10);
    let next = successor(&first, at);
    assert_eq!(
        store.rotate(first.id, at, &next).unwrap(),
        RotateOutcome::FamilyRevoked
    );
    assert_eq!(token(&db, next.id), None);
    assert_eq!(token(&db, first.id).unwrap().used_at, None);

    // Revocation wins over reuse, as in the domain's `assess`.
    let (g, g_first) = stored_family(&db);
    store
        .rotate(g_first.id, at, &successor(&g_first, at))
        .unwrap();
    store.revoke_family(g.id, at, RevokeReason::Reuse).unwrap();
    assert_eq!(
        store
            .rotate(g_first.id, at, &successor(&g_first, at))
            .unwrap(),
        RotateOutcome::FamilyRevoked
    );
}

fn rotating_an_unknown_token_is_not_found_and_writes_nothing(t: &TestDatabase) {
    let db = connect(t);
    let (_, first) = stored_family(&db);
    let mut next = successor(&first, t0());
    let unknown = TokenId::from_uuid(Uuid::new_v4());
    next.parent_id = Some(unknown);

    assert_eq!(
        db.session_store().rotate(unknown, t0(), &next).unwrap(),
        RotateOutcome::NotFound
    );
    assert_eq!(token(&db, next.id), None);
}

fn rotating_onto_a_taken_successor_id_is_conflict_and_rolls_back(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (_, first) = stored_family(&db);
    let (_, other_first) = stored_family(&db);
    let mut next = successor(&first, t0());
    next.id = other_first.id;

    assert!(matches!(
        store.rotate(first.id, t0(), &next),
        Err(Error::Conflict(_))
    ));
    // The UPDATE that spent the token was rolled back with the failed insert.
    assert_eq!(token(&db, first.id).unwrap().used_at, None);
    assert_eq!(token(&db, other_first.id), Some(other_first));
}

// ---------------------------------------------------------------------------------------------
// Revocation

fn revoking_twice_keeps_the_first_reason_and_instant(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let (f, first) = stored_family(&db);
    let at = t0() + Duration::minutes(5);

    assert!(store.revoke_family(f.id, at, RevokeReason::Reuse).unwrap());
    assert!(!store
        .revoke_family(f.id, at + Duration::minutes(1), RevokeReason::Logout)
        .unwrap());

    let revoked = family_of(&db, first.id);
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(revoked.revoke_reason, Some(RevokeReason::Reuse));
}

fn revoking_an_unknown_family_is_false(t: &TestDatabase) {
    let db = connect(t);
    stored_family(&db);

    let unknown = FamilyId::from_uuid(Uuid::new_v4());
    assert!(!db
        .session_store()
        .revoke_family(unknown, t0(), RevokeReason::Admin)
        .unwrap());
}

fn revoking_a_users_families_counts_only_live_ones(t: &TestDatabase) {
    let db = connect(t);
    let store = db.session_store();
    let owner = stored_user(&db);
    let tokens: Vec<RefreshTokenRecord> = (0..3)
        .map(|_| {
            let (f, first) = family(owner.id);
            store.create_family(&f, &first).unwrap();
            first
        })
        .collect();
    let (_, bystander) = stored_family(&db);
    let early = t0() + Duration::minutes(1);
    store
        .revoke_family(tokens[0].family_id, early, RevokeReason::Logout)
        .unwrap();

    let at = t0() + Duration::minutes(2);
    assert_eq!(
        store
            .revoke_user_families(owner.id, at, RevokeReason::PasswordChanged)
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .revoke_user_families(owner.id, at, RevokeReason::Admin)
            .unwrap(),
        0
    );

    let kept = family_of(&db, tokens[0].id);
    assert_eq!(
        (kept.revoked_at, kept.revoke_reason),
        (Some(early), Some(RevokeReason::Logout))
    );
    for first in &tokens[1..] {
        let f = family_of(&db, first.id);
        assert_eq!(
            (f.revoked_at, f.revoke_reason),
            (Some(at), Some(RevokeReason::PasswordChanged))
        );
    }
    assert!(
        !family_of(&db, bystander.id).is_revoked(),
        "other users are untouched"
    );
    let nobody = UserId::from_uuid(Uuid::new_v4());
    assert_eq!(
        store
            .revoke_user_families(nobody, at, RevokeReason::Admin)
            .unwrap(),
        0
    );
}

fn a_familys_client_is_stored_and_every_lookup_and_successor_carries_it(t: &TestDatabase) {
    let db = connect(t);
    let sessions = db.session_store();
    let u = stored_user(&db);
    // A login's family (the path a bound family takes) and one through create_family; the id
    // has characters a careless column or collation could mangle.
    let (mut bound, first) = family(u.id);
    bound.client_id = Some(ClientId::parse("web:app/1~X").unwrap());
    assert!(sessions
        .create_login_family(&bound, &first, &u.password_hash, t0())
        .unwrap());
    let (mut other, other_first) = family(u.id);
    other.client_id = Some(ClientId::parse("b").unwrap());
    sessions.create_family(&other, &other_first).unwrap();
    let (unbound, unbound_first) = family(u.id);
    sessions.create_family(&unbound, &unbound_first).unwrap();

    assert_eq!(
        sessions.find_token(first.id).unwrap(),
        Some((first.clone(), bound.clone()))
    );
    assert_eq!(sessions.find_family(bound.id).unwrap(), Some(bound.clone()));
    assert_eq!(
        sessions.find_family(other.id).unwrap().unwrap().client_id,
        other.client_id
    );
    assert_eq!(
        sessions.find_family(unbound.id).unwrap(),
        Some(unbound.clone())
    );
    let mut listed: Vec<_> = sessions
        .list_user_families(u.id)
        .unwrap()
        .into_iter()
        .map(|f| (f.id, f.client_id))
        .collect();
    listed.sort_unstable_by_key(|(id, _)| id.as_uuid());
    let mut expected = vec![
        (bound.id, bound.client_id.clone()),
        (other.id, other.client_id.clone()),
        (unbound.id, None),
    ];
    expected.sort_unstable_by_key(|(id, _)| id.as_uuid());
    assert_eq!(listed, expected);

    // The successor joins the family, so it is bound to the same client.
    let next = successor(&first, t0() + Duration::minutes(1));
    assert_eq!(
        sessions
            .rotate(first.id, t0() + Duration::minutes(1), &next)
            .unwrap(),
        RotateOutcome::Rotated
    );
    let (_, family_of_next) = sessions.find_token(next.id).unwrap().unwrap();
    assert_eq!(family_of_next.client_id, bound.client_id);
}
